"""The dialect interface: everything protocol-specific about a feed, and no I/O.

A dialect turns frames into :class:`~streamwidgets.events.Event` objects and
control messages, and commands into frames. The connection's
:class:`~streamwidgets.connection.session.Session` asks it what to send and what a close
code means; the :class:`~streamwidgets.connection.driver.Connection` owns the socket and
runs the feed's :meth:`Dialect.prepare` step (its REST calls, if any).

A feed's dialect keeps its credentials as :class:`Secret` (exported here for dialect
modules: ``from streamwidgets.connection.dialect import Dialect, Secret``) and lists them in
:meth:`Dialect.secrets`, so every log line, message and recording masks them.

A feed object is configuration and may serve any number of connections: each
connection works on its own copy (:meth:`Dialect.for_connection`), which holds what that
connection learns (socket id, token, requests waiting for answers, chosen account).

Requests follow the documents, not convenience: a request whose document shows a reply
waits for it (``Outgoing.reply_key``); one whose document shows none is complete once
sent. Data that arrive on a subscribed stream confirm its subscription; a refusal comes
as a :class:`~streamwidgets.events.Refused` control message whenever it arrives.
"""

from __future__ import annotations

import copy
import enum
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from streamwidgets._util.secret import Secret
from streamwidgets.connection.backoff import Backoff
from streamwidgets.events import Control, Event
from streamwidgets.exceptions import ConfigurationError

__all__ = [
    "CloseAction",
    "CloseDecision",
    "ConnectTarget",
    "Dialect",
    "Keepalive",
    "Outgoing",
    "Secret",
    "require_names",
]


class CloseAction(enum.Enum):
    """What the connection does after the server closed or the socket broke."""

    RECONNECT = "reconnect"
    """Reconnect with the normal backoff."""
    RECONNECT_SLOW = "reconnect_slow"
    """Reconnect, but wait much longer first (rate limited)."""
    REFRESH_AUTH = "refresh_auth"
    """Renew the credentials (e.g. a JWT from a key), then reconnect."""
    STOP = "stop"
    """Give up: reconnecting with the same credentials or request cannot help."""


@dataclass(frozen=True, slots=True)
class CloseDecision:
    """A close code's meaning: what to do, and why in plain words."""

    action: CloseAction
    reason: str
    auth_failure: bool = False
    min_delay: float | None = None
    """For RECONNECT_SLOW: the least wait the feed asks for, in seconds."""
    max_delay: float | None = None
    """The most wait before reconnecting (0: at once), when the feed asks for haste."""


@dataclass(frozen=True, slots=True)
class ConnectTarget:
    """Where and how to open the socket.

    ``url`` may carry a credential in its query; :attr:`display_url` never does.
    ``first_messages`` are sent right after the socket opens (auth-by-message).
    """

    url: str = field(repr=False)
    display_url: str
    headers: Mapping[str, str] = field(default_factory=dict, repr=False)
    first_messages: Sequence[str | bytes] = field(default=(), repr=False)
    subprotocols: Sequence[str] = ()


@dataclass(frozen=True, slots=True)
class Outgoing:
    """A frame to send.

    Attributes:
        frame: the text or bytes to send.
        reply_key: the key of the reply the feed's document promises, which the sender
            waits for; None when no reply is promised: the request is complete once sent.
        streams: for a subscribe, the streams it asks for; data arriving on them confirm
            it as a reply would.
    """

    frame: str | bytes
    reply_key: str | None = None
    streams: tuple[str, ...] = ()


@dataclass(frozen=True, slots=True)
class Keepalive:
    """Keepalive rules of a feed.

    Attributes:
        idle_timeout: seconds without any frame after which the connection is dead.
        ping_interval: seconds between the client's application-level pings, if any.
        ping_frame: the ping to send (None: the feed has no app-level ping).
        protocol_ping_interval: seconds between WebSocket protocol pings the client
            sends (None: rely on the server's).
        ping_when_idle: send ``ping_frame`` only after ``ping_interval`` seconds without
            any frame (Pusher), not on a fixed clock.
    """

    idle_timeout: float | None = None
    ping_interval: float | None = None
    ping_frame: str | None = None
    protocol_ping_interval: float | None = 20.0
    ping_when_idle: bool = False


