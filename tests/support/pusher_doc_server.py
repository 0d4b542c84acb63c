"""A Pusher Channels server (protocol 7) and an app's auth endpoints, written only from
Pusher's public documents, for tests/test_pusher_app_documents.py.

What it sends, and where the documents show it:

- "Pusher Channels Protocol" (pusher.com/docs/channels/library_auth_reference/
  pusher-websockets-protocol):
  - ``pusher:connection_established`` whose ``data`` is a JSON *string*
    ``{"socket_id": "123.456", "activity_timeout": 120}``;
  - ``pusher_internal:subscription_succeeded`` on the channel, ``data`` a JSON string
    (presence: ``{"presence": {"ids", "hash", "count"}}``);
  - ``pusher_internal:member_added`` (``{user_id, user_info}``) and ``member_removed``
    (``{user_id}``), data JSON strings;
  - ``pusher:error`` whose ``data`` is an object ``{message, code}`` (code may be null);
  - ``pusher:ping`` / ``pusher:pong`` with ``data`` ``{}``; the recipient of a ping
    replies with a pong;
  - channel events ``{event, channel, data}`` where ``data`` is whatever string the app
    triggered (usually JSON text, but any string);
  - close codes 4000-4099 (do not reconnect), 4100-4199 (reconnect after >= 1 s),
    4200-4299 (reconnect immediately).
- "Authorizing users" / "Generating authentication and authorization strings": the
  signature is the hex HMAC-SHA256 of ``socket_id:channel_name`` (presence:
  ``socket_id:channel_name:channel_data``) with the app secret; ``auth`` is
  ``key:signature``. The endpoint gets a form POST ``socket_id=..&channel_name=..``.
- "User authentication": ``pusher:signin {auth, user_data}``, signature of
  ``socket_id::user::user_data``; the server answers ``pusher:signin_success
  {user_data}``; the user's channel is ``#server-to-user-{id}``.
- ``pusher:subscription_error`` (channel named, ``{type, error, status}``): what the
  open-source Pusher servers (soketi) send; used only where a test says so.
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import hmac
import itertools
import json
import logging
import random
import time
import urllib.parse
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any

from websockets.asyncio.server import ServerConnection, serve

KEY = "app-key-public"
SECRET = "app-secret-never-on-the-wire-7f3a"


def sign(text: str, secret: str = SECRET) -> str:
    """Hex HMAC-SHA256 of ``text`` with the app secret (Pusher's auth signature)."""
    return hmac.new(secret.encode(), text.encode(), hashlib.sha256).hexdigest()


def channel_auth(socket_id: str, channel: str, channel_data: str | None = None) -> str:
    text = (
        f"{socket_id}:{channel}"
        if channel_data is None
        else (f"{socket_id}:{channel}:{channel_data}")
    )
    return f"{KEY}:{sign(text)}"


def user_auth(socket_id: str, user_data: str) -> str:
    return f"{KEY}:{sign(f'{socket_id}::user::{user_data}')}"


# --------------------------------------------------------------------------- WebSocket


@dataclass
class Sock:
    """One client socket as the server sees it."""

    ws: ServerConnection
    socket_id: str
    path: str
    headers: dict[str, str]
    opened: float = field(default_factory=time.monotonic)
    closed: float | None = None
    close_code: int | None = None
    received: list[dict[str, Any]] = field(default_factory=list)
    received_at: list[float] = field(default_factory=list)
    raw_received: list[str] = field(default_factory=list)
    channels: set[str] = field(default_factory=set)
    user_id: str | None = None

    def frames(self, event: str) -> list[dict[str, Any]]:
        return [f for f in self.received if f.get("event") == event]

    def subscribes(self) -> list[dict[str, Any]]:
        return [f.get("data") or {} for f in self.frames("pusher:subscribe")]

    def subscribed_channels(self) -> list[str]:
        return [d.get("channel") for d in self.subscribes()]

    async def send(self, message: dict[str, Any] | str) -> None:
        text = message if isinstance(message, str) else json.dumps(message)
        await self.ws.send(text)

    async def event(self, channel: str | None, event: str, data: Any) -> None:
        """A channel event; ``data`` is sent as given when a str, else JSON-encoded."""
        message: dict[str, Any] = {"event": event}
        if channel is not None:
            message["channel"] = channel
        message["data"] = data if isinstance(data, str) else json.dumps(data)
        await self.send(message)

    async def error(self, message: str, code: int | None) -> None:
        await self.send({"event": "pusher:error", "data": {"message": message, "code": code}})

    async def close(self, code: int, reason: str = "") -> None:
        await self.ws.close(code, reason)

    def drop(self) -> None:
        """Abrupt loss: no close frame (the client sees 1006)."""
        transport = self.ws.transport
        if transport is not None:
            transport.abort()


Hook = Callable[["PusherDocServer", Sock, dict[str, Any]], Awaitable[bool]]


class PusherDocServer:
    """A Pusher Channels protocol-7 server on 127.0.0.1.

    ``on_open(server, sock)`` (async) may replace the welcome (return True when it did);
    ``on_frame(server, sock, frame)`` (async) may handle a client frame itself (return
    True). Everything else is answered as the documents show.
    """

    def __init__(self, *, activity_timeout: int = 120) -> None:
        self.activity_timeout = activity_timeout
        self.answer_pings = True
        self.welcome = True
        self.sockets: list[Sock] = []
        self.presence: dict[str, dict[str, Any]] = {}  # channel -> user_id -> user_info
        self.on_open: Callable[[PusherDocServer, Sock], Awaitable[bool]] | None = None
        self.on_frame: Hook | None = None
        self.subscription_answer: Callable[[Sock, str], Any] | None = None
        self.bad_signatures: list[str] = []
        self._ids = itertools.count(1)
        self._server: Any = None
        self.port = 0

    async def __aenter__(self) -> PusherDocServer:
        # The server's own logger (its debug lines hold what the client sent, signatures
        # included): tests that read log records leave it out.
        self._server = await serve(
            self._handle,
            "127.0.0.1",
            0,
            max_size=None,
            ping_interval=None,
            logger=logging.getLogger("pusher_doc_server.ws"),
        )
        self.port = self._server.sockets[0].getsockname()[1]
        return self

    async def __aexit__(self, *exc: object) -> None:
        self._server.close()
        with contextlib.suppress(Exception):
            await asyncio.wait_for(self._server.wait_closed(), 2)

    # -- helpers for tests

    @property
    def last(self) -> Sock:
        return self.sockets[-1]

    async def wait_for(
        self, predicate: Callable[[], Any], timeout: float = 3.0, what: str = ""
    ) -> Any:
        deadline = time.monotonic() + timeout
        while True:
            value = predicate()
            if value:
                return value
            if time.monotonic() > deadline:
                raise AssertionError(f"timed out waiting for {what or predicate}")
            await asyncio.sleep(0.01)

    async def wait_socket(self, n: int, timeout: float = 3.0) -> Sock:
        await self.wait_for(lambda: len(self.sockets) >= n, timeout, f"socket #{n}")
        return self.sockets[n - 1]

    async def wait_subscribed(self, sock: Sock, *channels: str, timeout: float = 3.0) -> None:
        await self.wait_for(
            lambda: set(channels) <= sock.channels,
            timeout,
            f"subscriptions {channels} on {sock.socket_id}",
        )

    # -- protocol

    async def _handle(self, ws: ServerConnection) -> None:
        n = next(self._ids)
        socket_id = f"{random.randint(100000, 999999)}.{n}{random.randint(1000, 9999)}"
        sock = Sock(
            ws,
            socket_id,
            ws.request.path,
            {k.lower(): v for k, v in ws.request.headers.raw_items()},
        )
        self.sockets.append(sock)
        try:
            handled = False
            if self.on_open is not None:
                handled = await self.on_open(self, sock)
            if not handled and self.welcome:
                await sock.send(
                    {
                        "event": "pusher:connection_established",
                        "data": json.dumps(
                            {"socket_id": socket_id, "activity_timeout": self.activity_timeout}
                        ),
                    }
                )
            async for raw in ws:
                if isinstance(raw, bytes):
                    continue
                sock.raw_received.append(raw)
                try:
                    frame = json.loads(raw)
                except ValueError:
                    continue
                sock.received.append(frame)
                sock.received_at.append(time.monotonic())
                if self.on_frame is not None and await self.on_frame(self, sock, frame):
                    continue
                await self._answer(sock, frame)
        except Exception:
            pass
        finally:
            sock.closed = time.monotonic()
            sock.close_code = ws.close_code

    async def _answer(self, sock: Sock, frame: dict[str, Any]) -> None:
        event = frame.get("event")
        data = frame.get("data")
        if isinstance(data, str):
            with contextlib.suppress(ValueError):
                data = json.loads(data)
        if event == "pusher:ping":
            if self.answer_pings:
                await sock.send({"event": "pusher:pong", "data": {}})
        elif event == "pusher:subscribe":
            await self._subscribe(sock, data or {})
        elif event == "pusher:unsubscribe":
            sock.channels.discard((data or {}).get("channel"))
        elif event == "pusher:signin":
            await self._signin(sock, data or {})

    async def _subscribe(self, sock: Sock, data: dict[str, Any]) -> None:
        channel = data.get("channel", "")
        if self.subscription_answer is not None:
            answer = self.subscription_answer(sock, channel)
            if answer is not None:
                if answer == "silent":
                    return
                await sock.send(answer)
                return
        channel_data = data.get("channel_data")
        if channel.startswith(("private-", "presence-")):
            expected = channel_auth(
                sock.socket_id, channel, channel_data if channel.startswith("presence-") else None
            )
            got = data.get("auth")
            if got != expected:
                self.bad_signatures.append(channel)
                text = f"{sock.socket_id}:{channel}"
                if channel.startswith("presence-"):
                    text += f":{channel_data}"
                await sock.error(
                    f"Invalid signature: Expected HMAC SHA256 hex digest of {text}, but got {got}",
                    None,
                )
                return
        elif channel.startswith("#server-to-user-") and (
            sock.user_id is None or channel != f"#server-to-user-{sock.user_id}"
        ):
            await sock.error("Not signed in as this user", None)
            return
        sock.channels.add(channel)
        if channel.startswith("presence-"):
            member = json.loads(channel_data)
            members = self.presence.setdefault(channel, {})
            members[str(member["user_id"])] = member.get("user_info")
            payload = {
                "presence": {"ids": list(members), "hash": dict(members), "count": len(members)}
            }
        else:
            payload = {}
        await sock.send(
            {
                "event": "pusher_internal:subscription_succeeded",
                "channel": channel,
                "data": json.dumps(payload),
            }
        )

    async def _signin(self, sock: Sock, data: dict[str, Any]) -> None:
        user_data = data.get("user_data", "")
        if data.get("auth") != user_auth(sock.socket_id, user_data):
            await sock.error("Invalid signature", None)
            return
        sock.user_id = str(json.loads(user_data)["id"])
        await sock.send(
            {"event": "pusher:signin_success", "data": json.dumps({"user_data": user_data})}
        )


# --------------------------------------------------------------------------- HTTP


@dataclass
class Request:
    method: str
    path: str
    headers: dict[str, str]
    body: bytes
    at: float

    @property
    def form(self) -> dict[str, str]:
        return dict(urllib.parse.parse_qsl(self.body.decode("latin-1")))


@dataclass
class Response:
    status: int = 200
    body: bytes | str | dict[str, Any] = b""
    headers: dict[str, str] = field(default_factory=dict)
    delay: float = 0.0


REASONS = {
    200: "OK",
    301: "Moved Permanently",
    302: "Found",
    307: "Temporary Redirect",
    308: "Permanent Redirect",
    400: "Bad Request",
    401: "Unauthorized",
    403: "Forbidden",
    404: "Not Found",
    500: "Internal Server Error",
    502: "Bad Gateway",
    503: "Service Unavailable",
}


class AuthApp:
    """The app's own HTTP endpoints: ``/pusher/auth`` and ``/pusher/user-auth``.

    ``script`` is a FIFO of responses served before the default (correct) answers;
    ``respond(request)`` may return one instead. Every request is recorded.
    """

    def __init__(
        self, *, host: str = "127.0.0.1", user_id: str = "user-7", member_id: str = "member-1"
    ) -> None:
        self.host = host
        self.user_id = user_id
        self.member_id = member_id
        self.requests: list[Request] = []
        self.script: list[Response] = []
        self.respond: Callable[[Request], Response | None] | None = None
        self._server: asyncio.base_events.Server | None = None
        self.port = 0

    @property
    def url(self) -> str:
        return f"http://{self.host}:{self.port}/pusher/auth"

    @property
    def user_url(self) -> str:
        return f"http://{self.host}:{self.port}/pusher/user-auth"

    async def __aenter__(self) -> AuthApp:
        self._server = await asyncio.start_server(self._serve, self.host, 0)
        self.port = self._server.sockets[0].getsockname()[1]
        return self

    async def __aexit__(self, *exc: object) -> None:
        assert self._server is not None
        self._server.close()
        with contextlib.suppress(Exception):
            await asyncio.wait_for(self._server.wait_closed(), 1)

    def channel_data(self) -> str:
        return json.dumps({"user_id": self.member_id, "user_info": {"name": "Ada"}})

    def user_data(self) -> str:
        return json.dumps({"id": self.user_id, "name": "Ada"})

    def default(self, request: Request) -> Response:
        form = request.form
        socket_id = form.get("socket_id", "")
        if request.path.startswith("/pusher/user-auth"):
            user_data = self.user_data()
            return Response(200, {"auth": user_auth(socket_id, user_data), "user_data": user_data})
        channel = form.get("channel_name", "")
        if channel.startswith("presence-"):
            channel_data = self.channel_data()
            return Response(
                200,
                {
                    "auth": channel_auth(socket_id, channel, channel_data),
                    "channel_data": channel_data,
                },
            )
        return Response(200, {"auth": channel_auth(socket_id, channel)})

    async def _serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            head = await asyncio.wait_for(reader.readuntil(b"\r\n\r\n"), 5)
            lines = head.decode("latin-1").split("\r\n")
            method, target, _ = lines[0].split(" ", 2)
            headers: dict[str, str] = {}
            for line in lines[1:]:
                if ":" in line:
                    name, value = line.split(":", 1)
                    headers[name.strip().lower()] = value.strip()
            length = int(headers.get("content-length", "0") or 0)
            body = await reader.readexactly(length) if length else b""
            request = Request(method, target, headers, body, time.monotonic())
            self.requests.append(request)
            response = None
            if self.respond is not None:
                response = self.respond(request)
            if response is None and self.script:
                response = self.script.pop(0)
            if response is None:
                response = self.default(request)
            if response.delay:
                await asyncio.sleep(response.delay)
            payload = response.body
            content_type = "text/plain"
            if isinstance(payload, dict):
                payload = json.dumps(payload)
                content_type = "application/json"
            if isinstance(payload, str):
                payload = payload.encode()
            out_headers = {
                "Content-Type": content_type,
                "Content-Length": str(len(payload)),
                "Connection": "close",
            }
            out_headers.update(response.headers)
            text = f"HTTP/1.1 {response.status} {REASONS.get(response.status, 'Status')}\r\n"
            text += "".join(f"{k}: {v}\r\n" for k, v in out_headers.items()) + "\r\n"
            writer.write(text.encode("latin-1") + payload)
            await writer.drain()
        except Exception:
            pass
        finally:
            writer.close()
            with contextlib.suppress(Exception):
                await writer.wait_closed()

    def auth_requests(self) -> list[Request]:
        return [r for r in self.requests if r.path.startswith("/pusher/auth")]

    def user_auth_requests(self) -> list[Request]:
        return [r for r in self.requests if r.path.startswith("/pusher/user-auth")]
