"""Buffer rows kept beyond memory: hive-partitioned Parquet files, rolled as they fill.

A :class:`HistoryWriter` takes every event a connection buffers, flattens it as the
buffer does, and every roll writes the rows gathered since the last one as one Parquet
file per partition, typed as the buffer types them::

    DIR/date=2026-11-29/stream=markets/part-1764374400123456789-000042.parquet

The layout is Hive's (``key=value`` directories, values URL-encoded), which pyarrow,
DuckDB, Polars and Spark read as columns. A partition column is not repeated inside the
file. Each file is written under a temporary name and renamed when complete, so every
file in the directory is whole and readable, and a crash loses at most one roll.

:func:`history` reads a directory back into one DataFrame, skipping the partitions
outside ``start``/``end``/``streams`` by their directory names and the row groups outside
the time range by their statistics (pyarrow's predicate pushdown).

The same directory in DuckDB (columns of different files are matched by name, since a
field may appear in a later roll only)::

    SELECT stream, count(*) FROM read_parquet('DIR/**/*.parquet',
        hive_partitioning = true, union_by_name = true) GROUP BY stream
"""

from __future__ import annotations

import datetime
import logging
import os
import re
import threading
import time
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import quote, unquote

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq

from streamwidgets._util import checks
from streamwidgets.buffer.columns import build_frame, convert
from streamwidgets.buffer.event_buffer import EventBuffer
from streamwidgets.buffer.export import frame_from_table, write_parquet
from streamwidgets.buffer.options import explode_paths
from streamwidgets.buffer.rows import PendingRows
from streamwidgets.events import Event
from streamwidgets.exceptions import ConfigurationError

__all__ = [
    "PARTITION_KEYS",
    "HistorySummary",
    "HistoryWriter",
    "fill_from_history",
    "history",
    "history_events",
    "is_history_target",
]

logger = logging.getLogger(__name__)

#: What a history can be partitioned by: the UTC date or hour of receipt, the stream,
#: the event type.
PARTITION_KEYS = ("date", "hour", "stream", "type")
_MAX_PENDING_ROWS = 10_000_000
_DURATION = re.compile(r"\s*([0-9]*\.?[0-9]+)\s*(s|sec|m|min|h|hour)\s*", re.IGNORECASE)
_SECONDS = {"s": 1, "sec": 1, "m": 60, "min": 60, "h": 3600, "hour": 3600}
# Parquet files of one roll carry the rows' first receive time and a roll number.
_PART = "part-{first:019d}-{roll:06d}.parquet"
_FIXED = ("seq", "received_at", "event_time", "stream", "type", "snapshot")
# Hive's name for a null partition value (an event without a stream), as pyarrow, DuckDB
# and Spark read it.
_NULL = "__HIVE_DEFAULT_PARTITION__"


@dataclass(frozen=True, slots=True)
class HistorySummary:
    """What a history writer has written (so far, or in all once closed)."""

    directory: Path
    files: int
    """Parquet files written."""
    rows: int
    """Rows written."""
    bytes: int
    """Bytes of the files written."""
    lost: int
    """Rows dropped because the writer fell behind (more than ``max_pending_rows``)."""
    stopped: str | None
    """Why the writer stopped, or None while it runs."""


