"""Writing :class:`~streamwidgets.buffer.EventBuffer` frames to files."""

from __future__ import annotations

import logging
import os
from pathlib import Path
from typing import Any

import numpy as np
import orjson
import pandas as pd
import pyarrow as pa

__all__ = ["write_csv", "write_jsonl", "write_parquet"]

logger = logging.getLogger(__name__)


def write_parquet(frame: pd.DataFrame, path: str | os.PathLike[str], **kwargs: Any) -> Path:
    """Write ``frame`` to Parquet; object columns Arrow cannot type become JSON text.

    Arrow list columns are written as lists and read back as object arrays of lists.
    """
    for name in _object_columns(frame):
        try:
            pa.array(frame[name], from_pandas=True)
        except (pa.ArrowException, TypeError, ValueError, OverflowError):
            logger.info("writing column %r as JSON text: its values have no common type", name)
            frame[name] = _json_texts(frame[name])
    for name in _list_columns(frame):
        # pandas cannot read an ArrowDtype list back from the file's metadata: write the
        # lists as plain object values (Arrow still stores them as a list column).
        frame[name] = _python_lists(frame[name])
    frame.to_parquet(path, **{"index": False, **kwargs})
    return Path(path)


def write_csv(frame: pd.DataFrame, path: str | os.PathLike[str], **kwargs: Any) -> Path:
    """Write ``frame`` to CSV with lists and dicts as JSON text (so they read back)."""
    for name in _object_columns(frame):
        frame[name] = _json_texts(frame[name], containers_only=True)
    for name in _list_columns(frame):
        frame[name] = _json_texts(_python_lists(frame[name]))
    frame.to_csv(path, **{"index": False, **kwargs})
    return Path(path)


def write_jsonl(frame: pd.DataFrame, path: str | os.PathLike[str], **kwargs: Any) -> Path:
    """Write ``frame`` as JSON lines with ISO-8601 timestamps (nanoseconds, UTC)."""
    options = {"orient": "records", "lines": True, "date_format": "iso", "date_unit": "ns"}
    frame.to_json(path, **{**options, **kwargs})
    return Path(path)


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
