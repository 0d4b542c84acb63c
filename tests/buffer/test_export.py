"""Export of a real buffer to Parquet, CSV and JSON lines, read back with the same dtypes."""

from __future__ import annotations

import asyncio
import io

import orjson
import pandas as pd
import pyarrow as pa
import pytest

from streamwidgets import ConfigurationError, read_export
from streamwidgets.buffer.export import export_bytes
from tests.support.waiting import eventually, seconds
from tests.support.widgets import customs, from_browser, make


@pytest.fixture
async def filled(sim):
    """A buffer filled by the Hydra simulator: ints, floats, strings, bools, lists, NaT."""
    import streamwidgets
    from streamwidgets import feeds

    async with streamwidgets.open(
        feeds.hydra(sim.url, token=sim.issue_token()),
        streams=["signals", "markets", "aircraft", "alerts"],
    ) as stream:
        while stream.stats.events < 300:
            await asyncio.sleep(0.01)
    return stream.buffer


def list_columns(frame: pd.DataFrame) -> list[str]:
    return [
        n
        for n, d in frame.dtypes.items()
        if isinstance(d, pd.ArrowDtype) and pa.types.is_list(d.pyarrow_dtype)
    ]


async def test_parquet_reads_back_with_pandas_and_exactly_with_read_export(filled, tmp_path):
    """pd.read_parquet keeps every dtype but Arrow lists; read_export keeps them all."""
    df = filled.df
    path = filled.to_parquet(tmp_path / "rows.parquet")
    plain = pd.read_parquet(path)
    for name in df.columns:
        if name not in list_columns(df) and df[name].dtype != object:
            assert plain[name].dtype == df[name].dtype, name
    assert str(plain["received_at"].dtype) == "datetime64[ns, UTC]"
    pd.testing.assert_frame_equal(read_export(path), df)


@pytest.mark.parametrize("suffix", [".csv", ".jsonl"])
async def test_text_exports_read_back_with_the_buffer_dtypes(filled, tmp_path, suffix):
    """CSV and JSON lines come back with the same rows and dtypes, timestamps UTC to the ns."""
    df = filled.df
    path = tmp_path / f"rows{suffix}"
    (filled.to_csv if suffix == ".csv" else filled.to_jsonl)(path)
    back = read_export(path)
    pd.testing.assert_frame_equal(back, df)
    assert str(back["event_time"].dtype) == "datetime64[ns, UTC]"


async def test_json_lines_hold_each_rows_present_fields_only(filled, tmp_path):
    """No null is written: each line has the fixed columns and its own fields, and the
    file still reads back as the buffer's frame (every column, nulls where absent)."""
    df = filled.df
    path = filled.to_jsonl(tmp_path / "rows.jsonl")
    lines = [orjson.loads(line) for line in path.read_bytes().splitlines()]
    assert len(lines) == len(df) and len(df["stream"].unique()) > 1
    assert all(value is not None for line in lines for value in line.values())
    fixed = ["seq", "received_at", "event_time", "stream", "type", "snapshot"]
    assert all(list(line)[:6] == fixed for line in lines if line.get("event_time"))
    assert max(len(line) for line in lines) < len(df.columns)  # no row holds every field
    pd.testing.assert_frame_equal(read_export(path), df)


async def test_widget_downloads_parquet_that_reads_back_the_same(recorded, sim, tmp_path):
    """The browser's Export Parquet gets a file that reads back as the widget's DataFrame."""
    w = make(recorded, sim)
    await w.wait_async(events=100, timeout=seconds(5))
    w.pause()
    from_browser(w, kind="export", format="parquet", view="v1")
    await eventually(lambda: customs(w, "download"))  # built off the loop
    [(_, message, [data])] = customs(w, "download")
    assert message["mime"] == "application/vnd.apache.parquet"
    assert message["filename"].startswith("hydra-") and message["filename"].endswith(".parquet")
    path = tmp_path / "download.parquet"
    path.write_bytes(data)
    pd.testing.assert_frame_equal(read_export(path), w.df)
    assert len(pd.read_parquet(io.BytesIO(data))) == len(w.df)


def test_mixed_columns_round_trip_through_parquet(tmp_path):
    """A column with no common type is JSON text in the file and values again on reading."""
    from streamwidgets import Event, EventBuffer

    buf = EventBuffer()
    buf.append(Event("s", "t", {"mix": 1, "tags": ["a"]}, received_ns=1))
    buf.append(Event("s", "t", {"mix": "x", "tags": []}, received_ns=2))
    path = buf.to_parquet(tmp_path / "mixed.parquet")
    back = read_export(path)
    pd.testing.assert_frame_equal(back, buf.df)
    assert back["data.mix"].tolist() == [1, "x"]


def test_bad_export_requests_are_refused_clearly(tmp_path):
    """Unknown formats and missing files name the problem."""
    with pytest.raises(ConfigurationError, match="parquet, csv or jsonl"):
        export_bytes(pd.DataFrame(), "xlsx")
    with pytest.raises(ConfigurationError, match="no export at"):
        read_export(tmp_path / "missing.parquet")
