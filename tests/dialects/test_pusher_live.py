"""The Pusher-compatible stream on loopback: REST bootstrap, connection, simulator and widget."""

from __future__ import annotations

import asyncio
import logging
import time
from urllib.parse import urlsplit

import comm
import httpx
import orjson
import pytest

from streamwidgets import StreamWidget, feeds
from streamwidgets._util.secret import Secret
from streamwidgets.connection.backoff import Backoff
from streamwidgets.connection.driver import Connection, State
from streamwidgets.dialects.pusher.bootstrap import ChannelAuth
from streamwidgets.exceptions import AuthenticationFailed, SubscriptionRefused
from streamwidgets.simulators.pusher import PusherSimulator
from tests.support.comms import RecordingComm
from tests.support.feed_inputs import PUSHER_TOKEN as TOKEN
from tests.support.waiting import eventually, seconds, started
from tests.support.widgets import assert_never_sent, from_browser

OTHER = "sk_sim_othertoken0123456789abc"


@pytest.fixture
async def sim(profile):
    tokens = {TOKEN: "u1", OTHER: "u2"}
    async with PusherSimulator(tokens=tokens, rate=100.0, seed=2, profile=profile) as simulator:
        yield simulator


def make(sim, *, token=TOKEN, streams=(), feed_streams=None, **options):
    feed_options = {
        k: options.pop(k)
        for k in ("activity_timeout", "pong_timeout", "reconnect_delay")
        if k in options
    }
    feed = feeds.pusher(sim.base_url, token=token, streams=feed_streams, **feed_options)
    options.setdefault("backoff", Backoff(initial=0.05, maximum=0.2))
    options.setdefault("healthy_after", 0.05)
    return Connection(feed, streams=list(streams), **options)


# -- bootstrap, catalog, subscriptions over loopback ----------------------------------------


async def test_rest_and_websocket_have_their_own_ports_and_stop_together():
    """Both ports are known at start; REST answers bad requests; stop closes both listeners."""
    simulator = PusherSimulator(tokens={TOKEN: "u1"})
    task = simulator.start_background()  # on this loop: both sockets are bound already
    assert task is not None
    rest_port, ws_port = int(simulator.base_url.rsplit(":", 1)[1]), simulator.port
    assert rest_port != ws_port
    await task
    auth = {"Authorization": f"Bearer {TOKEN}"}
    async with httpx.AsyncClient(base_url=simulator.base_url, trust_env=False) as http:
        assert (await http.get("/api/v2/ws/streams", headers=auth)).status_code == 200
        assert (await http.get("/api/v2/ws/nope", headers=auth)).status_code == 404
        assert (await http.get("/api/v2/ws/session", headers=auth)).status_code == 405
        session = (await http.post("/api/v2/ws/session", headers=auth, json={})).json()
    assert (session["connection"]["wsHost"], session["connection"]["wsPort"]) == (
        "127.0.0.1",
        ws_port,
    )
    reader, writer = await asyncio.open_connection("127.0.0.1", rest_port)
    writer.write(b"not http\r\n\r\n")
    assert (await reader.read()).startswith(b"HTTP/1.1 400 ")
    writer.close()
    await writer.wait_closed()
    assert [c[2] for c in simulator.rest_calls] == [200, 404, 405, 200]
    await simulator.stop()
    for port in (rest_port, ws_port):
        with pytest.raises(OSError):
            await asyncio.open_connection("127.0.0.1", port)


async def test_bootstrap_catalog_and_url(sim):
    """The catalog becomes available_streams; the session gives the socket URL and app key."""
    conn = await started(make(sim, feed_streams=["prices"]))
    try:
        assert conn.available_streams == ["prices", "trades", "signals", "portfolio", "automation"]
        url = conn.dialect.target().url
        # The socket's port comes from the session: it is not the REST port of base_url.
        assert not sim.base_url.endswith(f":{sim.port}")
        assert url.startswith(f"ws://127.0.0.1:{sim.port}/app/sim-app-key?protocol=7&client=")
        assert [c[:2] for c in sim.rest_calls] == [
            ("GET", "/api/v2/ws/streams"),
            ("POST", "/api/v2/ws/session"),
        ]
        assert conn.dialect.session.channels == {"prices": "market-prices"}
        assert conn.dialect.channel_of("portfolio") == "presence-portfolio-u1"
    finally:
        await conn.close()


