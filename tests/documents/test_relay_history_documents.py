"""Black-box checks of the relay (Redis Streams) and the history store (partitioned Parquet).

Written only from README.md ("Beyond one notebook", "History beyond memory", "What each value
becomes", "Simulators"), the public docstrings (``help()``), the CLI ``--help`` and Redis's own
documentation (XADD MAXLEN/MINID ``~``, XREAD, entry ids). Real parts only: a private
``redis-server`` per test, the package's Hydra simulator, and small ``websockets`` servers.
"""

from __future__ import annotations

import asyncio
import base64
import datetime as dt
import json
import os
import sys
import time
from pathlib import Path
from urllib.parse import quote

import duckdb
import pandas as pd
import pyarrow.parquet as pq
import pytest
import redis
import websockets

import streamwidgets
from streamwidgets import ConfigurationError, Event, EventBuffer, feeds
from streamwidgets.connection.backoff import Backoff
from streamwidgets.recording.history import HistoryWriter, history
from streamwidgets.relay.relay import Relay
from streamwidgets.simulators.hydra import HydraSimulator
from tests.support.redis_server import RedisServer
from tests.support.waiting import eventually

FIXED = ["seq", "received_at", "event_time", "stream", "type", "snapshot"]
FAST = {"backoff": Backoff(initial=0.05, maximum=0.3)}

pytestmark = pytest.mark.timeout(40)


# --------------------------------------------------------------------------- helpers


@pytest.fixture
def rds():
    server = RedisServer()
    server.start()
    yield server
    server.stop()


@pytest.fixture
async def sim():
    async with HydraSimulator(rate=200) as s:
        yield s


def hydra_feed(sim: HydraSimulator):
    return feeds.hydra(sim.url, token=sim.issue_token())


async def header_written(server: RedisServer, key: str, timeout: float = 5.0) -> None:
    """Relay.start "returns at once"; the header is written "once Redis answers"."""
    await eventually(lambda: server.client().exists(f"{key}:header"), timeout, what="the header")


def relay_df(relay: Relay) -> pd.DataFrame:
    return relay.connection.buffer.to_dataframe().reset_index(drop=True)


def norm(df: pd.DataFrame) -> pd.DataFrame:
    return df.reset_index(drop=True)


def all_redis_bytes(client: redis.Redis) -> list[bytes]:
    """Every key name, and every value of every key (strings, streams, hashes, lists, sets)."""
    out: list[bytes] = []
    for key in client.scan_iter(count=1000):
        out.append(key)
        kind = client.type(key)
        if kind == b"string":
            out.append(client.get(key))
        elif kind == b"stream":
            for entry_id, fields in client.xrange(key):
                out.append(entry_id)
                for f, v in fields.items():
                    out += [f, v]
        elif kind == b"hash":
            for f, v in client.hgetall(key).items():
                out += [f, v]
        elif kind == b"list":
            out += client.lrange(key, 0, -1)
        elif kind in (b"set", b"zset"):
            out += [
                m if isinstance(m, bytes) else m[0]
                for m in (client.smembers(key) if kind == b"set" else client.zrange(key, 0, -1))
            ]
    return out


async def run_cli(*args: str, env: dict | None = None, timeout: float = 10.0):
    full_env = dict(os.environ)
    full_env.pop("REDIS_PASSWORD", None)
    full_env.update(env or {})
    proc = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "streamwidgets",
        *args,
        env=full_env,
        cwd="/tmp",
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
    )
    try:
        out, err = await asyncio.wait_for(proc.communicate(), timeout)
    except TimeoutError:
        proc.kill()
        out, err = await proc.communicate()
        return None, out.decode(errors="replace"), err.decode(errors="replace")
    return proc.returncode, out.decode(errors="replace"), err.decode(errors="replace")


class FrameServer:
    """A small Hydra-speaking websockets server that sends given frames (and remembers paths)."""

    def __init__(
        self, frames, *, welcome: dict | None = None, gap: float = 0.002, repeat: bool = False
    ) -> None:
        self.frames = list(frames)
        self.welcome = welcome or {
            "type": "connected",
            "ts": int(time.time() * 1000),
            "data": {"sessionId": "s-1", "availableStreams": []},
        }
        self.gap = gap
        self.repeat = repeat
        self.paths: list[str] = []
        self.sent = 0

    async def handler(self, ws) -> None:
        self.paths.append(ws.request.path)
        await ws.send(json.dumps(self.welcome))
        while True:
            for frame in self.frames:
                await ws.send(frame if isinstance(frame, str) else json.dumps(frame))
                self.sent += 1
                await asyncio.sleep(self.gap)
            if not self.repeat:
                break
        await ws.wait_closed()

    async def __aenter__(self):
        self.server = await websockets.serve(self.handler, "127.0.0.1", 0)
        self.port = self.server.sockets[0].getsockname()[1]
        self.url = f"ws://127.0.0.1:{self.port}/stream"
        return self

    async def __aexit__(self, *exc):
        self.server.close()
        await self.server.wait_closed()


# =========================================================================== the relay


async def test_begin_reader_rows_equal_the_relay_connections_rows(rds, sim):
    """README: "A reader parses with the relayed feed's own dialect ... at the recorded receive
    times: the same rows as the live connection." start="begin" is "the oldest entry the stream
    keeps"; the relay's own connection buffer (max_rows) is the live connection."""
    async with Relay(
        hydra_feed(sim), rds.url, key="k", streams=["markets", "signals"], max_rows=100_000
    ) as relay:
        await asyncio.sleep(1.2)
        async with streamwidgets.open(feeds.redis(rds.url, "k", start="begin")) as reader:
            await asyncio.sleep(0.3)
            await relay.close()
            live = relay_df(relay)
            assert len(live) > 100
            await eventually(lambda: len(reader.df) >= len(live), 5, what="reader catching up")
            await asyncio.sleep(0.2)
            got = norm(reader.df)
    pd.testing.assert_frame_equal(got, live)
    assert list(got.dtypes) == list(live.dtypes)


async def test_reader_started_before_the_relay_gets_every_row(rds, sim):
    """feeds.redis docstring: "dialect: parse with this dialect instead of the one the relay's
    header names (then the header is not read, and Redis need not be up yet)"; start="now" is
    "entries added from the first connect on" -- so a reader that was there first misses nothing."""
    reader_feed = feeds.redis(
        rds.url, "early", start="now", dialect=feeds.hydra(sim.url, token="not-used-for-parsing")
    )
    async with streamwidgets.open(reader_feed) as reader:
        await asyncio.sleep(0.3)
        async with Relay(
            hydra_feed(sim), rds.url, key="early", streams=["markets"], max_rows=100_000
        ) as relay:
            await asyncio.sleep(1.0)
        live = relay_df(relay)
        await eventually(lambda: len(reader.df) >= len(live), 5, what="reader catching up")
        got = norm(reader.df)
    assert len(live) > 50
    pd.testing.assert_frame_equal(got, live)


async def test_reader_without_a_header_is_a_configuration_error(rds, sim):
    """feeds.redis docstring: "Raises: ConfigurationError: ... no relay header at KEY:header."
    (a wrong key is the common way to get there)."""
    async with Relay(hydra_feed(sim), rds.url, key="right", streams=["markets"]):
        await asyncio.sleep(0.4)
        with pytest.raises(ConfigurationError):
            async with streamwidgets.open(feeds.redis(rds.url, "wrong", start="begin")):
                pass
        with pytest.raises(ConfigurationError):
            feeds.redis(rds.url, "wrong", start="begin")
        with pytest.raises(ConfigurationError):
            feeds.redis(rds.url, "right:header", start="begin")


