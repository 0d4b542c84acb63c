"""The relay into Redis Streams and feeds.redis: real simulator -> relay -> real redis-server
-> reader; same rows, backfill, many readers, outages on both sides, no secret in Redis."""

from __future__ import annotations

import asyncio
import datetime
import os
import subprocess
import sys
from collections.abc import Iterator

import orjson
import pandas as pd
import pytest
import redis

import streamwidgets
from streamwidgets import ConfigurationError, ConnectionFailed, feeds
from streamwidgets.connection.backoff import Backoff
from streamwidgets.connection.dialect import Outgoing
from streamwidgets.relay.relay import Relay
from streamwidgets.simulators.hydra import ALL_STREAMS, HydraSimulator
from streamwidgets.simulators.tokens import issue_token
from tests.support.recordings import STREAMS, serving
from tests.support.redis_server import RedisServer, free_port
from tests.support.waiting import eventually, seconds

FAST = {"backoff": Backoff(initial=0.05, maximum=0.5)}


@pytest.fixture
def redis_server() -> Iterator[RedisServer]:
    """A running redis-server of its own (no persistence), stopped after the test."""
    server = RedisServer()
    server.start()
    try:
        yield server
    finally:
        server.stop()


def relay_of(sim: HydraSimulator, url: str, key: str = "hydra", **options) -> Relay:
    """A relay of the simulator's three streams, keeping every row it parsed."""
    feed = feeds.hydra(sim.url, token=options.pop("token", None) or sim.issue_token())
    return Relay(feed, url, key=key, streams=STREAMS, max_rows=100_000, **FAST, **options)


def rows(df: pd.DataFrame) -> pd.DataFrame:
    """The rows with a fresh index, to compare a slice with a whole."""
    return df.reset_index(drop=True)


async def until_rows(stream, relay: Relay, at_least: int = 0) -> None:
    """Wait until the reader has every event the relay parsed (and at least ``at_least``)."""
    await eventually(
        lambda: (
            relay.connection.stats.events >= at_least
            and len(stream.buffer) == relay.connection.stats.events
        ),
        timeout=15,
    )


async def test_reader_from_begin_backfills_then_follows_with_the_relays_own_rows(redis_server):
    """start="begin" joins late: backfill in pages of 64, then live; same rows and dtypes as
    the relay's own (direct) connection, parsed by the Hydra dialect."""
    async with HydraSimulator(rate=300, seed=7) as sim, relay_of(sim, redis_server.url) as relay:
        await eventually(lambda: relay.connection.stats.events >= 300, timeout=15)
        reader = feeds.redis(redis_server.url, "hydra", start="begin", page=64)
        assert reader.name == "redis:hydra" and not reader.supports_subscribe
        async with streamwidgets.open(reader, max_rows=100_000) as stream:
            await until_rows(stream, relay, at_least=600)
            await relay.close()
            await asyncio.sleep(0.2)
        live = relay.connection.buffer.to_dataframe()
    assert len(live) >= 600 and set(live["stream"]) == set(STREAMS)
    pd.testing.assert_frame_equal(stream.df, live)
    assert stream.stats.parse_errors == 0 and stream.connection.stats.reconnects == 0
    assert any("the relay stopped" in n.message for n in stream.connection.notices)


async def test_two_readers_at_once_now_and_begin(redis_server):
    """Two readers on one stream at once: "begin" gets every row, "now" the rows from its
    connect on; each is the relay's rows, the one a tail of the other."""
    async with (
        HydraSimulator(rate=300, seed=8) as sim,
        relay_of(sim, redis_server.url, key="two") as relay,
    ):
        await eventually(lambda: relay.connection.stats.events >= 100, timeout=15)
        late = streamwidgets.open(feeds.redis(redis_server.url, "two"), max_rows=100_000)
        early = streamwidgets.open(
            feeds.redis(redis_server.url, "two", start="begin"), max_rows=100_000
        )
        async with late, early:
            await until_rows(early, relay, at_least=400)
            await relay.close()
            await eventually(lambda: len(late.buffer) and late.stats.events >= 200)
            await asyncio.sleep(0.3)
        live = relay.connection.buffer.to_dataframe()
    pd.testing.assert_frame_equal(early.df, live)
    tail = late.df
    assert 0 < len(tail) < len(live)
    # Its own buffer: its own row numbers, and columns in the order it first saw them.
    columns = [c for c in tail.columns if c != "seq"]
    expected = rows(live.iloc[-len(tail) :])[columns]
    pd.testing.assert_frame_equal(rows(tail)[columns], expected, check_dtype=False)


