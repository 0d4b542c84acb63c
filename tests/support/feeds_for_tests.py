"""A small Binance-style market stream on loopback, for end-to-end tests of GenericDialect.

The protocol it speaks:

- auth, depending on ``auth``: ``"query"`` (``?apiKey=``), ``"header"`` (``X-MBX-APIKEY``),
  ``"message"`` (first message ``{"method": "AUTH", "key": ...}``) or None (open). A wrong
  or missing key closes the socket with 1008.
- optionally, a greeting ``{"e": "welcome", "streams": [...]}`` once authenticated.
- ``{"method": "SUBSCRIBE"|"UNSUBSCRIBE", "params": [...], "id": n}`` answered with
  ``{"result": null, "id": n}``, or ``{"error": {"code": 2, "msg": ...}, "id": n}`` for a
  stream it does not know.
- ``{"e": "trade", "E": ms, "s": "BTCUSDT", "t": n, "p": "...", "q": "...", "T": ms,
  "m": bool}`` for each subscribed ``<symbol>@trade`` stream, ``rate`` times a second.
- with ``pong=True``, ``{"method": "PING"}`` is answered with ``{"result": "PONG"}``.

Example:
    >>> async def demo():
    ...     async with BinanceStyleFeed(auth="query", key="k") as feed:
    ...         return feed.url.startswith("ws://127.0.0.1:")
"""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import logging
import time
from collections.abc import Sequence
from typing import Any
from urllib.parse import parse_qs, urlsplit

import orjson
from websockets.asyncio.server import Server, ServerConnection, serve
from websockets.exceptions import ConnectionClosed

from tests.support.frames import text

__all__ = ["BinanceStyleFeed"]

# The server's own debug log shows the request line with the key; tests that check the
# client never leaks the key must not see the server's log.
_log = logging.getLogger("feeds_for_tests")
_log.setLevel(logging.INFO)


class BinanceStyleFeed:
    """A Binance-style trade stream on ``127.0.0.1``, port chosen by the OS.

    Args:
        auth: ``"query"``, ``"header"``, ``"message"`` or None.
        key: the API key the server accepts.
        symbols: the symbols it knows; streams are ``<symbol lowercase>@trade``.
        rate: trade events per second for each subscribed stream.
        greet: send ``{"e": "welcome", "streams": [...]}`` once authenticated.
        pong: answer ``{"method": "PING"}``.

    Attributes:
        url: the ``ws://`` URL to connect to (valid inside ``async with``).
        commands: every message clients sent, decoded, in order.
        connections: how many sockets were opened.
    """

    def __init__(
        self,
        *,
        auth: str | None = None,
        key: str = "test-key",
        symbols: Sequence[str] = ("BTCUSDT", "ETHUSDT"),
        rate: float = 50.0,
        greet: bool = False,
        pong: bool = False,
    ) -> None:
        if auth not in (None, "query", "header", "message"):
            raise ValueError(f"unknown auth placement {auth!r}")
        self.auth = auth
        self.key = key
        self.streams = [f"{s.lower()}@trade" for s in symbols]
        self.rate = rate
        self.greet = greet
        self.pong = pong
        self.commands: list[Any] = []
        self.connections = 0
        self.url = ""
        self._server: Server | None = None
        self._sockets: set[ServerConnection] = set()
        self._trade_ids = itertools.count(1)

    async def __aenter__(self) -> BinanceStyleFeed:
        self._server = await serve(self._handle, "127.0.0.1", 0, logger=_log)
        port = self._server.sockets[0].getsockname()[1]
        self.url = f"ws://127.0.0.1:{port}/ws"
        return self

    async def __aexit__(self, *exc: object) -> None:
        assert self._server is not None
        self._server.close()
        await self._server.wait_closed()

    async def kick(self, code: int, reason: str = "") -> None:
        """Close every open connection with ``code``."""
        for ws in list(self._sockets):
            await ws.close(code, reason)

    async def _handle(self, ws: ServerConnection) -> None:
        self.connections += 1
        self._sockets.add(ws)
        subscribed: set[str] = set()
        emitter = asyncio.create_task(self._emit(ws, subscribed))
        try:
            if not await self._authenticate(ws):
                await ws.close(1008, "invalid API key")
                return
            if self.greet:
                await ws.send(text({"e": "welcome", "streams": self.streams}))
            async for frame in ws:
                await self._command(ws, frame, subscribed)
        except ConnectionClosed:
            pass
        finally:
            emitter.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await emitter
            self._sockets.discard(ws)

    async def _authenticate(self, ws: ServerConnection) -> bool:
        request = ws.request
        assert request is not None
        if self.auth == "query":
            query = parse_qs(urlsplit(request.path).query)
            return query.get("apiKey") == [self.key]
        if self.auth == "header":
            return request.headers.get("X-MBX-APIKEY") == self.key
        if self.auth == "message":
            try:
                first = orjson.loads(await asyncio.wait_for(ws.recv(), 2.0))
            except (TimeoutError, orjson.JSONDecodeError):
                return False
            self.commands.append(first)
            return first == {"method": "AUTH", "key": self.key}
        return True

    async def _command(
        self, ws: ServerConnection, frame: str | bytes, subscribed: set[str]
    ) -> None:
        try:
            message = orjson.loads(frame)
        except orjson.JSONDecodeError:
            await ws.send(text({"error": {"code": 3, "msg": "Invalid JSON"}}))
            return
        self.commands.append(message)
        method = message.get("method") if isinstance(message, dict) else None
        rid = message.get("id") if isinstance(message, dict) else None
        if method == "PING" and self.pong:
            await ws.send(text({"result": "PONG"}))
        elif method in ("SUBSCRIBE", "UNSUBSCRIBE"):
            params = message.get("params")
            unknown = [p for p in params or [] if p not in self.streams]
            if not isinstance(params, list) or unknown:
                error = {"code": 2, "msg": f"Invalid request: unknown stream(s) {unknown}"}
                await ws.send(text({"error": error, "id": rid}))
                return
            if method == "SUBSCRIBE":
                subscribed.update(params)
            else:
                subscribed.difference_update(params)
            await ws.send(text({"result": None, "id": rid}))
        else:
            await ws.send(text({"error": {"code": 1, "msg": f"unknown method {method}"}}))

    async def _emit(self, ws: ServerConnection, subscribed: set[str]) -> None:
        with contextlib.suppress(ConnectionClosed):
            while True:
                await asyncio.sleep(1 / self.rate)
                now = int(time.time() * 1000)
                for stream in sorted(subscribed):
                    trade = next(self._trade_ids)
                    await ws.send(
                        text(
                            {
                                "e": "trade",
                                "E": now,
                                "s": stream.split("@")[0].upper(),
                                "t": trade,
                                "p": f"{67000 + trade % 100 / 10:.2f}",
                                "q": "0.012",
                                "T": now - 1,
                                "m": trade % 2 == 0,
                            }
                        )
                    )
