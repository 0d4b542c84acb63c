"""The headless API: the same engine as the widget, for scripts and tests."""

from __future__ import annotations

import datetime
import os
from collections.abc import Iterable, Mapping
from typing import Any

import pandas as pd

from streamwidgets._util import checks
from streamwidgets.buffer.event_buffer import EventBuffer
from streamwidgets.connection.consumer import ConsumerQueue, Overflow
from streamwidgets.connection.dialect import Dialect
from streamwidgets.connection.driver import (
    CONNECTION_OPTIONS,
    Connection,
    State,
    SubscriptionResult,
)
from streamwidgets.connection.stats import ConnectionStats
from streamwidgets.exceptions import ConfigurationError, ConnectionFailed

__all__ = ["Stream", "open"]

#: open()'s own arguments, beside the Connection options it passes on.
OPEN_OPTIONS = frozenset(
    {"streams", "max_rows", "window", "buffer", "connect_timeout", "queue_size"}
    | {"on_overflow", "record", "record_options"}
)


class Stream:
    """A live feed: connection, buffer and an async iterator over its events.

    Made by :func:`open`. ``async with`` connects and waits for the handshake
    (raising :class:`ConnectionFailed` if the feed refuses), and closes on exit.
    Iterating yields every event from the moment iteration starts. The buffer
    (:attr:`df`) always gets every event; a consumer slower than the feed gets what
    its ``on_overflow`` policy says (see :mod:`streamwidgets.connection.consumer`): by default
    the oldest of the ``queue_size`` waiting events are dropped, counted in
    :attr:`dropped`, and iteration yields a :class:`~streamwidgets.events.Gap` where
    they were. Iteration ends when the stream is closed and raises
    :class:`ConnectionFailed` if the connection gives up.
    """

    def __init__(
        self,
        connection: Connection,
        *,
        connect_timeout: float,
        queue_size: int,
        on_overflow: Overflow = "drop_oldest",
    ) -> None:
        self.connection = connection
        self._connect_timeout = connect_timeout
        self._queue_size = queue_size
        self._on_overflow: Overflow = on_overflow
        self._dropped_before = 0
        self._queue: ConsumerQueue | None = None

    # Lifecycle
    async def __aenter__(self) -> Stream:
        self.connection.start()
        try:
            await self.connection.wait_connected(timeout=self._connect_timeout)
        except BaseException:
            await self.connection.close()
            raise
        return self

    async def __aexit__(self, *exc_info: object) -> None:
        await self.close()

    async def close(self) -> None:
        """Close the connection; the buffer stays readable."""
        await self.connection.close()

    def __aiter__(self) -> Any:
        return self._iterate()

    async def _iterate(self) -> Any:
        queue = self.connection.event_queue(self._queue_size, on_overflow=self._on_overflow)
        self._queue = queue
        try:
            while True:
                event = await queue.get()
                if event is None:
                    break
                yield event
        finally:
            self.connection.release_queue(queue)
            self._dropped_before += queue.dropped
            self._queue = None
        if self.connection.state is State.FAILED:
            raise ConnectionFailed(self.connection.reason, code=self.connection.close_code)

    # What there is to see
    @property
    def buffer(self) -> EventBuffer:
        """The rolling buffer of every event received."""
        return self.connection.buffer

    @property
    def df(self) -> pd.DataFrame:
        """The buffer as a DataFrame, now."""
        return self.connection.buffer.to_dataframe()

    def to_dataframe(self, stream: str | None = None, type: str | None = None) -> pd.DataFrame:
        """The buffer's rows, optionally of one stream and/or event type."""
        return self.connection.buffer.to_dataframe(stream=stream, type=type)

    @property
    def dropped(self) -> int:
        """Events ``async for`` skipped because it fell behind (the buffer holds them)."""
        queue = self._queue
        return self._dropped_before + (queue.dropped if queue is not None else 0)

    @property
    def state(self) -> State:
        """The connection's state."""
        return self.connection.state

    @property
    def stats(self) -> ConnectionStats:
        """The connection's counters."""
        return self.connection.stats

    @property
    def available_streams(self) -> list[str] | None:
        """The streams the feed offers, once connected."""
        return self.connection.available_streams

    async def subscribe(self, *streams: str) -> SubscriptionResult:
        """Subscribe to more streams (kept across reconnects)."""
        return await self.connection.subscribe(list(streams))

    async def unsubscribe(self, *streams: str) -> SubscriptionResult:
        """Unsubscribe from streams."""
        return await self.connection.unsubscribe(list(streams))

    def __repr__(self) -> str:
        return f"<Stream {self.connection!r} rows={len(self.connection.buffer)}>"


