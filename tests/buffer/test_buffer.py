"""Tests of EventBuffer: rolling, schema, dtypes, explode, cursors, exports."""

from __future__ import annotations

import datetime
import json

import numpy as np
import pandas as pd
import pyarrow as pa
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from streamwidgets.buffer.columns import META_COLUMNS
from streamwidgets.buffer.event_buffer import EventBuffer
from streamwidgets.buffer.flatten import flatten
from streamwidgets.events import Event
from tests.support import strategies

T0 = 1_710_000_000_000_000_000
SECOND = 1_000_000_000


def ev(data, *, i=0, type="t", stream="s", event_ns=None, snapshot=False):
    """An event received i milliseconds after T0."""
    return Event(
        stream, type, data, received_ns=T0 + i * 1_000_000, event_ns=event_ns, snapshot=snapshot
    )


def is_utc(dtype) -> bool:
    return isinstance(dtype, pd.DatetimeTZDtype) and str(dtype.tz) == "UTC"


# Construction


@pytest.mark.parametrize(
    ("kwargs", "error", "message"),
    [
        ({"max_rows": None, "window": None}, ValueError, "both None"),
        ({"max_rows": 0}, ValueError, "max_rows must be >= 1"),
        ({"max_rows": -5}, ValueError, "max_rows must be >= 1"),
        ({"max_rows": 1.5}, TypeError, "max_rows must be an int"),
        ({"max_rows": True}, TypeError, "max_rows must be an int"),
        ({"window": -1}, ValueError, "window must be a positive"),
        ({"window": 0}, ValueError, "window must be a positive"),
        ({"window": float("nan")}, ValueError, "window must be a positive"),
        ({"window": datetime.timedelta(seconds=-1)}, ValueError, "window must be a positive"),
        ({"window": "5s"}, TypeError, "window must be seconds"),
        ({"explode": ["a"]}, TypeError, "explode must be a mapping"),
        ({"explode": {"a": 1}}, TypeError, "explode must map str to str"),
        ({"explode": {"a": "x..y"}}, ValueError, "malformed"),
        ({"max_markers": 0}, ValueError, "max_markers must be >= 1"),
    ],
)
def test_bad_parameters_are_rejected(kwargs, error, message):
    """Absurd parameters raise ValueError/TypeError naming the problem."""
    with pytest.raises(error, match=message):
        EventBuffer(**kwargs)


def test_append_rejects_non_events():
    """Only Event objects go in, and a bad batch adds nothing."""
    buf = EventBuffer()
    with pytest.raises(TypeError, match="takes an Event"):
        buf.append({"a": 1})
    with pytest.raises(TypeError, match="takes Events"):
        buf.extend([ev(1), "x"])
    assert len(buf) == 0


def test_empty_buffer_has_typed_meta_columns():
    """An empty buffer gives an empty frame with the meta columns and their dtypes."""
    df = EventBuffer().df
    assert df.columns.tolist() == list(META_COLUMNS)
    assert len(df) == 0
    assert is_utc(df["received_at"].dtype)
    assert repr(EventBuffer()) == "EventBuffer(rows=0, columns=6, max_rows=100000, window=None)"


# Columns and dtypes


def test_columns_order_and_dtypes():
    """Meta columns come first with their dtypes, then data columns by first appearance."""
    buf = EventBuffer()
    buf.append(
        ev(
            {"id": 1, "title": "a", "ok": True, "pos": {"lat": 1.5}, "tags": ["x"]},
            event_ns=T0 - SECOND,
            snapshot=True,
        )
    )
    buf.append(ev({"id": 2, "title": "b", "ok": False, "pos": {"lat": 2.0}, "tags": []}, i=1))
    df = buf.df
    assert df.columns.tolist() == [
        *META_COLUMNS,
        "data.id",
        "data.title",
        "data.ok",
        "data.pos.lat",
        "data.tags",
    ]
    assert df["seq"].tolist() == [1, 2]
    assert df["seq"].dtype == np.int64
    assert is_utc(df["received_at"].dtype)
    assert is_utc(df["event_time"].dtype)
    assert df["event_time"].iloc[0] == pd.Timestamp(T0 - SECOND, unit="ns", tz="UTC")
    assert pd.isna(df["event_time"].iloc[1])
    assert df["received_at"].iloc[1] == pd.Timestamp(T0 + 1_000_000, unit="ns", tz="UTC")
    assert pd.api.types.is_string_dtype(df["stream"].dtype)
    assert pd.api.types.is_string_dtype(df["data.title"].dtype)
    assert df["snapshot"].tolist() == [True, False]
    assert df["data.id"].dtype == "Int64"
    assert df["data.ok"].dtype == "boolean"
    assert df["data.pos.lat"].dtype == np.float64
    assert df["data.tags"].dtype == pd.ArrowDtype(pa.list_(pa.string()))
    assert df["data.tags"].tolist() == [["x"], []]
    assert isinstance(df["data.tags"].iloc[0], list)
    assert buf.columns == df.columns.tolist()
    assert buf.numeric_columns() == ["data.id", "data.pos.lat"]


