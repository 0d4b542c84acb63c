"""A Pusher app's own auth endpoints, as an app server runs them, for the plain-app simulator.

Routes (pusher-js's default paths), both ``POST`` with a urlencoded form, as Pusher's
"Authorizing users" and "Authenticating users" pages show them:

- ``/pusher/auth`` (``socket_id``, ``channel_name``): for a ``private-`` channel
  ``{"auth": "<key>:<hex HMAC-SHA256(secret, socket_id:channel)>"}``; for a ``presence-``
  channel also ``"channel_data"``, the member's JSON (``{"user_id", "user_info"}``, in
  Python's ``json.dumps`` spacing), which the signature covers as
  ``socket_id:channel:channel_data``. A public channel needs no signature: 400.
- ``/pusher/user-auth`` (``socket_id``): ``{"auth": "<key>:<hex HMAC-SHA256(secret,
  socket_id::user::user_data)>", "user_data": "{\\"id\\": ..., \\"name\\": ...}"}``.

What an app server decides is its own (Pusher shows examples, not rules); here: the
caller is the user of its ``Authorization: Bearer <token>`` header (401 without a known
token), any private or presence channel is allowed but those in :attr:`AuthAnswers.denied`
(403), and a ``socket_id`` must look like Pusher's (``"123.456"``, else 400).

:class:`AuthAnswers` is those answers with no I/O (the plain-app
:class:`~streamwidgets.simulators.pusher.PusherSimulator` serves them on its REST port);
:class:`PusherAuthEndpoint` serves them on a loopback port of its own, with the bounded
reader of :mod:`streamwidgets.simulators.http`, and can stop ("down") and start again on
the same port ("back").

Example:
    >>> import json, urllib.request
    >>> endpoint = PusherAuthEndpoint(app_key="k", app_secret="s", tokens={"t1": "u1"})
    >>> endpoint.start_background()
    >>> request = urllib.request.Request(endpoint.url, data=b"socket_id=1.2&channel_name=private-a",
    ...     headers={"Authorization": "Bearer t1"})
    >>> json.load(urllib.request.urlopen(request))["auth"].startswith("k:")
    True
    >>> endpoint.stop_background()
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import re
import socket
import threading
from collections import deque
from collections.abc import Mapping
from typing import Any, Protocol, Self

from streamwidgets.simulators.http import HttpRequest, http_response, read_http_request
from streamwidgets.simulators.pusher_protocol import sign, sign_user

__all__ = ["AUTH_PATH", "USER_AUTH_PATH", "AuthAnswers", "PusherAuthEndpoint", "Signer"]

AUTH_PATH = "/pusher/auth"
USER_AUTH_PATH = "/pusher/user-auth"
_SOCKET_ID = re.compile(r"^\d+\.\d+$")


class Signer(Protocol):
    """What signs for the app: ``"<key>:<hex signature>"`` strings."""

    def sign(self, socket_id: str, channel: str, channel_data: str | None = None) -> str: ...

    def sign_user(self, socket_id: str, user_data: str) -> str: ...


class _KeySigner:
    def __init__(self, key: str, secret: str) -> None:
        self.key, self._secret = key, secret

    def sign(self, socket_id: str, channel: str, channel_data: str | None = None) -> str:
        return f"{self.key}:{sign(self._secret, socket_id, channel, channel_data)}"

    def sign_user(self, socket_id: str, user_data: str) -> str:
        return f"{self.key}:{sign_user(self._secret, socket_id, user_data)}"


class AuthAnswers:
    """The two auth routes' answers, with no I/O.

    Args:
        signer: makes the ``auth`` strings (the app key and secret).
        tokens: Bearer token -> user id.

    Example:
        >>> answers = AuthAnswers(_KeySigner("k", "s"), {"t": "u1"})
        >>> form = b"socket_id=1.2&channel_name=presence-room"
        >>> status, body = answers.answer(HttpRequest("POST", AUTH_PATH,
        ...     {"authorization": "Bearer t"}, form))
        >>> status, json.loads(body["channel_data"])["user_id"]
        (200, 'u1')
    """

    def __init__(self, signer: Signer, tokens: Mapping[str, str]) -> None:
        self.signer = signer
        self.tokens = tokens
        #: Channels this app refuses to sign (403).
        self.denied: set[str] = set()
        #: (path, status, header names) of every request, in order.
        self.calls: deque[tuple[str, int, tuple[str, ...]]] = deque(maxlen=10_000)
        self._failing: list[int] = []

    def fail(self, count: int, status: int = 503) -> None:
        """Answer the next ``count`` requests with ``status`` (a server error by default)."""
        self._failing.extend([status] * count)

    def user_data(self, user: str) -> str:
        """The ``user_data`` this app signs for a user (a JSON object with its ``id``)."""
        return json.dumps({"id": user, "name": f"User {user}"})

    def channel_data(self, user: str) -> str:
        """The presence ``channel_data`` this app signs for a user."""
        return json.dumps({"user_id": user, "user_info": {"name": f"User {user}"}})

    def answer(self, request: HttpRequest | None) -> tuple[int, Any]:
        """The status and JSON answer of one request (None: not a valid request)."""
        if request is None:
            return 400, {"error": "bad request"}
        status, body = self._route(request)
        self.calls.append((request.path.split("?")[0], status, tuple(sorted(request.headers))))
        return status, body

    def _route(self, request: HttpRequest) -> tuple[int, Any]:
        path = request.path.split("?")[0]
        if path not in (AUTH_PATH, USER_AUTH_PATH):
            return 404, {"error": "not found"}
        if request.method != "POST":
            return 405, {"error": "use POST"}
        if self._failing:
            return self._failing.pop(0), {"error": "service unavailable"}
        scheme, _, token = request.headers.get("authorization", "").partition(" ")
        if scheme.lower() != "bearer" or token not in self.tokens:
            return 401, {"error": "not signed in"}
        user, form = self.tokens[token], request.form()
        socket_id = form.get("socket_id", "")
        if not _SOCKET_ID.match(socket_id):
            return 400, {"error": "socket_id is required"}
        if path == USER_AUTH_PATH:
            user_data = self.user_data(user)
            return 200, {
                "auth": self.signer.sign_user(socket_id, user_data),
                "user_data": user_data,
            }
        channel = form.get("channel_name", "")
        if not channel.startswith(("private-", "presence-")):
            return 400, {"error": "only private and presence channels are signed"}
        if channel in self.denied:
            return 403, {"error": "not allowed to join this channel"}
        if channel.startswith("private-"):
            return 200, {"auth": self.signer.sign(socket_id, channel)}
        data = self.channel_data(user)
        return 200, {"auth": self.signer.sign(socket_id, channel, data), "channel_data": data}


class PusherAuthEndpoint:
    """The app's auth endpoints alone, on a loopback port (:attr:`url`, :attr:`user_auth_url`).

    :meth:`stop` closes the port (requests then fail to connect: the endpoint is down);
    :meth:`start` opens the same port again.

    Args:
        app_key: the key the signatures start with.
        app_secret: the secret they are made with (the Pusher simulator's).
        tokens: Bearer token -> user id.
        host: interface to bind.
        port: TCP port; 0 picks a free one, kept across stop and start.
    """

    def __init__(
        self,
        *,
        app_key: str,
        app_secret: str,
        tokens: Mapping[str, str],
        host: str = "127.0.0.1",
        port: int = 0,
    ) -> None:
        self.answers = AuthAnswers(_KeySigner(app_key, app_secret), dict(tokens))
        self.host = host
        self._port = port
        self._server: asyncio.Server | None = None
        self._thread: threading.Thread | None = None
        self._loop: asyncio.AbstractEventLoop | None = None

    @property
    def url(self) -> str:
        """The channel-authorization URL (``auth_endpoint``)."""
        return f"http://{self.host}:{self._bound_port()}{AUTH_PATH}"

    @property
    def user_auth_url(self) -> str:
        """The user-authentication URL (``user_auth_endpoint``)."""
        return f"http://{self.host}:{self._bound_port()}{USER_AUTH_PATH}"

    def _bound_port(self) -> int:
        if not self._port:
            raise RuntimeError("the auth endpoint is not started")
        return self._port

    async def start(self) -> None:
        """Listen (again) on the port, on the running loop."""
        if self._server is not None:
            return
        sock = socket.create_server((self.host, self._port))
        self._port = sock.getsockname()[1]
        self._server = await asyncio.start_server(self._serve, sock=sock)

    async def stop(self) -> None:
        """Close the port: the endpoint is down until :meth:`start`."""
        server, self._server = self._server, None
        if server is not None:
            server.close()
            await server.wait_closed()

    async def __aenter__(self) -> Self:
        await self.start()
        return self

    async def __aexit__(self, *exc_info: object) -> None:
        await self.stop()

    def start_background(self) -> None:
        """Start in a thread of its own (synchronous code); stop with :meth:`stop_background`."""
        ready = threading.Event()

        def run() -> None:
            loop = self._loop = asyncio.new_event_loop()
            loop.run_until_complete(self.start())
            ready.set()
            try:
                loop.run_forever()
            finally:
                loop.run_until_complete(self.stop())
                loop.close()

        self._thread = threading.Thread(target=run, name="pusher-auth-endpoint", daemon=True)
        self._thread.start()
        ready.wait(timeout=10)

    def stop_background(self) -> None:
        """Stop a server started with :meth:`start_background`."""
        loop, thread = self._loop, self._thread
        if loop is not None and thread is not None:
            loop.call_soon_threadsafe(loop.stop)
            thread.join(timeout=10)
        self._thread = self._loop = None

    async def _serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            request = await read_http_request(reader, timeout=5.0)
            status, payload = self.answers.answer(request)
            writer.write(http_response(status, payload))
            await writer.drain()
        except (ConnectionError, OSError):
            pass
        finally:
            writer.close()
            with contextlib.suppress(Exception):
                await writer.wait_closed()
