"""Flattening JSON payloads into dotted columns, the way ``pd.json_normalize`` names them.

:func:`flatten` turns one payload into a flat ``{column: value}`` dict (handy for a
single event, and the reference the tests compare against);
:class:`~streamwidgets.buffer.rows.PendingRows` applies the same rule straight into the
buffer's pending columns.

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
from typing import Any

__all__ = ["MAX_DEPTH", "explode_records", "flatten"]

#: Levels of nested dicts walked into columns; deeper dicts stay whole in one cell.
MAX_DEPTH = 32


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
