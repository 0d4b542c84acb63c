"""A local Pusher-compatible server: REST session bootstrap or a plain app, and Pusher protocol 7.

Two listeners on the loopback interface, each on its own port, bound together (both are
known as soon as the server starts) and stopped together.

Two modes. ``mode="session"`` (default) is the seed's stream (``feeds.pusher``): the REST
side below says where the socket is. ``mode="app"`` is a plain Pusher app
(``feeds.pusher_app``): the client knows the key, host and port; the REST side is the
app's own auth endpoints instead, :attr:`PusherSimulator.auth_url` (``POST /pusher/auth``)
and :attr:`PusherSimulator.user_auth_url` (``POST /pusher/user-auth``), which sign with
the app secret (see :mod:`streamwidgets.simulators.pusher_auth`; the same answers run
alone as :class:`~streamwidgets.simulators.pusher_auth.PusherAuthEndpoint`); any channel
name gets data (market data on public channels, account updates on the others).

REST in session mode (:attr:`PusherSimulator.base_url`, for ``feeds.pusher``), every call with
``Authorization: Bearer <token>`` (401 without a known token):

- ``GET /api/v2/ws/streams``: the catalog ``{"streams": [{name, type, channel, events,
  filters}]}`` (:data:`~streamwidgets.simulators.pusher_protocol.CATALOG`).
- ``POST /api/v2/ws/session`` ``{"streams": [...]}``: ``{"connection": {wsHost, wsPort,
  appKey, forceTls: false}, "userId", "channels": [{stream, channel, type}], "unknown"}``;
  ``wsHost``/``wsPort`` name the WebSocket listener, not the REST one.
- ``POST /api/v2/ws/auth`` (form ``socket_id``, ``channel_name``): for the caller's own
  presence channels, ``{"auth": "appKey:hex(HMAC-SHA256(secret, socket_id:channel:
  channel_data))", "channel_data"}`` (403 for another user's channel).

WebSocket (:attr:`PusherSimulator.url`, ``/app/{appKey}?protocol=7``): an unknown app key
is closed with 4001, a protocol other than 5-7 with 4007; then
``pusher:connection_established`` (``socket_id`` like ``"123.456"``,
``activity_timeout``); ``pusher:subscribe`` -> ``pusher_internal:subscription_succeeded``
(presence: the members); ``pusher:unsubscribe``; ``member_added``/``member_removed`` to
the other members; ``pusher:ping`` -> ``pusher:pong``; a client silent for
``activity_timeout`` is pinged, and closed with 4201 if it stays silent for
``pong_timeout``. Data of subscribed channels at ``rate`` events per second. Both modes:
``pusher:signin {auth, user_data}`` (Pusher's "User authentication") is checked against
``hex(HMAC-SHA256(secret, socket_id::user::user_data))`` and answered by
``pusher:signin_success {user_data}``; the channel ``#server-to-user-{id}`` then joins
(only for that signed-in user). With ``authorize_within=`` (Pusher's "authorized
connections"), a socket that neither signed in nor joined a private or presence channel
in time is closed with 4009 "Connection not authorized within timeout".

Profiles (:mod:`streamwidgets.simulators.profiles`); the REST side is the same in both.
    ``strict`` (default) follows Pusher protocol 7 as NOTES.md describes it (the seed,
    ``002``, only says the stream is Pusher-compatible). A Pusher server accepts any
    public channel name, so a channel it has no data for still gets
    ``subscription_succeeded`` (and no data). ``presence-`` and ``private-`` channels
    need a signature (``private-``: of ``socket_id:channel``; ``presence-``: with
    ``:channel_data``); a bad or missing one gets the real service's ``pusher:error``,
    without a channel field: ``{"message": "Invalid signature: Expected HMAC SHA256 hex
    digest of <socket_id>:<channel>, but got <the auth sent>", "code": null}``. A signed
    presence ``channel_data`` that is no JSON object with a ``user_id``, and a socket
    over 100 channels, get a ``pusher:error`` (code null) too: the simulator's words,
    in the protocol's error frame. No ``pusher:subscription_error`` (NOTES.md shows none
    from the server). Unreadable messages, client events and unknown events are ignored.
    A bad sign-in gets a ``pusher:error`` (code null) in the channel error's form,
    ``"Invalid signature: Expected HMAC SHA256 hex digest of <socket_id>::user::
    <user_data>, but got <the auth sent>"`` (Pusher documents no words for it; servers
    such as Vask answer a bad sign-in with ``pusher:error``); a user channel asked for
    without its sign-in, ``pusher:error`` (the simulator's words).
    ``lenient`` is the simulator's earlier protocol: ``pusher:subscription_error`` with
    the channel and ``{type, error, status}`` for a bad signature (``AuthError``, 401),
    a bad ``channel_data`` (400), too many channels (``LimitReached``) or a channel not
    in the catalog (``NotFound``, 404); ``pusher:error`` for an unreadable message, an
    unsupported event, or a client event (4301). In app mode, where any channel name is
    the app's, lenient refuses like strict but as ``pusher:subscription_error`` naming
    the channel (no ``NotFound``).
    ``unanswered=["pusher:subscribe", ...]`` (events) silences every reply to those
    messages, in both profiles, errors included, while they still take effect (an
    unanswered subscribe still joins, and the other members still see member_added).

The REST side is a small asyncio server of its own, as the Axol simulator's (both are a
:class:`~streamwidgets.simulators.http.RestSideServer`): websockets' HTTP parser accepts
only bodiless GET upgrades, and the session and auth calls are POSTs.

Fault hooks: :meth:`~PusherSimulator.close_connections` (4009, 4100, 4200, ...),
:meth:`~PusherSimulator.mute`, :meth:`~PusherSimulator.rotate_app_key`,
:meth:`~PusherSimulator.add_member` / :meth:`~PusherSimulator.remove_member`,
:meth:`~PusherSimulator.fail_rest` (in app mode: the auth endpoints), and
``auth_answers.denied`` (channels the app's endpoint refuses with 403).

Example:
    >>> sim = PusherSimulator(tokens={"sk_sim_t": "u1"})
    >>> sim.token, sim.user_data("sk_sim_t")["user_id"]
    ('sk_sim_t', 'u1')
    >>> _ = sim.start_background()
    >>> sim.base_url != f"http://127.0.0.1:{sim.port}"  # REST and WebSocket: two ports
    True
    >>> sim.stop_background()
"""

