"""Shared machinery of the seed servers: a restartable WebSocket server and a tiny HTTP server.

Nothing here speaks a feed; the feed modules do. What is here:

- :class:`WsServer`: ``websockets.asyncio.server.serve`` on 127.0.0.1, port 0 the first time
  and the *same* port after :meth:`WsServer.restart` (an outage that ends). Every handshake
  attempt, every connection and every frame the client sends are recorded, so a test can
  count attempts and check what was (re)sent.
- :class:`HttpServer`: ``asyncio.start_server`` + h11, one request per connection, for the
  REST calls two feeds need before the socket (Axol's token exchange, Pusher's bootstrap).
- :class:`InvalidUtf8`: bytes to put on the wire in a *text* frame (hostile frames).
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from http import HTTPStatus
from typing import Any
from urllib.parse import parse_qs, urlsplit

import h11
from websockets.asyncio.server import ServerConnection, serve
from websockets.exceptions import ConnectionClosed
from websockets.http11 import Request, Response

__all__ = ["Conn", "HttpServer", "InvalidUtf8", "WsServer", "now_ms", "send_frame", "wait_until"]


@dataclass
class InvalidUtf8:
    """Raw bytes sent as a text frame: not valid UTF-8, so not a valid text frame."""

    payload: bytes


def now_ms() -> int:
    """The wall clock in integer milliseconds since the epoch, as the documents' ``ts`` fields."""
    return int(time.time() * 1000)


async def send_frame(ws: ServerConnection, frame: Any) -> None:
    """Send ``frame``: a dict/list as JSON text, a str as text, bytes as a binary frame,
    :class:`InvalidUtf8` as a text frame holding those bytes."""
    if isinstance(frame, InvalidUtf8):
        await ws.send(frame.payload, text=True)
    elif isinstance(frame, (bytes, bytearray)):
        await ws.send(bytes(frame), text=False)
    elif isinstance(frame, str):
        await ws.send(frame)
    else:
        await ws.send(json.dumps(frame))