async def test_start_now_reads_only_entries_added_after_connecting(rds, sim):
    """feeds.redis docstring: start "now" = "entries added from the first connect on"."""
    async with Relay(
        hydra_feed(sim), rds.url, key="k", streams=["markets"], max_rows=100_000
    ) as relay:
        await asyncio.sleep(1.0)
        before = relay_df(relay)
        opened_at = pd.Timestamp.now(tz="UTC")
        async with streamwidgets.open(feeds.redis(rds.url, "k", start="now")) as reader:
            await asyncio.sleep(0.8)
            await relay.close()
            live = relay_df(relay)
            await eventually(
                lambda: (
                    len(reader.df) > 0
                    and reader.df["data.seq"].iloc[-1] == live["data.seq"].iloc[-1]
                ),
                5,
                what="reader at the end",
            )
            got = norm(reader.df)
    assert 0 < len(got) < len(live)
    # nothing from before the reader connected (allowing the relay's batching latency)
    assert got["received_at"].min() >= opened_at - pd.Timedelta("300ms")
    assert not set(got["data.seq"]) & set(before["data.seq"].iloc[:-40])
    # and, from its first row on, exactly the live rows (no gap, nothing twice)
    tail = live[live["received_at"] >= got["received_at"].iloc[0]].reset_index(drop=True)
    pd.testing.assert_frame_equal(
        got.drop(columns="seq"), tail.drop(columns="seq"), check_like=True
    )


