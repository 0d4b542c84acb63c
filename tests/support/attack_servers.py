"""Small hostile WebSocket/HTTP servers for tests/test_attack_hostile.py.

Written from the feed documents and the websockets library only, sharing no code with
the client. Each server runs on 127.0.0.x, port 0, and records what it saw.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import struct
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from http import HTTPStatus
from typing import Any
from urllib.parse import parse_qs, urlsplit

from websockets.asyncio.server import ServerConnection, serve
from websockets.datastructures import Headers
from websockets.exceptions import ConnectionClosed
from websockets.http11 import Request, Response

from tests.support.seed_servers.base import now_ms

TOKEN = "eyJhbGciOiJIUzI1NiJ9.QTTK-s3cr3t-payload-7f3a9c21e4b8.Zx9kLm2Qp4Rt"


def hydra_welcome(streams: list[str], **extra: Any) -> dict[str, Any]:
    """000: the ``connected`` message."""
    t = now_ms()
    data = {
        "sessionId": "sess-attack",
        "address": "0xYourWalletAddress",
        "availableStreams": list(streams),
        "serverTime": t,
    }
    data.update(extra)
    return {"type": "connected", "ts": t, "data": data}


def nested_json(depth: int, leaf: str = "1") -> str:
    """``{"k": {"k": ... leaf ...}}`` ``depth`` levels deep, built as text (json.dumps
    would hit Python's recursion limit)."""
    return '{"k":' * depth + leaf + "}" * depth


def hydra_event(seq: int, stream: str = "signals", **data: Any) -> dict[str, Any]:
    """NOTES envelope ``{stream, type, ts (ms), data}``; ``data.seq`` identifies the event."""
    payload = {"id": f"sig-{seq}", "severity": 1 + seq % 5, "seq": seq}
    payload.update(data)
    return {"stream": stream, "type": "signal_new", "ts": now_ms(), "data": payload}


@dataclass
class Seen:
    path: str
    query: dict[str, str]
    headers: dict[str, str]
    received: list[Any] = field(default_factory=list)


Handler = Callable[["ScriptServer", ServerConnection, Seen], Awaitable[None]]
Refuse = Callable[[Request], "tuple[int, dict[str, str], str] | None"]


class ScriptServer:
    """A WebSocket server whose every connection runs ``handler(server, ws, seen)``.

    ``refuse(request)`` may return ``(status, headers, body)`` to answer the upgrade with
    plain HTTP (a 302 redirect, a 401...). Every handshake attempt is in :attr:`attempts`.
    """

    def __init__(
        self,
        handler: Handler | None = None,
        *,
        host: str = "127.0.0.1",
        refuse: Refuse | None = None,
    ) -> None:
        self.handler = handler
        self.host = host
        self.refuse = refuse
        self.port = 0
        self.attempts: list[Request] = []
        self.conns: list[Seen] = []
        self.errors: list[BaseException] = []
        self._server: Any = None
        self._handlers: set[asyncio.Task[Any]] = set()

    def url(self, path: str = "/stream") -> str:
        return f"ws://{self.host}:{self.port}{path}"

    async def __aenter__(self) -> ScriptServer:
        self._server = await serve(
            self._handle,
            self.host,
            self.port,
            process_request=self._process,
            max_size=2**22,
            ping_interval=None,
            close_timeout=1,
        )
        self.port = self._server.sockets[0].getsockname()[1]
        return self

    async def __aexit__(self, *exc: object) -> None:
        for task in list(self._handlers):
            task.cancel()
        self._server.close()
        with contextlib.suppress(Exception):
            await asyncio.wait_for(self._server.wait_closed(), 3)

    def _process(self, connection: ServerConnection, request: Request) -> Response | None:
        self.attempts.append(request)
        if self.refuse is not None:
            out = self.refuse(request)
            if out is not None:
                status, headers, body = out
                response = connection.respond(HTTPStatus(status), body)
                for k, v in headers.items():
                    response.headers[k] = v
                return response
        return None

    async def _handle(self, ws: ServerConnection) -> None:
        split = urlsplit(ws.request.path)
        seen = Seen(
            split.path,
            {k: v[-1] for k, v in parse_qs(split.query, keep_blank_values=True).items()},
            {k.lower(): v for k, v in ws.request.headers.raw_items()},
        )
        self.conns.append(seen)
        task = asyncio.current_task()
        assert task is not None
        self._handlers.add(task)

        async def reader() -> None:
            async for message in ws:
                try:
                    seen.received.append(json.loads(message))
                except ValueError:
                    seen.received.append(message)

        read = asyncio.ensure_future(reader())
        try:
            if self.handler is not None:
                await self.handler(self, ws, seen)
            await read
        except ConnectionClosed:
            pass
        except Exception as exc:  # a test server bug must be visible
            self.errors.append(exc)
        finally:
            read.cancel()
            self._handlers.discard(task)


def raw_text_frame(payload: bytes) -> bytes:
    """One unmasked server->client text frame (RFC 6455 5.2) around ``payload``, bytes as
    they are (which may be invalid UTF-8)."""
    n = len(payload)
    if n < 126:
        head = struct.pack("!BB", 0x81, n)
    elif n < 65536:
        head = struct.pack("!BBH", 0x81, 126, n)
    else:
        head = struct.pack("!BBQ", 0x81, 127, n)
    return head + payload


def raw_binary_frame(payload: bytes) -> bytes:
    n = len(payload)
    if n < 126:
        head = struct.pack("!BB", 0x82, n)
    elif n < 65536:
        head = struct.pack("!BBH", 0x82, 126, n)
    else:
        head = struct.pack("!BBQ", 0x82, 127, n)
    return head + payload


class HttpStub:
    """A tiny HTTP/1.1 server: ``routes[(method, path)] = fn(method, path, headers, body)
    -> (status, headers, body-bytes)``. Records every request; on 127.0.0.x."""

    def __init__(self, host: str = "127.0.0.1") -> None:
        self.host = host
        self.port = 0
        self.routes: dict[tuple[str, str], Callable[..., Any]] = {}
        self.requests: list[tuple[str, str, dict[str, str], bytes]] = []
        self._server: asyncio.AbstractServer | None = None

    @property
    def base_url(self) -> str:
        return f"http://{self.host}:{self.port}"

    async def __aenter__(self) -> HttpStub:
        self._server = await asyncio.start_server(self._serve, self.host, 0)
        self.port = self._server.sockets[0].getsockname()[1]
        return self

    async def __aexit__(self, *exc: object) -> None:
        assert self._server is not None
        self._server.close()
        with contextlib.suppress(Exception):
            await asyncio.wait_for(self._server.wait_closed(), 2)

    async def _serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            head = await asyncio.wait_for(reader.readuntil(b"\r\n\r\n"), 10)
            lines = head.decode("latin-1").split("\r\n")
            method, target, _ = lines[0].split(" ", 2)
            headers = {}
            for line in lines[1:]:
                if ":" in line:
                    k, v = line.split(":", 1)
                    headers[k.strip().lower()] = v.strip()
            body = b""
            if int(headers.get("content-length", "0") or 0):
                body = await reader.readexactly(int(headers["content-length"]))
            path = urlsplit(target).path
            self.requests.append((method, target, headers, body))
            fn = self.routes.get((method, path))
            if fn is None:
                status, rh, rb = 404, {}, b'{"error": "not found"}'
            else:
                status, rh, rb = await fn(method, target, headers, body)
            if isinstance(rb, (dict, list)):
                rb = json.dumps(rb).encode()
            out = [f"HTTP/1.1 {status} {HTTPStatus(status).phrase}"]
            rh = {"content-type": "application/json", **rh}
            for k, v in rh.items():
                out.append(f"{k}: {v}")
            out.append(f"content-length: {len(rb)}")
            out.append("connection: close")
            writer.write(("\r\n".join(out) + "\r\n\r\n").encode() + rb)
            await writer.drain()
        except Exception:
            pass
        finally:
            writer.close()
            with contextlib.suppress(Exception):
                await writer.wait_closed()


__all__ = [
    "TOKEN",
    "Headers",
    "HttpStub",
    "ScriptServer",
    "Seen",
    "hydra_event",
    "hydra_welcome",
    "nested_json",
    "now_ms",
    "raw_binary_frame",
    "raw_text_frame",
]
