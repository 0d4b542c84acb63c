"""Flattening JSON payloads into dotted columns, the way ``pd.json_normalize`` names them.

Two flavours of the same rule:

* :func:`flatten` turns one payload into a flat ``{column: value}`` dict (handy for a
  single event, and the reference the tests compare against);
* :func:`flatten_columns` does the same for many payloads at once, column-wise, which is
  what the buffer uses: rows sharing the same keys are handled together by C-level
  ``zip``/``map`` calls instead of a Python loop per value.

The rule: a dict is walked, its keys joined with ``"."`` under ``prefix``; anything that
is not a dict (a scalar, ``None``, a list) is a leaf stored at its dotted path. An empty
dict has no leaves, so it yields no column (as in ``pd.json_normalize``). Keys that are
not strings are formatted with ``str``. When two paths collide (``{"a.b": 1, "a": {"b": 2}}``)
the one met last wins.

Nesting deeper than :data:`MAX_DEPTH` levels below the top is not walked further: the
dict found at that depth is kept whole, as one value of the column named by its path. A
payload nested a thousand levels deep (JSON allows it) then costs one column, not a
crash of the conversion that holds every other row with it.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from itertools import chain, repeat
from typing import Any

__all__ = [
    "MAX_DEPTH",
    "MISSING",
    "Part",
    "assemble",
    "explode_records",
    "flatten",
    "flatten_columns",
]

#: Levels of nested dicts walked into columns; deeper dicts stay whole in one cell.
MAX_DEPTH = 32


class _Missing:
    """Marks a key absent from a row, as opposed to present with ``None``."""

    __slots__ = ()

    def __repr__(self) -> str:
        return "<missing>"


MISSING: Any = _Missing()
_NoneType = type(None)


def flatten(obj: Any, prefix: str = "data") -> dict[str, Any]:
    """Flatten one payload into ``{dotted_column: leaf_value}``.

    Args:
        obj: a decoded JSON value (usually a dict).
        prefix: the name of the top-level column; nested keys are joined under it.

    Returns:
        A new flat dict. A non-dict ``obj`` gives ``{prefix: obj}``; lists are leaves.

    Example:
        >>> flatten({"severity": 3, "position": {"lat": 1.5, "lng": 2.0}, "tags": ["a"]})
        {'data.severity': 3, 'data.position.lat': 1.5, 'data.position.lng': 2.0, 'data.tags': ['a']}
        >>> flatten(7)
        {'data': 7}
    """
    out: dict[str, Any] = {}
    _flatten_into(obj, prefix, out, 0)
    return out


def _flatten_into(obj: Any, prefix: str, out: dict[str, Any], depth: int) -> None:
    if type(obj) is not dict or depth >= MAX_DEPTH:
        out[prefix] = obj
        return
    for key, value in obj.items():
        name = f"{prefix}.{key}"
        if type(value) is dict and depth + 1 < MAX_DEPTH:
            _flatten_into(value, name, out, depth + 1)
        else:
            out[name] = value


# A column part: the row indices it covers (None: all rows, in order), the values for
# those rows, and the set of Python types among the values.
Part = tuple[list[int] | None, Sequence[Any], set[type]]


def flatten_columns(values: Sequence[Any], prefix: str = "data") -> dict[str, list[Part]]:
    """Flatten many payloads column-wise.

    Args:
        values: one payload per row.
        prefix: the name of the top-level column.

    Returns:
        ``{column: parts}`` in order of first appearance, where each part is
        ``(rows, values, types)``: ``rows`` lists the row numbers the values belong to
        (``None`` meaning every row, in order), and ``types`` is the set of Python types
        among the values. Rows that lack the column are simply not covered by any part.
        Use :func:`assemble` to get one value per row.

    Example:
        >>> cols = flatten_columns([{"a": 1, "b": {"c": "x"}}, {"a": 2}])
        >>> {name: assemble(parts, 2) for name, parts in cols.items()}
        {'data.a': [1, 2], 'data.b.c': ['x', None]}
    """
    out: dict[str, list[Part]] = {}
    if values:
        _collect(prefix, values, None, out, 0)
    return out


def _collect(
    prefix: str,
    values: Sequence[Any],
    rows: list[int] | None,
    out: dict[str, list[Part]],
    depth: int,
) -> None:
    types = set(map(type, values))
    if dict not in types or depth >= MAX_DEPTH:
        if _Missing in types:
            if len(types) == 1:
                return
            # Only the union-of-keys path below inserts MISSING; drop those rows here.
            pairs = [
                (i, v)
                for i, v in zip(
                    rows if rows is not None else range(len(values)), values, strict=True
                )
                if v is not MISSING
            ]
            rows = [i for i, _ in pairs]
            values = [v for _, v in pairs]
            types.discard(_Missing)
        out.setdefault(prefix, []).append((rows, values, types))
        return
    if len(types) == 1:
        dicts: Sequence[dict[Any, Any]] = values
        dict_rows = rows
    else:
        # Non-dict values (None included) are leaves at this very path, as json_normalize
        # does; the dicts are walked further.
        all_rows = rows if rows is not None else range(len(values))
        dict_rows, dicts, leaf_rows, leaves = [], [], [], []
        for i, v in zip(all_rows, values, strict=True):
            if type(v) is dict:
                dict_rows.append(i)
                dicts.append(v)
            elif v is not MISSING:
                leaf_rows.append(i)
                leaves.append(v)
        if leaves:
            out.setdefault(prefix, []).append((leaf_rows, leaves, set(map(type, leaves))))
    key_tuples = list(map(tuple, dicts))
    first = key_tuples[0]
    if key_tuples.count(first) == len(key_tuples):
        # The common case: every row has the same keys in the same order.
        if first:
            columns = zip(*map(dict.values, dicts), strict=True)
            for key, column in zip(first, columns, strict=True):
                _collect(f"{prefix}.{key}", column, dict_rows, out, depth + 1)
        return
    for key in dict.fromkeys(chain.from_iterable(key_tuples)):
        values_at_key = list(map(dict.get, dicts, repeat(key), repeat(MISSING)))
        _collect(f"{prefix}.{key}", values_at_key, dict_rows, out, depth + 1)


def assemble(parts: list[Part], n: int) -> list[Any]:
    """Lay column parts out as one value per row, ``None`` where a row has no value.

    Example:
        >>> assemble([([1], ["x"], {str})], 3)
        [None, 'x', None]
    """
    if len(parts) == 1 and parts[0][0] is None:
        return list(parts[0][1])
    column: list[Any] = [None] * n
    for rows, values, _ in parts:
        if rows is None:
            column[:] = values
        else:
            for i, v in zip(rows, values, strict=True):
                column[i] = v
    return column


def explode_records(data: Any, path: Sequence[str]) -> Iterator[Any] | None:
    """Split a payload into one payload per item of the list found at ``path``.

    Args:
        data: the payload.
        path: the keys leading to the list, e.g. ``("positions",)``.

    Returns:
        None when there is no list at ``path`` (the payload stays one row); otherwise an
        iterator of payloads, each a shallow copy of ``data`` with the list replaced by
        one of its items (sibling fields are shared, hence repeated on every row). An
        empty list yields nothing.

    Example:
        >>> list(explode_records({"n": 2, "pos": [{"x": 1}, {"x": 2}]}, ("pos",)))
        [{'n': 2, 'pos': {'x': 1}}, {'n': 2, 'pos': {'x': 2}}]
    """
    node = data
    for key in path:
        if type(node) is not dict or key not in node:
            return None
        node = node[key]
    if type(node) is not list:
        return None
    return (_replace_at(data, path, item) for item in node)


def _replace_at(data: dict[Any, Any], path: Sequence[str], item: Any) -> dict[Any, Any]:
    copy = dict(data)
    if len(path) == 1:
        copy[path[0]] = item
    else:
        copy[path[0]] = _replace_at(data[path[0]], path[1:], item)
    return copy