async def test_public_and_presence_subscriptions_carry_events_and_unsubscribe(sim):
    """Events get the stream name; presence is signed; unsubscribe stops the channel."""
    conn = await started(make(sim, streams=["prices", "portfolio"]))
    try:

        def portfolio_types():
            df = conn.buffer.to_dataframe()
            return set(df[df.stream == "portfolio"].type) if not df.empty else set()

        # The member rows come with the subscribe's answer, the updates after it.
        await eventually(lambda: {"member", "position_update"} <= portfolio_types())
        await eventually(lambda: "prices" in set(conn.buffer.to_dataframe()["stream"]))
        df = conn.buffer.to_dataframe()
        assert set(df[df.stream == "prices"].type) == {"price_update"}
        assert set(df[df.stream == "portfolio"].type) >= {"member", "position_update"}
        sub = [c["data"] for c in sim.events_of("pusher:subscribe")]
        presence = next(s for s in sub if s["channel"] == "presence-portfolio-u1")
        assert presence["auth"].startswith("sim-app-key:") and "u1" in presence["channel_data"]
        assert "auth" not in next(s for s in sub if s["channel"] == "market-prices")
        await conn.unsubscribe(["prices"])
        await eventually(lambda: sim.events_of("pusher:unsubscribe"))
        await asyncio.sleep(0.1)
        seen = len(conn.buffer.to_dataframe())
        await asyncio.sleep(0.3)
        tail = conn.buffer.to_dataframe().iloc[seen:]
        assert len(tail) > 0 and "prices" not in set(tail.stream)
    finally:
        await conn.close()


async def test_wrong_signature_is_refused_and_another_users_channel_too(sim):
    """The server checks the HMAC: a bad auth is refused (Pusher's pusher:error, strict; a
    subscription_error naming the channel, lenient); an auth 403 rejects before sending."""
    conn = await started(make(sim))
    try:
        channel = conn.dialect.channel_of("portfolio")
        conn.dialect._auths[channel] = ChannelAuth(Secret("sim-app-key:" + "0" * 64), None)
        with pytest.raises(SubscriptionRefused, match=r"portfolio: .*Invalid signature"):
            await conn.subscribe(["portfolio"])
        assert "portfolio" not in conn.subscriptions
        conn.dialect.session.channels["automation"] = "presence-automation-u2"
        with pytest.raises(SubscriptionRefused) as refused:
            await conn.subscribe(["automation"])
        assert "HTTP 403" in refused.value.rejected["automation"]
        assert ("POST", "/api/v2/ws/auth", 403) in sim.rest_calls
    finally:
        await conn.close()


async def test_member_events_reach_the_buffer_and_members(sim):
    """Presence members from subscription_succeeded, member_added and member_removed are kept."""
    conn = await started(make(sim, streams=["portfolio"]))
    other = await started(make(sim, token=OTHER, streams=["portfolio"]))
    try:
        await eventually(
            lambda: conn.dialect.members.get("portfolio") == {"u1": {"name": "User u1"}}
        )
        channel = sim.channel("portfolio")
        sim.add_member(channel, "bot-7", {"name": "Rebalancer"})
        await eventually(lambda: "bot-7" in conn.dialect.members["portfolio"])
        sim.remove_member(channel, "bot-7")
        await eventually(lambda: "bot-7" not in conn.dialect.members["portfolio"])
        types = list(conn.buffer.to_dataframe()["type"])
        assert types.index("member") < types.index("member_added") < types.index("member_removed")
        # u2's own presence channel is separate: u1 never sees it.
        assert set(other.dialect.members["portfolio"]) == {"u2"}
    finally:
        await conn.close()
        await other.close()


# -- liveness --------------------------------------------------------------------------------


