"""A local Axol server: the REST token exchange and the WebSocket channel stream.

Two listeners on the loopback interface, started and stopped together:

- REST (:attr:`AxolSimulator.rest_url`): ``POST /api/v1/auth/token`` with ``X-API-Key``
  answers ``{"access_token", "token_type": "bearer", "expires_in"}``, or 401 for a bad key.
  It is a second small asyncio server (:class:`~streamwidgets.simulators.http.RestSideServer`)
  because websockets' HTTP parser accepts only bodiless GET requests, and the documented
  exchange is a POST with a JSON body.
- WebSocket (:attr:`AxolSimulator.url`, ``/api/v1/ws/connect?token=JWT``): a missing,
  invalid or expired token is closed with 1008 after the upgrade; then ``connected`` with
  ``available_channels``, ``subscribe`` answered by ``subscription_result``, JSON
  ``ping`` -> ``pong`` ``{"type": "pong", "data": {}}``, ``get_info`` ->
  ``connection_info``, and data messages of the subscribed channels at ``rate`` per
  second. An open connection whose token expires is closed with 1008 "Token expired";
  :meth:`~AxolSimulator.close_connections` closes with 1011 or 1013.

Profiles (:mod:`streamwidgets.simulators.profiles`)
    ``strict`` (default) sends only what the Axol document (seed ``003``) shows. Its
    subscribe example answers ``["gas_prices", "alerts"]`` with ``subscribed_channels:
    ["gas_prices", "alerts"]`` and "Subscribed to 2 channels", so the one
    ``subscription_result`` lists the channels *of this request* now subscribed (ones
    already subscribed included, duplicates once) and says "Subscribed to N channels"
    with N that list's length. A channel over the tier's limit (free 5, starter 10, ...)
    or with an unknown or invalid name is simply not granted: missing from the list.
    The document shows no reply to ``unsubscribe`` and no error message at all, so
    ``unsubscribe`` is not answered, and invalid JSON, unknown types and malformed
    channel lists are ignored (a subscribe whose ``channels`` is no list grants nothing:
    ``subscribed_channels: []``).
    ``lenient`` is the simulator's earlier, chattier protocol: ``subscription_result``
    to both ``subscribe`` and ``unsubscribe`` holding the connection's *whole* set
    (message "Subscribed to N channels" / "Unsubscribed from N channels" with N the
    names asked), and ``error {message, request}`` for unknown channels or a malformed
    list (nothing granted), for a subscribe over the tier limit (``code:
    "subscription_limit"``, ``limit``; nothing granted), and ``error {message}`` for
    invalid JSON or an unknown type.
    ``unanswered=["subscribe", ...]`` (types) silences every reply to those messages,
    in both profiles, errors included, while they still take effect.

The specialised streams are served on the same port, with the same token check:
``/api/v1/ws/gas-updates/{chain}?interval=N`` (``gas_update`` every N seconds times
``time_scale``; an interval outside 5-300 is refused with HTTP 400),
``/api/v1/mempool/{chain}/stream`` (``pending_transaction``) and
``/api/v1/defi/liquidations/stream`` (``position_update`` and ``liquidation_alert``, filtered
by ``chain``, ``protocol``, ``min_profit`` and ``health_threshold``). They answer JSON pings
and the other messages as the main stream does, in either profile.

Fault hooks for tests: :meth:`~AxolSimulator.close_connections` (1011, 1013, ...),
:meth:`~AxolSimulator.expire_tokens`, :meth:`~AxolSimulator.fail_exchanges` and
:meth:`~AxolSimulator.stop_pongs`.

Example:
    >>> sim = AxolSimulator(api_keys={"axol_sim_k": "free"})
    >>> sim.api_key, sim.path
    ('axol_sim_k', '/api/v1/ws/connect')
"""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import logging
import random
import time
from collections import deque
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any
from urllib.parse import parse_qs, urlsplit

import orjson
from websockets.asyncio.server import ServerConnection
from websockets.exceptions import ConnectionClosed
from websockets.http11 import Request, Response

