"""A seed-only Pusher-compatible stream server with its REST bootstrap
(document 002_0d1cb8a90ea9b221.txt; the Pusher protocol 7 facts from NOTES.md).

Where each thing comes from (``002:N`` is line N of the seed; ``NOTES`` its Pusher section;
``client doc`` the client's ``pusher_session`` docstring, used only where the seed names a
call but leaves its shape open, where the document is silent):

REST, every call with ``Authorization: Bearer <token>`` (002:1), else HTTP 401:

- ``POST /api/v2/ws/session`` (002:11-13) with the wanted streams -> a ``connection`` object
  ``{wsHost, wsPort, appKey, forceTls}`` (002:13) and the resolved channels. The rest of the
  shape (``userId``, ``channels: [{stream, channel, type}]``) is the client doc's.
- The stream catalog (002:16 "Get the full catalog of available streams"; the path
  ``GET /api/v2/ws/streams`` and shape ``{"streams": [{name, type, channel, events,
  filters}]}`` are the client doc's). Two streams: ``prices`` (public, 002:19) on channel
  ``market-prices`` and ``portfolio`` (presence, 002:20) on ``presence-portfolio-{userId}``.
- Channel auth: a form POST ``socket_id=&channel_name=`` (NOTES) at ``POST /api/v2/ws/auth``
  (client doc path) -> ``{"auth": appKey + ":" + hex(HMAC-SHA256(secret,
  "socket_id:channel:channel_data")), "channel_data": "..."}`` (NOTES).

WebSocket ``/app/{appKey}?protocol=7&client=...&version=...`` (NOTES):

- First ``pusher:connection_established`` with ``data`` a JSON *string* ``{"socket_id":
  "<n>.<m>", "activity_timeout": s}`` (002:14-15, NOTES). Every connection gets its own
  socket id.
- ``pusher:subscribe {channel, auth?, channel_data?}`` -> ``pusher_internal:
  subscription_succeeded`` (NOTES); a presence channel's data is ``{"presence": {"ids",
  "hash", "count"}}``. A presence subscription whose ``auth`` is not the HMAC of *this*
  socket's id gets ``pusher:error`` ``{"message": "Invalid signature: Expected HMAC SHA256
  hex digest of <socket_id>:<channel>...", "code": null}`` (NOTES: pusher:error carries an
  object ``{message, code}``) and no subscription.
- ``pusher:unsubscribe {channel}`` (NOTES): no reply. ``pusher:ping`` -> ``pusher:pong``
  (NOTES), data ``"{}"``.
- Events ``{"event", "channel", "data": "<JSON string>"}`` (NOTES: server data is a JSON
  string) on subscribed channels, ``rate`` per second: ``price_update`` on ``market-prices``,
  ``balance_update`` on the presence channel, each with ``timestamp`` (ms) and ``seq``.

Hostile options: ``drop_after_welcome=N`` drops the first N sockets (no close frame) right
after the welcome; ``close_code=(code, reason)`` closes every socket right after the welcome
(4009 is "unauthorized", NOTES); ``refuse_channels`` answers those channels' subscribe with a
``pusher:error`` quoting the channel; ``silent`` (settable at any time) makes the server
answer and send nothing, and :meth:`hang_open_connections` does that to the sockets open now
only (a half-open socket); ``echo_token_in_errors`` quotes the Bearer token in the 401
bodies and the ``pusher:error`` messages.
"""

from __future__ import annotations

import asyncio
import hashlib
import hmac
import itertools
import json
from typing import Any

from websockets.asyncio.server import ServerConnection

from .base import Conn, HttpRequest, HttpServer, RestBackedServer, now_ms, send_frame

__all__ = ["PusherServer"]


