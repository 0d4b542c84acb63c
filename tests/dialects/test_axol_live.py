"""The Axol channel stream on loopback: token exchange, connection, endpoints, simulator, widget."""

from __future__ import annotations

import asyncio
import logging
import subprocess
import sys
import time

import httpx
import pytest

from streamwidgets import feeds
from streamwidgets.connection.backoff import Backoff
from streamwidgets.connection.driver import Connection, State
from streamwidgets.exceptions import (
    AuthenticationFailed,
    ConfigurationError,
    ConnectionFailed,
    SubscriptionRefused,
)
from streamwidgets.simulators.axol import AxolSimulator
from tests.support.feed_inputs import AXOL_KEY as KEY
from tests.support.waiting import eventually, seconds, started

FREE = "axol_sim_freekey0123456789abcdef"


@pytest.fixture
async def sim(profile):
    keys = {KEY: "starter", FREE: "free"}
    async with AxolSimulator(api_keys=keys, rate=50.0, profile=profile) as simulator:
        yield simulator


def make(sim, *, api_key=KEY, streams=(), **options):
    feed_options = {
        k: options.pop(k)
        for k in ("ping_interval", "missed_pongs", "rate_limit_backoff", "exchange_timeout")
        if k in options
    }
    feed_options.setdefault("rate_limit_backoff", 0.2)
    feed = feeds.axol(sim.url, api_key=api_key, rest_url=sim.rest_url, **feed_options)
    options.setdefault("backoff", Backoff(initial=0.02, maximum=0.1, slow_initial=0.2))
    options.setdefault("healthy_after", 0.05)
    return Connection(feed, streams=list(streams), **options)


# -- over real sockets ----------------------------------------------------------------------


async def test_key_is_exchanged_once_and_the_stream_connects(sim):
    """One exchange gives a JWT; the socket carries it as ?token= and gets 'connected'."""
    conn = await started(make(sim))
    try:
        assert sim.exchanges == [200] and conn.dialect.exchanges == 1
        assert conn.available_streams[:4] == [
            "gas_prices",
            "blockchain_events",
            "alerts",
            "system_status",
        ]
        assert "gas_prices_ethereum" in conn.available_streams
        assert sim.connections[0].path == "/api/v1/ws/connect?token=***"
        assert sim.connections[0].outcome == "accepted"
        assert conn.dialect.token is not None
    finally:
        await conn.close()


async def test_a_bad_key_stops_after_one_exchange_without_a_storm(sim):
    """401 from the exchange fails the connection at once: no retry, no WebSocket attempt."""
    conn = make(sim, api_key="axol_sim_wrong")
    conn.start()
    with pytest.raises(AuthenticationFailed, match="API key refused"):
        await conn.wait_connected(timeout=seconds(5))
    await asyncio.sleep(seconds(0.3))
    assert sim.exchanges == [401] and len(sim.connections) == 0
    assert conn.state is State.FAILED
    await conn.close()


async def test_exchange_server_errors_are_retried_with_backoff(sim):
    """5xx answers of the exchange retry with the backoff, then connect."""
    sim.fail_exchanges(2, status=503)
    conn = await started(make(sim))
    try:
        assert sim.exchanges == [503, 503, 200]
        assert any("HTTP 503" in c.reason for c in conn.history)
    finally:
        await conn.close()


async def test_exchange_timeout_is_bounded_and_retried():
    """An exchange that never answers times out after exchange_timeout, then retries."""
    quiet = await asyncio.start_server(lambda r, w: None, "127.0.0.1", 0)
    port = quiet.sockets[0].getsockname()[1]
    feed = feeds.axol(
        "ws://127.0.0.1:9/api/v1/ws/connect",
        api_key=KEY,
        rest_url=f"http://127.0.0.1:{port}",
        exchange_timeout=0.1,
    )
    conn = Connection(feed, backoff=Backoff(initial=0.02, maximum=0.05), max_attempts=2)
    conn.start()
    started_at = time.monotonic()
    with pytest.raises(ConnectionFailed, match=r"no answer within 0\.1 s"):
        await conn.wait_connected(timeout=seconds(5))
    assert time.monotonic() - started_at < seconds(2)
    quiet.close()


