"""Every value exactly as it was sent: into the buffer, through each export format and back,
and through a recording replayed; or, where a format cannot, as its documented limit says
(the README's export table)."""

from __future__ import annotations

import asyncio
import math
from pathlib import Path

import numpy as np
import orjson
import pandas as pd
import pytest
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st
from websockets.asyncio.server import serve

import streamwidgets
from streamwidgets import feeds, read_export
from streamwidgets.buffer.event_buffer import EventBuffer
from streamwidgets.buffer.export import export_bytes
from streamwidgets.buffer.flatten import flatten
from streamwidgets.events import Event
from tests.support.waiting import eventually

ROW = {"rate": 0.1234567890123, "lat": 48.85661400000123, "tiny": 1.2345678901234e-07}


def one_event_buffer(data) -> EventBuffer:
    buffer = EventBuffer()
    buffer.append(Event("s", "t", data, received_ns=1_710_000_000_123_456_789))
    return buffer


def test_json_lines_keep_floats_exactly(tmp_path):
    """0.1234567890123, 48.85661400000123 and 1.2345678901234e-07 are written and read back
    as themselves (shortest exact form), in the file and in the widget's download."""
    buffer = one_event_buffer(ROW)
    path = buffer.to_jsonl(tmp_path / "rows.jsonl")
    text = path.read_text()
    for value in ROW.values():
        # The shortest text that reads back as the same double (1.2345678901234e-7).
        assert orjson.dumps(value).decode() in text and float(orjson.dumps(value)) == value
    back = read_export(path)
    for name, value in ROW.items():
        assert back[f"data.{name}"].iloc[0] == value
    download = export_bytes(buffer.df, "jsonl").decode()
    assert download == text
    assert '"received_at":"2024-03-09T16:00:00.123456789Z"' in text


def test_json_lines_write_only_present_fields(tmp_path):
    """A row holds its own fields, not every column's null: rows of two shapes stay small."""
    buffer = EventBuffer()
    buffer.append(Event("a", "t", {"x": 1}, received_ns=1))
    buffer.append(Event("b", "t", {"y": "z"}, received_ns=2))
    lines = buffer.to_jsonl(tmp_path / "rows.jsonl").read_text().splitlines()
    assert "data.y" not in lines[0] and "data.x" not in lines[1] and "null" not in lines[0]
    back = read_export(tmp_path / "rows.jsonl")
    pd.testing.assert_frame_equal(back, buffer.df)


def test_parquet_keeps_ragged_lists_and_records_as_they_were(tmp_path):
    """bids [[100, 2.5], [99, 1.0]] then [[98, 4]], fills [{"px": 1}, {"qty": "x"}]: the same
    Python values back from read_export, ints not made floats, records not padded."""
    buffer = EventBuffer()
    sent = [
        {"bids": [[100, 2.5], [99, 1.0]], "fills": [{"px": 1}, {"qty": "x"}]},
        {"bids": [[98, 4]], "fills": [{"px": 2}]},
    ]
    for i, data in enumerate(sent):
        buffer.append(Event("book", "depth", data, received_ns=i + 1))
    back = read_export(buffer.to_parquet(tmp_path / "rows.parquet"))
    for i, data in enumerate(sent):
        assert orjson.dumps(back["data.bids"].iloc[i]) == orjson.dumps(data["bids"])
        assert orjson.dumps(back["data.fills"].iloc[i]) == orjson.dumps(data["fills"])
    pd.testing.assert_frame_equal(back, buffer.df)


async def serve_frames(frames: list[str]):
    """A server that sends ``frames`` to each client, then stays open."""

    async def handler(ws):
        for frame in frames:
            await ws.send(frame)
        await ws.wait_closed()

    return await serve(handler, "127.0.0.1", 0)