class HistoryWriter:
    """Write a feed's buffer rows to a hive-partitioned Parquet directory, rolled.

    Made by ``Connection.record(directory, partition_by=..., roll_every=...)`` (and so by
    ``StreamWidget.record`` and ``streamwidgets.open(feed, record=directory,
    record_options={...})``): the connection hands it every event it buffers.

    Args:
        directory: where the partitions go (made if missing; files already there stay,
            so a second run adds to the same history).
        partition_by: a sequence of ``"date"``, ``"hour"`` (UTC, of receipt),
            ``"stream"``, ``"type"``; ``()`` for none.
        roll_every: when a roll is written: a duration (``"10min"``, ``"30s"``, ``"1h"``,
            a ``datetime.timedelta``, or a float of seconds), or an int of bytes received
            from the feed since the last roll (read from ``bytes_received``).
        bytes_received: a callable giving the feed's received bytes so far (a size roll
            needs it; the connection passes its ``stats.bytes``).
        explode: as the buffer's ``explode`` (a record list per type to rows).
        max_pending_rows: rows that may wait for a roll; beyond that a roll starts at
            once, and rows that arrive while the writer is still that far behind are
            dropped and counted (``summary().lost``): memory stays bounded.

    Raises:
        ConfigurationError: a bad argument (unknown partition key, a roll below one
            second or above a day, a size below 1 KiB, ...).

    Example:
        >>> writer = HistoryWriter("history", roll_every="10min")  # doctest: +SKIP
        >>> writer.add(event)  # doctest: +SKIP
        >>> writer.close().files  # doctest: +SKIP
        2
    """

    def __init__(
        self,
        directory: str | os.PathLike[str],
        *,
        partition_by: Sequence[str] = ("date", "stream"),
        roll_every: str | float | int | datetime.timedelta = "10min",
        bytes_received: Callable[[], int] | None = None,
        explode: Any = None,
        max_pending_rows: int = 1_000_000,
    ) -> None:
        if not isinstance(directory, (str, os.PathLike)):
            raise checks.ArgumentTypeError(f"directory must be a path, got {directory!r}")
        self.directory = Path(directory)
        if self.directory.exists() and not self.directory.is_dir():
            raise ConfigurationError(f"{self.directory} is a file, not a history directory")
        self.partition_by = _partition_keys(partition_by)
        self._roll_seconds, self._roll_bytes = _roll(roll_every)
        if self._roll_bytes is not None and bytes_received is None:
            raise ConfigurationError("roll_every in bytes needs the feed's bytes_received")
        self._bytes_received = bytes_received
        self._max_pending = checks.count(
            "max_pending_rows", max_pending_rows, minimum=1_000, maximum=_MAX_PENDING_ROWS
        )
        self._explode = explode_paths(explode)
        try:
            self.directory.mkdir(parents=True, exist_ok=True)
            probe = self.directory / f".write-check-{os.getpid()}-{id(self)}"
            probe.touch()
            probe.unlink()
        except OSError as exc:
            raise ConfigurationError(
                f"cannot write a history in {self.directory}: {exc.strerror or exc}"
            ) from None
        self._lock = threading.Lock()
        self._pending = PendingRows(self._explode)
        self._seqs: list[int] = []  # per pending event, its seq
        self._numbered = 0
        self._roll_number = 0
        self._files = self._rows = self._bytes = self._lost = 0
        self._stopped: str | None = None
        self._wake = threading.Event()
        self._closing = False
        self._error: BaseException | None = None
        self._thread = threading.Thread(
            target=self._run, name=f"history {self.directory.name}", daemon=True
        )
        self._thread.start()

    # Called on the event loop: cheap, never blocks on the disk.

    def add(self, event: Event, seq: int | None = None) -> None:
        """Take one buffered event (from the connection's loop thread); ``seq`` is the
        buffer's for it (the connection passes it), else the writer numbers events from 1."""
        if self._stopped is not None:
            return
        with self._lock:
            pending = self._pending
            if pending.rows >= 2 * self._max_pending:
                self._lost += 1  # the writer is a whole roll behind: bounded memory first
                return
            self._numbered += 1
            self._seqs.append(self._numbered if seq is None else seq)
            try:
                pending.add(event)
            except Exception:  # the buffer sets such an event aside and counts it
                pending.skip()
            full = pending.rows >= self._max_pending
        if full:
            self._wake.set()

    @property
    def active(self) -> bool:
        """Whether rows are still being written."""
        return self._stopped is None

    def summary(self) -> HistorySummary:
        """Files, rows and bytes written so far, rows lost, and why it stopped."""
        return HistorySummary(
            self.directory, self._files, self._rows, self._bytes, self._lost, self._stopped
        )

    def roll(self) -> None:
        """Write what is pending now (e.g. before reading the history), then return."""
        if self._stopped is None:
            self._write_pending()

    def close(self, reason: str = "stopped by the user") -> HistorySummary:
        """Write what is pending, stop the writer thread, return the summary."""
        if self._stopped is None:
            self._closing = True
            self._wake.set()
            self._thread.join()
            self._write_pending()
            self._stopped = reason if self._error is None else f"failed: {self._error}"
        return self.summary()

    async def aclose(self, reason: str = "stopped by the user") -> HistorySummary:
        """:meth:`close` without blocking the event loop on the last write."""
        import asyncio

        return await asyncio.to_thread(self.close, reason)

    def __repr__(self) -> str:
        state = "writing" if self._stopped is None else "stopped"
        return (
            f"<HistoryWriter {self.directory} {state} files={self._files} rows={self._rows} "
            f"lost={self._lost}>"
        )

    # The writer thread.

    def _run(self) -> None:
        started = time.monotonic()
        bytes_at_roll = self._bytes_now()
        while not self._closing:
            self._wake.wait(timeout=min(1.0, self._roll_seconds or 1.0))
            self._wake.clear()
            if self._closing:
                return
            due = self._pending.rows >= self._max_pending
            if self._roll_seconds is not None:
                due = due or time.monotonic() - started >= self._roll_seconds
            if self._roll_bytes is not None:
                due = due or self._bytes_now() - bytes_at_roll >= self._roll_bytes
            if due:
                started, bytes_at_roll = time.monotonic(), self._bytes_now()
                try:
                    self._write_pending()
                except Exception as exc:  # a full disk must not kill the connection
                    logger.warning("history %s: a roll failed: %s", self.directory, exc)
                    self._error = exc

    def _bytes_now(self) -> int:
        return self._bytes_received() if self._bytes_received is not None else 0

    def _write_pending(self) -> None:
        with self._lock:
            pending = self._pending
            if not pending.events:
                return
            self._pending = PendingRows(self._explode)
            seqs, self._seqs = self._seqs, []
            self._roll_number += 1
            roll = self._roll_number
        if not pending.rows:
            return
        chunk = convert(pending, np.array(seqs, dtype=np.int64))
        frame = build_frame([chunk], list(pending.columns))
        keep_empty = {c for c in pending.columns if not frame[c].notna().any()}
        for values, part in _partitions(frame, self.partition_by):
            self._write_part(values, part, roll, keep_empty)

    def _write_part(
        self, values: dict[str, str], part: pd.DataFrame, roll: int, keep_empty: set[str]
    ) -> None:
        folder = self.directory.joinpath(
            *(f"{key}={_segment(values[key])}" for key in self.partition_by)
        )
        folder.mkdir(parents=True, exist_ok=True)
        first = int(part["received_at"].iloc[0].value)
        name = _PART.format(first=first, roll=roll)
        staging = folder / f".{name}.tmp"
        part = part.drop(columns=[k for k in self.partition_by if k in part.columns])
        # A field only other partitions hold stays out of this one's file; the fixed
        # columns, and a field null everywhere in the roll, stay in (as in the buffer).
        others = [c for c in part.columns if c not in _FIXED and c not in keep_empty]
        empty = [c for c in others if not part[c].notna().any()]
        part = part.drop(columns=empty).reset_index(drop=True)
        write_parquet(part, staging)
        os.replace(staging, folder / name)  # readers only ever see whole files
        self._files += 1
        self._rows += len(part)
        self._bytes += (folder / name).stat().st_size


