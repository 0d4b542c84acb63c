"""The connection and the Hydra dialect, end to end against the Hydra simulator on loopback."""

from __future__ import annotations

import asyncio
import gc
import logging
import time

import pytest

import streamwidgets
from streamwidgets import feeds
from streamwidgets.connection.backoff import Backoff
from streamwidgets.connection.driver import Connection, State
from streamwidgets.exceptions import (
    AuthenticationFailed,
    ConnectionFailed,
    StreamNotAvailable,
    SubscriptionRefused,
)
from streamwidgets.simulators.hydra import HydraSimulator
from tests.support.waiting import eventually, seconds

HEARTBEAT = 0.2
FAST = Backoff(initial=0.02, maximum=0.1, slow_initial=0.5)


@pytest.fixture
async def sim(profile):
    async with HydraSimulator(
        rate=200.0, heartbeat_interval=HEARTBEAT, profile=profile
    ) as simulator:
        yield simulator


def make(sim, *, streams=("signals",), scope=None, token=None, **options):
    token = token or sim.issue_token(streams=scope)
    feed = feeds.hydra(
        sim.url,
        token=token,
        heartbeat_interval=HEARTBEAT,
        rate_limit_backoff=options.pop("rate_limit_backoff", 0.5),
    )
    options.setdefault("backoff", Backoff(initial=0.02, maximum=0.1, slow_initial=0.5))
    options.setdefault("healthy_after", 0.05)
    return Connection(feed, streams=list(streams), **options)


async def started(conn):
    conn.start()
    await conn.wait_connected(timeout=seconds(5))
    return conn


async def test_handshake_reports_scope_and_connects(sim):
    """The welcome's availableStreams become the connection's available streams."""
    conn = await started(make(sim, scope=["signals", "alerts", "cyber"]))
    try:
        assert conn.state is State.CONNECTED
        assert conn.available_streams == ["signals", "alerts", "cyber"]
        assert conn.dialect.session["address"].startswith("0x")
        await eventually(lambda: len(conn.buffer) >= 5)
        df = conn.buffer.to_dataframe()
        assert set(df["stream"]) == {"signals"}
        assert (df["type"] == "signal_new").all()
        assert str(df["event_time"].dtype).startswith("datetime64") and "UTC" in str(
            df["event_time"].dtype
        )
    finally:
        await conn.close()


async def test_subscribe_outside_scope_fails_before_sending(sim):
    """A stream outside availableStreams raises StreamNotAvailable and nothing is sent."""
    conn = await started(make(sim, scope=["signals", "alerts"]))
    try:
        await eventually(lambda: any(c.get("action") == "subscribe" for _, c in sim.commands))
        sent_before = len(sim.commands)
        with pytest.raises(StreamNotAvailable, match=r"'markets'.*available: signals, alerts"):
            await conn.subscribe(["alerts", "markets"])
        await asyncio.sleep(0.05)
        assert len(sim.commands) == sent_before
        assert conn.subscriptions == ["signals"]
    finally:
        await conn.close()


async def test_server_rejection_is_reported_with_reason(sim):
    """A subscribe the server partly rejects raises SubscriptionRefused with its reasons;
    the granted stream is subscribed and the refused one leaves the wanted set."""
    conn = await started(make(sim, scope=["signals", "alerts"]))
    try:
        # What the client believes is offered may be stale; the server's answer decides.
        conn.dialect.available_streams = ["signals", "alerts", "markets"]
        with pytest.raises(SubscriptionRefused) as refused:
            await conn.subscribe(["alerts", "markets"])
        assert refused.value.rejected == {"markets": "Stream not in token scope"}
        assert conn.subscriptions == ["signals", "alerts"]
        assert any("markets: Stream not in token scope" in n.message for n in conn.notices)
    finally:
        await conn.close()


