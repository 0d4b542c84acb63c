"""Properties measured once by hand, kept as tests anyone can rerun: drops lose nothing
outside a gap, a half-open server is caught on each document's own clock, refused
credentials cost exactly one attempt, and a widget's life leaves nothing running."""

from __future__ import annotations

import asyncio
import os
import random
import threading
import time

import pytest

from streamwidgets import StreamWidget, feeds
from streamwidgets.connection.backoff import Backoff
from streamwidgets.connection.driver import Connection, State
from streamwidgets.simulators.axol import AxolSimulator
from streamwidgets.simulators.hydra import HydraSimulator
from streamwidgets.simulators.hydra_v1 import HydraV1Simulator
from streamwidgets.simulators.hyperoru import HyperoruSimulator
from streamwidgets.simulators.pusher import PusherSimulator
from tests.support.waiting import eventually, seconds

FAST = {"backoff": Backoff(initial=0.01, maximum=0.05), "healthy_after": 0.05}


async def test_random_drops_lose_nothing_outside_the_gap_and_duplicate_nothing():
    """20 drops at random points: 20 reconnects; per connection, what arrived is exactly
    the start of what the server sent on it (only the in-flight tail of a dropped
    connection is missing, inside its marked gap), and no event arrives twice."""
    rng = random.Random(7)
    async with HydraSimulator(rate=2000.0, seed=3) as sim:
        conn = Connection(
            feeds.hydra(sim.url, token=sim.issue_token()), streams=["signals"], **FAST
        )
        conn.start()
        await conn.wait_connected(timeout=seconds(5))
        for drop in range(20):
            await eventually(lambda drop=drop: conn.stats.connects == drop + 1)
            sim.drop_after(rng.randint(1, 200))
        await eventually(lambda: conn.stats.reconnects == 20, timeout=30)
        await asyncio.sleep(0.2)
        await conn.close()
    seqs = [int(v) for v in conn.buffer.df["data.seq"]]
    assert len(seqs) == len(set(seqs)), "an event arrived twice"
    sent_on: dict[int, list[int]] = {}
    for number, seq, *_ in sim.sent:
        sent_on.setdefault(number, []).append(seq)
    received = set(seqs)
    for number, sent in sent_on.items():
        got = [s for s in sent if s in received]
        assert got == sent[: len(got)], f"connection {number} lost events before its end"
    gaps = (conn.buffer.markers["kind"] == "gap").sum()
    assert gaps == 20 and conn.stats.reconnects == 20


HALF_OPEN = {
    # feed style: (simulator, feed, connection streams, silence, the document's rule in s)
    "hydra": (
        lambda: HydraSimulator(rate=50.0, heartbeat_interval=0.2),
        lambda sim: feeds.hydra(sim.url, token=sim.issue_token(), heartbeat_interval=0.2),
        ["signals"],
        lambda sim: sim.go_silent(),
        0.6,  # three missed heartbeats
    ),
    "hydra-v1": (
        lambda: HydraV1Simulator(
            api_keys={"hydra_k1_p": ["signals"]}, rate=0.01, ping_interval=0.1
        ),
        lambda sim: feeds.hydra_v1(sim.url, api_key="hydra_k1_p", ping_timeout=0.6, snapshot=False),
        [],
        lambda sim: sim.stop_pings(),
        0.6,  # no ping for ping_timeout (three of the server's pings)
    ),
    "axol": (
        lambda: AxolSimulator(api_keys={"axol_p": "starter"}),
        lambda sim: feeds.axol(
            sim.url, api_key="axol_p", rest_url=sim.rest_url, ping_interval=0.2, missed_pongs=3
        ),
        [],
        lambda sim: sim.stop_pongs(),
        0.6,  # missed_pongs ping intervals
    ),
    "pusher": (
        lambda: PusherSimulator(tokens={"sk_p_0123456789": "u1"}, activity_timeout=0.3),
        lambda sim: feeds.pusher(sim.base_url, token="sk_p_0123456789", pong_timeout=0.3),
        [],
        lambda sim: sim.mute(),
        0.6,  # activity_timeout, then the pong timeout
    ),
    "hyperoru": (
        lambda: HyperoruSimulator(session_tokens=["hyo_p_0123456789"]),
        lambda sim: feeds.hyperoru(
            sim.url, session_token="hyo_p_0123456789", ping_interval=0.2, missed_pongs=3
        ),
        [],
        lambda sim: sim.stop_pongs(),
        0.6,  # missed_pongs ping intervals
    ),
}


