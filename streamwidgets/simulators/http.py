"""A bounded HTTP/1.1 request reader and JSON response writer for the simulators' REST parts.

A simulator's REST side answers one small request per connection on its own asyncio
server: :func:`read_http_request` reads it, bounded in size and time, and
:func:`http_response` writes the JSON answer that closes the connection.

Example:
    >>> import asyncio
    >>> async def read(raw):
    ...     reader = asyncio.StreamReader()
    ...     reader.feed_data(raw)
    ...     reader.feed_eof()
    ...     return await read_http_request(reader, timeout=1.0)
    >>> head = b"POST /api/auth HTTP/1.1\\r\\nHost: x\\r\\nContent-Length: 28\\r\\n\\r\\n"
    >>> request = asyncio.run(read(head + b"socket_id=1.2&channel_name=x"))
    >>> request.method, request.path, request.form()
    ('POST', '/api/auth', {'socket_id': '1.2', 'channel_name': 'x'})
    >>> asyncio.run(read(b"nonsense\\r\\n\\r\\n")) is None
    True
    >>> http_response(404, {"error": "not found"}).split(b"\\r\\n")[0]
    b'HTTP/1.1 404 Not Found'

:class:`RestSideServer` is a :class:`~streamwidgets.simulators.server.LoopbackServer`
with such a REST listener on a second port, bound, started and stopped with the WebSocket one.
"""

from __future__ import annotations

import asyncio
import contextlib
import socket
from dataclasses import dataclass
from http import HTTPStatus
from typing import Any
from urllib.parse import parse_qs

import h11
import orjson

from streamwidgets.simulators.server import LoopbackServer

__all__ = [
    "MAX_BODY",
    "MAX_HEAD",
    "HttpRequest",
    "RestSideServer",
    "http_response",
    "read_http_request",
]

# Limits: the simulators' requests are tiny.
#: Largest request line and headers, in bytes.
MAX_HEAD = 16 * 1024
#: Largest request body, in bytes.
MAX_BODY = 64 * 1024


@dataclass(frozen=True, slots=True)
class HttpRequest:
    """An HTTP/1.1 request as a simulator's REST side read it (header names lower-case)."""

    method: str
    path: str
    headers: dict[str, str]
    body: bytes

    def form(self) -> dict[str, str]:
        """The urlencoded body, first value of each field.

        Example:
            >>> HttpRequest("POST", "/", {}, b"a=1&b=&a=2").form()
            {'a': '1', 'b': ''}
        """
        fields = parse_qs(self.body.decode("latin-1"), keep_blank_values=True)
        return {k: v[0] for k, v in fields.items()}

    def json(self) -> Any:
        """The JSON body, or None (no body, or not JSON).

        Example:
            >>> HttpRequest("POST", "/", {}, b'{"a": 1}').json()
            {'a': 1}
        """
        try:
            return orjson.loads(self.body) if self.body else None
        except orjson.JSONDecodeError:
            return None


async def read_http_request(reader: asyncio.StreamReader, timeout: float) -> HttpRequest | None:
    """Read one request, bounded in size and time; None if it is not a valid request.

    h11 (httpx's own HTTP/1.1 engine, so already installed) does the parsing.
    """
    connection = h11.Connection(h11.SERVER, max_incomplete_event_size=MAX_HEAD)
    request: h11.Request | None = None
    body = bytearray()
    try:
        async with asyncio.timeout(timeout):
            while True:
                event = connection.next_event()
                if event is h11.NEED_DATA:
                    connection.receive_data(await reader.read(4096))
                elif isinstance(event, h11.Request):
                    request = event
                elif isinstance(event, h11.Data):
                    body += event.data
                    if len(body) > MAX_BODY:
                        return None
                elif isinstance(event, h11.EndOfMessage) and request is not None:
                    break
                else:  # the client went away, or sent something else
                    return None
    except (TimeoutError, h11.RemoteProtocolError):
        return None
    headers = {name.decode().lower(): value.decode("latin-1") for name, value in request.headers}
    return HttpRequest(request.method.decode(), request.target.decode(), headers, bytes(body))


