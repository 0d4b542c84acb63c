"""Writing :class:`~streamwidgets.EventBuffer` frames to files, and reading them back typed.

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
import json
import logging
import os
from pathlib import Path
from typing import Any

import numpy as np
import orjson
import pandas as pd
import pyarrow as pa

from streamwidgets._util.jsonutil import dumps_exact, loads_lenient
from streamwidgets.buffer.columns import Chunk, build_frame, typed_column
from streamwidgets.buffer.rows import NAT
from streamwidgets.exceptions import ConfigurationError

__all__ = [
    "EXPORT_FORMATS",
    "export_bytes",
    "frame_from_table",
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
    """Write ``frame`` to Parquet; an object column Arrow cannot hold exactly becomes JSON
    text (marked as such), so ragged lists, lists of records and mixed values read back
    as the same Python values, not padded or turned to floats.

    Every dtype goes in the file's metadata, so :func:`read_export` restores them all.
    """
    dtypes = {str(name): str(dtype) for name, dtype in frame.dtypes.items()}
    json_columns = []
    for name in _object_columns(frame):
        if not _arrow_keeps(frame[name]):
            logger.info("writing column %r as JSON text: Arrow would change its values", name)
            frame[name] = _json_texts(frame[name])
            json_columns.append(name)
    lists = {}
    for name in _list_columns(frame):
        # pandas cannot read an ArrowDtype list back from the file's metadata: let pandas
        # describe the lists as plain object values, then store the Arrow array itself
        # (pandas' conversion would take a NaN item for a null).
        lists[name] = pa.chunked_array(pa.array(frame[name]))
        frame[name] = _python_lists(frame[name])
    options = {"preserve_index": False} if kwargs.pop("index", False) is False else {}
    table = pa.Table.from_pandas(frame, **options)  # type: ignore[arg-type]
    for name, array in lists.items():
        index = table.schema.get_field_index(name)
        table = table.set_column(index, table.schema.field(index).with_type(array.type), array)
    ours = orjson.dumps({"dtypes": dtypes, "json_columns": json_columns})
    table = table.replace_schema_metadata({**(table.schema.metadata or {}), _METADATA_KEY: ours})
    import pyarrow.parquet as pq

    pq.write_table(table, path, **kwargs)
    return path if isinstance(path, io.BytesIO) else Path(path)


def write_csv(frame: pd.DataFrame, path: str | os.PathLike[str] | io.BytesIO, **kwargs: Any) -> Any:
    """Write ``frame`` to CSV with lists and dicts as JSON text (so they read back), and the
    scalars of mixed columns in their exact text (an int beyond 2**53 is not a float)."""
    for name in _object_columns(frame):
        frame[name] = frame[name].map(_csv_text).astype(object)
    for name in _list_columns(frame):
        frame[name] = _json_texts(_python_lists(frame[name]))
    for name, dtype in frame.dtypes.items():
        if dtype == np.float64 and np.isinf(frame[name].to_numpy()).any():
            # pandas writes "inf", which no JSON reader takes; "Infinity" reads back.
            frame[name] = frame[name].map(_csv_text).astype(object)
    # CRLF line ends (RFC 4180) make the writer quote any text holding \r or \n, which a
    # reader would otherwise take for the end of a row. A lone surrogate has no UTF-8
    # form: it is written as its escape, \udXXXX (a documented limit).
    options = {"index": False, "lineterminator": "\r\n", "errors": "backslashreplace"}
    frame.to_csv(path, **{**options, **kwargs})
    return path if isinstance(path, io.BytesIO) else Path(path)


def write_jsonl(
    frame: pd.DataFrame, path: str | os.PathLike[str] | io.BytesIO, **kwargs: Any
) -> Any:
    """Write ``frame`` as JSON lines: each row's present fields only (a null is left out),
    floats in their shortest exact form (``0.1234567890123`` stays so), timestamps as
    ISO-8601 with nanoseconds, UTC. NaN and infinity have no JSON form: such a float is
    written as null, i.e. left out (a documented limit of the format).

    Raises:
        ConfigurationError: options this writer does not take.
    """
    if kwargs:
        raise ConfigurationError(f"to_jsonl takes no options, got {sorted(kwargs)}")
    columns = {}
    for name, dtype in frame.dtypes.items():
        column = frame[name]
        if isinstance(dtype, pd.DatetimeTZDtype):
            # pandas' own ISO output stops at microseconds; the buffer has nanoseconds.
            column = _iso_ns(column)
        elif isinstance(dtype, pd.ArrowDtype) and pa.types.is_list(dtype.pyarrow_dtype):
            column = _python_lists(column)
        columns[str(name)] = column.astype(object).where(column.notna(), None).tolist()
    names = list(columns)
    lines = []
    for values in zip(*columns.values(), strict=True):
        row = {n: v for n, v in zip(names, values, strict=True) if not _absent(v)}
        try:
            lines.append(orjson.dumps(row, default=_json_default, option=_JSON_OPTIONS))
        except TypeError:
            # A lone surrogate (no UTF-8 form): written as a JSON \u escape, read back exact.
            lines.append(json.dumps(row, default=_json_default, separators=(",", ":")).encode())
    data = b"".join(line + b"\n" for line in lines)
    if isinstance(path, io.BytesIO):
        path.write(data)
        return path
    Path(path).write_bytes(data)
    return Path(path)


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
        rows = [loads_lenient(line) for line in file if line.strip()]
    # Each row holds its present fields only: the columns are those of every row, after
    # the fixed ones (an event_time absent from every row is still a column).
    return _typed(rows, list(dict.fromkeys([*_META, *(k for row in rows for k in row)])))


def _read_parquet(path: Path) -> pd.DataFrame:
    import pyarrow.parquet as pq

    return frame_from_table(pq.read_table(path))


def frame_from_table(table: pa.Table) -> pd.DataFrame:
    """A table read from a Parquet file :func:`write_parquet` made, with the buffer's
    dtypes and values restored (JSON-text columns decoded, lists as Arrow lists); a table
    from another writer comes back as pyarrow's ``to_pandas`` gives it."""
    ours = (table.schema.metadata or {}).get(_METADATA_KEY)
    frame = table.to_pandas()
    if ours is None:
        return frame
    info = orjson.loads(ours)
    for name in info.get("json_columns", []):
        if name not in frame.columns:
            continue  # not read
        texts = table.column(name).to_pylist()  # None stays None (pandas would say NaN)
        values = [None if v is None else loads_lenient(v) for v in texts]
        frame[name] = pd.Series(values, index=frame.index, dtype=object)
    for name, dtype in info.get("dtypes", {}).items():
        if dtype == "object" and name in frame.columns and name not in info["json_columns"]:
            # Arrow typed the column (uint64, a list of records...): give the Python values
            # back as the buffer held them, not in Arrow's chosen dtype.
            values = table.column(name).to_pylist()
            frame[name] = pd.Series(values, index=frame.index, dtype=object)
    for name, dtype in info.get("dtypes", {}).items():
        if name in frame.columns and dtype.startswith("list<"):
            frame[name] = pd.Series(
                pd.arrays.ArrowExtensionArray(table.column(name)), index=frame.index
            )
    return frame