async def test_token_expiry_refreshes_once_and_restores_subscriptions(sim):
    """A 1008 'Token expired' triggers exactly one exchange, a reconnect and resubscription."""
    conn = await started(make(sim, streams=["gas_prices_ethereum"]))
    try:
        await eventually(lambda: conn.stats.events >= 3)
        first = conn.dialect.token
        sim.expire_tokens()
        await eventually(lambda: conn.stats.reconnects == 1 and conn.state is State.CONNECTED)
        await eventually(lambda: len(sim.commands_of("subscribe")) == 2)
        assert sim.exchanges == [200, 200] and conn.dialect.token != first
        assert sim.commands_of("subscribe")[-1]["channels"] == ["gas_prices_ethereum"]
        assert any(c.code == 1008 and "new token" in c.reason for c in conn.history)
        before = conn.stats.events
        await eventually(lambda: conn.stats.events > before + 3)
        assert sim.exchanges == [200, 200]
    finally:
        await conn.close()


async def test_an_open_connection_is_closed_when_its_token_runs_out():
    """The simulator closes with 1008 at the token's expiry; the client refreshes and goes on.

    (The fresh token lives as short: the check must come before it too expires, which the
    client would then take for a refusal, so the lifetime leaves a loaded machine time.)"""
    async with AxolSimulator(api_keys={KEY: "starter"}, token_ttl=2, rate=20) as sim:
        conn = await started(make(sim))
        try:
            await eventually(lambda: conn.stats.reconnects >= 1, timeout=6)
            await conn.wait_for_state(State.CONNECTED, timeout=seconds(3))
            assert (1, 1008, "Token expired") in sim.closes and sim.exchanges[:2] == [200, 200]
        finally:
            await conn.close()


async def test_a_fresh_token_refused_stops_instead_of_exchanging_again():
    """If the stream refuses a token just issued, the connection stops after one exchange."""

    class Refusing(AxolSimulator):
        def issue_token(self, api_key=None, *, expires_in=None):
            return "not.a.jwt"

    async with Refusing(api_keys={KEY: "starter"}) as sim:
        conn = make(sim)
        conn.start()
        with pytest.raises(AuthenticationFailed, match="right after a new token"):
            await conn.wait_connected(timeout=seconds(5))
        await asyncio.sleep(seconds(0.2))
        assert sim.exchanges == [200] and len(sim.connections) == 1
        await conn.close()


async def test_internal_error_reconnects_with_backoff_and_keeps_the_token(sim):
    """1011 reconnects with the normal backoff and no new exchange."""
    conn = await started(make(sim))
    try:
        sim.close_connections(1011, "Internal error")
        await eventually(lambda: conn.stats.reconnects == 1 and conn.state is State.CONNECTED)
        change = next(c for c in conn.history if c.state is State.RECONNECTING)
        assert change.code == 1011 and "backoff" in change.reason
        assert sim.exchanges == [200]
    finally:
        await conn.close()


async def test_rate_limited_close_waits_long_and_says_to_reduce_subscriptions(sim):
    """1013 reconnects slowly, at least rate_limit_backoff, telling the user what to do."""
    conn = await started(make(sim, rate_limit_backoff=0.3))
    try:
        sim.close_connections(1013, "Rate limited")
        await conn.wait_for_state(State.RECONNECTING, timeout=seconds(3))
        lost = time.monotonic()
        assert conn.close_code == 1013 and "reduce the number of subscribed channels" in conn.reason
        await conn.wait_for_state(State.CONNECTED, timeout=seconds(3))
        assert time.monotonic() - lost >= 0.29
    finally:
        await conn.close()