def test_scalar_payload_goes_in_data_column():
    """A payload that is not a dict lands in a column named data."""
    buf = EventBuffer()
    buf.extend([ev(1.5), ev(2.5, i=1)])
    assert buf.df["data"].tolist() == [1.5, 2.5]


def test_schema_growth_gives_earlier_rows_nulls():
    """A field that appears later is null on earlier rows, across chunk boundaries too."""
    buf = EventBuffer()
    buf.extend(ev({"a": i}, i=i) for i in range(5000))
    buf.append(ev({"a": 1, "b": "new", "c": 7}, i=5000))
    df = buf.df
    assert df.columns.tolist()[-3:] == ["data.a", "data.b", "data.c"]
    assert df["data.b"].isna().sum() == 5000
    assert df["data.b"].iloc[-1] == "new"
    assert df["data.c"].dtype == "Int64"
    assert df["data.c"].iloc[-1] == 7


def test_ints_and_floats_mix_into_float64():
    """A field that is an int here and a float there is float64, in one chunk or across."""
    buf = EventBuffer()
    buf.extend([ev({"v": 1}), ev({"v": 2.5}, i=1)])
    assert buf.df["v" if False else "data.v"].dtype == np.float64
    buf = EventBuffer()
    buf.extend(ev({"v": i}, i=i) for i in range(4096))
    buf.append(ev({"v": 0.5}, i=5000))
    assert buf.df["data.v"].dtype == np.float64
    assert buf.df["data.v"].iloc[-1] == 0.5


@pytest.mark.parametrize(
    "values",
    [
        [1, "a"],
        [True, 1],
        [1.5, False],
        [{"x": 1}, 3],
        [2**70, 1],
        [[1], "a", None, 3.5],
        ["\ud800", "ok"],
    ],
)
def test_mixed_types_never_raise(values):
    """Incompatible values in one field fall back to an object column of the originals."""
    for chunked in (False, True):
        buf = EventBuffer()
        for i, v in enumerate(values):
            buf.append(ev({"v": v}, i=i))
            if chunked:
                len(buf)  # convert each event on its own, so types meet at read time
        df = buf.df
        assert len(df) == len(values)
        for i, v in enumerate(values):
            row = flatten({"v": v})
            for name, expected in row.items():
                got = df[name].iloc[i]
                assert got == expected or (expected is None and pd.isna(got))


def test_mixed_object_column_keeps_original_values():
    """An int/str field keeps its ints as ints and strs as strs."""
    buf = EventBuffer()
    buf.extend([ev({"v": 1}), ev({"v": "a"}, i=1), ev({"v": True}, i=2)])
    values = buf.df["data.v"].tolist()
    assert values == [1, "a", True]
    assert [type(v) for v in values] == [int, str, bool]


# Filtering


def test_to_dataframe_filters_by_stream_and_type():
    """Filters pick rows of one stream and/or type, without columns they never fill."""
    buf = EventBuffer()
    buf.extend(
        [
            ev({"a": 1}, stream="s1", type="x"),
            ev({"b": 2}, stream="s2", type="y", i=1),
            ev({"a": 3}, stream="s2", type="x", i=2),
            ev({"c": 4}, stream=None, type="x", i=3),
        ]
    )
    assert buf.to_dataframe(stream="s2")["seq"].tolist() == [2, 3]
    assert buf.to_dataframe(type="x")["seq"].tolist() == [1, 3, 4]
    only = buf.to_dataframe(stream="s2", type="x")
    assert only["seq"].tolist() == [3]
    assert only.columns.tolist() == [*META_COLUMNS, "data.a"]
    assert only.index.tolist() == [0]
    assert buf.numeric_columns(type="y") == ["data.b"]
    assert len(buf.to_dataframe(stream="nope")) == 0


