"""Writing :class:`~streamwidgets.buffer.EventBuffer` frames to files, and reading them back typed.

Parquet keeps every dtype. Plain ``pd.read_parquet`` gives back the same dtypes except
for Arrow list columns (pandas cannot rebuild ``pd.ArrowDtype(pa.list_(...))`` from a
file's metadata, so those come back as object arrays) and mixed-type columns (stored as
JSON text). :func:`read_export` gives back exactly the buffer's dtypes: it reads the
``streamwidgets`` key the writer puts in the file's metadata (each column's dtype, and
which columns hold JSON text).

CSV and JSON lines carry no types. :func:`read_export` rebuilds them the way the buffer
types a payload (ints -> ``Int64``, floats -> ``float64``, strings -> ``str``, bools ->
``boolean``, lists of one scalar type -> Arrow lists), and the fixed columns exactly
(``seq`` int64, ``received_at``/``event_time`` ``datetime64[ns, UTC]``, ``stream``/``type``
``str``, ``snapshot`` bool). Limits, by nature of the formats: in CSV a string that reads
as a number, ``True``/``False`` or JSON (``"12"``, ``"[1]"``) comes back as that value,
and a column with no value at all comes back as ``object``.

Example:
    >>> import pandas as pd
    >>> frame = pd.DataFrame({"seq": [1], "data.tags": [["a"]]})
    >>> export_bytes(frame, "jsonl")
    b'{"seq":1,"data.tags":["a"]}\\n'
"""

from __future__ import annotations

import io
import logging
import os
from pathlib import Path
from typing import Any

import numpy as np
import orjson
import pandas as pd
import pyarrow as pa

from .exceptions import ConfigurationError

__all__ = [
    "EXPORT_FORMATS",
    "export_bytes",
    "read_export",
    "write_csv",
    "write_jsonl",
    "write_parquet",
]

logger = logging.getLogger(__name__)

#: format -> (MIME type, file suffix)
EXPORT_FORMATS = {
    "parquet": ("application/vnd.apache.parquet", ".parquet"),
    "csv": ("text/csv", ".csv"),
    "jsonl": ("application/x-ndjson", ".jsonl"),
}
_METADATA_KEY = b"streamwidgets"
_META = ("seq", "received_at", "event_time", "stream", "type", "snapshot")


def write_parquet(
    frame: pd.DataFrame, path: str | os.PathLike[str] | io.BytesIO, **kwargs: Any
) -> Any:
    """Write ``frame`` to Parquet; object columns Arrow cannot type become JSON text.

    Every dtype goes in the file's metadata, so :func:`read_export` restores them all.
    """
    dtypes = {str(name): str(dtype) for name, dtype in frame.dtypes.items()}
    json_columns = []
    for name in _object_columns(frame):
        try:
            pa.array(frame[name], from_pandas=True)
        except (pa.ArrowException, TypeError, ValueError, OverflowError):
            logger.info("writing column %r as JSON text: its values have no common type", name)
            frame[name] = _json_texts(frame[name])
            json_columns.append(name)
    for name in _list_columns(frame):
        # pandas cannot read an ArrowDtype list back from the file's metadata: write the
        # lists as plain object values (Arrow still stores them as a list column).
        frame[name] = _python_lists(frame[name])
    options = {"preserve_index": False} if kwargs.pop("index", False) is False else {}
    table = pa.Table.from_pandas(frame, **options)  # type: ignore[arg-type]
    ours = orjson.dumps({"dtypes": dtypes, "json_columns": json_columns})
    table = table.replace_schema_metadata({**(table.schema.metadata or {}), _METADATA_KEY: ours})
    import pyarrow.parquet as pq

    pq.write_table(table, path, **kwargs)
    return path if isinstance(path, io.BytesIO) else Path(path)


