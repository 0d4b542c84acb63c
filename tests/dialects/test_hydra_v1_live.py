"""The Hydra v1 API-key stream: connection, simulator and widget, over real loopback sockets."""

from __future__ import annotations

import asyncio
import logging
import subprocess
import sys
import time

import comm
import pytest

from streamwidgets import StreamWidget, feeds
from streamwidgets.connection.backoff import Backoff
from streamwidgets.connection.driver import Connection, State
from streamwidgets.dialects.hydra_v1 import SNAPSHOT_ORDER
from streamwidgets.events import Event
from streamwidgets.exceptions import AuthenticationFailed
from streamwidgets.simulators.hydra_v1 import HYDRA_V1_SCOPES, HydraV1Simulator
from tests.support.comms import RecordingComm
from tests.support.feed_inputs import HYDRA_V1_KEY as KEY
from tests.support.waiting import eventually, seconds, started

PING = 0.05


@pytest.fixture
async def sim(profile):
    async with HydraV1Simulator(
        api_keys={KEY: HYDRA_V1_SCOPES}, rate=100.0, ping_interval=PING, seed=7, profile=profile
    ) as simulator:
        yield simulator


def make(url, *, api_key=KEY, streams=(), **options):
    feed_options = {
        k: options.pop(k)
        for k in ("key_in", "snapshot", "ping_timeout", "rate_limit_backoff")
        if k in options
    }
    feed_options.setdefault("ping_timeout", 0.5)
    feed = feeds.hydra_v1(url, api_key=api_key, **feed_options)
    options.setdefault("backoff", Backoff(initial=0.02, maximum=0.1, slow_initial=0.2))
    options.setdefault("healthy_after", 0.05)
    return Connection(feed, streams=list(streams), **options)


def frames_of(conn):
    return conn.buffer.to_dataframe()


# -- against the simulator -----------------------------------------------------------------


@pytest.mark.parametrize("key_in", ["header", "query"])
async def test_key_in_header_or_query_is_accepted(sim, key_in):
    """The key is accepted in the x-api-key header or ?apiKey=, and the server saw it there."""
    conn = await started(make(sim.url, key_in=key_in))
    try:
        seen = sim.connections[-1]
        assert seen.key_in == key_in and seen.outcome == "accepted"
        assert KEY not in seen.path and KEY not in repr(conn)
    finally:
        await conn.close()


async def test_connected_scopes_become_the_available_streams():
    """The welcome's scopes are the available streams; only their events arrive."""
    async with HydraV1Simulator(
        api_keys={KEY: ["aircraft", "cyber"]}, rate=200.0, ping_interval=PING
    ) as sim:
        conn = await started(make(sim.url))
        try:
            assert conn.available_streams == ["aircraft", "cyber"]
            await eventually(lambda: (frames_of(conn)["snapshot"] == False).sum() >= 20)  # noqa: E712
            assert set(frames_of(conn)["stream"]) <= {"aircraft", "cyber", "chat", "online"}
            cyber = frames_of(conn).query("type == 'signal'")
            assert set(cyber["data.signals.category"]) == {"CYBER"}
            assert "vessel" not in sim.sent_to(1) and "x_post" not in sim.sent_to(1)
        finally:
            await conn.close()


async def test_snapshot_comes_in_order_and_its_rows_are_marked(sim):
    """connected, then the snapshot in the documented order; its rows are snapshot rows."""
    conn = await started(make(sim.url))
    try:
        await eventually(lambda: not conn.dialect.in_snapshot and len(sim.sent_to(1)) > 40)
        sent = sim.sent_to(1)
        end = sent.index("online_count")
        snapshot = sent[1 : end + 1]
        assert sent[0] == "connected"
        assert list(dict.fromkeys(snapshot)) == list(SNAPSHOT_ORDER)
        await eventually(lambda: len(frames_of(conn)) > 60)
        df = frames_of(conn)
        marked = df[df["snapshot"]]
        assert list(dict.fromkeys(marked["type"])) == list(SNAPSHOT_ORDER)
        live = df[~df["snapshot"]]
        assert len(live) > 0 and live["seq"].min() > marked["seq"].max()
        assert not ({"chat_history", "online_count"} & set(live["type"]))
    finally:
        await conn.close()