async def test_float_epoch_seconds_land_on_the_millisecond_sent():
    """time_unit="s" with ts 1710000000.123 and .001: event_time .123 and .001 exactly,
    the decimal sent, not a binary float times 1e9 (.122999808)."""
    frames = ['{"type": "x", "ts": 1710000000.123}', '{"type": "x", "ts": 1710000000.001}']
    server = await serve_frames(frames)
    port = server.sockets[0].getsockname()[1]
    try:
        feed = feeds.generic(f"ws://127.0.0.1:{port}/x", time_path="ts", time_unit="s")
        async with streamwidgets.open(feed) as stream:
            await eventually(lambda: len(stream.df) == 2)
            times = stream.df["event_time"]
    finally:
        server.close()
        await server.wait_closed()
    assert times.iloc[0] == pd.Timestamp("2024-03-09T16:00:00.123", tz="UTC")
    assert times.iloc[1] == pd.Timestamp("2024-03-09T16:00:00.001", tz="UTC")


async def test_nan_and_infinity_literals_keep_their_event():
    """A Python server's json.dumps writes NaN: both events are kept, NaN where it was sent,
    and the lenient parse is counted; orjson stays the fast path for the others."""
    frames = [
        '{"type": "reading", "temp": 21.5, "rsi": NaN}',
        '{"type": "reading", "temp": 22.0, "rsi": 55.5, "peak": Infinity}',
        '{"type": "reading", "temp": 23.0, "rsi": 60.0}',
    ]
    server = await serve_frames(frames)
    port = server.sockets[0].getsockname()[1]
    try:
        async with streamwidgets.open(feeds.generic(f"ws://127.0.0.1:{port}/x")) as stream:
            await eventually(lambda: len(stream.df) == 3)
            df, stats = stream.df, stream.stats
    finally:
        server.close()
        await server.wait_closed()
    assert df["data.temp"].tolist() == [21.5, 22.0, 23.0]
    assert math.isnan(df["data.rsi"].iloc[0]) and df["data.rsi"].iloc[1] == 55.5
    assert df["data.peak"].iloc[1] == math.inf
    assert stats.lenient_parses == 2 and stats.parse_errors == 0


# -- the property: any event, any format ------------------------------------------------------

SCALARS = (
    st.none()
    | st.booleans()
    | st.integers(min_value=-(2**63), max_value=2**63 - 1)
    | st.integers(min_value=2**63, max_value=2**64 - 1)
    | st.floats(allow_nan=False, allow_infinity=False)
    | st.text(max_size=6)
)
KEYS = st.sampled_from(["a", "b", "c", "n", "x y", "é"])
VALUES = st.recursive(
    SCALARS,
    lambda kids: st.lists(kids, max_size=3) | st.dictionaries(KEYS, kids, max_size=3),
    max_leaves=8,
)
TIMES = st.one_of(
    st.none(),
    st.integers(min_value=0, max_value=4_000_000_000_000_000_000),
)


def _same(got, sent) -> bool:
    """Equal as the buffer types values: JSON equality, with ints among floats as floats."""
    if sent is None:
        return got is None or (not isinstance(got, (list, dict)) and bool(pd.isna(got)))
    if isinstance(sent, bool):
        return type(got) in (bool, np.bool_) and bool(got) == sent
    if isinstance(sent, int) and isinstance(got, (float, np.floating)):
        return float(sent) == got
    if isinstance(sent, (list, dict)):
        return orjson.dumps(got, option=orjson.OPT_NON_STR_KEYS) == orjson.dumps(
            sent, option=orjson.OPT_NON_STR_KEYS
        )
    return type(got) is not bool and got == sent


def _csv_limit(sent) -> bool:
    """CSV's documented limits: a string that reads as another value (a number, a bool, JSON,
    the empty string) does not come back as that string."""
    if not isinstance(sent, str):
        return False
    if sent.strip() in ("", "True", "False", "nan", "NaN", "NA", "N/A", "null", "None"):
        return True
    try:
        orjson.loads(sent)
    except orjson.JSONDecodeError:
        return sent != sent.strip()  # surrounding blanks are not kept
    return True


