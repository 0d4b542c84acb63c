"""The relay: one upstream connection, every frame appended to a Redis Stream for many readers.

A :class:`Relay` keeps one feed connected (the same :class:`~streamwidgets.Connection`
as a widget: its states, reconnects, resubscriptions and close-code rules) and records it
(:class:`~streamwidgets.recording.recorder.Recorder`: every received frame with its receive time,
the state changes, the replay options; credentials masked) into a Redis Stream through
:class:`~streamwidgets.relay.sink.RedisSink`. Any number of notebooks then read it with
:func:`streamwidgets.feeds.redis`, parsed by the recorded feed's own dialect.

Neither a feed outage nor a Redis outage ends a relay: the connection reconnects with
backoff, and the sink retries Redis with backoff while the recorder's bounded queue holds
up to ``max_pending`` frames (then drops and counts them: a ``lost`` marker in the stream).
Only refusals end it: the feed refusing the credential, Redis refusing the password.

Example:
    >>> async def main(jwt):  # doctest: +SKIP
    ...     feed = feeds.hydra("wss://api.hydra.app/stream", token=jwt)
    ...     async with Relay(feed, "redis://127.0.0.1:6379/0", streams=["signals"],
    ...                      keep=24 * 3600) as relay:
    ...         await relay.wait()  # until stopped, or refused
    >>> from streamwidgets import feeds
    >>> Relay(feeds.hydra(token="t"), "redis://h:6379/0", keep=60, max_len=10)
    Traceback (most recent call last):
    ...
    streamwidgets.exceptions.ConfigurationError: keep and max_len both given: ...
"""

from __future__ import annotations

import asyncio
import datetime
import threading
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

from streamwidgets._util import checks
from streamwidgets.buffer.event_buffer import EventBuffer
from streamwidgets.connection.dialect import Dialect
from streamwidgets.connection.driver import CONNECTION_OPTIONS, Connection, State
from streamwidgets.exceptions import ConfigurationError
from streamwidgets.recording.recorder import DEFAULT_MAX_QUEUE, DEFAULT_MAX_QUEUE_BYTES, Recorder
from streamwidgets.relay.sink import RedisSink
from streamwidgets.relay.target import redis_target, trim

__all__ = ["Relay", "RelaySummary", "default_key"]

# The writer's waits: short, since they are the latency a relay adds (seconds).
_POLL = 0.002
_FLUSH = 0.05


def default_key(feed: Dialect) -> str:
    """The stream key a relay uses when given none: ``streamwidgets:<dialect name>``.

    Example:
        >>> from streamwidgets import feeds
        >>> default_key(feeds.hydra(token="t"))
        'streamwidgets:hydra'
    """
    return f"streamwidgets:{feed.name}"


@dataclass(frozen=True, slots=True)
class RelaySummary:
    """What a relay did so far (or in all, once stopped)."""

    target: str
    """The Redis URL and stream key."""
    events: int
    """Events the upstream connection parsed."""
    frames: int
    """Frames appended to the stream (markers not counted)."""
    bytes: int
    """Bytes of the lines appended to the stream."""
    lost: int
    """Frames dropped because Redis was slower than the feed, or down (each drop is a
    ``lost`` marker in the stream)."""
    state: str
    """The upstream connection's state and reason."""
    redis: str
    """The Redis side's state and reason."""
    stopped: str | None
    """Why the relay stopped (None while it runs)."""