async def test_start_at_a_time_reads_the_rows_received_from_then(redis_server):
    """start=datetime: the first row is the first received at or after it."""
    async with (
        HydraSimulator(rate=200, seed=9) as sim,
        relay_of(sim, redis_server.url, key="when") as relay,
    ):
        await eventually(lambda: relay.connection.stats.events >= 200, timeout=15)
        await relay.close()
    live = relay.connection.buffer.to_dataframe()
    cut = live["received_at"].iloc[120]
    reader = feeds.redis(redis_server.url, "when", start=cut.floor("us").to_pydatetime())
    async with streamwidgets.open(reader, max_rows=100_000) as stream:
        await eventually(lambda: len(stream.buffer) >= len(live) - 120)
    expected = live[live["received_at"] >= cut.floor("ms")]
    back = stream.df
    columns = [c for c in back.columns if c != "seq"]  # its own buffer's row numbers
    pd.testing.assert_frame_equal(rows(back)[columns], rows(expected)[columns], check_dtype=False)


async def test_redis_restarted_mid_stream_reader_and_relay_go_on_without_duplicates(
    redis_server,
):
    """redis-server killed and started again on its port: the relay waits it out (its queue
    holds the frames), the reader reconnects with backoff and continues after its last
    entry id: no row twice, and none lost but what Redis itself lost in the crash."""
    async with (
        HydraSimulator(rate=200, seed=10) as sim,
        relay_of(sim, redis_server.url, key="crash") as relay,
    ):
        await eventually(lambda: relay.sink.state == "connected")
        reader = feeds.redis(redis_server.url, "crash", start="begin")
        async with streamwidgets.open(reader, max_rows=100_000, **FAST) as stream:
            await until_rows(stream, relay, at_least=150)
            killed_at = pd.Timestamp.now(tz="UTC")
            redis_server.kill()
            await eventually(lambda: stream.state.value == "reconnecting", timeout=5)
            await eventually(lambda: relay.sink.state == "reconnecting", timeout=5)
            assert "Redis unreachable" in stream.connection.reason
            before = relay.connection.stats.events
            await asyncio.sleep(0.8)
            redis_server.start()
            await eventually(lambda: stream.state.value == "connected", timeout=10)
            await until_rows(stream, relay, at_least=before + 200)
            await relay.close()
            await asyncio.sleep(0.2)
        live = relay.connection.buffer.to_dataframe()
    back = stream.df
    assert not back["data.seq"].duplicated().any()
    assert set(back["data.seq"]) <= set(live["data.seq"])
    missing = live[~live["data.seq"].isin(back["data.seq"])]
    # Only entries Redis acknowledged just before it died, before the reader read them.
    assert len(missing) <= 5 and (missing["received_at"] > killed_at - pd.Timedelta("1s")).all()
    assert (back["received_at"] > killed_at).sum() > 150  # it went on after the restart
    assert relay.sink.outages == 1 and relay.summary().lost == 0
    assert stream.connection.stats.reconnects == 1
    states = [c.reason for c in stream.connection.history if c.state.value == "reconnecting"]
    assert states and all("Redis unreachable" in r for r in states)


