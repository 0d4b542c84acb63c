"""Columnar chunks behind :class:`~streamwidgets.buffer.event_buffer.EventBuffer`.

A :class:`Chunk` holds a few thousand converted rows: meta columns as numpy arrays (or
Arrow strings) and each data column as one typed Arrow array, or a numpy object array
when the values have no common type. Building a DataFrame then only concatenates
ready arrays, which is what makes reads cheap.

Typing rule for a data column (over the rows it is built from):

* only ints -> ``Int64`` (nullable, whether or not nulls are present, so the dtype
  does not flip as fields come and go);
* ints and floats -> ``float64``;
* only floats -> ``float64``; only strings -> pandas ``str``; only bools -> ``boolean``;
* only lists (or nulls) whose items are all ints, all floats, all strings or all bools
  (``None`` items allowed, empty lists too) -> an Arrow list column,
  ``pd.ArrowDtype(pa.list_(...))``, whose cells read back as Python lists (``.iloc``,
  ``.tolist()``, iteration) and whose nulls are ``pd.NA``; no Python containers are
  kept, so the garbage collector has nothing to traverse;
* anything else (lists of mixed or nested items, ints mixed with strings, bools mixed
  with ints, ints beyond int64, ...) -> ``object`` holding the original Python values;
* only nulls -> ``object`` of ``None``.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from itertools import chain
from typing import Any, TypeAlias

import numpy as np
import pandas as pd
import pyarrow as pa

from streamwidgets.buffer.rows import PendingRows

__all__ = [
    "META_COLUMNS",
    "Chunk",
    "build_frame",
    "convert",
    "merge",
    "typed_column",
]

logger = logging.getLogger(__name__)

META_COLUMNS = ("seq", "received_at", "event_time", "stream", "type", "snapshot")
_NoneType = type(None)
_INT, _FLOAT, _STR, _BOOL = pa.int64(), pa.float64(), pa.string(), pa.bool_()
_NULL = pa.null()
_LIST_NULL = pa.list_(_NULL)
# Item types of a list column -> its Arrow type (ints mixed with floats stay object).
_LIST_TYPES: dict[frozenset[type], pa.DataType] = {
    frozenset(): _LIST_NULL,
    frozenset({int}): pa.list_(_INT),
    frozenset({float}): pa.list_(_FLOAT),
    frozenset({str}): pa.list_(_STR),
    frozenset({bool}): pa.list_(_BOOL),
}

Column: TypeAlias = pa.Array | np.ndarray


class Chunk:
    """Converted rows: meta arrays plus ``{column: Arrow array or object ndarray}``.

    ``ints`` maps a float64 column that was built from ints and floats to a boolean mask
    of the rows that held an int: should the column later meet text (and become
    ``object``), those rows give back the ints that were sent, not floats.
    """

    __slots__ = ("data", "event", "ints", "n", "received", "seq", "snapshot", "stream", "type")

    def __init__(
        self,
        seq: np.ndarray,
        received: np.ndarray,
        event: np.ndarray,
        stream: pa.Array,
        type: pa.Array,
        snapshot: np.ndarray,
        data: dict[str, Column],
        ints: dict[str, np.ndarray] | None = None,
    ) -> None:
        self.seq, self.received, self.event = seq, received, event
        self.stream, self.type, self.snapshot = stream, type, snapshot
        self.data = data
        self.ints = ints or {}
        self.n = len(seq)

    def take(self, rows: slice | np.ndarray) -> Chunk:
        """The rows picked by a slice or a boolean mask, as a new chunk (data shared)."""
        if isinstance(rows, slice):
            start = rows.start or 0
            stop = self.n if rows.stop is None else rows.stop

            def pick_arrow(a: pa.Array) -> pa.Array:
                return a.slice(start, stop - start)
        else:
            mask = pa.array(rows)

            def pick_arrow(a: pa.Array) -> pa.Array:
                return a.filter(mask)

        def pick(a: Column) -> Column:
            return a[rows] if isinstance(a, np.ndarray) else pick_arrow(a)

        return Chunk(
            self.seq[rows],
            self.received[rows],
            self.event[rows],
            pick_arrow(self.stream),
            pick_arrow(self.type),
            self.snapshot[rows],
            {name: pick(col) for name, col in self.data.items()},
            {name: mask[rows] for name, mask in self.ints.items()},
        )


def convert(rows: PendingRows, seq: np.ndarray) -> Chunk:
    """Convert pending rows into one chunk; ``seq`` numbers their events (one per event,
    :attr:`PendingRows.events` of them). Rows of one exploded event share its seq.

    Never raises for a value: a column without a common type keeps the Python values.
    """
    n = rows.rows
    if rows.source is not None:
        seq = seq[np.asarray(rows.source, dtype=np.intp)]
    data: dict[str, Column] = {}
    ints: dict[str, np.ndarray] = {}
    for name, values in rows.columns.items():
        data[name], mask = typed_column(values, n)
        if mask is not None:
            ints[name] = mask
    return Chunk(
        seq,
        np.array(rows.received, dtype=np.int64),
        np.array(rows.event_ns, dtype=np.int64),
        _labels(rows.stream),
        _labels(rows.type),
        np.array(rows.snapshot, dtype=np.bool_),
        data,
        ints,
    )


def _labels(values: list[Any]) -> pa.Array:
    # Streams and types rarely change within a chunk; repeating one is much cheaper.
    first = values[0] if values else None
    if type(first) is str and values.count(first) == len(values):
        return pa.repeat(pa.scalar(first, _STR), len(values))
    return pa.array(values, _STR)


def typed_column(values: list[Any], n: int) -> tuple[Column, np.ndarray | None]:
    """One column's ``n`` values (lists held as tuples) typed by the rule above, and, for a
    float64 column built from ints and floats, the mask of the rows that held an int."""
    column = _typed(values, n)
    if isinstance(column, pa.Array) and column.type == _FLOAT:
        mask = np.fromiter((type(v) is int for v in values), np.bool_, n)
        if mask.any():
            return column, mask
    return column, None


def _typed(values: list[Any], n: int) -> Column:
    types: set[type] = set(map(type, values))
    types.discard(_NoneType)
    try:
        if not types:
            return pa.nulls(n)
        if types == {int}:
            return pa.array(values, _INT)
        if types == {float} or types == {int, float}:
            return pa.array(values, _FLOAT)
        if types == {str}:
            return pa.array(values, _STR)
        if types == {bool}:
            return pa.array(values, _BOOL)
        if types == {tuple}:  # lists, held as tuples while pending
            items: set[type] = set(map(type, chain.from_iterable(filter(None, values))))
            if items != {_NoneType}:  # lists of None only: Arrow loses their length
                items.discard(_NoneType)
            list_type = _LIST_TYPES.get(frozenset(items))
            if list_type is not None:
                return pa.array(values, list_type)
    except (pa.ArrowException, OverflowError, TypeError, ValueError, UnicodeError):
        pass  # e.g. an int beyond int64, a lone surrogate: keep the Python objects
    if tuple in types:
        values = [list(v) if type(v) is tuple else v for v in values]
    return np.fromiter(values, dtype=object, count=n)


def build_frame(chunks: Sequence[Chunk], columns: Sequence[str]) -> pd.DataFrame:
    """Concatenate chunks into a DataFrame with meta columns then ``columns``."""
    total = sum(c.n for c in chunks)
    if chunks:
        seq = np.concatenate([c.seq for c in chunks])
        received = np.concatenate([c.received for c in chunks])
        event_ns = np.concatenate([c.event for c in chunks])
        snapshot = np.concatenate([c.snapshot for c in chunks])
    else:
        seq = received = event_ns = np.empty(0, np.int64)
        snapshot = np.empty(0, np.bool_)
    out: dict[str, Any] = {
        "seq": seq,
        "received_at": _utc(received),
        "event_time": _utc(event_ns),
        "stream": _strings([c.stream for c in chunks]),
        "type": _strings([c.type for c in chunks]),
        "snapshot": snapshot,
    }
    index = pd.RangeIndex(total)
    for name in columns:
        column = _concat([(c.data.get(name), c.n, c.ints.get(name)) for c in chunks], total)
        if isinstance(column, np.ndarray) and column.dtype == object:
            # A bare object array would be re-inferred (all-str -> str): keep the values.
            column = pd.Series(column, index=index, dtype=object, copy=False)
        out[name] = column
    return pd.DataFrame(out, index=index, copy=False)


def _utc(ns: np.ndarray) -> pd.arrays.DatetimeArray:
    return pd.DatetimeIndex(ns.view("M8[ns]")).tz_localize("UTC").array


def _strings(arrays: list[pa.Array]) -> Any:
    return pa.chunked_array(arrays, _STR).to_pandas().array


def merge(chunks: Sequence[Chunk]) -> Chunk:
    """One chunk holding the rows of ``chunks`` in order (two or more, oldest first).

    Each data column gets the type :func:`build_frame` would give it over these rows, so
    a merge never changes what a read returns. Merging keeps reads fast whatever the
    read pattern: a reader that wakes often makes many small chunks, and a frame built
    from thousands of chunks costs ~15 ms per 1,000 of them.
    """
    total = sum(c.n for c in chunks)
    names = dict.fromkeys(chain.from_iterable(c.data for c in chunks))
    data: dict[str, Column] = {}
    ints: dict[str, np.ndarray] = {}
    for name in names:
        parts = [(c.data.get(name), c.n, c.ints.get(name)) for c in chunks]
        unified = _unified(parts, total)
        if isinstance(unified, np.ndarray):
            data[name] = unified
            continue
        arrays, target = unified
        data[name] = pa.concat_arrays(arrays) if arrays else pa.nulls(0, target)
        if target == _FLOAT:
            mask = np.concatenate([_int_rows(p, n, m) for p, n, m in parts])
            if mask.any():
                ints[name] = mask
    return Chunk(
        np.concatenate([c.seq for c in chunks]),
        np.concatenate([c.received for c in chunks]),
        np.concatenate([c.event for c in chunks]),
        pa.concat_arrays([c.stream for c in chunks]),
        pa.concat_arrays([c.type for c in chunks]),
        np.concatenate([c.snapshot for c in chunks]),
        data,
        ints,
    )


def _int_rows(column: Column | None, n: int, ints: np.ndarray | None) -> np.ndarray:
    """Which of a part's rows hold an int (a part about to become float64)."""
    if ints is not None:
        return ints
    if isinstance(column, pa.Array) and column.type == _INT:
        return column.is_valid().to_numpy(zero_copy_only=False)
    return np.zeros(n, dtype=np.bool_)


