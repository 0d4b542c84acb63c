"""The Hyperoru account stream: one socket, ``{type, request_id?, data}`` both ways.

Protocol (from the public Hyperoru "WebSocket API" document and its further notes):

- Connect to ``wss://api.production.hyperoru.com/ws?session_token=...``; the server closes
  at once when the token is missing or invalid.
- Every message is ``{"type", "request_id"?, "data"}``; the server echoes ``request_id``.
- Client messages: ``subscribe {channels}`` (additive), ``bootstrap`` (answered by one
  ``bootstrap`` message ``{accounts: [{id, name}], positions, active_orders}``),
  ``switch_account {account_id}``, ``get_snapshot {account_id}`` (answered by ``snapshot
  {equity, positions: [{symbol, side, size, unrealized_pnl}]}``), ``get_asset_curve
  {account_id, timeframe}`` (timeframes ``1d``, ``7d``, ``30d``, ``90d``, ``all``),
  ``place_order`` (answered by a ``trade_update`` on ``trades``), ``ping`` -> ``pong``.
- Channels: ``trades``, ``positions``, ``model_chat``, ``asset_curve``; server events
  ``trade_update``, ``position_update``, ``model_chat_update`` (streamed chunks),
  ``asset_curve_update`` (about every 60 s) and ``error``.
- On an unexpected close wait 1-5 s with jitter, reconnect and resubscribe: there is no
  replay, the server delivers fresh state.

Use: ``feeds.hyperoru(url, session_token=...)``; the requests are awaitables of
``feed.requests(stream)`` (a :func:`streamwidgets.open` stream) or ``widget.requests``
(:mod:`streamwidgets.dialects.hyperoru.requests`); ``feed.model_chat(df)`` assembles the
streamed reasoning (:mod:`streamwidgets.dialects.hyperoru.chat`).

Choices where the documents are silent:

- A missing or invalid token: "the server closes the connection immediately". The close
  code is not documented: 1008 (policy violation, what most servers send for a refused
  credential), the application codes 4001, 4003, 4401, 4403 and HTTP 401/403 on the
  upgrade stop the connection for good with :class:`~streamwidgets.AuthenticationFailed`
  ("session token refused"). A server that closes with no telling code (1000, or no close
  frame) right after opening, before answering anything, three times in a row
  (:attr:`~streamwidgets.connection.dialect.Dialect.silent_refusal_after`), is taken to refuse
  the token too, so a refused token cannot cause a reconnect storm.
- Reconnect delays: :data:`RECONNECT_BACKOFF` (equal jitter: the first three delays 1-2 s,
  2-4 s, 2.5-5 s as the document's "1-5 seconds" asks, then doubling up to 60 s during a
  long outage) unless the connection is given ``backoff=``.
- No welcome message is documented, and a refused token must not look connected for a
  moment: the client sends ``{"type": "ping", "request_id": "connect"}`` as soon as the
  socket opens and counts the connection as established at the first ``pong``, with or
  without the request id (the document's own pong is a bare ``{"type": "pong"}``). The
  channel catalogue is the documented one (:data:`HYPERORU_CHANNELS`); an unknown channel
  raises :class:`~streamwidgets.StreamNotAvailable` before anything is sent.
- Subscribing sends one ``subscribe`` per channel (additive, so the same as one for all):
  an ``error`` naming one refuses that channel only.
- What is awaited: only the replies the document promises. ``bootstrap`` (a ``bootstrap``
  message), ``get_snapshot`` (``snapshot``), ``get_asset_curve`` (the series: a message of
  type ``asset_curve``), ``place_order`` (a ``trade_update`` on ``trades``) and ``ping``
  (``pong``) wait for their reply. ``subscribe`` and ``switch_account`` have none: they
  are complete once sent (data on the channels confirm a subscribe; the account is
  remembered at once and re-sent after every reconnect).
- Matching: a message with a ``request_id`` we sent answers that request, whatever its
  type (a lenient server's ``subscribed`` or ``account_switched`` then resolve nothing
  that waits). Without one, it answers the oldest waiting request of its kind whose
  content fits: a ``pong`` the oldest ``ping``, a ``bootstrap`` the oldest ``bootstrap``,
  a ``snapshot`` the oldest ``get_snapshot`` of its ``account_id``, an ``asset_curve`` the
  oldest ``get_asset_curve`` of its account and timeframe, and a ``trade_update`` the
  oldest ``place_order`` with the same account, symbol, side, size and order type (it is
  also a row on ``trades``). ``{"type": "error", "request_id", "data": {"code",
  "message"}}`` fails the request it names: a refused subscribe refuses its channels
  (:class:`~streamwidgets.events.Refused`), a refused ``switch_account`` puts the account
  back; an ``error`` without a request id of ours is a server notice. Request ids are
  ``r1``, ``r2``, ... per connection; at most ``max_pending`` requests wait at once.
- Unsubscribe: the protocol has none, so :meth:`HyperoruDialect.unsubscribe` sends nothing
  and the channel's broadcasts are dropped on the client (counted in
  :attr:`HyperoruDialect.filtered`); subscribing again lifts the filter and re-sends an
  (additive, harmless) ``subscribe``. A reconnect subscribes to the wanted set only, so the
  server then stops sending the channel too.
- After every connect (first and reconnects) the connection resubscribes, then the dialect
  re-sends ``switch_account`` if the user switched account (the server's context is per
  connection) and ``bootstrap`` (``bootstrap_on_connect=True``), because nothing is
  replayed. Bootstrap rows go to the buffer with ``snapshot=True``: accounts (stream
  ``accounts``, type ``account``), positions (``positions``/``position``) and active orders
  (``trades``/``active_order``), one row each.
- Broadcast payloads (undocumented; the simulator sends the same shapes), each with ``ts``
  in epoch milliseconds, read as the event time:

  - ``trade_update`` (``trades``): ``{order_id, account_id, symbol, side ("buy"|"sell"),
    order_type ("market"|"limit"), status ("accepted"|"partially_filled"|"filled"|
    "cancelled"|"rejected"), size, filled_size, price, fee, reason?, ts}``;
  - ``position_update`` (``positions``): ``{account_id, symbol, side ("long"|"short"),
    size, entry_price, mark_price, unrealized_pnl, status ("opened"|"updated"|"closed"),
    ts}``;
  - ``model_chat_update`` (``model_chat``): ``{decision_id, account_id, model, seq (0-based
    chunk number), chunk (text), done (true on the last chunk), action?, symbol?,
    confidence?, ts}``; the last chunk carries the decision (``action`` "buy"|"sell"|
    "hold"). Each chunk is one buffer row;
    :func:`~streamwidgets.dialects.hyperoru.chat.assemble_chat` joins them per decision;
  - ``asset_curve_update`` (``asset_curve``): ``{account_id, equity, daily_pnl,
    daily_pnl_pct, ts}``.
- ``get_asset_curve`` replies ``{account_id, timeframe, points: [{ts, equity, pnl}]}``; a
  timeframe outside the documented five is a :class:`~streamwidgets.ConfigurationError`
  before anything is sent. ``place_order`` takes the fields of ``POST /api/orders/create``
  that matter here (``account_id``, ``symbol``, ``side``, ``size``, ``order_type``,
  ``price`` for limits) and exists only with ``allow_orders=True``.
- Liveness: the client sends ``{"type": "ping"}`` every ``ping_interval`` seconds (30 by
  default; the document says "periodically", and proxies commonly cut idle sockets after
  60 s); ``missed_pongs`` intervals without any frame declare the connection dead. No
  WebSocket protocol pings: the JSON ping is the documented keepalive.
"""