async def test_upstream_dropped_the_relay_reconnects_and_readers_see_it(redis_server):
    """The feed drops the relay's connection: it reconnects and resubscribes; the reader's
    rows are still the relay's, with a notice where the relayed feed was reconnecting."""
    async with (
        HydraSimulator(rate=300, seed=11) as sim,
        relay_of(sim, redis_server.url, key="drop") as relay,
    ):
        await eventually(lambda: relay.sink.state == "connected")
        reader = feeds.redis(redis_server.url, "drop", start="begin")
        async with streamwidgets.open(reader, max_rows=100_000) as stream:
            await until_rows(stream, relay, at_least=100)
            sim.drop_after(20)
            await eventually(lambda: relay.connection.stats.reconnects == 1, timeout=10)
            before = relay.connection.stats.events
            await until_rows(stream, relay, at_least=before + 100)
            await relay.close()
            await asyncio.sleep(0.2)
        live = relay.connection.buffer.to_dataframe()
    assert sim.connections_total == 2
    pd.testing.assert_frame_equal(stream.df, live)
    assert stream.connection.state.value == "closed" and stream.connection.stats.reconnects == 0
    said = [n.message for n in stream.connection.notices]
    assert any(m.startswith("the relayed feed is reconnecting: ") for m in said)


async def test_relay_waits_for_redis_and_counts_what_its_bounded_queue_dropped():
    """Redis not up yet, the relay keeps at most 40 frames waiting: the rest are dropped and
    counted; once Redis starts the stream opens with a lost marker, which readers show."""
    server = RedisServer()
    async with (
        HydraSimulator(rate=300, seed=12) as sim,
        relay_of(sim, server.url, key="late", max_pending=40) as relay,
    ):
        await eventually(lambda: relay.connection.stats.events >= 150, timeout=10)
        assert relay.running and relay.sink.state == "reconnecting"
        assert "Redis unreachable" in relay.sink.reason
        server.start()
        try:
            await eventually(lambda: relay.sink.state == "connected", timeout=15)
            reader = feeds.redis(server.url, "late", start="begin")
            async with streamwidgets.open(reader, max_rows=100_000) as stream:
                await eventually(lambda: stream.stats.events >= 100, timeout=10)
            await relay.close()
        finally:
            lost = relay.summary().lost
            entries = redis.Redis(port=server.port).xrange("late", count=50)
            server.stop()
    assert lost >= 50
    markers = [orjson.loads(fields[b"r"]).get("marker") for _, fields in entries]
    assert "lost" in markers
    assert any("the relay dropped frames here" in n.message for n in stream.connection.notices)


async def test_no_credential_reaches_redis(redis_server):
    """The JWT, echoed by the server and in sent frames (relayed with include_sent), is in no
    entry and not in the header: every key and every entry scanned."""
    async with HydraSimulator(rate=200, seed=13) as sim:
        token = sim.issue_token()
        async with relay_of(
            sim, redis_server.url, key="secret", token=token, include_sent=True
        ) as relay:
            await eventually(lambda: relay.connection.state.value == "connected")
            # The server lists refused stream names in its reply: the token comes back.
            frame = f'{{"action":"subscribe","streams":["markets","{token}"]}}'
            await relay.connection.send(Outgoing(frame))
            await eventually(lambda: relay.connection.stats.events >= 100)
    client = redis.Redis(port=redis_server.port)
    everything = b""
    for key in client.keys("*"):
        if client.type(key) == b"stream":
            for _, fields in client.xrange(key):
                everything += b"".join(fields.values())
        else:
            everything += client.get(key)
    assert b'"dir":"out"' in everything and b"***" in everything and b"subscribe" in everything
    assert token.encode() not in everything
    for part in token.split("."):
        assert part.encode() not in everything