async def test_client_pings_only_when_idle_and_answers_server_pings(sim):
    """No ping while data flows; a ping after activity_timeout of silence; pongs to the server."""
    sim.activity_timeout = 0.3  # the server pings a silent client after 0.3 s
    conn = await started(make(sim, streams=["prices"], activity_timeout=0.2, pong_timeout=1))
    try:
        await asyncio.sleep(0.6)
        assert not sim.events_of("pusher:ping")  # prices arrive every 10 ms
        await conn.unsubscribe(["prices"])
        await eventually(lambda: sim.events_of("pusher:ping"), timeout=2)
        await eventually(lambda: sim.events_of("pusher:pong"), timeout=2)
        assert conn.state is State.CONNECTED and not sim.closes
    finally:
        await conn.close()


async def test_silence_after_a_ping_is_a_dead_connection(sim):
    """A muted server: ping after activity_timeout, nothing within pong_timeout -> reconnect."""
    conn = await started(make(sim, activity_timeout=0.2, pong_timeout=0.3))
    try:
        sim.mute()
        started_at = time.monotonic()
        await conn.wait_for_state(State.RECONNECTING, timeout=seconds(3))
        assert 0.4 <= time.monotonic() - started_at < 2
        assert "presumed dead" in conn.reason
        sim.unmute()
        await conn.wait_for_state(State.CONNECTED, timeout=seconds(3))
        assert len(sim.connections) == 2 and conn.dialect.bootstraps == 2
    finally:
        await conn.close()


# -- close codes -------------------------------------------------------------------------------


async def test_4009_stops_as_an_auth_failure(sim):
    """4000-4099: no reconnect."""
    conn = await started(make(sim))
    sim.close_connections(4009, "Unauthorized")
    with pytest.raises(AuthenticationFailed, match="4009"):
        await conn.wait_for_state(State.FAILED, timeout=seconds(3))
        await conn.wait_connected(timeout=1)
    await asyncio.sleep(0.2)
    assert len(sim.connections) == 1
    await conn.close()


async def test_4100_waits_a_second_and_4200_reconnects_at_once_with_a_new_bootstrap(sim):
    """4100-4199 wait >= 1 s; 4200-4299 reconnect at once; each attempt bootstraps again."""
    conn = await started(make(sim, streams=["prices"]))
    try:
        sim.close_connections(4100, "Over capacity")
        closed = time.monotonic()
        await eventually(lambda: len(sim.connections) == 2, timeout=4)
        assert time.monotonic() - closed >= 1.0
        await conn.wait_for_state(State.CONNECTED, timeout=seconds(2))
        sim.rotate_app_key("rotated-key")
        sim.close_connections(4200, "Restarting")
        closed = time.monotonic()
        await eventually(lambda: len(sim.connections) == 3, timeout=2)
        assert time.monotonic() - closed < 0.5
        assert sim.connections[-1][1:] == ("rotated-key", "accepted")
        assert conn.dialect.bootstraps == 3
        await eventually(lambda: len(sim.events_of("pusher:subscribe")) == 3)
    finally:
        await conn.close()


async def test_4301_reconnects_after_a_wait(sim):
    """4300-4399: reconnect, waiting like 4100-4199."""
    conn = await started(make(sim, reconnect_delay=0.3))
    sim.close_connections(4301, "Client event rate limit")
    await conn.wait_for_state(State.RECONNECTING, timeout=seconds(2))
    assert "4301" in conn.reason
    await conn.wait_for_state(State.CONNECTED, timeout=seconds(3))
    await conn.close()


async def test_bad_token_stops_at_the_bootstrap_without_a_storm(sim, caplog):
    """A refused Bearer token fails at once with a clear message and no retry."""
    bad = "sk_sim_not_a_valid_token_000000"
    conn = make(sim, token=bad)
    conn.start()
    with pytest.raises(AuthenticationFailed, match="Bearer token refused") as info:
        await conn.wait_connected(timeout=seconds(3))
    await asyncio.sleep(0.3)
    assert list(sim.rest_calls) == [("GET", "/api/v2/ws/streams", 401)]
    assert not sim.connections and conn.state is State.FAILED
    assert bad not in str(info.value) and bad not in caplog.text
    await conn.close()