from __future__ import annotations

import asyncio
import contextlib
import hmac
import itertools
import json
import random
import re
import secrets
import time
from collections import deque
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any, Literal
from urllib.parse import parse_qs, urlsplit

import orjson
from websockets.asyncio.server import ServerConnection
from websockets.exceptions import ConnectionClosed

from streamwidgets.simulators.http import HttpRequest, RestSideServer
from streamwidgets.simulators.profiles import Profile, Replying, reply_policy
from streamwidgets.simulators.pusher_auth import AUTH_PATH, USER_AUTH_PATH, AuthAnswers
from streamwidgets.simulators.pusher_protocol import (
    CATALOG,
    PUSHER_COMMANDS,
    channel_of,
    frame,
    generate_token,
    payload,
    sign,
    sign_user,
    signature_error,
)

__all__ = ["PusherSimulator"]

Mode = Literal["session", "app"]
#: The channel of a signed-in user's own events (pusher-js's name for it).
_USER_CHANNEL = "#server-to-user-"

# Pusher serves protocol 7 and still the compatible 5 and 6 (pysher speaks 6).
_PROTOCOLS = ("5", "6", "7")
_SOCKET_ID = re.compile(r"^\d+\.\d+$")
# Limits
_MAX_CHANNELS_PER_SOCKET = 100
_MAX_MEMBERS = 1000


@dataclass
class _Client:
    number: int
    ws: ServerConnection
    socket_id: str
    app_key: str
    #: channel -> the member user_id this socket joined as (None: public channel)
    channels: dict[str, str | None] = field(default_factory=dict)
    heard: float = field(default_factory=time.monotonic)
    pinged: float | None = None
    #: The user this socket signed in as (pusher:signin), if any.
    user: str | None = None
    #: Signed in, or joined a private or presence channel ("authorized connections").
    authorized: bool = False


