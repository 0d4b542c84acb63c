"""How the bulk parts of the widget's messages are encoded (see :mod:`.protocol`).

Chart points travel as binary buffers, two per series (x then y, float64 little-endian,
times in epoch milliseconds so plotly's date axis reads them directly); rate counts and
recent events travel as plain JSON.

A series is one numeric field of one stream and type (:class:`SeriesKey`), optionally
split by the values of another column (one trace per value). Where the feed was not
live, a point with y = NaN breaks the line (:func:`with_gaps`); a long series is
decimated to what a chart can show (:func:`decimate`, MinMaxLTTB from tsdownsample),
the gaps kept.
"""

from __future__ import annotations

import math
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

import numpy as np
import orjson
import pandas as pd
from tsdownsample import MinMaxLTTBDownsampler

from streamwidgets.buffer.flatten import MAX_DEPTH
from streamwidgets.widget.protocol import Limit

__all__ = [
    "NO_KEY",
    "SeriesKey",
    "SeriesRows",
    "decimate",
    "encode_series",
    "epoch_ms",
    "event_rows_by_stream",
    "in_range",
    "in_time_order",
    "recent_item",
    "series_points",
    "series_rows",
    "with_gaps",
]

#: The key of a split series' points whose ``by`` value is missing.
NO_KEY = "(none)"


@dataclass(frozen=True, slots=True)
class SeriesKey:
    """One charted series: a numeric field of one stream and event type, optionally split
    into one trace per value of another column (``by``).

    Example:
        >>> SeriesKey("markets", "tick", "data.price").id
        'markets|tick|data.price'
        >>> SeriesKey("markets", "tick", "data.price", by="data.symbol").id
        'markets|tick|data.price|data.symbol'
    """

    stream: str | None
    type: str
    field: str
    by: str | None = None

    @property
    def id(self) -> str:
        """A stable id for the browser: ``stream|type|field``, then ``|by`` when split."""
        base = f"{self.stream or ''}|{self.type}|{self.field}"
        return base if self.by is None else f"{base}|{self.by}"

    def as_dict(self) -> dict[str, Any]:
        """The trait form: ``{"id", "stream", "type", "field", "by"}``."""
        return {
            "id": self.id,
            "stream": self.stream,
            "type": self.type,
            "field": self.field,
            "by": self.by,
        }


@dataclass(frozen=True, slots=True)
class SeriesRows:
    """Every point of one series in a frame, in buffer order (see :func:`series_rows`).

    ``seq`` (int64, the event's buffer seq), ``x`` (float64 epoch ms: the event time, else
    the received time), ``y`` (float64, never NaN); for a split series ``codes`` (int64,
    an index into ``keys`` per point) and ``keys`` (each distinct ``by`` value as text,
    sorted, :data:`NO_KEY` for a missing one); unsplit: ``codes`` is None, ``keys`` empty.
    """

    seq: np.ndarray
    x: np.ndarray
    y: np.ndarray
    codes: np.ndarray | None = None
    keys: tuple[str, ...] = ()

    def __len__(self) -> int:
        return len(self.x)

    def of_key(self, code: int) -> SeriesRows:
        """The points of one key (by its index in ``keys``), unsplit."""
        assert self.codes is not None
        pick = self.codes == code
        return SeriesRows(self.seq[pick], self.x[pick], self.y[pick])

    def last_seen(self) -> np.ndarray:
        """Per key (as ``keys``), the x of its newest point (float64 epoch ms)."""
        assert self.codes is not None
        newest = np.full(len(self.keys), -np.inf)
        np.maximum.at(newest, self.codes, self.x)
        return newest


_EMPTY = SeriesRows(np.empty(0, np.int64), np.empty(0), np.empty(0))


def epoch_ms(nanos: Any) -> Any:
    """Epoch nanoseconds (an int or an int64 array) as float epoch milliseconds whose whole
    part is exactly ``nanos // 1_000_000``.

    A browser shows a time by cutting the milliseconds' fraction (``new Date(ms)``), as
    pandas does (``strftime``), so the whole milliseconds must survive the float. Plain
    ``nanos / 1e6`` does not: a float64 holds an epoch time in ns only to 256 ns, and
    12.5% of times on a whole millisecond came out 1 ms early. Whole milliseconds are
    exact in a float64 (below 2**53); the fraction is added to them and kept below the
    next whole millisecond.

    Example:
        >>> epoch_ms(1_764_503_045_002_000_000)
        1764503045002.0
        >>> 1_764_503_045_002_000_000 / 1e6
        1764503045001.9998
        >>> epoch_ms(np.array([1_500_000, 999_999], dtype=np.int64)).tolist()
        [1.5, 0.999999]
    """
    whole, part = np.divmod(np.asarray(nanos, dtype=np.int64), 1_000_000)
    ms = np.minimum(whole + part / 1e6, np.nextafter(whole + 1.0, -np.inf))
    return float(ms) if ms.ndim == 0 else ms


