"""The Axol channel stream: an API key exchanged for a JWT, then JSON channels.

Protocol (from the public Axol "WebSocket Streaming" document and its further notes):

- Get a JWT: ``POST /api/v1/auth/token`` with ``X-API-Key`` (see
  :mod:`streamwidgets.dialects.axol.auth`), then connect to
  ``wss://api.axol.io/api/v1/ws/connect?token=<JWT>``.
- The server greets with ``{"type": "connected", "data": {"connection_id", "message",
  "available_channels": [...]}}``.
- Channels: ``gas_prices``, ``gas_prices_{chain}``, ``blockchain_events``, ``alerts``,
  ``system_status``. ``{"type": "subscribe"|"unsubscribe", "channels": [...]}`` are
  answered by ``{"type": "subscription_result", "data": {"subscribed_channels", "message"}}``.
- ``{"type": "ping", "data": {}}`` is answered by ``{"type": "pong", "data": {}}``;
  ``{"type": "get_info"}`` by ``connection_info``.
- Data messages are ``{"type", "data", "channel"?, "timestamp"?}`` (e.g. ``gas_update``).
- Subscription limits by tier: Free 5, Starter 10, Professional 50, Business 100,
  Enterprise unlimited.
- Close codes: 1008 (authentication required, invalid token, token expired),
  1011 (internal error: reconnect with backoff), 1013 (rate limited: reduce subscriptions).

Choices where the documents are silent:

- What is awaited: ``subscribe`` waits for its ``subscription_result`` (documented) or for
  data on its channels, whichever first; ``get_info`` for ``connection_info``.
  ``unsubscribe`` is complete once sent: the document shows no reply to it.
- ``rest_url`` (the REST base of the token exchange) defaults to the stream URL's host,
  ``wss`` -> ``https`` and ``ws`` -> ``http``.
- The JWT is exchanged in :meth:`AxolDialect.prepare` only when there is none, when the
  last one was refused (1008 or HTTP 401/403 on the upgrade), or when it expires within
  ``refresh_margin`` seconds (from ``expires_in``; half its lifetime for shorter tokens):
  one exchange per refusal, none on a plain reconnect (1011, network loss).
- 1008 -> ``REFRESH_AUTH`` (a new token, then reconnect). But a 1008 that arrives before
  any ``connected`` on a token that was just exchanged -> ``STOP``: the server refuses
  fresh tokens, and exchanging again would be a storm. Likewise a second 1008 in a row
  that comes within ``token_trial`` seconds of the welcome -> ``STOP``: a server that
  refuses every new token right after greeting it would otherwise get an exchange before
  every reconnect; so at most two exchanges follow each other that way. A key the
  exchange refuses (401/403) -> ``STOP`` with "API key refused"; exchange failures (5xx,
  429, timeouts) -> reconnect with the connection's backoff.
- 1011 -> reconnect with backoff. 1013 -> ``RECONNECT_SLOW`` waiting at least
  ``rate_limit_backoff`` seconds (30 by default) and saying to reduce subscriptions.
- Subscription replies carry no request id. A ``subscription_result`` answers the oldest
  waiting subscribe that asked for a channel it lists in ``subscribed_channels`` (an
  empty list answers the oldest subscribe); the channels that subscribe asked for and the
  list leaves out were not granted: they are refused (a tier limit shows this way). Read
  like this, the list may be either the channels of this request or every channel
  subscribed now (in the document's example the two agree). A result whose ``message``
  starts with "Unsubscribed" answers an unsubscribe (a server may send one) and resolves
  nothing. ``connection_info`` answers only ``get_info``, so it answers the oldest
  waiting one. ``{"type": "error", "data": {"message", "request"}}`` (not in the
  document; seen on lenient servers) whose ``request`` names ``subscribe`` refuses the
  oldest waiting subscribe, ``get_info`` fails the oldest ``get_info``; any other
  ``error`` is a server notice.
- Chain channels: ``gas_prices_{chain}`` is accepted for the documented chains
  (:data:`AXOL_CHAINS`: ethereum, polygon, arbitrum; the document says "etc.", so
  ``chains=`` adds more) and refused before anything is sent otherwise. Once connected,
  the base channels are those of ``available_channels``, and the chain channels join
  :attr:`available_streams` when ``gas_prices`` is among them (the server lists only
  ``gas_prices``; without this a reconnect would drop chain subscriptions).
- Event stream = the message's ``channel``; without one, by type: ``gas_update`` ->
  ``gas_prices``, ``alert_triggered`` -> ``alerts``, ``new_block``/``block``/
  ``transaction``/``blockchain_event`` -> ``blockchain_events``, ``system_status`` ->
  ``system_status``, anything else its own type. ``timestamp`` (ISO-8601) is the event time.
- Liveness: the client sends the documented JSON ping every ``ping_interval`` seconds
  (30 by default, as in the document's example); the ``pong`` (a Heartbeat) or any other
  frame proves the connection alive, and ``missed_pongs`` intervals without any frame
  declare it dead. No WebSocket protocol pings: the JSON ping is the documented keepalive.
- ``get_info``: :meth:`AxolDialect.info_request` builds it; send it with
  ``await connection.send(feed.info_request())``, whose reply's ``data`` is the
  ``connection_info``.

The specialised streams (gas updates, mempool, liquidations) are feeds of their own, in
:mod:`streamwidgets.dialects.axol.endpoints`.
"""

