"""Replay: same rows and dtypes as recorded, pacing, pause and seek, damage, the replay server."""

from __future__ import annotations

import asyncio
import gzip
import time

import orjson
import pandas as pd
import pytest
from websockets.asyncio.client import connect

import streamwidgets
from streamwidgets import ConfigurationError, feeds
from tests.support.recordings import lines_of, record_live, replay_all, serving
from tests.support.waiting import seconds


@pytest.fixture(scope="module")
def paced(tmp_path_factory):
    """A recording of about 1.2 s of events at 100 ev/s, and its live rows."""
    path = tmp_path_factory.mktemp("paced") / "paced.jsonl.gz"
    live = asyncio.run(record_live(path, events=60, rate=100, seconds_at_least=1.2))
    return path, live


@pytest.mark.parametrize("name", ["feed.jsonl.gz", "feed.jsonl", "feed.parquet"])
async def test_replayed_buffer_equals_the_recorded_one(tmp_path, name):
    """Record the Hydra simulator, replay at full speed: same rows, same dtypes."""
    path = tmp_path / name
    live = await record_live(path, events=400)
    back, _, stream = await replay_all(feeds.replay(path, speed=None))
    pd.testing.assert_frame_equal(back, live)
    assert stream.connection.dialect.end_reason == "end of the recording"


@pytest.mark.parametrize("speed", [1.0, 4.0])
async def test_replay_speed_is_honoured(paced, speed):
    """At 1x and 4x the events span the recorded time divided by the speed, within 15%."""
    path, live = paced
    recorded = (live["received_at"].iloc[-1] - live["received_at"].iloc[0]).total_seconds()
    back, arrivals, _ = await replay_all(feeds.replay(path, speed=speed))
    assert len(back) == len(live)
    replayed = arrivals[-1] - arrivals[0]
    expected = recorded / speed
    assert abs(replayed - expected) <= 0.15 * expected + seconds(0.03), (replayed, expected)


async def test_max_speed_plays_faster_than_real_time(paced):
    """speed=None delivers every row in a fraction of the recorded time."""
    path, live = paced
    recorded = (live["received_at"].iloc[-1] - live["received_at"].iloc[0]).total_seconds()
    started = time.monotonic()
    back, _, _ = await replay_all(feeds.replay(path, speed=None))
    assert len(back) == len(live)
    assert time.monotonic() - started < recorded


async def test_pause_holds_and_resume_carries_on(paced):
    """A paused replay sends nothing; resumed, it delivers everything."""
    path, live = paced
    feed = feeds.replay(path, speed=4.0, paused=True)
    async with streamwidgets.open(feed) as stream:
        await asyncio.sleep(0.4)
        assert stream.stats.events == 0 and not feed.finished
        feed.resume()
        await asyncio.sleep(0.1)
        feed.pause()
        await asyncio.sleep(0.05)
        held = stream.stats.events
        await asyncio.sleep(0.3)
        assert 0 < held == stream.stats.events < len(live)
        feed.resume()
        await feed.wait_finished(timeout=seconds(10))
        await asyncio.sleep(0.05)
    assert len(stream.df) == len(live)


async def test_seek_forward_skips_and_backwards_replays(paced):
    """Seek to 0.8 s plays only later rows; seeking back to 0 plays them all again."""
    path, live = paced
    start = pd.Timestamp(lines_of(path)[1]["t_ns"], unit="ns", tz="UTC")  # the first entry
    feed = feeds.replay(path, speed=None, start=0.8)
    async with streamwidgets.open(feed) as stream:
        await feed.wait_finished(timeout=seconds(10))
        await asyncio.sleep(0.05)
        after = stream.df
        first_rows = len(after)
        assert 0 < first_rows < len(live)
        assert (after["received_at"] - start).min() >= pd.Timedelta(seconds=0.8)
        feed.seek(0)
        await feed.wait_finished(timeout=seconds(10))
        await asyncio.sleep(0.05)
        assert len(stream.df) == first_rows + len(live)
        with pytest.raises(ConfigurationError, match=r"seconds from the start.*>= 0"):
            feed.seek(-1)