class Dialect:
    """Base class of feed dialects. Subclasses override what their protocol needs.

    A dialect object is one feed's configuration. A connection works on its own copy
    (:meth:`for_connection`), whose session state (what the server said it offers,
    requests waiting for answers...) belongs to that connection alone; :meth:`reset`
    is called on it before each attempt.
    """

    name: str = "feed"
    #: event type -> dotted path of a list of records to explode into one row each
    explode: Mapping[str, str] = {}
    #: True when the server's protocol-level pings are its proof of life, so the
    #: connection's watchdog counts them like frames.
    protocol_pings_prove_life: bool = False
    #: state value -> the word the feed's own documents use for it, for display.
    state_labels: Mapping[str, str] = {}
    #: After this many attempts in a row that the server closed right after opening,
    #: before any welcome and without a close code that says why, the connection stops
    #: as refused. None: such closes are transient (retried for ever). A feed whose
    #: document says a refused credential is closed at once, with no code (Hyperoru),
    #: sets it, so a bad token cannot cause a reconnect storm.
    silent_refusal_after: int | None = None
    #: The stream name that means "every stream the credential allows" (Hydra's ``"*"``).
    wildcard: str | None = None

    def __init__(self) -> None:
        self.available_streams: list[str] | None = None

    # Session ------------------------------------------------------------------

    def for_connection(self) -> Dialect:
        """A copy of this feed for one connection: the same configuration, a new session.

        Example:
            >>> class Demo(Dialect):
            ...     pass
            >>> feed = Demo()
            >>> session = feed.for_connection()
            >>> session is feed, type(session) is Demo
            (False, True)
        """
        session = copy.copy(self)
        session.new_session()
        return session

    def new_session(self) -> None:
        """Make the per-connection state anew. Subclasses with state of their own extend it
        and call it at the end of ``__init__`` too, so the feed object starts clean."""
        self.available_streams = None

    def reset(self) -> None:
        """Forget what the previous socket said; called before each attempt."""
        self.available_streams = None

    def secrets(self) -> list[Secret]:
        """Every credential this dialect holds, so they can be masked anywhere."""
        return []

    async def prepare(self) -> None:
        """Run steps that must happen before connecting (token exchange, session bootstrap)."""

    def target(self) -> ConnectTarget:
        """Return the URL, headers and first messages of the next connection."""
        raise NotImplementedError

    @property
    def needs_welcome(self) -> bool:
        """True when the connection must wait for a welcome before subscribing."""
        return False

    # Frames -------------------------------------------------------------------

    def parse(self, frame: str | bytes, received_ns: int) -> list[Event | Control]:
        """Turn one frame into events and control messages.

        Raises:
            FrameError: the frame is not valid for this feed. The connection
                counts it, keeps it for inspection and carries on.
        """
        raise NotImplementedError

    # Subscriptions ------------------------------------------------------------

    @property
    def supports_subscribe(self) -> bool:
        """False when the server decides what is sent (streams then filter on the client)."""
        return True

    def check_streams(self, streams: Sequence[str]) -> None:
        """Raise :class:`StreamNotAvailable` for streams the feed does not offer."""

    def subscribe(self, streams: Sequence[str]) -> list[Outgoing]:
        """Frames that subscribe to ``streams``."""
        return []

    async def authorize(self, streams: Sequence[str]) -> dict[str, str]:
        """Fetch what subscribing needs from elsewhere (channel auth); refused stream -> why.

        Called by the connection, once connected, right before :meth:`subscribe`.
        """
        return {}

    def unsubscribe(self, streams: Sequence[str]) -> list[Outgoing]:
        """Frames that unsubscribe from ``streams``."""
        return []

    def forget(self, reply_key: str) -> None:
        """Stop matching replies to a request (it timed out, or its socket closed)."""

    def take_answers(self) -> Sequence[str]:
        """Frames :meth:`parse` wants sent back at once (a pong to a server ping)."""
        return ()

    # Liveness and closing -----------------------------------------------------

    def keepalive(self) -> Keepalive:
        """The feed's keepalive rules."""
        return Keepalive()

    def reconnect_backoff(self) -> Backoff | None:
        """The reconnect delays the feed's document asks for (None: the connection's default).

        Used only when the connection is not given ``backoff=``.
        """
        return None

    def after_connect(self) -> list[Outgoing]:
        """Requests to send after every connect, once resubscribed (e.g. fetch fresh state)."""
        return []

    def requests(self, connection: Any) -> Any:
        """The feed's own request API bound to ``connection``, for feeds that have one."""
        raise ConfigurationError(f"the {self.name} feed has no requests of its own")

    def on_close(self, code: int | None, reason: str) -> CloseDecision:
        """What a close code (None: the socket broke without one) means."""
        if code in (1000, 1001, 1006, 1011, 1012, 1013, 1014, None):
            return CloseDecision(CloseAction.RECONNECT, _generic_reason(code, reason))
        if code == 1008:
            return CloseDecision(
                CloseAction.STOP, f"policy violation (1008){_detail(reason)}", auth_failure=True
            )
        return CloseDecision(CloseAction.RECONNECT, _generic_reason(code, reason))

    def on_http_status(self, status: int) -> CloseDecision:
        """What an HTTP status that refused the upgrade means."""
        if status in (401, 403):
            return CloseDecision(
                CloseAction.STOP,
                f"credentials refused by the server (HTTP {status})",
                auth_failure=True,
            )
        if status == 429:
            return CloseDecision(
                CloseAction.RECONNECT_SLOW, "too many connections (HTTP 429); backing off"
            )
        if status == 404:
            return CloseDecision(CloseAction.STOP, "no WebSocket endpoint at this URL (HTTP 404)")
        return CloseDecision(CloseAction.RECONNECT, f"upgrade refused (HTTP {status})")

    def describe(self) -> dict[str, Any]:
        """Non-secret facts about the feed, for reprs and the widget."""
        return {"dialect": self.name}

    def replay_config(self) -> dict[str, Any] | None:
        """Non-secret constructor options that rebuild this dialect to parse a recording.

        A recording stores them in its header; the dialect's ``parse_only`` classmethod
        (found by name in :mod:`streamwidgets.feeds.registry`) turns them back into a
        dialect with a placeholder credential. None: this dialect cannot be rebuilt by
        name (replay it with ``feeds.replay(path, dialect=...)``).
        """
        return None

    async def aclose(self) -> None:
        """Release what the dialect started (e.g. a replay server); the connection calls
        it once, when it closes."""

    def __repr__(self) -> str:
        facts = ", ".join(f"{k}={v!r}" for k, v in self.describe().items() if k != "dialect")
        return f"<{type(self).__name__} {facts}>"