from streamwidgets._util.secret import redact_url
from streamwidgets.simulators.axol_protocol import (
    AXOL_CHAINS,
    AXOL_CHANNELS,
    AXOL_COMMANDS,
    AXOL_TIER_LIMITS,
    Route,
    channel_message,
    gas_data,
    generate_key,
    iso_now,
    liquidation_message,
    message,
    pending_transaction,
    route_of,
)
from streamwidgets.simulators.faults import PongSwitch
from streamwidgets.simulators.http import HttpRequest, RestSideServer
from streamwidgets.simulators.profiles import Profile, Replying, reply_policy
from streamwidgets.simulators.tokens import InvalidToken, issue_token, verify_token

__all__ = ["AxolSimulator", "SeenConnection"]

logger = logging.getLogger(__name__)

_TOKEN_PATH = "/api/v1/auth/token"


@dataclass
class SeenConnection:
    """One upgrade request and what became of it.

    ``outcome`` is ``"accepted"``, ``"closed 1008"``, ``"bad request"`` or ``"not found"``.
    """

    number: int
    path: str
    outcome: str
    user_id: str | None = None


class AxolSimulator(Replying, PongSwitch, RestSideServer):
    """An Axol REST + WebSocket server on the loopback interface.

    Args:
        host: interface to bind.
        port: WebSocket TCP port; 0 picks a free one.
        rest_port: REST TCP port; 0 picks a free one.
        api_keys: key -> tier (``free``, ``starter``, ``professional``, ``business``,
            ``enterprise``). None: one generated ``starter`` key (:attr:`api_key`).
        secret: HS256 key the JWTs are signed with.
        token_ttl: seconds a JWT is valid (``expires_in``).
        rate: data messages per second per connection, over its subscribed channels.
        seed: seeds the data.
        time_scale: multiplies the gas endpoint's ``interval`` (0.01 makes 5 s into 50 ms).
        profile: ``"strict"`` (only the documented replies) or ``"lenient"`` (also
            errors and unsubscribe answers); see the module docstring.
        unanswered: message types (``"subscribe"``, ``"unsubscribe"``, ``"ping"``,
            ``"get_info"``) that get no reply at all, though they still take effect.

    Example:
        >>> AxolSimulator(token_ttl=5).token_ttl
        5.0
        >>> AxolSimulator(profile="lenient", unanswered=["ping"]).unanswered
        frozenset({'ping'})
    """

    label = "Axol simulator"
    path = "/api/v1/ws/connect"

    def __init__(
        self,
        *,
        host: str = "127.0.0.1",
        port: int = 0,
        rest_port: int = 0,
        api_keys: Mapping[str, str] | None = None,
        secret: str = "axol-sim-secret",
        token_ttl: float = 3600.0,
        # Emission
        rate: float = 10.0,
        seed: int = 0,
        time_scale: float = 1.0,
        # Replies
        profile: Profile = "strict",
        unanswered: Iterable[str] = (),
    ) -> None:
        self._policy = reply_policy(profile, unanswered, known=AXOL_COMMANDS)
        if api_keys is None:
            api_keys = {generate_key(): "starter"}
        if not api_keys:
            raise ValueError("api_keys must hold at least one key")
        bad = {k: t for k, t in api_keys.items() if not k or t not in AXOL_TIER_LIMITS}
        if bad:
            raise ValueError(f"bad keys or tiers {bad!r}; tiers: {list(AXOL_TIER_LIMITS)}")
        if not rate > 0 or not token_ttl > 0 or not time_scale > 0:
            raise ValueError("rate, token_ttl and time_scale must be > 0")
        super().__init__(host=host, port=port, rest_port=rest_port)
        self.api_keys = dict(api_keys)
        self.secret = secret
        self.token_ttl = float(token_ttl)
        self.rate = float(rate)
        self.time_scale = float(time_scale)

        #: every upgrade request seen, in order.
        self.connections: deque[SeenConnection] = deque(maxlen=10_000)
        #: (connection number, command as received) of every client message, in order.
        self.commands: deque[tuple[int, dict[str, Any]]] = deque(maxlen=100_000)
        #: HTTP status of every token exchange answered, in order.
        self.exchanges: list[int] = []
        #: (connection number, close code, reason) of every close the server made.
        self.closes: list[tuple[int, int, str]] = []
        #: (connection number, message type) of every message sent, in order.
        self.sent: deque[tuple[int, str]] = deque(maxlen=100_000)

        self._rng = random.Random(seed)
        self._numbers = itertools.count(1)
        self._users = itertools.count(1)
        self._open: dict[int, ServerConnection] = {}
        self._seen: dict[int, tuple[SeenConnection, dict[str, Any] | None, str, Route]] = {}
        self._generation = 0  # tokens of an older generation are expired
        self._failing: list[int] = []

    @property
    def api_key(self) -> str:
        """The first (by default the only) key this simulator accepts."""
        return next(iter(self.api_keys))

    # -- fault hooks -------------------------------------------------------------------------

    def close_connections(self, code: int = 1011, reason: str = "Internal error") -> None:
        """Close every open connection with ``code`` (1011 internal error, 1013 rate limited).

        Example:
            >>> AxolSimulator().close_connections(1013, "Rate limited")  # none open
        """
        self._dispatch(self._close_all, code, reason)

    def expire_tokens(self) -> None:
        """Expire every token issued so far, closing open connections with 1008.

        Example:
            >>> AxolSimulator().expire_tokens()
        """
        self._generation += 1
        self._dispatch(self._close_all, 1008, "Token expired")

    def fail_exchanges(self, count: int, status: int = 503) -> None:
        """Answer the next ``count`` token exchanges with ``status`` (e.g. 503).

        Example:
            >>> AxolSimulator().fail_exchanges(2)
        """
        self._failing.extend([status] * count)

    def commands_of(self, kind: str) -> list[dict[str, Any]]:
        """The client commands of one type, all connections, in order."""
        return [c for _, c in self.commands if c.get("type") == kind]

    def issue_token(self, api_key: str | None = None, *, expires_in: float | None = None) -> str:
        """A JWT for a key, as the exchange would give it.

        Example:
            >>> AxolSimulator().issue_token().count(".")
            2
        """
        key = api_key or self.api_key
        return issue_token(
            self.secret,
            address=f"user_{abs(hash(key)) % 10**6:06d}",
            streams=list(AXOL_CHANNELS),
            expires_in=self.token_ttl if expires_in is None else expires_in,
            extra={"tier": self.api_keys[key], "gen": self._generation},
        )

    # -- REST: the token exchange ------------------------------------------------------------

    def _answer_http(self, request: HttpRequest | None) -> tuple[int, dict[str, Any]]:
        status, payload = self._exchange(request)
        if request is not None and urlsplit(request.path).path == _TOKEN_PATH:
            self.exchanges.append(status)
        return status, payload

    def _exchange(self, request: HttpRequest | None) -> tuple[int, dict[str, Any]]:
        if request is None:
            return 400, {"detail": "Bad request"}
        if urlsplit(request.path).path != _TOKEN_PATH:
            return 404, {"detail": "Not found"}
        if request.method != "POST":
            return 405, {"detail": "Method not allowed"}
        if self._failing:
            return self._failing.pop(0), {"detail": "Service unavailable"}
        key = request.headers.get("x-api-key")
        if key not in self.api_keys:
            return 401, {"detail": "Invalid API key"}
        token = self.issue_token(key)
        return 200, {"access_token": token, "token_type": "bearer", "expires_in": self.token_ttl}

    # -- WebSocket ---------------------------------------------------------------------------

    def _process_request(self, connection: ServerConnection, request: Request) -> Response | None:
        parts = urlsplit(request.path)
        seen = SeenConnection(next(self._numbers), redact_url(request.path), "accepted")
        self.connections.append(seen)
        query = parse_qs(parts.query)
        route = route_of(parts.path, query)
        if route is None:
            seen.outcome = "not found"
            return connection.respond(404, "Not Found\n")
        if isinstance(route, str):
            seen.outcome = "bad request"
            return connection.respond(400, f"{route}\n")
        token = query.get("token", [None])[0]
        claims: dict[str, Any] | None = None
        why = "Authentication required"
        if token:
            try:
                claims = verify_token(token, self.secret).raw
                why = ""
                if claims.get("gen") != self._generation:
                    claims, why = None, "Token expired"
            except InvalidToken as exc:
                why = "Token expired" if "expired" in str(exc).lower() else "Invalid token"
        self._seen[id(connection)] = (seen, claims, why, route)
        if len(self._seen) > 1000:  # handshakes that failed after this point leave entries
            del self._seen[next(iter(self._seen))]
        return None

    async def _handle(self, ws: ServerConnection) -> None:
        seen, claims, why, route = self._seen.pop(id(ws), (None, None, "", Route("main")))
        if seen is None:
            return
        if claims is None:
            seen.outcome = "closed 1008"
            self.closes.append((seen.number, 1008, why))
            await ws.close(1008, why)
            return
        seen.user_id = str(claims["sub"])
        number = seen.number
        self._open[number] = ws
        session = {
            "connection_id": f"conn_{number:06d}",
            "user_id": seen.user_id,
            "channels": [],
            "connected_at": iso_now(),
            "last_ping": None,
            "state": "active",
            "tier": claims.get("tier", "free"),
            "route": route,
        }
        try:
            if route.kind == "main":
                await self._send(
                    number,
                    ws,
                    "connected",
                    {
                        "connection_id": session["connection_id"],
                        "message": "Connected to Axol API WebSocket",
                        "available_channels": list(AXOL_CHANNELS),
                    },
                )
            emitter = asyncio.create_task(self._emit(number, ws, session, int(claims["exp"])))
            try:
                async for raw in ws:
                    await self._command(number, ws, session, raw)
            finally:
                emitter.cancel()
                with contextlib.suppress(asyncio.CancelledError, ConnectionClosed):
                    await emitter
        except ConnectionClosed:
            pass
        finally:
            self._open.pop(number, None)

    async def _command(
        self, number: int, ws: ServerConnection, session: dict[str, Any], raw: str | bytes
    ) -> None:
        lenient = self._policy.lenient
        try:
            command = orjson.loads(raw)
        except orjson.JSONDecodeError:
            command = None
        if not isinstance(command, dict):
            # The document shows no error message: strict ignores what it cannot read.
            if lenient:
                await self._send(number, ws, "error", {"message": "Invalid JSON message"})
            return
        self.commands.append((number, command))
        kind = command.get("type")
        answer = self._policy.answers(kind)
        if kind == "ping":
            session["last_ping"] = iso_now()
            if self._ponging and answer:
                await self._send(number, ws, "pong", {})
        elif kind == "get_info":
            if answer:
                info = {k: v for k, v in session.items() if k not in ("tier", "route")}
                await self._send(number, ws, "connection_info", info)
        elif kind in ("subscribe", "unsubscribe"):
            channels = command.get("channels")
            if lenient:
                await self._subscription(number, ws, session, kind, channels, answer)
            else:
                await self._strict_subscription(number, ws, session, kind, channels, answer)
        elif lenient:
            await self._send(number, ws, "error", {"message": f"Unknown message type: {kind}"})

    async def _strict_subscription(
        self,
        number: int,
        ws: ServerConnection,
        session: dict[str, Any],
        kind: str,
        asked: Any,
        answer: bool,
    ) -> None:
        # Names only: anything else in the list is no channel, and is not granted.
        listed = asked if isinstance(asked, list) else []
        names = list(dict.fromkeys(c for c in listed if isinstance(c, str)))
        current: list[str] = list(session["channels"])
        if kind == "unsubscribe":
            # The document shows no reply to an unsubscribe.
            session["channels"] = [c for c in current if c not in names]
            return
        limit = AXOL_TIER_LIMITS.get(session["tier"], 5)
        granted: list[str] = []
        for name in names:
            if name in current:
                granted.append(name)
            elif _valid_channel(name) and (limit is None or len(current) < limit):
                current.append(name)
                granted.append(name)
        session["channels"] = current
        if answer:
            words = f"Subscribed to {len(granted)} channels"
            result = {"subscribed_channels": granted, "message": words}
            await self._send(number, ws, "subscription_result", result)

    async def _subscription(
        self,
        number: int,
        ws: ServerConnection,
        session: dict[str, Any],
        kind: str,
        asked: Any,
        answer: bool,
    ) -> None:
        """The lenient profile's subscribe and unsubscribe, replies and errors included."""
        if not isinstance(asked, list) or not all(isinstance(c, str) for c in asked):
            if answer:
                await self._send(
                    number,
                    ws,
                    "error",
                    {"message": "channels must be a list of names", "request": kind},
                )
            return
        unknown = [c for c in asked if not _valid_channel(c)]
        if unknown:
            if answer:
                await self._send(
                    number,
                    ws,
                    "error",
                    {"message": f"Unknown channels: {', '.join(unknown)}", "request": kind},
                )
            return
        current: list[str] = session["channels"]
        if kind == "unsubscribe":
            session["channels"] = [c for c in current if c not in asked]
            words = f"Unsubscribed from {len(asked)} channels"
        else:
            new = [c for c in dict.fromkeys(asked) if c not in current]
            limit = AXOL_TIER_LIMITS.get(session["tier"], 5)
            if limit is not None and len(current) + len(new) > limit:
                if answer:
                    await self._send(
                        number,
                        ws,
                        "error",
                        {
                            "message": f"Subscription limit reached: the {session['tier']} "
                            f"tier allows {limit} subscriptions",
                            "code": "subscription_limit",
                            "request": kind,
                            "limit": limit,
                        },
                    )
                return
            session["channels"] = current + new
            words = f"Subscribed to {len(asked)} channels"
        if answer:
            await self._send(
                number,
                ws,
                "subscription_result",
                {"subscribed_channels": list(session["channels"]), "message": words},
            )

    async def _emit(
        self, number: int, ws: ServerConnection, session: dict[str, Any], expires_at: int
    ) -> None:
        route: Route = session["route"]
        # The gas endpoint sends every `interval` seconds, scaled for tests; others at `rate`.
        pause = route.interval * self.time_scale if route.kind == "gas" else 1.0 / self.rate
        while True:
            await asyncio.sleep(pause)
            if time.time() >= expires_at:
                self.closes.append((number, 1008, "Token expired"))
                await ws.close(1008, "Token expired")
                return
            out = self._next_message(session, route)
            if out is not None:
                kind, data, channel = out
                await self._send(number, ws, kind, data, channel=channel, timestamp=iso_now())

    def _next_message(
        self, session: dict[str, Any], route: Route
    ) -> tuple[str, dict[str, Any], str] | None:
        rng = self._rng
        if route.kind == "gas" and route.chain:
            return (
                "gas_update",
                {"chain": route.chain, "gas_data": gas_data(route.chain, rng)},
                (f"gas_prices_{route.chain}"),
            )
        if route.kind == "mempool" and route.chain:
            return (
                "pending_transaction",
                pending_transaction(route.chain, rng),
                (f"mempool_{route.chain}"),
            )
        if route.kind == "liquidations":
            found = liquidation_message(route, rng)
            return None if found is None else (*found, "liquidations")
        channels = session["channels"]
        if not channels:
            return None
        channel = rng.choice(channels)
        return (*channel_message(channel, rng), channel)

    async def _send(
        self, number: int, ws: ServerConnection, kind: str, data: Any, **extra: Any
    ) -> None:
        await ws.send(message(kind, data, **extra))
        self.sent.append((number, kind))

    def _close_all(self, code: int, reason: str) -> None:
        for number, ws in list(self._open.items()):
            self.closes.append((number, code, reason))
            self._keep(asyncio.get_running_loop().create_task(ws.close(code, reason)))


def _valid_channel(name: str) -> bool:
    if name in AXOL_CHANNELS:
        return True
    return name.startswith("gas_prices_") and name.removeprefix("gas_prices_") in AXOL_CHAINS