class Relay:
    """Relay ``feed`` into a Redis Stream (see :mod:`streamwidgets.relay.relay`).

    Args:
        feed: a feed from :mod:streamwidgets.feeds`.
        to: ``redis://HOST:PORT/DB`` (``rediss://`` for TLS).
        key: the stream's key (default ``streamwidgets:<dialect>``); the header is at
            ``KEY:header``.
        streams: streams to subscribe to, kept across reconnects (a feed without a
            subscribe step sends what its credential allows; all of it is relayed).
        keep: keep entries received in the last ``keep`` seconds (or a timedelta):
            ``XADD ... MINID ~``.
        max_len: keep about this many entries: ``XADD ... MAXLEN ~``. Neither: about
            1,000,000 entries.
        password: the Redis password, if it needs one.
        include_sent: also relay the frames the client sends (credentials masked).
        duration: stop after this many seconds (None: until :meth:`close`).
        max_pending: frames that may wait for Redis before new ones are dropped, counted.
        max_pending_bytes: bytes that may wait for Redis, likewise.
        max_rows: rows the relay's own buffer keeps (``relay.connection.buffer``).
        **connection_options: passed to the :class:`~streamwidgets.connection.driver.Connection`
            (``backoff``, ``open_timeout``, ...).

    Raises:
        ConfigurationError: a bad URL, key, bound or option (nothing has started).
    """

    def __init__(
        self,
        feed: Dialect,
        to: str,
        *,
        key: str | None = None,
        streams: Iterable[str] = (),
        keep: float | datetime.timedelta | None = None,
        max_len: int | None = None,
        password: Any = None,
        include_sent: bool = False,
        duration: float | None = None,
        # Limits
        max_pending: int = DEFAULT_MAX_QUEUE,
        max_pending_bytes: int = DEFAULT_MAX_QUEUE_BYTES,
        max_rows: int = 1,
        **connection_options: Any,
    ) -> None:
        if not isinstance(feed, Dialect):
            raise checks.ArgumentTypeError(
                f"Relay takes a feed from streamwidgets.feeds, got {type(feed).__name__}"
            )
        unknown = sorted(set(connection_options) - CONNECTION_OPTIONS)
        if unknown:
            raise ConfigurationError(f"unknown option(s) {', '.join(unknown)}")
        self.target = redis_target(to, default_key(feed) if key is None else key, password)
        self.trim = trim(keep, max_len)
        checks.flag("include_sent", include_sent)
        self.duration = checks.seconds("duration", duration, maximum=checks.YEAR, allow_none=True)
        self._pending = (
            checks.count("max_pending", max_pending, maximum=10_000_000),
            checks.count("max_pending_bytes", max_pending_bytes, minimum=1024, maximum=2**34),
        )
        self.include_sent = include_sent
        max_rows = checks.count("max_rows", max_rows, maximum=checks.MAX_ROWS)
        self.connection = Connection(
            feed,
            streams=streams,
            buffer=EventBuffer(max_rows=max_rows, explode=feed.explode),
            **connection_options,
        )
        self._stopping = threading.Event()
        self.sink = RedisSink(
            self.target,
            trim=self.trim,
            relay={
                "key": self.target.key,
                "bound": self.trim.describe(),
                "streams": self.connection.subscriptions,
            },
            stopping=self._stopping,
        )
        self.recorder: Recorder | None = None

    # Lifecycle --------------------------------------------------------------------------------

    async def start(self) -> None:
        """Start recording into Redis and connecting upstream (returns at once)."""
        if self.recorder is not None:
            return
        self.recorder = self.connection.record(
            self.target.display,
            sink=self.sink,
            include_sent=self.include_sent,
            max_duration=self.duration,
            max_queue=self._pending[0],
            max_queue_bytes=self._pending[1],
            flush_interval=_FLUSH,
            poll_interval=_POLL,
        )
        self.connection.start()

    async def wait(self, timeout: float | None = None) -> RelaySummary:
        """Wait until the relay stops: ``duration`` reached, :meth:`close`, or a refusal
        (the feed's or Redis's); return the summary. Outages do not end it.

        Raises:
            TimeoutError: still running after ``timeout`` seconds.
        """
        async with asyncio.timeout(timeout):
            while self.running:
                await asyncio.sleep(0.05)
        return self.summary()

    @property
    def running(self) -> bool:
        """True while frames are relayed (or waited for, through outages)."""
        recorder = self.recorder
        return (
            recorder is not None
            and recorder.active
            and self.connection.state not in (State.FAILED, State.CLOSED)
        )

    async def close(self) -> RelaySummary:
        """Stop: close the upstream connection, add what is queued (trying Redis for a few
        seconds more if it is down), end the stream's session with an ``end`` marker."""
        self._stopping.set()
        await self.connection.close()
        return self.summary()

    async def __aenter__(self) -> Relay:
        await self.start()
        return self

    async def __aexit__(self, *exc_info: object) -> None:
        await self.close()

    # What there is to see --------------------------------------------------------------------

    def summary(self) -> RelaySummary:
        """Events, frames, bytes, losses and both sides' states, now.

        Example:
            >>> relay.summary().lost  # doctest: +SKIP
            0
        """
        recorder = self.recorder
        summary = recorder.summary() if recorder is not None else None
        connection = self.connection
        stopped = None if summary is None else summary.stopped
        if connection.state is State.FAILED:
            stopped = f"the feed failed: {connection.reason}"
        return RelaySummary(
            target=self.target.display,
            events=connection.stats.events,
            frames=0 if summary is None else summary.frames,
            bytes=self.sink.size,
            lost=0 if summary is None else summary.lost,
            state=f"{connection.state.value}: {connection.reason}",
            redis=f"{self.sink.state}: {self.sink.reason}",
            stopped=stopped,
        )

    def __repr__(self) -> str:
        s = self.summary()
        return f"<Relay {s.target} frames={s.frames} lost={s.lost} [{self.connection.state}]>"
