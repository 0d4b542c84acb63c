"""A seed-only "Hydra" JWT stream server (document 000_d13920bfb9aca964.txt, plus NOTES.md).

Where each thing it sends or does comes from (``000:N`` is line N of the seed, ``NOTES``
the Hydra section of NOTES.md):

- Endpoint and auth: ``wss://.../stream?token=<JWT>`` (000:5-8, 000:31). Here the path is
  ``/stream`` and the JWT ``token``. A wrong or missing token is closed with **4001**
  "Invalid or expired JWT" (000:64) right after the handshake.
- Welcome, sent first on every connection (000:43-53)::

      {"type": "connected", "ts": ms, "data": {"sessionId", "address",
       "availableStreams": [...], "serverTime": ms}}

- Client commands ``{"action": "subscribe", "streams": [...]}`` (000:34-37; NOTES adds
  ``unsubscribe``, ``list``, ``ping`` and ``"*"``).
- Strict profile (the default, ``reply_subscribed=False``): the seed shows **no** reply to
  any command, so none is sent. With ``reply_subscribed=True`` the NOTES replies are sent:
  ``{"type": "subscribed", "data": {"subscribed", "rejected", "rejectedReason", "active"}}``,
  ``{"type": "unsubscribed", ...}`` and ``{"type": "subscriptions", "data": {"active",
  "available"}}`` (NOTES). Nothing ever answers ``ping`` (no reply is documented).
- A stream outside ``availableStreams`` (000:54 "You can only subscribe to streams listed
  here"): closed with **4004** "Subscription not in JWT scope" (000:67) when
  ``out_of_scope="close"``, or listed in ``rejected`` with ``rejectedReason`` "Stream not in
  token scope" (NOTES) when ``out_of_scope="reply"``. ``refuse_streams`` makes the server
  refuse streams it *did* list (a scope that changed), the same two ways.
- Events ``{"stream", "type", "ts" (ms), "data"}`` (000:17, 000:40; NOTES envelope), only on
  subscribed streams. Types per stream from NOTES: signals -> ``signal_new`` (data as NOTES:
  ``{id, title, description, category, severity, lat, lng, tags, createdAt}``), alerts ->
  ``alert_issued``, cyber -> ``threat_pulse``, markets -> ``market_update``. Every ``data``
  also carries ``seq``, a counter over the whole server, so a test can check that every
  event arrived.
- Heartbeat ``{"type": "heartbeat", "ts": ms, "data": null}`` every ``heartbeat_interval``
  seconds (000:55-57; 30 s in production, shorter here; None sends none: a silent server).
- Close codes used by the hostile options: 1001 (000:63), 4001, 4002, 4003, 4004 (000:64-67).

Hostile options (not what a healthy server does; each test says which it uses):
``refuse=(code, reason)`` closes every connection right after the handshake;
``drop_after_welcome=N`` drops the first N connections right after their welcome;
``script`` is a coroutine ``script(server, ws, conn)`` run after the welcome (hostile frames);
``echo_token_in_errors`` puts the JWT in close reasons (a careless server).
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from typing import Any

from websockets.asyncio.server import ServerConnection

from .base import Conn, WsServer, now_ms, send_frame

__all__ = ["EVENT_TYPES", "HydraServer"]

# NOTES: "Stream -> event types"
EVENT_TYPES = {
    "aircraft": "position_update",
    "vessels": "position_update",
    "alerts": "alert_issued",
    "cyber": "threat_pulse",
    "airspace": "restriction_active",
    "signals": "signal_new",
    "markets": "market_update",
    "social": "osint_signal",
    "earthquakes": "seismic_event",
}


Script = Callable[["HydraServer", ServerConnection, Conn], Awaitable[None]]


class HydraServer(WsServer):
    def __init__(
        self,
        *,
        token: str = "eyJhbGciOiJIUzI1NiJ9.seed.sig",
        available: tuple[str, ...] = ("signals", "alerts", "cyber"),
        reply_subscribed: bool = False,
        out_of_scope: str = "close",
        refuse_streams: dict[str, str] | None = None,
        heartbeat_interval: float | None = 30.0,
        rate: float | None = 20.0,
        refuse: tuple[int, str] | None = None,
        drop_after_welcome: int = 0,
        drop_mode: str = "abort",
        script: Script | None = None,
        echo_token_in_errors: bool = False,
    ) -> None:
        super().__init__()
        self.token = token
        self.available = list(available)
        self.reply_subscribed = reply_subscribed
        self.out_of_scope = out_of_scope
        self.refuse_streams = dict(refuse_streams or {})
        self.heartbeat_interval = heartbeat_interval
        self.rate = rate
        self.refuse = refuse
        self.drop_after_welcome = drop_after_welcome
        self.drop_mode = drop_mode
        self.script = script
        self.echo_token_in_errors = echo_token_in_errors
        self.seq = 0
        self.sent_events: list[dict[str, Any]] = []  # every event sent, in order
        self.paused = False  # True: the pump sends nothing

    def url(self, path: str = "/stream") -> str:
        return super().url(path)

    # --- messages --------------------------------------------------------------------

    def welcome(self, conn: Conn) -> dict[str, Any]:
        """000:44-53."""
        t = now_ms()
        return {
            "type": "connected",
            "ts": t,
            "data": {
                "sessionId": f"sess-{conn.index}",
                "address": "0xYourWalletAddress",
                "availableStreams": list(self.available),
                "serverTime": t,
            },
        }

    def event(self, stream: str, **extra: Any) -> dict[str, Any]:
        """An event on ``stream`` (NOTES envelope and types; data of signal_new from NOTES)."""
        self.seq += 1
        t = now_ms()
        if stream == "signals":
            data: dict[str, Any] = {
                "id": f"sig-{self.seq}",
                "title": "Carrier group moving",
                "description": "seed server",
                "category": "NAVAL",
                "severity": 1 + self.seq % 5,
                "lat": 26.5,
                "lng": 56.3,
                "tags": ["seed"],
                "createdAt": t,
            }
        else:
            data = {"id": f"{stream}-{self.seq}", "value": float(self.seq)}
        data["seq"] = self.seq
        data.update(extra)
        return {"stream": stream, "type": EVENT_TYPES.get(stream, "update"), "ts": t, "data": data}

    async def emit(self, ws: ServerConnection, stream: str, **extra: Any) -> dict[str, Any]:
        """Send one event and record it in :attr:`sent_events` once it is on the wire."""
        message = self.event(stream, **extra)
        await send_frame(ws, message)
        self.sent_events.append(message)
        return message

    def heartbeat(self) -> dict[str, Any]:
        """000:57."""
        return {"type": "heartbeat", "ts": now_ms(), "data": None}

    def reason(self, text: str, token: str | None = None) -> str:
        """A close reason; a careless server (``echo_token_in_errors``) quotes the JWT."""
        return f"{text}: {token or self.token}" if self.echo_token_in_errors else text

    # --- the session -------------------------------------------------------------------

    async def session(self, ws: ServerConnection, conn: Conn) -> None:
        conn.state["subs"] = []
        if conn.query.get("token") != self.token:
            reason = self.reason("Invalid or expired JWT", conn.query.get("token"))
            await ws.close(4001, reason)  # 000:64
            return
        if self.refuse is not None:
            code, reason = self.refuse
            await ws.close(code, self.reason(reason))
            return
        await send_frame(ws, self.welcome(conn))  # 000:43-53
        if conn.index < self.drop_after_welcome:
            await self.drop(ws)
            return
        tasks = []
        if self.heartbeat_interval is not None:
            tasks.append(asyncio.ensure_future(self._heartbeats(ws)))
        if self.rate:
            tasks.append(asyncio.ensure_future(self._pump(ws, conn)))
        if self.script is not None:
            tasks.append(asyncio.ensure_future(self.script(self, ws, conn)))
        try:
            async for message in ws:
                msg = self.decode(message)
                conn.received.append(msg)
                if isinstance(msg, dict):
                    await self._command(ws, conn, msg)
        finally:
            for task in tasks:
                task.cancel()

    async def drop(self, ws: ServerConnection) -> None:
        if self.drop_mode == "abort":
            ws.transport.abort()
        else:
            await ws.close(1001, "Server going away")  # 000:63

    async def _command(self, ws: ServerConnection, conn: Conn, msg: dict[str, Any]) -> None:
        action = msg.get("action")
        streams = [s for s in msg.get("streams") or [] if isinstance(s, str)]
        if "*" in streams:  # NOTES: "*" means every stream in scope
            streams = list(self.available)
        if action == "subscribe":
            granted, rejected = [], {}
            for s in streams:
                if s in self.refuse_streams:
                    rejected[s] = self.refuse_streams[s]
                elif s not in self.available:
                    rejected[s] = "Stream not in token scope"  # NOTES
                else:
                    granted.append(s)
            if rejected and self.out_of_scope == "close":
                await ws.close(4004, self.reason("Subscription not in JWT scope"))  # 000:67
                return
            for s in granted:
                if s not in conn.state["subs"]:
                    conn.state["subs"].append(s)
            if self.reply_subscribed:  # NOTES
                await send_frame(
                    ws,
                    {
                        "type": "subscribed",
                        "ts": now_ms(),
                        "data": {
                            "subscribed": granted,
                            "rejected": list(rejected),
                            "rejectedReason": rejected,
                            "active": list(conn.state["subs"]),
                        },
                    },
                )
        elif action == "unsubscribe":
            conn.state["subs"] = [s for s in conn.state["subs"] if s not in streams]
            if self.reply_subscribed:  # NOTES
                await send_frame(
                    ws,
                    {
                        "type": "unsubscribed",
                        "ts": now_ms(),
                        "data": {"unsubscribed": streams, "active": list(conn.state["subs"])},
                    },
                )
        elif action == "list" and self.reply_subscribed:  # NOTES
            await send_frame(
                ws,
                {
                    "type": "subscriptions",
                    "ts": now_ms(),
                    "data": {"active": list(conn.state["subs"]), "available": list(self.available)},
                },
            )
        # "ping": no reply is documented anywhere, so none.

    async def _heartbeats(self, ws: ServerConnection) -> None:
        assert self.heartbeat_interval is not None
        while True:
            await asyncio.sleep(self.heartbeat_interval)
            await send_frame(ws, self.heartbeat())  # 000:55-57

    async def _pump(self, ws: ServerConnection, conn: Conn) -> None:
        assert self.rate
        n = 0
        while True:
            await asyncio.sleep(1 / self.rate)
            subs = conn.state["subs"]
            if subs and not self.paused:
                await self.emit(ws, subs[n % len(subs)])
                n += 1
