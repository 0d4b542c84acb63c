"""Events waiting for conversion, already flattened into columns of plain values.

Why not keep the events themselves until a batch is converted: a payload is a few dicts
and lists, all tracked by Python's cyclic garbage collector, and a batch of 4,096 of them
lives long enough to be promoted to the oldest generation. At 50,000 events/s that
triggered a full collection every second or two, each scanning the whole kernel's heap
(tens of milliseconds during which the event loop stands still). Flattened at once, an
event leaves only untracked values behind: numbers, strings, ``None``, and tuples in
place of lists (a tuple of such values is untracked by the collector the first time it
looks at it); the lists come back as lists when the batch is converted.

The flattening rule is the one of :func:`streamwidgets.buffer.flatten.flatten`, row by row: a
dict is walked and its keys joined with ``"."``, anything else is a leaf at its dotted
path; when two paths of one payload collide, the one met last wins.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np

from streamwidgets.buffer.flatten import MAX_DEPTH, explode_records
from streamwidgets.events import Event

__all__ = ["NAT", "PendingRows"]

NAT = np.iinfo(np.int64).min  # numpy's NaT as int64
_MIN_NS, _MAX_NS = NAT + 1, np.iinfo(np.int64).max
#: Cached column names (a feed whose keys are ids would make new names forever).
_MAX_NAMES = 50_000


class PendingRows:
    """Rows not converted yet: meta values per row and ``{column: values}``.

    Every column list is as long as :attr:`rows` once :meth:`add` returns; a row without
    a value for a column holds ``None`` there. List values are held as tuples.

    Args:
        explode: event type -> path (keys) of a list of records to split into rows.

    Example:
        >>> rows = PendingRows({})
        >>> rows.add(Event("s", "t", {"a": 1, "b": {"c": [1, 2]}}, received_ns=5))
        1
        >>> rows.columns
        {'data.a': [1], 'data.b.c': [(1, 2)]}
    """

    __slots__ = (
        "_checked",
        "_explode",
        "_names",
        "columns",
        "event_ns",
        "events",
        "received",
        "rows",
        "snapshot",
        "source",
        "stream",
        "times_out_of_range",
        "type",
    )

    def __init__(self, explode: dict[str, tuple[str, ...]]) -> None:
        self._explode = explode
        # prefix -> {key: dotted name}, for str keys without a dot only.
        self._names: dict[str, dict[str, str]] = {}
        # Once a key with a dot (or not a str) is seen, two paths of one payload may
        # name the same column: from then on each value checks for it.
        self._checked = False
        self.clear()

    def clear(self) -> None:
        """Forget every row (the column name cache stays)."""
        self.events = 0
        self.rows = 0
        self.received: list[int] = []
        self.event_ns: list[int] = []
        self.stream: list[str | None] = []
        self.type: list[str] = []
        self.snapshot: list[bool] = []
        #: Per row, the index of its event among the pending ones; None while it is the
        #: row's own index (no event exploded or set aside so far).
        self.source: list[int] | None = None
        self.columns: dict[str, list[Any]] = {}
        #: Events whose event time was beyond what datetime64[ns] holds (kept as NaT).
        self.times_out_of_range = 0

    def add(self, event: Event) -> int:
        """Flatten ``event`` into rows (one, or one per exploded record); return how many.

        Raises:
            TypeError: the event's received time is not an int of nanoseconds within
                what a timestamp holds; nothing of the event is kept.
            UnicodeEncodeError: its stream or type holds a lone surrogate.
            Exception: whatever a payload's odd key raises when made a str; nothing of
                the event is kept.
        """
        received = event.received_ns
        if type(received) is not int or not _MIN_NS <= received <= _MAX_NS:
            received = _ns(received, event)
        event_ns = event.event_ns
        if event_ns is None:
            event_ns = NAT
        elif type(event_ns) is not int or not _MIN_NS <= event_ns <= _MAX_NS:
            event_ns = _event_ns_or_nat(event_ns)
        stream = event.stream
        if stream is not None and type(stream) is not str:
            stream = str(stream)
        kind = event.type
        if type(kind) is not str:
            kind = str(kind)
        if not kind.isascii():
            kind.encode()  # a lone surrogate cannot be stored as text: UnicodeEncodeError
        if stream is not None and not stream.isascii():
            stream.encode()
        snapshot = bool(event.snapshot)
        data = event.data
        path = self._explode.get(kind) if self._explode else None
        items = explode_records(data, path) if path is not None else None
        payloads: Sequence[Any] = [data] if items is None else list(items)
        start, columns_before = self.rows, len(self.columns)
        try:
            for payload in payloads:
                self._row(payload)
        except BaseException:
            self._undo(start, columns_before)
            raise
        n = self.rows - start
        if event_ns == NAT and event.event_ns is not None:
            self.times_out_of_range += 1
        if n == 1:
            self.received.append(received)
            self.event_ns.append(event_ns)
            self.stream.append(stream)
            self.type.append(kind)
            self.snapshot.append(snapshot)
        elif n:
            self.received.extend([received] * n)
            self.event_ns.extend([event_ns] * n)
            self.stream.extend([stream] * n)
            self.type.extend([kind] * n)
            self.snapshot.extend([snapshot] * n)
        if self.source is None and n != 1:
            self.source = list(range(self.events))
        if self.source is not None:
            self.source.extend([self.events] * n)
        self.events += 1
        return n

    def skip(self) -> None:
        """Count an event that gives no row (set aside), so later rows keep their seqs."""
        if self.source is None:
            self.source = list(range(self.events))
        self.events += 1

    # Flattening

    def _row(self, payload: Any) -> None:
        n = self.rows
        columns = self.columns
        if type(payload) is dict:
            written = self._walk(payload, "data", 0, n)
        else:
            self._put("data", payload, n)
            written = 1
        if written != len(columns):
            # Some column has no value in this row: give it None there.
            for column in columns.values():
                if len(column) == n:
                    column.append(None)
        self.rows = n + 1

    def _walk(self, obj: dict[Any, Any], prefix: str, depth: int, n: int) -> int:
        names = self._names.get(prefix)
        if names is None:
            names = self._names_for(prefix)
        columns = self.columns
        checked = self._checked
        written = 0
        for key, value in obj.items():
            name = names.get(key)
            if name is None:
                name = self._name(names, prefix, key)
                checked = self._checked
            kind = type(value)
            if kind is dict and depth + 1 < MAX_DEPTH:
                written += self._walk(value, name, depth + 1, n)
                continue
            if kind is list:
                value = tuple(value)
            column = columns.get(name)
            if column is None:
                columns[name] = [None] * n + [value] if n else [value]
            elif checked and len(column) > n:
                column[n] = value  # two paths of this payload name it: the last wins
                continue
            else:
                column.append(value)
            written += 1
        return written

    def _put(self, name: str, value: Any, n: int) -> None:
        if type(value) is list:
            value = tuple(value)
        column = self.columns.get(name)
        if column is None:
            self.columns[name] = [None] * n + [value]
        else:
            column.append(value)

    def _names_for(self, prefix: str) -> dict[str, str]:
        if sum(map(len, self._names.values())) > _MAX_NAMES:
            self._names.clear()
        names: dict[str, str] = {}
        self._names[prefix] = names
        return names

    def _name(self, names: dict[str, str], prefix: str, key: Any) -> str:
        name = f"{prefix}.{key}"
        if type(key) is str and "." not in key:
            names[key] = name
        else:
            # Not cached: 1, 1.0 and True are one dict key but three names.
            self._checked = True
        return name

    def _undo(self, rows: int, columns: int) -> None:
        """Forget a partly flattened event: rows from ``rows`` on, and the columns it
        made (those after the first ``columns``)."""
        self.rows = rows
        for i, name in enumerate(list(self.columns)):
            if i >= columns:
                del self.columns[name]
            else:
                del self.columns[name][rows:]


def _ns(value: Any, event: Event) -> int:
    try:
        ns = int(value)
    except (TypeError, ValueError, OverflowError):
        raise TypeError(f"Event.received_ns must be an int of nanoseconds, got {event!r}") from None
    if not _MIN_NS <= ns <= _MAX_NS:
        raise TypeError(f"Event.received_ns is beyond what a timestamp can hold, got {event!r}")
    return ns


def _event_ns_or_nat(value: Any) -> int:
    # A server's time beyond what datetime64[ns] holds (year 2262 on) is no reason to lose
    # the event: the row is kept without an event time (NaT); its received time stands.
    try:
        ns = int(value)
    except (TypeError, ValueError, OverflowError):
        return NAT
    return ns if _MIN_NS <= ns <= _MAX_NS else NAT
