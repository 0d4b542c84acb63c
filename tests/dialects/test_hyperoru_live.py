"""The Hyperoru account stream on loopback: connection, requests, simulator and widget."""

from __future__ import annotations

import asyncio
import logging
import subprocess
import sys
import time

import pytest

import streamwidgets
from streamwidgets import StreamWidget, feeds
from streamwidgets.connection.backoff import Backoff
from streamwidgets.connection.driver import Connection, State
from streamwidgets.dialects.hyperoru.dialect import HYPERORU_TIMEFRAMES
from streamwidgets.dialects.hyperoru.requests import HyperoruRequestError, OrdersNotAllowed
from streamwidgets.exceptions import (
    AuthenticationFailed,
    ConfigurationError,
    RequestError,
    StreamNotAvailable,
)
from streamwidgets.simulators.hyperoru import HyperoruSimulator
from tests.support.feed_inputs import HYPERORU_TOKEN as TOKEN
from tests.support.waiting import eventually, seconds, started
from tests.support.widgets import assert_never_sent, from_browser

ALL = ["trades", "positions", "model_chat", "asset_curve"]


@pytest.fixture
async def sim(profile):
    async with HyperoruSimulator(
        session_tokens=[TOKEN],
        rate=200.0,
        asset_curve_interval=0.05,
        fill_delay=0.02,
        seed=4,
        profile=profile,
    ) as simulator:
        yield simulator


def make(sim, *, streams=(), token=TOKEN, allow_orders=False, **options):
    feed_options = {
        k: options.pop(k)
        for k in ("ping_interval", "missed_pongs", "bootstrap_on_connect", "max_pending")
        if k in options
    }
    feed = feeds.hyperoru(sim.url, session_token=token, allow_orders=allow_orders, **feed_options)
    # A time-scaled backoff: the document's 1-5 s is tested on its own with the pure tests.
    options.setdefault("backoff", Backoff(initial=0.02, maximum=0.1))
    options.setdefault("healthy_after", 0.05)
    options.setdefault("request_timeout", seconds(2))
    return Connection(feed, streams=list(streams), **options)


def rows(conn, type_=None, stream=None):
    return conn.buffer.to_dataframe(stream=stream, type=type_)


# -- over loopback ---------------------------------------------------------------------------


async def test_a_bad_or_missing_token_stops_after_exactly_one_attempt(sim, caplog):
    """The server closes with 1008; the client fails with a clear message and never retries."""
    caplog.set_level(logging.DEBUG)
    bad = "hyo_wrong_token_secret_value"
    conn = make(sim, token=bad, streams=["trades"])
    conn.start()
    with pytest.raises(AuthenticationFailed, match="session token refused by Hyperoru") as err:
        await conn.wait_connected(timeout=seconds(5))
    await asyncio.sleep(seconds(0.5))  # time for any (wrong) retry to show up
    assert len(sim.connections) == 1 and sim.connections[0].outcome == "closed 1008"
    assert list(sim.closes) == [(1, 1008, "Invalid session token")]
    assert conn.state is State.FAILED and err.value.code == 1008
    assert bad not in str(err.value) and bad not in conn.reason
    assert all(bad not in r.getMessage() for r in caplog.records)
    await conn.close()


async def test_requests_resolve_with_the_reply_that_answers_them(sim):
    """bootstrap, get_snapshot, get_asset_curve (each timeframe) and ping resolve with their
    replies; switch_account, which has none documented, is complete once sent."""
    async with streamwidgets.open(
        feeds.hyperoru(sim.url, session_token=TOKEN, bootstrap_on_connect=False),
        request_timeout=seconds(2),
    ) as stream:
        api = stream.connection.dialect.requests(stream)
        state = await api.bootstrap()
        assert [a["id"] for a in state["accounts"]] == ["acct_1", "acct_2", "acct_3"]
        assert state["positions"] and state["active_orders"]
        snap = await api.get_snapshot("acct_2")
        assert snap["account_id"] == "acct_2" and set(snap["positions"][0]) == {
            "symbol", "side", "size", "unrealized_pnl",
        }  # fmt: skip
        sizes = {}
        for timeframe in HYPERORU_TIMEFRAMES:
            curve = await api.get_asset_curve("acct_1", timeframe)
            assert curve["timeframe"] == timeframe
            sizes[timeframe] = len(curve["points"])
        assert sizes == {"1d": 96, "7d": 168, "30d": 120, "90d": 90, "all": 180}
        began = time.monotonic()
        assert await api.switch_account("acct_3") is None
        assert time.monotonic() - began < seconds(0.5)  # nothing waited for a reply
        assert stream.connection.dialect.account_id == "acct_3"
        assert 0 < await api.ping() < seconds(1)
        sent_ids = [c["request_id"] for _, c in sim.commands]
        assert sent_ids[0] == "connect"  # the first ping, whose pong says "token accepted"
        assert len(sent_ids) == len(set(sent_ids)) == 10
        # Bootstrap rows went into the buffer as snapshot rows; nothing waits any more.
        accounts = stream.to_dataframe("accounts", "account")
        assert len(accounts) == 3 and accounts["snapshot"].all()
        await asyncio.sleep(0.05)  # a lenient server's extra replies arrive and match nothing
        assert stream.connection._pending == {} and len(stream.connection.dialect._waiting) == 0