async def test_subscribe_and_unsubscribe_reach_the_server(sim):
    """Subscribing adds a stream's events; unsubscribing sends the command and stops them."""
    conn = await started(make(sim, scope=None))
    try:
        result = await conn.subscribe(["markets"])
        assert "markets" in result.active and not result.rejected
        await eventually(lambda: "markets" in set(conn.buffer.to_dataframe()["stream"]))
        await conn.unsubscribe(["markets"])
        command = await sim.wait_for_command("unsubscribe", timeout=seconds(5))
        assert command["streams"] == ["markets"]
        await asyncio.sleep(0.05)  # replies and in-flight events settle
        seq_after = conn.buffer.last_seq
        await asyncio.sleep(0.3)
        new, _ = conn.buffer.since(seq_after)
        assert len(new) > 0 and set(new["stream"]) == {"signals"}
        assert conn.subscriptions == ["signals"]
    finally:
        await conn.close()


async def test_list_is_answered_and_ping_is_complete_once_sent(sim):
    """`list` waits for its documented `subscriptions` reply; `ping`, which has no
    documented reply, returns as soon as it is sent."""
    conn = await started(make(sim, scope=["signals", "alerts"]))
    try:
        await eventually(lambda: len(conn.buffer) >= 1)
        listing = await conn.send(conn.dialect.list_request())
        assert listing.data == {"active": ["signals"], "available": ["signals", "alerts"]}
        assert await conn.send(conn.dialect.ping_request()) is None
        await eventually(lambda: [c["action"] for _, c in sim.commands][-2:] == ["list", "ping"])
    finally:
        await conn.close()


async def test_reconnect_resubscribes_without_loss_or_duplicates(sim):
    """After a drop: resubscribed, each event sent while connected kept once, the gap marked."""
    conn = await started(make(sim, streams=("signals", "alerts")))
    try:
        await conn.subscribe(["cyber"])
        await eventually(lambda: len(conn.buffer) >= 20)
        sim.drop_after(10)
        await eventually(lambda: conn.stats.reconnects >= 1)
        await eventually(lambda: conn.state is State.CONNECTED)
        await eventually(lambda: sum(1 for n, *_ in sim.sent if n == 2) >= 30)
        subscribes = [c for n, c in sim.commands if c.get("action") == "subscribe" and n == 2]
        assert subscribes and set(subscribes[-1]["streams"]) == {"signals", "alerts", "cyber"}
        await conn.close()
        sent = [seq for _, seq, _, _ in sim.sent]
        df = conn.buffer.to_dataframe()
        got = df["data.seq"].tolist()
        assert len(got) == len(set(got)), "duplicate events"
        assert sorted(got) == sorted(sent), "events lost or invented"
        markers = conn.buffer.markers
        assert {"disconnected", "gap", "reconnected"} <= set(markers["kind"])
        gap = markers[markers["kind"] == "gap"].iloc[0]
        assert gap["until"] > gap["time"]
    finally:
        await conn.close()


async def test_silence_is_detected_within_three_heartbeats(sim):
    """A silent server is declared dead within three heartbeat intervals, then reconnected."""
    conn = await started(make(sim))
    try:
        await eventually(lambda: conn.stats.heartbeats >= 1)
        sim.go_silent()
        silent_at = time.monotonic()
        await eventually(lambda: conn.state is State.RECONNECTING, timeout=5)
        took = time.monotonic() - silent_at
        assert took <= seconds(3 * HEARTBEAT + 0.2)
        assert took >= 3 * HEARTBEAT * 0.9
        assert "no data or heartbeat" in conn.reason
        sim.resume()
        await eventually(lambda: conn.state is State.CONNECTED and conn.stats.reconnects == 1)
    finally:
        await conn.close()


@pytest.mark.parametrize("code", [1000, 1001])
async def test_normal_and_going_away_closes_reconnect(sim, code):
    """Close codes 1000 and 1001 from the server lead to a reconnect."""
    conn = await started(make(sim))
    try:
        sim.close_with(code, "maintenance")
        await eventually(lambda: conn.stats.reconnects == 1 and conn.state is State.CONNECTED)
        assert sim.connections_total == 2
        assert any(c.state is State.RECONNECTING and f"({code})" in c.reason for c in conn.history)
    finally:
        await conn.close()


