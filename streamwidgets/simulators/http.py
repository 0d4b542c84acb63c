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
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass
from http import HTTPStatus
from typing import Any
from urllib.parse import parse_qs

import h11
import orjson

__all__ = ["MAX_BODY", "MAX_HEAD", "HttpRequest", "http_response", "read_http_request"]

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
