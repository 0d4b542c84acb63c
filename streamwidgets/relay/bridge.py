"""A loopback WebSocket server that pages a relay's Redis Stream to one reader's connection.

:class:`~streamwidgets.relay.feed.RedisDialect` starts one when its connection prepares
(as replay starts its :class:`~streamwidgets.replay.server.ReplayServer`), so the reader
goes through the same :class:`~streamwidgets.connection.driver.Connection` as a live feed: its
states, backoff, gap markers and stats.

A client connects to ``ws://127.0.0.1:PORT/redis?after=ID`` and receives every entry after
``ID``, oldest first, read with ``XREAD COUNT page BLOCK 1000`` (backfill in bounded pages,
then live), one binary frame per entry: the entry id, a newline, the recording line.
``send`` waits for the socket to drain, so a slow client slows the reading instead of
filling memory. When Redis fails the server closes with 1011 and the reason (the client
reconnects and asks again after the last id it parsed: nothing twice, nothing skipped);
when Redis refuses (password, a key of another type) with 4003. A reader that comes back
(``&resume=1``) to find entries it had not read trimmed away gets a ``trimmed`` marker.

Example:
    >>> REFUSED
    4003
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from typing import Any
from urllib.parse import parse_qs, urlsplit

import orjson
from websockets.asyncio.server import ServerConnection
from websockets.exceptions import ConnectionClosed

from streamwidgets.relay.target import FIELD, RedisTarget, describe_error, is_refusal, parse_id
from streamwidgets.simulators.server import LoopbackServer

__all__ = ["REFUSED", "UNREACHABLE", "RedisBridge"]

#: Close code: Redis failed (retry).
UNREACHABLE = 1011
#: Close code: Redis refused (a password, a permission, a key that is not a stream).
REFUSED = 4003
_BLOCK_MS = 1000  # an XREAD returns at least this often: Redis proves it is alive


class RedisBridge(LoopbackServer):
    """Serve one relay stream on ``ws://127.0.0.1:PORT/redis``.

    Args:
        client: a ``redis.asyncio.Redis`` (its socket timeout longer than 1 s).
        target: the stream's server and key.
        page: entries read per ``XREAD`` (the most held in memory at once).
    """

    label = "Redis bridge"
    path = "/redis"

    def __init__(self, client: Any, target: RedisTarget, *, page: int) -> None:
        super().__init__(host="127.0.0.1", port=0)
        self._client = client
        self._target = target
        self._page = page

    @property
    def running(self) -> bool:
        """True while the bridge accepts connections."""
        return self._server is not None

    async def _handle(self, ws: ServerConnection) -> None:
        query = parse_qs(urlsplit(ws.request.path if ws.request else "").query)
        after = query.get("after", ["0-0"])[0]
        if query.get("resume") == ["1"]:
            await self._say_if_trimmed(ws, after)
        # An idle stream never makes send() notice the client left: watch for it.
        pump = asyncio.ensure_future(self._pump(ws, after))
        closed = asyncio.ensure_future(ws.wait_closed())
        try:
            await asyncio.wait({pump, closed}, return_when=asyncio.FIRST_COMPLETED)
        finally:
            for task in (pump, closed):
                task.cancel()
            await asyncio.gather(pump, closed, return_exceptions=True)
        if not pump.cancelled() and pump.exception() is not None:
            await self._fail(ws, pump.exception())  # type: ignore[arg-type]

    async def _fail(self, ws: ServerConnection, exc: BaseException) -> None:
        if isinstance(exc, ConnectionClosed):
            return
        refused = is_refusal(exc)
        said = describe_error(exc)
        if refused:
            self._logger.warning("%s refused the reader: %s", self._target.display, said)
        words = f"Redis {'refused the reader' if refused else 'unreachable'}: {said}"
        # A close reason holds at most 123 bytes.
        reason = words.encode()[:120].decode(errors="ignore")
        with contextlib.suppress(ConnectionClosed):
            await ws.close(REFUSED if refused else UNREACHABLE, reason)

    async def _say_if_trimmed(self, ws: ServerConnection, after: str) -> None:
        """A reader coming back: if trimming reached the last entry it read, entries after
        it may be gone too; tell it (a ``trimmed`` marker under its last id) rather than go
        on as if nothing was missed. (Trimming removes the oldest entries: while the last
        entry read is there, everything after it is too.)"""
        key = self._target.key
        try:
            still_there = await self._client.xrange(key, after, after, count=1)
            oldest = await self._client.xrange(key, "-", "+", count=1)
        except Exception:
            return  # down: the pump will say
        if still_there or not oldest or parse_id(oldest[0][0]) <= parse_id(after):
            return
        detail = (
            f"entries after {after} may be missing: the stream was trimmed past it (up to "
            f"{oldest[0][0].decode()}) while this reader was away, longer than the relay "
            "keeps entries"
        )
        line = orjson.dumps({"t_ns": time.time_ns(), "marker": "trimmed", "detail": detail})
        with contextlib.suppress(ConnectionClosed):
            await ws.send(after.encode() + b"\n" + line)

    async def _pump(self, ws: ServerConnection, after: str) -> None:
        key = self._target.key
        xread = self._client.xread
        page = self._page
        while True:
            reply = await xread({key: after}, count=page, block=_BLOCK_MS)
            for _name, entries in reply or ():
                for entry_id, fields in entries:
                    after = entry_id
                    line = fields.get(FIELD)
                    if line is not None:  # another program's entry: not a recording line
                        await ws.send(entry_id + b"\n" + line)