# Rolling


def test_rolling_by_rows_keeps_newest():
    """max_rows keeps the newest rows and counts the evicted ones."""
    buf = EventBuffer(max_rows=1000)
    for i in range(10_000):
        buf.append(ev({"i": i}, i=i))
    df = buf.df
    assert len(buf) == len(df) == 1000
    assert df["seq"].tolist() == list(range(9001, 10_001))
    assert df["data.i"].tolist() == list(range(9000, 10_000))
    assert buf.dropped_rows == 9000
    assert buf.total_rows == 10_000
    assert buf.last_seq == 10_000


def test_rolling_by_rows_with_tiny_limit_and_large_batch():
    """A batch larger than max_rows keeps only its tail."""
    buf = EventBuffer(max_rows=3)
    buf.extend(ev(i, i=i) for i in range(10))
    assert buf.df["data"].tolist() == [7, 8, 9]
    assert buf.dropped_rows == 7


def test_rolling_by_time_window():
    """window keeps rows received within it of the newest row, by received_ns."""
    buf = EventBuffer(max_rows=None, window=10)
    for s in range(100):
        buf.append(Event("s", "t", s, received_ns=T0 + s * SECOND))
    assert buf.df["data"].tolist() == list(range(89, 100))
    assert buf.dropped_rows == 89
    buf = EventBuffer(max_rows=None, window=datetime.timedelta(milliseconds=1500))
    buf.extend(Event("s", "t", s, received_ns=T0 + s * SECOND) for s in range(5))
    assert buf.df["data"].tolist() == [3, 4]


def test_rolling_by_window_handles_out_of_order_rows():
    """A late row older than the window is evicted even behind newer rows."""
    buf = EventBuffer(window=1.0)
    buf.extend(
        [
            Event("s", "t", "new", received_ns=T0 + 5 * SECOND),
            Event("s", "t", "stale", received_ns=T0),
            Event("s", "t", "newest", received_ns=T0 + 5 * SECOND + 1),
        ]
    )
    assert buf.df["data"].tolist() == ["new", "newest"]


def test_rolling_by_rows_and_window_together():
    """Both bounds apply; the tighter one wins."""
    buf = EventBuffer(max_rows=5, window=100)
    buf.extend(Event("s", "t", s, received_ns=T0 + s * SECOND) for s in range(20))
    assert buf.df["data"].tolist() == [15, 16, 17, 18, 19]
    buf = EventBuffer(max_rows=50, window=2)
    buf.extend(Event("s", "t", s, received_ns=T0 + s * SECOND) for s in range(20))
    assert buf.df["data"].tolist() == [17, 18, 19]


def test_columns_of_evicted_rows_disappear():
    """A column whose rows have all been evicted (whole chunks) is no longer listed."""
    buf = EventBuffer(max_rows=4096)
    buf.extend(ev({"old": i}, i=i) for i in range(4096))
    buf.extend(ev({"new": i}, i=i) for i in range(8192))
    assert "data.old" not in buf.columns
    assert "data.old" not in buf.df.columns


# Explode


def test_explode_rows_share_seq_and_repeat_siblings():
    """Exploded items become rows with their event's seq and the sibling fields."""
    buf = EventBuffer(explode={"aircraft": "positions"})
    buf.append(
        ev(
            {
                "count": 2,
                "positions": [{"lat": 1.0, "id": "a"}, {"lat": 2.0, "id": "b"}],
                "timestamp": 99,
            },
            type="aircraft",
        )
    )
    buf.append(ev({"other": 1}, type="note", i=1))
    df = buf.df
    assert df["seq"].tolist() == [1, 1, 2]
    assert df["data.positions.lat"].tolist()[:2] == [1.0, 2.0]
    assert df["data.positions.id"].tolist()[:2] == ["a", "b"]
    assert df["data.count"].tolist()[:2] == [2, 2]
    assert df["data.timestamp"].tolist()[:2] == [99, 99]
    assert len(buf) == 3
    assert buf.last_seq == 2