def open(
    feed: Dialect,
    *,
    streams: Iterable[str] = (),
    max_rows: int | None = 100_000,
    window: float | datetime.timedelta | None = None,
    buffer: EventBuffer | None = None,
    connect_timeout: float = 30.0,
    queue_size: int = 10_000,
    on_overflow: Overflow = "drop_oldest",
    record: str | os.PathLike[str] | None = None,
    record_options: Mapping[str, Any] | None = None,
    **connection_options: Any,
) -> Stream:
    """Open a feed headless.

    Args:
        feed: a feed from :mod:streamwidgets.feeds`.
        streams: streams to subscribe to (kept across reconnects).
        max_rows: rows the buffer keeps.
        window: time the buffer keeps (seconds or a timedelta).
        buffer: an existing buffer to fill instead of a new one.
        connect_timeout: seconds ``async with`` waits for the handshake.
        queue_size: events that may wait for a slow ``async for`` consumer.
        on_overflow: what a consumer that falls ``queue_size`` events behind gets:
            ``"drop_oldest"`` (drops counted, a :class:`~streamwidgets.events.Gap` in
            the iteration) or ``"block"`` (the socket reader waits for it).
        record: record every received frame to this file from the first one (see
            :mod:`streamwidgets.recording.recorder`), or, given a directory, write the buffer's
            rows there as rolled, partitioned Parquet (see :mod:`streamwidgets.recording.history`);
            ``stream.connection.stop_recording()`` ends it.
        record_options: options of the recording (``max_bytes``, ``max_duration``...)
            or of the history (``partition_by``, ``roll_every``...).
        **connection_options: passed to :class:`~streamwidgets.connection.driver.Connection`.

    Example:
        >>> async def main(url, token):  # doctest: +SKIP
        ...     async with streamwidgets.open(feeds.hydra(url, token=token),
        ...                                   streams=["signals"]) as stream:
        ...         async for event in stream:
        ...             print(event.type, event.data)
        ...         print(stream.df.tail())
    """
    if not isinstance(feed, Dialect):
        raise checks.ArgumentTypeError(
            f"open() takes a feed from streamwidgets.feeds, got {type(feed).__name__}"
        )
    unknown = sorted(set(connection_options) - CONNECTION_OPTIONS)
    if unknown:
        raise ConfigurationError(
            f"unknown option(s) {', '.join(unknown)}; open() takes "
            f"{', '.join(sorted(CONNECTION_OPTIONS | OPEN_OPTIONS))}"
        )
    ConsumerQueue(queue_size, on_overflow)  # checks both before anything starts
    connect_timeout = checks.seconds("connect_timeout", connect_timeout)
    if record is not None and not isinstance(record, (str, os.PathLike)):
        raise checks.ArgumentTypeError(f"record must be a file path, got {record!r}")
    if record_options is not None and not isinstance(record_options, Mapping):
        raise checks.ArgumentTypeError(f"record_options must be a dict, got {record_options!r}")
    if buffer is None:
        buffer = EventBuffer(max_rows=max_rows, window=window, explode=feed.explode)
    connection = Connection(feed, streams=streams, buffer=buffer, **connection_options)
    if record is not None:
        connection.record(record, **dict(record_options or {}))
    elif record_options:
        raise ConfigurationError("record_options without record=path")
    return Stream(
        connection,
        connect_timeout=connect_timeout,
        queue_size=queue_size,
        on_overflow=on_overflow,
    )
