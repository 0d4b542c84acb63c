"""A rolling, columnar buffer of events that builds pandas DataFrames on demand.

Design, for speed: :meth:`EventBuffer.append` flattens the event at once into pending
columns of plain values (:class:`~streamwidgets.buffer.rows.PendingRows`, which says why
events are not kept); every few thousand rows (and before any read) they are converted
into a :class:`~streamwidgets.buffer.columns.Chunk` of typed arrays. Rolling drops whole
old chunks and slices the first one. A read concatenates the chunks into a DataFrame that
is cached until new data arrive.
"""

from __future__ import annotations

import datetime
import logging
import os
import time
from collections import deque
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pyarrow as pa

from streamwidgets._util.checks import MAX_ROWS
from streamwidgets.buffer.columns import META_COLUMNS, Chunk, build_frame, convert, merge
from streamwidgets.buffer.export import write_csv, write_jsonl, write_parquet
from streamwidgets.buffer.options import check_count, explode_paths, window_ns
from streamwidgets.buffer.rows import PendingRows
from streamwidgets.events import Event
from streamwidgets.exceptions import ConfigurationError

__all__ = ["EventBuffer", "RejectedEvent"]

logger = logging.getLogger(__name__)

_CHUNK_ROWS = 4096


@dataclass(frozen=True, slots=True)
class RejectedEvent:
    """An event that could not become a row: its seq, why, and a short preview."""

    seq: int
    reason: str
    preview: str


def _event_preview(event: Event) -> str:
    try:
        text = repr(event)
    except Exception:  # a payload too deep or too odd even for repr
        text = f"Event(stream={event.stream!r}, type={event.type!r}, data=<unprintable>)"
    return text if len(text) <= 300 else text[:300] + "..."


