"""Pusher Channels protocol 7, the part every Pusher feed shares (no I/O).

Both Pusher feeds speak it: :mod:`streamwidgets.dialects.pusher.session_feed` (a REST session
bootstrap says where the socket is) and :mod:`streamwidgets.dialects.pusher.app` (a
plain app: key and cluster or host). They differ only in where the socket is, what a
stream's channel is, and how channel signatures are fetched; :class:`PusherProtocol`
is everything else.

Facts, from Pusher's public protocol document ("Pusher Channels Protocol",
pusher.com/docs/channels/library_auth_reference/pusher-websockets-protocol) as
``shared/seeds/NOTES.md`` summarises it:

- The socket is ``ws[s]://{host}:{port}/app/{key}?protocol=7&client=...&version=...``.
- Frames are JSON text ``{event, channel?, data?, user_id?}``. Server ``data`` is a
  JSON-encoded string (decoded twice; a string that is no JSON stays a string), except
  ``pusher:error``'s ``{message, code}`` object. Client ``data`` is an object.
- ``pusher:connection_established`` gives ``socket_id`` and ``activity_timeout`` (s).
- ``pusher:subscribe {channel, auth?, channel_data?}`` ->
  ``pusher_internal:subscription_succeeded`` (presence: ``{"presence": {ids, hash,
  count}}``); ``pusher:unsubscribe {channel}``; ``pusher_internal:member_added
  {user_id, user_info}`` / ``member_removed {user_id}``.
- ``pusher:ping`` / ``pusher:pong`` either way: after ``activity_timeout`` seconds
  without a message the client pings; no answer within a pong timeout (30 s) means the
  connection is dead.
- Close codes: 4000-4099 do not reconnect (4000: the app accepts only TLS; 4009: the
  connection is unauthorized), 4100-4199 reconnect after at least 1 s with backoff,
  4200-4299 reconnect at once (4201: pong not received, 4202: closed after
  inactivity), 4300-4399 any other error (4301: client event rate limit).
- User authentication (Pusher's "User authentication" page): the client sends
  ``pusher:signin {auth, user_data}``; the server answers ``pusher:signin_success
  {user_data}``, where ``user_data`` is a JSON string with a non-empty string ``id``;
  the user's own events then come on the channel ``#server-to-user-{id}``, which
  pusher-js subscribes to after a sign-in (its ``src/core/user.ts``), as we do.

Choices where the documents are silent:

- Every stream is its own ``pusher:subscribe``, all sent at once, each answered by its
  channel's ``subscription_succeeded`` (or confirmed by its data). A refusal refuses
  that stream only. Refusals come as ``pusher:subscription_error`` or
  ``pusher_internal:subscription_error`` naming the channel (open-source servers), or
  as ``pusher:error`` (the Pusher service), which names no channel: it refuses the
  waiting subscription whose channel it quotes ("Invalid signature: Expected HMAC SHA256
  hex digest of socket_id:channel..."), else, when it quotes ``::user::`` or a sign-in
  is the only signed request waiting, the sign-in, else, when it speaks of a signature
  or auth, the oldest waiting signed subscription. A ``pusher:error`` is never a data row.
- A refused sign-in ends the connection (:class:`~streamwidgets.exceptions.
  AuthenticationFailed`): the same user authentication would be refused again.
- 4300-4399, which Pusher leaves open ("any other error"), reconnect like 4100-4199,
  where pusher-js gives up: a rate limit (4301) passes, the feed is still wanted.
- Presence: ``subscription_succeeded`` gives one ``member`` event per member present
  (``snapshot=True``), then ``member_added`` / ``member_removed`` events; the current
  members are in :attr:`PusherProtocol.members` (at most ``max_members`` per stream).
- Server texts are stripped of every secret (signatures too) before they are kept.

Ending a socket from the dialect: a subclass calls :meth:`PusherProtocol.end_socket`
with a :class:`~streamwidgets.exceptions.ConnectionFailed` (transient: the connection
reconnects with its backoff), an :class:`~streamwidgets.exceptions.AuthenticationFailed`
or a :class:`~streamwidgets.exceptions.ConfigurationError` (the connection stops). The
connection asks :meth:`~PusherProtocol.take_answers` after every frame, inside the
socket's session, where these exceptions mean exactly that (as from ``prepare()``);
:meth:`~PusherProtocol.subscribe` then sends only a ``pusher:ping``, whose pong is the
frame that ends the socket at once.

Example:
    >>> close_decision(4009, "").reason
    'unauthorized (4009); check the token'
    >>> decode_data('{"p": 1}'), decode_data("plain text")
    ({'p': 1}, 'plain text')
"""