async def test_truncated_gzip_replays_up_to_the_damage(tmp_path):
    """A recording cut short (a crash) replays every row before the cut, then says so."""
    path = tmp_path / "feed.jsonl.gz"
    live = await record_live(path, events=400)
    data = path.read_bytes()
    cut = tmp_path / "cut.jsonl.gz"
    cut.write_bytes(data[: len(data) * 2 // 3])
    back, _, stream = await replay_all(feeds.replay(cut, speed=None))
    reason = stream.connection.dialect.end_reason
    assert "cut.jsonl.gz is damaged" in reason and "gzip stream is cut short" in reason
    assert 0 < len(back) < len(live)
    pd.testing.assert_frame_equal(back, live.iloc[: len(back)])
    assert any(reason in n.message for n in stream.connection.notices)


async def test_a_corrupt_line_in_the_middle_stops_there_with_its_line_number(tmp_path):
    """Everything before a corrupt line is replayed, and the message names the line."""
    path = tmp_path / "feed.jsonl.gz"
    live = await record_live(path, events=300)
    lines = gzip.decompress(path.read_bytes()).splitlines()
    frames = [
        i for i, line in enumerate(lines) if '"stream":' in orjson.loads(line).get("text", "")
    ]
    broken = frames[len(frames) // 2]
    lines[broken] = b'{"t_ns": 1, "dir": "in", "text": ' + lines[broken][:10]
    bad = tmp_path / "bad.jsonl.gz"
    bad.write_bytes(gzip.compress(b"\n".join(lines) + b"\n"))
    back, _, stream = await replay_all(feeds.replay(bad, speed=None))
    reason = stream.connection.dialect.end_reason
    assert f"line {broken + 1} is not a recording line" in reason
    before = sum(1 for i in frames if i < broken)
    pd.testing.assert_frame_equal(back, live.iloc[:before])


def test_bad_recordings_and_options_are_refused_clearly(tmp_path):
    """Missing file, not a recording, a newer version, absurd speeds, negative start."""
    with pytest.raises(ConfigurationError, match="no recording at"):
        feeds.replay(tmp_path / "missing.jsonl.gz")
    junk = tmp_path / "junk.jsonl"
    junk.write_text("hello\n")
    with pytest.raises(ConfigurationError, match="is not a streamwidgets recording"):
        feeds.replay(junk)
    newer = tmp_path / "newer.jsonl.gz"
    header = {"format": "streamwidgets-recording", "version": 99, "dialect": "hydra"}
    newer.write_bytes(gzip.compress(orjson.dumps(header) + b"\n"))
    with pytest.raises(ConfigurationError, match=r"format version 99.*upgrade streamwidgets"):
        feeds.replay(newer)
    unknown = tmp_path / "unknown.jsonl"
    unknown.write_bytes(orjson.dumps({**header, "version": 1, "dialect": "telepathy"}) + b"\n")
    with pytest.raises(ConfigurationError, match="dialect 'telepathy' cannot be rebuilt"):
        feeds.replay(unknown)
    good = tmp_path / "good.jsonl"
    good.write_bytes(orjson.dumps({**header, "version": 1, "replay": {"url": "ws://h/s"}}) + b"\n")
    for speed in (0, -1, float("inf"), 1e6, "fast", True):
        with pytest.raises(ConfigurationError, match=r"speed must be a number from 0\.01 to 1000"):
            feeds.replay(good, speed=speed)
    with pytest.raises(ConfigurationError, match=r">= 0"):
        feeds.replay(good, start=-2)


async def test_sim_replay_serves_a_recording_to_a_plain_websocket_client(tmp_path):
    """`streamwidgets sim replay PATH` sends the recorded frames to any client, then 1000."""
    path = tmp_path / "feed.jsonl.gz"
    await record_live(path, events=100)
    recorded = [line["text"] for line in lines_of(path) if line.get("dir") == "in"]
    received = []
    with serving(
        *("sim", "replay", str(path), "--port", "0", "--speed", "max"), ready=tmp_path / "port"
    ) as port:
        async with connect(f"ws://127.0.0.1:{port}/replay") as ws:
            async for message in ws:
                received.append(message)
        assert ws.close_code == 1000 and ws.close_reason == "end of recording"
    assert received == recorded


def test_gzip_damage_in_the_middle_is_reported(tmp_path):
    """Corrupt compressed bytes (not just a cut) stop the reader with a gzip message."""
    from streamwidgets.recording.reader import RecordingReader

    body = b"".join(
        orjson.dumps({"t_ns": i, "dir": "in", "text": f"frame {i} " * 20}) + b"\n"
        for i in range(2000)
    )
    header = orjson.dumps({"format": "streamwidgets-recording", "version": 1, "dialect": "x"})
    data = bytearray(gzip.compress(header + b"\n" + body))
    middle = len(data) // 2
    data[middle : middle + 64] = bytes(64)
    path = tmp_path / "mangled.jsonl.gz"
    path.write_bytes(bytes(data))
    reader = RecordingReader(path)
    entries = list(reader)
    assert 0 < len(entries) < 2000
    # Deflate may decode a few corrupt bytes before it notices; all before them is intact.
    assert [e.t_ns for e in entries[:500]] == list(range(500))
    assert reader.damage is not None and "mangled.jsonl.gz is damaged" in reader.damage


async def test_hydra_v1_snapshot_and_live_rows_replay_the_same(tmp_path):
    """A Hydra v1 feed (snapshot, then live; no subscribe step) replays to the same rows."""
    from streamwidgets.simulators.hydra_v1 import HydraV1Simulator

    path = tmp_path / "v1.jsonl.gz"
    async with HydraV1Simulator(rate=200) as sim:
        feed = feeds.hydra_v1(sim.url, api_key=sim.api_key)
        async with streamwidgets.open(feed, record=path) as stream:
            while stream.stats.events < 150:
                await asyncio.sleep(0.01)
        live = stream.df
    assert live["snapshot"].any() and not live["snapshot"].all()
    back, _, _ = await replay_all(feeds.replay(path, speed=None))
    pd.testing.assert_frame_equal(back, live)
    assert sim.api_key.encode() not in gzip.decompress(path.read_bytes())


def test_every_existing_dialect_rebuilds_from_its_replay_config():
    """hydra, hydra-v1, axol, its endpoints and generic come back with the same options."""
    from streamwidgets.feeds.registry import rebuild_dialect

    originals = [
        feeds.hydra("ws://h:1/stream", token="secret-token"),
        feeds.hydra_v1("ws://h:1/v1/stream", api_key="secret-key", snapshot=False),
        feeds.axol("ws://h:1/api/v1/ws/connect", api_key="secret-key"),
        feeds.axol_gas("ws://h:1", api_key="secret-key", chain="polygon", interval=5),
        feeds.axol_mempool("ws://h:1", api_key="secret-key"),
        feeds.axol_liquidations("ws://h:1", api_key="secret-key", min_profit=5.0),
        feeds.generic("ws://h:1/ws", type_path="e", stream_path="s", name="binance-ish"),
    ]
    for original in originals:
        config = original.replay_config()
        assert "secret" not in orjson.dumps(config).decode(), original.name
        rebuilt = rebuild_dialect(original.name, config)
        assert type(rebuilt) is type(original) and rebuilt.name == original.name
        assert rebuilt.replay_config() == config
        assert rebuilt.describe()["url"] == original.describe()["url"]