from __future__ import annotations

import time
from collections.abc import Mapping, Sequence
from typing import Any
from urllib.parse import parse_qsl, urlsplit, urlunsplit

from streamwidgets._util import checks
from streamwidgets._util.jsonutil import dumps, loads_typed, preview
from streamwidgets._util.secret import Secret, url_shown, url_with_secret
from streamwidgets.connection.dialect import (
    CloseAction,
    CloseDecision,
    ConnectTarget,
    Dialect,
    Keepalive,
    Outgoing,
    require_names,
)
from streamwidgets.dialects._config import require_counts, require_seconds, to_ns
from streamwidgets.dialects.auth import PARSE_ONLY_CREDENTIAL
from streamwidgets.dialects.axol.auth import exchange_key
from streamwidgets.dialects.ledger import RequestLedger
from streamwidgets.events import Control, Event, Heartbeat, Refused, Reply, ServerNotice, Welcome
from streamwidgets.exceptions import ConfigurationError, FrameError, StreamNotAvailable

__all__ = ["AXOL_CHAINS", "AXOL_CHANNELS", "AXOL_TIER_LIMITS", "AxolDialect", "channel_of"]

AXOL_CHANNELS = ("gas_prices", "blockchain_events", "alerts", "system_status")
AXOL_CHAINS = ("ethereum", "polygon", "arbitrum")
#: tier -> most subscriptions (None: unlimited), from the document.
AXOL_TIER_LIMITS: dict[str, int | None] = {
    "free": 5,
    "starter": 10,
    "professional": 50,
    "business": 100,
    "enterprise": None,
}

#: Said with a channel the server did not grant: the document's likeliest reason.
_TIER_WORDS = "Axol limits subscriptions per tier: " + ", ".join(
    f"{tier} {limit or 'unlimited'}" for tier, limit in AXOL_TIER_LIMITS.items()
)
_GAS_PREFIX = "gas_prices_"
_TYPE_CHANNELS = {
    "gas_update": "gas_prices",
    "alert_triggered": "alerts",
    "new_block": "blockchain_events",
    "block": "blockchain_events",
    "transaction": "blockchain_events",
    "blockchain_event": "blockchain_events",
    "system_status": "system_status",
}
PING_FRAME = dumps({"type": "ping", "data": {}})


def channel_of(message_type: str) -> str:
    """The channel of a data message that does not name its own.

    Example:
        >>> channel_of("gas_update"), channel_of("alert_triggered"), channel_of("other")
        ('gas_prices', 'alerts', 'other')
    """
    return _TYPE_CHANNELS.get(message_type, message_type)


