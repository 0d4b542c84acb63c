"""The Hydra v1 API-key stream.

Protocol (from the public "Hydra v1" connection document and its further public notes):

- Connect to ``wss://api.hydra.fast/v1/stream`` with the API key as ``?apiKey=`` or as
  the ``x-api-key`` header; ``snapshot=false`` in the query skips the initial snapshot.
- The first message is ``{"type": "connected", "data": {"scopes": [...], "ts": ms}}``.
  The key's scopes decide what is sent: there is no subscription step.
- Then the snapshot, in this order: ``aircraft``, ``vessel``, ``signal``, ``alert``,
  ``x_post``, ``market_correlation``, ``chat_history``, ``online_count``; then live events.
- Every message is ``{"type", "data"}``; the type says what it is.
- The server sends protocol-level pings every 15 s; no pings means a dead connection.
- A bad key: close 1008 (the document), or HTTP 401 before the upgrade (a public server
  implementation). More than 10 connections from one address: HTTP 429 on the upgrade.

Choices where the documents are silent:

- Event type -> stream (scope)::

      aircraft            -> aircraft
      vessel              -> vessels
      alert               -> alerts
      market              -> markets
      market_correlation  -> markets
      x_post              -> social
      signal              -> by each signal's category: MISSILE_ALERT -> alerts,
                             AIRSPACE -> airspace, CYBER -> cyber, EARTHQUAKE or
                             SEISMIC -> earthquakes, any other -> signals
      chat_history        -> chat    (no scope: sent to every key)
      online_count        -> online  (no scope: sent to every key)
      any other type      -> its own name, so nothing new is lost

  One ``signal`` message may carry signals of several categories: it becomes one event
  per stream, each with the signals of that stream, in their order.
- ``aircraft.positions``, ``signal.signals`` and ``chat_history.messages`` explode into
  one row per item.
- Where the snapshot ends: the snapshot is what follows ``connected``, in the documented
  order, up to and including ``online_count``. A message whose type comes earlier in that
  order than the one before it, or is no snapshot type at all (``market``), also ends it
  (that message is live), so a server that leaves out ``online_count`` cannot make every
  later row a snapshot row. The types whose state is one message holding a list
  (``aircraft``, ``signal``, ``market_correlation``, ``chat_history``, ``online_count``)
  come once: a second one is live, so a key with one scope (``aircraft`` only, no
  ``online_count``) gets live rows after its snapshot. ``vessel``, ``alert`` and
  ``x_post`` may repeat, but only in the snapshot's burst: one arriving more than
  :data:`SNAPSHOT_BURST_GAP` seconds after the snapshot message before it is live. With
  ``snapshot=False`` no row is a snapshot row.
- Streams: with no subscription step, :attr:`supports_subscribe` is False; the streams a
  client asks for filter on the client side: only their rows are buffered (``"*"`` keeps
  everything, and so does naming no stream). :meth:`check_streams` accepts the scope
  names (and ``chat``, ``online`` and ``"*"``) and refuses anything else with
  :class:`~streamwidgets.exceptions.StreamNotAvailable`; once connected, names outside
  the key's scopes are refused, since the server will never send them.
- Liveness: any frame or protocol ping proves the connection alive (a server sending
  data is not dead); ``ping_timeout`` seconds of neither (three missed pings by default)
  declares it dead and reconnects. The client sends no protocol pings of its own.
- Closes: 1000 and 1001 reconnect; 1008 and HTTP 401 stop ("API key invalid, expired or
  revoked"), since the same key would be refused again; HTTP 429 reconnects after a long
  back-off (``rate_limit_backoff``, at least 30 s by default).
- The key goes in the ``x-api-key`` header by default, so it stays out of URLs and the
  server's request logs; ``key_in="query"`` puts it in the URL, shown masked everywhere.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from types import MappingProxyType
from typing import Any, Literal
from urllib.parse import parse_qsl, urlsplit, urlunsplit

from streamwidgets._util import checks
from streamwidgets._util.jsonutil import loads_typed, preview
from streamwidgets._util.secret import Secret, url_shown, url_with_secret
from streamwidgets.connection.dialect import (
    CloseAction,
    CloseDecision,
    ConnectTarget,
    Dialect,
    Keepalive,
    require_names,
)
from streamwidgets.dialects._config import require_seconds, to_ns
from streamwidgets.dialects.auth import PARSE_ONLY_CREDENTIAL
from streamwidgets.events import Control, Event, ServerNotice, Welcome
from streamwidgets.exceptions import ConfigurationError, FrameError, StreamNotAvailable

__all__ = [
    "HYDRA_V1_SCOPES",
    "SNAPSHOT_ORDER",
    "HydraV1Dialect",
    "signal_stream",
    "stream_of",
]

HYDRA_V1_SCOPES = (
    "aircraft",
    "vessels",
    "signals",
    "alerts",
    "markets",
    "social",
    "airspace",
    "cyber",
    "earthquakes",
)

#: The snapshot's documented order; the last one ends it.
SNAPSHOT_ORDER = (
    "aircraft",
    "vessel",
    "signal",
    "alert",
    "x_post",
    "market_correlation",
    "chat_history",
    "online_count",
)

_UNSCOPED = ("chat", "online")
#: Snapshot types that are one message per snapshot: a second one is live.
_ONCE = frozenset({"aircraft", "signal", "market_correlation", "chat_history", "online_count"})
#: Seconds between two messages of one snapshot burst, at most (a repeated ``vessel``,
#: ``alert`` or ``x_post`` later than this after the one before is live).
SNAPSHOT_BURST_GAP = 0.25

_TYPE_STREAMS = {
    "aircraft": "aircraft",
    "vessel": "vessels",
    "alert": "alerts",
    "market": "markets",
    "market_correlation": "markets",
    "x_post": "social",
    "chat_history": "chat",
    "online_count": "online",
}

_CATEGORY_STREAMS = {
    "MISSILE_ALERT": "alerts",
    "AIRSPACE": "airspace",
    "CYBER": "cyber",
    "EARTHQUAKE": "earthquakes",
    "SEISMIC": "earthquakes",
}

_AUTH_WORDS = "API key invalid, expired or revoked"


def signal_stream(category: Any) -> str:
    """The stream (scope) of one signal, from its category.

    Example:
        >>> signal_stream("CYBER"), signal_stream("NAVAL")
        ('cyber', 'signals')
    """
    return _CATEGORY_STREAMS.get(str(category).upper(), "signals")


def stream_of(event_type: str) -> str:
    """The stream (scope) of a message type other than ``signal``.

    Example:
        >>> stream_of("vessel"), stream_of("x_post"), stream_of("brand_new")
        ('vessels', 'social', 'brand_new')
    """
    return _TYPE_STREAMS.get(event_type, event_type)


class HydraV1Dialect(Dialect):
    """Speak the Hydra v1 API-key stream.

    Args:
        url: the stream endpoint.
        api_key: the API key, kept in a :class:`~streamwidgets._util.secret.Secret`.
        key_in: ``"header"`` (``x-api-key``, the default: the key stays out of URLs and
            logs) or ``"query"`` (``?apiKey=``, for servers that want it there).
        snapshot: False adds ``snapshot=false``: live events only.
        ping_timeout: seconds without a frame or a protocol ping that declare the
            connection dead (three of the server's 15 s pings by default).
        rate_limit_backoff: the least wait after an HTTP 429, in seconds.

    Example:
        >>> d = HydraV1Dialect("ws://127.0.0.1:8765/v1/stream", api_key="hydra_k1_x")
        >>> d.target().display_url
        'ws://127.0.0.1:8765/v1/stream'
        >>> HydraV1Dialect(api_key="hydra_k1_x", key_in="query").target().display_url
        'wss://api.hydra.fast/v1/stream?apiKey=***'
    """

    name = "hydra-v1"
    wildcard = "*"
    #: The connection counts a received protocol ping as proof of life (see connection.py).
    protocol_pings_prove_life = True
    explode: Mapping[str, str] = MappingProxyType(
        {"aircraft": "positions", "signal": "signals", "chat_history": "messages"}
    )

    def __init__(
        self,
        url: str = "wss://api.hydra.fast/v1/stream",
        *,
        api_key: str | Secret,
        key_in: Literal["header", "query"] = "header",
        snapshot: bool = True,
        # Timeouts
        ping_timeout: float = 45.0,
        rate_limit_backoff: float = 30.0,
    ) -> None:
        super().__init__()
        # endpoint() has checked the type, the ws/wss scheme and the host.
        parts = urlsplit(checks.endpoint("url", url, schemes=("ws", "wss")))
        if any(k.lower() == "apikey" for k, _ in parse_qsl(parts.query)):
            raise ConfigurationError("pass the key as api_key=..., not inside the URL")
        if key_in not in ("header", "query"):
            raise ConfigurationError(f"key_in must be 'header' or 'query', got {key_in!r}")
        require_seconds(ping_timeout=ping_timeout, rate_limit_backoff=rate_limit_backoff)
        self.url = url
        self.api_key = checks.credential("api_key", api_key)
        self.key_in = key_in
        self.snapshot = checks.flag("snapshot", snapshot)
        self.ping_timeout = float(ping_timeout)
        self.rate_limit_backoff = float(rate_limit_backoff)
        self.new_session()

    def new_session(self) -> None:
        super().new_session()
        self.session: dict[str, Any] = {}
        self._snapshot_at: int | None = None  # index in SNAPSHOT_ORDER; None: live
        self._last_snapshot_ns = 0

    def reset(self) -> None:
        super().reset()
        self.session = {}
        self._snapshot_at = None

    def secrets(self) -> list[Secret]:
        return [self.api_key]

    def target(self) -> ConnectTarget:
        parts = urlsplit(self.url)
        url = self.url
        if not self.snapshot:
            query = "&".join(p for p in (parts.query, "snapshot=false") if p)
            url = urlunsplit(parts._replace(query=query))
        if self.key_in == "header":
            return ConnectTarget(
                url=url, display_url=url, headers={"x-api-key": self.api_key.reveal()}
            )
        return ConnectTarget(
            url=url_with_secret(url, "apiKey", self.api_key, first=True),
            display_url=url_shown(url, "apiKey", first=True),
        )

    @property
    def needs_welcome(self) -> bool:
        return True

    @property
    def in_snapshot(self) -> bool:
        """True while the messages that arrive are snapshot rows."""
        return self._snapshot_at is not None

    def parse(self, frame: str | bytes, received_ns: int) -> list[Event | Control]:
        message, kind = loads_typed(frame)
        data = message.get("data")
        if kind == "connected":
            return [self._welcome(data, frame)]
        if kind == "error":
            text = data.get("message") if isinstance(data, dict) else data
            return [ServerNotice(f"server error: {text}", data, is_error=True)]
        snapshot = self._is_snapshot(kind, received_ns)
        event_ns = _event_ns(data)
        if kind == "signal":
            return list(self._signal_events(data, received_ns, event_ns, snapshot, frame))
        return [Event(stream_of(kind), kind, data, received_ns, event_ns, snapshot)]

    def _welcome(self, data: Any, frame: str | bytes) -> Welcome:
        if not isinstance(data, dict) or not isinstance(data.get("scopes"), list):
            raise FrameError(f"'connected' without scopes: {preview(frame)}")
        self.available_streams = [str(s) for s in data["scopes"]]
        self.session = {k: v for k, v in data.items() if k != "scopes"}
        # The snapshot, if asked for, starts right after the welcome.
        self._snapshot_at = 0 if self.snapshot else None
        self._last_snapshot_ns = 0
        return Welcome(list(self.available_streams), dict(self.session))

    def _is_snapshot(self, kind: str, received_ns: int) -> bool:
        at = self._snapshot_at
        if at is None:
            return False
        try:
            position = SNAPSHOT_ORDER.index(kind)
        except ValueError:
            position = -1
        repeat = position == at and self._last_snapshot_ns
        if (
            position < at  # not a snapshot type, or out of the documented order
            or (repeat and kind in _ONCE)
            or (repeat and received_ns - self._last_snapshot_ns > SNAPSHOT_BURST_GAP * 1e9)
        ):
            self._snapshot_at = None
            return False
        last = position == len(SNAPSHOT_ORDER) - 1
        self._snapshot_at = None if last else position
        self._last_snapshot_ns = received_ns
        return True

    def _signal_events(
        self, data: Any, received_ns: int, event_ns: int | None, snapshot: bool, frame: str | bytes
    ) -> list[Event]:
        signals = data.get("signals") if isinstance(data, dict) else None
        if not isinstance(signals, list):
            raise FrameError(f"'signal' without a signals list: {preview(frame)}")
        groups: dict[str, list[Any]] = {}
        for item in signals:
            category = item.get("category") if isinstance(item, dict) else None
            groups.setdefault(signal_stream(category), []).append(item)
        if not groups:
            groups["signals"] = []
        rest = {k: v for k, v in data.items() if k != "signals"}
        return [
            Event(stream, "signal", {**rest, "signals": items}, received_ns, event_ns, snapshot)
            for stream, items in groups.items()
        ]

    # Streams are the key's scopes: the server decides, the client filters.

    @property
    def supports_subscribe(self) -> bool:
        return False

    def check_streams(self, streams: Sequence[str]) -> None:
        require_names(streams)
        known = list(self.available_streams or HYDRA_V1_SCOPES) + list(_UNSCOPED)
        missing = [s for s in streams if s != "*" and s not in known]
        if missing:
            raise StreamNotAvailable(missing, known)

    # Liveness and closing

    def keepalive(self) -> Keepalive:
        # The server pings; the connection counts its pings (protocol_pings_prove_life).
        return Keepalive(idle_timeout=self.ping_timeout, protocol_ping_interval=None)

    def on_close(self, code: int | None, reason: str) -> CloseDecision:
        if code == 1008:
            return CloseDecision(CloseAction.STOP, f"{_AUTH_WORDS} (1008)", auth_failure=True)
        return super().on_close(code, reason)

    def on_http_status(self, status: int) -> CloseDecision:
        if status == 401:
            return CloseDecision(CloseAction.STOP, f"{_AUTH_WORDS} (HTTP 401)", auth_failure=True)
        if status == 429:
            return CloseDecision(
                CloseAction.RECONNECT_SLOW,
                "too many connections from this address (HTTP 429)",
                min_delay=self.rate_limit_backoff,
            )
        return super().on_http_status(status)

    def describe(self) -> dict[str, Any]:
        return {"dialect": self.name, "url": self.target().display_url}

    def replay_config(self) -> dict[str, Any] | None:
        # The snapshot flag decides how the first frames of a session are parsed.
        return {"url": self.url, "snapshot": self.snapshot}

    @classmethod
    def parse_only(cls, config: Mapping[str, Any]) -> HydraV1Dialect:
        """A copy that parses a recording of this feed, from its :meth:`replay_config`;
        its key is a placeholder that never goes on any wire.

        Example:
            >>> HydraV1Dialect.parse_only({"url": "ws://h:9/v1/stream", "snapshot": False}).snapshot
            False
        """
        snapshot = bool(config.get("snapshot", True))
        return cls(config["url"], api_key=PARSE_ONLY_CREDENTIAL, snapshot=snapshot)


def _event_ns(data: Any) -> int | None:
    if not isinstance(data, dict):
        return None
    return to_ns(data.get("timestamp", data.get("ts")), "ms")