def is_history_target(path: Any, options: dict[str, Any]) -> bool:
    """Whether ``record(path, **options)`` asks for a history directory rather than a
    recording file: ``partition_by`` or ``roll_every`` is given, or ``path`` is an
    existing directory or ends with a path separator."""
    if "partition_by" in options or "roll_every" in options:
        return True
    if not isinstance(path, (str, os.PathLike)):
        return False
    text = os.fspath(path)
    return text.endswith(("/", os.sep)) or Path(text).is_dir()


def history(
    directory: str | os.PathLike[str],
    *,
    start: datetime.datetime | str | None = None,
    end: datetime.datetime | str | None = None,
    streams: Iterable[str] | None = None,
    columns: Iterable[str] | None = None,
) -> pd.DataFrame:
    """Read a history directory (see :class:`HistoryWriter`) into one DataFrame.

    Args:
        directory: the history's directory.
        start, end: keep rows received at or after ``start`` and before ``end`` (a
            datetime, naive meaning UTC, or an ISO-8601 string).
        streams: keep these streams only.
        columns: data columns to read (the fixed ones ``seq``, ``received_at``,
            ``event_time``, ``stream``, ``type``, ``snapshot`` always come).

    Returns:
        The rows in order of receipt, with the buffer's dtypes (a column typed
        differently in two rolls is unified as pandas does: ints beside floats give
        floats, anything else beside text gives ``object``).

    Raises:
        ConfigurationError: no such directory, or a bad ``start``/``end``.

    Example:
        >>> history("history", start="2026-11-29T12:00", streams=["markets"])  # doctest: +SKIP
    """
    root = Path(directory)
    if not root.is_dir():
        raise ConfigurationError(f"no history at {root}")
    start_ts, end_ts = _time_bound("start", start), _time_bound("end", end)
    wanted = None if streams is None else set(checks.stream_names(list(streams)))
    keep = None if columns is None else list(columns)
    frames = []
    for path, values in _files(root):
        if not _partition_may_hold(values, start_ts, end_ts, wanted):
            continue
        frame = _read_file(path, values, start_ts, end_ts, keep)
        if wanted is not None:
            frame = frame[frame["stream"].isin(wanted)]
        if len(frame):
            frames.append(frame)
    if not frames:
        return _empty(keep)
    columns = list(dict.fromkeys(c for frame in frames for c in frame.columns))
    # A file where a field is null throughout says nothing of its type: left out of the
    # concatenation, it cannot turn ints and floats of other files into objects.
    frames = [
        frame.drop(columns=[c for c in frame.columns if c not in _FIXED and frame[c].isna().all()])
        for frame in frames
    ]
    out = pd.concat(frames, ignore_index=True, sort=False)
    for name in columns:
        if name not in out.columns:
            out[name] = pd.Series([None] * len(out), dtype=object)
    order = np.lexsort((out["seq"].to_numpy(), out["received_at"].to_numpy()))
    return out[columns].iloc[order].reset_index(drop=True)