async def wait_until(predicate: Callable[[], bool], timeout: float, interval: float = 0.01) -> bool:
    """Poll ``predicate`` until true or ``timeout`` seconds; return its last value."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return True
        await asyncio.sleep(interval)
    return bool(predicate())


@dataclass
class Conn:
    """One accepted WebSocket connection, as the server saw it."""

    index: int
    path: str
    query: dict[str, str]
    headers: dict[str, str]
    opened_at: float = field(default_factory=time.monotonic)
    closed_at: float | None = None
    received: list[Any] = field(default_factory=list)  # parsed JSON (or the raw text)
    ws: ServerConnection | None = None
    state: dict[str, Any] = field(default_factory=dict)  # per-connection feed state

    def sent_of(self, key: str, value: Any) -> list[dict[str, Any]]:
        """Messages the client sent whose ``key`` is ``value``."""
        return [m for m in self.received if isinstance(m, dict) and m.get(key) == value]


class WsServer:
    """A WebSocket server on 127.0.0.1 whose feed behaviour lives in :meth:`session`.

    Args:
        ping_interval: WebSocket protocol pings from the server (None: none, which is what
            every document but Hydra v1's shows).
    """

    def __init__(self, *, ping_interval: float | None = None) -> None:
        self.ping_interval = ping_interval
        self.port = 0
        self._server: Any = None
        self.connections: list[Conn] = []
        self.attempts = 0  # handshakes attempted, refused ones included
        self.http_refusals = 0
        self._tasks: set[asyncio.Task[Any]] = set()

    # --- lifecycle -------------------------------------------------------------------

    async def start(self) -> WsServer:
        self._server = await serve(
            self._handler,
            "127.0.0.1",
            self.port,
            ping_interval=self.ping_interval,
            process_request=self._process_request,
            max_size=2**22,
            close_timeout=1,
        )
        self.port = self._server.sockets[0].getsockname()[1]
        return self

    async def stop(self, *, abrupt: bool = True) -> None:
        """Stop listening and drop every connection (abrupt: TCP reset, no close frame)."""
        if self._server is None:
            return
        if abrupt:
            for conn in self.connections:
                if conn.ws is not None and conn.closed_at is None:
                    with contextlib.suppress(Exception):
                        conn.ws.transport.abort()
        self._server.close(close_connections=not abrupt)
        with contextlib.suppress(Exception):
            await asyncio.wait_for(self._server.wait_closed(), 3)
        self._server = None

    async def restart(self) -> None:
        """Listen again on the same port."""
        await self.start()

    async def __aenter__(self) -> WsServer:
        return await self.start()

    async def __aexit__(self, *exc: object) -> None:
        await self.stop()
        for task in list(self._tasks):
            task.cancel()

    def url(self, path: str = "/") -> str:
        return f"ws://127.0.0.1:{self.port}{path}"

    @property
    def open_connections(self) -> list[Conn]:
        return [c for c in self.connections if c.closed_at is None]

    def drop_all(self) -> None:
        """Cut every open connection at the TCP level (no close frame): a network drop."""
        for conn in self.open_connections:
            if conn.ws is not None:
                conn.ws.transport.abort()

    def hang_open_connections(self) -> None:
        """The connections open now go silent (a half-open socket: nothing answered, nothing
        sent); connections made afterwards behave normally."""
        for conn in self.open_connections:
            conn.state["silent"] = True

    async def close_all(self, code: int, reason: str = "") -> None:
        """Close every open connection with ``code`` (a server-side close)."""
        for conn in self.open_connections:
            if conn.ws is not None:
                with contextlib.suppress(Exception):
                    await conn.ws.close(code, reason)

    def spawn(self, coro: Awaitable[Any]) -> asyncio.Task[Any]:
        task = asyncio.ensure_future(coro)
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)
        return task

    # --- hooks -------------------------------------------------------------------------

    def refuse_http(self, request: Request) -> tuple[int, str] | None:
        """Return ``(status, body)`` to refuse the upgrade with plain HTTP, else None."""
        return None

    async def session(self, ws: ServerConnection, conn: Conn) -> None:  # pragma: no cover
        raise NotImplementedError

    # --- internals -----------------------------------------------------------------------

    def _process_request(self, connection: ServerConnection, request: Request) -> Response | None:
        self.attempts += 1
        refusal = self.refuse_http(request)
        if refusal is not None:
            self.http_refusals += 1
            status, body = refusal
            return connection.respond(HTTPStatus(status), body)
        return None

    async def _handler(self, ws: ServerConnection) -> None:
        split = urlsplit(ws.request.path)
        query = {k: v[-1] for k, v in parse_qs(split.query, keep_blank_values=True).items()}
        headers = {k.lower(): v for k, v in ws.request.headers.raw_items()}
        conn = Conn(len(self.connections), split.path, query, headers, ws=ws)
        self.connections.append(conn)
        try:
            await self.session(ws, conn)
        except ConnectionClosed:
            pass
        finally:
            conn.closed_at = time.monotonic()

    @staticmethod
    def decode(message: str | bytes) -> Any:
        try:
            return json.loads(message)
        except ValueError:
            return message


Route = Callable[["HttpRequest"], Awaitable[tuple[int, Any]]]


@dataclass
class HttpRequest:
    method: str
    path: str
    query: dict[str, str]
    headers: dict[str, str]
    body: bytes

    def json(self) -> Any:
        return json.loads(self.body or b"null")

    def form(self) -> dict[str, str]:
        return {k: v[-1] for k, v in parse_qs(self.body.decode(), keep_blank_values=True).items()}


class HttpServer:
    """A minimal HTTP/1.1 server (h11), one request per TCP connection.

    ``routes`` maps ``(METHOD, path)`` to a coroutine taking an :class:`HttpRequest` and
    returning ``(status, body)``; a dict/list body is sent as JSON.
    """

    def __init__(self) -> None:
        self.routes: dict[tuple[str, str], Route] = {}
        self.requests: list[HttpRequest] = []
        self.port = 0
        self._server: asyncio.AbstractServer | None = None

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    async def start(self) -> HttpServer:
        self._server = await asyncio.start_server(self._serve, "127.0.0.1", self.port)
        self.port = self._server.sockets[0].getsockname()[1]
        return self

    async def stop(self) -> None:
        if self._server is not None:
            self._server.close()
            with contextlib.suppress(Exception):
                await asyncio.wait_for(self._server.wait_closed(), 2)
            self._server = None

    def count(self, method: str, path: str) -> int:
        return sum(1 for r in self.requests if r.method == method and r.path == path)

    async def _serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        conn = h11.Connection(h11.SERVER)
        try:
            request = None
            body = b""
            while True:
                event = conn.next_event()
                if event is h11.NEED_DATA:
                    data = await asyncio.wait_for(reader.read(65536), 10)
                    conn.receive_data(data)
                    if not data:
                        break
                    continue
                if isinstance(event, h11.Request):
                    request = event
                elif isinstance(event, h11.Data):
                    body += bytes(event.data)
                elif isinstance(event, (h11.EndOfMessage, h11.ConnectionClosed)):
                    break
            if request is None:
                return
            split = urlsplit(request.target.decode())
            req = HttpRequest(
                request.method.decode(),
                split.path,
                {k: v[-1] for k, v in parse_qs(split.query).items()},
                {k.decode().lower(): v.decode() for k, v in request.headers},
                body,
            )
            self.requests.append(req)
            route = self.routes.get((req.method, req.path))
            if route is None:
                status, payload = 404, {"error": "not found"}
            else:
                status, payload = await route(req)
            raw = payload if isinstance(payload, bytes) else json.dumps(payload).encode()
            out = conn.send(
                h11.Response(
                    status_code=status,
                    headers=[
                        ("content-type", "application/json"),
                        ("content-length", str(len(raw))),
                        ("connection", "close"),
                    ],
                )
            )
            out += conn.send(h11.Data(data=raw)) + conn.send(h11.EndOfMessage())
            writer.write(out)
            await writer.drain()
        except Exception:  # a broken client must not break the test server
            pass
        finally:
            writer.close()
            with contextlib.suppress(Exception):
                await writer.wait_closed()


class RestBackedServer(WsServer):
    """A WebSocket server with a REST side (``self.http``, an :class:`HttpServer` the
    subclass makes), started, stopped and restarted together, each on its own port."""

    http: HttpServer

    async def serve_commands(self, ws: Any, conn: Conn) -> None:
        """Pump data (``_pump``, when ``rate`` is set) while answering each decoded JSON
        object the client sends with ``_command``; everything received is recorded."""
        pump = asyncio.ensure_future(self._pump(ws, conn)) if self.rate else None
        try:
            async for message in ws:
                msg = self.decode(message)
                conn.received.append(msg)
                if isinstance(msg, dict) and not (self.silent or conn.state.get("silent")):
                    await self._command(ws, conn, msg)
        finally:
            if pump is not None:
                pump.cancel()

    async def start(self) -> RestBackedServer:
        """Start (or restart, on the same ports) the REST and WebSocket sides."""
        if self.http._server is None:
            await self.http.start()
        await super().start()
        return self

    async def stop(self, *, abrupt: bool = True) -> None:
        """The whole service goes away: WebSocket and REST."""
        await super().stop(abrupt=abrupt)
        await self.http.stop()

    async def __aexit__(self, *exc: object) -> None:
        await super().__aexit__(*exc)
        await self.http.stop()