def write_csv(frame: pd.DataFrame, path: str | os.PathLike[str] | io.BytesIO, **kwargs: Any) -> Any:
    """Write ``frame`` to CSV with lists and dicts as JSON text (so they read back)."""
    for name in _object_columns(frame):
        frame[name] = _json_texts(frame[name], containers_only=True)
    for name in _list_columns(frame):
        frame[name] = _json_texts(_python_lists(frame[name]))
    frame.to_csv(path, **{"index": False, **kwargs})
    return path if isinstance(path, io.BytesIO) else Path(path)


def write_jsonl(
    frame: pd.DataFrame, path: str | os.PathLike[str] | io.BytesIO, **kwargs: Any
) -> Any:
    """Write ``frame`` as JSON lines with ISO-8601 timestamps (nanoseconds, UTC)."""
    for name, dtype in frame.dtypes.items():
        if isinstance(dtype, pd.DatetimeTZDtype):
            # pandas' own ISO output stops at microseconds; the buffer has nanoseconds.
            frame[name] = _iso_ns(frame[name])
    options = {"orient": "records", "lines": True, "date_format": "iso", "date_unit": "ns"}
    frame.to_json(path, **{**options, **kwargs})
    return path if isinstance(path, io.BytesIO) else Path(path)


def export_bytes(frame: pd.DataFrame, fmt: str) -> bytes:
    """``frame`` as the bytes of a ``parquet``, ``csv`` or ``jsonl`` file (for downloads)."""
    if fmt not in EXPORT_FORMATS:
        raise ConfigurationError(f"export format must be parquet, csv or jsonl, got {fmt!r}")
    out = io.BytesIO()
    {"parquet": write_parquet, "csv": write_csv, "jsonl": write_jsonl}[fmt](frame, out)
    return out.getvalue()


def read_export(path: str | os.PathLike[str]) -> pd.DataFrame:
    """Read a buffer export (``.parquet``, ``.csv``, ``.jsonl``) back with the buffer's dtypes.

    Raises:
        ConfigurationError: no such file, or a name that is none of the three formats.

    Example:
        >>> read_export("rows.xlsx")
        Traceback (most recent call last):
        ...
        streamwidgets.exceptions.ConfigurationError: read_export reads .parquet, .csv and .jsonl ...
    """
    path = Path(path)
    suffix = path.suffix.lower()
    if suffix not in (".parquet", ".csv", ".jsonl"):
        raise ConfigurationError(
            f"read_export reads .parquet, .csv and .jsonl files, got {path.name!r}"
        )
    if not path.is_file():
        raise ConfigurationError(f"no export at {path}")
    if suffix == ".parquet":
        return _read_parquet(path)
    if suffix == ".csv":
        text = pd.read_csv(path, dtype=str, keep_default_na=False, na_values=[""])
        decoded = {name: _csv_column(name, text[name].tolist()) for name in text.columns}
        cells = zip(*decoded.values(), strict=True)
        rows = [dict(zip(decoded, values, strict=True)) for values in cells]
        return _typed(rows, list(text.columns))
    with path.open("rb") as file:
        rows = [orjson.loads(line) for line in file if line.strip()]
    return _typed(rows, list(dict.fromkeys(k for row in rows[:1] for k in row)))


def _read_parquet(path: Path) -> pd.DataFrame:
    import pyarrow.parquet as pq

    table = pq.read_table(path)
    ours = (table.schema.metadata or {}).get(_METADATA_KEY)
    frame = table.to_pandas()
    if ours is None:
        return frame
    info = orjson.loads(ours)
    for name in info.get("json_columns", []):
        frame[name] = frame[name].map(lambda v: None if v is None else orjson.loads(v))
    for name, dtype in info.get("dtypes", {}).items():
        if name in frame.columns and dtype.startswith("list<"):
            arrow = table.column(name).type
            frame[name] = pd.Series(
                pd.array(table.column(name).to_pylist(), dtype=pd.ArrowDtype(arrow)),
                index=frame.index,
            )
    return frame