def test_explode_empty_missing_and_non_list():
    """An empty list gives no row; a missing or non-list value gives one ordinary row."""
    buf = EventBuffer(explode={"aircraft": "state.positions"})
    buf.extend(
        [
            ev({"state": {"positions": []}}, type="aircraft"),
            ev({"state": {}}, type="aircraft", i=1),
            ev({"state": {"positions": "n/a"}}, type="aircraft", i=2),
            ev({"state": {"positions": [{"x": 1}]}}, type="aircraft", i=3),
        ]
    )
    df = buf.df
    assert df["seq"].tolist() == [2, 3, 4]
    assert df["data.state.positions"].tolist()[1] == "n/a"
    assert df["data.state.positions.x"].tolist()[2] == 1
    assert buf.total_rows == 3


# since()


def test_since_returns_each_row_once_across_evictions_and_growth():
    """Polling since() sees every held row exactly once, in order, as schema grows."""
    buf = EventBuffer(max_rows=3000, explode={"multi": "items"})
    cursor, seen = 0, []
    i = 0
    for step in range(40):
        for _ in range(step * 37 % 500):
            i += 1
            if i % 97 == 0:
                buf.append(ev({"items": [{"k": i}, {"k": -i}]}, type="multi", i=i))
            else:
                buf.append(ev({f"f{i % 13}": i}, i=i))
        frame, cursor = buf.since(cursor)
        assert cursor == buf.last_seq
        seen.extend(frame["seq"].tolist())
        assert frame.columns.tolist() == buf.columns
    assert seen == sorted(seen)
    per_seq = pd.Series(seen).value_counts()
    assert set(per_seq.unique()) <= {1, 2}
    assert len(set(seen)) == buf.last_seq


def test_since_after_eviction_gives_only_held_rows():
    """A stale cursor gets the rows still held, no more, and nothing afterwards."""
    buf = EventBuffer(max_rows=10)
    buf.extend(ev(i, i=i) for i in range(100))
    frame, cursor = buf.since(5)
    assert frame["seq"].tolist() == list(range(91, 101))
    assert cursor == 100
    frame, cursor = buf.since(cursor)
    assert len(frame) == 0 and cursor == 100
    assert buf.since(0)[0]["seq"].tolist() == list(range(91, 101))


def test_since_can_leave_out_data_columns():
    """since(columns=...) keeps the meta columns and only the data columns asked for."""
    buf = EventBuffer()
    buf.extend(ev({"a": i, "b": str(i), "c": i / 2}, i=i) for i in range(10))
    full, _ = buf.since(4)
    narrow, cursor = buf.since(4, columns=["data.c", "data.nope"])
    assert narrow.columns.tolist() == [*buf.columns[:6], "data.c"]
    assert cursor == 10
    pd.testing.assert_frame_equal(narrow, full[narrow.columns.tolist()])
    assert buf.since(0, columns=[])[0].columns.tolist() == buf.columns[:6]


def test_since_rejects_non_int_cursor():
    """since() takes an int cursor."""
    with pytest.raises(TypeError, match="cursor must be an int"):
        EventBuffer().since("0")


# Read patterns


def test_frequent_reads_keep_the_buffer_in_few_chunks():
    """A widget at 20 Hz on a 100 events/s feed reads every 5 events: 50,000 rows read
    that way are held in about as many chunks as rows read once (the build time is
    printed by benchmarks/bench_buffer.py), and the frame is the same."""
    events = [
        ev({"symbol": "BTC", "price": 100 + i / 7, "book": {"bid": i}, "tags": ["a"]}, i=i)
        for i in range(50_000)
    ]
    often, once = EventBuffer(max_rows=50_000), EventBuffer(max_rows=50_000)
    for start in range(0, len(events), 5):
        often.extend(events[start : start + 5])
        len(often)  # what the widget's since() does first: convert what is pending
    once.extend(events)
    # 13 chunks when read once; small ones at the tail at most double that.
    assert len(often._chunks) <= 2 * len(once._chunks)
    pd.testing.assert_frame_equal(often.df, once.df)
    frame, cursor = often.since(49_990)
    assert frame["seq"].tolist() == list(range(49_991, 50_001)) and cursor == 50_000


@settings(max_examples=60, deadline=None)
@given(
    payloads=st.lists(st.dictionaries(st.sampled_from("abc"), strategies.SCALARS), max_size=40),
    cuts=st.lists(st.integers(min_value=1, max_value=9), max_size=12),
)
def test_reads_between_appends_never_change_the_frame(payloads, cuts):
    """Whatever the read pattern (so however chunks were merged), the frame is the one a
    single read at the end gives: same values, dtypes and column order."""
    events = [ev(p, i=i) for i, p in enumerate(payloads)]
    read, unread = EventBuffer(), EventBuffer()
    start = 0
    for cut in cuts:
        read.extend(events[start : start + cut])
        len(read)
        start += cut
    read.extend(events[start:])
    unread.extend(events)
    pd.testing.assert_frame_equal(read.df, unread.df)


