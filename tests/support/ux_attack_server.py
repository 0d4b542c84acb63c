"""A strict, seed-only Hydra JWT stream server for the UX attack tests.

Written from the Hydra stream API document and its published notes alone:

- endpoint ``/stream``, the JWT in the query (``?token=...``);
- a bad token: the connection is opened, then closed with **4001** ("Invalid or expired
  JWT"), the document's close code for a refused token;
- first message ``{"type": "connected", "ts", "data": {sessionId, address,
  availableStreams, serverTime}}``;
- ``{"action": "subscribe", "streams": [...]}`` -> ``{"type": "subscribed", "data":
  {subscribed, rejected, rejectedReason, active}}`` (NOTES); ``unsubscribe`` ->
  ``unsubscribed``; ``list`` -> ``subscriptions``; **no** reply to ``ping`` (none is
  documented: strict);
- every event ``{stream, type, ts (ms), data}``, sent only on streams the client
  subscribed to;
- ``{"type": "heartbeat", "ts", "data": null}`` every ``heartbeat_interval`` s
  (30 s in the document).

Test controls: ``push`` an event to every subscribed client, ``drop`` every connection
(a plain TCP loss, no close frame) and refuse new ones for a while, ``feeders`` that send
generated events at a rate, ``echo_token`` to put the token back in an event's data.
"""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import json
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import parse_qs, urlsplit

import websockets
from websockets.asyncio.server import ServerConnection, serve

__all__ = ["Client", "HydraAttackServer"]

DEFAULT_STREAMS = [
    "signals", "alerts", "cyber", "markets", "aircraft", "vessels", "airspace",
    "social", "earthquakes",
]  # fmt: skip


def now_ms() -> int:
    return int(time.time() * 1000)


@dataclass
class Client:
    ws: ServerConnection
    token: str
    subscribed: set[str] = field(default_factory=set)
    received: list[dict[str, Any]] = field(default_factory=list)