from __future__ import annotations

import itertools
from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, Any
from urllib.parse import parse_qsl, urlsplit

from streamwidgets._util import checks
from streamwidgets._util.jsonutil import dumps, loads_typed
from streamwidgets._util.secret import Secret, url_shown, url_with_secret
from streamwidgets.connection.backoff import Backoff
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
from streamwidgets.dialects.hyperoru.requests import (
    HYPERORU_TIMEFRAMES,
    HyperoruRequests,
    checked_payload,
)
from streamwidgets.dialects.ledger import Entry, RequestLedger
from streamwidgets.events import Control, Event, Heartbeat, Refused, Reply, ServerNotice, Welcome
from streamwidgets.exceptions import ConfigurationError, RequestError, StreamNotAvailable

if TYPE_CHECKING:
    import pandas as pd

__all__ = [
    "BROADCAST_CHANNELS",
    "HYPERORU_CHANNELS",
    "HYPERORU_TIMEFRAMES",
    "RECONNECT_BACKOFF",
    "HyperoruDialect",
]

HYPERORU_URL = "wss://api.production.hyperoru.com/ws"
HYPERORU_CHANNELS = ("trades", "positions", "model_chat", "asset_curve")
#: broadcast type -> the channel it comes on.
BROADCAST_CHANNELS = {
    "trade_update": "trades",
    "position_update": "positions",
    "model_chat_update": "model_chat",
    "asset_curve_update": "asset_curve",
}
#: The document's "wait 1-5 seconds with jitter" for the first three delays (1-2 s, 2-4 s,
#: 2.5-5 s), then doubling up to 60 s while an outage lasts.
RECONNECT_BACKOFF: dict[str, float] = {
    "initial": 2.0,
    "maximum": 60.0,
    "factor": 2.0,
    "early_attempts": 3,
    "early_maximum": 5.0,
}
#: A bare reply's type -> the request it answers.
_ANSWERS = {
    "pong": "ping",
    "bootstrap": "bootstrap",
    "snapshot": "get_snapshot",
    "asset_curve": "get_asset_curve",
    "trade_update": "place_order",
}
#: Requests with a reply the document promises; the others are complete once sent.
_REPLIED = frozenset(_ANSWERS.values())
_ORDER_FIELDS = ("account_id", "symbol", "side", "size", "order_type")
#: bootstrap field -> (stream, type) of its snapshot rows.
BOOTSTRAP_ROWS = {
    "accounts": ("accounts", "account"),
    "positions": ("positions", "position"),
    "active_orders": ("trades", "active_order"),
}
_AUTH_CLOSE_CODES = frozenset({1008, 4001, 4003, 4401, 4403})
PING_FRAME = dumps({"type": "ping"})
#: The request id of the first ping, whose pong says the server accepted the token.
CONNECT_ID = "connect"