def history_events(frame: pd.DataFrame) -> list[Event]:
    """Rows read by :func:`history` as events a buffer turns back into the same rows
    (``data.a.b`` becomes ``{"a.b": ...}``, which flattens to the same column), so a
    widget can start from its history.

    Example:
        >>> buffer.extend(history_events(history("history")))  # doctest: +SKIP
    """
    data_columns = [c for c in frame.columns if c == "data" or c.startswith("data.")]
    received = frame["received_at"].to_numpy("datetime64[ns]").view("int64").tolist()
    event_time = frame["event_time"].to_numpy("datetime64[ns]").view("int64").tolist()
    streams = frame["stream"].astype(object).where(frame["stream"].notna(), None).tolist()
    kinds = frame["type"].astype(object).where(frame["type"].notna(), "").tolist()
    snapshot = frame["snapshot"].tolist()
    cells = [_python_values(frame[c]) for c in data_columns]
    nat = np.iinfo(np.int64).min
    events = []
    for i in range(len(frame)):
        data: Any = {
            name[5:]: values[i]
            for name, values in zip(data_columns, cells, strict=True)
            if name != "data" and values[i] is not None
        }
        if "data" in data_columns and cells[data_columns.index("data")][i] is not None:
            data = cells[data_columns.index("data")][i]
        events.append(
            Event(
                streams[i],
                str(kinds[i]),
                data,
                received[i],
                None if event_time[i] == nat else event_time[i],
                bool(snapshot[i]),
            )
        )
    return events