class HydraAttackServer:
    """``async with HydraAttackServer(token="...") as server: server.url``."""

    def __init__(
        self,
        *,
        token: str = "eyJhbGciOiJIUzI1NiJ9.attack-test-token.c2lnbmF0dXJl",
        streams: list[str] | None = None,
        heartbeat_interval: float = 30.0,
        refuse_all: bool = False,
    ) -> None:
        self.token = token
        self.streams = list(streams or DEFAULT_STREAMS)
        self.heartbeat_interval = heartbeat_interval
        self.refuse_all = refuse_all  # every token refused (close 4001)
        self.clients: list[Client] = []
        self.sent: list[dict[str, Any]] = []  # every data event sent, in order
        self.connections = 0
        self.refused = 0
        self._down_until = 0.0
        self._server: Any = None
        self._tasks: list[asyncio.Task[None]] = []
        self.port = 0

    # ------------------------------------------------------------------ lifecycle

    async def __aenter__(self) -> HydraAttackServer:
        self._server = await serve(self._handle, "127.0.0.1", 0, max_size=2**24)
        self.port = self._server.sockets[0].getsockname()[1]
        return self

    async def __aexit__(self, *exc: object) -> None:
        for task in self._tasks:
            task.cancel()
        for task in self._tasks:
            with contextlib.suppress(BaseException):
                await task
        self._server.close()
        with contextlib.suppress(Exception):
            await asyncio.wait_for(self._server.wait_closed(), 5)

    @property
    def url(self) -> str:
        return f"ws://127.0.0.1:{self.port}/stream"

    @property
    def live_clients(self) -> list[Client]:
        return [c for c in self.clients if c.ws.state.name == "OPEN"]

    # ------------------------------------------------------------------ protocol

    async def _send(self, client: Client, message: dict[str, Any]) -> None:
        with contextlib.suppress(websockets.ConnectionClosed):
            await client.ws.send(json.dumps(message))

    async def _handle(self, ws: ServerConnection) -> None:
        parts = urlsplit(ws.request.path)
        token = (parse_qs(parts.query).get("token") or [""])[0]
        if time.monotonic() < self._down_until:
            # An outage: the TCP connection dies without a close frame.
            ws.transport.abort()
            return
        if parts.path != "/stream":
            await ws.close(1008, "unknown endpoint")
            return
        if self.refuse_all or token != self.token:
            self.refused += 1
            await ws.close(4001, "Invalid or expired JWT")
            return
        self.connections += 1
        client = Client(ws, token)
        self.clients.append(client)
        await self._send(client, {
            "type": "connected",
            "ts": now_ms(),
            "data": {
                "sessionId": f"sess-{self.connections}",
                "address": "0xA77AC4",
                "availableStreams": self.streams,
                "serverTime": now_ms(),
            },
        })  # fmt: skip
        heartbeat = asyncio.create_task(self._heartbeats(client))
        try:
            async for raw in ws:
                try:
                    msg = json.loads(raw)
                except (TypeError, ValueError):
                    continue
                client.received.append(msg)
                await self._command(client, msg)
        except websockets.ConnectionClosed:
            pass
        finally:
            heartbeat.cancel()

    async def _command(self, client: Client, msg: dict[str, Any]) -> None:
        action = msg.get("action")
        wanted = msg.get("streams") or []
        if wanted == "*" or wanted == ["*"]:
            wanted = list(self.streams)
        if action == "subscribe":
            ok = [s for s in wanted if s in self.streams]
            bad = [s for s in wanted if s not in self.streams]
            client.subscribed.update(ok)
            await self._send(client, {
                "type": "subscribed",
                "ts": now_ms(),
                "data": {
                    "subscribed": ok,
                    "rejected": bad,
                    "rejectedReason": {s: "Stream not in token scope" for s in bad},
                    "active": sorted(client.subscribed),
                },
            })  # fmt: skip
        elif action == "unsubscribe":
            client.subscribed.difference_update(wanted)
            await self._send(client, {
                "type": "unsubscribed", "ts": now_ms(),
                "data": {"unsubscribed": wanted, "active": sorted(client.subscribed)},
            })  # fmt: skip
        elif action == "list":
            await self._send(client, {
                "type": "subscriptions", "ts": now_ms(),
                "data": {"active": sorted(client.subscribed), "available": self.streams},
            })  # fmt: skip
        # "ping": no documented reply; a strict server sends none.

    async def _heartbeats(self, client: Client) -> None:
        while True:
            await asyncio.sleep(self.heartbeat_interval)
            await self._send(client, {"type": "heartbeat", "ts": now_ms(), "data": None})

    # ------------------------------------------------------------------ test controls

    async def wait_subscribed(self, stream: str, timeout: float = 30.0) -> Client:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            for c in self.live_clients:
                if stream in c.subscribed:
                    return c
            await asyncio.sleep(0.05)
        raise AssertionError(f"no client subscribed to {stream!r} within {timeout} s")

    async def push(self, stream: str, type_: str, data: Any, ts: int | None = None) -> int:
        """Send one event to every client subscribed to ``stream``; returns how many got it."""
        message = {"stream": stream, "type": type_, "ts": now_ms() if ts is None else ts,
                   "data": data}  # fmt: skip
        n = await self.push_raw(stream, json.dumps(message))
        if n:
            self.sent.append(message)
        return n

    async def push_raw(self, stream: str, raw: str) -> int:
        """Send a frame as given (big integers, exact text) to subscribers of ``stream``."""
        n = 0
        for c in self.live_clients:
            if stream in c.subscribed:
                with contextlib.suppress(websockets.ConnectionClosed):
                    await c.ws.send(raw)
                    n += 1
        return n

    def drop(self, down_for: float = 10.0) -> None:
        """Kill every connection (no close frame) and refuse new ones for ``down_for`` s."""
        self._down_until = time.monotonic() + down_for
        for c in self.live_clients:
            c.ws.transport.abort()

    async def close_all(self, code: int = 1001, reason: str = "Server going away") -> None:
        for c in self.live_clients:
            with contextlib.suppress(Exception):
                await c.ws.close(code, reason)

    def feed(
        self,
        stream: str,
        type_: str,
        make: Callable[[int], Any],
        rate: float = 20.0,
    ) -> asyncio.Task[None]:
        """Send ``make(i)`` as data on ``stream``/``type_`` ``rate`` times a second."""

        async def run() -> None:
            for i in itertools.count():
                await self.push(stream, type_, make(i))
                await asyncio.sleep(1.0 / rate)

        task = asyncio.create_task(run())
        self._tasks.append(task)
        return task

    def stop_feeds(self) -> None:
        for task in self._tasks:
            task.cancel()
        self._tasks.clear()