def _typed(rows: list[dict[str, Any]], columns: list[str]) -> pd.DataFrame:
    """Rows of flat columns, typed column by column as the buffer types them."""
    n = len(rows)
    data, ints = {}, {}
    names = [c for c in columns if c not in _META]
    for name in names:
        values = [row.get(name) for row in rows]
        pending = [tuple(v) if type(v) is list else v for v in values]  # as PendingRows holds
        data[name], mask = typed_column(pending, n)
        if mask is not None:
            ints[name] = mask
    seq = [row.get("seq") for row in rows]
    chunk = Chunk(
        np.array([i if s is None else int(s) for i, s in enumerate(seq, 1)], dtype=np.int64),
        np.array([_ns(row.get("received_at"), 0) for row in rows], dtype=np.int64),
        np.array([_ns(row.get("event_time"), NAT) for row in rows], dtype=np.int64),
        pa.array([_text(row.get("stream")) for row in rows], pa.string()),
        pa.array([_text(row.get("type")) or "" for row in rows], pa.string()),
        np.array([bool(row.get("snapshot") or False) for row in rows], dtype=np.bool_),
        data,
        ints,
    )
    frame = build_frame([chunk], names)
    return frame[[c for c in columns if c in frame.columns]]


def _text(value: Any) -> str | None:
    return None if value is None else str(value)