def fill_from_history(
    buffer: EventBuffer,
    directory: str | os.PathLike[str],
    *,
    streams: Iterable[str] | None = None,
    max_rows: int | None = None,
    window_ns: int | None = None,
) -> int:
    """Start ``buffer`` from a history store: its newest rows (at most ``max_rows``, within
    ``window_ns`` of now), then a ``gap`` marker from the last of them to now, so a chart
    breaks its line between history and live. Returns the rows added.

    Raises:
        ConfigurationError: no such history directory.

    Example:
        >>> fill_from_history(EventBuffer(max_rows=1000), "history")  # doctest: +SKIP
        1000
    """
    now = time.time_ns()
    start = None if window_ns is None else pd.Timestamp(now - window_ns, tz="UTC")
    frame = history(directory, start=start, streams=streams)
    if max_rows is not None:
        frame = frame.tail(max_rows)
    if not len(frame):
        return 0
    buffer.extend(history_events(frame))
    last = int(frame["received_at"].iloc[-1].value)
    buffer.mark("gap", f"history from {Path(directory).name} until here", at_ns=last, until_ns=now)
    return len(frame)


# Helpers


def _python_values(column: pd.Series) -> list[Any]:
    # An Arrow list column's cells as Python lists (astype(object) would give arrays).
    values = column.tolist() if isinstance(column.dtype, pd.ArrowDtype) else None
    if values is None:
        return column.astype(object).where(column.notna(), None).tolist()
    return [None if v is None or v is pd.NA else v for v in values]


def _partition_keys(value: Any) -> tuple[str, ...]:
    if isinstance(value, str) or not isinstance(value, Iterable):
        raise checks.ArgumentTypeError(
            f"partition_by must be a sequence of {', '.join(PARTITION_KEYS)}, got {value!r}"
        )
    keys = tuple(value)
    unknown = [k for k in keys if k not in PARTITION_KEYS]
    if unknown or len(set(keys)) != len(keys):
        raise ConfigurationError(
            f"partition_by takes each of {', '.join(PARTITION_KEYS)} at most once, got {keys!r}"
        )
    return keys


def _roll(value: Any) -> tuple[float | None, int | None]:
    """``roll_every`` as (seconds, None) or (None, bytes)."""
    if isinstance(value, bool):
        raise checks.ArgumentTypeError(f"roll_every must be a duration or bytes, got {value!r}")
    if isinstance(value, int):
        size = checks.count("roll_every (bytes)", value, minimum=1024, maximum=1 << 40)
        return None, size
    if isinstance(value, datetime.timedelta):
        value = value.total_seconds()
    elif isinstance(value, str):
        match = _DURATION.fullmatch(value)
        if match is None:
            raise ConfigurationError(
                f"roll_every must be a duration like '10min', '30s' or '1h', got {value!r}"
            )
        value = float(match.group(1)) * _SECONDS[match.group(2).lower()]
    seconds = checks.seconds("roll_every", value)
    if seconds is not None and seconds < 1:
        raise ConfigurationError(f"roll_every must be at least 1 s, got {seconds:g} s")
    return seconds, None