@pytest.mark.parametrize("style", list(HALF_OPEN))
async def test_a_half_open_server_is_caught_on_the_documents_clock(style):
    """The server keeps the socket but says nothing: the connection is declared dead no
    sooner than the document's rule allows and within 10% (plus one watchdog tick) of it,
    counted from the last frame, and then reconnects."""
    make_sim, make_feed, streams, silence, rule = HALF_OPEN[style]
    async with make_sim() as sim:
        conn = Connection(make_feed(sim), streams=streams, **FAST)
        conn.start()
        await conn.wait_connected(timeout=seconds(5))
        await asyncio.sleep(0.3)
        silence(sim)
        await conn.wait_for_state(State.RECONNECTING, timeout=seconds(5))
        declared = time.time_ns()
        waited = (declared - conn.last_life_ns) / 1e9
        assert rule * 0.95 <= waited <= rule * 1.1 + seconds(0.15), waited
        assert "presumed dead" in conn.reason or "no " in conn.reason
        await conn.close()


REFUSED = {
    "hydra": (
        lambda: HydraSimulator(),
        lambda sim: feeds.hydra(sim.url, token="bad.jwt.token"),
        lambda sim: sim.connections_total,
    ),
    "hydra-v1 (1008)": (
        lambda: HydraV1Simulator(),
        lambda sim: feeds.hydra_v1(sim.url, api_key="hydra_k1_wrong"),
        lambda sim: len(sim.connections),
    ),
    "hydra-v1 (HTTP 401)": (
        lambda: HydraV1Simulator(answer_bad_key="http401"),
        lambda sim: feeds.hydra_v1(sim.url, api_key="hydra_k1_wrong"),
        lambda sim: len(sim.connections),
    ),
    "axol": (
        lambda: AxolSimulator(),
        lambda sim: feeds.axol(sim.url, api_key="axol_wrong", rest_url=sim.rest_url),
        lambda sim: len(sim.exchanges) + len(sim.connections),
    ),
    "pusher": (
        lambda: PusherSimulator(),
        lambda sim: feeds.pusher(sim.base_url, token="sk_wrong_0123456789"),
        lambda sim: len(sim.rest_calls) + len(sim.connections),
    ),
    "hyperoru": (
        lambda: HyperoruSimulator(),
        lambda sim: feeds.hyperoru(sim.url, session_token="hyo_wrong_0123456789"),
        lambda sim: len(sim.connections),
    ),
}


@pytest.mark.parametrize("style", list(REFUSED))
async def test_refused_credentials_cost_exactly_one_attempt(style):
    """A refused credential stops the connection after one attempt (one upgrade, or one
    REST call that refused it), counted on the server side, over a second of watching."""
    make_sim, make_feed, attempts = REFUSED[style]
    async with make_sim() as sim:
        conn = Connection(make_feed(sim), **FAST)
        conn.start()
        await conn.wait_for_state(State.FAILED, timeout=seconds(5))
        await asyncio.sleep(seconds(1))
        assert attempts(sim) == 1
        assert conn.state is State.FAILED and conn.stats.connects == 0
        await conn.close()


def _open_fds() -> int:
    return len(os.listdir("/proc/self/fd"))


async def test_a_widgets_life_leaves_no_task_socket_or_thread(recorded):
    """Twenty widgets made, connected and closed: the same tasks, file descriptors and
    threads as before (the simulator's own socket aside)."""
    async with HydraSimulator(rate=200.0) as sim:
        token = sim.issue_token()
        await asyncio.sleep(0.1)
        tasks, fds, threads = len(asyncio.all_tasks()), _open_fds(), threading.active_count()
        for _ in range(20):
            w = StreamWidget(feeds.hydra(sim.url, token=token), streams=["signals"])
            await w.wait_async(state="connected", timeout=seconds(5))
            await w.aclose()
        await asyncio.sleep(0.3)  # the server side finishes its half of each close
        assert len(asyncio.all_tasks()) <= tasks
        assert _open_fds() <= fds
        assert threading.active_count() <= threads