def series_rows(frame: pd.DataFrame, key: SeriesKey) -> SeriesRows:
    """Every (seq, time ms, value) point of one series in a buffer frame, vectorized.

    Rows of other streams or types, and rows where the field is missing or not a number,
    are left out. For a split series (``key.by``) each point also gets its key: the
    ``by`` value as text, or :data:`NO_KEY` where it is missing (a ``by`` column the frame
    lacks puts every point under :data:`NO_KEY`).

    Example:
        >>> from streamwidgets.buffer.event_buffer import EventBuffer
        >>> from streamwidgets.events import Event
        >>> buf = EventBuffer()
        >>> buf.append(Event("m", "t", {"p": 1.5, "s": "A"}, received_ns=2_000_000))
        >>> buf.append(Event("m", "t", {"p": 2.5, "s": "B"}, received_ns=3_000_000))
        >>> buf.append(Event("m", "t", {"p": 3.5}, received_ns=4_000_000))
        >>> rows = series_rows(buf.df, SeriesKey("m", "t", "data.p", by="data.s"))
        >>> rows.y.tolist(), rows.codes.tolist(), rows.keys
        ([1.5, 2.5, 3.5], [1, 2, 0], ('(none)', 'A', 'B'))
    """
    if key.field not in frame.columns or len(frame) == 0:
        return _EMPTY if key.by is None else SeriesRows(*_empty_split())
    mask = _equals(frame["type"], key.type)
    if key.stream is not None:
        mask = mask & _equals(frame["stream"], key.stream)
    column = frame[key.field]
    if not pd.api.types.is_numeric_dtype(column.dtype) or pd.api.types.is_bool_dtype(column.dtype):
        column = pd.to_numeric(column, errors="coerce")
    y = column.to_numpy(dtype=np.float64, na_value=np.nan)
    mask = mask & ~np.isnan(y)
    if not mask.any():
        return _EMPTY if key.by is None else SeriesRows(*_empty_split())
    # Pick rows column by column: selecting rows of the whole frame copies every column.
    received = frame["received_at"].to_numpy(dtype="datetime64[ns]")[mask].astype(np.int64)
    event = frame["event_time"].to_numpy(dtype="datetime64[ns]")[mask]
    nanos = np.where(np.isnat(event), received, event.astype(np.int64))
    x = np.ascontiguousarray(epoch_ms(nanos), dtype="<f8")
    seq = frame["seq"].to_numpy(dtype=np.int64)[mask]
    y = np.ascontiguousarray(y[mask], dtype="<f8")
    if key.by is None:
        return SeriesRows(seq, x, y)
    if key.by in frame.columns:
        by = frame[key.by][mask] if len(frame) > _SMALL else frame[key.by].to_numpy(object)[mask]
        codes, uniques = pd.factorize(by, use_na_sentinel=True)
        texts = np.asarray(uniques, dtype=object).astype(str)
    else:
        codes, texts = np.full(len(x), -1, dtype=np.int64), np.empty(0, dtype=str)
    # Missing values, and values that read the same as text (1 and "1"), share one key.
    texts = np.append(texts, NO_KEY)
    names, merged = np.unique(texts, return_inverse=True)
    codes = np.asarray(merged, dtype=np.int64)[np.where(codes < 0, len(texts) - 1, codes)]
    return SeriesRows(seq, x, y, codes, tuple(names.tolist()))


# Below this many rows (an update's) numpy on object arrays beats pandas' string methods,
# whose fixed cost dominates; above it (a window's) pandas is faster.
_SMALL = 2000


def _equals(column: pd.Series, value: str) -> np.ndarray:
    if len(column) > _SMALL:
        return (column == value).to_numpy(dtype=bool, na_value=False)
    return np.asarray(column.to_numpy(dtype=object) == value, dtype=bool)


def _empty_split() -> tuple[np.ndarray, ...]:
    return (np.empty(0, np.int64), np.empty(0), np.empty(0), np.empty(0, np.int64))