class AxolDialect(Dialect):
    """Speak the Axol channel stream, exchanging the API key for JWTs as needed.

    Args:
        url: the stream endpoint.
        api_key: the API key, kept in a :class:`~streamwidgets._util.secret.Secret`.
        rest_url: the REST base of the token exchange (default: the stream's host).
        chains: the chains ``gas_prices_{chain}`` may name.
        ping_interval: seconds between the client's JSON pings.
        missed_pongs: ping intervals without any frame that declare the connection dead.
        exchange_timeout: seconds for one token exchange (connect, send, answer).
        refresh_margin: exchange again when the token expires within this many seconds.
        rate_limit_backoff: the least wait after a 1013 close, in seconds.
        token_trial: seconds after a welcome within which a 1008 counts as the server
            refusing the token it just greeted (two in a row stop the connection).

    Example:
        >>> d = AxolDialect("ws://127.0.0.1:9/api/v1/ws/connect", api_key="axol_k")
        >>> d.rest_url, d.describe()["url"]
        ('http://127.0.0.1:9', 'ws://127.0.0.1:9/api/v1/ws/connect?token=***')
        >>> d.subscribe(["gas_prices_ethereum"])[0].frame
        '{"type":"subscribe","channels":["gas_prices_ethereum"]}'
    """

    name = "axol"

    def __init__(
        self,
        url: str = "wss://api.axol.io/api/v1/ws/connect",
        *,
        api_key: str | Secret,
        rest_url: str | None = None,
        chains: Sequence[str] = AXOL_CHAINS,
        # Timeouts
        ping_interval: float = 30.0,
        missed_pongs: int = 2,
        exchange_timeout: float = 10.0,
        refresh_margin: float = 30.0,
        rate_limit_backoff: float = 30.0,
        token_trial: float = 30.0,
    ) -> None:
        super().__init__()
        # endpoint() has checked the type, the ws/wss scheme and the host.
        parts = urlsplit(checks.endpoint("url", url, schemes=("ws", "wss")))
        if any(k == "token" for k, _ in parse_qsl(parts.query)):
            raise ConfigurationError("pass the API key as api_key=...; the JWT is fetched for you")
        if rest_url is None:
            scheme = "https" if parts.scheme == "wss" else "http"
            rest_url = urlunsplit((scheme, parts.netloc, "", "", ""))
        elif urlsplit(rest_url).scheme not in ("http", "https"):
            raise ConfigurationError(f"rest_url starts with http:// or https://, got {rest_url!r}")
        else:
            checks.endpoint("rest_url", rest_url, schemes=("http", "https"))
        if isinstance(chains, str) or not all(isinstance(c, str) and c for c in chains):
            raise ConfigurationError(f"chains must be a list of names, got {chains!r}")
        require_seconds(
            ping_interval=ping_interval,
            exchange_timeout=exchange_timeout,
            rate_limit_backoff=rate_limit_backoff,
            token_trial=token_trial,
        )
        require_counts(missed_pongs=missed_pongs)
        if isinstance(refresh_margin, bool) or not isinstance(refresh_margin, (int, float)):
            raise ConfigurationError(f"refresh_margin must be a number, got {refresh_margin!r}")
        self.api_key = checks.credential("api_key", api_key)
        self.url = url
        self.rest_url = rest_url.rstrip("/")
        self.chains = tuple(dict.fromkeys(chains))
        self.ping_interval = float(ping_interval)
        self.missed_pongs = int(missed_pongs)
        self.exchange_timeout = float(exchange_timeout)
        self.refresh_margin = float(refresh_margin)
        self.rate_limit_backoff = float(rate_limit_backoff)
        self.token_trial = float(token_trial)
        self.new_session()

    # Session ------------------------------------------------------------------

    def new_session(self) -> None:
        super().new_session()
        self.session: dict[str, Any] = {}
        self._server_channels: list[str] | None = None
        #: This connection's JWT (each connection exchanges its own).
        self.token: Secret | None = None
        #: How many token exchanges this connection asked of the server.
        self.exchanges = 0
        self._expires_at: float | None = None
        self._margin = self.refresh_margin
        self._stale = False  # the server refused the current token
        self._fresh = False  # the token is new and no 'connected' has come with it yet
        self._welcomed_at: float | None = None
        self._quick_refusals = 0  # 1008s in a row soon after a welcome
        self._ledger = RequestLedger()

    def reset(self) -> None:
        super().reset()
        self.session = {}
        self._server_channels = None
        self._welcomed_at = None
        self._ledger.clear()

    def secrets(self) -> list[Secret]:
        return [self.api_key] if self.token is None else [self.api_key, self.token]

    async def prepare(self) -> None:
        """Exchange the API key for a JWT, unless the current one is still good."""
        if self.token is not None and not self._stale and not self._expiring():
            return
        self.exchanges += 1
        issued = await exchange_key(self.api_key, self.rest_url, timeout=self.exchange_timeout)
        self.token, self._expires_at = issued.token, issued.expires_at
        self._stale, self._fresh = False, True
        if issued.expires_at is not None:
            # A token shorter-lived than twice the margin is renewed at half its life, not
            # at every reconnect.
            life = issued.expires_at - time.monotonic()
            self._margin = min(self.refresh_margin, life / 2)

    def _expiring(self) -> bool:
        return self._expires_at is not None and (
            self._expires_at - time.monotonic() <= self._margin
        )

    def target(self) -> ConnectTarget:
        if self.token is None:
            raise ConfigurationError("no token yet: the connection calls prepare() first")
        return ConnectTarget(
            url=url_with_secret(self.url, "token", self.token),
            display_url=url_shown(self.url, "token"),
        )

    @property
    def needs_welcome(self) -> bool:
        return True

    # Frames -------------------------------------------------------------------

    def parse(self, frame: str | bytes, received_ns: int) -> list[Event | Control]:
        message, kind = loads_typed(frame)
        data = message.get("data")
        if kind == "connected":
            return [self._welcome(data, frame)]
        if kind == "pong":
            return [Heartbeat()]
        if kind == "subscription_result":
            return self._subscription_result(data if isinstance(data, dict) else {})
        if kind == "connection_info":
            return [Reply("get_info", data)]  # it answers get_info only: the oldest waits
        if kind == "error":
            return self._error(data)
        channel = message.get("channel")
        if channel is not None and not isinstance(channel, str):
            raise FrameError(f"'channel' is not a string: {preview(frame)}")
        event_ns = to_ns(message.get("timestamp"), "iso")
        stream = channel or self._default_stream(kind)
        return [Event(stream, kind, data, received_ns, event_ns)]

    def _default_stream(self, kind: str) -> str:
        # The stream of a data message that names no channel.
        return channel_of(kind)

    def _welcome(self, data: Any, frame: str | bytes) -> Welcome:
        if not isinstance(data, dict) or not isinstance(data.get("available_channels"), list):
            raise FrameError(f"'connected' without available_channels: {preview(frame)}")
        self._server_channels = [str(c) for c in data["available_channels"]]
        # The chain channels count as available (the server lists only gas_prices), so the
        # connection keeps them on reconnect.
        self.available_streams = self.known_channels()
        self.session = {k: v for k, v in data.items() if k != "available_channels"}
        self._fresh = False
        self._welcomed_at = time.monotonic()
        return Welcome(list(self.available_streams), dict(self.session))

    def _subscription_result(self, data: dict[str, Any]) -> list[Event | Control]:
        words = str(data.get("message", ""))
        if words.lower().startswith("unsubscribed"):
            return [Heartbeat()]  # an unsubscribe's answer: nothing waits for it
        listed = data.get("subscribed_channels")
        granted = {str(c) for c in listed} if isinstance(listed, list) else None
        entry = self._ledger.take(
            "subscribe", lambda e: not granted or bool(granted & set(e.streams))
        )
        if entry is None:
            return [Heartbeat()]  # answers nothing that still waits
        out: list[Event | Control] = [Reply(entry.key, data)]
        missing = [c for c in entry.streams if granted is not None and c not in granted]
        if missing:
            said = f" ({words})" if words else ""
            why = f"not granted by the server{said}; {_TIER_WORDS}"
            out.append(Refused(dict.fromkeys(missing, why)))
        return out

    def _error(self, data: Any) -> list[Event | Control]:
        text = str(data.get("message", data)) if isinstance(data, dict) else str(data)
        request = data.get("request") if isinstance(data, dict) else None
        notice = ServerNotice(f"server error: {text}", data, is_error=True)
        if request == "get_info":
            return [notice, Reply("get_info", data, error=text)]
        entry = self._ledger.take("subscribe") if request == "subscribe" else None
        if entry is None:
            return [notice]
        out: list[Event | Control] = [notice, Reply(entry.key, data, error=text)]
        if entry.streams:
            out.append(Refused(dict.fromkeys(entry.streams, text)))
        return out

    # Channels -----------------------------------------------------------------

    def known_channels(self) -> list[str]:
        """The channels this feed can subscribe to now (chain channels included).

        Example:
            >>> AxolDialect(api_key="k", chains=["ethereum"]).known_channels()[-1]
            'gas_prices_ethereum'
        """
        base = list(self._server_channels or AXOL_CHANNELS)
        chain = [f"{_GAS_PREFIX}{c}" for c in self.chains] if "gas_prices" in base else []
        return base + [c for c in chain if c not in base]

    def check_streams(self, streams: Sequence[str]) -> None:
        require_names(streams, noun="channel")
        for name in streams:
            chain = name[len(_GAS_PREFIX) :] if name.startswith(_GAS_PREFIX) else None
            if chain is not None and chain not in self.chains:
                raise ConfigurationError(
                    f"unknown chain {chain!r} in {name!r}; documented chains: "
                    f"{', '.join(self.chains)} (pass chains=[...] to allow others)"
                )
        known = self.known_channels()
        missing = [s for s in streams if s not in known]
        if missing:
            raise StreamNotAvailable(missing, known)

    def subscribe(self, streams: Sequence[str]) -> list[Outgoing]:
        self.check_streams(streams)
        asked = tuple(dict.fromkeys(streams))
        frame = dumps({"type": "subscribe", "channels": list(asked)})
        return [Outgoing(frame, self._ledger.add("subscribe", streams=asked), asked)]

    def unsubscribe(self, streams: Sequence[str]) -> list[Outgoing]:
        return [Outgoing(dumps({"type": "unsubscribe", "channels": list(streams)}))]

    def forget(self, reply_key: str) -> None:
        self._ledger.pop(reply_key)

    def info_request(self) -> Outgoing:
        """The ``get_info`` request; the reply's ``data`` is the ``connection_info``.

        Example:
            >>> out = AxolDialect(api_key="k").info_request()
            >>> out.frame, out.reply_key
            ('{"type":"get_info"}', 'get_info')
            >>> # reply = await connection.send(out); reply.data["state"] -> 'active'
        """
        return Outgoing(dumps({"type": "get_info"}), "get_info")

    # Liveness and closing -----------------------------------------------------

    def keepalive(self) -> Keepalive:
        return Keepalive(
            idle_timeout=self.ping_interval * self.missed_pongs,
            ping_interval=self.ping_interval,
            ping_frame=PING_FRAME,
            protocol_ping_interval=None,
        )

    def on_close(self, code: int | None, reason: str) -> CloseDecision:
        if (
            self._welcomed_at is not None
            and time.monotonic() - self._welcomed_at >= self.token_trial
        ):
            self._quick_refusals = 0  # the token held: a later refusal starts a new count
        if code == 1008:
            return self._refused(f"token refused (1008{': ' + reason if reason else ''})")
        if code == 1011:
            return CloseDecision(
                CloseAction.RECONNECT, "Axol internal error (1011); reconnecting with backoff"
            )
        if code == 1013:
            return CloseDecision(
                CloseAction.RECONNECT_SLOW,
                "rate limited by Axol (1013): reduce the number of subscribed channels; "
                "reconnecting after a long wait",
                min_delay=self.rate_limit_backoff,
            )
        return super().on_close(code, reason)

    def on_http_status(self, status: int) -> CloseDecision:
        if status in (401, 403):
            return self._refused(f"token refused (HTTP {status})")
        return super().on_http_status(status)

    def _refused(self, what: str) -> CloseDecision:
        if self._fresh:
            # A token just issued and refused before any welcome: another would be too.
            return CloseDecision(
                CloseAction.STOP,
                f"{what} right after a new token was issued; the key may lack stream access",
                auth_failure=True,
            )
        if self._welcomed_at is not None:
            self._quick_refusals += 1
            if self._quick_refusals >= 2:
                return CloseDecision(
                    CloseAction.STOP,
                    f"{what} within {self.token_trial:g} s of the welcome, twice in a row with "
                    "new tokens; the key may lack stream access",
                    auth_failure=True,
                )
        self._stale = True
        return CloseDecision(CloseAction.REFRESH_AUTH, f"{what}; getting a new token")

    def describe(self) -> dict[str, Any]:
        return {"dialect": self.name, "url": url_shown(self.url, "token")}

    def replay_config(self) -> dict[str, Any] | None:
        # The endpoints' URLs carry their options in the query, never the JWT.
        return {"url": self.url, "chains": list(self.chains)}

    @classmethod
    def parse_only(cls, config: Mapping[str, Any]) -> AxolDialect:
        """A copy that parses a recording of this feed, from its :meth:`replay_config`; its
        key is a placeholder, and it exchanges nothing (a replay has no token step).

        Example:
            >>> AxolDialect.parse_only({"url": "ws://h:9/api/v1/ws/connect"}).chains[0]
            'ethereum'
        """
        chains = config.get("chains") or AXOL_CHAINS
        return cls(config["url"], api_key=PARSE_ONLY_CREDENTIAL, chains=chains)