def _partitions(
    frame: pd.DataFrame, keys: tuple[str, ...]
) -> Iterable[tuple[dict[str, str], pd.DataFrame]]:
    if not keys:
        yield {}, frame
        return
    received = frame["received_at"].dt
    columns = {
        "date": received.strftime("%Y-%m-%d"),
        "hour": received.strftime("%H"),
        "stream": frame["stream"].astype(object).where(frame["stream"].notna(), _NULL),
        "type": frame["type"].astype(object),
    }
    labels = pd.DataFrame({k: columns[k] for k in keys})
    for values, rows in labels.groupby(list(keys), sort=False, dropna=False).indices.items():
        values = values if isinstance(values, tuple) else (values,)
        yield dict(zip(keys, map(str, values), strict=True)), frame.iloc[rows]


def _segment(value: str) -> str:
    # URL-encoded, as Hive readers decode it; "." and ".." would leave the directory.
    return value if value == _NULL else quote(value, safe="").replace(".", "%2E")


def _files(root: Path) -> list[tuple[Path, dict[str, str | None]]]:
    found = []
    for path in root.rglob("*.parquet"):
        if path.name.startswith("."):
            continue  # a roll being written
        values: dict[str, str | None] = {}
        for part in path.relative_to(root).parts[:-1]:
            key, sep, value = part.partition("=")
            if sep:
                values[key] = None if value == _NULL else unquote(value)
        found.append((path, values))
    return sorted(found, key=lambda item: item[0].name)


def _time_bound(name: str, value: Any) -> pd.Timestamp | None:
    if value is None:
        return None
    try:
        stamp = pd.Timestamp(value)
    except (TypeError, ValueError) as exc:
        raise ConfigurationError(
            f"{name} must be a datetime or ISO-8601 text, got {value!r}"
        ) from exc
    if stamp is pd.NaT:
        raise ConfigurationError(f"{name} must be a datetime or ISO-8601 text, got {value!r}")
    return stamp.tz_localize("UTC") if stamp.tzinfo is None else stamp.tz_convert("UTC")


def _partition_may_hold(
    values: dict[str, str | None],
    start: pd.Timestamp | None,
    end: pd.Timestamp | None,
    streams: set[str] | None,
) -> bool:
    if streams is not None and "stream" in values and values["stream"] not in streams:
        return False
    day = values.get("date")
    if day:
        try:
            first = pd.Timestamp(day, tz="UTC")
        except ValueError:
            return True
        hour = values.get("hour")
        span = pd.Timedelta(days=1)
        if hour is not None and hour.isdigit():
            first, span = first + pd.Timedelta(hours=int(hour)), pd.Timedelta(hours=1)
        if end is not None and first >= end:
            return False
        if start is not None and first + span <= start:
            return False
    return True


def _read_file(
    path: Path,
    values: dict[str, str | None],
    start: pd.Timestamp | None,
    end: pd.Timestamp | None,
    columns: list[str] | None,
) -> pd.DataFrame:
    filters = []
    # As Arrow scalars: a pandas Timestamp in a filter would be cut to microseconds.
    if start is not None:
        filters.append(("received_at", ">=", _ns_scalar(start)))
    if end is not None:
        filters.append(("received_at", "<", _ns_scalar(end)))
    schema = pq.read_schema(path)
    names = schema.names
    if columns is not None:
        names = [n for n in names if n in _FIXED or n in columns]
    table = pq.read_table(path, columns=names, filters=filters or None, schema=schema)
    frame = frame_from_table(table)
    if "stream" not in frame.columns:
        stream = values.get("stream")
        frame.insert(min(3, frame.shape[1]), "stream", pd.array([stream] * len(frame), "str"))
    if "type" not in frame.columns:
        frame.insert(
            min(4, frame.shape[1]), "type", pd.array([values.get("type")] * len(frame), "str")
        )
    return frame


def _ns_scalar(stamp: pd.Timestamp) -> pa.Scalar:
    return pa.scalar(stamp.as_unit("ns").value, pa.timestamp("ns", tz="UTC"))


def _empty(columns: list[str] | None) -> pd.DataFrame:
    frame = build_frame([], [])
    if columns:
        for name in columns:
            frame[name] = pd.Series([], dtype=object)
    return frame