async def test_snapshot_false_skips_the_snapshot(sim):
    """snapshot=False adds snapshot=false to the URL; no snapshot is sent, no row is marked."""
    conn = await started(make(sim.url, snapshot=False))
    try:
        assert "snapshot=false" in conn.dialect.target().display_url
        await eventually(lambda: len(frames_of(conn)) >= 20)
        assert sim.connections[-1].snapshot is False
        assert "online_count" not in sim.sent_to(1)
        assert not frames_of(conn)["snapshot"].any()
    finally:
        await conn.close()


async def test_aircraft_positions_and_signals_explode_into_rows(sim):
    """Each aircraft position and each signal of a message is a row of its own."""
    conn = make(sim.url)
    messages: list[Event] = []
    conn.on_event(messages.append)  # before the start: the snapshot counts too
    await started(conn)
    try:
        await eventually(lambda: sum(e.type == "aircraft" for e in messages) >= 3)
        await eventually(lambda: sum(e.type == "signal" for e in messages) >= 3)
        df = frames_of(conn)
        for kind, field in (("aircraft", "positions"), ("signal", "signals")):
            items = sum(len(e.data[field]) for e in messages if e.type == kind)
            rows = df[df["type"] == kind]
            assert len(rows) == items > sum(e.type == kind for e in messages)
        assert df.loc[df["type"] == "aircraft", "data.positions.icaoHex"].notna().all()
    finally:
        await conn.close()


async def test_pings_keep_a_quiet_connection_alive_and_their_absence_reconnects():
    """Pings alone prove life; when they stop, the connection is declared dead and reconnects."""
    async with HydraV1Simulator(
        api_keys={KEY: ["earthquakes"]}, rate=0.01, ping_interval=PING, snapshot_size=0
    ) as sim:
        conn = await started(make(sim.url, ping_timeout=0.4, snapshot=False))
        try:
            await asyncio.sleep(seconds(1.0))  # over twice ping_timeout, with no data at all
            assert conn.state is State.CONNECTED and conn.stats.connects == 1
            assert sim.pings_sent >= 5
            sim.stop_pings()
            stopped = time.monotonic()
            await conn.wait_for_state(State.RECONNECTING, timeout=seconds(3))
            assert time.monotonic() - stopped < seconds(0.4 + 0.5)
            assert "no data or ping" in conn.reason
            sim.resume_pings()
            await conn.wait_for_state(State.CONNECTED, timeout=seconds(3))
            assert conn.stats.reconnects >= 1
        finally:
            await conn.close()


@pytest.mark.parametrize("code", [1000, 1001])
async def test_normal_and_going_away_closes_reconnect(sim, code):
    """1000 and 1001 from the server reconnect."""
    conn = await started(make(sim.url))
    try:
        sim.close_connections(code)
        await eventually(lambda: conn.stats.reconnects >= 1 and conn.state is State.CONNECTED)
        assert conn.close_code is None or conn.close_code == code
        assert any(c.code == code for c in conn.history)
    finally:
        await conn.close()