@pytest.mark.parametrize(
    ("code", "words"),
    [
        (4002, "insufficient token balance (4002)"),
        (4004, "subscription not in the token's scope (4004)"),
    ],
)
async def test_stop_codes_fail_without_reconnecting(sim, code, words):
    """4002 and 4004 end in failed, with the reason in plain words, and no new connection."""
    conn = await started(make(sim))
    sim.close_with(code, "")
    await conn.wait_for_state(State.FAILED, timeout=seconds(5))
    await asyncio.sleep(0.3)
    assert conn.reason == words and conn.close_code == code
    assert sim.connections_total == 1
    await conn.close()


async def test_invalid_token_fails_once_with_no_reconnect_storm(sim):
    """A bad JWT gives 4001: one attempt, state failed, a clear AuthenticationFailed."""
    bad = sim.issue_token(expires_in=-10)
    conn = make(sim, token=bad)
    conn.start()
    with pytest.raises(AuthenticationFailed, match=r"token invalid or expired \(4001\)"):
        await conn.wait_connected(timeout=seconds(5))
    await asyncio.sleep(0.5)
    assert sim.connections_total == 1
    assert conn.state is State.FAILED
    await conn.close()


async def test_rate_limit_backs_off_longer(sim):
    """4003 reconnects, but only after the long rate-limit back-off."""
    conn = await started(make(sim, rate_limit_backoff=0.4))
    try:
        sim.close_with(4003, "Rate limit exceeded")
        closed_at = time.monotonic()
        await eventually(lambda: sim.connections_total == 2, timeout=5)
        assert time.monotonic() - closed_at >= 0.4
        assert any("rate limit" in c.reason for c in conn.history)
    finally:
        await conn.close()


async def test_bad_frames_are_counted_kept_and_survived(sim):
    """Malformed, binary, non-object and unknown frames are counted and kept; data keeps flowing."""
    conn = await started(make(sim))
    try:
        await eventually(lambda: len(conn.buffer) >= 3)
        kinds = ("not_json", "binary", "non_object", "unknown_type", "missing_fields")
        sim.send_malformed(kinds=kinds)
        await eventually(lambda: conn.stats.parse_errors >= len(kinds))
        errors = " | ".join(r.error for r in conn.rejected_frames)
        assert "not JSON" in errors and "binary" in errors and "JSON object" in errors
        rows = len(conn.buffer)
        await eventually(lambda: len(conn.buffer) > rows + 5)
        assert conn.state is State.CONNECTED and conn.stats.reconnects == 0
    finally:
        await conn.close()


async def test_oversized_frame_is_counted_and_the_connection_recovers(sim):
    """A frame over max_frame_bytes is refused, counted, and the connection comes back."""
    conn = await started(make(sim, max_frame_bytes=64 * 1024))
    try:
        await eventually(lambda: len(conn.buffer) >= 3)
        sim.send_huge_frame(256 * 1024)
        await eventually(lambda: conn.stats.oversized_frames == 1)
        await eventually(lambda: conn.state is State.CONNECTED and conn.stats.reconnects == 1)
        rows = len(conn.buffer)
        await eventually(lambda: len(conn.buffer) > rows + 3)
        assert "frame too large" in conn.stats.last_error or conn.stats.last_error
    finally:
        await conn.close()


async def test_token_never_in_repr_log_or_error(sim, caplog):
    """The JWT appears in no repr, log record (DEBUG included), state reason or exception text."""
    caplog.set_level(logging.DEBUG)
    token = sim.issue_token()
    conn = await started(make(sim, token=token))
    texts = [repr(conn), repr(conn.dialect), repr(conn.dialect.target()), str(conn.dialect.token)]
    sim.close_with(4001, "Invalid or expired JWT")
    await conn.wait_for_state(State.FAILED, timeout=seconds(5))
    with pytest.raises(ConnectionFailed) as failure:
        await conn.wait_connected(timeout=1)
    texts += [str(failure.value), repr(failure.value), conn.reason, str(conn.stats.as_dict())]
    texts += [c.reason for c in conn.history]
    await conn.close()
    records = [r.getMessage() + str(r.args) for r in caplog.records]
    assert any("GET /stream?token=***" in r for r in records), "wire log expected at DEBUG"
    for text in texts + records:
        assert token not in text
        assert token[:40] not in text