def http_response(status: int, payload: Any) -> bytes:
    """A complete HTTP/1.1 JSON response that closes the connection.

    Writing one fixed-shape response needs no parser, so it is formatted here.

    Example:
        >>> http_response(401, {"detail": "x"}).split(b"\\r\\n")[0]
        b'HTTP/1.1 401 Unauthorized'
    """
    body = orjson.dumps(payload)
    head = (
        f"HTTP/1.1 {status} {HTTPStatus(status).phrase}\r\n"
        "Content-Type: application/json\r\n"
        f"Content-Length: {len(body)}\r\n"
        "Connection: close\r\n\r\n"
    )
    return head.encode() + body


class RestSideServer(LoopbackServer):
    """A WebSocket server with a REST listener of its own, on a second loopback port.

    The REST socket is bound together with the WebSocket one (so :attr:`rest_url` is known
    as early as :attr:`url`, also after ``start_background()``), its server starts before
    the WebSocket server and stops before it. Each connection carries one request:
    :func:`read_http_request`, then :meth:`_answer_http` (which subclasses implement, and
    which gets None for an invalid request), then :func:`http_response`, then close.

    A second asyncio server is needed because websockets' HTTP parser accepts only
    bodiless GET upgrades, and the simulated REST calls are POSTs with a body.

    Args:
        host: interface to bind (both listeners).
        port: WebSocket TCP port; 0 picks a free one.
        rest_port: REST TCP port; 0 picks a free one.

    Example:
        >>> import json, urllib.request
        >>> class Echo(RestSideServer):
        ...     def _answer_http(self, request):
        ...         return 200, {"path": request.path}
        >>> sim = Echo()
        >>> _ = sim.start_background()
        >>> with urllib.request.urlopen(sim.rest_url + "/hello") as answer:
        ...     json.load(answer)
        {'path': '/hello'}
        >>> sim.stop_background()
    """

    def __init__(self, *, host: str = "127.0.0.1", port: int = 0, rest_port: int = 0) -> None:
        super().__init__(host=host, port=port)
        self._rest_requested_port = rest_port
        self._rest: asyncio.Server | None = None
        self._rest_sock: socket.socket | None = None

    @property
    def rest_url(self) -> str:
        """The REST base URL, e.g. ``http://127.0.0.1:54322``."""
        if self._rest_sock is None:
            raise RuntimeError("the simulator is not started")
        return f"http://{self.host}:{self._rest_sock.getsockname()[1]}"

    def _answer_http(self, request: HttpRequest | None) -> tuple[int, Any]:
        """The status and JSON payload answering ``request`` (None: not a valid request)."""
        raise NotImplementedError

    async def start(self) -> None:
        """Start the REST server, then the WebSocket one, on the running event loop."""
        if self._rest is None:
            self._bind()
            self._rest = await asyncio.start_server(self._serve_http, sock=self._rest_sock)
        await super().start()

    def _bind(self) -> socket.socket:
        # Bind both sockets at once, so rest_url is known as early as url (start_background).
        if self._rest_sock is None:
            self._rest_sock = socket.create_server((self.host, self._rest_requested_port))
        return super()._bind()

    async def stop(self) -> None:
        """Stop the REST server, then close the WebSocket connections and server."""
        rest, self._rest = self._rest, None
        if rest is not None:
            rest.close()
            await rest.wait_closed()
        self._rest_sock = None
        await super().stop()

    async def _serve_http(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            request = await read_http_request(reader, timeout=5.0)
            status, payload = self._answer_http(request)
            writer.write(http_response(status, payload))
            await writer.drain()
        except (ConnectionError, OSError):
            pass
        finally:
            writer.close()
            with contextlib.suppress(Exception):
                await writer.wait_closed()