def test_relay_command_progress_then_a_stream_the_reader_reads(tmp_path, redis_server):
    """`streamwidgets relay hydra --for 2s` in a subprocess: progress lines like record's, a
    summary, and a stream that feeds.redis reads from the beginning."""
    with serving(
        *("sim", "hydra", "--port", "0", "--rate", "200", "--secret", "cli-secret"),
        ready=tmp_path / "port",
    ) as port:
        token = issue_token("cli-secret", address="0xcli", streams=ALL_STREAMS)
        result = subprocess.run(
            [
                *(sys.executable, "-m", "streamwidgets", "relay", "hydra"),
                *("--url", f"ws://127.0.0.1:{port}/stream", "--streams", "signals,markets"),
                *("--to", redis_server.url, "--key", "cli", "--max-len", "100000"),
                *("--for", "2s"),
            ],
            env={**os.environ, "HYDRA_TOKEN": token},
            capture_output=True,
            text=True,
            timeout=seconds(30),
        )
    assert result.returncode == 0, result.stderr
    progress = [line for line in result.stderr.splitlines() if "ev/s" in line]
    assert progress and " events " in progress[-1] and " MB " in progress[-1]
    assert any(line.endswith("[connected]  redis connected") for line in progress)
    assert f"relayed to {redis_server.url} key cli: " in result.stdout
    assert "max_duration reached (2 s)" in result.stdout
    assert token not in result.stdout + result.stderr

    async def read() -> pd.DataFrame:
        reader = feeds.redis(redis_server.url, "cli", start="begin")
        async with streamwidgets.open(reader) as stream:
            await eventually(
                lambda: any("relay stopped" in n.message for n in stream.connection.notices)
            )
        return stream.df

    back = asyncio.run(read())
    assert len(back) > 150 and set(back["stream"]) == {"signals", "markets"}
    assert not back["data.seq"].duplicated().any()


@pytest.mark.parametrize(
    ("args", "said"),
    [
        (["--keep", "1h", "--max-len", "5"], "not allowed with argument"),
        (["--max-len=-5"], "a number of entries >= 1"),
        (["--keep=-1h"], "a duration like"),
        (["--to", "http://127.0.0.1:6379"], "url: it starts with redis:// or rediss://"),
        (["--to", "redis://127.0.0.1:6379/x"], "the path is the database number"),
        (["--key", "has space"], "key must be 1-512 characters"),
    ],
)
def test_relay_command_refuses_bad_arguments_clearly(args, said):
    """Both bounds, negative numbers, a URL that is not Redis, a bad key: an error saying so."""
    base = ["relay", "hydra", "--url", "ws://127.0.0.1:9/stream", "--to", "redis://127.0.0.1:9/0"]
    result = subprocess.run(
        [sys.executable, "-m", "streamwidgets", *base, *args],
        env={**os.environ, "HYDRA_TOKEN": "t"},
        capture_output=True,
        text=True,
        timeout=seconds(30),
    )
    assert result.returncode != 0 and said in result.stderr, result.stderr


def test_bad_arguments_are_configuration_errors_before_anything_starts(redis_server):
    """The API checks every argument at once, naming it; a key no relay wrote is explained."""
    feed = feeds.hydra("ws://127.0.0.1:9/stream", token="t")
    url = redis_server.url
    for options, said in [
        ({"keep": 60, "max_len": 10}, "keep and max_len both given"),
        ({"max_len": -1}, "max_len must be >= 1"),
        ({"keep": float("nan")}, "keep must be a number > 0"),
        ({"max_pending": 0}, "max_pending must be >= 1"),
        ({"key": ""}, "key must be 1-512 characters"),
    ]:
        with pytest.raises(ConfigurationError, match=said):
            Relay(feed, url, **options)
    with pytest.raises(ConfigurationError, match="holds a user name or password"):
        Relay(feed, "redis://:hunter2@127.0.0.1:6379/0")
    with pytest.raises(ConfigurationError, match="start must be timezone-aware"):
        feeds.redis(url, "k", start=datetime.datetime(2024, 1, 1))
    with pytest.raises(ConfigurationError, match="start must be 'now', 'begin'"):
        feeds.redis(url, "k", start=-1)
    with pytest.raises(ConfigurationError, match=r"no relay has written to .* key nothing"):
        feeds.redis(url, "nothing")
    with pytest.raises(ConnectionFailed, match="Redis unreachable"):
        feeds.redis(f"redis://127.0.0.1:{free_port()}/0", "k")