async def test_errors_and_timeouts_become_request_errors(sim):
    """An error reply or no reply raises HyperoruRequestError; a bad timeframe sends nothing."""
    conn = await started(make(sim, bootstrap_on_connect=False))
    api = conn.dialect.requests(conn)
    with pytest.raises(HyperoruRequestError, match=r"get_snapshot failed.*Unknown account") as err:
        await api.get_snapshot("acct_404")
    assert isinstance(err.value, RequestError) and err.value.request == "get_snapshot"
    with pytest.raises(ConfigurationError, match="timeframe"):
        await api.get_asset_curve("acct_1", "2d")
    assert sim.commands_of("get_asset_curve") == []
    sim.stop_pongs()
    quick = type(api)(conn, timeout=0.2)
    began = time.monotonic()
    with pytest.raises(HyperoruRequestError, match="ping failed: no reply"):
        await quick.ping()
    assert time.monotonic() - began < seconds(1)
    assert len(conn.dialect._waiting) == 0
    await conn.close()
    with pytest.raises(HyperoruRequestError, match="not connected"):
        await api.bootstrap()


async def test_subscribe_is_additive_and_an_unknown_channel_is_refused(sim):
    """Each subscribe adds to the server's set; it is complete once sent (no reply is
    documented), and stays wanted; an unknown channel never leaves the client."""
    conn = await started(make(sim, streams=["trades"]))
    await eventually(lambda: sim.sessions() and sim.sessions()[1]["channels"] == ["trades"])
    began = time.monotonic()
    result = await conn.subscribe(["positions"])
    assert time.monotonic() - began < seconds(0.5)
    assert result.active == ["trades", "positions"] and result.pending == ["positions"]
    await eventually(lambda: sim.sessions()[1]["channels"] == ["trades", "positions"])
    assert [c["data"]["channels"] for c in sim.commands_of("subscribe")] == [
        ["trades"],
        ["positions"],
    ]
    with pytest.raises(StreamNotAvailable, match="'orderbook'"):
        await conn.subscribe(["orderbook"])
    assert len(sim.commands_of("subscribe")) == 2
    # The server refuses one too, should a client send it anyway: its error, whenever it
    # comes, refuses the channel.
    bad = conn.dialect.request("subscribe", {"channels": ["orderbook"]})
    assert await conn.send(bad) is None
    await eventually(lambda: any("orderbook" in n.message for n in conn.notices))
    assert "Unknown channel" in conn.notices[-1].message
    await eventually(lambda: len(rows(conn, "position_update")) > 5)
    await conn.close()


async def test_unsubscribe_filters_on_the_client_and_subscribe_lifts_it(sim):
    """No unsubscribe message exists: the channel's broadcasts stop reaching the buffer."""
    conn = await started(make(sim, streams=["trades", "positions"]))
    await eventually(lambda: len(rows(conn, "position_update")) > 5)
    await conn.unsubscribe(["positions"])
    before = len(rows(conn, "position_update"))
    await eventually(lambda: conn.dialect.filtered > 5)
    assert len(rows(conn, "position_update")) == before
    assert len(rows(conn, "trade_update")) > 0
    assert {c["type"] for _, c in sim.commands} <= {"subscribe", "bootstrap", "ping"}
    assert conn.subscriptions == ["trades"]
    await conn.subscribe(["positions"])
    await eventually(lambda: len(rows(conn, "position_update")) > before)
    await conn.close()


