"""A minimal, strict Hydra JWT stream server on loopback, written from the feed's document.

What it sends, and where Hydra's document ("How to establish a WebSocket connection to the
Hydra stream", "the document") or the public notes on it ("NOTES") show it:

- The JWT is a query parameter (``/stream?token=<JWT>``, the document); a missing or
  wrong token is closed with 4001 "Invalid or expired JWT" (the document's close codes).
- On connect: ``{"type": "connected", "ts", "data": {"sessionId", "address",
  "availableStreams", "serverTime"}}`` (the document).
- ``{"action": "subscribe", "streams": [...]}`` is answered with ``{"type": "subscribed",
  "data": {"subscribed", "rejected", "rejectedReason", "active"}}`` (NOTES); a stream
  outside ``availableStreams`` is rejected with "Stream not in token scope" (NOTES).
  ``unsubscribe`` gets ``unsubscribed`` (NOTES); ``ping`` gets nothing (no reply shown).
- ``{"type": "heartbeat", "ts", "data": null}`` every 30 s (the document).
- Events: ``{"stream", "type", "ts", "data"}``, ``ts`` in milliseconds (NOTES), sent only
  to clients subscribed to the stream.

Every frame sent is kept in :attr:`HydraServer.sent` (the parsed message) in send order,
so a test can compare what the page shows with it.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import time
from typing import Any
from urllib.parse import parse_qs, urlsplit

import websockets

TOKEN = "eyJhbGciOiJIUzI1NiJ9.eyJzY29wZSI6InRpbWUtYXR0YWNrIn0.c2lnbmF0dXJl"
AVAILABLE = ["signals", "markets", "alerts"]
HEARTBEAT_S = 30.0


def now_ms() -> int:
    return time.time_ns() // 1_000_000


class HydraServer:
    """``async with HydraServer() as hydra:`` serves ``hydra.url`` until the block ends."""

    def __init__(self, *, token: str = TOKEN, available: list[str] | None = None) -> None:
        self.token = token
        self.available = list(available or AVAILABLE)
        self.sent: list[dict[str, Any]] = []  # every message sent, in order
        self.received: list[dict[str, Any]] = []  # every client command
        self._clients: dict[Any, set[str]] = {}
        self._subscribed = asyncio.Condition()
        self._server: Any = None
        self._session = 0
        self.url = ""

    async def __aenter__(self) -> HydraServer:
        self._server = await websockets.serve(self._handle, "127.0.0.1", 0, max_size=None)
        port = next(iter(self._server.sockets)).getsockname()[1]
        self.url = f"ws://127.0.0.1:{port}/stream"
        return self

    async def __aexit__(self, *exc: object) -> None:
        self._server.close()
        with contextlib.suppress(Exception):
            await asyncio.wait_for(self._server.wait_closed(), 5)

    # ------------------------------------------------------------------ sending

    async def _send(self, ws: Any, message: dict[str, Any]) -> None:
        self.sent.append(message)
        await ws.send(json.dumps(message, separators=(",", ":")))

    async def emit(self, stream: str, type_: str, ts: Any, data: dict[str, Any]) -> dict:
        """Send one event to every client subscribed to ``stream``; returns the message."""
        message = {"stream": stream, "type": type_, "ts": ts, "data": data}
        text = json.dumps(message, separators=(",", ":"))
        targets = [ws for ws, streams in self._clients.items() if stream in streams]
        if not targets:
            raise AssertionError(f"nobody is subscribed to {stream!r}")
        self.sent.append(message)
        for ws in targets:
            await ws.send(text)
        return message

    async def emit_many(self, messages: list[tuple[str, str, Any, dict]]) -> list[dict]:
        """Send ``(stream, type, ts, data)`` events back to back, without yielding between."""
        return [await self.emit(*m) for m in messages]

    def events(self) -> list[dict[str, Any]]:
        """The data events sent (no control messages), in order."""
        return [m for m in self.sent if "stream" in m]

    async def wait_subscribed(self, stream: str, timeout: float = 30.0) -> None:
        async def check() -> None:
            async with self._subscribed:
                await self._subscribed.wait_for(
                    lambda: any(stream in s for s in self._clients.values())
                )

        await asyncio.wait_for(check(), timeout)

    # ------------------------------------------------------------------ serving

    async def _heartbeat(self, ws: Any) -> None:
        while True:
            await asyncio.sleep(HEARTBEAT_S)
            await self._send(ws, {"type": "heartbeat", "ts": now_ms(), "data": None})

    async def _handle(self, ws: Any) -> None:
        query = parse_qs(urlsplit(ws.request.path).query)
        if query.get("token") != [self.token]:
            await ws.close(4001, "Invalid or expired JWT")
            return
        self._session += 1
        ts = now_ms()
        await self._send(
            ws,
            {
                "type": "connected",
                "ts": ts,
                "data": {
                    "sessionId": f"sess-{self._session}",
                    "address": "0x00000000000000000000000000000000000000aa",
                    "availableStreams": list(self.available),
                    "serverTime": ts,
                },
            },
        )
        self._clients[ws] = set()
        beat = asyncio.ensure_future(self._heartbeat(ws))
        try:
            async for frame in ws:
                try:
                    command = json.loads(frame)
                except (TypeError, ValueError):
                    continue
                self.received.append(command)
                await self._command(ws, command)
        except websockets.ConnectionClosed:
            pass
        finally:
            beat.cancel()
            self._clients.pop(ws, None)

    async def _command(self, ws: Any, command: dict[str, Any]) -> None:
        action = command.get("action")
        streams = command.get("streams") or []
        if streams == ["*"] or "*" in streams:
            streams = list(self.available)
        mine = self._clients[ws]
        if action == "subscribe":
            ok = [s for s in streams if s in self.available]
            bad = [s for s in streams if s not in self.available]
            async with self._subscribed:
                mine.update(ok)
                self._subscribed.notify_all()
            await self._send(
                ws,
                {
                    "type": "subscribed",
                    "data": {
                        "subscribed": ok,
                        "rejected": bad,
                        "rejectedReason": {s: "Stream not in token scope" for s in bad},
                        "active": sorted(mine),
                    },
                },
            )
        elif action == "unsubscribe":
            mine.difference_update(streams)
            await self._send(ws, {"type": "unsubscribed", "data": {"active": sorted(mine)}})
        elif action == "list":
            await self._send(
                ws,
                {
                    "type": "subscriptions",
                    "data": {"active": sorted(mine), "available": list(self.available)},
                },
            )
        # "ping": no reply is documented.