Part: TypeAlias = tuple[Column | None, int, np.ndarray | None]


def _concat(parts: list[Part], total: int) -> Any:
    unified = _unified(parts, total)
    if isinstance(unified, np.ndarray):
        return unified
    arrays, target = unified
    return _to_pandas(pa.chunked_array(arrays, target), target, total)


def _unified(parts: list[Part], total: int) -> tuple[list[pa.Array], pa.DataType] | np.ndarray:
    """The parts of one column (``None`` where a chunk lacks it) as Arrow arrays of one
    type, or else as one object array of the Python values (the ints among floats as
    ints again)."""
    arrow_parts: list[tuple[pa.Array | None, int]] = [
        (p, n) for p, n, _ in parts if not isinstance(p, np.ndarray)
    ]
    arrow_types = {p.type for p, _ in arrow_parts if p is not None} - {_NULL}
    if _LIST_NULL in arrow_types and all(pa.types.is_list(t) for t in arrow_types):
        # Chunks of empty lists only take the type of the other list chunks, if any.
        arrow_types = {t for t in arrow_types if t != _LIST_NULL} or {_LIST_NULL}
    has_object = len(arrow_parts) < len(parts)
    if not has_object:
        if not arrow_types:
            return [pa.nulls(total)], _NULL
        if len(arrow_types) == 1:
            (target,) = arrow_types
        elif arrow_types == {_INT, _FLOAT}:
            target = _FLOAT
        else:
            target = None
        if target is not None:
            try:
                return [
                    pa.nulls(n, target)
                    if p is None or p.type == _NULL
                    else p
                    if p.type == target
                    else p.cast(target)
                    for p, n in arrow_parts
                ], target
            except pa.ArrowInvalid:
                # An int beyond 2**53 beside floats of other chunks: float64 cannot hold it
                # exactly, so the column keeps the Python values (object), as one chunk would.
                pass
    pieces = []
    for p, n, ints in parts:
        if isinstance(p, np.ndarray):
            pieces.append(p)
        elif p is None:
            pieces.append(np.full(n, None, dtype=object))
        else:
            values = p.to_pylist()
            if ints is not None:
                for i in np.flatnonzero(ints).tolist():
                    values[i] = int(values[i])
            pieces.append(np.fromiter(values, dtype=object, count=n))
    if not pieces:
        return np.empty(0, dtype=object)
    return np.concatenate(pieces)


def _to_pandas(chunked: pa.ChunkedArray, target: pa.DataType, total: int) -> Any:
    if target == _NULL:
        return np.full(total, None, dtype=object)
    if target == _FLOAT:
        return chunked.to_numpy()
    if target == _STR:
        return chunked.to_pandas().array
    if pa.types.is_list(target):
        return pd.arrays.ArrowExtensionArray(chunked)
    if chunked.null_count:
        mask = chunked.is_null().to_numpy()
        values = chunked.fill_null(0 if target == _INT else False).to_numpy()
    else:
        mask = np.zeros(total, dtype=np.bool_)
        values = chunked.to_numpy()
    if target == _INT:
        return pd.arrays.IntegerArray(values, mask)
    return pd.arrays.BooleanArray(values, mask)
