"""Which columns of a stream and event type are worth charting, for the field picker.

A numeric column is a *measurement* (the picker offers it first) unless it is an id, a
sequence number, an epoch timestamp or a counter that only grows: those are *other*
(chartable, but rarely what anyone wants to see). A text column with few distinct values
(an entity such as a market symbol or an aircraft's ICAO address) is a *split key*
candidate: a chart of a measurement split by it draws one line per entity instead of a
comb through all of them.

Everything is decided from a sample of rows (the newest ones), so the cost is bounded
whatever the buffer holds.

Example:
    >>> import pandas as pd
    >>> rows = pd.DataFrame({
    ...     "data.seq": range(100, 120),
    ...     "data.price": [1.0, 3.0] * 10,
    ...     "data.timestamp": [1_710_000_000_000 + i for i in range(20)],
    ...     "data.symbol": ["A", "B"] * 10,
    ... })
    >>> found = classify(rows)
    >>> found.fields, found.other, found.keys
    (['data.price'], ['data.seq', 'data.timestamp'], ['data.symbol'])
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from streamwidgets.buffer.columns import META_COLUMNS

__all__ = ["KEY_MAX_DISTINCT", "Classified", "classify"]

#: A split key has at most this many distinct values in the sample...
KEY_MAX_DISTINCT = 50
#: ...fewer than this share of the rows (else it is an id), and values in at least half.
KEY_MAX_SHARE = 0.5

# Names that say "not a measurement" whatever the values: ids, sequence numbers, times.
_OTHER_NAME = re.compile(
    r"^(seq|sequence|id|ts|time|timestamp|epoch|nonce)$|_(id|at|ts|seq)$|[a-z0-9](Id|At|Ts|Seq)$"
)
# Names of entities a feed is usually split by (symbols, aircraft, ships, devices...).
_KEY_NAME = re.compile(
    r"symbol|ticker|instrument|pair|icao|hex|callsign|mmsi|imo|device|sensor|host|node|"
    r"station|account|user|name|code|key",
    re.IGNORECASE,
)
# Epoch times in seconds, ms, us or ns between 2001 and 2100.
_EPOCH_BANDS = tuple((1e9 * 1000.0**k, 4.1e9 * 1000.0**k) for k in range(4))


@dataclass
class Classified:
    """The columns of one stream and type, by use (each list best first).

    ``fields``: measurements; ``other``: numeric columns that are not (ids, sequence
    numbers, epoch times, counters that only grow); ``keys``: split-key candidates
    (text columns with few distinct values); ``seen``: every data column with a value.
    """

    fields: list[str] = field(default_factory=list)
    other: list[str] = field(default_factory=list)
    keys: list[str] = field(default_factory=list)
    seen: list[str] = field(default_factory=list)


def classify(rows: pd.DataFrame) -> Classified:
    """Sort the data columns of ``rows`` (one stream and type, in buffer order) by use.

    Measurements come non-constant first, then by how many rows hold them, then in
    column order. Split keys come named like an entity first (symbol, icao..., callsign),
    then by how much of the measurements' spread they explain (one line per key), then
    the finer key first.

    Example:
        >>> rows = pd.DataFrame({"data.id": ["x1", "x2", "x3"], "data.v": [1.5, 2.0, 1.0]})
        >>> classify(rows).fields, classify(rows).keys
        (['data.v'], [])
    """
    out = Classified()
    n = len(rows)
    if n == 0:
        return out
    measured: list[tuple[tuple[float, ...], str]] = []
    texts: list[str] = []
    # One pass for every column's count: a sample of one type holds every column of
    # the feed, most of them empty here.
    counts = rows.notna().sum().to_numpy()
    for position, (name, dtype) in enumerate(rows.dtypes.items()):
        present = int(counts[position])
        if present == 0 or name in META_COLUMNS or not isinstance(name, str):
            continue
        column = rows[name]
        out.seen.append(name)
        if pd.api.types.is_bool_dtype(dtype):
            continue
        if pd.api.types.is_numeric_dtype(dtype):
            values = column.to_numpy(dtype=np.float64, na_value=np.nan)
            values = values[np.isfinite(values)]
            if _not_a_measurement(name, values):
                out.other.append(name)
            else:
                constant = len(values) == 0 or bool(values.min() == values.max())
                measured.append(((constant, -round(present / n, 1), position), name))
        elif pd.api.types.is_object_dtype(dtype) or pd.api.types.is_string_dtype(dtype):
            texts.append(name)
    out.fields = [name for _, name in sorted(measured)]
    out.keys = _rank_keys(rows, texts, out.fields[:4])
    return out


def _not_a_measurement(name: str, values: np.ndarray) -> bool:
    if _OTHER_NAME.search(name.rsplit(".", 1)[-1]):
        return True
    if len(values) == 0:
        return False
    low, high = float(values.min()), float(values.max())
    if any(lo <= low and high <= hi for lo, hi in _EPOCH_BANDS):
        return True
    if len(values) >= 10 and bool((values == np.floor(values)).all()):
        steps = np.diff(values)
        if bool((steps >= 0).all()) and bool((steps > 0).any()):
            return True  # an integer that only grows: a counter or a sequence number
    return False


def _rank_keys(rows: pd.DataFrame, names: list[str], measures: list[str]) -> list[str]:
    n = len(rows)
    found: list[tuple[bool, int, int, str, np.ndarray]] = []
    for position, name in enumerate(names):
        column = rows[name]
        try:
            codes, uniques = pd.factorize(column, use_na_sentinel=True)
        except TypeError:  # unhashable values (lists, dicts): no key
            continue
        distinct = len(uniques)
        if (codes >= 0).sum() < n * 0.5:
            continue
        if not 2 <= distinct <= KEY_MAX_DISTINCT or distinct >= n * KEY_MAX_SHARE:
            continue
        hinted = bool(_KEY_NAME.search(name.rsplit(".", 1)[-1]))
        found.append((not hinted, -distinct, position, name, codes))
    if len(found) < 2:
        return [name for *_, name, _ in found]
    values = rows[measures].to_numpy(dtype=np.float64, na_value=np.nan) if measures else None
    ranked = sorted(
        (not_hinted, -round(_explained(values, codes), 1), fewer, position, name)
        for not_hinted, fewer, position, name, codes in found
    )
    return [item[-1] for item in ranked]


def _explained(values: np.ndarray | None, codes: np.ndarray) -> float:
    # The share of the measurements' variance that lies between keys (R squared of one
    # mean per key), averaged: high when each key's line stays on a level of its own.
    if values is None:
        return 0.0
    shares = []
    for column in values.T:
        ok = (codes >= 0) & np.isfinite(column)
        if ok.sum() < 2:
            continue
        v, c = column[ok], codes[ok]
        total = v.var()
        if total <= 0:
            continue
        means = np.bincount(c, weights=v) / np.maximum(np.bincount(c), 1)
        shares.append(1.0 - ((v - means[c]) ** 2).mean() / total)
    return float(np.mean(shares)) if shares else 0.0
