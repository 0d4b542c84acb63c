"""A long outage is not a failure; only refusals end a connection; a slow consumer costs the
buffer nothing. Real servers on loopback, time scaled (one simulated minute = 0.2 s)."""

from __future__ import annotations

import asyncio
import dataclasses
import socket
import time

import pytest
from websockets.asyncio.server import serve

import streamwidgets
from streamwidgets import Gap, feeds
from streamwidgets.connection.backoff import Backoff
from streamwidgets.connection.dialect import Keepalive
from streamwidgets.connection.driver import Connection, State
from streamwidgets.dialects.generic import GenericDialect
from streamwidgets.dialects.hydra import HydraDialect
from streamwidgets.exceptions import AuthenticationFailed, ConnectionFailed
from streamwidgets.simulators.axol import AxolSimulator
from streamwidgets.simulators.hydra import HydraSimulator
from streamwidgets.simulators.pusher import PusherSimulator
from tests.support.waiting import eventually, seconds

#: Simulated seconds per real second: one simulated minute is 0.2 s.
SCALE = 1 / 300
#: The default backoff (0.5 s doubling to a 60 s cap), in scaled time.
SCALED_BACKOFF = {"initial": 0.5 * SCALE, "maximum": 60 * SCALE}
HYDRA_SECRET = "outage-secret"


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def reconnecting_reasons(conn: Connection) -> list[str]:
    return [c.reason for c in conn.history if c.state is State.RECONNECTING]


async def test_a_strict_server_down_for_15_minutes_is_rejoined_within_one_backoff_cap():
    """The server is gone for 15 simulated minutes: the client keeps trying (never failed,
    the state says for how long), and is connected and resubscribed within one backoff
    cap (60 simulated seconds) of the server's return."""
    port = free_port()
    sim = HydraSimulator(port=port, secret=HYDRA_SECRET, rate=100.0, heartbeat_interval=0.5)
    await sim.start()
    token = sim.issue_token(streams=["signals", "markets"])
    conn = Connection(
        feeds.hydra(sim.url, token=token, heartbeat_interval=0.5),
        streams=["signals", "markets"],
        backoff=Backoff(**SCALED_BACKOFF),
        healthy_after=0.05,
    )
    conn.start()
    try:
        await conn.wait_connected(timeout=seconds(5))
        await sim.stop()
        await asyncio.sleep(15 * 60 * SCALE)  # 15 simulated minutes
        assert conn.state is State.RECONNECTING
        reasons = reconnecting_reasons(conn)
        assert "down for 3 s" in reasons[-1] and f"attempt {len(reasons)}," in reasons[-1]
        # No storm: after the first doublings every wait is at least half the cap.
        assert len(reasons) < 15 * 60 * SCALE / (SCALED_BACKOFF["maximum"] / 2) + 12

        back = HydraSimulator(port=port, secret=HYDRA_SECRET, rate=100.0, heartbeat_interval=0.5)
        await back.start()
        returned = time.monotonic()
        try:
            await conn.wait_for_state(State.CONNECTED, timeout=seconds(5))
            rejoined = time.monotonic() - returned
            assert rejoined <= SCALED_BACKOFF["maximum"] + seconds(0.1)
            command = await back.wait_for_command("subscribe", timeout=seconds(5))
            assert command["streams"] == ["signals", "markets"]
            mark = conn.buffer.last_seq
            await eventually(lambda: set(conn.buffer.since(mark)[0]["stream"]) == {
                "signals", "markets",
            })  # fmt: skip
            assert conn.stats.reconnects == 1
            markers = conn.buffer.markers
            gap = markers[markers["kind"] == "gap"].iloc[-1]
            assert (gap["until"] - gap["time"]).total_seconds() >= 15 * 60 * SCALE
        finally:
            await conn.close()
            await back.stop()
    finally:
        await conn.close()


