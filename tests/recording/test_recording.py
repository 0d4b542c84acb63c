"""Recording: what the file holds, its bounds, its secrets, and the `record` command."""

from __future__ import annotations

import asyncio
import gzip
from pathlib import Path

import orjson
import pytest

import streamwidgets
from streamwidgets import ConfigurationError, feeds
from streamwidgets.connection.dialect import Outgoing
from streamwidgets.recording.recorder import FORMAT, FORMAT_VERSION, Recorder
from streamwidgets.simulators.hydra import ALL_STREAMS, HydraSimulator
from streamwidgets.simulators.tokens import issue_token
from tests.support.recordings import (
    STREAMS,
    check_record_output,
    lines_of,
    record_live,
    run_record,
    serving,
)
from tests.support.waiting import eventually, seconds


async def test_file_has_header_frames_with_times_and_markers(tmp_path):
    """A header naming the dialect, every received frame with its receive time, and markers."""
    path = tmp_path / "feed.jsonl.gz"
    live = await record_live(path, events=200)
    lines = lines_of(path)
    header = lines[0]
    assert header["format"] == FORMAT and header["version"] == FORMAT_VERSION
    assert header["dialect"] == "hydra" and header["replay"]["url"].startswith("ws://127.0.0.1:")
    frames = [line for line in lines if line.get("dir") == "in"]
    markers = [line["marker"] for line in lines if "marker" in line]
    assert "connected" in markers and markers[-1] == "end"
    assert lines[-1]["frames"] == len(frames) and lines[-1]["lost"] == 0
    # the welcome first, then the subscribe reply, then one frame per buffered event
    assert '"connected"' in frames[0]["text"]
    event_times = sorted(f["t_ns"] for f in frames if '"stream"' in f["text"])
    assert event_times == live["received_at"].astype("int64").tolist()


async def test_a_token_echoed_by_the_server_or_sent_is_not_in_the_file(tmp_path):
    """The JWT used to connect, echoed back in a reply and in a sent frame, becomes ***."""
    path = tmp_path / "feed.jsonl.gz"
    async with HydraSimulator(rate=100) as sim:
        token = sim.issue_token()
        feed = feeds.hydra(sim.url, token=token)
        async with streamwidgets.open(
            feed, streams=["signals"], record=path, record_options={"include_sent": True}
        ) as stream:
            # The server lists refused stream names in its reply: the token comes back.
            frame = f'{{"action":"subscribe","streams":["markets","{token}"]}}'
            await stream.connection.send(Outgoing(frame))
            notices = stream.connection.notices
            await eventually(lambda: any("subscription refused" in n.message for n in notices))
            assert all(token not in n.message for n in notices)
            await eventually(lambda: stream.stats.events >= 20)
    text = gzip.decompress(path.read_bytes())
    assert token.encode() not in text
    assert b'"dir":"out"' in text and b"***" in text


@pytest.mark.parametrize("name", ["feed.jsonl.gz", "feed.parquet"])
def test_text_frames_written_in_blocks_keep_every_frame_with_secrets_masked(tmp_path, name):
    """Frames queued without markers go out a batch at a time: all of them, token masked."""
    import pyarrow.parquet as pq

    from streamwidgets.dialects.hydra import HydraDialect

    token = "eyJhbGciOiJIUzI1NiJ9.block-secret.c2lnbmF0dXJl"
    path = tmp_path / name
    recorder = Recorder(path, dialect=HydraDialect("ws://127.0.0.1:9/stream", token=token))
    frames = [
        f'{{"n":{i},"quote":"\\"q\\"","text":"é ✓ {token if i % 7 == 0 else ""}"}}'
        for i in range(10_000)
    ]
    for i, frame in enumerate(frames):
        recorder.received(frame, 1_700_000_000_000_000_000 + i)
    summary = recorder.close()
    assert summary.frames == len(frames) and summary.lost == 0
    if name.endswith(".gz"):
        assert token.encode() not in gzip.decompress(path.read_bytes())
        written = [line for line in lines_of(path) if line.get("dir") == "in"]
    else:
        written = [row for row in pq.read_table(path).to_pylist() if row["dir"] == "in"]
    assert [line["text"] for line in written] == [f.replace(token, "***") for f in frames]
    assert [line["t_ns"] for line in written] == [
        1_700_000_000_000_000_000 + i for i in range(len(frames))
    ]


async def test_fast_feed_with_small_max_bytes_stays_under_the_bound(tmp_path):
    """20k ev/s for up to 2 s into a 64 KiB file: it stops at the bound and counts the rest."""
    path = tmp_path / "fast.jsonl.gz"
    limit = 64 * 1024
    async with HydraSimulator(rate=20_000) as sim:
        feed = feeds.hydra(sim.url, token=sim.issue_token())
        async with streamwidgets.open(
            feed, streams=STREAMS, record=path, record_options={"max_bytes": limit}
        ) as stream:
            recorder = stream.connection.recorder
            loop = asyncio.get_running_loop()
            deadline = loop.time() + seconds(2)
            while loop.time() < deadline and recorder.active:
                await asyncio.sleep(0.05)
            await asyncio.sleep(0.3)  # frames keep coming after the stop
    summary = recorder.summary()
    assert path.stat().st_size <= limit
    assert summary.bytes == path.stat().st_size
    assert summary.stopped == f"max_bytes reached ({limit:,} bytes)"
    assert summary.not_recorded > 0 and summary.frames > 100
    assert lines_of(path)[-1]["detail"] == summary.stopped  # a complete gzip stream