async def test_start_datetime_in_the_middle_selects_rows_received_from_then(rds, sim):
    """feeds.redis docstring: start "a timezone-aware datetime (entries received from then)";
    README: the header keeps the replay options "so a reader starting anywhere parses as the
    live feed did"."""
    async with Relay(
        hydra_feed(sim), rds.url, key="k", streams=["markets", "signals"], max_rows=100_000
    ) as relay:
        await asyncio.sleep(1.5)
        await relay.close()
    live = relay_df(relay)
    times = live["received_at"]
    # a cut between two rows that lie in different milliseconds, around the middle
    for i in range(len(live) // 2, len(live) - 1):
        a, b = times.iloc[i], times.iloc[i + 1]
        if b.floor("ms") > a.floor("ms") and (b - a) > pd.Timedelta("1ms"):
            break
    cut = (a + (b - a) / 2).floor("us").to_pydatetime()  # µs resolution, tz-aware UTC
    assert cut.tzinfo is not None
    expected = live[times >= pd.Timestamp(cut)].reset_index(drop=True)
    async with streamwidgets.open(feeds.redis(rds.url, "k", start=cut)) as reader:
        await eventually(lambda: len(reader.df) >= len(expected), 5, what="backfill")
        await asyncio.sleep(0.2)
        got = norm(reader.df)
    assert got["received_at"].min() >= pd.Timestamp(cut)
    # columns come in order of first appearance, which depends on where reading began
    pd.testing.assert_frame_equal(
        got.drop(columns="seq"), expected.drop(columns="seq"), check_like=True
    )


async def test_three_readers_at_once_get_the_same_rows(rds, sim):
    """README: "any number of notebooks (and scripts) read that stream as if it were the feed";
    docstring: "Any number of readers at once"."""
    async with Relay(
        hydra_feed(sim), rds.url, key="k", streams=["markets", "signals"], max_rows=100_000
    ) as relay:
        await asyncio.sleep(0.3)
        feeds_ = [feeds.redis(rds.url, "k", start="begin", page=p) for p in (1, 7, 1000)]
        async with (
            streamwidgets.open(feeds_[0]) as r1,
            streamwidgets.open(feeds_[1]) as r2,
            streamwidgets.open(feeds_[2]) as r3,
        ):
            await asyncio.sleep(1.0)
            await relay.close()
            live = relay_df(relay)
            await eventually(
                lambda: min(len(r.df) for r in (r1, r2, r3)) >= len(live), 6, what="three readers"
            )
            dfs = [norm(r.df) for r in (r1, r2, r3)]
    for got in dfs:
        pd.testing.assert_frame_equal(got, live)


async def test_redis_restarted_mid_stream_relay_and_reader_recover_nothing_twice(rds, sim):
    """README: "When Redis is down it retries with backoff while up to 100,000 frames wait";
    "Redis restarted is `reconnecting: Redis unreachable: ...`, then it goes on after the last
    entry id it read, nothing twice." Losses are "dropped, counted, and marked lost"."""
    states: list = []
    async with Relay(
        hydra_feed(sim), rds.url, key="k", streams=["markets"], max_rows=100_000
    ) as relay:
        await asyncio.sleep(0.4)
        async with streamwidgets.open(feeds.redis(rds.url, "k", start="begin"), **FAST) as reader:
            reader.connection.on_state(lambda change: states.append(change))
            await asyncio.sleep(0.6)
            rds.kill()
            await eventually(lambda: reader.state == "reconnecting", 5, what="reader reconnecting")
            assert "Redis unreachable" in reader.connection.reason
            await asyncio.sleep(0.8)
            rds.start()
            await eventually(lambda: reader.state == "connected", 8, what="reader back")
            await eventually(
                lambda: relay.summary().redis.startswith("connected"), 8, what="relay back"
            )
            await asyncio.sleep(0.8)
            await relay.close()
            live = relay_df(relay)
            await eventually(
                lambda: (
                    len(reader.df) and reader.df["data.seq"].iloc[-1] == live["data.seq"].iloc[-1]
                ),
                6,
                what="reader at the end",
            )
            got = norm(reader.df)
            notices = list(reader.connection.notices)
    summary = relay.summary()
    assert summary.lost == 0  # far below max_pending
    assert not got["data.seq"].duplicated().any(), "a row twice after the restart"
    assert set(got["data.seq"]) <= set(live["data.seq"])
    missing = sorted(set(live["data.seq"]) - set(got["data.seq"]))
    # entries Redis held but the reader had not read yet are gone with a non-persistent Redis;
    # whatever is missing must at least not be silent
    assert not missing or notices, f"{len(missing)} rows missing without any notice: {missing[:10]}"


async def test_frames_beyond_max_pending_are_counted_marked_and_noticed(rds, sim):
    """README: "up to 100,000 frames (max_pending) wait; more are dropped, counted, and marked
    `lost` in the stream"; "the relay's losses ... come as notices"."""
    async with Relay(
        hydra_feed(sim),
        rds.url,
        key="k",
        streams=["markets", "signals"],
        max_pending=20,
        max_rows=100_000,
    ) as relay:
        await header_written(rds, "k")
        async with streamwidgets.open(feeds.redis(rds.url, "k", start="begin"), **FAST) as reader:
            await asyncio.sleep(0.5)
            rds.kill()
            await asyncio.sleep(1.0)
            rds.start()
            await eventually(
                lambda: relay.summary().redis.startswith("connected"), 8, what="relay back"
            )
            # A restarted Redis may first bring the reader a "trimmed past" notice; the loss
            # notice follows it.
            await eventually(
                lambda: any(
                    "lost" in n.message or "dropped" in n.message for n in reader.connection.notices
                ),
                5,
                what="a notice of the lost frames",
            )
            notices = list(reader.connection.notices)
            lost = relay.summary().lost
    assert lost > 0
    assert any("lost" in n.message or "dropped" in n.message for n in notices), notices
    markers = [json.loads(f[b"r"]) for _, f in rds.client().xrange("k")]
    lost_markers = [m for m in markers if m.get("marker") == "lost"]
    assert lost_markers and sum(m.get("count", 0) for m in lost_markers) == lost


async def test_flushall_under_a_running_reader(rds, sim):
    """README: the reader "goes on after the last entry id it read, nothing twice"; Redis's
    XREAD on a key that no longer exists simply waits, and XADD re-creates the key."""
    async with Relay(
        hydra_feed(sim), rds.url, key="k", streams=["markets"], max_rows=100_000
    ) as relay:
        await header_written(rds, "k")
        async with streamwidgets.open(feeds.redis(rds.url, "k", start="begin"), **FAST) as reader:
            await asyncio.sleep(0.6)
            rds.client().flushall()
            at_flush = int(relay_df(relay)["data.seq"].iloc[-1])
            await eventually(
                lambda: len(reader.df) and int(reader.df["data.seq"].iloc[-1]) > at_flush + 50,
                5,
                what="rows after FLUSHALL",
            )
            got = norm(reader.df)
            assert reader.state == "connected"
    assert not got["data.seq"].duplicated().any()


async def test_a_new_reader_after_flushall_finds_the_running_relays_header(rds, sim):
    """README: "the header at `KEY:header`"; "any number of notebooks (and scripts) read that
    stream". relay_sink docstring: the header is written "once Redis answers". A relay still
    running after FLUSHALL keeps adding to KEY, so a reader opened then should be able to read."""
    async with Relay(hydra_feed(sim), rds.url, key="k", streams=["markets"]):
        await asyncio.sleep(0.5)
        rds.client().flushall()
        await asyncio.sleep(1.0)
        assert rds.client().exists("k")
        async with streamwidgets.open(feeds.redis(rds.url, "k", start="begin")) as reader:
            await eventually(lambda: len(reader.df) > 0, 3, what="rows")


async def test_stream_key_deleted_under_a_running_reader(rds, sim):
    """README: a reader "follows live (XREAD BLOCK)" and goes on "after the last entry id it
    read, nothing twice"; DEL of the stream key must not stop it."""
    async with Relay(
        hydra_feed(sim), rds.url, key="k", streams=["markets"], max_rows=100_000
    ) as relay:
        await header_written(rds, "k")
        async with streamwidgets.open(feeds.redis(rds.url, "k", start="begin"), **FAST) as reader:
            await asyncio.sleep(0.6)
            rds.client().delete("k")
            at_delete = int(relay_df(relay)["data.seq"].iloc[-1])
            await eventually(
                lambda: len(reader.df) and int(reader.df["data.seq"].iloc[-1]) > at_delete + 50,
                5,
                what="rows after DEL",
            )
            got = norm(reader.df)
    assert not got["data.seq"].duplicated().any()


async def test_a_second_relay_session_on_the_same_key_follows_in_one_reader(rds, sim):
    """README: "the relayed feed's reconnects, the relay's losses and its stop come as notices";
    relay_sink docstring: the header keeps "the replay options in force from each entry id on",
    entry ids are receive times "made strictly increasing". A relay stopped and started again on
    the same key: one reader gets both sessions' rows, in order, nothing twice."""
    async with Relay(
        hydra_feed(sim), rds.url, key="k", streams=["markets"], max_rows=100_000
    ) as first:
        await header_written(rds, "k")
        async with streamwidgets.open(feeds.redis(rds.url, "k", start="begin")) as reader:
            await asyncio.sleep(0.6)
            await first.close()
            async with Relay(
                hydra_feed(sim), rds.url, key="k", streams=["markets"], max_rows=100_000
            ) as second:
                await asyncio.sleep(0.6)
            both = pd.concat([relay_df(first), relay_df(second)], ignore_index=True)
            await eventually(lambda: len(reader.df) >= len(both), 5, what="both sessions")
            await asyncio.sleep(0.2)
            got = norm(reader.df)
            messages = [n.message for n in reader.connection.notices]
    assert len(relay_df(first)) > 20 and len(relay_df(second)) > 20
    pd.testing.assert_frame_equal(
        got.drop(columns="seq"), both.drop(columns="seq"), check_like=True
    )
    assert got["seq"].is_unique
    assert messages, "the first relay's stop was not a notice"


async def test_reader_streams_filter_on_the_client(rds, sim):
    """README: "The relay chose the subscriptions: a reader's streams ... filter on the client"."""
    async with Relay(
        hydra_feed(sim), rds.url, key="k", streams=["markets", "signals"], max_rows=100_000
    ) as relay:
        await asyncio.sleep(1.0)
        await relay.close()
    live = relay_df(relay)
    want = live[live["stream"] == "markets"].reset_index(drop=True)
    await header_written(rds, "k")
    async with streamwidgets.open(
        feeds.redis(rds.url, "k", start="begin"), streams=["markets"]
    ) as reader:
        await eventually(lambda: len(reader.df) >= len(want), 5)
        await asyncio.sleep(0.2)
        got = norm(reader.df)
    assert set(got["stream"]) == {"markets"}
    # columns only other streams fill never appear in a filtered buffer
    assert not want.drop(columns=list(got.columns)).notna().any().any()
    pd.testing.assert_frame_equal(
        got.drop(columns="seq"), want[list(got.columns)].drop(columns="seq")
    )


async def test_password_in_the_url_is_refused_and_masked(rds):
    """README: "A Redis password comes from `REDIS_PASSWORD` (`password=`), never from the URL";
    "No token, key or secret URL is ever in ... an exception"."""
    for url in (
        f"redis://:hunter2secret@127.0.0.1:{rds.port}/0",
        f"redis://bob:hunter2secret@127.0.0.1:{rds.port}/0",
        f"rediss://:hunter2secret@127.0.0.1:{rds.port}/0",
    ):
        for make in (
            lambda u: Relay(feeds.hydra(token="t"), u, key="k"),
            lambda u: feeds.redis(u, "k", start="begin"),
        ):
            with pytest.raises(ConfigurationError) as info:
                make(url)
            assert "hunter2secret" not in str(info.value) and "hunter2secret" not in repr(
                info.value
            )
    code, out, err = await run_cli(
        "relay",
        "hydra",
        "--url",
        "ws://127.0.0.1:9/stream",
        "--to",
        f"redis://:hunter2secret@127.0.0.1:{rds.port}/0",
        env={"HYDRA_TOKEN": "tok"},
        timeout=8,
    )
    assert code not in (None, 0), (code, out, err)
    assert "Traceback" not in err
    assert "hunter2secret" not in out + err


async def test_redis_password_from_password_and_env_and_never_stored(sim):
    """README: "A Redis password comes from `REDIS_PASSWORD` (`password=`)"; masked."""
    server = RedisServer(options=("--requirepass", "s3cr3t-pw-XYZ"))
    server.start()
    try:
        async with Relay(
            hydra_feed(sim),
            server.url,
            key="k",
            streams=["markets"],
            password="s3cr3t-pw-XYZ",
            max_rows=100_000,
        ) as relay:
            await header_written(server, "k")
            async with streamwidgets.open(
                feeds.redis(server.url, "k", start="begin", password="s3cr3t-pw-XYZ")
            ) as reader:
                await eventually(lambda: len(reader.df) > 20, 5)
                assert "s3cr3t-pw-XYZ" not in repr(relay) + repr(reader.connection)
        code, out, err = await run_cli(
            "relay",
            "hydra",
            "--url",
            sim.url,
            "--to",
            server.url,
            "--key",
            "cli",
            "--streams",
            "markets",
            "--for",
            "1s",
            env={"HYDRA_TOKEN": sim.issue_token(), "REDIS_PASSWORD": "s3cr3t-pw-XYZ"},
            timeout=15,
        )
        assert code == 0, (code, out, err)
        assert server.client().xlen("cli") > 0
        blob = b"\n".join(all_redis_bytes(server.client()))
        assert b"s3cr3t-pw-XYZ" not in blob
        assert "s3cr3t-pw-XYZ" not in out + err
    finally:
        server.stop()


async def test_wrong_redis_password_is_a_refusal_that_stops_the_relay(sim):
    """README: "Only a refusal (the feed's, or Redis's password) stops it, with exit code 1."
    Relay.wait docstring: "Wait until the relay stops: ... or a refusal (the feed's or Redis's)"."""
    server = RedisServer(options=("--requirepass", "right-pw"))
    server.start()
    try:
        relay = Relay(hydra_feed(sim), server.url, key="k", password="wrong-pw")
        await relay.start()
        try:
            summary = await relay.wait(timeout=8)
        finally:
            await relay.close()
        assert summary.stopped
        assert "wrong-pw" not in repr(summary)
        code, out, err = await run_cli(
            "relay",
            "hydra",
            "--url",
            sim.url,
            "--to",
            server.url,
            env={"HYDRA_TOKEN": sim.issue_token(), "REDIS_PASSWORD": "wrong-pw"},
            timeout=15,
        )
        assert code == 1, (code, out[-500:], err[-500:])
        assert "Traceback" not in err
        assert "wrong-pw" not in out + err
    finally:
        server.stop()


async def test_key_that_is_not_a_stream_is_a_refusal(rds, sim):
    """relay_sink docstring: "only a refusal (a wrong password, a key that is not a stream) ends
    the relay"; README: a refusal stops it "with exit code 1"."""
    rds.client().set("notastream", "hello")
    relay = Relay(hydra_feed(sim), rds.url, key="notastream")
    await relay.start()
    try:
        summary = await relay.wait(timeout=8)
    finally:
        await relay.close()
    assert summary.stopped
    assert rds.client().get("notastream") == b"hello"
    code, out, err = await run_cli(
        "relay",
        "hydra",
        "--url",
        sim.url,
        "--to",
        rds.url,
        "--key",
        "notastream",
        env={"HYDRA_TOKEN": sim.issue_token()},
        timeout=15,
    )
    assert code == 1, (code, out[-500:], err[-500:])
    assert "Traceback" not in err


TOKEN = (
    "eyJhbGciOiJIUzI1NiIsInR5cCI6IkpXVCJ9.eyJzdWIiOiIweGFiYyIsInNlY3JldCI6InF3ZXJ0eSJ9."
    "Zk9xR2VjcmV0U2lnbmF0dXJlUGFydF8xMjM0NTY3ODkw"
)


TOKEN_FORMS = {
    "raw": TOKEN,
    "url": quote(TOKEN, safe=""),
    "b64": base64.b64encode(TOKEN.encode()).decode(),
    "b64url": base64.urlsafe_b64encode(TOKEN.encode()).decode().rstrip("="),
}


async def relay_echoing_server(rds, forms: dict) -> tuple[bytes, str, list]:
    """Relay (sent frames included) a server that echoes the token in its welcome and events;
    return every byte in Redis, a reader's DataFrame as text, and the paths the server saw."""
    welcome = {
        "type": "connected",
        "ts": int(time.time() * 1000),
        "data": {
            "sessionId": "s",
            "token": TOKEN,
            "echo": f"you sent ?token={TOKEN}",
            "availableStreams": ["markets"],
            **forms,
        },
    }
    frames = [
        {
            "stream": "markets",
            "type": "market_update",
            "ts": int(time.time() * 1000),
            "data": {"i": i, **forms, "nested": {"again": TOKEN}},
        }
        for i in range(30)
    ]
    async with FrameServer(frames, welcome=welcome) as server:
        feed = feeds.hydra(server.url, token=TOKEN)
        async with Relay(feed, rds.url, key="k", include_sent=True) as relay:
            await eventually(lambda: relay.summary().events >= 30, 5)
            await asyncio.sleep(0.3)
        async with streamwidgets.open(feeds.redis(rds.url, "k", start="begin")) as reader:
            await eventually(lambda: len(reader.df) >= 30, 5)
            df_text = reader.df.astype(str).to_csv()
    assert rds.client().exists("k:header")
    return b"\n".join(all_redis_bytes(rds.client())), df_text, server.paths


async def test_upstream_token_never_reaches_redis_raw_or_url_encoded(rds):
    """README: "What goes in is a recording's records: ... credentials masked"; recording
    docstring: "every line is checked against the dialect's secrets (as given and URL-encoded);
    a match becomes ***. Welcome frames that echo a token ... are therefore recorded without
    it." Every key and every entry, header included, is scanned."""
    forms = {k: TOKEN_FORMS[k] for k in ("raw", "url")}
    blob, df_text, paths = await relay_echoing_server(rds, forms)
    assert paths and TOKEN in paths[0]  # the token did go upstream
    for name, form in forms.items():
        assert form.encode() not in blob, f"token ({name}) stored in Redis"
        assert form not in df_text, f"token ({name}) in a reader's DataFrame"


async def test_upstream_token_never_reaches_redis_base64(rds):
    """README, "Secrets stay secret": "whatever a server says back is masked before it is kept
    (raw, URL-encoded, base64, or a piece of one)". A server echoing the token base64-encoded
    must not leave it in the shared Redis stream (readable by every notebook)."""
    forms = {k: TOKEN_FORMS[k] for k in ("b64", "b64url")}
    blob, _df_text, _ = await relay_echoing_server(rds, forms)
    for name, form in forms.items():
        assert form.encode() not in blob, f"token ({name}) stored in Redis"


async def test_max_len_keeps_the_stream_about_n_entries(rds):
    """README / --help: "--max-len N: keep about N entries" (`XADD ... MAXLEN ~`); Redis: "~"
    trims whole macro nodes only (stream-node-max-entries, 100 by default), so the stream stays
    within about N plus one node."""
    async with (
        HydraSimulator(rate=1500) as fast,
        Relay(
            hydra_feed(fast), rds.url, key="k", streams=["markets", "signals"], max_len=100
        ) as relay,
    ):
        lengths = []
        for _ in range(10):
            await asyncio.sleep(0.2)
            lengths.append(rds.client().xlen("k"))
        frames = relay.summary().frames
    assert frames > 800
    assert max(lengths) <= 100 + 2 * 100, lengths
    assert rds.client().xlen("k") >= 100


async def test_keep_trims_entries_older_than_keep(rds):
    """README: "trimmed by `--keep` with `MINID ~`"; Relay docstring: "keep: keep entries received
    in the last keep seconds". Entry ids start with the ms time (Redis), so the oldest id shows
    the age kept (a `~` trim may leave up to one macro node more)."""
    async with (
        HydraSimulator(rate=800) as fast,
        Relay(hydra_feed(fast), rds.url, key="k", streams=["markets", "signals"], keep=1),
    ):
        await asyncio.sleep(3.0)
        first_id = rds.client().xrange("k", count=1)[0][0].decode()
        now_ms = int(time.time() * 1000)
    oldest_ms = int(first_id.split("-")[0])
    assert now_ms - oldest_ms < 1000 + 700, now_ms - oldest_ms
    with pytest.raises(ConfigurationError):
        Relay(feeds.hydra(token="t"), rds.url, keep=60, max_len=10)


async def test_cli_relay_progress_line_max_len_and_a_reader(rds, sim):
    """README: `python3 -m streamwidgets relay hydra --url ... --streams ... --to ... --key hydra`
    prints "A progress line as `record` prints" (events, ev/s, lost, [state], redis ...); the
    relay's header and entries are then read by feeds.redis."""
    code, out, err = await run_cli(
        "relay",
        "hydra",
        "--url",
        sim.url,
        "--streams",
        "signals,markets",
        "--to",
        rds.url,
        "--key",
        "hydra",
        "--max-len",
        "1000",
        "--for",
        "1.5s",
        env={"HYDRA_TOKEN": sim.issue_token()},
        timeout=20,
    )
    assert code == 0, (code, out[-800:], err[-800:])
    text = out + err
    assert "events" in text and "lost" in text, text[-800:]
    assert "Traceback" not in err
    header = json.loads(rds.client().get("hydra:header"))
    assert header["dialect"] == "hydra"
    async with streamwidgets.open(feeds.redis(rds.url, "hydra", start="begin")) as reader:
        await eventually(lambda: len(reader.df) > 100, 5)
        assert set(reader.df["stream"]) <= {"signals", "markets"}


BAD_CLI = {
    "keep-abc": ["--keep", "abc"],
    "keep-zero": ["--keep", "0s"],
    "keep-negative": ["--keep", "-5s"],
    "keep-nan": ["--keep", "nan"],
    "max-len-zero": ["--max-len", "0"],
    "max-len-negative": ["--max-len", "-3"],
    "max-len-text": ["--max-len", "abc"],
    "max-len-huge": ["--max-len", str(10**20)],
    "keep-and-max-len": ["--keep", "1h", "--max-len", "5"],
    "to-http": ["--to", "http://127.0.0.1:6379/0"],
    "to-port-out-of-range": ["--to", "redis://127.0.0.1:99999/0"],
    "to-no-host": ["--to", "redis:///0"],
    "to-db-text": ["--to", "redis://127.0.0.1:6379/abc"],
    "to-db-negative": ["--to", "redis://127.0.0.1:6379/-1"],
    "key-empty": ["--key", ""],
    "for-abc": ["--for", "abc"],
    "for-negative": ["--for", "-1s"],
    "url-not-a-url": ["--url", "not a url"],
    "url-http": ["--url", "http://127.0.0.1:9/stream"],
    "no-token": ["NO_TOKEN"],
    "unknown-feed": ["UNKNOWN_FEED"],
}


async def test_cli_bad_arguments_give_a_clear_error_and_nonzero_exit():
    """README: "Clear errors at once. Every argument is checked before anything connects ... the
    error names the argument, the value and what is allowed"; --help lists the options. A bad
    argument must exit nonzero with a message, not a traceback, and not start relaying."""
    sem = asyncio.Semaphore(4)

    async def one(name, extra):
        base = {"--url": "ws://127.0.0.1:9/stream", "--to": "redis://127.0.0.1:9/0"}
        feed = "hydra"
        env = {"HYDRA_TOKEN": "tok"}
        rest: list[str] = []
        if extra == ["NO_TOKEN"]:
            env = {"HYDRA_TOKEN": ""}
        elif extra == ["UNKNOWN_FEED"]:
            feed = "nosuchfeed"
        else:
            it = iter(extra)
            for flag in it:
                value = next(it)
                if flag in base:
                    base[flag] = value
                else:
                    rest += [flag, value]
        args = ["relay", feed] + [x for kv in base.items() for x in kv] + rest
        async with sem:
            code, out, err = await run_cli(*args, env=env, timeout=6)
        problems = []
        if code is None:
            problems.append("accepted: still running after 6 s")
        elif code == 0:
            problems.append("exit code 0")
        if "Traceback" in err:
            problems.append("traceback: " + err.strip().splitlines()[-1])
        if code not in (None, 0) and not err.strip() and not out.strip():
            problems.append("no message")
        return name, problems, (err.strip().splitlines() or [""])[-1]

    os.environ.pop("HYDRA_TOKEN", None)
    results = await asyncio.gather(*(one(n, e) for n, e in BAD_CLI.items()))
    failures = {name: (problems, last) for name, problems, last in results if problems}
    assert not failures, json.dumps(failures, indent=1, ensure_ascii=False)


async def test_bad_reader_and_relay_arguments_are_configuration_errors(rds):
    """feeds.redis docstring: "ConfigurationError: a bad URL, key or start"; start must be "now",
    "begin" or "a timezone-aware datetime"; "page: entries per XREAD (1-100,000)"; Relay: "keep
    and max_len both given"; README: "durations are finite seconds (NaN is not one)"."""
    bad_reader = [
        dict(start="yesterday"),
        dict(start=dt.datetime(2025, 1, 6, 9)),  # naive
        dict(start=""),
        dict(start=None),
        dict(page=0),
        dict(page=100_001),
        dict(page=-1),
    ]
    for kwargs in bad_reader:
        with pytest.raises(ConfigurationError):
            feeds.redis(rds.url, "k", dialect=feeds.hydra(token="t"), **kwargs)
    for url in (
        "http://127.0.0.1:6379/0",
        "redis://127.0.0.1:0/0",
        "redis://127.0.0.1:70000/0",
        "redis:///0",
        "redis://127.0.0.1:6379/x",
    ):
        with pytest.raises(ConfigurationError):
            feeds.redis(url, "k", dialect=feeds.hydra(token="t"))
        with pytest.raises(ConfigurationError):
            Relay(feeds.hydra(token="t"), url, key="k")
    with pytest.raises(ConfigurationError):
        feeds.redis(rds.url, "", dialect=feeds.hydra(token="t"))
    for kwargs in (
        dict(keep=float("nan")),
        dict(keep=-1),
        dict(keep=0),
        dict(max_len=0),
        dict(max_len=-5),
        dict(keep=60, max_len=10),
        dict(max_pending=0),
        dict(key=""),
    ):
        with pytest.raises(ConfigurationError):
            Relay(feeds.hydra(token="t"), rds.url, **kwargs)


async def test_relayed_reconnects_and_the_relays_stop_come_as_notices(rds, sim):
    """README: "The relayed feed's reconnects, the relay's losses and its stop come as notices."
    Relay.close docstring: "end the stream's session with an `end` marker"."""
    async with Relay(hydra_feed(sim), rds.url, key="k", streams=["markets"], **FAST) as relay:
        await header_written(rds, "k")
        async with streamwidgets.open(feeds.redis(rds.url, "k", start="begin")) as reader:
            await asyncio.sleep(0.5)
            sim.drop_after(3)
            await eventually(
                lambda: (
                    relay.connection.stats.reconnects >= 1 or relay.connection.stats.connects >= 2
                ),
                6,
                what="relay reconnect",
            )
            await eventually(
                lambda: any("reconnect" in n.message for n in reader.connection.notices),
                5,
                what="reconnect notice",
            )
            await relay.close()
            await eventually(lambda: len(reader.connection.notices) >= 2, 5, what="stop notice")
            messages = [n.message for n in reader.connection.notices]
    last = json.loads(rds.client().xrevrange("k", count=1)[0][1][b"r"])
    assert last.get("marker") == "end", last
    assert any("stop" in m or "end" in m or "closed" in m for m in messages[1:]), messages


# =========================================================================== history


def parquet_files(directory: Path) -> list[Path]:
    return sorted(p for p in directory.rglob("*.parquet") if not p.name.startswith("."))


def duckdb_counts(directory: Path) -> dict:
    rows = duckdb.sql(
        f"SELECT stream, count(*) FROM read_parquet('{directory}/**/*.parquet', "
        "hive_partitioning = true, union_by_name = true) GROUP BY stream"
    ).fetchall()
    return {s: n for s, n in rows}


async def test_history_rows_equal_the_buffer_rows_and_duckdb_agrees(tmp_path, sim):
    """README: `streamwidgets.open(feed, record="history/", record_options={...})` keeps "the
    buffer's rows"; "Typed as the buffer types them ... so `history()` ... give[s] the buffer's
    dtypes back"; "the same directory in DuckDB"."""
    d = tmp_path / "history"
    async with streamwidgets.open(
        hydra_feed(sim),
        streams=["markets", "signals"],
        record=f"{d}/",
        record_options={"partition_by": ("date", "stream"), "roll_every": "1s"},
    ) as stream:
        await asyncio.sleep(2.3)
    buf = norm(stream.df)
    got = history(d)
    assert len(buf) > 200
    pd.testing.assert_frame_equal(got, buf)
    counts = duckdb_counts(d)
    assert counts == buf["stream"].value_counts().to_dict()
    total = duckdb.sql(
        f"SELECT count(*) FROM read_parquet('{d}/**/*.parquet', "
        "hive_partitioning = true, union_by_name = true)"
    ).fetchall()[0][0]
    assert total == len(buf)


async def test_files_are_whole_and_readable_while_the_feed_runs(tmp_path, sim):
    """README: "each roll is written under a hidden name by a background thread and renamed when
    complete"; module docstring: "every file in the directory is whole and readable"."""
    d = tmp_path / "h"
    async with streamwidgets.open(
        hydra_feed(sim),
        streams=["markets", "signals"],
        record=d,
        record_options={"roll_every": "1s"},
    ) as stream:
        seen_files = 0
        for _ in range(12):
            await asyncio.sleep(0.2)
            for f in parquet_files(d):
                pq.read_table(f)  # whole, now
                seen_files += 1
        mid = history(d)
        buf = norm(stream.df)
    assert seen_files > 0
    assert 0 < len(mid) <= len(buf)
    # what is already written is exactly the buffer's rows of the same seq numbers
    expect = buf[buf["seq"].isin(mid["seq"])].reset_index(drop=True)
    pd.testing.assert_frame_equal(mid, expect, check_like=True)


async def test_layout_is_hive_and_partition_columns_are_not_in_the_files(tmp_path, sim):
    """README: "Layout: history/date=2026-11-29/stream=markets/part-<first ns>-<roll>.parquet";
    "The partition columns are not repeated inside the files"; date is UTC, of receipt."""
    d = tmp_path / "h"
    async with streamwidgets.open(
        hydra_feed(sim),
        streams=["markets", "signals"],
        record=d,
        record_options={"partition_by": ("date", "stream"), "roll_every": "1s"},
    ) as stream:
        await asyncio.sleep(1.3)
    files = parquet_files(d)
    assert files
    first_ns = {}
    for f in files:
        rel = f.relative_to(d).parts
        assert len(rel) == 3, rel
        assert rel[0].startswith("date=") and rel[1].startswith("stream="), rel
        dt.date.fromisoformat(rel[0][5:])
        assert rel[1][7:] in ("markets", "signals")
        name = rel[2]
        assert name.startswith("part-") and name.endswith(".parquet")
        ns, roll = name[5:-8].split("-")
        assert ns.isdigit() and roll.isdigit()
        cols = pq.read_schema(f).names
        assert "stream" not in cols and "date" not in cols, cols
        t = pq.read_table(f).to_pandas()
        first_ns[f] = int(ns)
        # "<first ns>": the first row's receive time in ns
        assert int(pd.Timestamp(t["received_at"].min()).value) == int(ns)
        assert rel[0][5:] == str(pd.Timestamp(int(ns), tz="UTC").date())
    assert stream.df["stream"].nunique() == 2


async def test_start_end_streams_columns_select_exactly(tmp_path, sim):
    """history docstring: "keep rows received at or after start and before end (a datetime,
    naive meaning UTC, or an ISO-8601 string)"; "streams: keep these streams only"; "columns:
    data columns to read (the fixed ones ... always come)"."""
    d = tmp_path / "h"
    async with streamwidgets.open(
        hydra_feed(sim),
        streams=["markets", "signals"],
        record=d,
        record_options={"roll_every": "1s"},
    ) as stream:
        await asyncio.sleep(2.2)
    full = history(d)
    buf = norm(stream.df)
    pd.testing.assert_frame_equal(full, buf)
    t = full["received_at"]
    s_at, e_at = t.iloc[len(t) // 3], t.iloc[2 * len(t) // 3]
    want = full[(t >= s_at) & (t < e_at)].reset_index(drop=True)
    # tz-aware Timestamps at full ns precision: at-or-after start, before end
    got = history(d, start=s_at, end=e_at)
    pd.testing.assert_frame_equal(got, want)
    # naive datetime = UTC; ISO string
    s_naive = s_at.floor("us").tz_convert(None).to_pydatetime()
    want_us = full[t >= pd.Timestamp(s_naive, tz="UTC")].reset_index(drop=True)
    pd.testing.assert_frame_equal(history(d, start=s_naive), want_us)
    pd.testing.assert_frame_equal(history(d, start=pd.Timestamp(s_naive).isoformat()), want_us)
    # a start after everything, an end before everything
    assert len(history(d, start=t.iloc[-1].ceil("us") + pd.Timedelta("1us"))) == 0
    assert len(history(d, end=t.iloc[0].floor("us"))) == 0
    # streams
    only = history(d, streams=["markets"])
    assert set(FIXED) <= set(only.columns) <= set(full.columns)
    want_m = full[full["stream"] == "markets"].reset_index(drop=True)
    assert (
        not want_m.drop(columns=list(only.columns)).notna().any().any()
    )  # only empty ones left out
    pd.testing.assert_frame_equal(only, want_m[list(only.columns)])
    assert len(history(d, streams=["nope"])) == 0
    # columns
    cols = history(d, columns=["data.price"])
    assert list(cols.columns) == [*FIXED, "data.price"], list(cols.columns)
    pd.testing.assert_frame_equal(cols, full[[*FIXED, "data.price"]])


STRANGE = ["a/b", "..", ".", "k=v", "with space", "ünï©ødé 📈", "", "100%", "a\\b", "#?&"]


async def test_strange_stream_names_round_trip_through_history_and_duckdb(tmp_path):
    """README: "values URL-encoded" in the partition directories; history() gives the rows back;
    DuckDB reads the same directory. The stream names a feed sends are data, not paths."""
    frames = [
        {"stream": n, "type": "tick", "ts": int(time.time() * 1000), "data": {"x": i}}
        for i, n in enumerate(STRANGE)
    ]
    d = tmp_path / "h"
    async with (
        FrameServer(frames) as server,
        streamwidgets.open(
            feeds.hydra(server.url, token="t0k"),
            record=f"{d}/",
            record_options={"roll_every": "1s"},
        ) as stream,
    ):
        await eventually(lambda: len(stream.df) >= len(STRANGE), 5)
    buf = norm(stream.df)
    assert list(buf["stream"]) == STRANGE
    # nothing written outside the directory, every file under d/date=*/stream=*/
    for f in parquet_files(d):
        assert f.resolve().is_relative_to(d.resolve())
        assert len(f.relative_to(d).parts) == 3, f
    got = history(d)
    pd.testing.assert_frame_equal(got, buf, check_like=True)
    for name in STRANGE:
        if name:
            sel = history(d, streams=[name])
            assert list(sel["stream"]) == [name], (name, list(sel["stream"]))
    counts = duckdb_counts(d)
    assert {(k if k is not None else "") for k in counts} == set(STRANGE), counts


async def test_column_that_changes_type_between_rolls(tmp_path):
    """history docstring: "a column typed differently in two rolls is unified as pandas does:
    ints beside floats give floats, anything else beside text gives object"; README: DuckDB
    reads the directory with union_by_name."""
    d = tmp_path / "h"
    t0 = time.time_ns()
    w = HistoryWriter(d, roll_every="1s")
    w.add(Event("s", "t", {"v": 1, "f": 1}, received_ns=t0))
    w.add(Event("s", "t", {"v": 2, "f": 2}, received_ns=t0 + 1))
    w.roll()
    w.add(Event("s", "t", {"v": "three", "f": 2.5}, received_ns=t0 + 2))
    w.roll()
    w.add(Event("s", "t", {"v": None, "f": None}, received_ns=t0 + 3))
    summary = w.close()
    assert summary.rows == 4 and summary.lost == 0
    got = history(d)
    assert got["data.v"].dtype == object
    assert list(got["data.v"].iloc[:3]) == [1, 2, "three"]
    assert pd.isna(got["data.v"].iloc[3])
    # "ints beside floats give floats" (pandas unifies Int64 with float64 as Float64)
    assert pd.api.types.is_float_dtype(got["data.f"].dtype), got["data.f"].dtype
    assert list(got["data.f"].iloc[:3]) == [1.0, 2.0, 2.5]
    assert pd.isna(got["data.f"].iloc[3])
    n = duckdb.sql(
        f"SELECT count(*) FROM read_parquet('{d}/**/*.parquet', "
        "hive_partitioning = true, union_by_name = true)"
    ).fetchall()[0][0]
    assert n == 4


async def test_all_null_columns_and_event_time_come_back(tmp_path):
    """history docstring: "the fixed ones seq, received_at, event_time, stream, type, snapshot
    always come"; README: "Typed as the buffer types them ... with the same metadata as
    to_parquet, so history() and read_export give the buffer's dtypes back"; table: null ->
    NA in Parquet. A feed without a time field (event_time NaT) and a field that is null in
    every row are ordinary."""
    d = tmp_path / "h"
    t0 = time.time_ns()
    events = [Event("s", "t", {"x": i, "maybe": None}, received_ns=t0 + i) for i in range(5)]
    buf = EventBuffer(max_rows=100)
    buf.extend(events)
    w = HistoryWriter(d, roll_every="1s")
    for e in events:
        w.add(e)
    w.close()
    expect = norm(buf.to_dataframe())
    export = tmp_path / "rows.parquet"
    buf.to_parquet(export)
    pd.testing.assert_frame_equal(norm(streamwidgets.read_export(export)), expect)  # the reference
    got = history(d)
    missing = [c for c in expect.columns if c not in got.columns]
    assert not missing, f"columns of the buffer missing from history(): {missing}"
    pd.testing.assert_frame_equal(got, expect, check_like=True)


async def test_lists_nulls_snapshot_and_event_without_stream(tmp_path):
    """README table: "list of one scalar type -> Arrow list, Parquet exact"; ragged lists ->
    object, "Parquet exact (JSON text, marked)"; null -> NA; "an event without a stream under
    `__HIVE_DEFAULT_PARTITION__`"."""
    d = tmp_path / "h"
    t0 = time.time_ns()
    events = [
        Event(
            "s",
            "t",
            {"l": [1, 2, 3], "r": [1, "a", [2]], "b": True, "z": None, "o": {"p": 1}},
            received_ns=t0,
            event_ns=t0 - 5,
        ),
        Event(
            None,
            "t",
            {"l": [4], "r": [], "b": None, "z": "x", "o": {"p": None}},
            received_ns=t0 + 1,
            snapshot=True,
        ),
        Event(
            "s",
            "u",
            {"l": None, "r": None, "b": False, "z": None, "o": {"p": 3}},
            received_ns=t0 + 2,
            event_ns=t0,
        ),
    ]
    buf = EventBuffer(max_rows=100)
    buf.extend(events)
    w = HistoryWriter(d, roll_every="1s")
    for e in events:
        w.add(e)
    w.close()
    dirs = {p.relative_to(d).parts[1] for p in parquet_files(d)}
    assert "stream=__HIVE_DEFAULT_PARTITION__" in dirs, dirs
    got = history(d)
    expect = norm(buf.to_dataframe())
    pd.testing.assert_frame_equal(got, expect, check_like=True)
    assert pd.isna(got["stream"].iloc[1])
    n = duckdb.sql(
        f"SELECT count(*) FROM read_parquet('{d}/**/*.parquet', "
        "hive_partitioning = true, union_by_name = true)"
    ).fetchall()[0][0]
    assert n == 3


async def test_date_partition_is_the_utc_day_of_receipt(tmp_path):
    """HistoryWriter docstring: partition keys "date", "hour" (UTC, of receipt); history
    "skips partitions outside start, end ... by their names" -- the skipping must not lose rows."""
    d = tmp_path / "h"
    midnight = pd.Timestamp("2026-11-30T00:00:00", tz="UTC")
    times = [
        midnight - pd.Timedelta("1ns"),
        midnight,
        midnight + pd.Timedelta("59min 59s"),
        midnight + pd.Timedelta("1h"),
    ]
    w = HistoryWriter(d, partition_by=("date", "hour", "type"), roll_every="1s")
    for i, t in enumerate(times):
        w.add(Event("s", f"k{i % 2}", {"i": i}, received_ns=t.value))
    w.close()
    dates = sorted({p.relative_to(d).parts[0] for p in parquet_files(d)})
    assert dates == ["date=2026-11-29", "date=2026-11-30"], dates
    hours = sorted({p.relative_to(d).parts[:2] for p in parquet_files(d)})
    assert len(hours) == 3, hours
    assert list(history(d)["data.i"]) == [0, 1, 2, 3]
    assert list(history(d, start=midnight)["data.i"]) == [1, 2, 3]
    assert list(history(d, end=midnight)["data.i"]) == [0]
    assert list(history(d, start="2026-11-30T00:59:59", end="2026-11-30T01:00")["data.i"]) == [2]
    assert list(history(d, start=midnight + pd.Timedelta("1h"))["data.i"]) == [3]
    assert set(history(d)["type"]) == {"k0", "k1"}
    assert list(history(d, streams=["s"])["data.i"]) == [0, 1, 2, 3]


async def test_history_start_and_end_keep_nanoseconds(tmp_path):
    """history docstring: "keep rows received at or after start and before end (a datetime ...)";
    received_at is ns-precise (README: "exact to the ns") and a pandas Timestamp is a datetime, so
    a start 1 ns after a row excludes that row."""
    d = tmp_path / "h"
    base = pd.Timestamp("2026-11-30T12:00:00.000001", tz="UTC")
    w = HistoryWriter(d, roll_every="1s")
    for i in range(3):
        w.add(Event("s", "t", {"i": i}, received_ns=base.value + 400 * i))
    w.close()
    at = base + pd.Timedelta(400, "ns")
    assert list(history(d, start=at)["data.i"]) == [1, 2]
    assert list(history(d, end=at)["data.i"]) == [0]
    assert list(history(d, start=at, end=at + pd.Timedelta(1, "ns"))["data.i"]) == [1]


@pytest.mark.parametrize(
    "roll_every",
    ["0s", -5, "abc", 10**20, float("nan"), float("inf"), "0.5s", "25h", 0, 1e20, -1.0, "", 512],
)
async def test_absurd_roll_every_is_a_configuration_error(tmp_path, roll_every):
    """HistoryWriter docstring: "ConfigurationError: a bad argument (... a roll below one second
    or above a day, a size below 1 KiB, ...)"; README: "counts and sizes have sane bounds";
    "durations are finite seconds (NaN is not one)"."""
    with pytest.raises(ConfigurationError):
        HistoryWriter(tmp_path / "h", roll_every=roll_every)
    with pytest.raises(ConfigurationError):
        async with streamwidgets.open(
            feeds.hydra("ws://127.0.0.1:9/stream", token="t"),
            record=tmp_path / "h2",
            record_options={"roll_every": roll_every},
            connect_timeout=2,
        ):
            pass


async def test_bad_history_targets_and_arguments(tmp_path):
    """HistoryWriter docstring: ConfigurationError for "a bad argument (unknown partition key
    ...)"; history docstring: "ConfigurationError: no such directory, or a bad start/end";
    Connection.record: "ConfigurationError: ... a bad path or option"."""
    a_file = tmp_path / "afile"
    a_file.write_text("x")
    with pytest.raises(ConfigurationError):
        HistoryWriter(a_file, roll_every="1s")
    with pytest.raises(ConfigurationError):
        HistoryWriter(tmp_path / "h", partition_by=("date", "symbol"))
    with pytest.raises(ConfigurationError):
        HistoryWriter(tmp_path / "h", partition_by="date")
    with pytest.raises(ConfigurationError):
        history(tmp_path / "missing")
    with pytest.raises(ConfigurationError):
        history(a_file)
    (tmp_path / "empty").mkdir()
    assert len(history(tmp_path / "empty")) == 0
    for bad in ("yesterday", "2026-13-45", float("nan")):
        with pytest.raises(ConfigurationError):
            history(tmp_path / "empty", start=bad)
        with pytest.raises(ConfigurationError):
            history(tmp_path / "empty", end=bad)


@pytest.mark.parametrize("where", ["a file", "under a file", "unwritable (/proc)"])
async def test_history_directory_that_cannot_be_one_is_a_configuration_error(tmp_path, where):
    """Connection.record: "Raises: ConfigurationError: already recording, or a bad path or
    option"; README: "Clear errors at once". A history directory that is a file, lies under a
    file, or cannot be made (root ignores chmod, so /proc stands for unwritable) is a bad path."""
    a_file = tmp_path / "afile"
    a_file.write_text("x")
    target = {
        "a file": a_file,
        "under a file": a_file / "sub",
        "unwritable (/proc)": Path("/proc/self/history"),
    }[where]
    with pytest.raises(ConfigurationError):
        async with streamwidgets.open(
            feeds.hydra("ws://127.0.0.1:9/stream", token="tok-123"),
            record=target,
            record_options={"roll_every": "1s"},
            connect_timeout=2,
        ):
            pass
    with pytest.raises(ConfigurationError):
        HistoryWriter(target, roll_every="1s")
    assert a_file.read_text() == "x"


async def test_close_twice_stop_recording_then_record_again(tmp_path, sim):
    """Connection.stop_recording: "End the current recording or history (if any), wait until its
    files are complete, return it"; HistoryWriter docstring: "files already there stay, so a
    second run adds to the same history"; record while recording: "ConfigurationError: already
    recording"."""
    d = tmp_path / "h"
    async with streamwidgets.open(
        hydra_feed(sim), streams=["markets"], record=d, record_options={"roll_every": "1s"}
    ) as stream:
        conn = stream.connection
        await asyncio.sleep(0.6)
        with pytest.raises(ConfigurationError):
            conn.record(tmp_path / "other", roll_every="1s")
        first = await conn.stop_recording()
        assert first is not None and not first.active
        s1 = first.summary()
        assert first.close() == first.close()  # twice: same summary, no error
        await asyncio.sleep(0.4)  # rows here are in the buffer but not recorded
        again = conn.record(d, roll_every="1s")
        await asyncio.sleep(0.8)
        second = await conn.stop_recording()
        assert second is again
        assert await conn.stop_recording() is None
    await stream.close()
    await stream.close()
    got = history(d)
    buf = norm(stream.df)
    assert s1.rows > 0 and second.summary().rows > 0
    assert len(got) == s1.rows + second.summary().rows
    assert len(got) < len(buf)  # the rows between the two recordings are not in it
    assert not got["data.seq"].duplicated().any()  # the feed's own counter: no row twice
    # the history holds the buffer's rows: the same rows, seq included (README: "record keeps
    # the buffer's rows there"; seq is one of the fixed columns)
    expect = buf[buf["data.seq"].isin(got["data.seq"])].reset_index(drop=True)
    pd.testing.assert_frame_equal(got, expect, check_like=True)


async def test_history_writer_summary_counts_files_and_rows(tmp_path):
    """HistorySummary: "Files, rows and bytes written so far, rows lost, and why it stopped";
    README: "one file per partition every roll"."""
    d = tmp_path / "h"
    t0 = time.time_ns()
    w = HistoryWriter(d, roll_every="1s")
    for i in range(10):
        w.add(Event(["a", "b"][i % 2], "t", {"i": i}, received_ns=t0 + i))
    w.roll()
    for i in range(10, 13):
        w.add(Event("a", "t", {"i": i}, received_ns=t0 + i))
    s = w.close()
    assert s.rows == 13 and s.lost == 0 and s.stopped
    assert s.files == len(parquet_files(d)) == 3
    assert s.bytes == sum(f.stat().st_size for f in parquet_files(d))
    assert not w.active
    assert list(history(d)["data.i"]) == list(range(13))
    assert not [p for p in d.rglob("*") if p.is_file() and p.suffix != ".parquet"]