def require_names(streams: Sequence[str], noun: str = "stream", what: str = "streams") -> None:
    """Raise :class:`~streamwidgets.exceptions.ConfigurationError` unless ``streams`` is a list
    of non-empty strings: the check every dialect's ``check_streams`` starts with.

    Args:
        streams: the names asked for.
        noun: what the feed calls one name in the message (``"channel"``...).
        what: what the message calls the whole argument.

    Example:
        >>> require_names(["trades", "book"])
        >>> require_names("trades")
        Traceback (most recent call last):
        streamwidgets.exceptions.ConfigurationError: streams must be a list of names, not one string
        >>> require_names(["trades", ""], noun="topic")
        Traceback (most recent call last):
        streamwidgets.exceptions.ConfigurationError: topic names must be non-empty strings, got ['']
    """
    if isinstance(streams, str):
        raise ConfigurationError(f"{what} must be a list of names, not one string")
    bad = [s for s in streams if not isinstance(s, str) or not s]
    if bad:
        raise ConfigurationError(f"{noun} names must be non-empty strings, got {bad!r}")


def _detail(reason: str) -> str:
    return f": {reason}" if reason else ""


def _generic_reason(code: int | None, reason: str) -> str:
    words = {
        None: "connection lost",
        1000: "server closed the connection normally",
        1001: "server going away",
        1006: "connection lost",
        1011: "server error",
        1012: "server restarting",
        1013: "server overloaded, try again later",
        1014: "bad gateway",
    }.get(code, "closed by server")
    return f"{words} ({code}){_detail(reason)}" if code is not None else f"{words}{_detail(reason)}"