def _iso_ns(column: pd.Series) -> pd.Series:
    values = column.dt.tz_convert("UTC").dt.tz_localize(None).to_numpy("datetime64[ns]")
    texts = np.char.add(np.datetime_as_string(values, unit="ns"), "Z").astype(object)
    texts[np.isnat(values)] = None
    return pd.Series(texts, column.index, object)


def _ns(value: Any, missing: int) -> int:
    if value is None or (isinstance(value, float) and np.isnan(value)):
        return missing
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
                value = loads_lenient(cell)
            except ValueError:
                return cells  # e.g. hex ids where some look like numbers: all strings
            decoded.append(value)
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


_JSON_OPTIONS = orjson.OPT_NON_STR_KEYS | orjson.OPT_SERIALIZE_NUMPY


def _absent(value: Any) -> bool:
    return value is None or (isinstance(value, float) and not np.isfinite(value))


def _parquet_can_write(arrow_type: pa.DataType) -> bool:
    # Parquet has no struct without fields (a list of empty records gives one).
    if pa.types.is_struct(arrow_type):
        fields = [arrow_type.field(i) for i in range(arrow_type.num_fields)]
        return bool(fields) and all(_parquet_can_write(f.type) for f in fields)
    if pa.types.is_list(arrow_type) or pa.types.is_large_list(arrow_type):
        return _parquet_can_write(arrow_type.value_type)
    return True


def _json_default(value: Any) -> Any:
    if isinstance(value, (np.integer, np.floating, np.bool_)):
        return value.item()
    if isinstance(value, np.ndarray):
        return value.tolist()
    if value is pd.NA:
        return None
    if isinstance(value, int):  # beyond 64 bits: orjson has no form for it, JSON does
        return orjson.Fragment(str(value))
    raise TypeError(f"cannot write {type(value).__name__} as JSON")


def _arrow_keeps(column: pd.Series) -> bool:
    """Whether Arrow holds every value of an object column exactly (same JSON both ways):
    not so for ints among floats in lists (made floats) or records of different keys
    (padded with nulls)."""
    values = column.astype(object).where(column.notna(), None).tolist()
    try:
        # Not from_pandas: a NaN inside a list is a value, not a null.
        arrow = pa.array(values, from_pandas=False)
    except (pa.ArrowException, TypeError, ValueError, OverflowError, UnicodeError):
        return False
    if not _parquet_can_write(arrow.type):
        return False
    try:
        before = dumps_exact(values, default=_json_default)
        after = dumps_exact(arrow.to_pylist(), default=_json_default)
    except (TypeError, ValueError):
        return False
    return before == after


def _csv_text(value: Any) -> Any:
    # In a column of mixed types, text is written as a JSON string ("x" quoted) so that
    # every cell of the column reads back as the value it was, the ints beside it too.
    if value is None:
        return value
    if isinstance(value, (bool, np.bool_)):
        return "True" if value else "False"
    if isinstance(value, float) and not np.isfinite(value):
        return None if np.isnan(value) else ("Infinity" if value > 0 else "-Infinity")
    return dumps_exact(value, default=_json_default)


def _json_texts(column: pd.Series, *, containers_only: bool = False) -> pd.Series:
    def encode(value: Any) -> Any:
        if value is None or (containers_only and not isinstance(value, (list, dict))):
            return value
        return dumps_exact(value, default=_json_default)

    return column.map(encode).astype(object)