async def test_reader_made_with_a_dialect_waits_for_redis_with_backoff():
    """feeds.redis(..., dialect=) needs no Redis to be made; while Redis is down its
    connection is reconnecting with the reason, and it connects once Redis is up."""
    server = RedisServer()
    reader = feeds.redis(server.url, "k", dialect=feeds.hydra("ws://127.0.0.1:9/s", token="t"))
    stream = streamwidgets.open(reader, **FAST)
    stream.connection.start()
    try:
        await eventually(lambda: stream.state.value == "reconnecting")
        assert stream.connection.reason.startswith(f"Redis unreachable at {server.url}")
        server.start()
        await eventually(lambda: stream.state.value == "connected", timeout=10)
    finally:
        await stream.close()
        server.stop()


async def test_a_widget_on_the_stream_says_its_toggles_filter_here(redis_server, recorded):
    """StreamWidget(feeds.redis(...)): no subscribe step, the relay's streams as toggles and
    the words saying the relay chose them; rows arrive as from the live feed."""
    from streamwidgets import StreamWidget
    from streamwidgets.relay.feed import STREAMS_NOTE

    async with HydraSimulator(rate=200, seed=14) as sim, relay_of(sim, redis_server.url) as relay:
        await eventually(lambda: relay.sink.state == "connected")
        w = StreamWidget(feeds.redis(redis_server.url, "hydra", start="begin"))
        recorded.append(w)
        assert w.feed["streams_note"] == STREAMS_NOTE and w.subscribe_supported is False
        assert w.feed["url"] == f"{redis_server.url} key hydra"
        await eventually(lambda: w.state == "connected" and len(w.buffer) >= 50)
        assert set(w.available_streams) == set(STREAMS)
        w.close()


async def test_a_reader_coming_back_after_trimmed_entries_is_told(redis_server):
    """Trimming (MAXLEN ~) went past a returning reader's last entry: the bridge says so with
    a trimmed marker under that id, which the reader shows as an error notice."""
    from websockets.asyncio.client import connect

    from streamwidgets.relay.bridge import RedisBridge
    from streamwidgets.relay.target import redis_target

    target = redis_target(redis_server.url, "trim")
    client = redis.Redis(port=redis_server.port)
    for n in range(1, 1001):
        line = orjson.dumps({"t_ns": n * 1_000_000, "dir": "in", "text": "{}"})
        client.xadd("trim", {b"r": line}, id=f"{n}-0", maxlen=100, approximate=True)
    assert client.xlen("trim") < 1000
    aio = target.async_client("test")
    bridge = RedisBridge(aio, target, page=10)
    await bridge.start()
    try:
        async with connect(f"{bridge.url}?after=5-0&resume=1") as ws:
            first = await ws.recv()
        async with connect(f"{bridge.url}?after=5-0") as ws:
            plain = await ws.recv()
    finally:
        await bridge.stop()
        await aio.aclose()
    entry_id, _, line = first.partition(b"\n")
    assert entry_id == b"5-0" and orjson.loads(line)["marker"] == "trimmed"
    reader = feeds.redis(redis_server.url, "trim", dialect=feeds.hydra("ws://h:1/s", token="t"))
    notices = reader.for_connection().parse(first, 0)
    assert notices[0].is_error and "may be missing: the stream was trimmed" in notices[0].message
    assert orjson.loads(plain.partition(b"\n")[2])["dir"] == "in"  # a first connect: no check


async def test_a_wrong_redis_password_ends_the_relay_and_the_reader_says_why():
    """Redis refusing the password is no outage: the relay stops saying so, a reader fails
    at once (AuthenticationFailed), and the password is in no message."""
    server = RedisServer(options=("--requirepass", "right-password"))
    server.start()
    try:
        async with HydraSimulator(rate=100, seed=15) as sim:
            relay = relay_of(sim, server.url, key="pw", password="wrong-password")
            async with relay:
                summary = await relay.wait(timeout=seconds(10))
        assert summary.stopped is not None and "Redis refused the relay" in summary.stopped
        assert relay.sink.state == "failed" and "wrong-password" not in repr(summary)
        with pytest.raises(streamwidgets.AuthenticationFailed, match="Redis refused the reader"):
            feeds.redis(server.url, "pw", password="wrong-password")
    finally:
        server.stop()