@settings(
    max_examples=60,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture],
)
@given(
    events=st.lists(
        st.tuples(st.sampled_from(["s1", "s2"]), VALUES, TIMES),
        min_size=1,
        max_size=12,
    )
)
@example(events=[("s1", "", None), ("s1", [], None)])
@example(events=[("s1", {"é": False}, None), ("s1", {"a": None, "é": ""}, None)])
@example(events=[("s1", [], None), ("s1", "00", None)])
@example(events=[("s1", None, 0)])
def test_any_event_survives_every_format(tmp_path_factory, events):
    """Arbitrary events -> buffer -> df, and -> Parquet, JSON lines and CSV -> read_export:
    Parquet gives back the very frame; JSON lines every value; CSV every value but those
    its documented limits name."""
    buffer = EventBuffer()
    for i, (stream, data, event_ns) in enumerate(events):
        buffer.append(Event(stream, "t", data, received_ns=1_000 + i, event_ns=event_ns))
    df = buffer.df
    assert len(df) == len(events)
    for i, (_, data, _) in enumerate(events):
        for name, sent in flatten(data).items():
            assert _same(df[name].iloc[i], sent), (name, df[name].iloc[i], sent)
    folder = tmp_path_factory.mktemp("formats")
    back = read_export(buffer.to_parquet(folder / "rows.parquet"))
    pd.testing.assert_frame_equal(back, df)
    leaves = [flatten(data) for _, data, _ in events]
    for fmt in ("jsonl", "csv"):
        path: Path = getattr(buffer, f"to_{fmt}")(folder / f"rows.{fmt}")
        back = read_export(path)
        assert back["seq"].tolist() == df["seq"].tolist()
        assert (back["event_time"].isna() == df["event_time"].isna()).all()
        for i, row in enumerate(leaves):
            for name, sent in row.items():
                got = back[name].iloc[i] if name in back else None
                if fmt == "csv" and df[name].dtype != object and _csv_limit(sent):
                    # Plain text that reads as a value; in a column of mixed types text is
                    # written quoted and comes back exact.
                    continue
                assert _same(got, sent), (fmt, name, got, sent)


# -- the same property through a recording, replayed -------------------------------------------


@settings(max_examples=8, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(payloads=st.lists(st.dictionaries(KEYS, VALUES, max_size=4), min_size=1, max_size=10))
def test_a_recording_replays_to_the_same_frame(tmp_path_factory, payloads):
    """Events sent by a server, recorded live, then replayed through the same dialect: the
    replay's DataFrame equals the live one (assert_frame_equal), all but receive times."""
    folder = tmp_path_factory.mktemp("recording")
    asyncio.run(_record_and_replay(payloads, folder / "feed.jsonl.gz"))


async def _record_and_replay(payloads, path) -> None:
    frames = [orjson.dumps({"type": "t", "data": p}).decode() for p in payloads]
    server = await serve_frames(frames)
    port = server.sockets[0].getsockname()[1]
    try:
        feed = feeds.generic(f"ws://127.0.0.1:{port}/x", data_path="data")
        async with streamwidgets.open(feed, record=path) as stream:
            await eventually(lambda: len(stream.df) == len(payloads))
        live = stream.df
    finally:
        server.close()
        await server.wait_closed()
    replayed = feeds.replay(path, speed=None)
    async with streamwidgets.open(replayed) as again:
        await replayed.wait_finished(timeout=10)
        back = again.df
    pd.testing.assert_frame_equal(back, live)


@pytest.mark.parametrize("value", [2**63 - 1, -(2**63), 2**63, 2**64 - 1, 0.1 + 0.2, 5e-324, ""])
def test_edge_numbers_and_strings_round_trip_everywhere(tmp_path, value):
    """The edges of int64 and u64, a float needing 17 digits, the smallest subnormal, and the
    empty string (which CSV cannot tell from no value, its documented limit)."""
    buffer = one_event_buffer({"v": value, "k": 1})
    for fmt in ("parquet", "jsonl", "csv"):
        back = read_export(getattr(buffer, f"to_{fmt}")(tmp_path / f"rows.{fmt}"))
        if fmt == "csv" and value == "":
            assert pd.isna(back["data.v"].iloc[0])
            continue
        assert _same(back["data.v"].iloc[0], value), (fmt, back["data.v"].iloc[0])