async def test_a_flapping_server_never_ends_the_connection():
    """A server that drops every connection moments after it opens: 40 drops and still
    reconnecting, every reconnect counted (once, max_attempts=30 ended it)."""
    async with HydraSimulator(rate=1000.0, drop_after=3) as sim:
        conn = Connection(
            feeds.hydra(sim.url, token=sim.issue_token()),
            streams=["signals"],
            backoff=Backoff(initial=0.001, maximum=0.005),
            healthy_after=5.0,
        )
        conn.start()
        try:
            await eventually(lambda: conn.stats.reconnects >= 40, timeout=20)
            assert conn.state is not State.FAILED
        finally:
            await conn.close()


async def test_giving_up_is_opt_in():
    """By default an unreachable server is retried for ever; max_attempts and
    give_up_after end it, each saying which bound ran out."""
    url = f"ws://127.0.0.1:{free_port()}/stream"
    quick = Backoff(initial=0.01, maximum=0.02)
    patient = Connection(feeds.hydra(url, token="t.t.t"), backoff=quick)
    patient.start()
    await asyncio.sleep(seconds(1))
    # More attempts than the 30 that used to end it, and still trying.
    assert patient.state is State.RECONNECTING and len(reconnecting_reasons(patient)) > 40
    assert "server unreachable: " in patient.reason and "down for" in patient.reason
    await patient.close()

    counted = Connection(feeds.hydra(url, token="t.t.t"), backoff=quick, max_attempts=3)
    counted.start()
    with pytest.raises(ConnectionFailed, match="gave up after 3 attempts; last: server"):
        await counted.wait_connected(timeout=seconds(5))
    timed = Connection(feeds.hydra(url, token="t.t.t"), backoff=quick, give_up_after=0.3)
    timed.start()
    began = time.monotonic()
    with pytest.raises(ConnectionFailed, match=r"down \(give_up_after\)"):
        await timed.wait_connected(timeout=seconds(5))
    assert 0.3 <= time.monotonic() - began < seconds(1.5)
    with pytest.raises(Exception, match="give_up_after"):
        Connection(feeds.hydra(url, token="t.t.t"), give_up_after=float("nan"))


@pytest.mark.parametrize("how", ["close 1000", "abort"])
async def test_hyperoru_closed_at_once_after_every_connect_is_a_refused_token(how):
    """The document: a bad token is closed at once. A server that closes every connection
    right after opening (1000, or no close frame) is a refusal after 3 attempts, not a
    reconnect storm."""
    opened = []

    async def refuse(ws):
        opened.append(time.monotonic())
        if how == "abort":
            ws.transport.abort()
        else:
            await ws.close(1000)

    async with serve(refuse, "127.0.0.1", 0) as server:
        port = server.sockets[0].getsockname()[1]
        feed = feeds.hyperoru(f"ws://127.0.0.1:{port}/ws", session_token="hyo_bad_token_12345")
        conn = Connection(feed, backoff=Backoff(initial=0.01, maximum=0.02))
        conn.start()
        with pytest.raises(AuthenticationFailed, match="3 connections in a row"):
            await conn.wait_connected(timeout=seconds(10))
        assert len(opened) == 3
        await conn.close()


async def test_axol_refusing_every_new_token_right_after_the_welcome_stops_after_two():
    """A server that answers 1008 right after greeting each new token: two exchanges, then
    the connection stops as refused, instead of minting a token before every reconnect."""
    key = "axol_sim_refuser_0123456789"
    async with AxolSimulator(api_keys={key: "starter"}) as sim:
        feed = feeds.axol(sim.url, api_key=key, rest_url=sim.rest_url)
        conn = Connection(feed, backoff=Backoff(initial=0.01, maximum=0.02), healthy_after=0.05)
        conn.start()
        refused = conn.on_state(
            lambda change: sim.expire_tokens() if change.state is State.CONNECTED else None
        )
        with pytest.raises(AuthenticationFailed, match="twice in a row with new tokens"):
            await conn.wait_for_state(State.FAILED, timeout=seconds(5))
            conn._raise_if_ended()
        refused()
        assert sim.exchanges == [200, 200]
        await conn.close()


