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

This module is the asyncio half: :class:`Connection` owns the socket
(:mod:`streamwidgets.connection.websocket`), its tasks and timers, the futures callers
await, the consumer queues and callbacks, and the recording taps
(:mod:`streamwidgets.connection.taps`). What one connection learns and decides (reply
matching, wanted and refused streams, pause, keepalive, reconnect or fail) is its
:class:`~streamwidgets.connection.session.Session`, which does no I/O: the connection
feeds it frames and commands and performs what it returns.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import Callable, Iterable, Sequence
from typing import TYPE_CHECKING, Any, NoReturn

from websockets.asyncio.client import ClientConnection
from websockets.exceptions import (
    ConnectionClosed,
    InvalidHandshake,
    InvalidStatus,
    InvalidURI,
)

from streamwidgets._util import checks
from streamwidgets._util.wirelog import RedactingLogger
from streamwidgets.buffer.event_buffer import EventBuffer
from streamwidgets.connection.backoff import Backoff
from streamwidgets.connection.consumer import ConsumerQueue, Overflow
from streamwidgets.connection.dialect import CloseAction, CloseDecision, Dialect, Outgoing
from streamwidgets.connection.listeners import Listeners
from streamwidgets.connection.session import (
    Abort,
    Connected,
    Fail,
    FailRequest,
    KeepaliveChanged,
    Mark,
    Output,
    Reconnect,
    Resolve,
    Send,
    Session,
    State,
    StateChange,
    StateChanged,
    StreamsRefused,
    SubscriptionResult,
)
from streamwidgets.connection.stats import RejectedFrame
from streamwidgets.connection.taps import Taps
from streamwidgets.connection.websocket import (
    BadText,
    ClientSocket,
    CrossHostRedirect,
    SameHostOnly,
)
from streamwidgets.events import Event, Reply
from streamwidgets.exceptions import (
    AuthenticationFailed,
    ConfigurationError,
    ConnectionFailed,
    RequestError,
    SubscriptionRefused,
)

if TYPE_CHECKING:
    import os

    from streamwidgets.recording.history import HistoryWriter
    from streamwidgets.recording.recorder import Recorder


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


class _NoWelcome(Exception):
    """The socket opened but the feed's welcome did not come in time."""


