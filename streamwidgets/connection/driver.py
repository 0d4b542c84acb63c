"""The connection: the one place that owns a socket.

It runs as one asyncio task on whatever loop is running (in Jupyter, the
kernel's), and goes through these states::

    disconnected -> connecting -> connected -> reconnecting -> connected ...
                                      \\-> failed (the server refused, or a bound the user set)
    any state -> closed (the user closed it)

Every change carries its reason in plain words. Transient failures are retried for ever
(see :mod:`streamwidgets.connection.outage`); only refusals end a connection. Frames are read with a
capped socket read size and the reader yields to the loop every few events, so other
callbacks on the loop (the widget, the kernel's comms) never wait long.

Requests wait only for replies their feed's document promises; subscriptions are kept
(and re-sent after every reconnect) until the server refuses them.
"""

from __future__ import annotations

import asyncio
import contextlib
import enum
import logging
import time
from collections import deque
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, NoReturn
from urllib.parse import urlsplit

from websockets.asyncio.client import ClientConnection, connect
from websockets.exceptions import (
    ConnectionClosed,
    InvalidHandshake,
    InvalidStatus,
    InvalidURI,
)
from websockets.frames import Frame, Opcode

from streamwidgets._util import checks
from streamwidgets._util.jsonutil import LENIENT, preview
from streamwidgets._util.secret import redact_url
from streamwidgets._util.wirelog import RedactingLogger
from streamwidgets.buffer.event_buffer import EventBuffer
from streamwidgets.connection.backoff import Backoff
from streamwidgets.connection.callbacks import FailureReport
from streamwidgets.connection.consumer import ConsumerQueue, Overflow
from streamwidgets.connection.dialect import (
    CloseAction,
    CloseDecision,
    Dialect,
    Keepalive,
    Outgoing,
)
from streamwidgets.connection.outage import Outage
from streamwidgets.connection.stats import ConnectionStats, RejectedFrame
from streamwidgets.events import Event, Heartbeat, Refused, Reply, ServerNotice, Welcome
from streamwidgets.exceptions import (
    AuthenticationFailed,
    ConfigurationError,
    ConnectionFailed,
    FrameError,
    RequestError,
    StreamNotAvailable,
    SubscriptionRefused,
)
from streamwidgets.recording.history import HistoryWriter, is_history_target
from streamwidgets.recording.recorder import Recorder

if TYPE_CHECKING:
    import os


__all__ = ["CONNECTION_OPTIONS", "Connection", "State", "StateChange", "SubscriptionResult"]

#: The keyword options of :class:`Connection` that open() and StreamWidget pass on.
CONNECTION_OPTIONS = frozenset(
    {
        "open_timeout",
        "request_timeout",
        "backoff",
        "healthy_after",
        "max_attempts",
        "give_up_after",
        "max_frame_bytes",
        "read_bytes",
        "yield_every",
        "keep_rejected",
    }
)

logger = logging.getLogger(__name__)

# Limits
#: 16 MiB: a feed's initial snapshot (Hydra v1 sends the last 2 h of aircraft in one
#: message) fits, and at most max_queue (64) such frames wait in websockets' queue.
DEFAULT_MAX_FRAME_BYTES = 16 * 1024 * 1024
#: The largest max_frame_bytes accepted: 1 GiB (a frame is held whole in memory).
MAX_FRAME_BYTES = 2**30
DEFAULT_READ_BYTES = 16 * 1024
DEFAULT_YIELD_EVERY = 32
_HISTORY = 200
_MAX_PENDING_REQUESTS = 256


class State(enum.StrEnum):
    """The states of a connection."""

    DISCONNECTED = "disconnected"
    CONNECTING = "connecting"
    CONNECTED = "connected"
    RECONNECTING = "reconnecting"
    FAILED = "failed"
    CLOSED = "closed"


@dataclass(frozen=True, slots=True)
class StateChange:
    """A state the connection entered, why, and when (epoch seconds)."""

    state: State
    reason: str
    at: float
    code: int | None = None


@dataclass(frozen=True, slots=True)
class SubscriptionResult:
    """What came of a subscribe or unsubscribe.

    Attributes:
        active: the streams wanted now (re-sent after every reconnect).
        rejected: streams the server refused, with its reason; they left ``active``.
        pending: streams asked for that nothing has confirmed yet: sent to a feed whose
            document promises no reply (data on them will confirm them), sent without a
            reply in time, or waiting for the next connect. They stay wanted.
    """

    active: list[str]
    rejected: dict[str, str]
    pending: list[str] = field(default_factory=list)


class _ClientSocket(ClientConnection):
    """A client connection that reads text frames without letting bad UTF-8 end it, and
    notes when the server's last protocol ping arrived.

    websockets fails the whole connection (1007) on a text frame that is not UTF-8, as RFC
    6455 asks; one bad frame from a server must not cost every event after it, so text is
    received as bytes and decoded here (:meth:`receive`), and a bad one is a
    :class:`_BadText` the connection counts. ``process_event`` sees every frame in order,
    which is how each message's kind (text or binary) and the pings are known; websockets
    answers pings itself, so they never reach ``recv``.
    """

    last_ping_ns = 0

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        # One entry per message queued by websockets, in order: True for text.
        self._is_text: deque[bool] = deque()

    def process_event(self, event: Any) -> None:
        if isinstance(event, Frame):
            opcode = event.opcode
            if opcode is Opcode.TEXT:
                self._is_text.append(True)
            elif opcode is Opcode.BINARY:
                self._is_text.append(False)
            elif opcode is Opcode.PING:
                self.last_ping_ns = time.time_ns()
        super().process_event(event)

    async def receive(self) -> str | bytes:
        """The next message: str for text, bytes for binary.

        Raises:
            _BadText: a text message that is not UTF-8 (the connection carries on).
            ConnectionClosed: the connection ended.
        """
        data = await self.recv(decode=False)
        if not self._is_text.popleft():
            return data
        try:
            return data.decode()
        except UnicodeDecodeError as exc:
            raise _BadText(
                data, f"a text frame that is not UTF-8 ({exc.reason} at byte {exc.start})"
            ) from None


class _SameHostOnly(connect):
    """websockets' connect, refusing a redirect to another host, port or scheme.

    websockets strips only ``Authorization`` and cookies when it follows a redirect to
    another origin; a feed's own credential header (Hydra v1's ``x-api-key``) would go
    along. Credentials go only to the host the user named, so such a redirect ends the
    attempt with :class:`_CrossHostRedirect` instead.
    """

    def process_redirect(self, exc: Exception) -> Exception | str:
        target = super().process_redirect(exc)
        if isinstance(target, str):
            old, new = urlsplit(self.uri), urlsplit(target)
            if (old.scheme, old.hostname, old.port) != (new.scheme, new.hostname, new.port):
                return _CrossHostRedirect(
                    f"the server redirects to another host ({redact_url(target)}); credentials "
                    "go only to the host you named, so it is not followed: use that URL "
                    "yourself if you trust it"
                )
        return target