# Cache, clear, markers


def test_cache_is_reused_and_invalidated_on_append():
    """Reads share one cached frame until an append; returned frames may be mutated."""
    buf = EventBuffer()
    buf.append(ev({"a": 1}))
    first = buf.df
    first.loc[0, "data.a"] = 100
    first["extra"] = 1
    second = buf.df
    assert second["data.a"].tolist() == [1]
    assert "extra" not in second.columns
    assert np.shares_memory(buf.df["seq"].to_numpy(), second["seq"].to_numpy())
    buf.append(ev({"a": 2}, i=1))
    assert buf.df["data.a"].tolist() == [1, 2]


def test_clear_keeps_seq_counting():
    """clear() empties rows and markers but seq continues, so cursors stay valid."""
    buf = EventBuffer()
    buf.extend([ev({"a": 1}), ev({"a": 2}, i=1)])
    buf.mark("connected")
    _, cursor = buf.since(0)
    buf.clear()
    assert len(buf) == 0 and len(buf.markers) == 0
    assert buf.columns == list(META_COLUMNS)
    buf.append(ev({"b": 1}, i=2))
    frame, cursor = buf.since(cursor)
    assert frame["seq"].tolist() == [3]
    assert buf.df.columns.tolist() == [*META_COLUMNS, "data.b"]
    assert buf.total_rows == 3


def test_markers_record_time_span_kind_and_seq():
    """Markers keep time, until (NaT if none), kind, detail and the seq at marking."""
    buf = EventBuffer(max_markers=2)
    buf.mark("connected", at_ns=T0)
    buf.append(ev(1))
    buf.mark("gap", "no data", at_ns=T0 + SECOND, until_ns=T0 + 2 * SECOND)
    buf.mark("reconnect", at_ns=T0 + 3 * SECOND)
    m = buf.markers
    assert m.columns.tolist() == ["time", "until", "kind", "detail", "seq"]
    assert m["kind"].tolist() == ["gap", "reconnect"]
    assert m["seq"].tolist() == [1, 1]
    assert is_utc(m["time"].dtype) and is_utc(m["until"].dtype)
    assert m["until"].iloc[0] == pd.Timestamp(T0 + 2 * SECOND, unit="ns", tz="UTC")
    assert pd.isna(m["until"].iloc[1])
    assert m["detail"].iloc[0] == "no data"
    buf.mark("connected")
    assert buf.markers["time"].iloc[-1] > pd.Timestamp("2020-01-01", tz="UTC")


def test_lists_of_one_scalar_type_are_arrow_lists():
    """Lists of one item type become Arrow lists (no Python containers kept); others stay."""
    buf = EventBuffer()
    payloads = [
        {"s": ["a", None], "i": [1, 2], "f": [1.5], "b": [True], "e": [], "mix": [1, "x"]},
        {"s": None, "i": [], "f": [], "b": [], "e": [], "mix": [[1]], "nest": [{"k": 1}]},
    ]
    buf.extend([ev(p, i=i) for i, p in enumerate(payloads)])
    df = buf.df
    for name, item in [("s", pa.string()), ("i", pa.int64()), ("f", pa.float64())]:
        assert df[f"data.{name}"].dtype == pd.ArrowDtype(pa.list_(item)), name
    assert df["data.b"].dtype == pd.ArrowDtype(pa.list_(pa.bool_()))
    assert df["data.s"].iloc[0] == ["a", None] and df["data.s"].isna().tolist() == [False, True]
    assert df["data.i"].tolist() == [[1, 2], []]
    assert df["data.e"].tolist() == [[], []]
    assert df["data.mix"].dtype == object  # mixed or nested items keep the Python values
    assert df["data.mix"].tolist() == [[1, "x"], [[1]]]
    assert df["data.nest"].dtype == object and df["data.nest"].iloc[1] == [{"k": 1}]
    assert buf.numeric_columns() == []


