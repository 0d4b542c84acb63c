"""History beyond memory: a live feed's rows in hive-partitioned Parquet, rolled, read back
by ``streamwidgets.history`` and by DuckDB."""

from __future__ import annotations

import datetime
import time
from pathlib import Path

import duckdb
import numpy as np
import pandas as pd
import pytest

import streamwidgets
from streamwidgets import ConfigurationError, StreamWidget, feeds
from streamwidgets.buffer.event_buffer import EventBuffer
from streamwidgets.events import Event
from streamwidgets.recording.history import HistoryWriter, history, history_events
from streamwidgets.simulators.hydra import HydraSimulator
from tests.support.waiting import eventually, seconds

STREAMS = ["signals", "markets"]
T0 = 1_764_374_400_000_000_000  # 2025-11-29T00:00:00Z, in ns


def parts(directory: Path) -> list[Path]:
    return sorted(p for p in directory.rglob("*.parquet") if not p.name.startswith("."))


def same_rows(got: pd.DataFrame, want: pd.DataFrame) -> None:
    """Every value of ``want`` is in ``got`` at the same seq (columns matched by name)."""
    got = got.set_index("seq").sort_index()
    want = want.set_index("seq").sort_index()
    assert got.index.tolist() == want.index.tolist()
    for name in want.columns:
        left, right = got[name].tolist(), want[name].tolist()
        for a, b in zip(left, right, strict=True):
            if b is None or b is pd.NA or (isinstance(b, float) and np.isnan(b)):
                assert a is None or a is pd.NA or (isinstance(a, float) and np.isnan(a))
            else:
                assert a == b or (hasattr(a, "tolist") and a.tolist() == b), (name, a, b)


async def test_a_live_feed_rolls_into_readable_partitions(tmp_path):
    """Hydra simulator -> open(record=dir, roll_every) -> files readable while the feed
    runs (each roll whole), then every buffered row in the history, and DuckDB agrees."""
    directory = tmp_path / "history"
    async with HydraSimulator(rate=200) as sim:
        feed = feeds.hydra(sim.url, token=sim.issue_token())
        options = {"partition_by": ("date", "stream"), "roll_every": "1s"}
        async with streamwidgets.open(
            feed, streams=STREAMS, record=directory, record_options=options, max_rows=100_000
        ) as stream:
            writer = stream.connection.recorder
            await eventually(lambda: len(parts(directory)) >= 2, timeout=seconds(10))
            # While it runs: what is on disk is whole, and a prefix of the buffer.
            early = history(directory)
            assert 0 < len(early) <= len(stream.df)
            await eventually(lambda: stream.stats.events >= 400)
        live = stream.df
    summary = writer.summary()
    assert summary.stopped == "the connection was closed" and summary.lost == 0
    assert summary.rows == len(live) and summary.files == len(parts(directory))
    streams = {p.parent.name for p in parts(directory)}
    assert streams == {"stream=signals", "stream=markets"}
    assert all(p.parent.parent.name.startswith("date=") for p in parts(directory))
    back = history(directory)
    assert len(back) == len(live)
    assert back["received_at"].is_monotonic_increasing
    assert set(back.columns) == set(live.columns)
    live = live.astype({"seq": "int64"})
    same_rows(back, live[["seq", "received_at", "event_time", "stream", "type", *_data(live)]])

    counts = duckdb.sql(
        f"SELECT stream, count(*) FROM read_parquet('{directory}/**/*.parquet', "
        "hive_partitioning = true, union_by_name = true) GROUP BY stream ORDER BY stream"
    ).fetchall()
    assert counts == sorted(live.groupby("stream").size().items())


def _data(frame: pd.DataFrame) -> list[str]:
    return [c for c in frame.columns if c.startswith("data.")]


def test_start_end_streams_and_columns_select_rows(tmp_path):
    """Rows in [start, end) of the chosen streams, with only the chosen data columns; a
    partition outside them is not read (its file is removed to prove it)."""
    writer = HistoryWriter(tmp_path, roll_every="1h")
    for i in range(300):
        stream = ["a", "b", "c"][i % 3]
        data = {"price": i * 0.5, "n": {"k": i}}
        writer.add(Event(stream, "tick", data, received_ns=T0 + i * 60 * 10**9, event_ns=T0))
    writer.close()
    # 300 minutes from 00:00 on one day; stream c's partition is never needed.
    for path in parts(tmp_path):
        if "stream=c" in str(path):
            path.unlink()
    start = datetime.datetime(2025, 11, 29, 1, 0)
    got = history(tmp_path, start=start, end="2025-11-29T02:00Z", streams=["a", "b"])
    minutes = (got["received_at"] - pd.Timestamp(T0, tz="UTC")) // pd.Timedelta(minutes=1)
    want = [m for m in range(60, 120) if m % 3 in (0, 1)]
    assert minutes.tolist() == want
    assert got["stream"].tolist() == [["a", "b", "c"][m % 3] for m in want]
    narrow = history(tmp_path, columns=["data.price"], streams=["a"])
    assert _data(narrow) == ["data.price"]
    assert narrow["data.price"].tolist() == [i * 0.5 for i in range(0, 300, 3)]
    assert len(history(tmp_path, start="2025-11-30")) == 0