async def test_a_server_that_opens_but_never_greets_says_so():
    """No welcome within open_timeout is said in those words, not 'server unreachable'."""
    async with HydraSimulator() as sim:
        sim.go_silent()
        conn = Connection(
            feeds.hydra(sim.url, token=sim.issue_token()),
            open_timeout=0.3,
            backoff=Backoff(initial=0.5, maximum=1),
        )
        conn.start()
        await conn.wait_for_state(State.RECONNECTING, timeout=seconds(5))
        assert conn.reason.startswith("no welcome within 0.3 s; down for")
        await conn.close()


async def test_pusher_asks_for_haste_but_a_server_that_keeps_closing_gets_backoff():
    """4200 means 'reconnect at once' after a connection that was up; when the server
    closes every connection, the waits grow as usual (no storm)."""
    async with PusherSimulator(tokens={"sk_sim_haste_012345": "u1"}) as sim:
        feed = feeds.pusher(sim.base_url, token="sk_sim_haste_012345")
        conn = Connection(feed, backoff=Backoff(initial=0.05, maximum=0.4), healthy_after=10)
        conn.start()
        stop = conn.on_state(
            lambda change: sim.close_connections(4200) if change.state is State.CONNECTED else None
        )
        await asyncio.sleep(seconds(2))
        stop()
        waits = [float(r.rsplit("next in ", 1)[1].split()[0]) for r in reconnecting_reasons(conn)]
        assert waits[0] == 0.0 and all(w > 0 for w in waits[1:])
        assert len(waits) < 20
        await conn.close()


# -- a slow consumer ---------------------------------------------------------------------------


async def test_a_slow_consumer_loses_nothing_from_the_buffer_and_is_told_what_it_skipped():
    """400 events/s, a consumer reading 50/s through a 200-event queue: the connection
    stays up, the buffer holds every event sent, and the iteration shows Gaps whose
    counts add up to what it skipped."""
    async with HydraSimulator(rate=400.0, limit=1200) as sim:
        feed = feeds.hydra(sim.url, token=sim.issue_token(streams=["signals"]))
        async with streamwidgets.open(feed, streams=["signals"], queue_size=200) as stream:
            read, skipped = 0, 0
            async for item in stream:
                if isinstance(item, Gap):
                    skipped += item.dropped
                    assert item.type == "gap" and item.from_ns <= item.until_ns
                else:
                    read += 1
                await asyncio.sleep(1 / 50)
                if read + skipped >= 1200:
                    break
            assert stream.stats.connects == 1 and stream.stats.reconnects == 0
            assert skipped > 500 and stream.dropped == skipped
            sent = sum(1 for n, *_ in sim.sent if n == 1)
            assert sent == 1200 and len(stream.df) == 1200


class _EagerPinger(HydraDialect):
    """Hydra with the client's protocol pings every 0.1 s: a pong unread for longer would
    make websockets close the connection itself (1011 keepalive ping timeout)."""

    def keepalive(self) -> Keepalive:
        return dataclasses.replace(super().keepalive(), protocol_ping_interval=0.1)


@pytest.mark.parametrize("policy", ["drop_oldest", "block"])
async def test_a_slow_consumer_never_makes_the_client_close_the_connection(policy):
    """Protocol pings every 0.1 s and heartbeats every 0.1 s, a consumer that stalls for 1 s:
    whatever the policy, the client neither times out its own ping nor declares the server
    dead (the keepalive that used to end such a connection with 1011)."""
    async with HydraSimulator(rate=200.0, heartbeat_interval=0.1) as sim:
        feed = _EagerPinger(sim.url, token=sim.issue_token(), heartbeat_interval=0.1)
        async with streamwidgets.open(
            feed, streams=["signals"], queue_size=20, on_overflow=policy
        ) as stream:
            count = 0
            async for _ in stream:
                count += 1
                if count == 10:
                    await asyncio.sleep(1.0)
                if count == 100:
                    break
            assert stream.stats.connects == 1 and stream.stats.reconnects == 0
            assert stream.connection.state is State.CONNECTED