from __future__ import annotations

import re
from collections import deque
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from streamwidgets._util.jsonutil import dumps, loads_lenient, loads_object, preview
from streamwidgets._util.secret import Secret, redact
from streamwidgets._util.version import VERSION as __version__
from streamwidgets.connection.dialect import (
    CloseAction,
    CloseDecision,
    Dialect,
    Keepalive,
    Outgoing,
)
from streamwidgets.dialects._config import require_counts, require_seconds, to_ns
from streamwidgets.events import Control, Event, Heartbeat, Refused, Reply, ServerNotice, Welcome
from streamwidgets.exceptions import (
    AuthenticationFailed,
    ConfigurationError,
    ConnectionFailed,
    FrameError,
    StreamError,
)

__all__ = [
    "PING_FRAME",
    "PONG_FRAME",
    "PUSHER_STATE_LABELS",
    "ChannelAuth",
    "PusherProtocol",
    "bare_signature",
    "close_decision",
    "decode_data",
    "socket_url",
]

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
#: The channel Pusher sends a signed-in user's own events on (pusher-js's name).
USER_CHANNEL_PREFIX = "#server-to-user-"
# Limits: a server pinging in a loop must not grow the answer list without bound.
_MAX_ANSWERS = 16
_MAX_AWAITING = 1000
#: Signatures of earlier sockets still masked (a late log line, a server quoting one).
_MAX_SPENT = 32


@dataclass(frozen=True, slots=True)
class ChannelAuth:
    """A channel signature (secret) and, for presence, the exact channel_data it signs."""

    auth: Secret = field(repr=False)
    channel_data: str | None = None


def socket_url(*, tls: bool, host: str, port: int, key: str) -> str:
    """The socket URL of Pusher protocol 7 (the app key is public: every browser holds it).

    Example:
        >>> socket_url(tls=True, host="ws-mt1.pusher.com", port=443, key="k1")
        'wss://ws-mt1.pusher.com:443/app/k1?protocol=7&client=streamwidgets&version=...'
        >>> socket_url(tls=False, host="::1", port=6001, key="k1").split("?")[0]
        'ws://[::1]:6001/app/k1'
    """
    scheme = "wss" if tls else "ws"
    shown = f"[{host}]" if ":" in host else host
    return (
        f"{scheme}://{shown}:{port}/app/{key}?protocol=7&client=streamwidgets&version={__version__}"
    )