def test_list_column_across_chunks():
    """Chunks of empty lists, nulls or other item types combine with the list chunks."""
    buf = EventBuffer()
    for i, tags in enumerate([[], ["a"], None, [1]]):
        buf.append(ev({"tags": tags}, i=i))
        len(buf)  # one chunk per event
        if i == 2:
            assert buf.df["data.tags"].dtype == pd.ArrowDtype(pa.list_(pa.string()))
            assert buf.df["data.tags"].tolist()[:2] == [[], ["a"]]
    df = buf.df
    assert df["data.tags"].dtype == object  # strings in one chunk, ints in another
    assert df["data.tags"].tolist() == [[], ["a"], None, [1]]
    assert buf.since(1)[0]["data.tags"].tolist() == [["a"], None, [1]]
    buf = EventBuffer()
    buf.append(ev({"x": False}))
    len(buf)
    buf.append(ev({"x": []}, i=1))
    assert buf.df["data.x"].tolist() == [False, []]


# Exports


@pytest.fixture
def filled() -> EventBuffer:
    buf = EventBuffer()
    buf.extend(
        [
            ev(
                {"id": 1, "name": "a", "ok": True, "x": 1.5, "tags": ["t", "u"], "mix": 1},
                event_ns=T0,
            ),
            ev(
                {"id": 2, "name": None, "ok": False, "tags": [], "mix": "s", "pos": {"lat": 2}}, i=1
            ),
        ]
    )
    return buf


def test_parquet_round_trip_keeps_dtypes(filled, tmp_path):
    """Parquet reads back with the same dtypes (UTC timestamps too) and values."""
    path = filled.to_parquet(tmp_path / "rows.parquet")
    back = pd.read_parquet(path)
    df = filled.df
    assert back.columns.tolist() == df.columns.tolist()
    for name in df.columns:
        if name not in ("data.tags", "data.mix"):
            assert back[name].dtype == df[name].dtype, name
    assert is_utc(back["received_at"].dtype)
    pd.testing.assert_series_equal(back["received_at"], df["received_at"])
    assert [list(v) for v in back["data.tags"]] == [["t", "u"], []]
    assert [json.loads(v) for v in back["data.mix"]] == [1, "s"]  # mixed: JSON text


def test_csv_round_trip_same_rows(filled, tmp_path):
    """CSV reads back with the same rows, timestamps parseable as UTC."""
    path = filled.to_csv(str(tmp_path / "rows.csv"))
    back = pd.read_csv(path)
    assert back["seq"].tolist() == [1, 2]
    received = pd.to_datetime(back["received_at"], utc=True)
    assert received.tolist() == filled.df["received_at"].tolist()
    assert [json.loads(v) for v in back["data.tags"]] == [["t", "u"], []]
    assert filled.to_dataframe(type="t")["data.tags"].tolist() == [["t", "u"], []]
    assert back["data.name"].iloc[0] == "a" and pd.isna(back["data.name"].iloc[1])


def test_jsonl_round_trip_iso_timestamps(filled, tmp_path):
    """JSONL has one object per row, with its present fields only, and ISO-8601 times."""
    path = filled.to_jsonl(tmp_path / "rows.jsonl")
    lines = [json.loads(line) for line in path.read_text().splitlines()]
    assert [row["seq"] for row in lines] == [1, 2]
    assert lines[0]["received_at"].startswith("2024-03-09T16:00:00")
    assert pd.Timestamp(lines[1]["received_at"]) == filled.df["received_at"].iloc[1]
    assert "event_time" not in lines[1]  # no value: left out, not written as null
    assert lines[0]["data.tags"] == ["t", "u"]
    assert lines[1]["data.mix"] == "s"


# Properties

json_values = strategies.json_values(st.text(alphabet="abcxyz_ ", max_size=3), max_leaves=10)


def same_value(got, expected) -> bool:
    """Equal as JSON values: nulls of any kind, ints held as floats when mixed with floats."""
    if expected is None:
        return not isinstance(got, list) and (got is None or bool(pd.isna(got)))
    if isinstance(expected, bool):
        return type(got) in (bool, np.bool_) and bool(got) == expected
    if isinstance(expected, int) and isinstance(got, (float, np.floating)):
        return float(expected) == got
    if isinstance(expected, list):
        return isinstance(got, list) and got == expected
    return type(got) is not bool and got == expected