async def test_a_blocking_consumer_gets_every_event_and_the_client_never_closes_for_it():
    """on_overflow="block": every event in order, no Gap; while the consumer makes the
    reader wait, the client's own liveness checks hold back (heartbeats every 0.1 s, yet
    a 1 s wait does not declare the connection dead)."""
    async with HydraSimulator(rate=300.0, limit=600, heartbeat_interval=0.1) as sim:
        feed = feeds.hydra(
            sim.url, token=sim.issue_token(streams=["signals"]), heartbeat_interval=0.1
        )
        async with streamwidgets.open(
            feed, streams=["signals"], queue_size=20, on_overflow="block"
        ) as stream:
            seen = []
            async for item in stream:
                assert not isinstance(item, Gap)
                seen.append(item.data["id"])
                if len(seen) == 40:
                    await asyncio.sleep(1.0)  # three missed heartbeats' worth, and more
                if len(seen) == 600:
                    break
            assert stream.stats.reconnects == 0 and stream.stats.consumer_waits > 0
            assert seen == list(stream.df["data.id"])


# -- the client closes it: the state names the code it sent -----------------------------------


class _QuickPings(GenericDialect):
    """The generic dialect with WebSocket pings every 0.2 s (20 s normally)."""

    def keepalive(self) -> Keepalive:
        return dataclasses.replace(super().keepalive(), protocol_ping_interval=0.2)


async def test_a_protocol_error_says_the_client_closed_with_1002():
    """A server frame with a reserved opcode (RFC 6455 5.2): the client fails the
    connection with 1002, and the state says so instead of "connection lost"."""

    done = asyncio.Event()

    async def handler(ws):
        await ws.send('{"type": "t", "v": 1}')
        ws.transport.write(b"\x83\x00")  # FIN + opcode 0x3, reserved
        await done.wait()

    async with serve(handler, "127.0.0.1", 0) as server:
        port = server.sockets[0].getsockname()[1]
        conn = Connection(
            feeds.generic(f"ws://127.0.0.1:{port}/"), backoff=Backoff(initial=5, maximum=5)
        )
        conn.start()
        try:
            await eventually(lambda: reconnecting_reasons(conn), timeout=seconds(5))
            reason = reconnecting_reasons(conn)[0]
            assert reason.startswith("closed by the client (1002"), reason
            assert "connection lost" not in reason
            assert conn.stats.events == 1
        finally:
            done.set()
            await conn.close()


async def test_an_unanswered_keepalive_ping_says_the_client_closed_with_1011():
    """A server that stops reading (so never answers a ping): the client's keepalive ping
    times out, it closes with 1011, and the state says so."""

    done = asyncio.Event()

    async def handler(ws):
        await ws.send('{"type": "t", "v": 1}')
        ws.transport.pause_reading()  # pings stay unread, no pong ever goes back
        await done.wait()

    async with serve(handler, "127.0.0.1", 0, ping_interval=None, close_timeout=0.5) as server:
        port = server.sockets[0].getsockname()[1]
        conn = Connection(
            _QuickPings(f"ws://127.0.0.1:{port}/"), backoff=Backoff(initial=5, maximum=5)
        )
        conn.start()
        try:
            await eventually(lambda: reconnecting_reasons(conn), timeout=seconds(5))
            reason = reconnecting_reasons(conn)[0]
            assert reason.startswith("closed by the client (1011"), reason
            assert "keepalive" in reason
        finally:
            done.set()
            await conn.close()