def close_decision(
    code: int | None,
    reason: str,
    *,
    reconnect_delay: float = 1.0,
    unauthorized: str = "check the token",
) -> CloseDecision | None:
    """What a Pusher close code means (None for codes outside 4000-4399).

    Args:
        code: the close code (None: the socket broke without one).
        reason: the server's close reason, already masked.
        reconnect_delay: the least wait after 4100-4199 and 4300-4399, in seconds.
        unauthorized: what a 4009 tells the user to do.

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
                CloseAction.STOP, f"unauthorized{said}; {unauthorized}", auth_failure=True
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


def decode_data(data: Any) -> Any:
    """Server data: JSON inside a JSON string; a string that is not JSON stays a string."""
    if isinstance(data, str):
        try:
            return loads_lenient(data)
        except ValueError:
            return data
    return data


class PusherProtocol(Dialect):
    """The Pusher protocol half of a Pusher feed (see the module docstring).

    Subclasses say where the socket is (:meth:`target`), what a stream's channel is
    (:meth:`channel_of`; by default the stream's own name), which streams need a channel
    signature (:meth:`needs_auth`), how one is fetched (:meth:`sign`) and what a failure
    to fetch one means (:meth:`auth_failed`); they call :meth:`new_session` at the end of
    their ``__init__``.

    Args:
        activity_timeout: seconds of silence before the client pings (the server's value
            wins when lower).
        pong_timeout: seconds after that ping before the connection is declared dead.
        reconnect_delay: the least wait after a 4100-4199 or 4300-4399 close, in seconds.
        max_members: presence members kept per stream.
    """

    state_labels = PUSHER_STATE_LABELS
    #: What a 4009 close tells the user to do.
    unauthorized_hint = "check the token"
    #: True for a copy that only parses recorded frames: it signs and fetches nothing.
    _parse_only = False

    def __init__(
        self,
        *,
        activity_timeout: float = 120.0,
        pong_timeout: float = 30.0,
        reconnect_delay: float = 1.0,
        max_members: int = 1000,
    ) -> None:
        super().__init__()
        require_seconds(
            activity_timeout=activity_timeout,
            pong_timeout=pong_timeout,
            reconnect_delay=reconnect_delay,
        )
        require_counts(max_members=max_members)
        self.activity_timeout = float(activity_timeout)
        self.pong_timeout = float(pong_timeout)
        self.reconnect_delay = float(reconnect_delay)
        self.max_members = max_members

    def new_session(self) -> None:
        super().new_session()
        if not self._parse_only:  # a parse-only copy's mapping is its configuration
            self._streams_of: dict[str, str] = {}  # channel -> stream
        self._spent: deque[Secret] = deque(maxlen=_MAX_SPENT)
        self._protocol_state()

    def _protocol_state(self) -> None:
        #: Presence members per stream: user_id -> user_info.
        self.members: dict[str, dict[str, Any]] = {}
        self.socket_id: str | None = None
        self.server_activity_timeout: float | None = None
        #: The signed-in user's ``user_data`` (decoded), after ``pusher:signin_success``.
        self.user_data: dict[str, Any] | None = None
        self._auths: dict[str, ChannelAuth] = {}  # channel -> signature of this socket
        self._answers: list[str] = []
        self._awaiting: dict[str, None] = {}  # channels subscribed, not yet answered
        self._signin_waiting = False
        self._ending: StreamError | None = None

    def reset(self) -> None:
        super().reset()
        self._spent.extend(signed.auth for signed in self._auths.values())
        self._protocol_state()

    # What subclasses provide --------------------------------------------------

    def channel_of(self, stream: str) -> str:
        """The channel of a stream (by default its own name)."""
        return stream

    def needs_auth(self, stream: str, channel: str) -> bool:
        """True when subscribing to ``stream`` needs a channel signature."""
        return channel.startswith(("private-", "presence-"))

    async def sign(self, channel: str) -> ChannelAuth:
        """Fetch this socket's signature for ``channel``.

        Raises:
            ConnectionFailed: it could not be fetched (AuthenticationFailed: refused).
            ConfigurationError: it cannot be fetched as configured.
        """
        raise NotImplementedError

    def auth_failed(self, stream: str, error: StreamError) -> str | None:
        """What a failed :meth:`sign` means: the stream's refusal (its reason), or None
        when the subclass ended the socket instead (:meth:`end_socket`)."""
        self.end_socket(error)
        return None

    def offered(self) -> list[str] | None:
        """The streams the welcome makes available (None: the feed does not say)."""
        return None

    def before_subscribe(self) -> list[Outgoing]:
        """Frames to send ahead of a batch of subscribes (a sign-in)."""
        return []

    # Session ------------------------------------------------------------------

    def signature_secrets(self) -> list[Secret]:
        """This socket's channel signatures (and a few of earlier sockets'), each also as its
        bare hex (a server may quote it)."""
        out = []
        for auth in [*(signed.auth for signed in self._auths.values()), *self._spent]:
            out.append(auth)
            out.extend(bare_signature(auth))
        return out

    def end_socket(self, error: StreamError) -> None:
        """End this socket at the next frame: a :class:`ConnectionFailed` reconnects with the
        connection's backoff; an :class:`AuthenticationFailed` or a
        :class:`ConfigurationError` stops it (see the module docstring). The first wins.

        Example:
            >>> d = PusherProtocol()
            >>> d.new_session()
            >>> d.end_socket(ConnectionFailed("auth endpoint down"))
            >>> d.take_answers()
            Traceback (most recent call last):
            ...
            streamwidgets.exceptions.ConnectionFailed: auth endpoint down
        """
        if self._ending is None:
            self._ending = error

    @property
    def needs_welcome(self) -> bool:
        return True

    def stream_of(self, channel: str) -> str:
        """The stream a channel's events belong to (the channel itself if unknown)."""
        return self._streams_of.get(channel, channel)

    # Frames -------------------------------------------------------------------

    def parse(self, frame: str | bytes, received_ns: int) -> list[Event | Control]:
        message = loads_object(frame)
        name = message.get("event")
        if not isinstance(name, str) or not name:
            raise FrameError(f"message without an 'event': {preview(frame)}")
        channel = message.get("channel")
        if channel is not None and not isinstance(channel, str):
            raise FrameError(f"'channel' is not a string: {preview(frame)}")
        data = decode_data(message.get("data"))
        if channel is None:
            return self._connection_event(name, data, frame)
        stream = self.stream_of(channel)
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
            offered = self.offered()
            self.available_streams = offered
            info = {"socket_id": self.socket_id, "activity_timeout": self.server_activity_timeout}
            return [Welcome(None if offered is None else list(offered), info)]
        if name == "pusher:ping":
            if len(self._answers) < _MAX_ANSWERS:
                self._answers.append(PONG_FRAME)
            return [Heartbeat()]
        if name == "pusher:pong":
            return [Heartbeat()]
        if name == "pusher:error":
            return self._error(None, data)
        if name == "pusher:signin_success":
            return self._signed_in(data)
        return [ServerNotice(f"{name}", data)]

    def _signed_in(self, data: Any) -> list[Event | Control]:
        self._signin_waiting = False
        raw = data.get("user_data") if isinstance(data, dict) else None
        user = decode_data(raw) if isinstance(raw, str) else None
        if not isinstance(user, dict) or not isinstance(user.get("id"), str) or not user["id"]:
            return [ServerNotice("sign-in answered without a user id", data, is_error=True)]
        self.user_data = user
        # The user's own events (Pusher's "sending events to authenticated users").
        channel = USER_CHANNEL_PREFIX + user["id"]
        if len(self._answers) < _MAX_ANSWERS:
            self._answers.append(dumps({"event": "pusher:subscribe", "data": {"channel": channel}}))
        return [ServerNotice(f"signed in as user {user['id']}")]

    def _error(self, channel: str | None, data: Any) -> list[Event | Control]:
        """A ``pusher:error``: a notice, and the refusal of the request it concerns."""
        text = redact(
            str(data.get("message", data) if isinstance(data, dict) else data), self.secrets()
        )
        code = data.get("code") if isinstance(data, dict) else None
        said = f" ({code})" if code is not None else ""
        out: list[Event | Control] = [ServerNotice(f"server error{said}: {text}", is_error=True)]
        if channel is None and isinstance(code, int) and 4000 <= code <= 4999:
            # A coded error is about the connection or client events (4301: rate limit),
            # never the refusal of a subscription, whatever words it holds.
            return out
        if channel is None:
            # Pusher's own refusal names no channel, but quotes the signed
            # "socket_id:channel" (or "socket_id::user::..." for a sign-in); failing that,
            # a signature error is the sign-in's or the oldest signed subscription's.
            quoted = [c for c in self._awaiting if _quotes_signed(text, self.socket_id, c)]
            signed = [c for c in self._awaiting if c in self._auths]
            if quoted:
                channel = quoted[0]
            elif self._signin_waiting and (
                "::user::" in text or (not signed and _about_signin(text))
            ):
                self._signin_waiting = False
                self.end_socket(AuthenticationFailed(f"the server refused the sign-in: {text}"))
                return out
            elif signed and _about_auth(text):
                channel = signed[0]
        if channel is not None and channel in self._awaiting:
            out.extend(self._refusal(channel, text))
        return out

    def _refusal(self, channel: str, why: str) -> list[Event | Control]:
        self._awaiting.pop(channel, None)
        stream = self.stream_of(channel)
        return [Reply(channel, None, error=why), Refused({stream: why})]

    def _channel_event(
        self, name: str, channel: str, stream: str, data: Any, received_ns: int
    ) -> list[Event | Control]:
        if name == "pusher_internal:subscription_succeeded":
            self._awaiting.pop(channel, None)
            out: list[Event | Control] = [Reply(channel, data)]
            presence = data.get("presence") if isinstance(data, dict) else None
            if isinstance(presence, dict):
                out.extend(self._members_present(stream, presence, received_ns))
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

    def _members_present(
        self, stream: str, presence: dict[str, Any], received_ns: int
    ) -> list[Event | Control]:
        known = presence.get("hash")
        known = known if isinstance(known, dict) else {}
        ids = presence.get("ids")
        ids = ids if isinstance(ids, list) else list(known)
        members = self.members[stream] = {}
        out: list[Event | Control] = []
        for user in ids[: self.max_members]:
            members[str(user)] = known.get(user)
            member = {"user_id": str(user), "user_info": known.get(user)}
            out.append(Event(stream, "member", member, received_ns, snapshot=True))
        return out

    def take_answers(self) -> Sequence[str]:
        ending = self._ending
        if ending is not None:
            # Raised inside the socket's session: the connection reconnects or stops.
            self._ending = None
            raise ending
        if not self._answers:
            return ()
        answers, self._answers = self._answers, []
        return answers

    # Subscriptions ------------------------------------------------------------

    async def authorize(self, streams: Sequence[str]) -> dict[str, str]:
        """Sign this socket's subscription to every stream among ``streams`` that needs it.

        A parse-only copy signs nothing. A stream whose signature could not be fetched is
        refused or ends the socket, as :meth:`auth_failed` says.
        """
        refused: dict[str, str] = {}
        if self._parse_only:
            return refused
        for stream in streams:
            channel = self.channel_of(stream)
            if self._ending is not None:
                break  # this socket is ending: the next one signs again
            if channel in self._auths or not self.needs_auth(stream, channel):
                continue
            if self.socket_id is None:
                refused[stream] = "not connected (no socket_id to sign)"
                continue
            socket_id = self.socket_id
            try:
                signed = await self.sign(channel)
                if self.socket_id == socket_id:  # else signed for a socket that is gone
                    self._auths[channel] = signed
            except (ConnectionFailed, ConfigurationError) as exc:
                why = self.auth_failed(stream, exc)
                if why is not None:
                    refused[stream] = why
        return refused

    def subscribe(self, streams: Sequence[str]) -> list[Outgoing]:
        self.check_streams(streams)
        if self._ending is not None:
            # Nothing more on a socket that is ending; the server's pong ends it now.
            return [Outgoing(PING_FRAME)]
        out = self.before_subscribe()
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
        decision = close_decision(
            code, reason, reconnect_delay=self.reconnect_delay, unauthorized=self.unauthorized_hint
        )
        return decision if decision is not None else super().on_close(code, reason)


def _about_auth(text: str) -> bool:
    return any(word in text.lower() for word in ("signature", "auth"))


def _about_signin(text: str) -> bool:
    return _about_auth(text) or any(w in text.lower() for w in ("signin", "sign-in", "sign in"))


def bare_signature(auth: Secret) -> list[Secret]:
    """The hex part of a ``key:signature`` auth, as a secret of its own: a server may
    quote it alone ("... but got <hex>"). Empty when too short to mask safely (masking
    it could eat ordinary words).

    Example:
        >>> bare_signature(Secret("key:" + "ab" * 32))
        [Secret('***')]
    """
    bare = auth.reveal().rpartition(":")[2]
    return [Secret(bare)] if len(bare) >= 16 else []


def _quotes_signed(text: str, socket_id: str | None, channel: str) -> bool:
    """Whether an error quotes the string signed for ``channel``, "socket_id:channel",
    as a whole (a channel named "limit" is not quoted by "... due to rate limit")."""
    signed = re.escape(f"{socket_id or ''}:{channel}")
    return re.search(rf"{signed}(?=$|[\s'\"]|,\s|,$)", text) is not None