class EventBuffer:
    """Rolling buffer of events, read as pandas DataFrames.

    Columns, in order: ``seq`` (int64, 1-based, assigned on append), ``received_at`` and
    ``event_time`` (``datetime64[ns, UTC]``, ``event_time`` NaT when unknown), ``stream``
    and ``type`` (pandas ``str``), ``snapshot`` (bool), then the payload flattened the way
    ``pd.json_normalize`` names it: ``data.severity``, ``data.position.lat``; a payload that
    is not a dict goes in a column ``data``. Data columns appear as fields arrive (earlier
    rows get nulls), in order of first appearance. Lists of one scalar type (``["a", "b"]``)
    are stored by Arrow, dtype ``pd.ArrowDtype(pa.list_(...))``: ``.iloc[i]``, ``.tolist()``
    and iteration give Python lists, missing cells are ``pd.NA``, and ``.map``/``.apply``
    see numpy arrays. Other lists (mixed or nested items) stay Python lists (``object``).

    Data dtypes: ints -> nullable ``Int64`` (always, nulls or not); ints mixed with floats
    -> ``float64``; strings -> ``str``; bools -> ``boolean``; anything without a common type
    (an int here, a string there) -> ``object`` holding the original values, never an
    error. A field that is a dict in one event and a scalar in another gives two columns,
    ``data.x`` and ``data.x.y``, as ``pd.json_normalize`` would.

    ``explode`` maps an event type to the dotted path (under ``data``) of a list of
    records: each item becomes a row, its fields under that path, the sibling fields
    repeated. All rows of one event share the event's ``seq``, so :meth:`since` hands out
    whole events. An empty list gives no row; a missing or non-list value gives one
    ordinary row.

    Rolling keeps the newest ``max_rows`` rows and/or the rows whose ``received_at`` is
    within ``window`` of the newest one (it moves when data arrive, not with the clock).
    At least one bound is required.

    Frames returned by reads may be modified freely: they are shallow copies of a cached
    frame, and pandas copy-on-write keeps the cache intact.

    Args:
        max_rows: rows to keep (at most 50,000,000), or None for no row limit.
        window: seconds (or a timedelta) of ``received_at`` to keep, or None.
        explode: event type -> dotted path of a list of records to split into rows.
        max_markers: connection markers to keep (see :meth:`mark`).

    Example:
        >>> buf = EventBuffer(max_rows=1000)
        >>> buf.append(Event("signals", "signal_new", {"severity": 3, "pos": {"lat": 1.5}},
        ...                  received_ns=1_710_000_000_000_000_000))
        >>> buf.df.columns.tolist()[-2:]
        ['data.severity', 'data.pos.lat']
        >>> frame, cursor = buf.since(0)
        >>> len(frame), cursor
        (1, 1)
    """

    def __init__(
        self,
        *,
        # Rolling
        max_rows: int | None = 100_000,
        window: float | datetime.timedelta | None = None,
        # Shape
        explode: Mapping[str, str] | None = None,
        # Limits
        max_markers: int = 1000,
    ) -> None:
        self._max_rows = check_count("max_rows", max_rows, allow_none=True, maximum=MAX_ROWS)
        self._window = window
        self._window_ns = window_ns(window)
        if self._max_rows is None and self._window_ns is None:
            raise ConfigurationError(
                "max_rows and window are both None: the buffer would grow without bound; "
                "set max_rows (e.g. 100_000) and/or window (seconds)"
            )
        self._explode = explode_paths(explode)
        self._max_markers = check_count("max_markers", max_markers, allow_none=False)
        self._markers: deque[tuple[int, int | None, str, str, int]] = deque(
            maxlen=self._max_markers
        )
        self._pending = PendingRows(self._explode)
        self._chunks: deque[Chunk] = deque()
        # column -> number of chunks holding it; dict order is first appearance
        self._column_counts: dict[str, int] = {}
        self._converted_seq = 0  # seq of the last converted event
        self._rows = 0
        self._total_rows = 0
        self._dropped_rows = 0
        self._newest_ns: int | None = None
        self._version = 0
        self._cache: dict[tuple[str | None, str | None], tuple[int, pd.DataFrame]] = {}
        #: Events that could not become rows (the newest 100), with why.
        self.rejected: deque[RejectedEvent] = deque(maxlen=100)
        #: How many events could not become rows, in all.
        self.rejected_count = 0
        #: Rows kept without an event time: the one sent was beyond what datetime64[ns]
        #: holds (before 1677 or after 2262).
        self.times_out_of_range = 0

    # Writing

    def append(self, event: Event) -> None:
        """Add one event (amortised O(1): conversion happens in batches).

        An event that cannot become a row (its received time is not an int of
        nanoseconds, its stream cannot be text...) is counted in :attr:`rejected_count`
        and kept in :attr:`rejected` with the reason; it still takes a seq.

        Raises:
            TypeError: ``event`` is not an :class:`~streamwidgets.events.Event`.

        Example:
            >>> buf = EventBuffer()
            >>> buf.append(Event(None, "tick", 1.5, received_ns=0))
            >>> buf.last_seq
            1
        """
        if type(event) is not Event and not isinstance(event, Event):
            raise TypeError(f"EventBuffer.append takes an Event, got {type(event).__name__}")
        pending = self._pending
        try:
            pending.add(event)
        except Exception as exc:  # any fault of this one event's content
            self._set_aside(event, exc)
        if pending.rows >= _CHUNK_ROWS:
            self._flush()

    def extend(self, events: Iterable[Event]) -> None:
        """Add events in order; nothing is added if one of them is not an Event.

        Example:
            >>> buf = EventBuffer()
            >>> buf.extend(Event(None, "tick", i, received_ns=i) for i in range(3))
            >>> len(buf)
            3
        """
        batch = list(events)
        for event in batch:
            if not isinstance(event, Event):
                raise TypeError(f"EventBuffer.extend takes Events, got {type(event).__name__}")
        for event in batch:
            self.append(event)

    def mark(
        self, kind: str, detail: str = "", *, at_ns: int | None = None, until_ns: int | None = None
    ) -> None:
        """Record a connection marker (``"connected"``, ``"gap"``, ``"disconnected"``...).

        Args:
            kind: what happened.
            detail: free text.
            at_ns: when, nanoseconds since the epoch (UTC); now if None.
            until_ns: end of a span (e.g. a gap), if any.

        Example:
            >>> buf = EventBuffer()
            >>> buf.mark("gap", "no data", at_ns=0, until_ns=10**9)
            >>> buf.markers[["kind", "seq"]].values.tolist()
            [['gap', 0]]
        """
        if not isinstance(kind, str) or not isinstance(detail, str):
            raise TypeError("mark() takes a str kind and a str detail")
        at = time.time_ns() if at_ns is None else int(at_ns)
        until = None if until_ns is None else int(until_ns)
        self._markers.append((at, until, kind, detail, self.last_seq))

    def clear(self) -> None:
        """Drop every row and marker; ``seq`` keeps counting so cursors stay valid."""
        self._flush()
        self._chunks.clear()
        self._column_counts.clear()
        self._markers.clear()
        self._rows = 0
        self._newest_ns = None
        self._changed()

    # Reading

    @property
    def markers(self) -> pd.DataFrame:
        """Markers as a DataFrame: ``time``, ``until`` (UTC, NaT if none), ``kind``,
        ``detail``, ``seq`` (the last event seq when marked)."""
        rows = list(self._markers)
        at = np.array([r[0] for r in rows], dtype=np.int64)
        until = np.array([np.iinfo(np.int64).min if r[1] is None else r[1] for r in rows])
        return pd.DataFrame(
            {
                "time": pd.to_datetime(at, unit="ns", utc=True),
                "until": pd.to_datetime(until.astype(np.int64), unit="ns", utc=True),
                "kind": pd.array([r[2] for r in rows], dtype="str"),
                "detail": pd.array([r[3] for r in rows], dtype="str"),
                "seq": np.array([r[4] for r in rows], dtype=np.int64),
            }
        )

    def to_dataframe(self, stream: str | None = None, type: str | None = None) -> pd.DataFrame:
        """The buffer's rows, optionally of one stream and/or event type.

        With a filter, data columns that hold no value in the selected rows are left out
        and the index is renumbered from 0.

        Example:
            >>> buf = EventBuffer()
            >>> buf.append(Event("a", "x", {"v": 1}, received_ns=0))
            >>> buf.append(Event("b", "y", {"w": 2}, received_ns=1))
            >>> buf.to_dataframe(type="y").columns.tolist()[-1:]
            ['data.w']
        """
        self._flush()
        key = (stream, type)
        cached = self._cache.get(key)
        if cached is None or cached[0] != self._version:
            if key == (None, None):
                frame = build_frame(self._chunks, list(self._column_counts))
            else:
                frame = self._filtered(stream, type)
            self._cache[key] = cached = (self._version, frame)
        return cached[1].copy(deep=False)

    @property
    def df(self) -> pd.DataFrame:
        """All rows, same as :meth:`to_dataframe` without filters."""
        return self.to_dataframe()

    def df_later(self) -> Callable[[], pd.DataFrame]:
        """The rows held now, as a function that builds their DataFrame (:attr:`df` as of
        this call) when called, in any thread, however the buffer changes meanwhile.

        Cheap here (the pending rows are converted and the chunk list copied; chunks are
        never changed in place); the frame itself, the costly part for a big buffer, is
        built by the call, e.g. in a worker thread while the event loop goes on.

        Example:
            >>> buf = EventBuffer()
            >>> buf.append(Event("a", "x", {"v": 1}, received_ns=0))
            >>> later = buf.df_later()
            >>> buf.append(Event("a", "x", {"v": 2}, received_ns=1))
            >>> len(later()), len(buf.df)
            (1, 2)
        """
        self._flush()
        cached = self._cache.get((None, None))
        if cached is not None and cached[0] == self._version:
            frame = cached[1]
            return lambda: frame.copy(deep=False)
        chunks, columns = list(self._chunks), list(self._column_counts)
        return lambda: build_frame(chunks, columns)

    def since(self, cursor: int, columns: Iterable[str] | None = None) -> tuple[pd.DataFrame, int]:
        """Rows with ``seq > cursor`` still held, and the new cursor (the last seq).

        Cost is proportional to the new rows, not the buffer. Columns are all the
        buffer's columns, so a frame of new rows may have nulls where fields are absent;
        ``columns`` keeps the meta columns and only those data columns (the ones the
        buffer has), which is much cheaper on wide feeds.

        Example:
            >>> buf = EventBuffer()
            >>> buf.append(Event(None, "t", 1, received_ns=0))
            >>> frame, cursor = buf.since(0)
            >>> buf.append(Event(None, "t", 2, received_ns=1))
            >>> buf.since(cursor)[0]["data"].tolist()
            [2]
        """
        if isinstance(cursor, bool) or not isinstance(cursor, (int, np.integer)):
            raise TypeError(f"cursor must be an int, got {cursor!r}")
        self._flush()
        wanted = list(self._column_counts)
        if columns is not None:
            asked = set(columns)
            wanted = [name for name in wanted if name in asked]
        elif cursor <= 0 and self._cache.get((None, None), (-1,))[0] == self._version:
            return self.to_dataframe(), self._converted_seq
        picked: list[Chunk] = []
        for chunk in reversed(self._chunks):
            if chunk.seq[-1] <= cursor:
                break
            if chunk.seq[0] > cursor:
                picked.append(chunk)
            else:
                start = int(np.searchsorted(chunk.seq, cursor, side="right"))
                picked.append(chunk.take(slice(start, None)))
                break
        picked.reverse()
        return build_frame(picked, wanted), self._converted_seq

    @property
    def last_seq(self) -> int:
        """Seq of the last event appended (0 before any)."""
        return self._converted_seq + self._pending.events

    def __len__(self) -> int:
        self._flush()
        return self._rows

    @property
    def total_rows(self) -> int:
        """Rows ever added (after exploding), evicted and cleared ones included."""
        self._flush()
        return self._total_rows

    @property
    def dropped_rows(self) -> int:
        """Rows evicted by rolling (``max_rows`` or ``window``)."""
        self._flush()
        return self._dropped_rows

    @property
    def explode(self) -> dict[str, str]:
        """The ``explode`` this buffer was made with: event type -> dotted record path."""
        return {kind: ".".join(path) for kind, path in self._explode.items()}

    @property
    def columns(self) -> list[str]:
        """Column names, meta columns first, without building a DataFrame."""
        self._flush()
        return [*META_COLUMNS, *self._column_counts]

    def numeric_columns(self, stream: str | None = None, type: str | None = None) -> list[str]:
        """Data columns with a numeric (not boolean) dtype, e.g. for a field picker.

        Example:
            >>> buf = EventBuffer()
            >>> buf.append(Event(None, "t", {"v": 1, "s": "x", "b": True}, received_ns=0))
            >>> buf.numeric_columns()
            ['data.v']
        """
        frame = self.to_dataframe(stream, type)
        return [
            name
            for name, dtype in frame.dtypes.items()
            if name not in META_COLUMNS
            and pd.api.types.is_numeric_dtype(dtype)
            and not pd.api.types.is_bool_dtype(dtype)
        ]

    def __repr__(self) -> str:
        return (
            f"EventBuffer(rows={len(self)}, columns={len(self.columns)}, "
            f"max_rows={self._max_rows}, window={self._window!r})"
        )

    # Export

    def to_parquet(self, path: str | os.PathLike[str], **kwargs: Any) -> Path:
        """Write the rows to Parquet; dtypes (UTC timestamps included) read back the same.

        Object columns Arrow cannot type (mixed values) are written as JSON text.
        ``kwargs`` go to ``DataFrame.to_parquet``. Returns the path.

        Example:
            >>> buf = EventBuffer()
            >>> buf.append(Event(None, "t", {"v": 1}, received_ns=0))
            >>> buf.to_parquet("rows.parquet")  # doctest: +SKIP
            PosixPath('rows.parquet')
        """
        return write_parquet(self.to_dataframe(), path, **kwargs)

    def to_csv(self, path: str | os.PathLike[str], **kwargs: Any) -> Path:
        """Write the rows to CSV; lists and dicts as JSON text, timestamps ISO-8601 UTC.

        ``kwargs`` go to ``DataFrame.to_csv``. Returns the path.

        Example:
            >>> EventBuffer().to_csv("rows.csv")  # doctest: +SKIP
            PosixPath('rows.csv')
        """
        return write_csv(self.to_dataframe(), path, **kwargs)

    def to_jsonl(self, path: str | os.PathLike[str], **kwargs: Any) -> Path:
        """Write one JSON object per row, timestamps as ISO-8601 strings (UTC).

        ``kwargs`` go to ``DataFrame.to_json``. Returns the path.

        Example:
            >>> EventBuffer().to_jsonl("rows.jsonl")  # doctest: +SKIP
            PosixPath('rows.jsonl')
        """
        return write_jsonl(self.to_dataframe(), path, **kwargs)

    # Internals

    def _changed(self) -> None:
        self._version += 1
        self._cache.clear()

    def _flush(self) -> None:
        pending = self._pending
        if not pending.events:
            return
        first = self._converted_seq + 1
        self._converted_seq += pending.events
        self.times_out_of_range += pending.times_out_of_range
        if pending.rows:
            seq = np.arange(first, first + pending.events, dtype=np.int64)
            self._add(convert(pending, seq))
        pending.clear()
        self._evict()
        self._changed()

    def _set_aside(self, event: Event, exc: Exception) -> None:
        """Keep an event that cannot become a row in :attr:`rejected`, with why."""
        seq = self._converted_seq + self._pending.events + 1
        self._pending.skip()
        reason = f"{type(exc).__name__}: {exc}"[:300]
        if isinstance(exc, TypeError) and "received_ns" in reason:
            reason = "its received time is not an int of nanoseconds"
        self.rejected.append(RejectedEvent(seq, reason, _event_preview(event)))
        self.rejected_count += 1
        count = self.rejected_count
        if count & (count - 1) == 0:  # 1, 2, 4, 8...: a bad feed is no flood of warnings
            logger.warning(
                "dropped %d event(s) that cannot become rows so far, the last: %s", count, reason
            )

    def _add(self, chunk: Chunk) -> None:
        self._chunks.append(chunk)
        counts = self._column_counts
        for name in chunk.data:
            counts[name] = counts.get(name, 0) + 1
        self._rows += chunk.n
        self._total_rows += chunk.n
        newest = int(chunk.received.max())
        if self._newest_ns is None or newest > self._newest_ns:
            self._newest_ns = newest
        self._compact()

    def _compact(self) -> None:
        """Merge small chunks at the tail, so that reads stay cheap however often they
        come: a reader at 20 Hz on a 100 events/s feed makes 5-row chunks, and a frame
        of 10,000 of them takes ~0.7 s to build. A chunk under ``_CHUNK_ROWS`` rows takes
        in a follower at least half its size, so each row is copied O(log) times and the
        chunks number about ``rows / _CHUNK_ROWS`` plus a few small ones."""
        chunks = self._chunks
        counts = self._column_counts
        while len(chunks) >= 2:
            prev, last = chunks[-2], chunks[-1]
            if prev.n >= _CHUNK_ROWS or last.n * 2 < prev.n:
                return
            try:
                merged = merge([prev, last])
            except (pa.ArrowException, ValueError, TypeError, OverflowError, MemoryError):
                logger.debug("chunks left apart", exc_info=True)
                return  # e.g. strings beyond what one Arrow array holds: apart is fine
            chunks.pop()
            chunks[-1] = merged
            for name in merged.data:
                # No count reaches zero here, so the columns keep their order.
                counts[name] += 1 - (name in prev.data) - (name in last.data)

    def _evict(self) -> None:
        chunks = self._chunks
        if self._window_ns is not None and self._newest_ns is not None:
            cutoff = self._newest_ns - self._window_ns
            for i, chunk in enumerate(list(chunks)):
                keep = chunk.received >= cutoff
                if not keep.all():
                    self._replace(i, chunk.take(keep))
            for chunk in [c for c in chunks if c.n == 0]:
                chunks.remove(chunk)
                self._forget(chunk)
        if self._max_rows is not None:
            while self._rows > self._max_rows:
                excess = self._rows - self._max_rows
                first = chunks[0]
                if first.n <= excess:
                    chunks.popleft()
                    self._forget(first)
                    self._rows -= first.n
                    self._dropped_rows += first.n
                else:
                    self._replace(0, first.take(slice(excess, None)))

    def _replace(self, index: int, chunk: Chunk) -> None:
        removed = self._chunks[index].n - chunk.n
        self._chunks[index] = chunk
        self._rows -= removed
        self._dropped_rows += removed

    def _forget(self, chunk: Chunk) -> None:
        counts = self._column_counts
        for name in chunk.data:
            counts[name] -= 1
            if not counts[name]:
                del counts[name]

    def _filtered(self, stream: str | None, type: str | None) -> pd.DataFrame:
        full = self.to_dataframe()
        mask = np.ones(len(full), dtype=np.bool_)
        if stream is not None:
            mask &= (full["stream"] == stream).to_numpy(dtype=np.bool_, na_value=False)
        if type is not None:
            mask &= (full["type"] == type).to_numpy(dtype=np.bool_, na_value=False)
        frame = full.loc[mask].reset_index(drop=True)
        data = [c for c in frame.columns if c not in META_COLUMNS]
        empty = [c for c in data if not frame[c].notna().any()]
        return frame.drop(columns=empty)