def test_a_roll_by_bytes_and_values_of_every_kind(tmp_path):
    """roll_every in bytes rolls when the feed's received bytes grow by that much; odd
    stream names, a missing stream, lists, u64 and text beside numbers read back exact."""
    received = [0]
    writer = HistoryWriter(
        tmp_path, roll_every=4096, bytes_received=lambda: received[0], partition_by=("stream",)
    )
    values = [1, 2**64 - 1, "text", [1, 2], [1, "x"], None, 2.5]
    for i, value in enumerate(values * 30):
        stream = [None, "a/b", "..", "é x"][i % 4]
        writer.add(Event(stream, "t", {"v": value, "i": i}, received_ns=T0 + i))
        received[0] += 100
        if i == 100:
            # A roll is due: the writer checks about once a second.
            time.sleep(1.5)
    summary = writer.close()
    assert summary.rows == 210
    assert len({p.name.split("-")[2] for p in parts(tmp_path)}) >= 2  # two rolls at least
    assert {p.parent.name for p in parts(tmp_path)} == {
        "stream=__HIVE_DEFAULT_PARTITION__",
        "stream=a%2Fb",
        "stream=%2E%2E",
        "stream=%C3%A9%20x",
    }
    back = history(tmp_path)
    assert back["data.i"].tolist() == list(range(210))
    assert pd.isna(back["stream"].iloc[0])  # no stream, as the buffer shows it
    assert back["stream"].tolist()[1:4] == ["a/b", "..", "é x"]
    for i, got in enumerate(back["data.v"].tolist()):
        want = values[i % len(values)]
        if want is None:
            assert got is None or got is pd.NA
        else:
            assert got == want and type(got) is type(want), (i, got, want)


@pytest.mark.parametrize(
    ("options", "words"),
    [
        ({"partition_by": ("day",)}, "partition_by takes each of date, hour, stream, type"),
        ({"partition_by": "date"}, "partition_by must be a sequence"),
        ({"partition_by": ("date", "date")}, "at most once"),
        ({"roll_every": "soon"}, "a duration like '10min'"),
        ({"roll_every": "0.5s"}, "at least 1 s"),
        ({"roll_every": 100}, "roll_every (bytes) must be >= 1,024"),
        ({"roll_every": 10_000}, "needs the feed's bytes_received"),
        ({"roll_every": float("nan")}, "roll_every must be"),
        ({"max_pending_rows": 10}, "max_pending_rows must be >= 1,000"),
    ],
)
def test_bad_arguments_are_clear_errors(tmp_path, options, words):
    with pytest.raises(ConfigurationError) as caught:
        HistoryWriter(tmp_path, **options).close()
    assert words in str(caught.value)


def test_a_file_is_no_history_directory(tmp_path):
    path = tmp_path / "rows.parquet"
    path.write_bytes(b"x")
    with pytest.raises(ConfigurationError, match="is a file, not a history directory"):
        HistoryWriter(path)
    with pytest.raises(ConfigurationError, match="no history at"):
        history(tmp_path / "missing")
    with pytest.raises(ConfigurationError, match="start must be a datetime"):
        history(tmp_path, start="yesterday-ish")


def test_history_rows_become_the_same_buffer_rows(tmp_path):
    """history_events(history(dir)) into a fresh buffer gives the very frame read (all but
    seq): what a widget started from its history shows."""
    writer = HistoryWriter(tmp_path, roll_every="1h")
    for i in range(200):
        data = {"p": [1.5, "x", 2**63, None][i % 4], "n": {"k": i, "l": [i, i]}, "s": "é"}
        if i % 7 == 0:
            data = {"a.b": i}  # a dotted key: the same column as a nested one would make
        writer.add(Event(["a", None][i % 2], f"t{i % 3}", data, received_ns=T0 + i, event_ns=i))
    writer.add(Event("a", "scalar", 42, received_ns=T0 + 500))
    writer.close()
    frame = history(tmp_path)
    buffer = EventBuffer()
    buffer.extend(history_events(frame))
    pd.testing.assert_frame_equal(buffer.df.drop(columns="seq"), frame.drop(columns="seq"))


async def test_a_widget_starts_its_charts_from_the_history(recorded, tmp_path):
    """StreamWidget(feed, history=dir): the buffer holds the store's rows of the wanted
    streams before the live ones, the chart's first window carries them, and a gap marker
    separates history from live."""
    from tests.support.widgets import customs, from_browser, series_from

    writer = HistoryWriter(tmp_path, roll_every="1h")
    for i in range(120):
        data = {"symbol": "BTC", "price": 1000.0 + i}
        writer.add(Event("markets", "market_update", data, received_ns=T0 + i * 10**9))
        writer.add(Event("signals", "signal_new", {"severity": 1}, received_ns=T0 + i))
    writer.close()
    async with HydraSimulator(rate=50) as sim:
        w = StreamWidget(
            feeds.hydra(sim.url, token=sim.issue_token()),
            streams=["markets"],
            history=tmp_path,
            max_rows=100,
            chart=[("markets", "market_update", "data.price")],
        )
        recorded.append(w)
        first = w.df
        assert len(first) == 100 and set(first["stream"]) == {"markets"}
        assert first["data.price"].tolist() == [1020.0 + i for i in range(100)]
        assert w.buffer.markers["kind"].tolist()[:1] == ["gap"]
        await w.wait_async(events=20, timeout=seconds(10))
        assert w.df["received_at"].iloc[-1] > pd.Timestamp(T0 + 200 * 10**9, tz="UTC")
        from_browser(w, kind="hello")  # a view opens: it gets the buffer's window
        window = customs(w, "window")
        assert window, "no window was sent"
        _, prices = series_from(window[-1:], "markets|market_update|data.price")
        # The newest history rows (the oldest gave way to live ones), then live prices.
        assert 1119.0 in prices.tolist() and prices.tolist()[-1] != 1119.0
        # And the live rows go on into a new history, ended by stop_recording().
        w.record(f"{tmp_path / 'more'}/", roll_every="1min")
        await w.wait_async(events=20, timeout=seconds(10))
        summary = w.stop_recording()
        assert summary.stopped == "stopped by the user" and summary.rows >= 20
        assert len(history(tmp_path / "more")) == summary.rows