@settings(max_examples=100, deadline=None)
@given(
    payloads=st.lists(json_values, max_size=30),
    cuts=st.lists(st.integers(min_value=1, max_value=7), max_size=10),
)
def test_any_json_gives_one_row_per_event_with_every_leaf(payloads, cuts):
    """Arbitrary JSON in arbitrary chunks: one row per event, in order, every leaf found."""
    buf = EventBuffer()
    events = [ev(p, i=i) for i, p in enumerate(payloads)]
    start = 0
    for cut in cuts:
        buf.extend(events[start : start + cut])
        len(buf)  # convert this chunk on its own
        start += cut
    for e in events[start:]:
        buf.append(e)
    df = buf.df
    assert len(df) == len(payloads)
    assert df["seq"].tolist() == list(range(1, len(payloads) + 1))
    for i, payload in enumerate(payloads):
        for name, expected in flatten(payload).items():
            got = df[name].iloc[i]
            assert same_value(got, expected), (name, got, expected)


def test_malformed_event_is_dropped_not_its_batch(caplog):
    """An event with a non-int timestamp is dropped with a warning; the others stay."""
    buf = EventBuffer()
    buf.extend([ev(1), Event("s", "t", 2, received_ns=None), ev(3, i=2)])
    assert buf.df["data"].tolist() == [1, 3]
    assert buf.df["seq"].tolist() == [1, 3]
    assert "dropped 1 event(s)" in caplog.text


def test_one_event_beyond_datetime64_costs_only_its_event_time():
    """100 good events, then one whose ts is year 2286 (10000000000000 ms): 101 rows, the
    odd one with NaT as event_time and counted; reading never raises."""
    buf = EventBuffer()
    for i in range(100):
        buf.append(Event("s", "t", {"n": i}, received_ns=i + 1, event_ns=i + 1))
    buf.append(Event("s", "t", {"n": 100}, received_ns=101, event_ns=10_000_000_000_000 * 10**6))
    df = buf.df
    assert len(df) == 101 and df["data.n"].tolist() == list(range(101))
    assert df["event_time"].isna().tolist() == [False] * 100 + [True]
    assert buf.times_out_of_range == 1 and buf.rejected_count == 0


def test_data_nested_a_thousand_deep_is_one_column_not_a_lost_batch():
    """A payload nested 1,000 levels (JSON allows it) beside 100 ordinary events: every row
    is kept; below MAX_DEPTH levels the rest stays whole in one cell."""
    from streamwidgets.buffer.flatten import MAX_DEPTH

    deep: dict = {}
    node = deep
    for _ in range(1000):
        node["k"] = {}
        node = node["k"]
    node["v"] = 1
    buf = EventBuffer()
    buf.extend(Event("s", "t", {"n": i}, received_ns=i + 1) for i in range(100))
    buf.append(Event("s", "t", {"n": 100, "deep": deep}, received_ns=101))
    df = buf.df
    assert len(df) == 101 and df["data.n"].tolist() == list(range(101))
    (column,) = [c for c in df.columns if c.startswith("data.deep")]
    assert column.count(".") == MAX_DEPTH and isinstance(df[column].iloc[-1], dict)


def test_an_event_that_cannot_become_a_row_is_set_aside_with_its_reason(monkeypatch):
    """Whatever makes one event fail to flatten (here a RecursionError, as the nesting
    limit prevents), halfway through its rows, the others are kept whole, and the odd one
    is counted and kept for inspection with the reason; nothing of it is left behind."""
    from streamwidgets.buffer.rows import PendingRows

    real = PendingRows._row

    def row(self, payload):
        if payload == {"items": {"k": "boom"}}:
            raise RecursionError("maximum recursion depth exceeded")
        return real(self, payload)

    monkeypatch.setattr(PendingRows, "_row", row)
    buf = EventBuffer(explode={"many": "items"})
    buf.extend(Event("s", "t", i, received_ns=i + 1) for i in range(10))
    # Its first record makes a row and a column, its second fails.
    items = [{"new": 1}, {"k": "boom"}]
    buf.append(Event("s", "many", {"items": items}, received_ns=11))
    buf.append(Event("s", "t", 11, received_ns=12))
    assert buf.df["data"].tolist() == [*range(10), 11]
    assert buf.df["seq"].tolist() == [*range(1, 11), 12]
    assert "data.items.new" not in buf.df.columns
    assert buf.rejected_count == 1
    (rejected,) = buf.rejected
    assert rejected.seq == 11 and rejected.reason.startswith("RecursionError")
    assert "boom" in rejected.preview