async def test_switch_account_changes_the_account_of_later_broadcasts(sim):
    """After switch_account, positions, chat and curve updates are the new account's."""
    conn = await started(make(sim, streams=ALL))
    await eventually(lambda: len(rows(conn, "position_update")) > 3)
    assert set(rows(conn, "position_update")["data.account_id"]) == {"acct_1"}
    mark = conn.buffer.last_seq
    await conn.dialect.requests(conn).switch_account("acct_2")

    def since_switch():
        # Complete once sent: broadcasts already on the wire may still be acct_1's. From
        # the first acct_2 row on, every live row is acct_2's.
        later = conn.buffer.since(mark)[0]
        later = later[later["snapshot"] == False].dropna(subset=["data.account_id"])  # noqa: E712
        switched = (later["data.account_id"] == "acct_2").to_numpy()
        return later.iloc[switched.argmax() :] if switched.any() else later[:0]

    await eventually(lambda: (since_switch()["type"] == "asset_curve_update").sum() > 2)
    assert set(since_switch()["data.account_id"]) == {"acct_2"}
    await conn.close()


async def test_orders_need_the_opt_in_and_produce_a_trade_update(sim):
    """Without allow_orders nothing is sent; with it the order is acknowledged and filled."""
    conn = await started(make(sim, streams=["positions"]))
    with pytest.raises(OrdersNotAllowed, match="no order was sent"):
        await conn.dialect.requests(conn).place_order("acct_1", "BTC", "buy", 0.01)
    assert not sim.orders and sim.commands_of("place_order") == []
    await conn.close()

    conn = await started(make(sim, streams=["trades"], allow_orders=True))
    ack = await conn.dialect.requests(conn).place_order("acct_1", "ETH", "sell", 0.5)
    assert ack["status"] == "accepted" and ack["symbol"] == "ETH"
    assert [o["order_id"] for o in sim.orders] == [ack["order_id"]]

    def fills():
        trades = rows(conn, "trade_update")
        return trades[trades["data.order_id"] == ack["order_id"]]["data.status"].tolist()

    await eventually(lambda: "filled" in fills())
    assert fills()[0] == "accepted"  # the acknowledgement is a trades event too
    await conn.close()


async def test_a_drop_reconnects_resubscribes_and_bootstraps_again(sim):
    """No replay: after a drop the client resubscribes, re-switches and re-bootstraps."""
    conn = await started(make(sim, streams=["trades", "model_chat"]))
    await conn.dialect.requests(conn).switch_account("acct_2")
    await eventually(lambda: len(sim.commands_of("bootstrap")) == 1)
    await eventually(lambda: len(rows(conn, "position")) > 0)
    first_positions = len(rows(conn, "position"))
    sim.drop_connections()
    await eventually(lambda: conn.stats.reconnects == 1 and conn.state is State.CONNECTED)
    await eventually(lambda: len(sim.commands_of("bootstrap")) == 2)
    assert len(sim.connections) == 2
    assert sim.sessions()[2] == {"account": "acct_2", "channels": ["trades", "model_chat"]}
    second = [c["type"] for n, c in sim.commands if n == 2 and c["type"] != "ping"]
    assert second == ["subscribe", "subscribe", "switch_account", "bootstrap"]  # one per channel
    await eventually(lambda: len(rows(conn, "position")) == 2 * first_positions)
    assert rows(conn, "position")["snapshot"].all()
    assert "gap" in conn.buffer.markers["kind"].tolist()
    await eventually(lambda: len(sim.sessions()) == 1 and len(rows(conn, "trade_update")) > 0)
    await conn.close()


async def test_pings_keep_the_socket_alive_and_silence_reconnects(sim):
    """The client pings on its clock; a server that stops answering is declared dead."""
    conn = await started(make(sim, ping_interval=0.1, missed_pongs=3, open_timeout=0.5))
    await eventually(lambda: len(sim.commands_of("ping")) >= 4)
    assert all("request_id" not in c for c in sim.commands_of("ping")[1:])  # 0: "connect"
    assert conn.stats.heartbeats >= 2 and conn.stats.reconnects == 0
    sim.stop_pongs()  # no channels subscribed: nothing else arrives
    await eventually(lambda: any("presumed dead" in c.reason for c in conn.history), timeout=3)
    # Unanswered, the first ping of a new socket is no welcome: not connected yet.
    await eventually(lambda: len(sim.connections) >= 2)
    assert conn.state is not State.CONNECTED and conn.stats.reconnects == 0
    sim.resume_pongs()
    await eventually(lambda: conn.stats.reconnects == 1, timeout=3)
    await conn.close()