class PusherSimulator(Replying, RestSideServer):
    """A Pusher-compatible server: REST and WebSocket, each on its own loopback port.

    Args:
        host: interface to bind (both listeners).
        port: WebSocket TCP port (the session's ``wsPort``); 0 picks a free one.
        rest_port: REST TCP port (of :attr:`base_url`); 0 picks a free one.
        tokens: Bearer token -> user id. None: one generated token for ``user_1``.
        app_key: the Pusher app key the session hands out.
        app_secret: the key channel signatures are made with (None: a random one).
        activity_timeout: seconds announced in ``connection_established``; also how long
            the server waits on a silent client before pinging it.
        pong_timeout: seconds the server waits for any message after its ping (then 4201).
        rate: data events per second per connection, over its channels.
        seed: seeds the data.
        profile: ``"strict"`` (Pusher protocol 7) or ``"lenient"`` (also
            ``pusher:subscription_error`` and more ``pusher:error``); see the module
            docstring.
        unanswered: events (``"pusher:subscribe"``, ``"pusher:ping"``, ...) that get no
            reply at all, though they still take effect.
        mode: ``"session"`` (the REST session bootstrap of ``feeds.pusher``) or ``"app"``
            (a plain app for ``feeds.pusher_app``: key and secret, any channel name, and
            the app's auth endpoints on the REST port: :attr:`auth_url`,
            :attr:`user_auth_url`); see the module docstring.
        authorize_within: seconds after which a connection that neither signed in nor
            joined a private or presence channel is closed with 4009 (Pusher's
            "authorized connections"); None (default): never.

    Example:
        >>> PusherSimulator(activity_timeout=2).activity_timeout
        2.0
        >>> PusherSimulator(mode="app", app_key="k", app_secret="s").sign("1.2", "private-a")[:2]
        'k:'
        >>> PusherSimulator(unanswered=["pusher:ping"]).unanswered
        frozenset({'pusher:ping'})
    """

    label = "Pusher simulator"
    path = "/app/"

    def __init__(
        self,
        *,
        host: str = "127.0.0.1",
        port: int = 0,
        rest_port: int = 0,
        tokens: Mapping[str, str] | None = None,
        app_key: str = "sim-app-key",
        app_secret: str | None = None,
        # Timeouts
        activity_timeout: float = 120.0,
        pong_timeout: float = 30.0,
        # Emission
        rate: float = 10.0,
        seed: int = 0,
        # Replies
        profile: Profile = "strict",
        unanswered: Iterable[str] = (),
        # Plain app
        mode: Mode = "session",
        authorize_within: float | None = None,
    ) -> None:
        self._policy = reply_policy(profile, unanswered, known=PUSHER_COMMANDS)
        if mode not in ("session", "app"):
            raise ValueError(f"mode must be 'session' or 'app', not {mode!r}")
        if authorize_within is not None and not authorize_within > 0:
            raise ValueError("authorize_within must be > 0 seconds, or None")
        if tokens is None:
            tokens = {generate_token(): "user_1"}
        if not tokens or not all(tokens) or not all(tokens.values()):
            raise ValueError("tokens must map at least one non-empty token to a user id")
        if not rate > 0 or not activity_timeout > 0 or not pong_timeout > 0:
            raise ValueError("rate, activity_timeout and pong_timeout must be > 0")
        super().__init__(host=host, port=port, rest_port=rest_port)
        self.tokens = dict(tokens)
        self.app_key = app_key
        self._secret = app_secret or secrets.token_hex(16)
        self.activity_timeout = float(activity_timeout)
        self.pong_timeout = float(pong_timeout)
        self.rate = float(rate)
        self.mode: Mode = mode
        self.authorize_within = authorize_within
        #: The app's auth endpoints (served on the REST port in ``"app"`` mode).
        self.auth_answers = AuthAnswers(self, self.tokens)

        #: (connection number, app key used, outcome) of every WebSocket, in order.
        self.connections: deque[tuple[int, str, str]] = deque(maxlen=10_000)
        #: (method, path, status) of every REST call, in order.
        self.rest_calls: deque[tuple[str, str, int]] = deque(maxlen=10_000)
        #: (connection number, message as received) of every client message.
        self.commands: deque[tuple[int, dict[str, Any]]] = deque(maxlen=100_000)
        #: (connection number, close code, reason) of every close the server made.
        self.closes: deque[tuple[int, int, str]] = deque(maxlen=10_000)
        #: (connection number, event, channel) of every frame sent.
        self.sent: deque[tuple[int, str, str | None]] = deque(maxlen=100_000)

        self._rng = random.Random(seed)
        self._numbers = itertools.count(1)
        self._open: dict[int, _Client] = {}
        self._extra: dict[str, dict[str, Any]] = {}  # channel -> simulated members
        self._muted = False
        self._failing: list[int] = []

    # -- facts for clients -------------------------------------------------------------------

    @property
    def token(self) -> str:
        """The first (by default the only) Bearer token this simulator accepts."""
        return next(iter(self.tokens))

    @property
    def base_url(self) -> str:
        """The REST base URL, e.g. ``http://127.0.0.1:54322`` (for ``feeds.pusher``).

        Its port is not the WebSocket's (:attr:`port`): clients learn that one from the
        session answer.
        """
        return self.rest_url

    def user_data(self, token: str | None = None) -> dict[str, Any]:
        """The presence member the auth endpoint signs for a token (its ``channel_data``).

        Example:
            >>> PusherSimulator(tokens={"t": "u9"}).user_data()
            {'user_id': 'u9', 'user_info': {'name': 'User u9'}}
        """
        user = self.tokens[token or self.token]
        return {"user_id": user, "user_info": {"name": f"User {user}"}}

    def channel(self, stream: str, token: str | None = None) -> str:
        """The channel of a catalog stream for a token's user.

        Example:
            >>> PusherSimulator(tokens={"t": "u9"}).channel("portfolio")
            'presence-portfolio-u9'
        """
        return channel_of(stream, self.tokens[token or self.token])

    def sign(self, socket_id: str, channel: str, channel_data: str | None = None) -> str:
        """The ``auth`` value a subscription of ``socket_id`` to ``channel`` needs."""
        return f"{self.app_key}:{sign(self._secret, socket_id, channel, channel_data)}"

    def sign_user(self, socket_id: str, user_data: str) -> str:
        """The ``auth`` value a ``pusher:signin`` of ``socket_id`` as ``user_data`` needs."""
        return f"{self.app_key}:{sign_user(self._secret, socket_id, user_data)}"

    @property
    def auth_url(self) -> str:
        """The app's channel-authorization endpoint (``"app"`` mode), for ``auth_endpoint=``."""
        return self.rest_url + AUTH_PATH

    @property
    def user_auth_url(self) -> str:
        """The app's user-authentication endpoint (``"app"`` mode), for ``user_auth_endpoint=``."""
        return self.rest_url + USER_AUTH_PATH

    def signed_in(self) -> dict[int, str]:
        """Connection number -> user id of every open connection that signed in."""
        return {n: c.user for n, c in self._open.items() if c.user is not None}

    def members(self, channel: str) -> dict[str, Any]:
        """The members of a presence channel now: user_id -> user_info."""
        out: dict[str, Any] = {}
        for client in self._open.values():
            user = client.channels.get(channel)
            if user is not None:
                out.setdefault(user, self._info_of(user))
        out.update(self._extra.get(channel, {}))
        return out

    def events_of(self, event: str) -> list[dict[str, Any]]:
        """The client messages of one event name, all connections, in order."""
        return [c for _, c in self.commands if c.get("event") == event]

    def __repr__(self) -> str:
        state = "listening" if self._server is not None else "stopped"
        return f"<PusherSimulator {state} app_key={self.app_key!r} clients={len(self._open)}>"

    # -- fault hooks -------------------------------------------------------------------------

    def close_connections(self, code: int = 4200, reason: str = "Server restarting") -> None:
        """Close every open connection with ``code`` (4009, 4100, 4200, 4301, ...).

        Example:
            >>> PusherSimulator().close_connections(4100, "Over capacity")  # none open
        """
        self._dispatch(self._close_all, code, reason)

    def mute(self) -> None:
        """Send nothing at all (no data, pings or pongs) until :meth:`unmute`."""
        self._muted = True

    def unmute(self) -> None:
        """Speak again after :meth:`mute`."""
        self._muted = False

    def rotate_app_key(self, new_key: str | None = None) -> str:
        """Hand out a new app key from the next session on; the old one is refused (4001).

        Example:
            >>> PusherSimulator().rotate_app_key("k2")
            'k2'
        """
        self.app_key = new_key or f"sim-app-{secrets.token_hex(4)}"
        return self.app_key

    def fail_rest(self, count: int, status: int = 503) -> None:
        """Answer the next ``count`` REST calls with ``status``."""
        self._failing.extend([status] * count)

    def add_member(self, channel: str, user_id: str, user_info: Any = None) -> None:
        """A simulated member joins a presence channel (``member_added`` to its members)."""
        self._dispatch(self._add_member, channel, user_id, user_info)

    def remove_member(self, channel: str, user_id: str) -> None:
        """A simulated member leaves a presence channel (``member_removed``)."""
        self._dispatch(self._remove_member, channel, user_id)

    # -- lifecycle: both listeners (RestSideServer) ------------------------------------------

    async def start(self) -> None:
        await super().start()
        self._logger.info("%s REST on %s", self.label, self.base_url)

    # -- REST --------------------------------------------------------------------------------

    def _answer_http(self, request: HttpRequest | None) -> tuple[int, Any]:
        if request is None:
            return 400, {"error": "bad request"}
        status, answer = self._route_http(request)
        self.rest_calls.append((request.method, urlsplit(request.path).path, status))
        return status, answer

    def _route_http(self, request: HttpRequest) -> tuple[int, Any]:
        path = urlsplit(request.path).path
        if self.mode == "app":
            if self._failing:
                return self._failing.pop(0), {"error": "service unavailable"}
            return self.auth_answers.answer(request)
        routes = {
            "/api/v2/ws/streams": ("GET", self._catalog),
            "/api/v2/ws/session": ("POST", self._session),
            "/api/v2/ws/auth": ("POST", self._channel_auth),
        }
        if path not in routes:
            return 404, {"error": "not found"}
        method, answer = routes[path]
        if request.method != method:
            return 405, {"error": f"use {method}"}
        if self._failing:
            return self._failing.pop(0), {"error": "service unavailable"}
        scheme, _, token = request.headers.get("authorization", "").partition(" ")
        if scheme.lower() != "bearer" or token not in self.tokens:
            return 401, {"error": "invalid or missing Bearer token"}
        return answer(request, token)

    def _catalog(self, request: HttpRequest, token: str) -> tuple[int, Any]:
        streams = [
            {"name": n, "type": t, "channel": c, "events": list(e), "filters": list(f)}
            for n, (t, c, e, f) in CATALOG.items()
        ]
        return 200, {"streams": streams}

    def _session(self, request: HttpRequest, token: str) -> tuple[int, Any]:
        body = request.json()
        asked = body.get("streams") if isinstance(body, dict) else None
        if asked is None:
            asked = list(CATALOG)
        if not isinstance(asked, list) or not all(isinstance(s, str) for s in asked):
            return 400, {"error": "streams must be a list of names"}
        user = self.tokens[token]
        channels = [
            {"stream": s, "channel": channel_of(s, user), "type": CATALOG[s][0]}
            for s in dict.fromkeys(asked)
            if s in CATALOG
        ]
        return 200, {
            "connection": {
                "wsHost": self.host,
                "wsPort": self.port,
                "appKey": self.app_key,
                "forceTls": False,
            },
            "userId": user,
            "channels": channels,
            "unknown": [s for s in asked if s not in CATALOG],
        }

    def _channel_auth(self, request: HttpRequest, token: str) -> tuple[int, Any]:
        form = request.form()
        socket_id, channel = form.get("socket_id", ""), form.get("channel_name", "")
        if not _SOCKET_ID.match(socket_id) or not channel:
            return 400, {"error": "socket_id and channel_name are required"}
        user = self.tokens[token]
        if channel not in {channel_of(s, user) for s, v in CATALOG.items() if v[0] == "presence"}:
            return 403, {"error": "not allowed to join this channel"}
        # Python's json.dumps spacing: pysher, which sends its own user_data, signs the same.
        channel_data = json.dumps(self.user_data(token))
        return 200, {
            "auth": self.sign(socket_id, channel, channel_data),
            "channel_data": channel_data,
        }

    # -- WebSocket ---------------------------------------------------------------------------

    async def _handle(self, ws: ServerConnection) -> None:
        number = next(self._numbers)
        parts = urlsplit(ws.request.path if ws.request else "")
        key = parts.path.removeprefix("/app/") if parts.path.startswith("/app/") else ""
        protocol = parse_qs(parts.query).get("protocol", [""])[0]
        if key != self.app_key:
            await self._refuse(number, ws, key, 4001, f"App key {key} not in this cluster")
            return
        if protocol not in _PROTOCOLS:
            await self._refuse(number, ws, key, 4007, "Unsupported protocol version")
            return
        self.connections.append((number, key, "accepted"))
        socket_id = f"{self._rng.randint(100, 999_999)}.{self._rng.randint(100, 9_999_999)}"
        client = _Client(number, ws, socket_id, key)
        self._open[number] = client
        tasks = [
            asyncio.create_task(self._emit(client)),
            asyncio.create_task(self._check_activity(client)),
        ]
        if self.authorize_within is not None:
            tasks.append(asyncio.create_task(self._require_authorization(client)))
        try:
            established = {"socket_id": socket_id, "activity_timeout": self.activity_timeout}
            await self._send(client, "pusher:connection_established", established)
            async for raw in ws:
                client.heard, client.pinged = time.monotonic(), None
                await self._command(client, raw)
        except ConnectionClosed:
            pass
        finally:
            for task in tasks:
                task.cancel()
            self._open.pop(number, None)
            for channel in list(client.channels):
                await self._leave(client, channel)

    async def _refuse(
        self, number: int, ws: ServerConnection, key: str, code: int, why: str
    ) -> None:
        self.connections.append((number, key, f"closed {code}"))
        self.closes.append((number, code, why))
        with contextlib.suppress(ConnectionClosed):
            await ws.send(frame("pusher:error", {"message": why, "code": code}, raw=True))
            await ws.close(code, why)

    async def _command(self, client: _Client, raw: str | bytes) -> None:
        lenient = self._policy.lenient
        try:
            message = orjson.loads(raw)
        except orjson.JSONDecodeError:
            message = None
        if not isinstance(message, dict) or not isinstance(message.get("event"), str):
            if lenient:
                await self._error(client, "Invalid message", None)
            return
        self.commands.append((client.number, message))
        event, data = message["event"], message.get("data")
        answer = self._policy.answers(event)
        if isinstance(data, str) and data:
            # Clients send objects; accept the string form some send too.
            with contextlib.suppress(orjson.JSONDecodeError):
                data = orjson.loads(data)
        if event == "pusher:ping":
            if answer:
                await self._send(client, "pusher:pong", {})
        elif event == "pusher:pong":
            pass
        elif event == "pusher:subscribe" and isinstance(data, dict):
            if lenient and self.mode == "session":
                await self._subscribe(client, data, answer)
            else:
                await self._strict_subscribe(client, data, answer, lenient=lenient)
        elif event == "pusher:signin" and isinstance(data, dict):
            await self._signin(client, data, answer)
        elif event == "pusher:unsubscribe" and isinstance(data, dict):
            await self._leave(client, str(data.get("channel")))
        elif not lenient or not answer:
            pass  # strict: NOTES.md shows no error for these; ignored
        elif event.startswith("client-"):
            await self._error(client, "Client events are not enabled for this app", 4301)
        else:
            await self._error(client, f"Unsupported event {event}", None)

    async def _strict_subscribe(
        self, client: _Client, data: dict[str, Any], answer: bool, *, lenient: bool = False
    ) -> None:
        """Pusher's own rules: any public name joins; private and presence need a signature;
        a user's own channel needs its sign-in. ``lenient`` (plain-app mode) words a
        refusal as a ``pusher:subscription_error`` naming the channel."""
        channel = data.get("channel")
        if not isinstance(channel, str) or not channel:
            return  # nothing to subscribe to, and Pusher documents no answer
        if len(client.channels) >= _MAX_CHANNELS_PER_SOCKET and channel not in client.channels:
            if answer:
                words = "Too many channels on this connection"
                await self._deny(client, channel, lenient, words, ("LimitReached", 400))
            return
        if channel.startswith(_USER_CHANNEL) and client.user != channel[len(_USER_CHANNEL) :]:
            if answer:
                words = "Not signed in as the user of this channel"
                await self._deny(client, channel, lenient, words, ("AuthError", 401))
            return
        presence = channel.startswith("presence-")
        if not presence and not channel.startswith("private-"):
            client.channels[channel] = None
            if answer:
                await self._send(client, "pusher_internal:subscription_succeeded", {}, channel)
            return
        channel_data = data.get("channel_data")
        auth = data.get("auth")
        signed = channel_data if presence and isinstance(channel_data, str) else None
        if not isinstance(auth, str) or not hmac.compare_digest(
            auth, self.sign(client.socket_id, channel, signed)
        ):
            if answer:
                sent = auth if isinstance(auth, str) else ""
                error = signature_error(client.socket_id, channel, sent)
                if lenient:
                    await self._subscription_error(
                        client, channel, "AuthError", "Invalid signature", 401
                    )
                else:
                    await self._send(client, "pusher:error", error, raw=True)
            return
        client.authorized = True
        if not presence:
            client.channels[channel] = None
            if answer:
                await self._send(client, "pusher_internal:subscription_succeeded", {}, channel)
            return
        member = _member_of(channel_data)
        if member is None:
            if answer:
                words = "Invalid channel_data: a JSON object with a user_id is required"
                await self._deny(client, channel, lenient, words, ("AuthError", 400))
            return
        await self._join(client, channel, member, answer)

    async def _deny(
        self, client: _Client, channel: str, lenient: bool, words: str, kind: tuple[str, int]
    ) -> None:
        """Refuse a subscription: the protocol's ``pusher:error`` (strict), or a
        ``pusher:subscription_error`` naming the channel (lenient)."""
        if lenient:
            await self._subscription_error(client, channel, kind[0], words, kind[1])
        else:
            await self._error(client, words, None)

    async def _signin(self, client: _Client, data: dict[str, Any], answer: bool) -> None:
        """``pusher:signin {auth, user_data}``: checked against ``socket_id::user::user_data``;
        ``pusher:signin_success {user_data}``, else a ``pusher:error`` in the form of the
        service's channel-signature error (code null)."""
        auth, user_data = data.get("auth"), data.get("user_data")
        shown = user_data if isinstance(user_data, str) else ""
        if not isinstance(auth, str) or not hmac.compare_digest(
            auth, self.sign_user(client.socket_id, shown)
        ):
            if answer:
                sent = auth if isinstance(auth, str) else ""
                words = (
                    "Invalid signature: Expected HMAC SHA256 hex digest of "
                    f"{client.socket_id}::user::{shown}, but got {sent}"
                )
                await self._error(client, words, None)
            return
        user = _user_of(shown)
        if user is None:
            if answer:
                words = "Invalid user_data: a JSON object with a non-empty string id is required"
                await self._error(client, words, None)
            return
        client.user, client.authorized = user, True
        if answer:
            await self._send(client, "pusher:signin_success", {"user_data": shown})

    async def _require_authorization(self, client: _Client) -> None:
        # Pusher's "authorized connections": unauthorized sockets are closed after a timeout.
        assert self.authorize_within is not None
        await asyncio.sleep(self.authorize_within)
        if not client.authorized:
            why = "Connection not authorized within timeout"
            self.closes.append((client.number, 4009, why))
            await client.ws.close(4009, why)

    async def _subscribe(self, client: _Client, data: dict[str, Any], answer: bool) -> None:
        """The lenient profile's subscribe: catalog channels only, subscription errors."""
        channel = data.get("channel")
        stream = self._stream_of(channel) if isinstance(channel, str) else None
        if stream is None or not isinstance(channel, str):
            if answer:
                await self._subscription_error(
                    client, str(channel), "NotFound", "Unknown channel", 404
                )
            return
        if len(client.channels) >= _MAX_CHANNELS_PER_SOCKET and channel not in client.channels:
            if answer:
                await self._subscription_error(
                    client, channel, "LimitReached", "Too many channels", 400
                )
            return
        if CATALOG[stream][0] != "presence":
            client.channels[channel] = None
            if answer:
                await self._send(client, "pusher_internal:subscription_succeeded", {}, channel)
            return
        channel_data = data.get("channel_data")
        auth = data.get("auth")
        expected = self.sign(
            client.socket_id, channel, channel_data if isinstance(channel_data, str) else None
        )
        if not isinstance(auth, str) or not hmac.compare_digest(auth, expected):
            if answer:
                await self._subscription_error(
                    client, channel, "AuthError", "Invalid signature", 401
                )
            return
        member = _member_of(channel_data)
        if member is None:
            if answer:
                await self._subscription_error(
                    client, channel, "AuthError", "Invalid channel_data", 400
                )
            return
        await self._join(client, channel, member, answer)

    async def _join(
        self, client: _Client, channel: str, member: dict[str, Any], answer: bool
    ) -> None:
        """Join a presence channel whose signature checked out, as ``member``."""
        user = str(member["user_id"])
        joined = user not in self.members(channel)
        client.channels[channel] = user
        members = dict(itertools.islice(self.members(channel).items(), _MAX_MEMBERS))
        presence = {"ids": list(members), "hash": members, "count": len(members)}
        if answer:
            await self._send(
                client, "pusher_internal:subscription_succeeded", {"presence": presence}, channel
            )
        if joined:
            # The other members hear of it whether or not the joiner got its answer.
            added = {"user_id": user, "user_info": member.get("user_info")}
            await self._broadcast(channel, "pusher_internal:member_added", added, but=client)

    async def _leave(self, client: _Client, channel: str) -> None:
        user = client.channels.pop(channel, None)
        if user is not None and user not in self.members(channel):
            await self._broadcast(channel, "pusher_internal:member_removed", {"user_id": user})

    def _stream_of(self, channel: str) -> str | None:
        for stream, (kind, template, _, _) in CATALOG.items():
            if kind != "presence" and channel == template:
                return stream
            prefix = template.removesuffix("{userId}")
            if kind == "presence" and channel.startswith(prefix) and len(channel) > len(prefix):
                return stream
        return None

    def _info_of(self, user: str) -> Any:
        return {"name": f"User {user}"}

    async def _emit(self, client: _Client) -> None:
        rng = self._rng
        while True:
            await asyncio.sleep(1.0 / self.rate)
            if not client.channels:
                continue
            channel = rng.choice(list(client.channels))
            stream = self._stream_of(channel)
            if stream is not None:
                owner = channel.removeprefix(CATALOG[stream][1].removesuffix("{userId}"))
            elif self.mode == "app":
                # A plain app's channels are the app's own: market data on public ones,
                # account updates on private, presence and user channels.
                signed = channel.startswith(("private-", "presence-", _USER_CHANNEL))
                stream = "portfolio" if signed else "prices"
                owner = client.channels.get(channel) or client.user or "anonymous"
            else:
                continue
            event, data = payload(stream, rng, owner)
            await self._send(client, event, data, channel)

    async def _check_activity(self, client: _Client) -> None:
        # Pusher's server side: ping a client that has been silent for activity_timeout,
        # and close with 4201 when the silence outlasts the pong timeout too.
        period = min(self.activity_timeout, self.pong_timeout) / 4
        while True:
            await asyncio.sleep(period)
            now = time.monotonic()
            if client.pinged is not None and now - client.pinged >= self.pong_timeout:
                self.closes.append((client.number, 4201, "Pong reply not received"))
                await client.ws.close(4201, "Pong reply not received")
                return
            idle = now - client.heard >= self.activity_timeout
            if client.pinged is None and idle and not self._muted:
                client.pinged = now
                await self._send(client, "pusher:ping", {})

    async def _send(
        self,
        client: _Client,
        event: str,
        data: Any,
        channel: str | None = None,
        *,
        raw: bool = False,
    ) -> None:
        if self._muted:
            return
        await client.ws.send(frame(event, data, channel, raw=raw))
        self.sent.append((client.number, event, channel))

    async def _error(self, client: _Client, message: str, code: int | None) -> None:
        # pusher:error carries its data as an object, not a JSON string (NOTES.md).
        await self._send(client, "pusher:error", {"message": message, "code": code}, raw=True)

    async def _subscription_error(
        self, client: _Client, channel: str, kind: str, error: str, status: int
    ) -> None:
        data = {"type": kind, "error": error, "status": status}
        await self._send(client, "pusher:subscription_error", data, channel)

    async def _broadcast(
        self, channel: str, event: str, data: Any, *, but: _Client | None = None
    ) -> None:
        for other in list(self._open.values()):
            if other is not but and other.channels.get(channel) is not None:
                with contextlib.suppress(ConnectionClosed):
                    await self._send(other, event, data, channel)

    def _add_member(self, channel: str, user: str, info: Any) -> None:
        members = self._extra.setdefault(channel, {})
        if user in self.members(channel) or len(members) >= _MAX_MEMBERS:
            return
        members[user] = info
        added = {"user_id": user, "user_info": info}
        self._keep(
            asyncio.get_running_loop().create_task(
                self._broadcast(channel, "pusher_internal:member_added", added)
            )
        )

    def _remove_member(self, channel: str, user: str) -> None:
        self._extra.get(channel, {}).pop(user, None)
        if user not in self.members(channel):
            removed = {"user_id": user}
            self._keep(
                asyncio.get_running_loop().create_task(
                    self._broadcast(channel, "pusher_internal:member_removed", removed)
                )
            )

    def _close_all(self, code: int, reason: str) -> None:
        for number, client in list(self._open.items()):
            self.closes.append((number, code, reason))
            self._keep(asyncio.get_running_loop().create_task(client.ws.close(code, reason)))


def _user_of(user_data: str) -> str | None:
    """The user id a sign-in's ``user_data`` names; None if it names none.

    Example:
        >>> _user_of('{"id": "u1"}'), _user_of('{"id": ""}'), _user_of("[")
        ('u1', None, None)
    """
    try:
        user = json.loads(user_data)
    except ValueError:
        return None
    if not isinstance(user, dict) or not isinstance(user.get("id"), str) or not user["id"]:
        return None
    return user["id"]


def _member_of(channel_data: Any) -> dict[str, Any] | None:
    """The presence member a subscription's ``channel_data`` names; None if it names none.

    Example:
        >>> _member_of('{"user_id": 7}'), _member_of("[]")
        ({'user_id': 7}, None)
    """
    try:
        member = json.loads(channel_data) if isinstance(channel_data, str) else {}
    except ValueError:
        return None
    if not isinstance(member, dict) or "user_id" not in member:
        return None
    return member