def series_points(frame: pd.DataFrame, key: SeriesKey, limit: int) -> tuple[np.ndarray, np.ndarray]:
    """The last ``limit`` (time ms, value) points of one series in a buffer frame (all keys
    of a split series together).

    Example:
        >>> from streamwidgets.buffer.event_buffer import EventBuffer
        >>> from streamwidgets.events import Event
        >>> buf = EventBuffer()
        >>> buf.append(Event("m", "tick", {"p": 1.5}, received_ns=2_000_000))
        >>> buf.append(Event("m", "tick", {"q": 1}, received_ns=3_000_000))
        >>> x, y = series_points(buf.df, SeriesKey("m", "tick", "data.p"), 10)
        >>> x.tolist(), y.tolist()
        ([2.0], [1.5])
    """
    rows = series_rows(frame, key)
    return rows.x[-limit:], rows.y[-limit:]


def with_gaps(
    rows: SeriesRows, gap_seq: np.ndarray, gap_x: np.ndarray, *, after: int | None = None
) -> tuple[np.ndarray, np.ndarray]:
    """The points of ``rows`` (one unsplit series or one key) as (x, y), with a y = NaN
    point wherever a gap falls between two of its points, so the line breaks there.

    A gap is a span in which the feed was not live: ``gap_seq`` (int64, sorted) is the
    last buffer seq before it, ``gap_x`` (epoch ms) when it began. Its NaN point goes
    after the last point with ``seq <= gap_seq``, at the gap's start time clipped
    between the points around it (so x stays in order). A gap before the first point
    counts only when ``after`` (the seq of this series' last point already sent) is
    given and lies before the gap; a gap after the last point waits for a next point.

    Example:
        >>> rows = SeriesRows(np.array([1, 2, 5]), np.array([10.0, 20.0, 50.0]),
        ...                   np.array([1.0, 2.0, 3.0]))
        >>> x, y = with_gaps(rows, np.array([2]), np.array([25.0]))
        >>> x.tolist(), y.tolist()
        ([10.0, 20.0, 25.0, 50.0], [1.0, 2.0, nan, 3.0])
    """
    x, y = rows.x, rows.y
    if not len(gap_seq) or not len(x):
        return x, y
    at = np.searchsorted(rows.seq, gap_seq, side="right")
    keep = at < len(x)
    keep &= (at > 0) | ((gap_seq >= after) if after is not None else False)
    if not keep.any():
        return x, y
    at, when = at[keep], gap_x[keep]
    at, first = np.unique(at, return_index=True)  # one break per place is enough
    when = when[first]
    low = np.where(at > 0, x[np.maximum(at - 1, 0)], -np.inf)
    when = np.clip(when, low, x[at])
    return np.insert(x, at, when), np.insert(y, at, np.nan)


