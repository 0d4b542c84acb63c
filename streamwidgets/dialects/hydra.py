"""The Hydra JWT stream.

Protocol (from the public Hydra stream document and its further public notes):

- Connect to ``wss://api.hydra.app/stream?token=<JWT>``.
- The server greets with ``{"type": "connected", "data": {"availableStreams": [...], ...}}``;
  the available streams are those in the JWT's scope.
- Client commands: ``{"action": "subscribe"|"unsubscribe"|"list"|"ping", "streams": [...]}``.
  Replies: ``subscribed`` (with ``rejected`` streams and ``rejectedReason``),
  ``unsubscribed``, ``subscriptions``, ``pong``.
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
- Replies carry no request id, so a reply answers the oldest request of its kind.
- Subscribing to a stream outside ``availableStreams`` raises before anything is sent.
- ``"*"`` (every stream in scope) is accepted as a stream name.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any
from urllib.parse import urlsplit

from ..events import Control, Event, Heartbeat, Reply, ServerNotice, Welcome
from ..exceptions import ConfigurationError, FrameError, StreamNotAvailable
from ..jsonutil import dumps, loads_object, preview
from ..secret import Secret, url_shown, url_with_secret
from .base import (
    CloseAction,
    CloseDecision,
    ConnectTarget,
    Dialect,
    Keepalive,
    Outgoing,
    require_names,
)

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

_REPLY_KEYS = {
    "subscribed": "subscribe",
    "unsubscribed": "unsubscribe",
    "subscriptions": "list",
    "pong": "ping",
}

_STOP_CODES = {
    4001: "token invalid or expired (4001)",
    4002: "insufficient token balance (4002)",
    4004: "subscription not in the token's scope (4004)",
}


class HydraDialect(Dialect):
    """Speak the Hydra JWT stream.

    Args:
        url: the stream endpoint, e.g. ``"wss://api.hydra.app/stream"``.
        token: the JWT. It is kept in a :class:`~streamwidgets.secret.Secret` and only
            put in the URL at connect time.
        heartbeat_interval: seconds between the server's heartbeats (30 in production).
        missed_heartbeats: how many missed heartbeats declare the connection dead.
        rate_limit_backoff: the least wait after a 4003 close, in seconds.

    Example:
        >>> d = HydraDialect("ws://127.0.0.1:8765/stream", token="eyJ.x.y")
        >>> d.target().display_url
        'ws://127.0.0.1:8765/stream?token=***'
    """

    name = "hydra"

    def __init__(
        self,
        url: str,
        *,
        token: str | Secret,
        heartbeat_interval: float = 30.0,
        missed_heartbeats: int = 3,
        rate_limit_backoff: float = 30.0,
    ) -> None:
        super().__init__()
        parts = urlsplit(url)
        if parts.scheme not in ("ws", "wss"):
            raise ConfigurationError(f"a Hydra URL starts with ws:// or wss://, got {url!r}")
        if "token=" in parts.query:
            raise ConfigurationError("pass the JWT as token=..., not inside the URL")
        if heartbeat_interval <= 0 or missed_heartbeats < 1:
            raise ConfigurationError(
                "heartbeat_interval must be > 0 and missed_heartbeats >= 1, "
                f"got {heartbeat_interval} and {missed_heartbeats}"
            )
        self.url = url
        self.token = Secret(token)
        self.heartbeat_interval = float(heartbeat_interval)
        self.missed_heartbeats = int(missed_heartbeats)
        self.rate_limit_backoff = float(rate_limit_backoff)
        self.session: dict[str, Any] = {}

    def reset(self) -> None:
        super().reset()
        self.session = {}

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
        stream = message.get("stream")
        data = message.get("data")
        if stream is not None:
            if not isinstance(stream, str):
                raise FrameError(f"'stream' is not a string: {preview(frame)}")
            return [Event(stream, kind, data, received_ns, _ms_to_ns(message.get("ts")))]
        if kind == "heartbeat":
            return [Heartbeat(_ms_to_ns(message.get("ts")))]
        if kind == "connected":
            if not isinstance(data, dict) or not isinstance(data.get("availableStreams"), list):
                raise FrameError(f"'connected' without availableStreams: {preview(frame)}")
            self.available_streams = [str(s) for s in data["availableStreams"]]
            self.session = {k: v for k, v in data.items() if k != "availableStreams"}
            return [Welcome(list(self.available_streams), dict(self.session))]
        if kind in _REPLY_KEYS:
            return [Reply(_REPLY_KEYS[kind], data)]
        if kind == "error":
            text = data.get("message") if isinstance(data, dict) else data
            return [ServerNotice(f"server error: {text}", data, is_error=True)]
        raise FrameError(f"unknown message type {kind!r} without a stream: {preview(frame)}")

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
        return [Outgoing(dumps({"action": "subscribe", "streams": list(streams)}), "subscribe")]

    def unsubscribe(self, streams: Sequence[str]) -> list[Outgoing]:
        return [Outgoing(dumps({"action": "unsubscribe", "streams": list(streams)}), "unsubscribe")]

    def read_subscription(self, reply: Reply) -> tuple[list[str] | None, dict[str, str]]:
        data = reply.data if isinstance(reply.data, dict) else {}
        active = data.get("active")
        reasons = data.get("rejectedReason") or {}
        rejected = {
            str(s): str(reasons.get(s, "rejected by the server"))
            if isinstance(reasons, dict)
            else "rejected by the server"
            for s in data.get("rejected") or []
        }
        return ([str(s) for s in active] if isinstance(active, list) else None), rejected

    def list_request(self) -> Outgoing:
        """The frame that asks the server for the active and available streams.

        Example:
            >>> HydraDialect("ws://h/stream", token="t").list_request().frame
            '{"action":"list"}'
        """
        return Outgoing(dumps({"action": "list"}), "list")

    def ping_request(self) -> Outgoing:
        """An application-level ping; the server answers ``pong``.

        Example:
            >>> HydraDialect("ws://h/stream", token="t").ping_request().reply_key
            'ping'
        """
        return Outgoing(dumps({"action": "ping"}), "ping")

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
        return {"url": self.url}


def _ms_to_ns(value: Any) -> int | None:
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        return None
    return int(value * 1_000_000)