async def test_subscribe_is_answered_unsubscribe_is_sent_and_the_tier_limit_refuses(sim):
    """subscription_result answers a subscribe; an unsubscribe is complete once sent; the
    sixth channel of a free key is refused clearly (an error, lenient; not granted, strict)."""
    conn = await started(make(sim, api_key=FREE))
    try:
        five = [
            "gas_prices",
            "gas_prices_ethereum",
            "gas_prices_polygon",
            "alerts",
            "system_status",
        ]
        result = await conn.subscribe(five)
        assert result.active == five and not result.rejected
        tier = r"blockchain_events: .*(free tier allows 5|Axol limits subscriptions per tier)"
        with pytest.raises(SubscriptionRefused, match=tier):
            await conn.subscribe(["blockchain_events"])
        assert "blockchain_events" not in conn.subscriptions
        await conn.unsubscribe(["alerts"])
        sent = {"type": "unsubscribe", "channels": ["alerts"]}
        await eventually(lambda: sim.commands_of("unsubscribe") == [sent])
        result = await conn.subscribe(["blockchain_events"])
        assert "blockchain_events" in result.active and "alerts" not in result.active
        await eventually(lambda: "blockchain_events" in set(conn.buffer.to_dataframe()["stream"]))
    finally:
        await conn.close()


async def test_an_unknown_chain_is_refused_before_anything_is_sent(sim):
    """gas_prices_<unknown chain> raises ConfigurationError and sends nothing."""
    conn = await started(make(sim))
    try:
        with pytest.raises(ConfigurationError, match="documented chains"):
            await conn.subscribe(["gas_prices_solana"])
        assert sim.commands_of("subscribe") == []
        with pytest.raises(ConfigurationError):
            make(sim, streams=["gas_prices_solana"])
    finally:
        await conn.close()


async def test_pongs_keep_a_quiet_connection_alive_and_missing_pongs_declare_it_dead(sim):
    """JSON pings are answered by pongs that prove life; without pongs it reconnects."""
    conn = await started(make(sim, ping_interval=0.1, missed_pongs=5))
    try:
        await asyncio.sleep(seconds(1.2))  # over twice the idle timeout, no data at all
        assert conn.state is State.CONNECTED and conn.stats.connects == 1
        assert len(sim.commands_of("ping")) >= 5 and conn.stats.heartbeats >= 5
        assert sim.commands_of("ping")[0] == {"type": "ping", "data": {}}
        sim.stop_pongs()
        await conn.wait_for_state(State.RECONNECTING, timeout=seconds(3))
        assert "presumed dead" in conn.reason
        sim.resume_pongs()
        await conn.wait_for_state(State.CONNECTED, timeout=seconds(3))
    finally:
        await conn.close()


async def test_get_info_returns_the_connection_info(sim):
    """connection.send(feed.info_request()) returns the documented connection_info."""
    conn = await started(make(sim, streams=["alerts"]))
    try:
        await eventually(lambda: len(sim.commands_of("subscribe")) == 1)
        await asyncio.sleep(0.05)
        reply = await conn.send(conn.dialect.info_request())
        info = reply.data
        assert info["state"] == "active" and info["channels"] == ["alerts"]
        assert info["connection_id"].startswith("conn_") and info["user_id"]
    finally:
        await conn.close()


async def test_no_key_or_token_in_reprs_logs_or_reasons(sim, caplog):
    """The key and every JWT stay out of reprs, history, logs and the simulator's record."""
    caplog.set_level(logging.DEBUG)
    conn = await started(make(sim))
    tokens = [conn.dialect.token.reveal()]
    try:
        sim.expire_tokens()
        await eventually(lambda: conn.stats.reconnects == 1 and conn.state is State.CONNECTED)
        tokens.append(conn.dialect.token.reveal())
        shown = (
            repr(conn)
            + repr(conn.dialect)
            + str(conn.dialect.describe())
            + caplog.text
            + str(list(conn.history))
            + str(list(sim.connections))
            + repr(conn.dialect.target())
        )
        for secret in (KEY, *tokens):
            assert secret not in shown
        assert len(conn.dialect.secrets()) == 2
    finally:
        await conn.close()