def in_time_order(x: np.ndarray, y: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """The points sorted by time, ties kept in arrival order; the arrays themselves when
    already in order (the usual case: a feed's times need not be, a late event is not).

    Example:
        >>> x, y = in_time_order(np.array([10.0, 30.0, 20.0]), np.array([1.0, 3.0, 2.0]))
        >>> x.tolist(), y.tolist()
        ([10.0, 20.0, 30.0], [1.0, 2.0, 3.0])
    """
    if len(x) < 2 or bool((np.diff(x) >= 0).all()):
        return x, y
    order = np.argsort(x, kind="stable")
    return x[order], y[order]


def decimate(x: np.ndarray, y: np.ndarray, n_out: int) -> tuple[np.ndarray, np.ndarray]:
    """At most ``n_out`` points (plus the NaN gap points) that keep the shape of a series:
    MinMaxLTTB (tsdownsample) over each gap-free run, with each run's minimum and maximum
    always kept and the NaN points between runs kept as they are.

    Runs share ``n_out`` in proportion to their points. x need not be even; where it is
    not in order, points are binned by position instead.

    Example:
        >>> x = np.arange(10_000.0); y = np.sin(x / 500); y[1234] = 9.0
        >>> dx, dy = decimate(x, y, 200)
        >>> len(dx) <= 200, bool(dy.max() == 9.0), bool(dy.min() == y.min())
        (True, True, True)
    """
    if len(x) <= n_out:
        return x, y
    gaps = np.flatnonzero(np.isnan(y))
    starts = np.concatenate(([0], gaps + 1))
    ends = np.concatenate((gaps, [len(y)]))
    real = len(y) - len(gaps)
    budget = max(n_out - len(gaps), 3 * len(starts))
    picked: list[np.ndarray] = []
    for start, end, gap in zip(starts.tolist(), ends.tolist(), [*gaps.tolist(), None], strict=True):
        if end > start:
            share = max(3, budget * (end - start) // max(real, 1))
            picked.append(start + _decimate_run(x[start:end], y[start:end], share))
        if gap is not None:
            picked.append(np.array([gap]))
    index = np.concatenate(picked)
    return x[index], y[index]


def _decimate_run(x: np.ndarray, y: np.ndarray, n_out: int) -> np.ndarray:
    n = len(y)
    if n <= n_out:
        return np.arange(n)
    extremes = np.array([0, int(np.argmin(y)), int(np.argmax(y)), n - 1])
    inner = n_out - 2
    if inner < 3:
        return np.unique(extremes)
    downsampler = MinMaxLTTBDownsampler()
    if n > 1 and bool((np.diff(x) >= 0).all()):
        chosen = downsampler.downsample(x, y, n_out=inner)
    else:  # out of order times: bin by position
        chosen = downsampler.downsample(y, n_out=inner)
    return np.unique(np.concatenate((np.asarray(chosen, dtype=np.int64), extremes)))


def in_range(rows: SeriesRows, x0: float | None, x1: float | None) -> SeriesRows:
    """The points with ``x0 <= x <= x1`` (None: open on that side), and one more on each
    side so a zoomed line runs to the edges.

    Example:
        >>> rows = SeriesRows(np.arange(5), np.arange(5.0) * 10, np.arange(5.0))
        >>> in_range(rows, 15.0, 25.0).x.tolist()
        [10.0, 20.0, 30.0]
    """
    inside = np.ones(len(rows.x), dtype=bool)
    if x0 is not None:
        inside &= rows.x >= x0
    if x1 is not None:
        inside &= rows.x <= x1
    if inside.all():
        return rows
    index = np.flatnonzero(inside)
    if len(index):
        low, high = max(int(index[0]) - 1, 0), min(int(index[-1]) + 2, len(rows.x))
    else:  # nothing inside: the points around the range, if it lies between two
        after = int(np.argmax(rows.x > (x1 if x1 is not None else np.inf)))
        low, high = (after - 1, after + 1) if 0 < after < len(rows.x) else (0, 0)
    pick = slice(low, high)
    codes = None if rows.codes is None else rows.codes[pick]
    return SeriesRows(rows.seq[pick], rows.x[pick], rows.y[pick], codes, rows.keys)


def encode_series(
    points: Iterable[
        tuple[SeriesKey, np.ndarray, np.ndarray] | tuple[SeriesKey, str, np.ndarray, np.ndarray]
    ],
) -> tuple[list[dict[str, Any]], list[bytes]]:
    """The ``series`` entries of a message and their buffers (x then y, float64 LE).

    Each item is ``(key, x, y)`` for an unsplit series, or ``(key, key_value, x, y)`` for
    one key value of a split one (its entry then carries ``"key"``).

    Example:
        >>> key = SeriesKey(None, "t", "data.v")
        >>> entries, buffers = encode_series([(key, np.array([1.0]), np.array([2.0]))])
        >>> entries, [len(b) for b in buffers]
        ([{'id': '|t|data.v', 'n': 1}], [8, 8])
        >>> split = SeriesKey(None, "t", "data.v", by="data.k")
        >>> encode_series([(split, "A", np.array([1.0]), np.array([2.0]))])[0]
        [{'id': '|t|data.v|data.k', 'key': 'A', 'n': 1}]
    """
    entries: list[dict[str, Any]] = []
    buffers: list[bytes] = []
    for item in points:
        if len(item) == 4:
            key, value, x, y = item  # type: ignore[misc]
            entries.append({"id": key.id, "key": value, "n": len(x)})
        else:
            key, x, y = item  # type: ignore[misc]
            entries.append({"id": key.id, "n": len(x)})
        buffers.append(np.ascontiguousarray(x, dtype="<f8").tobytes())
        buffers.append(np.ascontiguousarray(y, dtype="<f8").tobytes())
    return entries, buffers


def event_rows_by_stream(frame: pd.DataFrame) -> dict[int, dict[str, int]]:
    """Events (not exploded rows) per whole second and stream, keyed by epoch second.

    Example:
        >>> from streamwidgets.buffer.event_buffer import EventBuffer
        >>> from streamwidgets.events import Event
        >>> buf = EventBuffer()
        >>> for i in range(3):
        ...     buf.append(Event("a", "t", i, received_ns=5 * 10**9 + i))
        >>> event_rows_by_stream(buf.df)
        {5: {'a': 3}}
    """
    if len(frame) == 0:
        return {}
    events = frame.drop_duplicates("seq")
    second = events["received_at"].to_numpy(dtype="datetime64[ns]").astype(np.int64) // 10**9
    streams = events["stream"].astype(object).fillna("").to_numpy()
    counts: dict[int, dict[str, int]] = {}
    for sec, stream in zip(second.tolist(), streams.tolist(), strict=True):
        per = counts.setdefault(sec, {})
        per[stream] = per.get(stream, 0) + 1
    return counts


def recent_item(event: Any, seq: int) -> dict[str, Any]:
    """A recent-events entry: summary, the leaf fields as columns, pretty JSON; all bounded.

    Returns ``{"seq", "stream", "type", "time" (epoch ms), "snapshot", "fields", "json"}``.
    ``fields`` maps dotted column names (as in the buffer: ``data.price``) to leaf values,
    in payload order, at most ``Limit.RECENT_FIELDS`` of them (``fields_cut`` is then
    True). Values are the payload's own: numbers, booleans, None and strings, except that
    a string longer than ``Limit.RECENT_VALUE_CHARS`` is cut and ends with "…", a list or
    a too-deep dict is given as compact JSON text (cut the same way), an int beyond
    ±2**53 as its decimal text (so a browser shows every digit) and a float that is not
    finite as ``"NaN"``/``"Infinity"``/``"-Infinity"``. ``json`` is the payload as
    indented JSON, cut after ``Limit.RECENT_JSON_CHARS`` characters.

    Example:
        >>> from streamwidgets.events import Event
        >>> item = recent_item(Event("s", "t", {"a": 1, "b": {"c": "x" * 200}}, received_ns=1e6), 7)
        >>> item["seq"], item["time"], item["fields"]["data.a"], item["fields"]["data.b.c"][-3:]
        (7, 1.0, 1, 'xx…')
        >>> recent_item(Event("s", "t", {"a": 1}, received_ns=0), 8)["json"]
        '{\\n  "a": 1\\n}'
    """
    try:
        text = orjson.dumps(
            event.data, option=orjson.OPT_INDENT_2 | orjson.OPT_NON_STR_KEYS
        ).decode()
    except TypeError:
        text = repr(event.data)
    if len(text) > Limit.RECENT_JSON_CHARS:
        text = text[: Limit.RECENT_JSON_CHARS] + "\n… (cut)"
    when = event.event_ns
    if when is None or not -(2**63) < when < 2**63:  # none, or beyond a datetime64[ns]
        when = event.received_ns
    fields: dict[str, Any] = {}
    cut = _leaf_fields(event.data, "data", fields, 0)
    item = {
        "seq": seq,
        "stream": event.stream,
        "type": event.type,
        "time": epoch_ms(when),
        "snapshot": bool(event.snapshot),
        "fields": fields,
        "json": text,
    }
    if cut:
        item["fields_cut"] = True
    return item


# Ints a browser's numbers hold exactly (JSON numbers become float64 there).
_EXACT_INT = 2**53


def _leaf_fields(obj: Any, name: str, out: dict[str, Any], depth: int) -> bool:
    """Flatten ``obj`` into ``out`` by the buffer's rule (see :mod:`streamwidgets.buffer.flatten`),
    stopping at ``Limit.RECENT_FIELDS`` leaves; True when some were left out."""
    if type(obj) is not dict or depth >= MAX_DEPTH:
        if len(out) >= Limit.RECENT_FIELDS:
            return True
        out[name] = _cell_value(obj)
        return False
    return any(_leaf_fields(value, f"{name}.{key}", out, depth + 1) for key, value in obj.items())


def _cell_value(value: Any) -> Any:
    """One leaf as the browser's table shows it (see :func:`recent_item`)."""
    if value is None or isinstance(value, bool):
        return value
    if isinstance(value, int):
        return value if -_EXACT_INT <= value <= _EXACT_INT else str(value)
    if isinstance(value, float):
        if math.isfinite(value):
            return value
        return "NaN" if math.isnan(value) else ("Infinity" if value > 0 else "-Infinity")
    if not isinstance(value, str):
        try:
            value = orjson.dumps(value, option=orjson.OPT_NON_STR_KEYS).decode()
        except TypeError:
            value = repr(value)
    if len(value) > Limit.RECENT_VALUE_CHARS:
        return value[: Limit.RECENT_VALUE_CHARS] + "…"
    return value