def _typed(rows: list[dict[str, Any]], columns: list[str]) -> pd.DataFrame:
    """Type rows the way the buffer does, by passing them through an EventBuffer."""
    from .buffer import EventBuffer
    from .events import Event

    buffer = EventBuffer(max_rows=max(len(rows), 1))
    events = []
    for row in rows:
        data_items = {k[5:]: v for k, v in row.items() if k.startswith("data.") and v is not None}
        data: Any = data_items if data_items or "data" not in row else row["data"]
        events.append(
            Event(
                row.get("stream"),
                str(row.get("type") or ""),
                _unflatten(data) if isinstance(data, dict) else data,
                _ns(row.get("received_at")) or 0,
                _ns(row.get("event_time")),
                bool(row.get("snapshot") or False),
            )
        )
    buffer.extend(events)
    frame = buffer.to_dataframe()
    if "seq" in columns and rows:
        frame["seq"] = np.array([int(row["seq"]) for row in rows], dtype=np.int64)
    for name in columns:
        if name not in frame.columns:
            frame[name] = pd.Series([None] * len(frame), dtype=object)
    return frame[[c for c in columns if c in frame.columns]]


def _unflatten(flat: dict[str, Any]) -> dict[str, Any]:
    # "pos.lat" -> {"pos": {"lat": ...}}, so the buffer flattens it back to the same name.
    nested: dict[str, Any] = {}
    for key, value in flat.items():
        parts = key.split(".")
        node = nested
        for part in parts[:-1]:
            child = node.get(part)
            if not isinstance(child, dict):
                child = node[part] = {}
            node = child
        node[parts[-1]] = value
    return nested


def _iso_ns(column: pd.Series) -> pd.Series:
    values = column.dt.tz_convert("UTC").dt.tz_localize(None).to_numpy("datetime64[ns]")
    texts = np.char.add(np.datetime_as_string(values, unit="ns"), "Z").astype(object)
    texts[np.isnat(values)] = None
    return pd.Series(texts, column.index, object)


def _ns(value: Any) -> int | None:
    if value is None or (isinstance(value, float) and np.isnan(value)):
        return None
    return int(pd.Timestamp(value).as_unit("ns").value)


def _csv_column(name: str, cells: list[Any]) -> list[Any]:
    """Decode a CSV column's cells; a column where some cell is plain text stays text."""
    cells = [None if isinstance(c, float) and np.isnan(c) else c for c in cells]
    if name in ("stream", "type", "received_at", "event_time"):
        return cells
    decoded: list[Any] = []
    for cell in cells:
        if cell is None:
            decoded.append(None)
        elif cell in ("True", "False"):
            decoded.append(cell == "True")
        else:
            try:
                decoded.append(orjson.loads(cell))
            except orjson.JSONDecodeError:
                return cells  # e.g. hex ids where some look like numbers: all strings
    return decoded


def _object_columns(frame: pd.DataFrame) -> list[str]:
    # str columns also report kind "O"; only numpy object columns hold arbitrary values.
    return [n for n, d in frame.dtypes.items() if isinstance(d, np.dtype) and d.kind == "O"]


def _list_columns(frame: pd.DataFrame) -> list[str]:
    return [
        n
        for n, d in frame.dtypes.items()
        if isinstance(d, pd.ArrowDtype) and pa.types.is_list(d.pyarrow_dtype)
    ]


def _python_lists(column: pd.Series) -> pd.Series:
    return pd.Series(pa.array(column).to_pylist(), column.index, object)


def _json_texts(column: pd.Series, *, containers_only: bool = False) -> pd.Series:
    def encode(value: Any) -> Any:
        if value is None or (containers_only and not isinstance(value, (list, dict))):
            return value
        return orjson.dumps(value, default=str, option=orjson.OPT_NON_STR_KEYS).decode()

    return column.map(encode).astype(object)