class PusherServer(RestBackedServer):
    def __init__(
        self,
        *,
        token: str = "agent_key_seed_0123456789",
        app_key: str = "seedappkey",
        secret: str = "seedsecret",
        user_id: str = "u1",
        rate: float | None = 20.0,
        activity_timeout: int = 120,
        close_code: tuple[int, str] | None = None,
        refuse_channels: tuple[str, ...] = (),
        echo_token_in_errors: bool = False,
        drop_after_welcome: int = 0,
    ) -> None:
        super().__init__()
        self.token = token
        self.app_key = app_key
        self.secret = secret
        self.user_id = user_id
        self.rate = rate
        self.activity_timeout = activity_timeout
        self.close_code = close_code
        self.refuse_channels = set(refuse_channels)
        self.echo = echo_token_in_errors
        self.drop_after_welcome = drop_after_welcome
        self.http = HttpServer()
        self.http.routes[("GET", "/api/v2/ws/streams")] = self._catalog
        self.http.routes[("POST", "/api/v2/ws/session")] = self._session
        self.http.routes[("POST", "/api/v2/ws/auth")] = self._auth
        self._socket_ids = itertools.count(1)
        self.seq = 0
        self.sent: list[dict[str, Any]] = []
        self.auth_requests: list[dict[str, str]] = []
        self.silent = False  # True: record what arrives, answer and send nothing (a hung server)

    @property
    def base_url(self) -> str:
        return self.http.base_url

    @property
    def presence_channel(self) -> str:
        return f"presence-portfolio-{self.user_id}"

    # --- REST ------------------------------------------------------------------------------

    def _authorized(self, req: HttpRequest) -> bool:
        return req.headers.get("authorization") == f"Bearer {self.token}"

    def _unauthorized(self, req: HttpRequest) -> tuple[int, Any]:
        message = "Unauthorized"
        if self.echo:
            message += f": bad token {req.headers.get('authorization', '')}"
        return 401, {"error": message}

    async def _catalog(self, req: HttpRequest) -> tuple[int, Any]:
        if not self._authorized(req):
            return self._unauthorized(req)
        return 200, {
            "streams": [
                {
                    "name": "prices",
                    "type": "public",
                    "channel": "market-prices",
                    "events": ["price_update"],
                    "filters": [],
                },
                {
                    "name": "portfolio",
                    "type": "presence",
                    "channel": "presence-portfolio-{userId}",
                    "events": ["balance_update"],
                    "filters": [],
                },
            ]
        }

    async def _session(self, req: HttpRequest) -> tuple[int, Any]:
        if not self._authorized(req):
            return self._unauthorized(req)
        try:
            body = req.json() or {}
        except ValueError:
            body = {}
        wanted = body.get("streams") or ["prices", "portfolio"]
        channels = []
        for s in wanted:
            if s == "prices":
                channels.append({"stream": "prices", "channel": "market-prices", "type": "public"})
            elif s == "portfolio":
                channels.append(
                    {"stream": "portfolio", "channel": self.presence_channel, "type": "presence"}
                )
        return 200, {
            "connection": {
                "wsHost": "127.0.0.1",
                "wsPort": self.port,
                "appKey": self.app_key,
                "forceTls": False,
            },  # 002:13
            "userId": self.user_id,
            "channels": channels,
        }

    def sign(self, socket_id: str, channel: str, channel_data: str | None) -> str:
        """NOTES: appKey + ":" + hex(HMAC-SHA256(secret, "socket_id:channel[:channel_data]"))."""
        text = f"{socket_id}:{channel}" + (f":{channel_data}" if channel_data is not None else "")
        digest = hmac.new(self.secret.encode(), text.encode(), hashlib.sha256).hexdigest()
        return f"{self.app_key}:{digest}"

    async def _auth(self, req: HttpRequest) -> tuple[int, Any]:
        if not self._authorized(req):
            return self._unauthorized(req)
        form = req.form()
        self.auth_requests.append(form)
        socket_id, channel = form.get("socket_id", ""), form.get("channel_name", "")
        channel_data = None
        if channel.startswith("presence-"):
            channel_data = json.dumps({"user_id": self.user_id, "user_info": {"name": "seed"}})
        out: dict[str, Any] = {"auth": self.sign(socket_id, channel, channel_data)}
        if channel_data is not None:
            out["channel_data"] = channel_data
        return 200, out

    # --- WebSocket --------------------------------------------------------------------------

    async def session(self, ws: ServerConnection, conn: Conn) -> None:
        if conn.path != f"/app/{self.app_key}":
            await ws.close(4001, "Application does not exist")  # Pusher 4000-4099
            return
        socket_id = f"{next(self._socket_ids)}.{1000 + conn.index}"
        conn.state.update(socket_id=socket_id, subs=[])
        await send_frame(
            ws,
            {
                "event": "pusher:connection_established",
                "data": json.dumps(
                    {"socket_id": socket_id, "activity_timeout": self.activity_timeout}
                ),
            },
        )  # NOTES
        if conn.index < self.drop_after_welcome:
            ws.transport.abort()
            return
        if self.close_code is not None:
            await asyncio.sleep(0.02)
            await ws.close(*self.close_code)
            return
        await self.serve_commands(ws, conn)

    async def _error(self, ws: ServerConnection, message: str, channel: str | None) -> None:
        frame: dict[str, Any] = {
            "event": "pusher:error",
            "data": {"message": message, "code": None},
        }
        if channel is not None:
            frame["channel"] = channel
        await send_frame(ws, frame)

    async def _command(self, ws: ServerConnection, conn: Conn, msg: dict[str, Any]) -> None:
        event = msg.get("event")
        data = msg.get("data") if isinstance(msg.get("data"), dict) else {}
        if event == "pusher:ping":
            await send_frame(ws, {"event": "pusher:pong", "data": "{}"})  # NOTES
        elif event == "pusher:subscribe":
            channel = data.get("channel")
            if channel in self.refuse_channels:
                text = f"Subscription to {channel} refused"
                if self.echo:
                    text += f" for token {self.token}"
                await self._error(ws, text, channel)
                return
            if isinstance(channel, str) and channel.startswith("presence-"):
                expected = self.sign(conn.state["socket_id"], channel, data.get("channel_data"))
                if data.get("auth") != expected:
                    text = (
                        "Invalid signature: Expected HMAC SHA256 hex digest of "
                        f"{conn.state['socket_id']}:{channel}, but got {data.get('auth')}"
                    )
                    await self._error(ws, text, None)
                    return
                member = json.loads(data["channel_data"])
                presence = {
                    "ids": [member["user_id"]],
                    "hash": {member["user_id"]: member.get("user_info")},
                    "count": 1,
                }
                await send_frame(
                    ws,
                    {
                        "event": "pusher_internal:subscription_succeeded",
                        "channel": channel,
                        "data": json.dumps({"presence": presence}),
                    },
                )
            else:
                await send_frame(
                    ws,
                    {
                        "event": "pusher_internal:subscription_succeeded",
                        "channel": channel,
                        "data": "{}",
                    },
                )
            if channel not in conn.state["subs"]:
                conn.state["subs"].append(channel)
        elif event == "pusher:unsubscribe":
            conn.state["subs"] = [c for c in conn.state["subs"] if c != data.get("channel")]

    def event_for(self, channel: str) -> dict[str, Any]:
        self.seq += 1
        if channel == "market-prices":
            payload = {
                "symbol": "BTC",
                "price": 60000.0 + self.seq,
                "timestamp": now_ms(),
                "seq": self.seq,
            }
            name = "price_update"
        else:
            payload = {"balance": 1000.0 + self.seq, "timestamp": now_ms(), "seq": self.seq}
            name = "balance_update"
        return {"event": name, "channel": channel, "data": json.dumps(payload)}

    async def _pump(self, ws: ServerConnection, conn: Conn) -> None:
        assert self.rate
        i = 0
        while True:
            await asyncio.sleep(1 / self.rate)
            subs = conn.state["subs"]
            if not subs or self.silent or conn.state.get("silent"):
                continue
            message = self.event_for(subs[i % len(subs)])
            await send_frame(ws, message)
            self.sent.append(message)
            i += 1
