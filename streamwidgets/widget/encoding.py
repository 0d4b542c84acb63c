"""How the bulk parts of the widget's messages are encoded (see :mod:`.protocol`).

Chart points travel as binary buffers, two per series (x then y, float64 little-endian,
times in epoch milliseconds so plotly's date axis reads them directly); rate counts and
recent events travel as plain JSON.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

import numpy as np
import orjson
import pandas as pd

from streamwidgets.widget.protocol import Limit

__all__ = [
    "SeriesKey",
    "encode_series",
    "event_rows_by_stream",
    "recent_item",
    "series_points",
]


@dataclass(frozen=True, slots=True)
class SeriesKey:
    """One charted series: a numeric field of one stream and event type.

    Example:
        >>> SeriesKey("markets", "tick", "data.price").id
        'markets|tick|data.price'
    """

    stream: str | None
    type: str
    field: str

    @property
    def id(self) -> str:
        """A stable id for the browser."""
        return f"{self.stream or ''}|{self.type}|{self.field}"

    def as_dict(self) -> dict[str, Any]:
        """The trait form."""
        return {"id": self.id, "stream": self.stream, "type": self.type, "field": self.field}


def series_points(frame: pd.DataFrame, key: SeriesKey, limit: int) -> tuple[np.ndarray, np.ndarray]:
    """The last ``limit`` (time ms, value) points of one series in a buffer frame.

    Rows of other streams or types, and rows where the field is missing, are left out.

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
    if key.field not in frame.columns or len(frame) == 0:
        return np.empty(0), np.empty(0)
    mask = (frame["type"] == key.type).to_numpy(dtype=bool, na_value=False, copy=True)
    if key.stream is not None:
        mask = mask & (frame["stream"] == key.stream).to_numpy(dtype=bool, na_value=False)
    values = pd.to_numeric(frame[key.field], errors="coerce")
    y = values.to_numpy(dtype=np.float64, na_value=np.nan, copy=True)
    mask = mask & ~np.isnan(y)
    if not mask.any():
        return np.empty(0), np.empty(0)
    # Pick rows column by column: selecting rows of the whole frame copies every column.
    received = frame["received_at"].to_numpy(dtype="datetime64[ns]")[mask].astype(np.int64)
    event = frame["event_time"].to_numpy(dtype="datetime64[ns]")[mask]
    nanos = np.where(np.isnat(event), received, event.astype(np.int64))
    x = (nanos / 1e6)[-limit:]
    return np.ascontiguousarray(x, dtype="<f8"), np.ascontiguousarray(y[mask][-limit:], dtype="<f8")


def encode_series(
    points: Iterable[tuple[SeriesKey, np.ndarray, np.ndarray]],
) -> tuple[list[dict[str, Any]], list[bytes]]:
    """The ``series`` entries of a message and their buffers (x then y, float64 LE).

    Example:
        >>> key = SeriesKey(None, "t", "data.v")
        >>> entries, buffers = encode_series([(key, np.array([1.0]), np.array([2.0]))])
        >>> entries, [len(b) for b in buffers]
        ([{'id': '|t|data.v', 'n': 1}], [8, 8])
    """
    entries: list[dict[str, Any]] = []
    buffers: list[bytes] = []
    for key, x, y in points:
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
    """A recent-events entry: summary fields and pretty JSON, cut at a bounded size.

    Example:
        >>> from streamwidgets.events import Event
        >>> item = recent_item(Event("s", "t", {"a": 1}, received_ns=10**6), 7)
        >>> item["seq"], item["time"], item["json"]
        (7, 1.0, '{\\n  "a": 1\\n}')
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
    return {
        "seq": seq,
        "stream": event.stream,
        "type": event.type,
        "time": when / 1e6,
        "snapshot": bool(event.snapshot),
        "json": text,
    }