async def test_no_secret_in_reprs_logs_exceptions_or_notices(sim, caplog):
    """Token and channel signatures stay out of every repr, log line and message."""
    caplog.set_level(logging.DEBUG)
    conn = await started(make(sim, streams=["portfolio", "prices"]))
    try:
        await eventually(lambda: "portfolio" in conn.dialect.members)
        signatures = [s.reveal() for s in conn.dialect.secrets()[1:]]
        assert signatures and signatures[0].startswith("sim-app-key:")
        sim.close_connections(4100, "Over capacity")
        await conn.wait_for_state(State.CONNECTED, State.RECONNECTING, timeout=seconds(2))
        texts = [
            caplog.text,
            repr(conn),
            repr(conn.dialect),
            str(list(conn.history)),
            str(list(conn.notices)),
            str(conn.dialect.describe()),
        ]
        for secret in [TOKEN, *signatures]:
            assert not any(secret in t for t in texts)
    finally:
        await conn.close()


# -- the widget ------------------------------------------------------------------------------


async def test_widget_shows_pusher_state_words_and_toggles_subscribe(monkeypatch, sim):
    """The badge gets Pusher's words; toggles subscribe on the server; no secret goes out."""
    monkeypatch.setattr(comm, "create_comm", RecordingComm)
    w = StreamWidget(
        feeds.pusher(sim.base_url, token=TOKEN),
        streams=["prices"],
        backoff=Backoff(initial=0.05, maximum=0.2),
    )
    try:
        await w.wait_async(state="connected", timeout=seconds(5))
        assert w.feed["states"]["connected"] == "Connected"
        assert set(w.feed["states"].values()) == {
            "Disconnected",
            "Connecting",
            "Connected",
            "Reconnecting",
            "Failed",
        }
        assert "portfolio" in w.available_streams
        from_browser(w, kind="subscribe", stream="portfolio")
        await eventually(lambda: "portfolio" in w.subscriptions and not w.pending)
        assert w.error == ""
        assert any(
            c["data"]["channel"] == "presence-portfolio-u1"
            for c in sim.events_of("pusher:subscribe")
        )
        from_browser(w, kind="unsubscribe", stream="prices")
        await eventually(lambda: sim.events_of("pusher:unsubscribe"))
        await asyncio.sleep(0.2)
        sent = orjson.dumps([m[2] for m in w.comm.sent], default=str).decode()
        assert "Connected" in sent  # the words reach the browser with the feed
        assert_never_sent(w, TOKEN, *(s.reveal() for s in w.connection.dialect.secrets()))
    finally:
        w.close()


def test_cli_runs_the_simulator_and_prints_what_a_client_needs():
    """`python -m streamwidgets sim pusher` prints base URL and token, and serves them."""
    import subprocess
    import sys

    command = [sys.executable, "-m", "streamwidgets", "sim", "pusher", "--port", "0"]
    process = subprocess.Popen(command, stdout=subprocess.PIPE, text=True)
    try:
        assert process.stdout is not None
        lines = [process.stdout.readline() for _ in range(5)]
        base = lines[0].split("REST ", 1)[1].split(",", 1)[0]
        socket_url = lines[0].split("WebSocket ", 1)[1].strip()
        token = lines[2].strip()
        assert base.startswith("http://127.0.0.1:") and token.startswith("sk_sim_")
        assert (
            urlsplit(socket_url).scheme == "ws" and urlsplit(socket_url).port != urlsplit(base).port
        )
        assert f"feeds.pusher({base!r}" in lines[3] and token not in lines[3]
        answer = httpx.get(
            f"{base}/api/v2/ws/streams", headers={"Authorization": f"Bearer {token}"}, timeout=5
        )
        assert answer.status_code == 200 and answer.json()["streams"][0]["name"] == "prices"
    finally:
        process.terminate()
        process.wait(timeout=10)
