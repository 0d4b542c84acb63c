"""The Pusher-compatible stream with session bootstrap (Pusher Channels protocol 7).

Protocol (from the stream's public document and the public Pusher protocol):

- A Bearer token; no static URL. ``POST /api/v2/ws/session`` answers ``connection
  {wsHost, wsPort, appKey, forceTls}`` and the resolved channels; the socket is
  ``ws[s]://{wsHost}:{wsPort}/app/{appKey}?protocol=7&client=streamwidgets&version=...``.
- Frames ``{event, channel?, data?}``. Server data is a JSON *string* (decoded twice),
  except ``pusher:error``'s ``{message, code}`` object. ``pusher:connection_established``
  gives ``socket_id`` and ``activity_timeout``.
- ``pusher:subscribe {channel, auth?, channel_data?}`` -> ``pusher_internal:
  subscription_succeeded`` (presence: ``{"presence": {ids, hash, count}}``);
  ``pusher:unsubscribe {channel}``; ``pusher_internal:member_added`` / ``member_removed``.
- Presence (user-specific) streams need a channel signature from the auth endpoint.
- ``pusher:ping`` / ``pusher:pong`` either way; close codes 4000-4099 do not reconnect
  (4009 unauthorized), 4100-4199 reconnect after at least 1 s, 4200-4299 at once.
- States shown as Disconnected, Connecting, Connected, Reconnecting, Failed.

Choices where the documents are silent (REST shapes in
:mod:`streamwidgets.dialects.pusher_session`):

- The catalog is ``GET /api/v2/ws/streams``; each stream names its channel, where
  ``{userId}`` is replaced by the session's ``userId``. The catalog's names are
  :attr:`~PusherDialect.available_streams` (the widget's toggles). The channel auth
  endpoint is ``POST /api/v2/ws/auth`` (Pusher's form ``socket_id=&channel_name=``, with the
  Bearer token); its answer's ``channel_data`` is sent as is, since the signature covers
  that exact string.
- The bootstrap asks for the feed's ``streams=`` (all catalog streams if none are
  given); a stream the session did not resolve takes its channel from the catalog.
  Catalog and bootstrap run again before every connection attempt, so a new host,
  port or app key is followed; a token they refuse (401/403) stops the connection with
  a clear message, with no retry.
- Stream events become :class:`~streamwidgets.events.Event` with ``stream`` = the
  catalog stream of the channel (the channel name itself if unknown) and ``type`` = the
  event name; a ``timestamp`` (epoch ms) in the payload is the event time. Data that is
  a string but not JSON stays a string.
- Presence: ``subscription_succeeded`` gives one ``member`` event per member present
  (``snapshot=True``), then ``member_added`` / ``member_removed`` events; the current
  members are in :attr:`~PusherDialect.members` (at most ``max_members`` per stream).
- Subscriptions: every stream is its own ``pusher:subscribe``, all sent at once, each
  answered by its channel's ``subscription_succeeded`` (or confirmed by its data). A
  refusal refuses that stream only (:class:`~streamwidgets.events.Refused`: a notice, and
  the stream leaves the wanted set); the others go on. Refusals come as
  ``pusher:subscription_error`` or ``pusher_internal:subscription_error`` naming the
  channel (open-source servers), or as ``pusher:error`` (the Pusher service). A
  ``pusher:error`` is always a server notice, never a data row; it refuses the waiting
  subscription whose channel it carries or quotes (Pusher's "Invalid signature: Expected
  HMAC SHA256 hex digest of socket_id:channel..."), else, when it speaks of a signature
  or auth, the oldest waiting signed subscription. A channel-auth refusal rejects the
  stream before anything is sent. A stream the catalog does not offer is refused at
  connect with the catalog's names. Server texts are stripped of the token and
  signatures before they are kept.
- Keepalive: after ``activity_timeout`` seconds without any frame (the lower of the
  server's and ours, 120 s by default), one ``pusher:ping``; if nothing arrives within
  ``pong_timeout`` (30 s) more, the connection is dead and reconnects (like 4201).
  The server's ``pusher:ping`` is answered with ``pusher:pong``.
- Close codes: 4000-4099 stop (4009 as an auth failure); 4100-4199 reconnect waiting at
  least ``reconnect_delay`` (1 s) plus backoff; 4200-4299 reconnect at once (the
  connection's ``max_attempts`` still bounds a server that keeps closing); 4300-4399,
  which Pusher leaves open ("any other error"), reconnect like 4100-4199, where
  pusher-js gives up: a rate limit (4301) passes, the feed is still wanted.
- The ``closed`` state (the user closed the widget) is shown as Disconnected.
- Where the socket goes: the session names ``wsHost``, and channel signatures travel over
  that socket. A ``wsHost`` other than the REST base's host is refused (the connection
  stops, saying so) unless it is among ``ws_hosts``; ``forceTls: false`` after an
  ``https`` bootstrap (a socket in clear) is refused unless ``allow_insecure=True``.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any
from urllib.parse import urlsplit

from .. import __version__, checks
from ..events import Control, Event, Heartbeat, Refused, Reply, ServerNotice, Welcome
from ..exceptions import (
    AuthenticationFailed,
    ConfigurationError,
    ConnectionFailed,
    FrameError,
    StreamNotAvailable,
)
from ..jsonutil import dumps, loads_lenient, loads_object, preview
from ..secret import Secret, redact
from ._config import require_counts, require_seconds, to_ns
from .base import (
    CloseAction,
    CloseDecision,
    ConnectTarget,
    Dialect,
    Keepalive,
    Outgoing,
    require_names,
)
from .pusher_session import (
    ChannelAuth,
    Session,
    StreamInfo,
    authorize_channel,
    fetch_catalog,
    open_session,
)

__all__ = ["PUSHER_STATE_LABELS", "PusherDialect", "close_decision"]

PUSHER_STATE_LABELS = {
    "disconnected": "Disconnected",
    "connecting": "Connecting",
    "connected": "Connected",
    "reconnecting": "Reconnecting",
    "failed": "Failed",
    "closed": "Disconnected",
}
PING_FRAME = dumps({"event": "pusher:ping", "data": {}})
PONG_FRAME = dumps({"event": "pusher:pong", "data": {}})
# Limits: a server pinging in a loop must not grow the answer list without bound.
_MAX_ANSWERS = 16
_MAX_AWAITING = 1000


def close_decision(
    code: int | None, reason: str, *, reconnect_delay: float = 1.0
) -> CloseDecision | None:
    """What a Pusher close code means (None for codes outside 4000-4399).

    Example:
        >>> [close_decision(c, "").action.value for c in (4009, 4100, 4200, 4301)]
        ['stop', 'reconnect_slow', 'reconnect', 'reconnect_slow']
        >>> close_decision(4201, "").max_delay, close_decision(1000, "") is None
        (0.0, True)
    """
    said = f" ({code}{': ' + reason if reason else ''})"
    if code is None or not 4000 <= code < 4400:
        return None
    if code < 4100:
        if code == 4009:
            return CloseDecision(
                CloseAction.STOP, f"unauthorized{said}; check the token", auth_failure=True
            )
        return CloseDecision(CloseAction.STOP, f"refused by the server{said}; not reconnecting")
    if code < 4200:
        return CloseDecision(
            CloseAction.RECONNECT_SLOW,
            f"closed by the server{said}; reconnecting after {reconnect_delay:g} s or more",
            min_delay=reconnect_delay,
        )
    if code < 4300:
        return CloseDecision(
            CloseAction.RECONNECT, f"closed by the server{said}; reconnecting now", max_delay=0.0
        )
    return CloseDecision(
        CloseAction.RECONNECT_SLOW,
        f"server error{said}; reconnecting after {reconnect_delay:g} s or more",
        min_delay=reconnect_delay,
    )


class PusherDialect(Dialect):
    """Speak the Pusher-compatible stream: bootstrap over REST, then Pusher protocol 7.

    Args:
        base_url: the REST base (``https://...``) of the catalog, session and auth calls.
        token: the Bearer token, kept in a :class:`~streamwidgets.secret.Secret`.
        streams: the streams the session bootstrap asks for (None: every catalog stream).
        activity_timeout: seconds of silence before the client pings (the server's
            value wins when lower).
        pong_timeout: seconds after that ping before the connection is declared dead.
        rest_timeout: seconds for one REST call.
        reconnect_delay: the least wait after a 4100-4399 close.
        max_members: presence members kept per stream.
        ws_hosts: hosts besides the REST base's that the session may send the socket to.
        allow_insecure: accept ``forceTls: false`` (``ws://``) after an ``https`` bootstrap.

    Example:
        >>> d = PusherDialect("http://127.0.0.1:9", token="tok", streams=["prices"])
        >>> d.describe()
        {'dialect': 'pusher', 'url': 'http://127.0.0.1:9', 'streams': ['prices']}
        >>> frame = '{"event":"price_update","channel":"market-prices","data":"{\\\\"p\\\\":1}"}'
        >>> event = d.parse(frame, 0)[0]
        >>> event.stream, event.type, event.data
        ('market-prices', 'price_update', {'p': 1})
    """

    name = "pusher"
    state_labels = PUSHER_STATE_LABELS

    def __init__(
        self,
        base_url: str,
        *,
        token: str | Secret,
        streams: Sequence[str] | None = None,
        # Timeouts
        activity_timeout: float = 120.0,
        pong_timeout: float = 30.0,
        rest_timeout: float = 10.0,
        reconnect_delay: float = 1.0,
        # Limits
        max_members: int = 1000,
        # Where the socket may go
        ws_hosts: Sequence[str] = (),
        allow_insecure: bool = False,
    ) -> None:
        super().__init__()
        checks.endpoint("base_url", base_url, schemes=("http", "https"))
        if not isinstance(base_url, str) or urlsplit(base_url).scheme not in ("http", "https"):
            raise ConfigurationError(f"base_url starts with http:// or https://, got {base_url!r}")
        if streams is not None and (
            isinstance(streams, str) or not all(isinstance(s, str) and s for s in streams)
        ):
            raise ConfigurationError(f"streams must be a list of names, got {streams!r}")
        require_seconds(
            activity_timeout=activity_timeout,
            pong_timeout=pong_timeout,
            rest_timeout=rest_timeout,
            reconnect_delay=reconnect_delay,
        )
        require_counts(max_members=max_members)
        if isinstance(ws_hosts, str) or not all(isinstance(h, str) and h for h in ws_hosts):
            raise ConfigurationError(f"ws_hosts must be a list of host names, got {ws_hosts!r}")
        if not isinstance(allow_insecure, bool):
            raise ConfigurationError(
                f"allow_insecure must be True or False, got {allow_insecure!r}"
            )
        self.ws_hosts = tuple(h.lower() for h in ws_hosts)
        self.allow_insecure = allow_insecure
        self.token = checks.credential("token", token)
        self.base_url = base_url.rstrip("/")
        self.streams = list(dict.fromkeys(streams)) if streams is not None else None
        self.activity_timeout = float(activity_timeout)
        self.pong_timeout = float(pong_timeout)
        self.rest_timeout = float(rest_timeout)
        self.reconnect_delay = float(reconnect_delay)
        self.max_members = max_members
        self._parse_only = False  # a copy made by parse_only(): no REST call, ever
        self.new_session()

    def new_session(self) -> None:
        super().new_session()
        if not self._parse_only:  # a parse-only copy's catalog is its configuration
            #: The stream catalog, by name (read before every connection attempt).
            self.catalog: dict[str, StreamInfo] = {}
            self._streams_of: dict[str, str] = {}  # channel -> stream
        #: The current session (None before the first bootstrap).
        self.session: Session | None = None
        #: How many session bootstraps this connection made.
        self.bootstraps = 0
        #: Presence members per stream: user_id -> user_info.
        self.members: dict[str, dict[str, Any]] = {}
        self.socket_id: str | None = None
        self.server_activity_timeout: float | None = None
        self._auths: dict[str, ChannelAuth] = {}  # channel -> signature of this socket
        self._answers: list[str] = []
        self._awaiting: dict[str, None] = {}  # channels subscribed, not yet answered

    @classmethod
    def parse_only(cls, config: Mapping[str, Any], *, token: str) -> PusherDialect:
        """A copy that parses what a live session received, from its :meth:`replay_config`.

        It knows the catalog and the channel -> stream mapping the live session resolved,
        so it needs no REST call: its :meth:`prepare` and :meth:`authorize` do nothing.
        ``token`` is a placeholder the copy never sends anywhere.

        Example:
            >>> live = PusherDialect("http://127.0.0.1:9", token="tok", streams=["portfolio"])
            >>> live.catalog = {"portfolio": StreamInfo("portfolio", "presence",
            ...                                          "presence-portfolio-{userId}")}
            >>> live._streams_of = {"presence-portfolio-u1": "portfolio"}
            >>> copy = PusherDialect.parse_only(live.replay_config(), token="unused")
            >>> frame = '{"event":"balance_update","channel":"presence-portfolio-u1","data":"{}"}'
            >>> copy.parse(frame, 0)[0].stream, copy.replay_config() == live.replay_config()
            ('portfolio', True)
        """
        copy = cls(
            config["base_url"],
            token=token,
            streams=config.get("streams"),
            max_members=int(config.get("max_members", 1000)),
        )
        copy._parse_only = True
        copy.catalog = {
            str(name): StreamInfo(str(name), str(info["type"]), str(info["channel"]))
            for name, info in dict(config.get("catalog") or {}).items()
        }
        copy._streams_of = {
            str(channel): str(stream)
            for channel, stream in dict(config.get("channels") or {}).items()
        }
        return copy

    # Session ------------------------------------------------------------------

    def reset(self) -> None:
        super().reset()
        self.socket_id = None
        self.server_activity_timeout = None
        self.members = {}
        self._auths = {}
        self._answers = []
        self._awaiting = {}

    def secrets(self) -> list[Secret]:
        out = [self.token]
        for signed in self._auths.values():
            out.append(signed.auth)
            # A server may echo the bare signature ("... but got <hex>"): mask it alone too
            # (only when long enough that masking it cannot eat ordinary words).
            bare = signed.auth.reveal().rpartition(":")[2]
            if len(bare) >= 16:
                out.append(Secret(bare))
        return out

    async def prepare(self) -> None:
        """Read the catalog and bootstrap a session (again before every attempt).

        A :meth:`parse_only` copy does nothing here: it calls no REST endpoint.
        """
        if self._parse_only:
            return
        catalog = await fetch_catalog(self.token, self.base_url, timeout=self.rest_timeout)
        self.catalog = {s.name: s for s in catalog}
        wanted = self.streams if self.streams is not None else list(self.catalog)
        self.bootstraps += 1
        self.session = await open_session(
            self.token, self.base_url, wanted, timeout=self.rest_timeout
        )
        self._streams_of = {self.channel_of(s): s for s in self.catalog}
        self._streams_of.update({c: s for s, c in self.session.channels.items()})

    def target(self) -> ConnectTarget:
        session = self.session
        if session is None:
            raise ConfigurationError("no session yet: the connection calls prepare() first")
        self._check_destination(session)
        scheme = "wss" if session.force_tls else "ws"
        url = (
            f"{scheme}://{session.ws_host}:{session.ws_port}/app/{session.app_key}"
            f"?protocol=7&client=streamwidgets&version={__version__}"
        )
        # The app key is public in Pusher (every browser client holds it).
        return ConnectTarget(url=url, display_url=url)

    def _check_destination(self, session: Session) -> None:
        rest = urlsplit(self.base_url)
        host = session.ws_host.lower()
        if host != (rest.hostname or "") and host not in self.ws_hosts:
            raise ConfigurationError(
                f"the session sends the socket to {host!r}, not to the REST host "
                f"{rest.hostname!r}; channel signatures would go there: if you trust it, "
                f"pass ws_hosts=[{host!r}]"
            )
        if rest.scheme == "https" and not session.force_tls and not self.allow_insecure:
            raise ConfigurationError(
                "the session asks for an unencrypted socket (forceTls: false) after an https "
                "bootstrap; channel signatures would travel in clear: pass "
                "allow_insecure=True to accept it"
            )

    @property
    def needs_welcome(self) -> bool:
        return True

    def channel_of(self, stream: str) -> str:
        """The channel of a stream: the session's, else the catalog's template, else its name.

        Example:
            >>> PusherDialect("http://h", token="t").channel_of("prices")
            'prices'
        """
        session = self.session
        if session is not None and stream in session.channels:
            return session.channels[stream]
        info = self.catalog.get(stream)
        if info is None:
            return stream
        user = session.user_id if session is not None and session.user_id else "me"
        return info.channel.replace("{userId}", user)

    # Frames -------------------------------------------------------------------

    def parse(self, frame: str | bytes, received_ns: int) -> list[Event | Control]:
        message = loads_object(frame)
        name = message.get("event")
        if not isinstance(name, str) or not name:
            raise FrameError(f"message without an 'event': {preview(frame)}")
        channel = message.get("channel")
        if channel is not None and not isinstance(channel, str):
            raise FrameError(f"'channel' is not a string: {preview(frame)}")
        data = _decode(message.get("data"))
        if channel is None:
            return self._connection_event(name, data, frame)
        stream = self._streams_of.get(channel, channel)
        if name.startswith("pusher_internal:") or name.startswith("pusher:"):
            return self._channel_event(name, channel, stream, data, received_ns)
        event_ns = to_ns(data.get("timestamp"), "ms") if isinstance(data, dict) else None
        return [Event(stream, name, data, received_ns, event_ns)]

    def _connection_event(self, name: str, data: Any, frame: str | bytes) -> list[Event | Control]:
        if name == "pusher:connection_established":
            if not isinstance(data, dict) or not isinstance(data.get("socket_id"), str):
                raise FrameError(f"connection_established without socket_id: {preview(frame)}")
            self.socket_id = data["socket_id"]
            timeout = data.get("activity_timeout")
            if isinstance(timeout, (int, float)) and not isinstance(timeout, bool) and timeout > 0:
                self.server_activity_timeout = float(timeout)
            self.available_streams = list(self.catalog)
            info = {"socket_id": self.socket_id, "activity_timeout": self.server_activity_timeout}
            return [Welcome(list(self.available_streams), info)]
        if name == "pusher:ping":
            if len(self._answers) < _MAX_ANSWERS:
                self._answers.append(PONG_FRAME)
            return [Heartbeat()]
        if name == "pusher:pong":
            return [Heartbeat()]
        if name == "pusher:error":
            return self._error(None, data)
        return [ServerNotice(f"{name}", data)]

    def _error(self, channel: str | None, data: Any) -> list[Event | Control]:
        """A ``pusher:error``: a notice, and the refusal of the subscription it concerns."""
        text = redact(
            str(data.get("message", data) if isinstance(data, dict) else data), self.secrets()
        )
        code = data.get("code") if isinstance(data, dict) else None
        said = f" ({code})" if code is not None else ""
        out: list[Event | Control] = [ServerNotice(f"server error{said}: {text}", is_error=True)]
        if channel is None:
            # Pusher's own refusal names no channel, but quotes the signed
            # "socket_id:channel"; failing that, a signature error is the oldest signed one's.
            quoted = [c for c in self._awaiting if c in text]
            signed = [c for c in self._awaiting if c in self._auths]
            if quoted:
                channel = quoted[0]
            elif signed and any(w in text.lower() for w in ("signature", "auth")):
                channel = signed[0]
        if channel is not None and channel in self._awaiting:
            out.extend(self._refusal(channel, text))
        return out

    def _refusal(self, channel: str, why: str) -> list[Event | Control]:
        self._awaiting.pop(channel, None)
        stream = self._streams_of.get(channel, channel)
        return [Reply(channel, None, error=why), Refused({stream: why})]

    def _channel_event(
        self, name: str, channel: str, stream: str, data: Any, received_ns: int
    ) -> list[Event | Control]:
        if name == "pusher_internal:subscription_succeeded":
            self._awaiting.pop(channel, None)
            out: list[Event | Control] = [Reply(channel, data)]
            presence = data.get("presence") if isinstance(data, dict) else None
            if isinstance(presence, dict):
                known = presence.get("hash")
                known = known if isinstance(known, dict) else {}
                ids = presence.get("ids")
                ids = ids if isinstance(ids, list) else list(known)
                members = self.members[stream] = {}
                for user in ids[: self.max_members]:
                    members[str(user)] = known.get(user)
                    member = {"user_id": str(user), "user_info": known.get(user)}
                    out.append(Event(stream, "member", member, received_ns, snapshot=True))
            return out
        if name in ("pusher:subscription_error", "pusher_internal:subscription_error"):
            said = data.get("error", data.get("message", data)) if isinstance(data, dict) else data
            return self._refusal(channel, redact(str(said), self.secrets()))
        if name == "pusher:error":
            return self._error(channel, data)
        if name == "pusher_internal:member_added" and isinstance(data, dict):
            members = self.members.setdefault(stream, {})
            user = str(data.get("user_id"))
            if user in members or len(members) < self.max_members:
                members[user] = data.get("user_info")
            return [Event(stream, "member_added", data, received_ns)]
        if name == "pusher_internal:member_removed" and isinstance(data, dict):
            self.members.get(stream, {}).pop(str(data.get("user_id")), None)
            return [Event(stream, "member_removed", data, received_ns)]
        # Another protocol event on a channel (pusher_internal:subscription_count...):
        # the protocol's own business, not the stream's data.
        return [ServerNotice(f"{name} on {stream}", data)]

    def take_answers(self) -> Sequence[str]:
        if not self._answers:
            return ()
        answers, self._answers = self._answers, []
        return answers

    # Subscriptions ------------------------------------------------------------

    def check_streams(self, streams: Sequence[str]) -> None:
        require_names(streams)
        if self.available_streams is not None:
            missing = [s for s in streams if s not in self.available_streams]
            if missing:
                raise StreamNotAvailable(missing, list(self.available_streams))

    async def authorize(self, streams: Sequence[str]) -> dict[str, str]:
        """Sign this socket's subscription to every presence stream among ``streams``.

        A :meth:`parse_only` copy signs nothing and calls no REST endpoint.
        """
        refused: dict[str, str] = {}
        if self._parse_only:
            return refused
        for stream in streams:
            info = self.catalog.get(stream)
            channel = self.channel_of(stream)
            if info is None or not info.needs_auth or channel in self._auths:
                continue
            if self.socket_id is None:
                refused[stream] = "not connected (no socket_id to sign)"
                continue
            try:
                self._auths[channel] = await authorize_channel(
                    self.token, self.base_url, self.socket_id, channel, timeout=self.rest_timeout
                )
            except AuthenticationFailed as exc:
                refused[stream] = f"channel auth refused (HTTP {exc.code})"
            except ConnectionFailed as exc:
                refused[stream] = exc.reason
        return refused

    def subscribe(self, streams: Sequence[str]) -> list[Outgoing]:
        self.check_streams(streams)
        out = []
        for stream in streams:
            channel = self.channel_of(stream)
            self._streams_of[channel] = stream
            data: dict[str, Any] = {"channel": channel}
            signed = self._auths.get(channel)
            if signed is not None:
                data["auth"] = signed.auth.reveal()
                if signed.channel_data is not None:
                    data["channel_data"] = signed.channel_data
            frame = dumps({"event": "pusher:subscribe", "data": data})
            out.append(Outgoing(frame, channel, (stream,)))
            if len(self._awaiting) < _MAX_AWAITING:
                self._awaiting[channel] = None
        return out

    def unsubscribe(self, streams: Sequence[str]) -> list[Outgoing]:
        out = []
        for stream in streams:
            channel = self.channel_of(stream)
            self.members.pop(stream, None)
            self._awaiting.pop(channel, None)
            # A new subscription needs a new signature: drop the used one.
            self._auths.pop(channel, None)
            frame = dumps({"event": "pusher:unsubscribe", "data": {"channel": channel}})
            out.append(Outgoing(frame))
        return out

    # Liveness and closing -----------------------------------------------------

    def keepalive(self) -> Keepalive:
        idle = self.activity_timeout
        if self.server_activity_timeout is not None:
            idle = min(idle, self.server_activity_timeout)
        return Keepalive(
            idle_timeout=idle + self.pong_timeout,
            ping_interval=idle,
            ping_frame=PING_FRAME,
            protocol_ping_interval=None,
            ping_when_idle=True,
        )

    def on_close(self, code: int | None, reason: str) -> CloseDecision:
        decision = close_decision(code, reason, reconnect_delay=self.reconnect_delay)
        return decision if decision is not None else super().on_close(code, reason)

    def describe(self) -> dict[str, Any]:
        facts: dict[str, Any] = {"dialect": self.name, "url": self.base_url}
        if self.streams is not None:
            facts["streams"] = list(self.streams)
        return facts

    def replay_config(self) -> dict[str, Any] | None:
        """What a :meth:`parse_only` copy needs to turn the recorded frames into the same events.

        Kept: the REST base URL and the asked-for streams (as :meth:`describe` shows them),
        ``max_members`` (it bounds the presence snapshot rows), the catalog's stream names
        with their kind and channel template, and the channel -> stream mapping the session
        resolved (a presence channel names the user, e.g. ``presence-portfolio-<userId>``).
        None of it is secret: user ids and channel names travel in every frame of the feed,
        and the app key is public in Pusher. Left out: the Bearer token, the channel
        signatures and the socket id (the copy reads it from the recorded welcome). Before
        the first bootstrap the catalog and mapping are empty; a recording made from the
        start picks them up once the session is resolved (see
        :mod:`streamwidgets.recording`).
        """
        return {
            "base_url": self.base_url,
            "streams": None if self.streams is None else list(self.streams),
            "max_members": self.max_members,
            "catalog": {
                name: {"type": info.type, "channel": info.channel}
                for name, info in self.catalog.items()
            },
            "channels": dict(self._streams_of),
        }


def _decode(data: Any) -> Any:
    # Server data is JSON inside a JSON string; a string that is not JSON stays a string.
    if isinstance(data, str):
        try:
            return loads_lenient(data)
        except ValueError:
            return data
    return data