async def test_close_leaves_no_task_or_socket_behind(sim):
    """After close(), no task of the connection runs and the server sees the socket closed."""
    before = {t for t in asyncio.all_tasks() if not t.done()}
    conn = await started(make(sim))
    await eventually(lambda: len(conn.buffer) >= 3)
    await conn.close()

    def running() -> set[asyncio.Task]:
        return {t for t in asyncio.all_tasks() if not t.done()} - before

    # The connection's own tasks end within close(); the simulator's handler, on this loop
    # too, ends once it has seen the close (later on a loaded machine).
    ours = {t for t in running() if "streamwidgets" in t.get_coro().__qualname__ + str(t)}
    assert not {t for t in ours if "simulators" not in str(t)}, ours
    assert conn.state is State.CLOSED
    await eventually(lambda: sim.connections_open == 0)
    await eventually(lambda: not running())
    gc.collect()


async def test_unreachable_server_gives_up_after_max_attempts():
    """A server that is gone: bounded retries, then failed with the reason."""
    feed = feeds.hydra("ws://127.0.0.1:9/stream", token="t.t.t")
    conn = Connection(feed, backoff=Backoff(initial=0.01, maximum=0.02), max_attempts=3)
    conn.start()
    with pytest.raises(
        ConnectionFailed, match="gave up after 3 attempts; last: server unreachable"
    ):
        await conn.wait_connected(timeout=seconds(5))
    assert sum(1 for c in conn.history if c.state is State.RECONNECTING) == 2
    await conn.close()


async def test_headless_open_iterates_events_and_exposes_the_buffer(sim):
    """streamwidgets.open: async with connects, async for yields events, the buffer holds them."""
    feed = feeds.hydra(sim.url, token=sim.issue_token(), heartbeat_interval=HEARTBEAT)
    async with streamwidgets.open(feed, streams=["signals", "markets"], max_rows=1000) as stream:
        assert stream.state is State.CONNECTED
        seen = []
        async for event in stream:
            seen.append(event)
            if len(seen) == 20:
                break
        assert {e.stream for e in seen} <= {"signals", "markets"}
        assert len(stream.df) >= 20
        assert stream.stats.events >= 20
    assert stream.state is State.CLOSED


async def test_headless_open_raises_on_refused_token(sim):
    """open() with a refused token raises AuthenticationFailed from async with."""
    feed = feeds.hydra(sim.url, token="not-a-jwt", heartbeat_interval=HEARTBEAT)
    with pytest.raises(AuthenticationFailed):
        async with streamwidgets.open(feed, streams=["signals"]):
            pass


async def test_an_unexpected_error_in_a_dialect_reconnects_instead_of_killing_the_task(sim):
    """An exception from a dialect's pre-connect step is reported and retried, not fatal."""
    from streamwidgets.dialects.hydra import HydraDialect

    class Flaky(HydraDialect):
        calls = 0

        async def prepare(self):
            Flaky.calls += 1
            if Flaky.calls == 1:
                raise RuntimeError("boom")

    conn = Connection(Flaky(sim.url, token=sim.issue_token()), streams=["signals"], backoff=FAST)
    conn.start()
    try:
        await conn.wait_connected(timeout=seconds(5))
        assert any("unexpected error: RuntimeError: boom" in c.reason for c in conn.history)
        await eventually(lambda: len(conn.buffer) >= 1)
    finally:
        await conn.close()


async def test_failed_first_attempts_are_not_counted_as_reconnects(sim):
    """Attempts that fail before any connect leave reconnects at 0 and mark no gap."""
    from streamwidgets.dialects.hydra import HydraDialect

    class LateServer(HydraDialect):
        calls = 0

        async def prepare(self):
            LateServer.calls += 1
            if LateServer.calls <= 2:
                raise OSError("connection refused")

    conn = Connection(
        LateServer(sim.url, token=sim.issue_token()), streams=["signals"], backoff=FAST
    )
    conn.start()
    try:
        await conn.wait_connected(timeout=seconds(5))
        assert conn.stats.reconnects == 0 and conn.stats.connects == 1
        assert list(conn.buffer.markers["kind"]) == ["connected"]
    finally:
        await conn.close()