class HyperoruDialect(Dialect):
    """Speak the Hyperoru account stream.

    Args:
        url: the stream endpoint, without the token.
        session_token: the session token, kept in a :class:`~streamwidgets._util.secret.Secret`.
        allow_orders: True makes ``place_order`` available; False (the default) refuses it
            before anything is sent.
        bootstrap_on_connect: send ``bootstrap`` after every connect (fresh state, since
            the server replays nothing).
        ping_interval: seconds between the client's JSON pings.
        missed_pongs: ping intervals without any frame that declare the connection dead.
        max_pending: requests that may wait for their reply at once.

    Example:
        >>> d = HyperoruDialect("ws://127.0.0.1:9/ws", session_token="hyo_s")
        >>> d.describe()["url"]
        'ws://127.0.0.1:9/ws?session_token=***'
        >>> d.subscribe(["trades"])[0].frame
        '{"type":"subscribe","request_id":"r1","data":{"channels":["trades"]}}'
    """

    name = "hyperoru"
    silent_refusal_after = 3

    def __init__(
        self,
        url: str = HYPERORU_URL,
        *,
        session_token: str | Secret,
        allow_orders: bool = False,
        bootstrap_on_connect: bool = True,
        # Timeouts
        ping_interval: float = 30.0,
        missed_pongs: int = 2,
        # Limits
        max_pending: int = 64,
    ) -> None:
        super().__init__()
        # endpoint() has checked the type, the ws/wss scheme and the host.
        parts = urlsplit(checks.endpoint("url", url, schemes=("ws", "wss")))
        if any(k == "session_token" for k, _ in parse_qsl(parts.query)):
            raise ConfigurationError(
                "pass the token as session_token=..., not in the URL, so it can be masked"
            )
        for label, flag in (
            ("allow_orders", allow_orders),
            ("bootstrap_on_connect", bootstrap_on_connect),
        ):
            if not isinstance(flag, bool):
                raise ConfigurationError(f"{label} must be True or False, got {flag!r}")
        require_seconds(ping_interval=ping_interval)
        require_counts(missed_pongs=missed_pongs, max_pending=max_pending)
        self.session_token = checks.credential("session_token", session_token)
        self.url = url
        self.allow_orders = allow_orders
        self.bootstrap_on_connect = bootstrap_on_connect
        self.ping_interval = float(ping_interval)
        self.missed_pongs = missed_pongs
        self.max_pending = max_pending
        self.new_session()

    # Session ------------------------------------------------------------------

    def new_session(self) -> None:
        super().new_session()
        #: The account the user switched to (re-sent after reconnects), None: the default.
        self.account_id: str | None = None
        #: Broadcasts dropped on the client because their channel was unsubscribed.
        self.filtered = 0
        self.available_streams = list(HYPERORU_CHANNELS)
        self._muted: set[str] = set()
        self._ids = itertools.count(1)
        self._waiting = RequestLedger()  # requests whose reply the document promises
        self._sent = RequestLedger(limit=64)  # the others, only to match a later error
        self._welcomed = False

    def reset(self) -> None:
        super().reset()
        # No welcome names the channels: the documented catalogue is what is offered.
        self.available_streams = list(HYPERORU_CHANNELS)
        self._waiting.clear()
        self._sent.clear()
        self._welcomed = False

    def secrets(self) -> list[Secret]:
        return [self.session_token]

    def target(self) -> ConnectTarget:
        return ConnectTarget(
            url=url_with_secret(self.url, "session_token", self.session_token),
            display_url=url_shown(self.url, "session_token"),
            first_messages=[dumps({"type": "ping", "request_id": CONNECT_ID, "data": {}})],
        )

    @property
    def needs_welcome(self) -> bool:
        # The pong to the first ping is the welcome: the token was accepted.
        return True

    def reconnect_backoff(self) -> Backoff:
        """The document's reconnect delays: 1-5 s with jitter (see :data:`RECONNECT_BACKOFF`).

        Example:
            >>> delays = [HyperoruDialect(session_token="t").reconnect_backoff().next_delay()
            ...           for _ in range(3)]
            >>> all(1.0 <= d <= 2.0 for d in delays)
            True
        """
        return Backoff(**RECONNECT_BACKOFF)  # type: ignore[arg-type]

    def after_connect(self) -> list[Outgoing]:
        """Requests sent after every connect, once resubscribed: the account, then bootstrap.

        Example:
            >>> d = HyperoruDialect(session_token="t")
            >>> d.account_id = "acct_2"
            >>> [o.frame for o in d.after_connect()]  # doctest: +NORMALIZE_WHITESPACE
            ['{"type":"switch_account","request_id":"r1","data":{"account_id":"acct_2"}}',
             '{"type":"bootstrap","request_id":"r2","data":{}}']
        """
        out = []
        if self.account_id is not None:
            out.append(self.request("switch_account", {"account_id": self.account_id}))
        if self.bootstrap_on_connect:
            out.append(self.request("bootstrap"))
        return out

    # Requests -----------------------------------------------------------------

    def request(self, kind: str, data: Mapping[str, Any] | None = None) -> Outgoing:
        """Build one request, checked before anything is sent; its reply key is its id.

        Raises:
            ConfigurationError: an unknown request, a bad timeframe or order field.
            OrdersNotAllowed: ``place_order`` without ``allow_orders=True``.
            RequestError: ``max_pending`` requests already wait for replies.

        Example:
            >>> d = HyperoruDialect(session_token="t")
            >>> out = d.request("get_asset_curve", {"account_id": "a1", "timeframe": "7d"})
            >>> out.reply_key, out.frame[:50]
            ('r1', '{"type":"get_asset_curve","request_id":"r1","data"')
            >>> d.request("get_asset_curve", {"account_id": "a1", "timeframe": "2d"})
            Traceback (most recent call last):
            ...
            streamwidgets.exceptions.ConfigurationError: timeframe must be one of 1d, ...; got '2d'
        """
        payload = checked_payload(kind, dict(data or {}), allow_orders=self.allow_orders)
        replied = kind in _REPLIED
        if replied and len(self._waiting) >= self.max_pending:
            raise RequestError(
                f"{len(self._waiting)} Hyperoru requests already wait for replies "
                f"(max_pending={self.max_pending})"
            )
        request_id = f"r{next(self._ids)}"
        channels = tuple(payload.get("channels") or ()) if kind == "subscribe" else ()
        facts: dict[str, Any] = {k: payload.get(k) for k in ("account_id", "timeframe")}
        if kind == "place_order":
            facts = {k: payload.get(k) for k in _ORDER_FIELDS}
        if kind == "switch_account":
            # Remembered at once (no reply is promised) so a reconnect re-sends it; put
            # back if the server refuses it with an error.
            facts["previous"] = self.account_id
            self.account_id = payload["account_id"]
        ledger = self._waiting if replied else self._sent
        ledger.add(kind, key=request_id, streams=channels, **facts)
        frame = dumps({"type": kind, "request_id": request_id, "data": payload})
        return Outgoing(frame, request_id if replied else None, channels)

    def forget(self, reply_key: str) -> None:
        """Stop waiting for a request's reply (it timed out or the connection dropped)."""
        self._waiting.pop(reply_key)

    def requests(self, connection: Any) -> HyperoruRequests:
        """The request API bound to a connection, a :func:`streamwidgets.open` stream or a
        widget (see :class:`~streamwidgets.dialects.hyperoru.requests.HyperoruRequests`).

        Example:
            >>> from streamwidgets.connection.driver import Connection
            >>> d = HyperoruDialect(session_token="t")
            >>> d.requests(Connection(d)).allow_orders
            False
        """
        return HyperoruRequests(connection)

    def model_chat(self, frame: pd.DataFrame) -> pd.DataFrame:
        """One row per AI decision, its chunks joined (see
        :func:`~streamwidgets.dialects.hyperoru.chat.assemble_chat`).

        Example:
            >>> import pandas as pd
            >>> HyperoruDialect(session_token="t").model_chat(pd.DataFrame()).empty
            True
        """
        from streamwidgets.dialects.hyperoru.chat import assemble_chat

        return assemble_chat(frame)

    # Frames -------------------------------------------------------------------

    def parse(self, frame: str | bytes, received_ns: int) -> list[Event | Control]:
        message, kind = loads_typed(frame)
        data = message.get("data")
        request_id = message.get("request_id")
        if request_id is not None and not isinstance(request_id, str):
            request_id = str(request_id)
        if kind == "error":
            return self._error(request_id, data)
        out: list[Event | Control] = []
        if kind == "pong":
            out.append(Heartbeat())
            if not self._welcomed:
                # The first pong, whatever its request id: the server kept the socket
                # open and answered, so it took the token.
                self._welcomed = True
                out.append(Welcome(list(HYPERORU_CHANNELS)))
        elif kind == "bootstrap":
            out.extend(_bootstrap_rows(data, received_ns))
        elif kind in BROADCAST_CHANNELS:
            channel = BROADCAST_CHANNELS[kind]
            if channel in self._muted:
                self.filtered += 1
            else:
                event_ns = to_ns(data.get("ts"), "ms") if isinstance(data, dict) else None
                out.append(Event(channel, kind, data, received_ns, event_ns))
        elif request_id is None and kind not in _ANSWERS:
            # Not a reply and not a known broadcast: keep it, under its own type.
            out.append(Event(kind, kind, data, received_ns))
        entry = self._answered(request_id, kind, data)
        if entry is not None:
            out.append(Reply(entry.key, data))
        return out

    def _answered(self, request_id: str | None, kind: str, data: Any) -> Entry | None:
        """The request this message answers: by its request id, else by kind and content."""
        if request_id is not None:
            return self._waiting.pop(request_id) or self._sent.pop(request_id)
        asked = _ANSWERS.get(kind)
        if asked is None:
            return None
        facts = data if isinstance(data, dict) else {}
        return self._waiting.take(asked, lambda entry: _fits(entry, facts))

    def _error(self, request_id: str | None, data: Any) -> list[Event | Control]:
        text = _error_text(data)
        entry = None
        if request_id is not None:
            entry = self._waiting.pop(request_id) or self._sent.pop(request_id)
        if entry is None:
            return [ServerNotice(f"server error: {text}", data, is_error=True)]
        out: list[Event | Control] = [Reply(entry.key, data, error=text)]
        if entry.kind == "subscribe" and entry.streams:
            out.append(Refused(dict.fromkeys(entry.streams, text)))
        elif entry.kind == "switch_account":
            wanted, previous = entry.facts.get("account_id"), entry.facts.get("previous")
            if self.account_id == wanted:
                self.account_id = previous
            out.append(
                ServerNotice(
                    f"switch_account to {wanted} refused: {text}; broadcasts stay on "
                    f"{previous or 'the default account'}",
                    data,
                    is_error=True,
                )
            )
        return out

    # Channels -----------------------------------------------------------------

    def check_streams(self, streams: Sequence[str]) -> None:
        require_names(streams, noun="channel", what="channels")
        missing = [s for s in streams if s not in HYPERORU_CHANNELS]
        if missing:
            raise StreamNotAvailable(missing, list(HYPERORU_CHANNELS))

    def subscribe(self, streams: Sequence[str]) -> list[Outgoing]:
        self.check_streams(streams)
        self._muted.difference_update(streams)
        # One request per channel (subscribe is additive, so this is the same as one
        # request for all): an error then refuses exactly the channel it is about.
        return [self.request("subscribe", {"channels": [c]}) for c in dict.fromkeys(streams)]

    def unsubscribe(self, streams: Sequence[str]) -> list[Outgoing]:
        # The protocol has no unsubscribe: filter the channel's broadcasts here instead.
        self.check_streams(streams)
        self._muted.update(streams)
        return []

    # Liveness and closing -----------------------------------------------------

    def keepalive(self) -> Keepalive:
        return Keepalive(
            idle_timeout=self.ping_interval * self.missed_pongs,
            ping_interval=self.ping_interval,
            ping_frame=PING_FRAME,
            protocol_ping_interval=None,
        )

    def on_close(self, code: int | None, reason: str) -> CloseDecision:
        if code in _AUTH_CLOSE_CODES:
            why = f" ({code}{': ' + reason if reason else ''})"
            return CloseDecision(
                CloseAction.STOP,
                f"session token refused by Hyperoru{why}; get a new session token",
                auth_failure=True,
            )
        return super().on_close(code, reason)

    def on_http_status(self, status: int) -> CloseDecision:
        if status in (401, 403):
            return CloseDecision(
                CloseAction.STOP,
                f"session token refused by Hyperoru (HTTP {status}); get a new session token",
                auth_failure=True,
            )
        return super().on_http_status(status)

    def describe(self) -> dict[str, Any]:
        return {
            "dialect": self.name,
            "url": url_shown(self.url, "session_token"),
            "allow_orders": self.allow_orders,
        }

    def replay_config(self) -> dict[str, Any] | None:
        """What a parse-only copy needs to turn the recorded frames into the same events.

        Kept: the URL (it never holds the token: the constructor refuses it there) and
        ``muted``, the channels unsubscribed on the client, whose broadcasts parsing drops.
        Channel names are no secret. Everything else decides nothing in parsing: the session
        token, ``allow_orders`` (a replay sends no request), the account and the timeouts.

        Example:
            >>> d = HyperoruDialect("ws://127.0.0.1:9/ws", session_token="hyo_s")
            >>> d.unsubscribe(["model_chat"])
            []
            >>> d.replay_config()
            {'url': 'ws://127.0.0.1:9/ws', 'muted': ['model_chat']}
        """
        return {"url": self.url, "muted": sorted(self._muted)}

    @classmethod
    def parse_only(cls, config: Mapping[str, Any]) -> HyperoruDialect:
        """A copy that parses a recording of this feed, from its :meth:`replay_config`: its
        token is a placeholder, and the channels the live client muted stay muted.

        Example:
            >>> copy = HyperoruDialect.parse_only({"url": "ws://h:9/ws", "muted": ["model_chat"]})
            >>> copy.replay_config()["muted"]
            ['model_chat']
        """
        dialect = cls(config["url"], session_token=PARSE_ONLY_CREDENTIAL)
        # Unsubscribing a parse-only copy sends nothing: it only filters the broadcasts.
        dialect.unsubscribe([str(c) for c in config.get("muted") or ()])
        return dialect


def _fits(entry: Entry, facts: dict[str, Any]) -> bool:
    # A bare reply fits a request when every field the request named, and the reply
    # carries, agrees (sizes compare as numbers: 0.5 == 0.50).
    for name, wanted in entry.facts.items():
        if name == "previous" or wanted is None or name not in facts:
            continue
        got = facts[name]
        if isinstance(wanted, (int, float)) and isinstance(got, (int, float)):
            if float(wanted) != float(got):
                return False
        elif got != wanted:
            return False
    return True


def _error_text(data: Any) -> str:
    if isinstance(data, dict):
        text = str(data.get("message", "error"))
        code = data.get("code")
        return f"{text} ({code})" if code is not None else text
    return str(data)


def _bootstrap_rows(data: Any, received_ns: int) -> list[Event | Control]:
    if not isinstance(data, dict):
        return []
    rows: list[Event | Control] = []
    for field, (stream, kind) in BOOTSTRAP_ROWS.items():
        items = data.get(field)
        if isinstance(items, list):
            rows.extend(
                Event(stream, kind, item, received_ns, snapshot=True)
                for item in items
                if isinstance(item, dict)
            )
    return rows