async def test_simulator_rest_side_answers_like_an_api():
    """The token endpoint is a real HTTP endpoint: 200 with a JWT, 401, 404, 405."""
    async with (
        AxolSimulator(api_keys={KEY: "free"}) as sim,
        httpx.AsyncClient(base_url=sim.rest_url, timeout=5, trust_env=False) as http,
    ):
        body = {"grant_type": "client_credentials"}
        ok = await http.post("/api/v1/auth/token", headers={"X-API-Key": KEY}, json=body)
        assert ok.status_code == 200 and ok.json()["token_type"] == "bearer"
        assert ok.json()["expires_in"] == 3600 and ok.json()["access_token"].count(".") == 2
        bad = await http.post("/api/v1/auth/token", headers={"X-API-Key": "x"}, json=body)
        assert bad.status_code == 401
        assert (await http.post("/nope")).status_code == 404
        assert (await http.get("/api/v1/auth/token")).status_code == 405


def test_cli_help_and_a_run_with_ready_file(tmp_path):
    """`sim axol --help` lists the options; a run writes both ports and serves a token."""
    command = [sys.executable, "-m", "streamwidgets", "sim", "axol"]
    help_text = subprocess.run(
        [*command, "--help"], capture_output=True, text=True, check=True, timeout=30
    ).stdout
    for option in ("--port", "--rest-port", "--ready-file", "--tier", "--token-ttl"):
        assert option in help_text
    ready = tmp_path / "ports"
    proc = subprocess.Popen(
        [*command, "--port", "0", "--ready-file", str(ready), "--api-key", KEY],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        deadline = time.monotonic() + seconds(15)
        while not ready.exists():
            assert proc.poll() is None and time.monotonic() < deadline
            time.sleep(0.05)
        ws_port, rest_port = map(int, ready.read_text().split())
        answer = httpx.post(
            f"http://127.0.0.1:{rest_port}/api/v1/auth/token",
            headers={"X-API-Key": KEY},
            json={"grant_type": "client_credentials"},
            timeout=5,
            trust_env=False,
        )
        assert answer.status_code == 200 and ws_port > 0
    finally:
        proc.terminate()
        out, _ = proc.communicate(timeout=10)
    assert KEY in out  # the simulator key is printed on purpose


def endpoint(sim, make_feed, **kwargs):
    base = sim.url.removesuffix(sim.path)
    feed = make_feed(base, api_key=KEY, rest_url=sim.rest_url, **kwargs)
    backoff = Backoff(initial=0.02, maximum=0.1)
    return Connection(feed, backoff=backoff, healthy_after=0.05)


async def test_gas_endpoint_streams_the_chain_at_its_interval():
    """gas-updates/{chain}?interval= sends gas_update of that chain, one per interval."""
    async with AxolSimulator(api_keys={KEY: "free"}, time_scale=0.01) as sim:
        conn = await started(endpoint(sim, feeds.axol_gas, chain="polygon", interval=5))
        try:
            await eventually(lambda: conn.stats.events >= 5)
            df = conn.buffer.to_dataframe()
            assert set(df["stream"]) == {"gas_prices_polygon"} and set(df["type"]) == {"gas_update"}
            assert set(df["data.chain"]) == {"polygon"} and df["data.gas_data.fast"].gt(0).all()
            assert sim.connections[0].path.startswith("/api/v1/ws/gas-updates/polygon?interval=5")
            assert "token=***" in sim.connections[0].path
        finally:
            await conn.close()


async def test_mempool_endpoint_streams_classified_pending_transactions(sim):
    """mempool/{chain}/stream sends pending_transaction with classification and MEV fields."""
    conn = await started(endpoint(sim, feeds.axol_mempool, chain="ethereum"))
    try:
        await eventually(lambda: conn.stats.events >= 20)
        df = conn.buffer.to_dataframe()
        assert set(df["stream"]) == {"mempool_ethereum"}
        assert set(df["type"]) == {"pending_transaction"}
        kinds = {"swap", "liquidation", "transfer", "flashloan", "bridge", "nft"}
        assert set(df["data.classification.type"]) <= kinds | {"contract_deploy", "unknown"}
        assert df["data.value"].map(lambda v: isinstance(v, str)).all()  # wei as strings
        assert df["event_time"].notna().all()  # from the ISO timestamp
    finally:
        await conn.close()


async def test_liquidation_filters_reach_the_server_and_hold(sim):
    """chain, protocol, min_profit and health_threshold filter what the server sends."""
    conn = await started(
        endpoint(
            sim,
            feeds.axol_liquidations,
            chain="arbitrum",
            protocol="aave_v3",
            min_profit=100,
            health_threshold=1.2,
        )
    )
    try:
        await eventually(lambda: conn.stats.events >= 10)
        df = conn.buffer.to_dataframe()
        assert set(df["stream"]) == {"liquidations"}
        assert set(df["data.chain"]) == {"arbitrum"} and set(df["data.protocol"]) == {"aave_v3"}
        assert df["data.health_factor"].lt(1.2).all()
        assert df["data.liquidation_opportunity.estimated_profit_usd"].ge(100).all()
        alerts = df[df["type"] == "liquidation_alert"]
        assert alerts["data.health_factor"].le(1.0).all()
        assert (alerts["data.priority"] == "high").all()
        assert set(df["type"]) <= {"position_update", "liquidation_alert"}
    finally:
        await conn.close()


async def test_an_endpoint_refreshes_its_token_on_expiry(sim):
    """The specialised streams share the main stream's 1008 refresh."""
    conn = await started(endpoint(sim, feeds.axol_mempool, chain="polygon"))
    try:
        await eventually(lambda: conn.stats.events >= 3)
        sim.expire_tokens()
        await eventually(lambda: conn.stats.reconnects == 1 and conn.state is State.CONNECTED)
        assert sim.exchanges == [200, 200]
    finally:
        await conn.close()


async def test_widget_toggles_subscribe_on_the_server_and_keep_secrets_out(sim, monkeypatch):
    """The widget's toggles (browser messages) subscribe and unsubscribe Axol channels."""
    import comm

    from streamwidgets import StreamWidget
    from tests.support.comms import RecordingComm
    from tests.support.widgets import assert_never_sent, from_browser

    monkeypatch.setattr(comm, "create_comm", RecordingComm)
    feed = feeds.axol(sim.url, api_key=KEY, rest_url=sim.rest_url)
    w = StreamWidget(feed, streams=["gas_prices_ethereum"])
    try:
        await w.wait_async(state="connected", timeout=seconds(5))
        await eventually(lambda: "gas_prices_polygon" in w.available_streams)
        assert w.subscribe_supported is True
        from_browser(w, kind="subscribe", stream="gas_prices_polygon")
        await eventually(lambda: "gas_prices_polygon" in w.subscriptions and not w.pending)
        from_browser(w, kind="unsubscribe", stream="gas_prices_ethereum")
        await eventually(lambda: w.subscriptions == ["gas_prices_polygon"] and not w.pending)
        assert {"type": "unsubscribe", "channels": ["gas_prices_ethereum"]} in sim.commands_of(
            "unsubscribe"
        )
        await eventually(lambda: "gas_prices_polygon" in set(w.df["stream"]))
        token = w.connection.dialect.token
        assert token is not None
        assert_never_sent(w, KEY, token.reveal())
    finally:
        await w.aclose()
