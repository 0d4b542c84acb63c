"""The Hydra JWT stream.

Protocol (from the public Hydra stream document and its further public notes):

- Connect to ``wss://api.hydra.app/stream?token=<JWT>``.
- The server greets with ``{"type": "connected", "data": {"availableStreams": [...], ...}}``;
  the available streams are those in the JWT's scope.
- Client commands: ``{"action": "subscribe"|"unsubscribe"|"list"|"ping", "streams": [...]}``.
  Replies (NOTES): ``subscribed`` (with ``subscribed``, ``rejected`` streams,
  ``rejectedReason`` and ``active``), ``unsubscribed``, ``subscriptions`` (to ``list``). No
  reply to ``ping`` is documented.
- Events: ``{"stream", "type", "ts" (ms), "data"}``.
- ``{"type": "heartbeat"}`` every 30 s; three missed means the connection is dead.
- Close codes: 1000 normal, 1001 going away, 4001 invalid or expired JWT,
  4002 insufficient token balance, 4003 rate limit exceeded, 4004 subscription not
  in JWT scope.

Choices where the documents are silent:

- Any frame, not only a heartbeat, proves the connection alive: a server that is
  sending data is not dead. Silence for three heartbeat intervals is.
- 1000 and 1001 from the server mean "reconnect": a stream client that wants data
  has no reason to stay away after maintenance or a normal server-side close.
- 4003 reconnects after a long back-off (at least 30 s by default); 4001, 4002 and
  4004 stop, since the same token would be refused again.
- Replies carry no request id. A ``subscribed`` reply answers the oldest waiting subscribe
  whose streams it names (in ``subscribed`` or ``rejected``); its ``rejected`` streams are
  refused (:class:`~streamwidgets.events.Refused`), whenever it comes. Until it comes, data
  on a stream confirm that stream; a subscribe left without a reply keeps its streams
  wanted (a server need not answer). ``unsubscribe`` and ``ping`` are complete once sent:
  nothing waits for ``unsubscribed`` or a ``pong`` (a ``pong`` counts as a heartbeat).
- A message is a control message by its ``type`` (``connected``, ``heartbeat``,
  ``subscribed``, ``unsubscribed``, ``subscriptions``, ``pong``, ``error``) whatever else it
  carries, a ``stream`` field included; any other type with a ``stream`` is an event.
- ``ts`` is read in milliseconds as documented; a ``ts`` that is a date only in another
  unit (``1710000000`` is seconds) is read in that unit, with one notice saying so
  (``time_unit=`` fixes the unit instead).
- Subscribing to a stream outside ``availableStreams`` raises before anything is sent.
- ``"*"`` (every stream in scope) is accepted as a stream name.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any
from urllib.parse import urlsplit

from streamwidgets._util import checks
from streamwidgets._util.jsonutil import dumps, loads_object, preview
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
from streamwidgets.dialects._config import TimeReader, require_counts, require_seconds
from streamwidgets.dialects.auth import PARSE_ONLY_CREDENTIAL
from streamwidgets.dialects.ledger import RequestLedger
from streamwidgets.events import Control, Event, Heartbeat, Refused, Reply, ServerNotice, Welcome
from streamwidgets.exceptions import ConfigurationError, FrameError, StreamNotAvailable

__all__ = ["HYDRA_STREAMS", "HydraDialect"]

HYDRA_STREAMS = (
    "aircraft",
    "vessels",
    "alerts",
    "cyber",
    "airspace",
    "signals",
    "markets",
    "social",
    "earthquakes",
)


_STOP_CODES = {
    4001: "token invalid or expired (4001)",
    4002: "insufficient token balance (4002)",
    4004: "subscription not in the token's scope (4004)",
}


class HydraDialect(Dialect):
    """Speak the Hydra JWT stream.

    Args:
        url: the stream endpoint, e.g. ``"wss://api.hydra.app/stream"``.
        token: the JWT. It is kept in a :class:`~streamwidgets._util.secret.Secret` and only
            put in the URL at connect time.
        heartbeat_interval: seconds between the server's heartbeats (30 in production).
        missed_heartbeats: how many missed heartbeats declare the connection dead.
        rate_limit_backoff: the least wait after a 4003 close, in seconds.
        time_unit: the unit of ``ts`` (``"s"``, ``"ms"``, ``"us"``, ``"ns"``); None reads
            the documented milliseconds unless the values plainly use another unit.

    Example:
        >>> d = HydraDialect("ws://127.0.0.1:8765/stream", token="eyJ.x.y")
        >>> d.target().display_url
        'ws://127.0.0.1:8765/stream?token=***'
    """

    name = "hydra"
    wildcard = "*"

    def __init__(
        self,
        url: str,
        *,
        token: str | Secret,
        heartbeat_interval: float = 30.0,
        missed_heartbeats: int = 3,
        rate_limit_backoff: float = 30.0,
        time_unit: str | None = None,
    ) -> None:
        super().__init__()
        # endpoint() has checked the type, the ws/wss scheme and the host.
        parts = urlsplit(checks.endpoint("url", url, schemes=("ws", "wss")))
        if "token=" in parts.query:
            raise ConfigurationError("pass the JWT as token=..., not inside the URL")
        require_seconds(
            heartbeat_interval=heartbeat_interval, rate_limit_backoff=rate_limit_backoff
        )
        require_counts(missed_heartbeats=missed_heartbeats)
        self.url = url
        self.token = checks.credential("token", token)
        self.heartbeat_interval = float(heartbeat_interval)
        self.missed_heartbeats = int(missed_heartbeats)
        self.rate_limit_backoff = float(rate_limit_backoff)
        TimeReader("ms", time_unit, what="Hydra 'ts'")  # checks it
        self.time_unit = time_unit
        self.new_session()

    def new_session(self) -> None:
        super().new_session()
        self.session: dict[str, Any] = {}
        self._ledger = RequestLedger()
        self._times = TimeReader("ms", self.time_unit, what="Hydra 'ts'")

    def reset(self) -> None:
        super().reset()
        self.session = {}
        self._ledger.clear()

    def secrets(self) -> list[Secret]:
        return [self.token]

    def target(self) -> ConnectTarget:
        return ConnectTarget(
            url=url_with_secret(self.url, "token", self.token),
            display_url=url_shown(self.url, "token"),
        )

    @property
    def needs_welcome(self) -> bool:
        return True

    def parse(self, frame: str | bytes, received_ns: int) -> list[Event | Control]:
        message = loads_object(frame)
        kind = message.get("type")
        if not isinstance(kind, str):
            raise FrameError(f"message without a 'type': {preview(frame)}")
        data = message.get("data")
        control = self._control(kind, data, message, frame)
        if control is not None:
            return control
        stream = message.get("stream")
        if stream is None:
            raise FrameError(f"unknown message type {kind!r} without a stream: {preview(frame)}")
        if not isinstance(stream, str):
            raise FrameError(f"'stream' is not a string: {preview(frame)}")
        out: list[Event | Control] = [
            Event(stream, kind, data, received_ns, self._times.read(message.get("ts")))
        ]
        notice = self._times.take_notice()
        if notice is not None:
            out.append(ServerNotice(notice))
        return out

    def _control(
        self, kind: str, data: Any, message: dict[str, Any], frame: str | bytes
    ) -> list[Event | Control] | None:
        if kind == "heartbeat":
            return [Heartbeat(self._times.read(message.get("ts")))]
        if kind == "connected":
            if not isinstance(data, dict) or not isinstance(data.get("availableStreams"), list):
                raise FrameError(f"'connected' without availableStreams: {preview(frame)}")
            self.available_streams = [str(s) for s in data["availableStreams"]]
            self.session = {k: v for k, v in data.items() if k != "availableStreams"}
            return [Welcome(list(self.available_streams), dict(self.session))]
        if kind == "subscribed":
            return self._subscribed(data if isinstance(data, dict) else {})
        if kind == "subscriptions":
            return [Reply("list", data)]  # it answers list only: the oldest waits
        if kind in ("unsubscribed", "pong"):
            return [Heartbeat()]  # nothing waits for them; they still prove life
        if kind == "error":
            text = data.get("message") if isinstance(data, dict) else data
            return [ServerNotice(f"server error: {text}", data, is_error=True)]
        return None

    def _subscribed(self, data: dict[str, Any]) -> list[Event | Control]:
        granted = data.get("subscribed")
        rejected = data.get("rejected")
        reasons = data.get("rejectedReason")
        reasons = reasons if isinstance(reasons, dict) else {}
        refused = {
            str(s): str(reasons.get(s, "rejected by the server"))
            for s in (rejected if isinstance(rejected, list) else [])
        }
        named = set(refused) | {str(s) for s in (granted if isinstance(granted, list) else [])}
        entry = self._ledger.take(
            "subscribe",
            lambda e: not named or self.wildcard in e.streams or bool(named & set(e.streams)),
        )
        out: list[Event | Control] = []
        if entry is not None:
            out.append(Reply(entry.key, data))
        if refused:
            out.append(Refused(refused))
        return out

    def check_streams(self, streams: Sequence[str]) -> None:
        require_names(streams)
        known = self.available_streams
        if known is None:
            return
        missing = [s for s in streams if s != "*" and s not in known]
        if missing:
            raise StreamNotAvailable(missing, known)

    def subscribe(self, streams: Sequence[str]) -> list[Outgoing]:
        self.check_streams(streams)
        asked = tuple(dict.fromkeys(streams))
        key = self._ledger.add("subscribe", streams=asked)
        frame = dumps({"action": "subscribe", "streams": list(asked)})
        # Data on a named stream confirm it; "*" names none, so only the reply does.
        return [Outgoing(frame, key, tuple(s for s in asked if s != self.wildcard))]

    def unsubscribe(self, streams: Sequence[str]) -> list[Outgoing]:
        return [Outgoing(dumps({"action": "unsubscribe", "streams": list(streams)}))]

    def forget(self, reply_key: str) -> None:
        self._ledger.pop(reply_key)

    def list_request(self) -> Outgoing:
        """The frame that asks the server for the active and available streams; the
        ``subscriptions`` reply is awaited (NOTES documents it).

        Example:
            >>> HydraDialect("ws://h/stream", token="t").list_request().frame
            '{"action":"list"}'
        """
        return Outgoing(dumps({"action": "list"}), "list")

    def ping_request(self) -> Outgoing:
        """An application-level ping. No reply is documented, so it is complete once sent
        (a ``pong``, if the server sends one, counts as a heartbeat).

        Example:
            >>> HydraDialect("ws://h/stream", token="t").ping_request().reply_key is None
            True
        """
        return Outgoing(dumps({"action": "ping"}))

    def keepalive(self) -> Keepalive:
        return Keepalive(idle_timeout=self.heartbeat_interval * self.missed_heartbeats)

    def on_close(self, code: int | None, reason: str) -> CloseDecision:
        if code in _STOP_CODES:
            words = _STOP_CODES[code]
            return CloseDecision(CloseAction.STOP, words, auth_failure=code in (4001, 4002))
        if code == 4003:
            return CloseDecision(
                CloseAction.RECONNECT_SLOW,
                "rate limit exceeded (4003); backing off longer",
                min_delay=self.rate_limit_backoff,
            )
        return super().on_close(code, reason)

    def describe(self) -> dict[str, Any]:
        return {"dialect": self.name, "url": self.url}

    def replay_config(self) -> dict[str, Any] | None:
        return {"url": self.url, "time_unit": self.time_unit}

    @classmethod
    def parse_only(cls, config: Mapping[str, Any]) -> HydraDialect:
        """A copy that parses a recording of this feed, from its :meth:`replay_config`;
        its token is a placeholder that never goes on any wire.

        Raises:
            KeyError, ValueError, ConfigurationError: options that no longer fit.

        Example:
            >>> HydraDialect.parse_only({"url": "ws://127.0.0.1:9/stream"}).url
            'ws://127.0.0.1:9/stream'
        """
        return cls(config["url"], token=PARSE_ONLY_CREDENTIAL, time_unit=config.get("time_unit"))