@pytest.mark.parametrize(
    ("answer", "words"), [("close", r"\(1008\)"), ("http401", r"\(HTTP 401\)")]
)
async def test_bad_key_fails_once_with_a_clear_reason(answer, words, caplog):
    """A bad key (close 1008, or HTTP 401 before the upgrade) fails on the first attempt."""
    caplog.set_level(logging.DEBUG)
    bad = "hydra_k1_revoked_bad_key_42"
    async with HydraV1Simulator(
        api_keys={KEY: ["aircraft"]}, ping_interval=PING, answer_bad_key=answer
    ) as sim:
        conn = make(sim.url, api_key=bad, key_in="query")
        conn.start()
        with pytest.raises(
            AuthenticationFailed, match=f"API key invalid, expired or revoked {words}"
        ):
            await conn.wait_connected(timeout=seconds(5))
        await asyncio.sleep(0.2)
        assert conn.state is State.FAILED
        assert len(sim.connections) == 1
        assert sim.connections[0].outcome == ("closed 1008" if answer == "close" else "http401")
        shown = repr(conn) + conn.reason + str(list(conn.history)) + caplog.text
        assert bad not in shown and "apiKey=***" in caplog.text
        await conn.close()


async def test_too_many_connections_backs_off_without_crashing():
    """HTTP 429 on the upgrade reconnects slowly, with a clear reason, until a slot frees up."""
    async with HydraV1Simulator(
        api_keys={KEY: ["vessels"]}, ping_interval=PING, max_connections_per_ip=1
    ) as sim:
        first = await started(make(sim.url))
        second = make(sim.url, rate_limit_backoff=0.3)
        second.start()
        try:
            await second.wait_for_state(State.RECONNECTING, timeout=seconds(3))
            assert "too many connections from this address (HTTP 429)" in second.reason
            assert second.close_code == 429
            await asyncio.sleep(0.15)
            assert sum(c.outcome == "http429" for c in sim.connections) == 1  # backing off
            await first.close()
            await second.wait_connected(timeout=seconds(5))
        finally:
            await first.close()
            await second.close()


def synced_state(w):
    state = {}
    for _, _, data, _ in w.comm.sent:
        state.update(data.get("state", {}))
    return state


async def test_widget_shows_scopes_and_no_server_subscription(monkeypatch):
    """StreamWidget shows the scopes as available streams and subscribe_supported False."""
    monkeypatch.setattr(comm, "create_comm", RecordingComm)
    async with HydraV1Simulator(
        api_keys={KEY: ["aircraft", "markets"]}, rate=50.0, ping_interval=PING
    ) as sim:
        w = StreamWidget(feeds.hydra_v1(sim.url, api_key=KEY), streams=["aircraft"])
        try:
            await eventually(lambda: w.available_streams == ["aircraft", "markets"])
            assert w.subscribe_supported is False
            # What the browser is told: the traits as they went over the comm.
            await eventually(lambda: synced_state(w).get("available_streams"))
            assert synced_state(w)["available_streams"] == ["aircraft", "markets"]
            assert synced_state(w)["subscribe_supported"] is False
            synced = str(w.comm.sent)
            assert KEY not in synced and KEY not in repr(w)
        finally:
            w.close()


def test_cli_help_and_a_run_with_ready_file(tmp_path):
    """`sim hydra-v1 --help` documents the options; a run writes its port and prints the key."""
    command = [sys.executable, "-m", "streamwidgets", "sim", "hydra-v1"]
    help_text = subprocess.run(
        [*command, "--help"], capture_output=True, text=True, timeout=60, check=True
    ).stdout
    for option in ("--port", "--ready-file", "--ping-interval", "--answer-bad-key"):
        assert option in help_text
    ready = tmp_path / "port"
    proc = subprocess.Popen(
        [*command, "--port", "0", "--ready-file", str(ready), "--api-key", KEY],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
    )  # fmt: skip
    try:
        deadline = time.monotonic() + seconds(30)
        while not ready.exists():
            assert proc.poll() is None and time.monotonic() < deadline
            time.sleep(0.05)
        port = int(ready.read_text())
        assert port > 0
    finally:
        proc.terminate()
        out, _ = proc.communicate(timeout=30)
    assert f"ws://127.0.0.1:{port}/v1/stream" in out and KEY in out
    assert f"feeds.hydra_v1('ws://127.0.0.1:{port}/v1/stream', api_key=...)" in out