class Connection:
    """Keep one feed connected, parsed and buffered, reconnecting as its dialect says.

    The asyncio driver of a :class:`~streamwidgets.connection.session.Session`: it owns
    the socket, the tasks and timers, the futures that :meth:`subscribe` and :meth:`send`
    await, the consumer queues and callbacks; the session decides.

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
        self.open_timeout = float(open_timeout)
        self.request_timeout = float(request_timeout)
        self.max_attempts = max_attempts
        self.give_up_after = give_up_after
        self.max_frame_bytes = max_frame_bytes
        self.read_bytes = read_bytes
        self.yield_every = yield_every
        self._wire_log = RedactingLogger(
            logging.getLogger("streamwidgets.wire"), self.dialect.secrets
        )
        self._log = RedactingLogger(logger, self.dialect.secrets)
        self._session = Session(
            self.dialect,
            streams,
            backoff=backoff or dialect.reconnect_backoff() or Backoff(),
            healthy_after=float(healthy_after),
            max_attempts=max_attempts,
            give_up_after=give_up_after,
            keep_rejected=keep_rejected,
            wire_log=self._wire_log,
            now_ns=time.time_ns(),
        )
        self.stats = self._session.stats
        self.notices = self._session.notices
        self.history = self._session.history
        self._ws: ClientSocket | None = None
        self._keeper: asyncio.Task[None] | None = None  # the socket's keepalive clocks
        self._resubscribe: list[str] | None = None  # what the session said on Connected
        self._task: asyncio.Task[None] | None = None
        self._helpers: set[asyncio.Task[Any]] = set()
        # Request id -> what its caller awaits (the session knows only the id).
        self._futures: dict[int, asyncio.Future[Reply | None]] = {}
        # Set once what was wanted at connect went out: a subscribe made the moment the
        # connection counts as connected queues behind it, never bundled into it.
        self._resent = asyncio.Event()
        self._changed = asyncio.Event()
        self._started = False
        self._closing = False
        self._listeners = Listeners(self._log)
        self._queues: list[ConsumerQueue] = []
        self._taps = Taps()

    # Public state -------------------------------------------------------------

    @property
    def state(self) -> State:
        """The current state."""
        return self._session.state

    @property
    def reason(self) -> str:
        """Why the connection is in its current state, in plain words."""
        return self._session.reason

    @property
    def close_code(self) -> int | None:
        """The close code behind the current state, if any."""
        return self._session.code

    @property
    def subscriptions(self) -> list[str]:
        """The streams wanted now; re-sent after every reconnect."""
        return list(self._session.wanted)

    @property
    def backoff(self) -> Backoff:
        """The reconnection delays."""
        return self._session.backoff

    @backoff.setter
    def backoff(self, backoff: Backoff) -> None:
        self._session.backoff = backoff

    @property
    def healthy_after(self) -> float:
        """Seconds a connection must last for the backoff to reset."""
        return self._session.healthy_after

    @healthy_after.setter
    def healthy_after(self, seconds: float) -> None:
        self._session.healthy_after = seconds

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
        return max(self._session.last_frame_ns, self._session.last_ping_ns)

    @property
    def rejected_frames(self) -> list[RejectedFrame]:
        """The newest frames counted as malformed (at most ``keep_rejected``), oldest first,
        each with the reason and a masked preview.

        Example:
            >>> [r.error for r in conn.rejected_frames]  # doctest: +SKIP
            ["not JSON (unexpected character): '{oops'"]
        """
        return self._session.rejected_frames

    @property
    def paused(self) -> bool:
        """True while events are counted but neither buffered nor passed on."""
        return self._session.paused

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
        self._session.pause(time.time_ns())
        self._perform()

    def resume(self) -> None:
        """Buffer and pass on events again after :meth:`pause`."""
        self._session.resume(time.time_ns())
        self._perform()

    @property
    def _pending(self) -> dict[str, Any]:
        # Reply key -> the requests waiting for it (kept for tests that look inside).
        return self._session.pending

    def __repr__(self) -> str:
        url = self.dialect.describe().get("url", "")
        return (
            f"<Connection {self.dialect.name} {url} state={self.state.value} "
            f"events={self.stats.events} streams={self._session.wanted}>"
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
                while self.state not in states:
                    await self._changed.wait()
        except TimeoutError:
            wanted = " or ".join(s.value for s in states)
            raise TimeoutError(
                f"waited {timeout:g} s for {wanted}; the connection is "
                f"{self.state.value}: {self.reason}"
            ) from None
        return self.state

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
        self._session.closed(time.time_ns())
        self._perform()
        for queue in self._queues:
            queue.end()
        await self._taps.aclose("the connection was closed")
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
        session = self._session
        new = session.want(streams)
        try:
            if not self.dialect.supports_subscribe:
                return SubscriptionResult(list(session.wanted), {})
            if self.state is not State.CONNECTED:
                return SubscriptionResult(list(session.wanted), {}, pending=new)
            if not new:
                return SubscriptionResult(list(session.wanted), {})
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._resent.wait(), self.request_timeout)
            result = await self._send_subscribe(new)
        finally:
            self._taps.options_changed()
        if result.rejected:
            raise SubscriptionRefused(result.rejected, result)
        return result

    async def unsubscribe(self, streams: Sequence[str]) -> SubscriptionResult:
        """Remove streams from the wanted set, unsubscribing now if connected.

        Complete once sent: no feed document here promises a reply to an unsubscribe.
        """
        streams = _as_names(streams)
        self._session.unwant(streams)
        if self.dialect.supports_subscribe and self.state is State.CONNECTED:
            for out in self.dialect.unsubscribe(streams):
                await self.send(out)
        self._taps.options_changed()
        return SubscriptionResult(list(self._session.wanted), {})

    async def send(self, out: Outgoing, *, timeout: float | None = None) -> Reply | None:
        """Send a frame; when its document promises a reply, wait for it and return it.

        A frame without ``reply_key`` is complete once sent (returns None).

        Raises:
            RequestError: not connected, an error reply, or no reply in ``timeout``
                seconds (``request_timeout`` if None).
        """
        request = await self._send_now(out)
        if request is None:
            return None
        limit = timeout or self.request_timeout
        try:
            reply = await asyncio.wait_for(self._futures[request], limit)
        except TimeoutError:
            self._give_up(request)
            raise RequestError(f"no reply to {out.reply_key!r} within {limit:g} s") from None
        finally:
            self._futures.pop(request, None)
        assert reply is not None  # only a subscribe is confirmed without a reply
        if reply.error:
            raise RequestError(f"request {out.reply_key!r} refused: {self._mask(reply.error)}")
        return reply

    async def _send_now(self, out: Outgoing, batch: int | None = None) -> int | None:
        """Send ``out``; return the id of its promised reply's request (None if none)."""
        ws = self._ws
        if ws is None or self.state is not State.CONNECTED:
            raise RequestError(f"not connected ({self.state.value}: {self.reason})")
        request = None
        if out.reply_key is not None:
            request = self._session.request(out, batch)
            self._futures[request] = asyncio.get_running_loop().create_future()
        try:
            self._taps.sent(out.frame)
            await ws.send(out.frame)
        except ConnectionClosed:
            if request is not None:
                self._give_up(request)
                self._futures.pop(request, None)
            raise RequestError("the connection closed while sending") from None
        if request is not None:
            self._session.request_sent(request)
            self._perform()
        return request

    def _give_up(self, request: int) -> None:
        self._session.give_up(request)
        future = self._futures.get(request)
        if future is not None and not future.done():
            future.cancel()

    async def _send_subscribe(
        self, streams: list[str], *, sent: asyncio.Event | None = None
    ) -> SubscriptionResult:
        """Subscribe now; return what came of it. Refusals leave the wanted set; everything
        else stays wanted, confirmed or not. ``sent`` is set once the frames went out,
        before their answers."""
        session = self._session
        batch = session.begin_subscribe(streams)
        socket = self._ws
        try:
            before = await self.dialect.authorize(streams)
            if before:
                session.refuse(before)
                self._perform()
            # The socket changed while signing: what was signed is for the old one. The
            # streams stay wanted; the new socket's resubscription signs them anew.
            frames = session.subscribe_frames(batch, streams) if self._ws is socket else []
            settling = []
            for out in frames:
                try:
                    request = await self._send_now(out, batch)
                except RequestError:
                    break  # the socket closed: everything unsent is re-sent after reconnecting
                if request is not None:
                    settling.append(self._settle(request))
            if sent is not None:
                sent.set()
            if settling:
                # Every subscribe of the batch waits at once: one refused stream never
                # holds up (or stops) the streams after it.
                await asyncio.gather(*settling)
        finally:
            result = session.end_subscribe(batch)
        return result

    async def _settle(self, request: int) -> None:
        """Wait for a subscribe's promised reply, or data on its streams, whichever first;
        with no word in time, the streams stay wanted."""
        future = self._futures[request]
        try:
            await asyncio.wait({future}, timeout=self.request_timeout)
        finally:
            self._futures.pop(request, None)
        if not future.done():
            self._give_up(request)

    # Consumers ------------------------------------------------------------------

    def on_state(self, callback: Callable[[StateChange], None]) -> Callable[[], None]:
        """Call ``callback(change)`` at every state change; returns a function that stops it."""
        return self._listeners.on_state(callback)

    def on_refused(self, callback: Callable[[dict[str, str]], None]) -> Callable[[], None]:
        """Call ``callback(rejected)`` (stream -> reason, masked) whenever the server refuses
        subscriptions, also those re-sent after a reconnect; returns a function that stops it.

        Example:
            >>> stop = conn.on_refused(lambda rejected: print(rejected))  # doctest: +SKIP
        """
        return self._listeners.on_refused(callback)

    def on_event(self, callback: Callable[[Event], Any]) -> Callable[[], None]:
        """Call ``callback(event)`` for every event; returns a function that stops it.

        A callback that raises never stops the connection: its first failure is logged
        with the traceback, then a count at most every 10 s (see
        :mod:`streamwidgets.connection.callbacks`).
        """
        return self._listeners.on_event(callback)

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
        if self.state in (State.FAILED, State.CLOSED):
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

        def received() -> int:
            return self.stats.bytes

        return self._taps.start(
            path,
            dialect=self.dialect,
            follow=self.on_state,
            state=self.state.value,
            reason=self.reason,
            bytes_received=received,
            explode=self.buffer.explode,
            **options,
        )

    @property
    def recorder(self) -> Recorder | HistoryWriter | None:
        """The current (or last stopped) recording or history made by :meth:`record`."""
        return self._taps.current

    async def stop_recording(self) -> Recorder | HistoryWriter | None:
        """End the current recording or history (if any), wait until its files are
        complete, return it."""
        return await self._taps.stop()

    # The task -------------------------------------------------------------------

    async def _run(self) -> None:
        session = self._session
        session.set_state(State.CONNECTING, "connecting", time.time_ns())
        self._perform()
        while not self._closing:
            started = time.monotonic()
            decision = await self._attempt()
            if self._closing:
                break
            session.attempt_ended(
                decision, started=started, mono=time.monotonic(), now_ns=time.time_ns()
            )
            for output in self._perform_all():
                if isinstance(output, Reconnect):
                    await asyncio.sleep(output.delay)
                elif isinstance(output, Fail):
                    return

    async def _attempt(self) -> CloseDecision:
        """Connect once and run until the socket ends; return what that end means."""
        session = self._session
        session.attempt_begins()
        try:
            await self.dialect.prepare()
            target, keepalive = session.prepared()
            async with SameHostOnly(
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
                create_connection=ClientSocket,
            ) as ws:
                assert isinstance(ws, ClientSocket)
                self._ws = ws
                session.socket_opened(time.time_ns(), keepalive)
                self._cap_reads(ws)
                for message in target.first_messages:
                    self._taps.sent(message)
                    await ws.send(message)
                self._resubscribe = None
                self._keeper = self._spawn(self._keep_alive(ws))
                session.opening_sent(time.time_ns())
                resubscribing: asyncio.Task[None] | None = None
                try:
                    await self._send_frames(ws, self._perform())
                    if session.state is not State.CONNECTED:
                        await self._await_welcome(ws)
                    resubscribing = self._spawn(self._resubscribe_and_follow_up())
                    await self._receive(ws)
                finally:
                    if resubscribing is not None:
                        # It belongs to this socket; the next one resubscribes afresh.
                        resubscribing.cancel()
                    if self._keeper is not None:
                        self._keeper.cancel()
            raise AssertionError("the receive loop ends only by an exception")
        except ConnectionClosed as exc:
            return session.socket_closed(
                exc.rcvd.code if exc.rcvd else None,
                exc.rcvd.reason if exc.rcvd else "",
                sent_code=exc.sent.code if exc.sent else None,
                sent_reason=exc.sent.reason if exc.sent else "",
                max_frame_bytes=self.max_frame_bytes,
                now_ns=time.time_ns(),
            )
        except InvalidStatus as exc:
            return session.upgrade_refused(exc.response.status_code)
        except InvalidURI:
            return CloseDecision(CloseAction.STOP, "the feed URL is not a valid WebSocket URL")
        except CrossHostRedirect as exc:
            return CloseDecision(CloseAction.STOP, str(exc))
        except ConfigurationError as exc:
            # Something to change before connecting can work (a host or scheme the feed's
            # session names and the user did not allow): retrying cannot help.
            return CloseDecision(CloseAction.STOP, self._mask(exc))
        except _NoWelcome as exc:
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

    def _cap_reads(self, ws: ClientConnection) -> None:
        # asyncio's selector transport reads up to 256 KiB at a time, and websockets
        # parses every frame of a read in one go (several ms for small frames); a
        # smaller read bounds that pause. Other transports keep their default.
        transport = ws.transport
        if hasattr(transport, "max_size"):
            transport.max_size = self.read_bytes

    async def _await_welcome(self, ws: ClientSocket) -> None:
        try:
            async with asyncio.timeout(self.open_timeout):
                while self._session.state is not State.CONNECTED:
                    self._take_frame(await self._next_frame(ws))
                    if self._session.has_output:
                        await self._send_frames(ws, self._perform())
        except TimeoutError:
            raise _NoWelcome(f"no welcome within {self.open_timeout:g} s") from None

    async def _resubscribe_and_follow_up(self) -> None:
        try:
            if self._resubscribe:
                await self._send_subscribe(self._resubscribe, sent=self._resent)
        finally:
            self._resent.set()
        for out in self._session.follow_up():
            try:
                await self.send(out)
            except RequestError as exc:
                logger.warning("a request after connecting failed: %s", self._mask(exc))

    async def _receive(self, ws: ClientSocket) -> NoReturn:
        yield_every = self.yield_every
        session = self._session
        since_yield = 0
        while True:
            events = self._take_frame(await self._next_frame(ws))
            if session.has_output:  # rare (a pong, a reply, a refusal): no await otherwise
                frames = self._perform()
                if frames:
                    await self._send_frames(ws, frames)
            since_yield += len(events) or 1
            if self._queues and events:
                await self._feed_queues(events)
            if since_yield >= yield_every:
                since_yield = 0
                # recv() on a non-empty queue never suspends; yield so other
                # callbacks on the loop get their turn.
                await asyncio.sleep(0)

    async def _next_frame(self, ws: ClientSocket) -> str | bytes:
        """The next frame; one that is not even text is counted here and skipped."""
        while True:
            try:
                return await ws.receive()
            except BadText as bad:
                self._session.bad_frame(bad.data, bad.reason, time.time_ns())

    def _take_frame(self, frame: str | bytes) -> list[Event]:
        """Hand a frame to the session, then its events to the buffer, taps and sinks."""
        now = time.time_ns()
        self._taps.received(frame, now)
        events = self._session.receive_frame(frame, now)
        if events:
            buffer = self.buffer
            if len(events) == 1:
                buffer.append(events[0])
            else:
                buffer.extend(events)
            self._taps.buffered(events, buffer.last_seq)
            if self._listeners.events:
                self._listeners.passed_on(events)
        return events

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
        self._session.consumer_waits(True, time.time_ns())
        try:
            await queue.wait_writable()
        finally:
            self._session.consumer_waits(False, time.time_ns())
            if keepalive is not None and ws is not None and ws.ping_interval is not None:
                ws.start_keepalive()

    async def _keep_alive(self, ws: ClientSocket) -> None:
        """Run the session's keepalive clocks for this socket: ping, or end it when silent."""
        session = self._session
        while (due := session.next_timer_ns()) is not None:
            await asyncio.sleep(max(due - time.time_ns(), 0) / 1e9)
            session.timer_due(time.time_ns(), ws.last_ping_ns)
            frames = self._perform()
            with contextlib.suppress(ConnectionClosed):
                await self._send_frames(ws, frames)

    async def _send_frames(self, ws: ClientConnection, frames: Sequence[str | bytes]) -> None:
        for frame in frames:
            self._taps.sent(frame)
            await ws.send(frame)

    # Performing what the session decides ----------------------------------------

    def _perform(self) -> list[str | bytes]:
        """Do what the session asked since the last call; return the frames to send."""
        return [out.frame for out in self._perform_all() if isinstance(out, Send)]

    def _perform_all(self) -> list[Output]:
        outputs = self._session.take()
        for out in outputs:
            if isinstance(out, Resolve):
                future = self._futures.get(out.request)
                if future is not None and not future.done():
                    future.set_result(out.reply)
            elif isinstance(out, FailRequest):
                future = self._futures.get(out.request)
                if future is not None and not future.done():
                    future.set_exception(RequestError(out.reason))
                    # Nobody may await it any more; mark the exception as seen.
                    future.exception()
            elif isinstance(out, StateChanged):
                self._listeners.state_changed(out.change)
                changed, self._changed = self._changed, asyncio.Event()
                changed.set()
            elif isinstance(out, Mark):
                self.buffer.mark(out.kind, out.text, at_ns=out.at_ns, until_ns=out.until_ns)
            elif isinstance(out, StreamsRefused):
                self._taps.options_changed()
                self._listeners.refused(out.rejected)
            elif isinstance(out, Connected):
                self._resent.clear()
                self._resubscribe = out.streams
            elif isinstance(out, KeepaliveChanged):
                if self._ws is not None and self._keeper is not None:
                    self._keeper.cancel()
                    self._keeper = self._spawn(self._keep_alive(self._ws))
            elif isinstance(out, Abort):
                if self._ws is not None:
                    self._ws.transport.abort()
            elif isinstance(out, Fail):
                for queue in self._queues:
                    queue.end()
                for task in list(self._helpers):
                    task.cancel()
        return outputs

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

    def _raise_if_ended(self) -> None:
        session = self._session
        if session.state is State.FAILED:
            if session.auth_failed:
                raise AuthenticationFailed(session.reason, code=session.code)
            raise ConnectionFailed(session.reason, code=session.code)
        if session.state is State.CLOSED:
            raise ConnectionFailed("the connection was closed", code=session.code)

    def _mask(self, value: object) -> str:
        return self._wire_log.mask(str(value))


def _discard(items: list[Any], item: Any) -> None:
    with contextlib.suppress(ValueError):
        items.remove(item)


def _as_names(streams: Sequence[str] | str) -> list[str]:
    if isinstance(streams, str):
        return [streams]
    return list(streams)