async def test_one_real_reconnect_waits_one_to_two_seconds(sim):
    """With the document's default backoff, the first reconnect comes 1-2 s after a drop."""
    conn = make(sim)
    conn.backoff = conn.dialect.reconnect_backoff()
    await started(conn)
    await asyncio.sleep(0.1)  # past healthy_after: the backoff starts afresh
    sim.drop_connections()
    dropped = time.monotonic()
    await eventually(lambda: len(sim.connections) == 2, timeout=4)
    waited = time.monotonic() - dropped
    assert 1.0 <= waited <= 2.0 + seconds(0.5), waited
    await conn.close()


async def test_the_token_stays_out_of_logs_and_messages_across_a_reconnect(sim, caplog):
    """Debug logs of client and server, reprs and state reasons never show the token."""
    caplog.set_level(logging.DEBUG)
    conn = await started(make(sim, streams=ALL))
    await conn.dialect.requests(conn).bootstrap()
    sim.drop_connections()
    await eventually(lambda: conn.stats.reconnects == 1)
    await conn.close()
    texts = [r.getMessage() for r in caplog.records] + [repr(conn)]
    texts += [c.reason for c in conn.history]
    assert texts and all(TOKEN not in t for t in texts)
    assert any("session_token=***" in t for t in texts)


def test_the_command_line_simulator_prints_what_a_client_needs(tmp_path):
    """`python -m streamwidgets sim hyperoru` prints the URL and a token that connects."""
    ready = tmp_path / "port"
    proc = subprocess.Popen(
        [sys.executable, "-m", "streamwidgets", "sim", "hyperoru", "--port", "0",
         "--ready-file", str(ready)],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
    )  # fmt: skip
    try:
        deadline = time.monotonic() + seconds(20)
        while not ready.exists():
            assert time.monotonic() < deadline and proc.poll() is None
            time.sleep(0.05)
        port = int(ready.read_text())
    finally:
        proc.terminate()
        out, _ = proc.communicate(timeout=10)
    lines = out.splitlines()
    assert lines[0] == f"Hyperoru simulator listening on ws://127.0.0.1:{port}/ws"
    assert lines[2].startswith("hyo_sim_")
    assert "feeds.hyperoru(" in out


# -- in the widget ---------------------------------------------------------------------------


async def test_widget_toggles_act_on_the_server_and_requests_are_awaitable(recorded, sim):
    """Browser toggles subscribe on the server (unsubscribe filters); w.requests works."""
    feed = feeds.hyperoru(sim.url, session_token=TOKEN, allow_orders=True)
    w = StreamWidget(feed, streams=["trades"], backoff=Backoff(initial=0.02, maximum=0.1))
    recorded.append(w)
    await w.wait_async(state="connected", timeout=seconds(5))
    assert w.available_streams == ALL
    assert (w.feed["name"], w.feed["url"]) == ("hyperoru", f"{sim.url}?session_token=***")
    from_browser(w, kind="subscribe", stream="positions")
    await eventually(lambda: "positions" in w.subscriptions and not w.pending)
    await eventually(lambda: sim.sessions()[1]["channels"] == ["trades", "positions"])
    from_browser(w, kind="unsubscribe", stream="positions")
    await eventually(lambda: w.subscriptions == ["trades"] and not w.pending)
    session = w.connection.dialect  # what this widget's connection learned
    filtered = session.filtered
    await eventually(lambda: session.filtered > filtered)
    from_browser(w, kind="subscribe", stream="orderbook")
    await eventually(lambda: "orderbook" in w.error)
    state = await w.requests.bootstrap()
    assert len(state["accounts"]) == 3
    chat = feed.model_chat(w.df)
    assert list(chat.columns)[:4] == ["decision_id", "account_id", "model", "text"]


async def test_the_browser_cannot_place_an_order_or_see_the_token(recorded, sim):
    """Order-like messages from the browser send nothing; no comm message carries the token."""
    feed = feeds.hyperoru(sim.url, session_token=TOKEN, allow_orders=True)
    w = StreamWidget(feed, streams=ALL)
    recorded.append(w)
    await w.wait_async(events=50, timeout=seconds(5))
    order = {"account_id": "acct_1", "symbol": "BTC", "side": "buy", "size": 1}
    for kind in ("place_order", "request", "order", "send"):
        from_browser(w, kind=kind, type="place_order", data=order, **order)
    from_browser(w, kind="subscribe", stream="place_order")
    await asyncio.sleep(0.3)
    assert not sim.orders and sim.commands_of("place_order") == []
    assert "unknown request from the browser" in w.error or "place_order" in w.error
    from_browser(w, kind="hello", view="v")
    from_browser(w, kind="export", format="jsonl", view="v")
    await asyncio.sleep(0.3)
    assert_never_sent(w, TOKEN)
    assert TOKEN not in repr(w.requests)