async def test_a_full_writer_queue_drops_and_counts_and_marks_the_loss(tmp_path):
    """With a 20-frame queue under a fast feed, frames are dropped, counted and marked."""
    path = tmp_path / "lossy.jsonl.gz"
    async with HydraSimulator(rate=20_000) as sim:
        feed = feeds.hydra(sim.url, token=sim.issue_token())
        async with streamwidgets.open(
            feed, streams=STREAMS, record=path, record_options={"max_queue": 20}
        ) as stream:
            await eventually(lambda: stream.connection.recorder.summary().lost > 0, timeout=5)
            recorder = stream.connection.recorder
    lost_lines = [line for line in lines_of(path) if line.get("marker") == "lost"]
    assert lost_lines and sum(line["count"] for line in lost_lines) == recorder.summary().lost


async def test_max_duration_stops_the_recording_with_its_reason(tmp_path):
    """A 0.5 s recording ends by itself with an end marker; later frames are counted."""
    path = tmp_path / "short.jsonl"
    async with HydraSimulator(rate=200) as sim:
        feed = feeds.hydra(sim.url, token=sim.issue_token())
        async with streamwidgets.open(
            feed, streams=STREAMS, record=path, record_options={"max_duration": 0.5}
        ) as stream:
            recorder = stream.connection.recorder
            await eventually(lambda: not recorder.active, timeout=3)
            await asyncio.sleep(0.2)
    assert recorder.stopped == "max_duration reached (0.5 s)"
    assert recorder.summary().not_recorded > 0
    lines = lines_of_plain(path)
    frames = [line["t_ns"] for line in lines if "dir" in line]
    assert max(frames) - min(frames) <= 0.5e9


async def test_parquet_recording_holds_the_same_frames(tmp_path):
    """The Parquet format has the header in its metadata and one row per frame or marker."""
    import pyarrow.parquet as pq

    path = tmp_path / "feed.parquet"
    await record_live(path, events=100)
    table = pq.read_table(path)
    assert b"streamwidgets_recording" in table.schema.metadata
    rows = table.to_pylist()
    assert sum(r["dir"] == "in" for r in rows) >= 100
    assert rows[-1]["marker"] == "end"


def test_bad_options_are_refused_clearly(tmp_path):
    """Wrong suffix, missing directory, tiny max_bytes, zero duration: specific errors."""
    dialect = feeds.hydra("ws://127.0.0.1:9/stream", token="t")
    cases = [
        (tmp_path / "feed.txt", {}, "a recording is a .jsonl.gz, .jsonl or .parquet file"),
        (tmp_path / "no" / "feed.jsonl", {}, "no such directory"),
        (tmp_path / "feed.jsonl", {"max_bytes": 10}, "max_bytes must be None or an int >= 4096"),
        (tmp_path / "feed.jsonl", {"max_duration": 0}, "max_duration must be None or seconds"),
        (tmp_path / "feed.jsonl", {"max_queue": 0}, "max_queue must be an int >= 1"),
    ]
    for path, options, words in cases:
        with pytest.raises(ConfigurationError, match=words):
            Recorder(path, dialect=dialect, **options)


async def test_recording_twice_at_once_is_refused(tmp_path):
    """One recording per connection at a time; stopping one allows the next."""
    conn = streamwidgets.Connection(feeds.hydra("ws://127.0.0.1:9/stream", token="t"))
    conn.record(tmp_path / "a.jsonl")
    with pytest.raises(ConfigurationError, match="already recording to"):
        conn.record(tmp_path / "b.jsonl")
    await conn.stop_recording()
    conn.record(tmp_path / "b.jsonl")
    await conn.close()
    assert lines_of_plain(tmp_path / "b.jsonl")[-1]["marker"] == "end"


def lines_of_plain(path: Path) -> list[dict]:
    return [orjson.loads(line) for line in path.read_bytes().splitlines()]


def test_record_command_prints_progress_and_writes_the_file(tmp_path):
    """`streamwidgets record hydra --for 2s` against a simulator process: progress, then a file."""
    with serving(
        *("sim", "hydra", "--port", "0", "--rate", "200", "--secret", "cli-secret"),
        ready=tmp_path / "port",
    ) as port:
        token = issue_token("cli-secret", address="0xcli", streams=ALL_STREAMS)
        out = tmp_path / "cli.jsonl.gz"
        result = run_record(
            *("hydra", "--url", f"ws://127.0.0.1:{port}/stream", "--streams", "signals,markets"),
            *("--for", "2s", "-o", str(out)),
            env={"HYDRA_TOKEN": token},
        )
    check_record_output(result, out, "2 s")
    lines = lines_of(out)
    assert sum(line.get("dir") == "in" for line in lines) > 100
    assert token.encode() not in gzip.decompress(out.read_bytes())