class _CrossHostRedirect(Exception):
    """The upgrade was redirected to another origin (not followed)."""


class _Dead(Exception):
    """Raised inside the session when the watchdog declares the connection dead."""


class _BadText(Exception):
    """A text frame that is not UTF-8: counted and kept like any malformed frame."""

    def __init__(self, data: bytes, reason: str) -> None:
        super().__init__(reason)
        self.data = data
        self.reason = reason


class _NoWelcome(Exception):
    """The socket opened but the feed's welcome did not come in time."""


class _DataWaiter:
    """A subscribe waiting for data on its streams, which confirm it like a reply."""

    __slots__ = ("confirmed", "future", "remaining")

    def __init__(self, streams: Sequence[str], future: asyncio.Future[None]) -> None:
        self.remaining = set(streams)
        self.confirmed: set[str] = set()
        self.future = future


class Connection:
    """Keep one feed connected, parsed and buffered, reconnecting as its dialect says.

    Args:
        dialect: the feed (see :mod:streamwidgets.feeds`). The connection works on its
            own copy (:attr:`dialect`), so one feed can serve any number of connections.
        streams: streams to subscribe to once connected, and after every reconnect. For a
            feed without a subscribe step they filter on the client.
        buffer: where events go; a new :class:`EventBuffer` if None.
        max_frame_bytes: frames larger than this are refused (counted, then reconnect).
        open_timeout: seconds for the TCP/TLS/WebSocket handshake, and again for the welcome.
        request_timeout: seconds to wait for a reply the feed's document promises.
        backoff: reconnection delays (default: the feed's own, else 0.5 s doubling up to 60 s).
        healthy_after: seconds a connection must last for the backoff to reset.
        max_attempts: failed attempts in one outage before giving up (None, the default:
            retry transient failures for ever).
        give_up_after: seconds of outage before giving up (None, the default: never).
        read_bytes: the socket read size; smaller reads keep the loop responsive.
        yield_every: events processed between two yields to the loop.
        keep_rejected: how many malformed frames to keep for inspection.

    Example:
        >>> import asyncio
        >>> from streamwidgets.dialects.hydra import HydraDialect
        >>> conn = Connection(HydraDialect("ws://127.0.0.1:9/stream", token="t"))
        >>> conn.state
        <State.DISCONNECTED: 'disconnected'>
    """

    def __init__(
        self,
        dialect: Dialect,
        *,
        streams: Iterable[str] = (),
        buffer: EventBuffer | None = None,
        # Timeouts
        open_timeout: float = 10.0,
        request_timeout: float = 10.0,
        # Reconnection
        backoff: Backoff | None = None,
        healthy_after: float = 5.0,
        max_attempts: int | None = None,
        give_up_after: float | None = None,
        # Limits
        max_frame_bytes: int = DEFAULT_MAX_FRAME_BYTES,
        read_bytes: int = DEFAULT_READ_BYTES,
        yield_every: int = DEFAULT_YIELD_EVERY,
        keep_rejected: int = 100,
    ) -> None:
        if not isinstance(dialect, Dialect):
            raise ConfigurationError(f"expected a feed dialect, got {type(dialect).__name__}")
        streams = checks.stream_names(streams)
        if backoff is not None and not isinstance(backoff, Backoff):
            raise checks.ArgumentTypeError(
                f"backoff must be a streamwidgets.connection.backoff.Backoff, got {backoff!r}"
            )
        if buffer is not None and not isinstance(buffer, EventBuffer):
            raise checks.ArgumentTypeError(f"buffer must be an EventBuffer, got {buffer!r}")
        open_timeout = checks.seconds("open_timeout", open_timeout)
        request_timeout = checks.seconds("request_timeout", request_timeout)
        healthy_after = checks.seconds("healthy_after", healthy_after)
        give_up_after = checks.seconds(
            "give_up_after", give_up_after, maximum=checks.YEAR, allow_none=True
        )
        max_attempts = checks.count(
            "max_attempts", max_attempts, maximum=1_000_000_000, allow_none=True
        )
        max_frame_bytes = checks.count(
            "max_frame_bytes", max_frame_bytes, minimum=1024, maximum=MAX_FRAME_BYTES
        )
        read_bytes = checks.count("read_bytes", read_bytes, minimum=1024, maximum=16 * 2**20)
        yield_every = checks.count("yield_every", yield_every, maximum=1_000_000)
        keep_rejected = checks.count("keep_rejected", keep_rejected, minimum=0, maximum=100_000)
        dialect.check_streams(streams)

        #: The feed as the user made it: configuration, shared by every connection.
        self.feed = dialect
        #: This connection's own copy of the feed: what it learns lives here.
        self.dialect = dialect.for_connection()
        self.buffer = buffer if buffer is not None else EventBuffer(explode=dialect.explode)
        self.stats = ConnectionStats()
        # Kept as received and masked when read: a flood of bad frames must not pay for
        # masking each one (see rejected_frames).
        self._rejected: deque[tuple[int, str, str | bytes, int]] = deque(maxlen=keep_rejected)
        self._error_shown_ns = 0
        self.notices: deque[ServerNotice] = deque(maxlen=100)
        self.history: deque[StateChange] = deque(maxlen=_HISTORY)
        self.open_timeout = float(open_timeout)
        self.request_timeout = float(request_timeout)
        self.backoff = backoff or dialect.reconnect_backoff() or Backoff()
        self.healthy_after = float(healthy_after)
        self.max_attempts = max_attempts
        self.give_up_after = give_up_after
        self.max_frame_bytes = max_frame_bytes
        self.read_bytes = read_bytes
        self.yield_every = yield_every

        self._wanted: list[str] = list(dict.fromkeys(streams))
        self._state = State.DISCONNECTED
        self._reason = "not started"
        self._code: int | None = None
        self._ws: ClientConnection | None = None
        self._task: asyncio.Task[None] | None = None
        self._helpers: set[asyncio.Task[Any]] = set()
        self._pending: dict[str, deque[asyncio.Future[Reply]]] = {}
        self._data_waiters: dict[str, list[_DataWaiter]] = {}
        self._refusal_watchers: list[dict[str, str]] = []
        # Set once what was wanted at connect went out: a subscribe made the moment the
        # connection counts as connected queues behind it, never bundled into it.
        self._resent = asyncio.Event()
        # A feed without a subscribe step filters on the client once streams are named.
        self._filtering = bool(self._wanted) and not dialect.supports_subscribe
        self._changed = asyncio.Event()
        self._started = False
        self._opened = False
        self._welcomed = False
        self._connected_at = 0.0
        self._queue_blocked = False
        self._auth_failed = False
        self._state_listeners: list[Callable[[StateChange], None]] = []
        self._event_sinks: list[Callable[[Event], Any]] = []
        self._refusal_listeners: list[Callable[[dict[str, str]], None]] = []
        self._reports = FailureReport()
        self._queues: list[ConsumerQueue] = []
        self._dead_reason: str | None = None
        self._last_frame_ns = 0
        self._last_ping_ns = 0
        self._closing = False
        self._paused_at_ns: int | None = None
        self._recorder: Recorder | None = None
        self._history: HistoryWriter | None = None
        self._wire_log = RedactingLogger(
            logging.getLogger("streamwidgets.wire"), self.dialect.secrets
        )
        self._log = RedactingLogger(logger, self.dialect.secrets)
        self.history.append(StateChange(self._state, self._reason, time.time()))

    # Public state -------------------------------------------------------------

    @property
    def state(self) -> State:
        """The current state."""
        return self._state

    @property
    def reason(self) -> str:
        """Why the connection is in its current state, in plain words."""
        return self._reason

    @property
    def close_code(self) -> int | None:
        """The close code behind the current state, if any."""
        return self._code

    @property
    def subscriptions(self) -> list[str]:
        """The streams wanted now; re-sent after every reconnect."""
        return list(self._wanted)

    @property
    def available_streams(self) -> list[str] | None:
        """What the server said it offers, once connected (None if it does not say);
        masked, since a server may name anything there, the credential included."""
        offered = self.dialect.available_streams
        return None if offered is None else [self._mask(s) for s in offered]

    def mask(self, value: Any) -> Any:
        """``value`` (a text, or JSON-like data) with every credential of this feed masked,
        in any form or piece (see :func:`streamwidgets._util.secret.redact`): for whatever is
        shown or sent on, where a server may have quoted the credential.

        Example:
            >>> conn.mask("token abc123 expired")  # doctest: +SKIP
            'token *** expired'
        """
        if isinstance(value, str):
            return self._mask(value)
        return self._wire_log.mask_value(value)

    @property
    def last_life_ns(self) -> int:
        """The last sign of life the liveness watchdog counted, ns since the epoch: a frame,
        or a protocol ping for a feed whose server pings to show it lives (0 before any)."""
        return max(self._last_frame_ns, self._last_ping_ns)

    @property
    def paused(self) -> bool:
        """True while events are counted but neither buffered nor passed on."""
        return self._paused_at_ns is not None

    def pause(self) -> None:
        """Stop buffering and passing on events; the socket and subscriptions stay up.

        Events that arrive while paused are counted in ``stats.skipped_while_paused``
        and the pause shows in the buffer's markers as a gap, so nobody mistakes it
        for a quiet feed. Pausing twice is harmless.

        Example:
            >>> from streamwidgets.dialects.hydra import HydraDialect
            >>> conn = Connection(HydraDialect("ws://127.0.0.1:9/stream", token="t"))
            >>> conn.pause(); conn.paused
            True
        """
        if self._paused_at_ns is None:
            self._paused_at_ns = time.time_ns()
            self.buffer.mark("paused", "", at_ns=self._paused_at_ns)

    def resume(self) -> None:
        """Buffer and pass on events again after :meth:`pause`."""
        if self._paused_at_ns is None:
            return
        now = time.time_ns()
        self.buffer.mark("gap", "paused by the user", at_ns=self._paused_at_ns, until_ns=now)
        self.buffer.mark("resumed", "", at_ns=now)
        self._paused_at_ns = None

    def __repr__(self) -> str:
        url = self.dialect.describe().get("url", "")
        return (
            f"<Connection {self.dialect.name} {url} state={self._state.value} "
            f"events={self.stats.events} streams={self._wanted}>"
        )

    # Lifecycle ----------------------------------------------------------------

    def start(self) -> asyncio.Task[None]:
        """Start the connection task on the running loop and return it."""
        if self._task is not None:
            if self._task.done():
                raise ConfigurationError("this connection has ended; make a new one")
            return self._task
        if self._closing:
            raise ConfigurationError("this connection was closed; make a new one")
        self._started = True
        self._task = asyncio.get_running_loop().create_task(
            self._run(), name=f"streamwidgets-{self.dialect.name}"
        )
        return self._task

    async def wait_connected(self, timeout: float | None = None) -> None:
        """Wait until connected; raise :class:`ConnectionFailed` if it fails or closes first."""

        await self.wait_for_state(State.CONNECTED, State.FAILED, State.CLOSED, timeout=timeout)
        self._raise_if_ended()

    async def wait_for_state(self, *states: State, timeout: float | None = None) -> State:
        """Wait until the connection is in one of ``states``, and return it."""
        if not self._started and State.DISCONNECTED not in states:
            raise ConfigurationError("start() the connection first")
        try:
            async with asyncio.timeout(timeout):
                while self._state not in states:
                    await self._changed.wait()
        except TimeoutError:
            wanted = " or ".join(s.value for s in states)
            raise TimeoutError(
                f"waited {timeout:g} s for {wanted}; the connection is "
                f"{self._state.value}: {self._reason}"
            ) from None
        return self._state

    async def close(self) -> None:
        """Close the socket, cancel every task, and enter ``closed``. Safe to call twice."""
        if self._closing and (self._task is None or self._task.done()):
            return
        self._closing = True
        ws = self._ws
        if ws is not None:
            with contextlib.suppress(Exception):
                await asyncio.wait_for(ws.close(1000, "client closing"), 2.0)
        if self._task is not None and not self._task.done():
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
        await self._cancel_helpers()
        self._fail_pending("connection closed")
        self._set_state(State.CLOSED, "closed by the client")
        for queue in self._queues:
            queue.end()
        if self._recorder is not None:
            await self._recorder.aclose("the connection was closed")
        await self._stop_history("the connection was closed")
        await self.dialect.aclose()

    # Subscriptions and requests -----------------------------------------------

    async def subscribe(self, streams: Sequence[str]) -> SubscriptionResult:
        """Add streams to the wanted set, subscribing now if connected.

        A stream stays wanted (and is re-sent after every reconnect) until the server
        refuses it. Waits only for a reply the feed's document promises, and no longer
        than ``request_timeout``; data arriving on a stream confirm it as a reply would.
        A stream with no word yet is in the result's ``pending``. For a feed without a
        subscribe step, the streams filter what is buffered.

        Raises:
            StreamNotAvailable: a stream the feed does not offer (nothing is sent).
            SubscriptionRefused: the server refused some of the streams; the others went
                through and the exception's ``result`` says so.

        Example:
            >>> result = await conn.subscribe(["cyber"])  # doctest: +SKIP
            >>> result.active, result.rejected, result.pending  # doctest: +SKIP
            (['signals', 'cyber'], {}, [])
        """
        streams = _as_names(streams)
        self.dialect.check_streams(streams)
        # Only what is not wanted yet is sent: asking again for a stream already subscribed
        # could see it refused with the rest of the request (a tier limit) and dropped.
        new = [s for s in dict.fromkeys(streams) if s not in self._wanted]
        self._wanted.extend(new)
        try:
            if not self.dialect.supports_subscribe:
                self._filtering = True
                return SubscriptionResult(list(self._wanted), {})
            if self._state is not State.CONNECTED:
                return SubscriptionResult(list(self._wanted), {}, pending=new)
            if not new:
                return SubscriptionResult(list(self._wanted), {})
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._resent.wait(), self.request_timeout)
            result = await self._send_subscribe(new)
        finally:
            self._note_options_changed()
        if result.rejected:
            raise SubscriptionRefused(result.rejected, result)
        return result

    async def unsubscribe(self, streams: Sequence[str]) -> SubscriptionResult:
        """Remove streams from the wanted set, unsubscribing now if connected.

        Complete once sent: no feed document here promises a reply to an unsubscribe.
        """
        streams = _as_names(streams)
        self._wanted = [s for s in self._wanted if s not in streams]
        if not self.dialect.supports_subscribe:
            self._filtering = True
        elif self._state is State.CONNECTED:
            for out in self.dialect.unsubscribe(streams):
                await self.send(out)
        self._note_options_changed()
        return SubscriptionResult(list(self._wanted), {})

    async def send(self, out: Outgoing, *, timeout: float | None = None) -> Reply | None:
        """Send a frame; when its document promises a reply, wait for it and return it.

        A frame without ``reply_key`` is complete once sent (returns None).

        Raises:
            RequestError: not connected, an error reply, or no reply in ``timeout``
                seconds (``request_timeout`` if None).
        """
        waiting = await self._send_now(out)
        if waiting is None:
            return None
        limit = timeout or self.request_timeout
        try:
            reply = await asyncio.wait_for(waiting, limit)
        except TimeoutError:
            self._give_up_waiting(out, waiting)
            raise RequestError(f"no reply to {out.reply_key!r} within {limit:g} s") from None
        if reply.error:
            raise RequestError(f"request {out.reply_key!r} refused: {self._mask(reply.error)}")
        return reply

    async def _send_now(self, out: Outgoing) -> asyncio.Future[Reply] | None:
        """Send ``out``; return the future of its promised reply (None if none)."""
        ws = self._ws
        if ws is None or self._state is not State.CONNECTED:
            raise RequestError(f"not connected ({self._state.value}: {self._reason})")
        future: asyncio.Future[Reply] | None = None
        if out.reply_key is not None:
            waiting = self._pending.setdefault(out.reply_key, deque())
            if len(waiting) >= _MAX_PENDING_REQUESTS:
                raise RequestError(f"too many unanswered {out.reply_key!r} requests")
            future = asyncio.get_running_loop().create_future()
            waiting.append(future)
        try:
            self._record_sent(out.frame)
            await ws.send(out.frame)
        except ConnectionClosed:
            if future is not None:
                self._give_up_waiting(out, future)
            raise RequestError("the connection closed while sending") from None
        return future

    def _give_up_waiting(self, out: Outgoing, future: asyncio.Future[Reply]) -> None:
        key = out.reply_key or ""
        with contextlib.suppress(ValueError, KeyError):
            self._pending[key].remove(future)
        self._drop_if_idle(key)
        self.dialect.forget(key)
        if not future.done():
            future.cancel()

    # Consumers ------------------------------------------------------------------

    def on_state(self, callback: Callable[[StateChange], None]) -> Callable[[], None]:
        """Call ``callback(change)`` at every state change; returns a function that stops it."""
        self._state_listeners.append(callback)
        return lambda: _discard(self._state_listeners, callback)

    def on_refused(self, callback: Callable[[dict[str, str]], None]) -> Callable[[], None]:
        """Call ``callback(rejected)`` (stream -> reason, masked) whenever the server refuses
        subscriptions, also those re-sent after a reconnect; returns a function that stops it.

        Example:
            >>> stop = conn.on_refused(lambda rejected: print(rejected))  # doctest: +SKIP
        """
        self._refusal_listeners.append(callback)
        return lambda: _discard(self._refusal_listeners, callback)

    def on_event(self, callback: Callable[[Event], Any]) -> Callable[[], None]:
        """Call ``callback(event)`` for every event; returns a function that stops it.

        A callback that raises never stops the connection: its first failure is logged
        with the traceback, then a count at most every 10 s (see
        :mod:`streamwidgets.connection.callbacks`).
        """
        self._event_sinks.append(callback)
        return lambda: _discard(self._event_sinks, callback)

    def event_queue(
        self, maxsize: int = 10_000, *, on_overflow: Overflow = "drop_oldest"
    ) -> ConsumerQueue:
        """A bounded queue that receives every event; its ``get()`` returns None at the end.

        The buffer gets every event first, whatever the queue's consumer does. When the
        consumer falls ``maxsize`` events behind, ``on_overflow`` decides:
        ``"drop_oldest"`` drops and counts them (the consumer reads a
        :class:`~streamwidgets.events.Gap`), ``"block"`` makes the socket reader wait
        (see :mod:`streamwidgets.connection.consumer`).

        Example:
            >>> queue = conn.event_queue(1000)  # doctest: +SKIP
            >>> event = await queue.get()  # doctest: +SKIP
        """
        queue = ConsumerQueue(maxsize, on_overflow)
        self._queues.append(queue)
        if self._state in (State.FAILED, State.CLOSED):
            queue.end()
        return queue

    def release_queue(self, queue: ConsumerQueue) -> None:
        """Stop feeding a queue made by :meth:`event_queue`."""
        _discard(self._queues, queue)

    # Recording --------------------------------------------------------------------

    def record(self, path: str | os.PathLike[str], **options: Any) -> Recorder | HistoryWriter:
        """Record every received frame, with its time and the state changes, to ``path``;
        or, for a directory, keep the buffer's rows there as history.

        See :mod:`streamwidgets.recording.recorder` for the formats and ``options``
        (``include_sent``, ``max_bytes``, ``max_duration``...). The recording ends with
        :meth:`stop_recording`, when a bound is reached, or when the connection closes.

        A directory (one that exists, a path ending with ``/``, or any path given
        ``partition_by`` or ``roll_every``) gets a
        :class:`~streamwidgets.recording.history.HistoryWriter`: every buffered row, in
        hive-partitioned Parquet files rolled every ``roll_every`` (default ``"10min"``),
        read back with :func:`streamwidgets.history`.

        Raises:
            ConfigurationError: already recording, or a bad path or option.

        Example:
            >>> conn.record("feed.jsonl.gz", max_duration=60)  # doctest: +SKIP
            <Recorder feed.jsonl.gz recording frames=0 bytes=... lost=0>
        """
        if self._recorder is not None and self._recorder.active:
            raise ConfigurationError(f"already recording to {self._recorder.path}")
        if self._history is not None and self._history.active:
            raise ConfigurationError(f"already writing history to {self._history.directory}")
        if is_history_target(path, options):
            return self._record_history(path, **options)
        recorder = Recorder(path, dialect=self.dialect, **options)
        recorder.follow(self.on_state, self.state.value, self.reason)
        self._recorder = recorder
        return recorder

    def _record_history(self, path: str | os.PathLike[str], **options: Any) -> HistoryWriter:
        def received() -> int:
            return self.stats.bytes

        writer = HistoryWriter(
            path, bytes_received=received, explode=self.buffer.explode or None, **options
        )
        self._history = writer
        return writer

    @property
    def recorder(self) -> Recorder | HistoryWriter | None:
        """The current (or last stopped) recording or history made by :meth:`record`."""
        return self._recorder if self._recorder is not None else self._history

    async def stop_recording(self) -> Recorder | HistoryWriter | None:
        """End the current recording or history (if any), wait until its files are
        complete, return it."""
        recorder, self._recorder = self._recorder, None
        if recorder is not None:
            await recorder.aclose()
            return recorder
        return await self._stop_history()

    async def _stop_history(self, reason: str = "stopped by the user") -> HistoryWriter | None:
        writer, self._history = self._history, None
        if writer is None:
            return None
        await writer.aclose(reason)
        return writer

    def _note_options_changed(self) -> None:
        # A feed that filters on the client (Hyperoru's mute) parses differently from now
        # on: the recording must say so before the next frame.
        recorder = self._recorder
        if recorder is not None:
            recorder.options_may_have_changed()

    def _record_sent(self, frame: str | bytes) -> None:
        recorder = self._recorder
        if recorder is not None:
            recorder.sent(frame, time.time_ns())

    # The task -------------------------------------------------------------------

    async def _run(self) -> None:
        outage = Outage(
            max_attempts=self.max_attempts,
            give_up_after=self.give_up_after,
            silent_refusal_after=self.dialect.silent_refusal_after,
        )
        lost_at_ns: int | None = None
        self._set_state(State.CONNECTING, "connecting")
        while not self._closing:
            started = time.monotonic()
            decision = await self._session(lost_at_ns)
            if self._closing:
                break
            now = time.monotonic()
            was_connected = self._state is State.CONNECTED
            self._fail_pending(decision.reason)
            self.stats.last_error = decision.reason
            if was_connected:
                # The gap runs from this loss to the next successful connect, however
                # many failed attempts lie between; before any connect there is no gap.
                lost_at_ns = time.time_ns()
                self.buffer.mark("disconnected", decision.reason, at_ns=lost_at_ns)
                if now - self._connected_at >= self.healthy_after:
                    self.backoff.reset()
                    outage.reset()
            decision = outage.failed(
                decision,
                started=started,
                now=now,
                opened=self._opened,
                welcomed=was_connected,
                code=self._code,
            )
            if decision.action is CloseAction.STOP:
                self._fail(decision)
                return
            delay = self.backoff.next_delay(
                slow=decision.action is CloseAction.RECONNECT_SLOW, at_least=decision.min_delay
            )
            if decision.max_delay is not None and outage.attempts <= 1:
                # The feed asks for haste (Pusher 4200-4299) after a connection that was
                # up; a server that keeps closing gets the normal backoff, not a storm.
                delay = min(delay, decision.max_delay)
            reason = outage.describe(decision.reason, now=now, delay=delay)
            self._set_state(State.RECONNECTING, reason, self._code)
            await asyncio.sleep(delay)

    async def _session(self, lost_at_ns: int | None) -> CloseDecision:
        """Connect once and run until the socket ends; return what that end means."""
        self._code = None
        self._dead_reason = None
        self._opened = False
        self._welcomed = False
        try:
            await self.dialect.prepare()
            self.dialect.reset()
            target = self.dialect.target()
            keepalive = self.dialect.keepalive()
            async with _SameHostOnly(
                target.url,
                additional_headers=dict(target.headers) or None,
                subprotocols=list(target.subprotocols) or None,  # type: ignore[arg-type]
                open_timeout=self.open_timeout,
                ping_interval=keepalive.protocol_ping_interval,
                ping_timeout=keepalive.protocol_ping_interval,
                close_timeout=2.0,
                max_size=self.max_frame_bytes,
                max_queue=64,
                logger=self._wire_log,
                proxy=None,
                create_connection=_ClientSocket,
            ) as ws:
                self._ws = ws
                self._opened = True
                self._cap_reads(ws)
                self._last_frame_ns = time.time_ns()
                for message in target.first_messages:
                    self._record_sent(message)
                    await ws.send(message)
                watchdog, pinger = self._keep_alive(ws, keepalive)
                resubscribing: asyncio.Task[None] | None = None
                try:
                    if self.dialect.needs_welcome:
                        await self._await_welcome(ws)
                        if self.dialect.keepalive() != keepalive:
                            # The welcome set the rules (Pusher's activity_timeout).
                            watchdog.cancel()
                            if pinger is not None:
                                pinger.cancel()
                            watchdog, pinger = self._keep_alive(ws, self.dialect.keepalive())
                    self._resent.clear()
                    self._on_connected(lost_at_ns)
                    resubscribing = self._spawn(self._resubscribe_and_follow_up(list(self._wanted)))
                    await self._receive(ws)
                finally:
                    if resubscribing is not None:
                        # It belongs to this socket; the next one resubscribes afresh.
                        resubscribing.cancel()
                    watchdog.cancel()
                    if pinger is not None:
                        pinger.cancel()
            raise AssertionError("the receive loop ends only by an exception")
        except ConnectionClosed as exc:
            if exc.sent is not None and exc.sent.code == 1009:
                self.stats.oversized_frames += 1
                limit = self.max_frame_bytes
                said = f": {exc.sent.reason}" if exc.sent.reason else ""
                self._reject(
                    b"", f"frame larger than max_frame_bytes ({limit}){said}", time.time_ns()
                )
                return CloseDecision(CloseAction.RECONNECT, f"frame too large (over {limit} bytes)")
            if self._dead_reason is not None:
                return CloseDecision(CloseAction.RECONNECT, self._dead_reason)
            if exc.rcvd is None and exc.sent is not None and exc.sent.code != 1000:
                # We closed it (a protocol error, our keepalive ping unanswered): say so,
                # with the code we sent, rather than "connection lost".
                said = f": {exc.sent.reason}" if exc.sent.reason else ""
                self._code = exc.sent.code
                return CloseDecision(
                    CloseAction.RECONNECT, f"closed by the client ({exc.sent.code}{said})"
                )
            return self._decide(
                exc.rcvd.code if exc.rcvd else None, exc.rcvd.reason if exc.rcvd else ""
            )
        except InvalidStatus as exc:
            status = exc.response.status_code
            self._code = status
            return self.dialect.on_http_status(status)
        except InvalidURI:
            return CloseDecision(CloseAction.STOP, "the feed URL is not a valid WebSocket URL")
        except _CrossHostRedirect as exc:
            return CloseDecision(CloseAction.STOP, str(exc))
        except ConfigurationError as exc:
            # Something to change before connecting can work (a host or scheme the feed's
            # session names and the user did not allow): retrying cannot help.
            return CloseDecision(CloseAction.STOP, self._mask(exc))
        except (_Dead, _NoWelcome) as exc:
            return CloseDecision(CloseAction.RECONNECT, str(exc))
        except (OSError, TimeoutError, InvalidHandshake) as exc:
            said = self._mask(exc) or f"{type(exc).__name__} within {self.open_timeout:g} s"
            return CloseDecision(CloseAction.RECONNECT, f"server unreachable: {said}")
        except AuthenticationFailed as exc:
            return CloseDecision(CloseAction.STOP, exc.reason, auth_failure=True)
        except ConnectionFailed as exc:
            return CloseDecision(CloseAction.RECONNECT, exc.reason)
        except Exception as exc:
            # A bug in a dialect or a library must not end the connection task silently.
            self._wire_log.warning("unexpected error in the connection", exc_info=exc)
            return CloseDecision(
                CloseAction.RECONNECT, f"unexpected error: {type(exc).__name__}: {self._mask(exc)}"
            )
        finally:
            self._ws = None

    def _keep_alive(
        self, ws: ClientConnection, keepalive: Keepalive
    ) -> tuple[asyncio.Task[Any], asyncio.Task[Any] | None]:
        watchdog = self._spawn(self._watch(ws, keepalive.idle_timeout))
        pinger = None
        if keepalive.ping_interval and keepalive.ping_frame:
            ping = self._ping_when_idle if keepalive.ping_when_idle else self._ping
            pinger = self._spawn(ping(ws, keepalive.ping_interval, keepalive.ping_frame))
        return watchdog, pinger

    def _decide(self, code: int | None, reason: str) -> CloseDecision:
        self._code = code
        return self.dialect.on_close(code, self._mask(reason))

    def _cap_reads(self, ws: ClientConnection) -> None:
        # asyncio's selector transport reads up to 256 KiB at a time, and websockets
        # parses every frame of a read in one go (several ms for small frames); a
        # smaller read bounds that pause. Other transports keep their default.
        transport = ws.transport
        if hasattr(transport, "max_size"):
            transport.max_size = self.read_bytes

    async def _await_welcome(self, ws: ClientConnection) -> None:
        try:
            async with asyncio.timeout(self.open_timeout):
                while not self._welcomed:
                    self._handle_frame(await self._next_frame(ws))
                    answers = self.dialect.take_answers()
                    if answers:
                        await self._send_answers(ws, answers)
        except TimeoutError:
            raise _NoWelcome(f"no welcome within {self.open_timeout:g} s") from None

    async def _send_answers(self, ws: ClientConnection, answers: Sequence[str]) -> None:
        for answer in answers:
            self._record_sent(answer)
            await ws.send(answer)

    def _on_connected(self, lost_at_ns: int | None) -> None:
        now = time.time_ns()
        self.stats.connects += 1
        self.stats.connected_since_ns = now
        if lost_at_ns is not None:
            self.stats.reconnects += 1
            self.buffer.mark("gap", "no data while disconnected", at_ns=lost_at_ns, until_ns=now)
            self.buffer.mark("reconnected", "", at_ns=now)
        else:
            self.buffer.mark("connected", "", at_ns=now)
        self._connected_at = time.monotonic()
        self._set_state(State.CONNECTED, "connected")

    async def _resubscribe(self, streams: list[str]) -> None:
        try:
            if not streams or not self.dialect.supports_subscribe:
                return
            try:
                self.dialect.check_streams(streams)
            except StreamNotAvailable as exc:
                # What the server says it offers (its welcome) is its answer for these.
                offered = ", ".join(exc.available) or "none"
                self._refuse(dict.fromkeys(exc.streams, f"not offered by the server ({offered})"))
                streams = [s for s in streams if s not in exc.streams]
            if streams:
                await self._send_subscribe(streams, sent=self._resent)
        finally:
            self._resent.set()

    async def _resubscribe_and_follow_up(self, streams: list[str]) -> None:
        await self._resubscribe(streams)
        # What the dialect asks after every connect (e.g. fresh state: nothing is replayed).
        for out in self.dialect.after_connect():
            try:
                await self.send(out)
            except RequestError as exc:
                logger.warning("a request after connecting failed: %s", self._mask(exc))

    async def _send_subscribe(
        self, streams: list[str], *, sent: asyncio.Event | None = None
    ) -> SubscriptionResult:
        """Subscribe now; return what came of it. Refusals leave the wanted set (through
        :meth:`_refuse`); everything else stays wanted, confirmed or not. ``sent`` is set
        once the frames went out, before their answers."""
        refused: dict[str, str] = {}
        confirmed: set[str] = set()
        self._refusal_watchers.append(refused)
        socket = self._ws
        try:
            before = await self.dialect.authorize(streams)
            if before:
                self._refuse(before)
            todo = [s for s in streams if s not in refused]
            if self._ws is not socket:
                # The socket changed while signing: what was signed is for the old one. The
                # streams stay wanted; the new socket's resubscription signs them anew.
                todo = []
            settling = []
            for out in self.dialect.subscribe(todo) if todo else []:
                try:
                    future = await self._send_now(out)
                except RequestError:
                    break  # the socket closed: everything unsent is re-sent after reconnecting
                if future is not None:
                    settling.append(self._settle(out, future, confirmed))
            if sent is not None:
                sent.set()
            if settling:
                # Every subscribe of the batch waits at once: one refused stream never
                # holds up (or stops) the streams after it.
                await asyncio.gather(*settling)
        finally:
            # By identity: two watchers told the same refusals are equal dicts.
            self._refusal_watchers = [w for w in self._refusal_watchers if w is not refused]
        rejected = {self._mask(s): refused[s] for s in streams if s in refused}
        pending = [s for s in streams if s in self._wanted and s not in confirmed]
        return SubscriptionResult(list(self._wanted), rejected, pending)

    async def _settle(
        self, out: Outgoing, future: asyncio.Future[Reply], confirmed: set[str]
    ) -> None:
        """Wait for a subscribe's promised reply, or data on its streams, whichever first."""
        waiter = self._expect_data(out.streams)
        try:
            await asyncio.wait(
                {future, waiter.future},
                timeout=self.request_timeout,
                return_when=asyncio.FIRST_COMPLETED,
            )
        finally:
            self._forget_data(waiter)
        confirmed.update(waiter.confirmed)
        if not future.done():
            self._give_up_waiting(out, future)  # no word in time: the streams stay wanted
            return
        if future.cancelled() or future.exception() is not None:
            return  # the socket closed: re-sent after the reconnect
        reply = future.result()
        if reply.error:
            self._refuse({s: self._mask(reply.error) for s in out.streams})
        else:
            confirmed.update(out.streams)

    def _expect_data(self, streams: Sequence[str]) -> _DataWaiter:
        waiter = _DataWaiter(streams, asyncio.get_running_loop().create_future())
        for stream in waiter.remaining:
            self._data_waiters.setdefault(stream, []).append(waiter)
        if not waiter.remaining:
            waiter.future.set_result(None)
        return waiter

    def _forget_data(self, waiter: _DataWaiter) -> None:
        for stream in list(self._data_waiters):
            waiting = self._data_waiters[stream]
            if waiter in waiting:
                waiting.remove(waiter)
            if not waiting:
                del self._data_waiters[stream]

    def _data_arrived(self, streams: set[Any]) -> None:
        for stream in streams:
            for waiter in self._data_waiters.pop(stream, ()):
                waiter.remaining.discard(stream)
                waiter.confirmed.add(stream)
                if not waiter.remaining and not waiter.future.done():
                    waiter.future.set_result(None)

    def _refuse(self, rejected: dict[str, str]) -> None:
        """The server refused these streams: they leave the wanted set, and say why."""
        rejected = {s: self._mask(why) for s, why in rejected.items()}
        for watcher in self._refusal_watchers:
            watcher.update(rejected)
        for stream in rejected:
            for waiter in self._data_waiters.pop(stream, ()):
                waiter.remaining.discard(stream)
                if not waiter.remaining and not waiter.future.done():
                    waiter.future.set_result(None)
        self._wanted = [s for s in self._wanted if s not in rejected]
        # A name can be anything the server echoed (a token, even): mask names too.
        shown = {self._mask(s): why for s, why in rejected.items()}
        said = "; ".join(f"{s}: {why}" for s, why in shown.items())
        self.notices.append(ServerNotice(f"subscription refused: {said}", shown, True))
        self.stats.last_error = f"subscription refused: {said}"
        logger.warning("%s: subscription refused: %s", self.dialect.name, said)
        self._note_options_changed()
        for listener in list(self._refusal_listeners):
            try:
                listener(shown)
            except Exception:
                logger.warning("a refusal listener raised", exc_info=True)

    async def _receive(self, ws: ClientConnection) -> NoReturn:
        yield_every = self.yield_every
        since_yield = 0
        while True:
            frame = await self._next_frame(ws)
            events = self._handle_frame(frame)
            answers = self.dialect.take_answers()
            if answers:  # rare (a pong to a server ping): no await per frame otherwise
                await self._send_answers(ws, answers)
            since_yield += len(events) or 1
            if self._queues and events:
                await self._feed_queues(events)
            if since_yield >= yield_every:
                since_yield = 0
                # recv() on a non-empty queue never suspends; yield so other
                # callbacks on the loop get their turn.
                await asyncio.sleep(0)

    async def _next_frame(self, ws: ClientConnection) -> str | bytes:
        """The next frame; one that is not even text is counted here and skipped."""
        assert isinstance(ws, _ClientSocket)
        while True:
            try:
                return await ws.receive()
            except _BadText as bad:
                now = time.time_ns()
                self._last_frame_ns = now
                self.stats.frames += 1
                self.stats.bytes += len(bad.data)
                self._reject(bad.data, bad.reason, now)

    def _handle_frame(self, frame: str | bytes) -> list[Event]:
        """Parse a frame, route control messages, buffer events; return the events."""
        now = time.time_ns()
        self._last_frame_ns = now
        recorder = self._recorder
        if recorder is not None:
            recorder.received(frame, now)
        stats = self.stats
        stats.frames += 1
        stats.bytes += len(frame)
        lenient = LENIENT.n
        try:
            items = self.dialect.parse(frame, now)
        except FrameError as exc:
            self._reject(frame, str(exc), now)
            return []
        except Exception as exc:  # a dialect bug must not kill the connection
            logger.warning("dialect %s failed on a frame", self.dialect.name, exc_info=True)
            self._reject(frame, f"{type(exc).__name__}: {exc}", now)
            return []
        if LENIENT.n != lenient:
            stats.lenient_parses += 1
        events: list[Event] = []
        for item in items:
            if type(item) is Event:
                events.append(item)
            else:
                self._control(item)
        if events and self._filtering:
            events = self._keep_wanted(events)
        if events and self._data_waiters:
            self._data_arrived({event.stream for event in events})
        if events and self._paused_at_ns is not None:
            stats.count_events(len(events), now // 1_000_000_000)
            stats.skipped_while_paused += len(events)
            return []
        if events:
            buffer = self.buffer
            if len(events) == 1:
                buffer.append(events[0])
            else:
                buffer.extend(events)
            stats.count_events(len(events), now // 1_000_000_000)
            history = self._history
            if history is not None:
                # The buffer's seqs: the last event took the buffer's last one.
                first = buffer.last_seq - len(events) + 1
                for i, event in enumerate(events):
                    history.add(event, first + i)
            for sink in self._event_sinks:
                for event in events:
                    try:
                        sink(event)
                    except Exception as exc:
                        self._callback_failed(sink, exc)
        return events

    def _callback_failed(self, sink: Callable[[Event], Any], exc: Exception) -> None:
        # The first failure with its traceback, then a count now and then: never one
        # log record per event (see callbacks.FailureReport).
        label = f"on_event({getattr(sink, '__qualname__', type(sink).__name__)})"
        words = self._reports.failed(label, exc)
        if words is not None:
            first = self._reports.counts[label] == 1
            # Masked, traceback included: a callback's error may quote anything.
            self._log.warning("%s", words, exc_info=exc if first else None)

    def _keep_wanted(self, events: list[Event]) -> list[Event]:
        # A feed without a subscribe step sends what the credential allows; the streams
        # the user named decide what is buffered.
        wanted = set(self._wanted)
        if self.dialect.wildcard in wanted:
            return events
        kept = [event for event in events if event.stream in wanted]
        self.stats.filtered += len(events) - len(kept)
        return kept

    def _control(self, item: Any) -> None:
        if isinstance(item, Welcome):
            self._welcomed = True
        elif isinstance(item, Refused):
            self._refuse(item.streams)
        elif isinstance(item, Heartbeat):
            self.stats.heartbeats += 1
        elif isinstance(item, Reply):
            waiting = self._pending.get(item.key)
            while waiting:
                future = waiting.popleft()
                if not future.done():
                    future.set_result(item)
                    break
            self._drop_if_idle(item.key)
        elif isinstance(item, ServerNotice):
            # A server may quote the credential back: nothing it says is kept unmasked.
            message = self._mask(item.message)
            data = self._wire_log.mask_value(item.data)
            self.notices.append(ServerNotice(message, data, item.is_error))
            if item.is_error:
                self.stats.last_error = message
                count = self._reports.due("server error")
                if count is not None:  # a server sending errors in a loop: not every one
                    so_far = f" ({count} server errors so far)" if count > 1 else ""
                    logger.warning("%s: %s%s", self.dialect.name, message, so_far)

    @property
    def rejected_frames(self) -> list[RejectedFrame]:
        """The newest frames counted as malformed (at most ``keep_rejected``), oldest first,
        each with the reason and a masked preview.

        Example:
            >>> [r.error for r in conn.rejected_frames]  # doctest: +SKIP
            ["not JSON (unexpected character): '{oops'"]
        """
        return [
            RejectedFrame(at, self._mask(error), self._mask(preview(frame, 1000)), size)
            for at, error, frame, size in self._rejected
        ]

    def _reject(self, frame: str | bytes, error: str, now: int) -> None:
        self.stats.parse_errors += 1
        self._rejected.append((now, error, frame[:1200], len(frame)))
        if now - self._error_shown_ns >= 100_000_000:
            # At most ten times a second: masking costs, and a flood of bad frames
            # says the same thing every time.
            self._error_shown_ns = now
            self.stats.last_error = self._mask(error)
            logger.debug("rejected frame: %s", self.stats.last_error)

    async def _feed_queues(self, events: list[Event]) -> None:
        for queue in list(self._queues):
            for event in events:
                if queue.blocks and queue.full():
                    await self._wait_for_consumer(queue)
                queue.put(event)

    async def _wait_for_consumer(self, queue: ConsumerQueue) -> None:
        # The consumer asked for back-pressure. While waiting, frames (pongs included)
        # stay unread, so our own keepalive checks are suspended: the client must never
        # close for its consumer; only the server may, by its own rules.
        ws = self._ws
        keepalive = ws.keepalive_task if ws is not None else None
        if keepalive is not None:
            keepalive.cancel()
        self._queue_blocked = True
        self.stats.consumer_waits += 1
        try:
            await queue.wait_writable()
        finally:
            self._queue_blocked = False
            self._last_frame_ns = time.time_ns()
            if keepalive is not None and ws is not None and ws.ping_interval is not None:
                ws.start_keepalive()

    async def _watch(self, ws: ClientConnection, idle_timeout: float | None) -> None:
        if not idle_timeout:
            return
        period = max(idle_timeout / 10, 0.01)
        # Only feeds whose server pings to show it is alive count its pings as life.
        pings = isinstance(ws, _ClientSocket) and self.dialect.protocol_pings_prove_life
        what = "data or ping" if pings else "data or heartbeat"
        while True:
            await asyncio.sleep(period)
            last_seen = self._last_frame_ns
            if pings:
                self._last_ping_ns = ws.last_ping_ns  # type: ignore[attr-defined]
                last_seen = max(last_seen, self._last_ping_ns)
            silent = (time.time_ns() - last_seen) / 1e9
            if silent >= idle_timeout and not self._queue_blocked:
                self._dead_reason = f"no {what} for {silent:.1f} s; connection presumed dead"
                ws.transport.abort()
                return

    async def _ping(self, ws: ClientConnection, interval: float, frame: str) -> None:
        while True:
            await asyncio.sleep(interval)
            with contextlib.suppress(ConnectionClosed):
                self._record_sent(frame)
                await ws.send(frame)

    async def _ping_when_idle(self, ws: ClientConnection, idle: float, frame: str) -> None:
        # One ping per silence of `idle` seconds; the watchdog ends the connection if the
        # silence lasts on (Pusher: activity_timeout, then the pong timeout).
        pinged_at = 0
        while True:
            silent = (time.time_ns() - self._last_frame_ns) / 1e9
            if silent >= idle and pinged_at != self._last_frame_ns:
                pinged_at = self._last_frame_ns
                with contextlib.suppress(ConnectionClosed):
                    self._record_sent(frame)
                    await ws.send(frame)
                silent = 0.0
            await asyncio.sleep(max(idle - silent, idle / 20, 0.01))

    # Helpers --------------------------------------------------------------------

    def _spawn(self, coro: Any) -> asyncio.Task[Any]:
        task = asyncio.get_running_loop().create_task(coro)
        self._helpers.add(task)
        task.add_done_callback(self._helpers.discard)
        return task

    async def _cancel_helpers(self) -> None:
        tasks = list(self._helpers)
        for task in tasks:
            task.cancel()
        for task in tasks:
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await task

    def _drop_if_idle(self, key: str) -> None:
        # Reply keys may be unique request ids: keep no empty queue per answered id.
        if not self._pending.get(key, True):
            del self._pending[key]

    def _fail_pending(self, reason: str) -> None:
        for waiting in self._pending.values():
            while waiting:
                future = waiting.popleft()
                if not future.done():
                    future.set_exception(RequestError(f"no reply: {reason}"))
                    # Nobody may await it any more; mark the exception as seen.
                    future.exception()
        self._pending.clear()

    def _fail(self, decision: CloseDecision) -> None:
        self._set_state(State.FAILED, decision.reason, self._code)
        self._auth_failed = decision.auth_failure
        for queue in self._queues:
            queue.end()
        for task in list(self._helpers):
            task.cancel()

    def _raise_if_ended(self) -> None:
        if self._state is State.FAILED:
            if getattr(self, "_auth_failed", False):
                raise AuthenticationFailed(self._reason, code=self._code)
            raise ConnectionFailed(self._reason, code=self._code)
        if self._state is State.CLOSED:
            raise ConnectionFailed("the connection was closed", code=self._code)

    def _mask(self, value: object) -> str:
        return self._wire_log.mask(str(value))

    def _set_state(self, state: State, reason: str, code: int | None = None) -> None:
        reason = self._mask(reason)
        self._state, self._reason = state, reason
        change = StateChange(state, reason, time.time(), code)
        self.history.append(change)
        log = logger.warning if state is State.FAILED else logger.info
        log("%s: %s (%s)", self.dialect.name, state.value, reason)
        for listener in list(self._state_listeners):
            try:
                listener(change)
            except Exception:
                logger.warning("a state listener raised", exc_info=True)
        changed, self._changed = self._changed, asyncio.Event()
        changed.set()


def _discard(items: list[Any], item: Any) -> None:
    with contextlib.suppress(ValueError):
        items.remove(item)


def _as_names(streams: Sequence[str] | str) -> list[str]:
    if isinstance(streams, str):
        return [streams]
    return list(streams)
