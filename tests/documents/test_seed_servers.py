"""The client against independent, document-only servers (``tests/seed_servers``).

Every server here was written from the five public feed documents and NOTES.md alone; each
reply it sends names its document line. A test states what the documents and the client's
own docstrings say SHOULD happen; a failing test is a finding about the client.

Groups:

1. happy paths against the strict servers (nothing waits for an undocumented reply);
2. requests (Hyperoru, Axol, Hydra);
3. refusals (close codes, HTTP 401, bounded retries, refused subscriptions);
4. outages and flapping, silence (missed heartbeats / missing protocol pings);
5. hostile frames;
6. secrets in server errors and close reasons;
7. two connections from one feed object;
8. a slow consumer.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import time
import traceback
from collections.abc import Callable
from typing import Any

import pandas as pd
import pytest

import streamwidgets
from streamwidgets import (
    AuthenticationFailed,
    ConnectionFailed,
    State,
    SubscriptionRefused,
    feeds,
)
from streamwidgets.connection.backoff import Backoff
from streamwidgets.events import Gap
from tests.support.seed_servers import (
    AxolServer,
    HydraServer,
    HydraV1Server,
    HyperoruServer,
    PusherServer,
)
from tests.support.seed_servers.base import InvalidUtf8, WsServer, send_frame, wait_until

pytestmark = pytest.mark.timeout(40)

HYO_TOKEN = "hyo_session_seed_token"
JWT = "eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiJzZWVkLXVzZXIifQ.Zk3q9VhQm2Lr8TtYw1XcA7bN5pD4sE6fG0hJ"
SECRET_HYO = "hyo_live_7c1f9a2b4d6e8f0a1b3c5d7e9f2a4c6e"
QUICK = 0.5  # "well under a second": a request with no documented reply returns in this


def fast(**options: Any) -> dict[str, Any]:
    """Connection options for tests: a fast backoff and short timeouts."""
    out: dict[str, Any] = {
        "backoff": Backoff(initial=0.02, maximum=0.2),
        "open_timeout": 2.0,
        "request_timeout": 2.0,
        "connect_timeout": 5.0,
    }
    out.update(options)
    return out


async def eventually(predicate: Callable[[], bool], timeout: float, what: str) -> None:
    assert await wait_until(predicate, timeout), f"not within {timeout} s: {what}"


def values(df: pd.DataFrame, column: str) -> set[Any]:
    if column not in df.columns:
        return set()
    out = set()
    for v in df[column].dropna():
        v = v.item() if hasattr(v, "item") else v
        out.add(int(v) if isinstance(v, float) and v.is_integer() else v)
    return out


def streams_of(stream: Any) -> set[str]:
    df = stream.df
    return set(df["stream"].dropna()) if len(df) else set()


def record_states(stream: Any) -> list[Any]:
    seen: list[Any] = []
    stream.connection.on_state(seen.append)
    return seen


@contextlib.asynccontextmanager
async def opened(feed: Any, **options: Any):
    """``streamwidgets.open`` as a context; the stream object even if entering fails."""
    stream = streamwidgets.open(feed, **options)
    try:
        yield stream
    finally:
        await stream.close()


async def enter_expecting_failure(stream: Any, timeout: float = 6.0) -> BaseException | None:
    """Enter the stream; return the exception it raised (None if it connected first), then
    wait until it is failed."""
    try:
        await stream.__aenter__()
    except ConnectionFailed as exc:
        return exc
    with contextlib.suppress(Exception):
        await stream.connection.wait_for_state(State.FAILED, State.CLOSED, timeout=timeout)
    return None


def failure(stream: Any) -> Any:
    """The connection's `failed` state change (a refused ``async with`` then closes the
    stream, so the current state may be `closed`); fails the test if it never failed."""
    changes = list(stream.connection.history)
    failed = [c for c in changes if c.state == State.FAILED]
    assert failed, f"never failed: {[(c.state.value, c.reason) for c in changes]}"
    assert stream.state in (State.FAILED, State.CLOSED)
    return failed[-1]


def hydra_subscribed(conn: Any) -> list[str]:
    return [s for m in conn.sent_of("action", "subscribe") for s in m.get("streams", [])]


def axol_subscribed(conn: Any) -> list[str]:
    return [c for m in conn.sent_of("type", "subscribe") for c in m.get("channels", [])]


def pusher_subscribed(conn: Any) -> list[str]:
    return [m["data"]["channel"] for m in conn.sent_of("event", "pusher:subscribe")]


def hyperoru_subscribed(conn: Any) -> list[str]:
    return [c for m in conn.sent_of("type", "subscribe") for c in m["data"].get("channels", [])]


# ======================================================================================
# 1. Happy paths against the strict, seed-only servers
# ======================================================================================


async def test_hydra_strict_happy_path():
    """000: connect with ?token=, get `connected`, subscribe; events reach the buffer. The
    seed shows no reply to subscribe; data on a stream confirm it (client docstring)."""
    async with HydraServer(rate=60) as srv:
        feed = feeds.hydra(srv.url(), token=srv.token)
        async with opened(feed, streams=["signals", "alerts"], **fast()) as stream:
            await stream.__aenter__()
            await eventually(
                lambda: {"signals", "alerts"} <= streams_of(stream), 3, "signals and alerts rows"
            )
            conn = srv.connections[0]
            assert conn.query["token"] == srv.token
            assert set(hydra_subscribed(conn)) == {"signals", "alerts"}
            assert stream.available_streams is not None
            assert set(stream.available_streams) >= {"signals", "alerts", "cyber"}

            t0 = time.monotonic()
            result = await stream.subscribe("cyber")
            assert time.monotonic() - t0 < QUICK
            assert "cyber" in result.active
            await eventually(lambda: "cyber" in streams_of(stream), 3, "cyber rows")

            t0 = time.monotonic()
            await stream.unsubscribe("alerts")  # no reply documented: complete once sent
            assert time.monotonic() - t0 < QUICK
            await eventually(
                lambda: len(conn.sent_of("action", "unsubscribe")) == 1, 1, "unsubscribe sent"
            )
            assert conn.sent_of("action", "unsubscribe")[0]["streams"] == ["alerts"]

            df = stream.df
            signals = df[df["type"] == "signal_new"]
            assert len(signals) > 0
            assert signals["data.severity"].between(1, 5).all()
            assert signals["event_time"].notna().all()
            assert stream.state == State.CONNECTED
            assert stream.stats.connects == 1


async def test_hydra_strict_subscribe_without_reply_or_data_does_not_hang():
    """A server that never answers a subscribe and sends nothing on the stream: subscribe
    returns within request_timeout with the stream pending, and it stays wanted."""
    async with HydraServer(rate=None) as srv:
        feed = feeds.hydra(srv.url(), token=srv.token)
        async with opened(feed, **fast(request_timeout=1.0)) as stream:
            await stream.__aenter__()
            t0 = time.monotonic()
            result = await stream.subscribe("cyber")
            assert time.monotonic() - t0 < 1.6
            assert "cyber" in result.pending
            assert "cyber" in stream.connection.subscriptions
            srv.drop_all()  # kept across reconnects
            await eventually(
                lambda: (
                    len(srv.connections) == 2 and "cyber" in hydra_subscribed(srv.connections[1])
                ),
                3,
                "cyber re-sent after the reconnect",
            )


async def test_hydra_v1_happy_path_snapshot_then_live():
    """001: key in x-api-key (client default), `connected`, snapshot rows marked, aircraft
    positions exploded one row each (NOTES), live rows; no subscription step, so the client
    sends nothing."""
    async with HydraV1Server(rate=40, snapshot_positions=3) as srv:
        feed = feeds.hydra_v1(srv.url(), api_key=srv.api_key)
        async with opened(feed, **fast()) as stream:
            await stream.__aenter__()
            await eventually(
                lambda: len(stream.df) > 0 and (~stream.df["snapshot"]).sum() >= 6, 3, "live rows"
            )
            conn = srv.connections[0]
            assert conn.headers.get("x-api-key") == srv.api_key
            df = stream.df
            snap = df[df["snapshot"]]
            assert len(snap[snap["type"] == "aircraft"]) == 3
            assert values(snap, "data.positions.seq") == {-1, -2, -3}
            live = df[~df["snapshot"]]
            assert {"aircraft", "signals"} <= set(live["stream"])
            assert len(live[live["type"] == "aircraft"]) >= 3
            assert conn.received == []
            assert stream.state == State.CONNECTED


async def test_hydra_v1_snapshot_false_and_client_side_filter():
    """001:54-55 snapshot=false: no snapshot; streams filter on the client (docstring)."""
    async with HydraV1Server(rate=40) as srv:
        feed = feeds.hydra_v1(srv.url(), api_key=srv.api_key, snapshot=False)
        async with opened(feed, streams=["aircraft"], **fast()) as stream:
            await stream.__aenter__()
            await eventually(lambda: len(stream.df) >= 5, 3, "aircraft rows")
            assert srv.connections[0].query.get("snapshot") == "false"
            df = stream.df
            assert not df["snapshot"].any()
            assert set(df["stream"]) == {"aircraft"}


async def test_axol_happy_path():
    """003: key exchanged once for a JWT, ?token=, `connected`, subscribe answered by
    subscription_result, gas_update / alert_triggered rows."""
    async with AxolServer(rate=40) as srv:
        feed = feeds.axol(srv.url(), api_key=srv.api_key, rest_url=srv.rest_url)
        async with opened(feed, streams=["gas_prices_ethereum", "alerts"], **fast()) as stream:
            await stream.__aenter__()
            await eventually(
                lambda: {"gas_prices_ethereum", "alerts"} <= streams_of(stream),
                3,
                "gas and alert rows",
            )
            assert srv.exchanges == 1
            req = srv.http.requests[0]
            assert req.headers["x-api-key"] == srv.api_key
            assert req.json() == {"grant_type": "client_credentials"}
            assert srv.connections[0].query["token"] == srv.tokens[0]
            df = stream.df
            gas = df[df["type"] == "gas_update"]
            assert (gas["data.gas_data.fast"] == 30).all()
            assert stream.stats.connects == 1


async def test_axol_mempool_endpoint_happy_path():
    """003:138 + NOTES: pending_transaction rows on mempool_{chain}, ISO timestamps read."""
    async with AxolServer(rate=40) as srv:
        feed = feeds.axol_mempool(
            f"ws://127.0.0.1:{srv.port}", api_key=srv.api_key, rest_url=srv.rest_url
        )
        async with opened(feed, **fast()) as stream:
            await stream.__aenter__()
            await eventually(lambda: len(stream.df) >= 5, 3, "mempool rows")
            df = stream.df
            assert set(df["stream"]) == {"mempool_ethereum"}
            assert set(df["type"]) == {"pending_transaction"}
            assert (df["data.classification.type"] == "swap").all()
            assert df["event_time"].notna().all()
            assert srv.connections[0].path == "/api/v1/mempool/ethereum/stream"


async def test_pusher_happy_path():
    """002 + NOTES: bootstrap over REST with the Bearer token, /app/{appKey}?protocol=7,
    connection_established, subscribe, rows with the JSON-string data decoded."""
    async with PusherServer(rate=40) as srv:
        feed = feeds.pusher(srv.base_url, token=srv.token)
        async with opened(feed, streams=["prices"], **fast()) as stream:
            await stream.__aenter__()
            await eventually(
                lambda: "prices" in streams_of(stream) and len(stream.df) >= 5, 3, "price rows"
            )
            assert srv.http.count("POST", "/api/v2/ws/session") >= 1
            assert all(
                r.headers.get("authorization") == f"Bearer {srv.token}" for r in srv.http.requests
            )
            conn = srv.connections[0]
            assert conn.path == f"/app/{srv.app_key}"
            assert conn.query.get("protocol") == "7"
            assert "market-prices" in pusher_subscribed(conn)
            df = stream.df
            prices = df[df["type"] == "price_update"]
            assert prices["data.price"].dtype.kind == "f"
            assert prices["event_time"].notna().all()


async def test_hyperoru_happy_path_subscribe_needs_no_reply():
    """004: subscribe has no documented reply, so it returns at once; bootstrap on connect;
    broadcasts become rows."""
    async with HyperoruServer(rate=None) as srv:
        feed = feeds.hyperoru(srv.url(), session_token=HYO_TOKEN)
        async with opened(feed, **fast()) as stream:
            await stream.__aenter__()
            t0 = time.monotonic()
            await stream.subscribe("trades")
            assert time.monotonic() - t0 < QUICK
            conn = srv.connections[0]
            await eventually(lambda: "trades" in hyperoru_subscribed(conn), 2, "subscribe sent")
            await eventually(lambda: len(stream.df) >= 3, 2, "bootstrap rows")
            for _ in range(3):
                await send_frame(conn.ws, srv.broadcast("trades", "acct_1"))
            await eventually(
                lambda: (stream.df["type"] == "trade_update").sum() == 3,
                2,
                "three trade_update rows",
            )
            df = stream.df
            accounts = df[df["snapshot"] & (df["stream"] == "accounts")]
            assert len(accounts) == 3
            assert stream.state == State.CONNECTED


# ======================================================================================
# 2. Requests
# ======================================================================================


async def test_hyperoru_requests():
    """004 + NOTES: bootstrap, get_snapshot, get_asset_curve, ping (a bare pong, 004:40),
    switch_account (no reply), place_order answered by a trade_update without request_id."""
    async with HyperoruServer(rate=None) as srv:
        feed = feeds.hyperoru(srv.url(), session_token=HYO_TOKEN, allow_orders=True)
        async with opened(feed, streams=["trades"], **fast()) as stream:
            await stream.__aenter__()
            api = feed.requests(stream)
            state = await asyncio.wait_for(api.bootstrap(), 3)
            assert [a["id"] for a in state["accounts"]] == ["acct_1", "acct_2", "acct_3"]
            snap = await asyncio.wait_for(api.get_snapshot("acct_2"), 3)
            assert snap["equity"] == 10001.0
            assert snap["positions"][0]["symbol"] == "BTC"
            curve = await asyncio.wait_for(api.get_asset_curve("acct_1", "30d"), 3)
            assert len(curve["points"]) == 5
            rtt = await asyncio.wait_for(api.ping(), 3)
            assert isinstance(rtt, float) and 0 <= rtt < 2

            conn = srv.connections[0]
            t0 = time.monotonic()
            await api.switch_account("acct_2")
            assert time.monotonic() - t0 < QUICK
            await eventually(lambda: conn.state["account"] == "acct_2", 2, "account switched")

            order = await asyncio.wait_for(api.place_order("acct_2", "BTC", "buy", 0.01), 3)
            assert order["status"] == "accepted"
            assert order["order_id"].startswith("ord_")
            sent_order = conn.sent_of("type", "place_order")[0]
            assert sent_order["data"]["symbol"] == "BTC"
            await eventually(
                lambda: order["order_id"] in set(stream.df.get("data.order_id", pd.Series())),
                2,
                "the trade_update is also a row on trades",
            )
            assert stream.state == State.CONNECTED


async def test_hyperoru_place_order_refused_without_allow_orders():
    from streamwidgets.dialects.hyperoru.requests import OrdersNotAllowed

    async with HyperoruServer(rate=None) as srv:
        feed = feeds.hyperoru(srv.url(), session_token=HYO_TOKEN)
        async with opened(feed, **fast()) as stream:
            await stream.__aenter__()
            with pytest.raises(OrdersNotAllowed):
                await feed.requests(stream).place_order("acct_1", "BTC", "buy", 0.01)
            await asyncio.sleep(0.2)
            assert srv.connections[0].sent_of("type", "place_order") == []


async def test_axol_requests():
    """003: subscribe answered by subscription_result (no data here: the reply itself must
    resolve it), unsubscribe unanswered (complete once sent), get_info -> connection_info."""
    async with AxolServer(rate=None) as srv:
        feed = feeds.axol(srv.url(), api_key=srv.api_key, rest_url=srv.rest_url)
        async with opened(feed, **fast()) as stream:
            await stream.__aenter__()
            t0 = time.monotonic()
            result = await stream.subscribe("gas_prices_ethereum", "alerts")
            assert time.monotonic() - t0 < QUICK
            assert result.pending == []
            assert result.rejected == {}
            assert {"gas_prices_ethereum", "alerts"} <= set(result.active)

            t0 = time.monotonic()
            await stream.unsubscribe("alerts")
            assert time.monotonic() - t0 < QUICK
            conn = srv.connections[0]
            await eventually(
                lambda: len(conn.sent_of("type", "unsubscribe")) == 1, 1, "unsubscribe sent"
            )

            reply = await stream.connection.send(feed.info_request(), timeout=2)
            assert reply.data["state"] == "active"
            assert reply.data["connection_id"] == conn.state["id"]
            assert reply.data["channels"] == ["gas_prices_ethereum"]


async def test_hydra_subscribe_with_subscribed_reply():
    """NOTES: `subscribed` answers a subscribe; with no data flowing the reply resolves it."""
    async with HydraServer(rate=None, reply_subscribed=True) as srv:
        feed = feeds.hydra(srv.url(), token=srv.token)
        async with opened(feed, streams=["signals"], **fast()) as stream:
            await stream.__aenter__()
            t0 = time.monotonic()
            result = await stream.subscribe("cyber")
            assert time.monotonic() - t0 < QUICK
            assert result.pending == []
            assert set(result.active) >= {"signals", "cyber"}
            t0 = time.monotonic()
            await stream.unsubscribe("cyber")
            assert time.monotonic() - t0 < QUICK


async def test_hydra_subscribe_without_subscribed_reply_confirmed_by_data():
    async with HydraServer(rate=50, reply_subscribed=False) as srv:
        feed = feeds.hydra(srv.url(), token=srv.token)
        async with opened(feed, streams=["signals"], **fast()) as stream:
            await stream.__aenter__()
            t0 = time.monotonic()
            result = await stream.subscribe("cyber")
            assert time.monotonic() - t0 < QUICK
            assert "cyber" in result.active
            assert result.rejected == {}


# ======================================================================================
# 3. Refusals
# ======================================================================================


@pytest.mark.parametrize("code", [4001, 4002, 4004])
async def test_hydra_refusal_close_codes_stop(code):
    """000:64-67 and the client docstring: 4001, 4002 and 4004 stop (no reconnect)."""
    token = None
    if code == 4001:
        srv = HydraServer(rate=None)
        token = "eyJ.wrong.token"
    elif code == 4002:
        srv = HydraServer(rate=None, refuse=(4002, "Insufficient token balance"))
    else:
        srv = HydraServer(
            rate=None,
            out_of_scope="close",
            refuse_streams={"cyber": "Subscription not in JWT scope"},
        )
    async with srv:
        feed = feeds.hydra(srv.url(), token=token or srv.token)
        streams = ["signals", "cyber"] if code == 4004 else ["signals"]
        async with opened(feed, streams=streams, **fast()) as stream:
            exc = await enter_expecting_failure(stream)
            if code == 4001:
                assert isinstance(exc, AuthenticationFailed)
            await asyncio.sleep(0.6)
            change = failure(stream)
            assert change.code == code
            assert str(code) in change.reason
            assert srv.attempts == 1


@pytest.mark.parametrize("mode", ["close_1008", "http_401"])
async def test_hydra_v1_refused_key_stops(mode):
    """001:13 (close 1008) and NOTES (HTTP 401 before the upgrade): both stop."""
    async with HydraV1Server(http_401=(mode == "http_401")) as srv:
        feed = feeds.hydra_v1(srv.url(), api_key="hydra_k1_wrong")
        async with opened(feed, **fast()) as stream:
            exc = await enter_expecting_failure(stream)
            assert isinstance(exc, AuthenticationFailed)
            await asyncio.sleep(0.6)
            failure(stream)
            assert srv.attempts == 1


@pytest.mark.parametrize("when", ["before_welcome", "after_welcome"])
async def test_axol_1008_forever_is_bounded(when):
    """003:487-492: 1008 means a bad/expired token; a server that refuses every fresh token
    must not cause an exchange storm (client docstring: at most two exchanges that way)."""
    async with AxolServer(close_1008=when) as srv:
        feed = feeds.axol(srv.url(), api_key=srv.api_key, rest_url=srv.rest_url)
        async with opened(feed, streams=["alerts"], **fast()) as stream:
            await enter_expecting_failure(stream, timeout=6)
            await asyncio.sleep(1.0)
            failure(stream)
            assert srv.exchanges <= 3
            assert srv.attempts <= 3
            exchanges = srv.exchanges
            await asyncio.sleep(0.5)
            assert srv.exchanges == exchanges


async def test_axol_refused_api_key_stops_without_connecting():
    async with AxolServer() as srv:
        feed = feeds.axol(srv.url(), api_key="axol_wrong", rest_url=srv.rest_url)
        async with opened(feed, **fast()) as stream:
            exc = await enter_expecting_failure(stream)
            assert isinstance(exc, AuthenticationFailed)
            await asyncio.sleep(0.5)
            failure(stream)
            assert srv.exchanges == 1
            assert srv.attempts == 0


async def test_axol_expired_token_is_refreshed():
    """003:492 "Token expired -> Get new JWT token": one new exchange, then data again."""
    async with AxolServer(rate=40) as srv:
        feed = feeds.axol(srv.url(), api_key=srv.api_key, rest_url=srv.rest_url)
        async with opened(feed, streams=["alerts"], **fast()) as stream:
            await stream.__aenter__()
            await eventually(lambda: len(stream.df) >= 3, 3, "alert rows")
            srv.expire_tokens()
            await srv.close_all(1008, "Token expired")
            rows = stream.buffer.total_rows
            await eventually(lambda: stream.buffer.total_rows > rows + 3, 4, "rows after refresh")
            assert srv.exchanges == 2
            assert stream.state == State.CONNECTED
            assert srv.connections[-1].query["token"] == srv.tokens[-1]
            assert "alerts" in axol_subscribed(srv.connections[-1])


async def test_pusher_4009_stops():
    """NOTES: 4000-4099 do not reconnect (4009 unauthorized)."""
    async with PusherServer(close_code=(4009, "Unauthorized")) as srv:
        feed = feeds.pusher(srv.base_url, token=srv.token)
        async with opened(feed, streams=["prices"], **fast()) as stream:
            await enter_expecting_failure(stream)
            await asyncio.sleep(0.6)
            assert "4009" in failure(stream).reason
            assert srv.attempts == 1


async def test_pusher_rest_401_stops():
    async with PusherServer() as srv:
        feed = feeds.pusher(srv.base_url, token="wrong_token")
        async with opened(feed, streams=["prices"], **fast()) as stream:
            exc = await enter_expecting_failure(stream)
            assert isinstance(exc, AuthenticationFailed)
            await asyncio.sleep(0.5)
            failure(stream)
            assert len(srv.http.requests) <= 2
            assert srv.attempts == 0


@pytest.mark.parametrize("refusal", ["1000", "abort", "1008"])
async def test_hyperoru_closed_at_once_attempts_are_few(refusal):
    """004:54 "The server closes the connection immediately if the token is missing or
    invalid": the client must stop after a few attempts (docstring: 3; 1008 at once)."""
    async with HyperoruServer(refusal=refusal) as srv:
        feed = feeds.hyperoru(srv.url(), session_token="hyo_wrong")
        async with opened(feed, **fast()) as stream:
            await enter_expecting_failure(stream)
            await asyncio.sleep(0.8)
            failure(stream)
            assert srv.attempts <= (1 if refusal == "1008" else 3)


async def test_hydra_refused_subscription_reported_and_not_resent():
    """NOTES: `subscribed` lists refused streams with a reason. The client raises
    SubscriptionRefused, drops the stream from the wanted set, keeps the others."""
    async with HydraServer(
        rate=60,
        reply_subscribed=True,
        out_of_scope="reply",
        refuse_streams={"cyber": "Stream not in token scope"},
    ) as srv:
        feed = feeds.hydra(srv.url(), token=srv.token)
        async with opened(feed, streams=["signals"], **fast()) as stream:
            await stream.__aenter__()
            with pytest.raises(SubscriptionRefused) as info:
                await stream.subscribe("cyber")
            assert "cyber" in info.value.rejected
            assert "cyber" not in stream.connection.subscriptions
            rows = stream.buffer.total_rows
            await eventually(lambda: stream.buffer.total_rows > rows + 5, 3, "signals go on")
            srv.drop_all()
            await eventually(
                lambda: (
                    len(srv.connections) == 2 and "signals" in hydra_subscribed(srv.connections[1])
                ),
                3,
                "resubscribed after the drop",
            )
            await asyncio.sleep(0.2)
            assert "cyber" not in hydra_subscribed(srv.connections[1])
            rows = stream.buffer.total_rows
            await eventually(lambda: stream.buffer.total_rows > rows + 5, 3, "signals again")


async def test_hydra_refused_stream_at_open_is_a_notice_and_not_resent():
    async with HydraServer(
        rate=60,
        reply_subscribed=True,
        out_of_scope="reply",
        refuse_streams={"cyber": "Stream not in token scope"},
    ) as srv:
        feed = feeds.hydra(srv.url(), token=srv.token)
        async with opened(feed, streams=["signals", "cyber"], **fast()) as stream:
            await stream.__aenter__()
            await eventually(
                lambda: "cyber" in repr(list(stream.connection.notices)),
                3,
                "a notice about the refused stream",
            )
            assert "cyber" not in stream.connection.subscriptions
            srv.drop_all()
            await eventually(
                lambda: (
                    len(srv.connections) == 2 and "signals" in hydra_subscribed(srv.connections[1])
                ),
                3,
                "resubscribed",
            )
            await asyncio.sleep(0.2)
            assert "cyber" not in hydra_subscribed(srv.connections[1])
            assert stream.state == State.CONNECTED


async def test_axol_channel_left_out_is_refused_and_not_resent():
    """003:59-67 + tier limits (003:475-482): a channel missing from subscribed_channels was
    not granted (client docstring)."""
    async with AxolServer(rate=40, tier_limit=1) as srv:
        feed = feeds.axol(srv.url(), api_key=srv.api_key, rest_url=srv.rest_url)
        async with opened(feed, streams=["gas_prices_ethereum"], **fast()) as stream:
            await stream.__aenter__()
            await eventually(lambda: len(stream.df) >= 3, 3, "gas rows")
            with pytest.raises(SubscriptionRefused) as info:
                await stream.subscribe("alerts")
            assert "alerts" in info.value.rejected
            assert "alerts" not in stream.connection.subscriptions
            srv.drop_all()
            await eventually(
                lambda: (
                    len(srv.connections) == 2
                    and "gas_prices_ethereum" in axol_subscribed(srv.connections[1])
                ),
                3,
                "resubscribed",
            )
            await asyncio.sleep(0.2)
            assert "alerts" not in axol_subscribed(srv.connections[1])
            rows = stream.buffer.total_rows
            await eventually(lambda: stream.buffer.total_rows > rows + 3, 3, "gas rows again")


async def test_pusher_refused_channel_reported_and_not_resent():
    async with PusherServer(rate=40, refuse_channels=("presence-portfolio-u1",)) as srv:
        feed = feeds.pusher(srv.base_url, token=srv.token)
        async with opened(feed, streams=["prices", "portfolio"], **fast()) as stream:
            await stream.__aenter__()
            await eventually(
                lambda: "portfolio" not in stream.connection.subscriptions, 3, "portfolio refused"
            )
            assert "presence-portfolio-u1" in repr(
                list(stream.connection.notices)
            ) or "portfolio" in repr(list(stream.connection.notices))
            rows = stream.buffer.total_rows
            await eventually(lambda: stream.buffer.total_rows > rows + 3, 3, "prices go on")
            srv.drop_all()
            await eventually(
                lambda: (
                    len(srv.connections) == 2
                    and "market-prices" in pusher_subscribed(srv.connections[1])
                ),
                4,
                "resubscribed",
            )
            await asyncio.sleep(0.2)
            assert "presence-portfolio-u1" not in pusher_subscribed(srv.connections[1])
            rows = stream.buffer.total_rows
            await eventually(lambda: stream.buffer.total_rows > rows + 3, 3, "prices again")


async def test_hyperoru_refused_channel_reported_and_not_resent():
    """004:49-50 `error` when the server cannot fulfil a request; the client docstring: an
    error naming a subscribe refuses its channels, which are not re-sent."""
    refuse = {"model_chat": "model_chat disabled"}
    async with HyperoruServer(rate=40, refuse_channels=refuse) as srv:
        feed = feeds.hyperoru(srv.url(), session_token=HYO_TOKEN)
        async with opened(feed, streams=["trades"], **fast()) as stream:
            await stream.__aenter__()
            await eventually(
                lambda: (stream.df["type"] == "trade_update").sum() >= 3, 3, "trade rows"
            )
            refused: BaseException | None = None
            try:
                await stream.subscribe("model_chat")
            except SubscriptionRefused as exc:
                refused = exc
            await eventually(
                lambda: "model_chat" not in stream.connection.subscriptions, 3, "model_chat refused"
            )
            assert refused is not None or "model_chat" in repr(list(stream.connection.notices))
            srv.drop_all()
            await eventually(
                lambda: (
                    len(srv.connections) == 2
                    and "trades" in hyperoru_subscribed(srv.connections[1])
                ),
                4,
                "resubscribed",
            )
            await asyncio.sleep(0.2)
            assert "model_chat" not in hyperoru_subscribed(srv.connections[1])
            rows = stream.buffer.total_rows
            await eventually(lambda: stream.buffer.total_rows > rows + 3, 3, "trades again")


async def test_hyperoru_refusal_right_after_open_keeps_the_other_streams():
    """The same refusal, asked for right after ``async with`` returns: the server refuses
    only model_chat (its error names model_chat), so trades must stay wanted and come back
    after a reconnect ("other streams continue")."""
    refuse = {"model_chat": "model_chat disabled"}
    async with HyperoruServer(rate=40, refuse_channels=refuse) as srv:
        feed = feeds.hyperoru(srv.url(), session_token=HYO_TOKEN)
        async with opened(feed, streams=["trades"], **fast()) as stream:
            await stream.__aenter__()
            with contextlib.suppress(SubscriptionRefused):
                await stream.subscribe("model_chat")
            await eventually(
                lambda: "model_chat" not in stream.connection.subscriptions, 3, "model_chat refused"
            )
            await asyncio.sleep(0.3)
            assert "trades" in stream.connection.subscriptions, (
                f"trades left the wanted set; the client sent "
                f"{[m for m in srv.connections[0].received if isinstance(m, dict)]}, notices "
                f"{[getattr(n, 'message', n) for n in stream.connection.notices]}"
            )
            srv.drop_all()
            await eventually(lambda: len(srv.connections) == 2, 3, "reconnected")
            await eventually(
                lambda: "trades" in hyperoru_subscribed(srv.connections[1]),
                2,
                "trades re-sent after the reconnect",
            )


# ======================================================================================
# 4. Outages, flapping, silence
# ======================================================================================


def build(
    name: str, **server_options: Any
) -> tuple[WsServer, Callable[[], Any], list[str], Callable[[Any], list[str]] | None]:
    """A server, a feed factory, the streams to open and how to read what was subscribed."""
    if name == "hydra":
        srv = HydraServer(rate=40, **server_options)
        return srv, lambda: feeds.hydra(srv.url(), token=srv.token), ["signals"], hydra_subscribed
    if name == "hydra_v1":
        srv1 = HydraV1Server(rate=40, **server_options)
        return srv1, lambda: feeds.hydra_v1(srv1.url(), api_key=srv1.api_key), [], None
    if name == "axol":
        srv2 = AxolServer(rate=40, **server_options)
        return (
            srv2,
            lambda: feeds.axol(srv2.url(), api_key=srv2.api_key, rest_url=srv2.rest_url),
            ["alerts"],
            axol_subscribed,
        )
    if name == "pusher":
        srv3 = PusherServer(rate=40, **server_options)
        return (
            srv3,
            lambda: feeds.pusher(srv3.base_url, token=srv3.token),
            ["prices"],
            pusher_subscribed_streams,
        )
    srv4 = HyperoruServer(rate=40, **server_options)
    return (
        srv4,
        lambda: feeds.hyperoru(srv4.url(), session_token=HYO_TOKEN),
        ["trades"],
        hyperoru_subscribed,
    )


def pusher_subscribed_streams(conn: Any) -> list[str]:
    names = {"market-prices": "prices"}
    return [names.get(c, c) for c in pusher_subscribed(conn)]


FEEDS = ["hydra", "hydra_v1", "axol", "pusher", "hyperoru"]


@pytest.mark.parametrize("name", FEEDS)
async def test_outage_then_back_on_same_port(name):
    """The whole server goes away for 1.5 s and comes back on the same port: the client comes
    back and resubscribes without user action, and never ends `failed`."""
    srv, make_feed, streams, subscribed = build(name)
    async with srv, opened(make_feed(), streams=streams, **fast()) as stream:
        states = record_states(stream)
        await stream.__aenter__()
        await eventually(lambda: len(stream.buffer) >= 3, 3, "rows before the outage")
        port = srv.port
        await srv.stop()
        await asyncio.sleep(1.5)
        assert stream.state in (State.RECONNECTING, State.CONNECTING)
        before = len(srv.connections)
        rows = stream.buffer.total_rows
        await srv.restart()
        assert srv.port == port
        await eventually(
            lambda: stream.state == State.CONNECTED and len(srv.connections) > before,
            3,
            "connected again",
        )
        if subscribed is not None:
            await eventually(
                lambda: set(streams) <= set(subscribed(srv.connections[-1])), 2, "resubscribed"
            )
        await eventually(lambda: stream.buffer.total_rows > rows + 3, 3, "rows after the outage")
        assert State.FAILED not in [c.state for c in states]


@pytest.mark.parametrize("name", FEEDS)
async def test_flapping_server_never_fails(name):
    """Every connection dropped right after the welcome (Hyperoru: after the first pong),
    twelve times: transient, so the client keeps trying and is never `failed`."""
    n = 12
    options = {"drop_after_pong": n} if name == "hyperoru" else {"drop_after_welcome": n}
    srv, make_feed, streams, _ = build(name, **options)
    async with srv, opened(make_feed(), streams=streams, **fast(connect_timeout=8)) as stream:
        states = record_states(stream)
        with contextlib.suppress(ConnectionFailed):
            await stream.__aenter__()
        await eventually(
            lambda: (
                len(srv.connections) > n
                and stream.state == State.CONNECTED
                and len(stream.buffer) >= 3
            ),
            8,
            "steady after the flapping",
        )
        failed = [c for c in states if c.state == State.FAILED]
        assert failed == [], failed[:1]


async def test_hydra_missed_heartbeats_reconnect():
    """000:58 "If you miss three consecutive heartbeats, assume the connection is dead and
    reconnect"."""
    async with HydraServer(rate=None, heartbeat_interval=None) as srv:
        feed = feeds.hydra(srv.url(), token=srv.token, heartbeat_interval=0.2, missed_heartbeats=3)
        async with opened(feed, streams=["signals"], **fast()) as stream:
            await stream.__aenter__()
            t0 = time.monotonic()
            await eventually(lambda: len(srv.connections) >= 2, 4, "a reconnect after silence")
            assert time.monotonic() - t0 >= 0.4
            await eventually(
                lambda: "signals" in hydra_subscribed(srv.connections[1]), 2, "resubscribed"
            )
            assert stream.state in (State.CONNECTED, State.RECONNECTING, State.CONNECTING)


async def test_hydra_heartbeats_keep_the_connection():
    async with HydraServer(rate=None, heartbeat_interval=0.1) as srv:
        feed = feeds.hydra(srv.url(), token=srv.token, heartbeat_interval=0.2, missed_heartbeats=3)
        async with opened(feed, streams=["signals"], **fast()) as stream:
            await stream.__aenter__()
            await asyncio.sleep(2.0)
            assert len(srv.connections) == 1
            assert stream.state == State.CONNECTED
            assert stream.stats.heartbeats >= 10


async def test_hydra_v1_missing_protocol_pings_reconnect():
    """001:57 "If you stop receiving pings, assume the connection is dead and reconnect"."""
    async with HydraV1Server(rate=None, ping_interval=None) as srv:
        feed = feeds.hydra_v1(srv.url(), api_key=srv.api_key, ping_timeout=0.6)
        async with opened(feed, **fast()) as stream:
            await stream.__aenter__()
            await eventually(lambda: len(srv.connections) >= 2, 4, "a reconnect without pings")


async def test_hydra_v1_protocol_pings_keep_the_connection():
    async with HydraV1Server(rate=None, ping_interval=0.15) as srv:
        feed = feeds.hydra_v1(srv.url(), api_key=srv.api_key, ping_timeout=0.6)
        async with opened(feed, **fast()) as stream:
            await stream.__aenter__()
            await asyncio.sleep(2.0)
            assert len(srv.connections) == 1
            assert stream.state == State.CONNECTED


@pytest.mark.parametrize("name", ["axol", "pusher", "hyperoru"])
async def test_hung_server_is_noticed(name):
    """A server that stops answering and sending (a half-open connection): Axol's JSON ping
    (003:76-84, 003:432-439), Hyperoru's ping (004:38-40) and Pusher's pusher:ping after
    activity_timeout (NOTES) go unanswered, so the client must declare the socket dead and
    reconnect (a new socket is served normally)."""
    if name == "axol":
        srv: Any = AxolServer(rate=40)
    elif name == "pusher":
        srv = PusherServer(rate=40, activity_timeout=1)
    else:
        srv = HyperoruServer(rate=40)
    async with srv:
        if name == "axol":
            feed = feeds.axol(
                srv.url(),
                api_key=srv.api_key,
                rest_url=srv.rest_url,
                ping_interval=0.2,
                missed_pongs=2,
            )
            streams = ["alerts"]
        elif name == "pusher":
            feed = feeds.pusher(
                srv.base_url, token=srv.token, activity_timeout=0.3, pong_timeout=0.3
            )
            streams = ["prices"]
        else:
            feed = feeds.hyperoru(
                srv.url(), session_token=HYO_TOKEN, ping_interval=0.2, missed_pongs=2
            )
            streams = ["trades"]
        async with opened(feed, streams=streams, **fast(open_timeout=1.0)) as stream:
            states = record_states(stream)
            await stream.__aenter__()
            await eventually(lambda: len(stream.buffer) >= 3, 3, "rows")
            await asyncio.sleep(1.0)
            assert len(srv.connections) == 1, "a live server was declared dead"
            srv.hang_open_connections()  # this socket goes silent; new ones are served
            await eventually(lambda: len(srv.connections) >= 2, 4, "a reconnect after the hang")
            await eventually(
                lambda: stream.state == State.CONNECTED and srv.open_connections,
                5,
                "connected again",
            )
            rows = stream.buffer.total_rows
            await eventually(lambda: stream.buffer.total_rows > rows + 3, 4, "rows again")
            assert State.FAILED not in [c.state for c in states]


# ======================================================================================
# 5. Hostile frames
# ======================================================================================


def nested(depth: int) -> str:
    return '{"a":' * depth + "1" + "}" * depth


class Hostile:
    """Per feed: a good event (with its counter) and the feed's envelope for bad payloads."""

    def __init__(self, name: str, srv: Any) -> None:
        self.name = name
        self.srv = srv

    def good(self) -> tuple[dict[str, Any], int]:
        srv = self.srv
        if self.name == "hydra":
            event = srv.event("signals")
            return event, event["data"]["seq"]
        if self.name == "hydra_v1":
            srv.seq += 1
            return srv.signal(srv.seq), srv.seq
        if self.name == "axol":
            event = srv.gas_update("gas_prices_ethereum")
            return event, event["data"]["seq"]
        if self.name == "pusher":
            event = srv.event_for("market-prices")
            return event, json.loads(event["data"])["seq"]
        event = srv.broadcast("trades", "acct_1")
        return event, event["data"]["n"]

    @property
    def column(self) -> str:
        return {
            "hydra": "data.seq",
            "hydra_v1": "data.signals.seq",
            "axol": "data.seq",
            "pusher": "data.seq",
            "hyperoru": "data.n",
        }[self.name]

    def wrap(self, payload: str) -> str:
        """A frame of the feed's event envelope around a raw JSON ``payload`` text."""
        now = int(time.time() * 1000)
        if self.name == "hydra":
            return f'{{"stream":"signals","type":"signal_new","ts":{now},"data":{payload}}}'
        if self.name == "hydra_v1":
            return (
                '{"type":"signal","data":{"signals":[{"id":"h","category":"NAVAL",'
                f'"payload":{payload}}}]}}}}'
            )
        if self.name == "axol":
            return f'{{"type":"gas_update","channel":"gas_prices_ethereum","data":{payload}}}'
        if self.name == "pusher":
            data = json.dumps(payload)
            return f'{{"event":"price_update","channel":"market-prices","data":{data}}}'
        return f'{{"type":"trade_update","data":{payload}}}'

    def future(self) -> tuple[dict[str, Any], int] | None:
        """A good event whose time is 10000000000000 ms (year 2286): beyond pandas' range."""
        far = 10_000_000_000_000
        event, seq = self.good()
        if self.name == "hydra":
            event["ts"] = far
        elif self.name == "hyperoru":
            event["data"]["ts"] = far
        elif self.name == "pusher":
            data = json.loads(event["data"])
            data["timestamp"] = far
            event["data"] = json.dumps(data)
        elif self.name == "axol":
            event["timestamp"] = "2286-11-20T17:46:40Z"
        else:
            event["data"]["signals"][0]["createdAt"] = far
            event["data"]["signals"][0]["timestamp"] = far
        return event, seq

    def bad_frames(self) -> list[tuple[str, Any]]:
        control = {
            "hydra": {
                "type": "heartbeat",
                "ts": 1710000000000,
                "data": None,
                "stream": "signals",
                "extra": {"x": [1, 2]},
            },
            "hydra_v1": {
                "type": "connected",
                "data": {"scopes": ["signals"], "ts": 1, "extra": True},
                "extra": 1,
            },
            "axol": {
                "type": "pong",
                "data": {"extra": 1},
                "channel": "gas_prices_ethereum",
                "timestamp": "x",
            },
            "pusher": {
                "event": "pusher:pong",
                "data": '{"extra": 1}',
                "channel": "x",
                "extra": [1],
            },
            "hyperoru": {
                "type": "pong",
                "request_id": "nobody",
                "data": {"extra": 1},
                "extra": True,
            },
        }[self.name]
        return [
            (
                "invalid UTF-8 in a text frame",
                InvalidUtf8(
                    b'{"stream":"signals","type":"signal_new","ts":1,"data":{"x":"\xff\xfe\xfd"}}'
                ),
            ),
            ("binary frame", b"\x00\x01\x02\xffbinary"),
            ("non-JSON", "this is not json {"),
            ("empty text", ""),
            ("JSON array", "[1, 2, 3]"),
            ("JSON string", '"just a string"'),
            ("JSON null", "null"),
            ("deeply nested (100000 levels)", self.wrap(nested(100_000))),
            ("nested 300 levels", self.wrap(nested(300))),
            (
                "huge numbers",
                self.wrap(
                    '{"big":1e400,"neg":-1e400,"int":123456789012345678901234567890123456789}'
                ),
            ),
            ("NaN literals", self.wrap('{"x":NaN,"y":Infinity,"z":-Infinity}')),
            (
                "unknown message type",
                {"type": "brand_new_type", "event": "brand:new", "data": {"k": 1}},
            ),
            ("control message with extra fields", control),
            (
                "fields of the wrong types",
                {
                    "stream": 5,
                    "type": ["x"],
                    "ts": {"a": 1},
                    "event": 7,
                    "channel": [],
                    "data": "str",
                },
            ),
            ("empty object", {}),
        ]


async def open_hostile(name: str, srv: Any, stack: contextlib.AsyncExitStack) -> Any:
    if name == "hydra":
        feed = feeds.hydra(srv.url(), token=srv.token)
        streams = ["signals"]
    elif name == "hydra_v1":
        feed = feeds.hydra_v1(srv.url(), api_key=srv.api_key)
        streams = []
    elif name == "axol":
        feed = feeds.axol(srv.url(), api_key=srv.api_key, rest_url=srv.rest_url)
        streams = ["gas_prices_ethereum"]
    elif name == "pusher":
        feed = feeds.pusher(srv.base_url, token=srv.token)
        streams = ["prices"]
    else:
        feed = feeds.hyperoru(srv.url(), session_token=HYO_TOKEN)
        streams = ["trades"]
    stream = await stack.enter_async_context(opened(feed, streams=streams, **fast()))
    await stream.__aenter__()
    return stream


def make_server(name: str) -> Any:
    return {
        "hydra": lambda: HydraServer(rate=None, reply_subscribed=False),
        "hydra_v1": lambda: HydraV1Server(rate=None),
        "axol": lambda: AxolServer(rate=None),
        "pusher": lambda: PusherServer(rate=None),
        "hyperoru": lambda: HyperoruServer(rate=None),
    }[name]()


@pytest.mark.parametrize("name", FEEDS)
async def test_hostile_frames(name):
    """Malformed, binary, non-object frames, odd numbers and far-future times, each between
    two good events: the connection survives, df never raises, every good event is buffered
    (README: "Bad input never kills it"). Each bad frame is judged on its own; the failure
    message lists every one that cost a reconnect, a good event or a df error."""
    async with make_server(name) as srv, contextlib.AsyncExitStack() as stack:
        stream = await open_hostile(name, srv, stack)
        hostile = Hostile(name, srv)
        await asyncio.sleep(0.3)  # the subscription is in place
        problems: list[str] = []
        cases: list[tuple[str, Any]] = [*hostile.bad_frames(), ("far-future time", None)]
        for label, frame in cases:
            await eventually(
                lambda: stream.state == State.CONNECTED and srv.open_connections,
                5,
                f"connected before {label}",
            )
            before = len(srv.connections)
            connects = stream.stats.connects
            ws = srv.open_connections[-1].ws
            first, s1 = hostile.good()
            await send_frame(ws, first)
            wanted = {s1}
            if frame is None:
                frame, s_far = hostile.future()
                wanted.add(s_far)
            await send_frame(ws, frame)
            last, s2 = hostile.good()
            await send_frame(ws, last)
            wanted.add(s2)
            try:
                ok = await wait_until(lambda w=wanted: w <= values(stream.df, hostile.column), 2)
            except Exception as exc:  # stream.df raised
                problems.append(f"{label}: stream.df raised {exc!r}")
                continue
            what = []
            if len(srv.connections) != before or stream.stats.connects != connects:
                what.append("the connection was dropped")
            if not ok:
                what.append(f"events lost: {sorted(wanted - values(stream.df, hostile.column))}")
            if what:
                problems.append(f"{label}: " + ", ".join(what))
            if len(srv.connections) != before:
                await asyncio.sleep(0.5)  # let it resubscribe before the next case
        assert not problems, f"{len(problems)} of {len(cases)} hostile frames hurt: {problems}"
        assert stream.stats.parse_errors > 0
        assert isinstance(stream.to_dataframe(), pd.DataFrame)
        stream.buffer.since(0)


async def test_hydra_5mb_frame_with_default_options():
    """A 5 MB frame between two good events: the connection survives and both good events
    are buffered (the client's max_frame_bytes default, 16 MiB, takes it)."""
    async with HydraServer(rate=None) as srv:
        feed = feeds.hydra(srv.url(), token=srv.token)
        async with opened(feed, streams=["signals"], **fast()) as stream:
            await stream.__aenter__()
            await asyncio.sleep(0.2)
            ws = srv.connections[0].ws
            first = await srv.emit(ws, "signals")
            await send_frame(ws, srv.event("signals", blob="x" * 5_000_000))
            second = await srv.emit(ws, "signals")
            want = {first["data"]["seq"], second["data"]["seq"]}
            ok = await wait_until(lambda: want <= values(stream.df, "data.seq"), 5)
            history = [f"{c.state.value}: {c.reason}" for c in stream.connection.history]
            assert ok and stream.stats.connects == 1 and len(srv.connections) == 1, (
                f"buffered {sorted(values(stream.df, 'data.seq'))} of {sorted(want)}; "
                f"connects={stream.stats.connects}; history={history[2:]}"
            )


async def test_hydra_5mb_frame_with_larger_max_frame_bytes():
    async with HydraServer(rate=None) as srv:
        feed = feeds.hydra(srv.url(), token=srv.token)
        async with opened(feed, streams=["signals"], **fast(max_frame_bytes=8_000_000)) as stream:
            await stream.__aenter__()
            await asyncio.sleep(0.2)
            ws = srv.connections[0].ws
            first = await srv.emit(ws, "signals")
            big = await srv.emit(ws, "signals", blob="x" * 5_000_000)
            second = await srv.emit(ws, "signals")
            want = {first["data"]["seq"], big["data"]["seq"], second["data"]["seq"]}
            await eventually(
                lambda: want <= values(stream.df, "data.seq"), 5, "all three events buffered"
            )
            assert stream.stats.connects == 1
            assert len(stream.df) == 3


async def test_hydra_v1_5mb_snapshot_reaches_live_events():
    """001:52-53: the snapshot of every scope is sent on every connect; "aircraft (last 2 h)"
    (NOTES) can be large. With default options the client must still reach the live events,
    not reconnect for ever on the same large snapshot."""
    async with HydraV1Server(rate=20, big_snapshot_bytes=5_000_000) as srv:
        feed = feeds.hydra_v1(srv.url(), api_key=srv.api_key)
        async with opened(feed, **fast()) as stream:
            with contextlib.suppress(ConnectionFailed):
                await stream.__aenter__()
            ok = await wait_until(
                lambda: len(stream.df) > 0 and (~stream.df["snapshot"]).sum() >= 5, 8
            )
            reasons = {
                c.reason.split(";")[0]
                for c in stream.connection.history
                if c.state == State.RECONNECTING
            }
            assert ok and len(srv.connections) <= 2, (
                f"{len(stream.df)} rows after 8 s; the server saw {len(srv.connections)} "
                f"connections, each sent a 5 MB snapshot; reconnect reasons: {reasons}"
            )


# ======================================================================================
# 6. Secrets
# ======================================================================================


def exception_texts(exc: BaseException | None) -> str:
    out = []
    seen = set()
    while exc is not None and id(exc) not in seen:
        seen.add(id(exc))
        out += [
            repr(exc),
            str(exc),
            repr(exc.args),
            "".join(traceback.format_exception(type(exc), exc, exc.__traceback__)),
        ]
        exc = exc.__cause__ or exc.__context__
    return "\n".join(out)


def log_texts(records: list[logging.LogRecord]) -> str:
    out = []
    for r in records:
        if r.name.startswith("websockets.server"):  # the test server's own logs
            continue
        with contextlib.suppress(Exception):
            out.append(r.getMessage())
        out.append(repr(r.args))
        if r.exc_info:
            out.append("".join(traceback.format_exception(*r.exc_info)))
        if r.exc_text:
            out.append(r.exc_text)
    return "\n".join(out)


FRAGMENT = 16
JWT_HEADER = "eyJhbGciOiJIUzI1NiJ9"  # base64 of {"alg":"HS256"}: in every such JWT, no secret


def fragments(secret: str) -> list[str]:
    """The secret and every 16-character piece of it (a truncated preview that shows the
    tail of a JWT shows its signature), except pieces of the public JWT header."""
    pieces = [secret[i : i + FRAGMENT] for i in range(len(secret) - FRAGMENT + 1)]
    return [secret] + [p for p in pieces if p not in JWT_HEADER]


def assert_no_secret(
    secrets: list[str], stream: Any, exc: BaseException | None, caplog: pytest.LogCaptureFixture
) -> None:
    conn = stream.connection
    places = {
        "connection.notices": repr(list(conn.notices)),
        "connection.stats": repr(conn.stats) + repr(conn.stats.as_dict()),
        "connection.reason": str(conn.reason),
        "connection.history": repr(list(conn.history)),
        "repr(connection)": repr(conn) + repr(stream),
        "connection.rejected_frames": repr(list(conn.rejected_frames)),
        "exception": exception_texts(exc),
    }
    for record in caplog.records:
        text = log_texts([record])
        if text:
            places[f"log record {record.name}: {text[:160]!r}"] = text
    leaks = []
    for where, text in places.items():
        hits = [p for s in secrets if s for p in fragments(s) if p in text]
        if hits:
            leaks.append(f"{where} holds {hits[0]!r}")
    assert not leaks, (
        f"a secret (or a {FRAGMENT}-character piece of one) appears in "
        f"{len(leaks)} places: " + " | ".join(leaks[:4])
    )


async def run_until_failed_or(stream: Any, seconds: float) -> BaseException | None:
    exc = None
    try:
        await stream.__aenter__()
    except ConnectionFailed as e:
        exc = e
        return exc
    with contextlib.suppress(Exception):
        await stream.connection.wait_for_state(State.FAILED, timeout=seconds)
    return exc


async def test_secret_hydra_token_echoed_in_error_and_close_reason(caplog):
    caplog.set_level(logging.DEBUG)

    async def script(srv: HydraServer, ws: Any, conn: Any) -> None:
        await asyncio.sleep(0.3)
        token = conn.query["token"]
        await send_frame(
            ws,
            {
                "type": "error",
                "ts": 1,
                "data": {"message": f"token {token} expires in 1 s", "token": token},
            },
        )
        await send_frame(
            ws,
            {
                "stream": "signals",
                "type": "signal_new",
                "ts": 1,
                "data": {"note": f"echo {token}", "seq": 1},
            },
        )
        await asyncio.sleep(0.2)
        await ws.close(4001, f"Invalid or expired JWT: {token}")

    async with HydraServer(token=JWT, rate=None, script=script, echo_token_in_errors=True) as srv:
        feed = feeds.hydra(srv.url(), token=srv.token)
        async with opened(feed, streams=["signals"], **fast()) as stream:
            exc = await run_until_failed_or(stream, 3)
            failure(stream)
            assert_no_secret([srv.token], stream, exc, caplog)

    caplog.clear()
    async with HydraServer(rate=None, echo_token_in_errors=True) as srv:
        wrong = JWT + "X"
        feed = feeds.hydra(srv.url(), token=wrong)
        async with opened(feed, **fast()) as stream:
            exc = await run_until_failed_or(stream, 3)
            assert exc is not None
            assert_no_secret([wrong], stream, exc, caplog)


@pytest.mark.parametrize("mode", ["close_1008", "http_401"])
async def test_secret_hydra_v1_key_echoed(caplog, mode):
    caplog.set_level(logging.DEBUG)
    key = "hydra_k1_9f8e7d6c5b4a39281706f5e4d3c2b1a0"
    async with HydraV1Server(http_401=(mode == "http_401"), echo_key_in_errors=True) as srv:
        for key_in in ("header", "query"):
            caplog.clear()
            feed = feeds.hydra_v1(srv.url(), api_key=key, key_in=key_in)
            async with opened(feed, **fast()) as stream:
                exc = await run_until_failed_or(stream, 3)
                assert exc is not None
                assert_no_secret([key], stream, exc, caplog)


async def test_secret_axol_jwt_and_key_echoed(caplog):
    caplog.set_level(logging.DEBUG)
    async with AxolServer(close_1008="after_welcome", echo_secrets_in_errors=True) as srv:
        feed = feeds.axol(srv.url(), api_key=srv.api_key, rest_url=srv.rest_url)
        async with opened(feed, streams=["alerts"], **fast()) as stream:
            exc = await run_until_failed_or(stream, 4)
            await asyncio.sleep(0.3)
            assert srv.tokens
            assert_no_secret([srv.api_key, *srv.tokens], stream, exc, caplog)
    caplog.clear()
    async with AxolServer(echo_secrets_in_errors=True) as srv:
        wrong = "axol_live_5e4d3c2b1a0f9e8d7c6b5a4938271605"
        feed = feeds.axol(srv.url(), api_key=wrong, rest_url=srv.rest_url)
        async with opened(feed, **fast()) as stream:
            exc = await run_until_failed_or(stream, 3)
            assert exc is not None
            assert_no_secret([wrong], stream, exc, caplog)


async def test_secret_pusher_token_echoed(caplog):
    caplog.set_level(logging.DEBUG)
    async with PusherServer(
        token="agk_live_9d8c7b6a5f4e3d2c1b0a9f8e7d6c5b4a",
        rate=None,
        echo_token_in_errors=True,
        refuse_channels=("presence-portfolio-u1",),
    ) as srv:
        feed = feeds.pusher(srv.base_url, token=srv.token)
        async with opened(feed, streams=["prices", "portfolio"], **fast()) as stream:
            await stream.__aenter__()
            await eventually(
                lambda: "portfolio" not in stream.connection.subscriptions, 3, "portfolio refused"
            )
            signatures = [
                m["data"].get("auth", "")
                for m in srv.connections[0].sent_of("event", "pusher:subscribe")
            ]
            assert_no_secret(
                [srv.token, *[s.split(":")[-1] for s in signatures if s]], stream, None, caplog
            )
    caplog.clear()
    async with PusherServer(echo_token_in_errors=True) as srv:
        wrong = "agk_live_1a2b3c4d5e6f7a8b9c0d1e2f3a4b5c6d"
        feed = feeds.pusher(srv.base_url, token=wrong)
        async with opened(feed, streams=["prices"], **fast()) as stream:
            exc = await run_until_failed_or(stream, 3)
            assert exc is not None
            assert_no_secret([wrong], stream, exc, caplog)


async def test_secret_hyperoru_token_echoed(caplog):
    caplog.set_level(logging.DEBUG)
    async with HyperoruServer(
        tokens=(SECRET_HYO,),
        rate=None,
        echo_token_in_errors=True,
        refuse_channels={"model_chat": "not enabled"},
    ) as srv:
        feed = feeds.hyperoru(srv.url(), session_token=SECRET_HYO)
        async with opened(feed, streams=["trades"], **fast()) as stream:
            await stream.__aenter__()
            with contextlib.suppress(SubscriptionRefused):
                await stream.subscribe("model_chat")
            await eventually(
                lambda: "model_chat" not in stream.connection.subscriptions, 3, "model_chat refused"
            )
            assert_no_secret([SECRET_HYO], stream, None, caplog)
    caplog.clear()
    async with HyperoruServer(refusal="1008", echo_token_in_errors=True) as srv:
        wrong = "hyo_live_0wrong9a2b4d6e8f0a1b3c5d7e9f2a4c6e"
        feed = feeds.hyperoru(srv.url(), session_token=wrong)
        async with opened(feed, **fast()) as stream:
            exc = await run_until_failed_or(stream, 3)
            assert exc is not None
            assert_no_secret([wrong], stream, exc, caplog)


# ======================================================================================
# 7. Two connections from one feed object
# ======================================================================================


async def test_pusher_two_connections_sign_their_own_socket_ids():
    """NOTES: the presence signature covers "socket_id:channel:channel_data"; two sockets of
    one feed have two socket ids and must each be signed for their own."""
    async with PusherServer(rate=40) as srv:
        feed = feeds.pusher(srv.base_url, token=srv.token)
        async with (
            opened(feed, streams=["prices", "portfolio"], **fast()) as one,
            opened(feed, streams=["portfolio", "prices"], **fast()) as two,
        ):
            await asyncio.gather(one.__aenter__(), two.__aenter__())
            for stream in (one, two):
                await eventually(
                    lambda s=stream: "portfolio" in streams_of(s) and "prices" in streams_of(s),
                    4,
                    "both streams on both",
                )
            ids = {c.state["socket_id"] for c in srv.connections}
            assert len(ids) == 2
            assert {r["socket_id"] for r in srv.auth_requests} == ids
            for stream in (one, two):
                assert "portfolio" in stream.connection.subscriptions
                assert "signature" not in repr(list(stream.connection.notices)).lower()
            # one of them reconnects: it signs its new socket; the other is untouched
            srv.connections[0].ws.transport.abort()
            await eventually(lambda: len(srv.connections) == 3, 3, "a new socket")
            await eventually(lambda: len(srv.auth_requests) >= 3, 3, "the new socket signed")
            assert srv.auth_requests[-1]["socket_id"] == srv.connections[2].state["socket_id"]
            rows = [s.buffer.total_rows for s in (one, two)]
            pairs = list(zip((one, two), rows, strict=True))
            await eventually(
                lambda: all(s.buffer.total_rows > r + 3 for s, r in pairs), 3, "both go on"
            )
            assert sorted(s.stats.connects for s in (one, two)) == [1, 2]
            assert all("portfolio" in s.connection.subscriptions for s in (one, two))


async def test_hyperoru_two_sessions_with_different_accounts():
    """004:25-27: switch_account points *this connection* at an account."""
    async with HyperoruServer(rate=60) as srv:
        feed = feeds.hyperoru(srv.url(), session_token=HYO_TOKEN)
        async with (
            opened(feed, streams=["positions"], **fast()) as one,
            opened(feed, streams=["positions"], **fast()) as two,
        ):
            await asyncio.gather(one.__aenter__(), two.__aenter__())
            await asyncio.gather(
                feed.requests(one).switch_account("acct_2"),
                feed.requests(two).switch_account("acct_3"),
            )
            await asyncio.sleep(0.2)
            cursors = [s.buffer.last_seq for s in (one, two)]

            def accounts_since(stream: Any, cursor: int) -> set[str]:
                frame, _ = stream.buffer.since(cursor)
                frame = frame[frame["type"] == "position_update"]
                return set(frame["data.account_id"].dropna())

            await eventually(
                lambda: all(
                    len(s.buffer.since(c)[0]) >= 5 for s, c in zip((one, two), cursors, strict=True)
                ),
                3,
                "new rows",
            )
            assert accounts_since(one, cursors[0]) == {"acct_2"}
            assert accounts_since(two, cursors[1]) == {"acct_3"}
            b1, b2 = await asyncio.gather(
                feed.requests(one).bootstrap(), feed.requests(two).bootstrap()
            )
            assert len(b1["accounts"]) == len(b2["accounts"]) == 3

            srv.drop_all()  # both reconnect; each must re-send its own account
            await eventually(
                lambda: (
                    len(srv.connections) == 4
                    and all(s.state == State.CONNECTED for s in (one, two))
                ),
                4,
                "both back",
            )
            await asyncio.sleep(0.3)
            cursors = [s.buffer.last_seq for s in (one, two)]
            await eventually(
                lambda: all(
                    len(s.buffer.since(c)[0]) >= 5 for s, c in zip((one, two), cursors, strict=True)
                ),
                3,
                "new rows",
            )
            assert accounts_since(one, cursors[0]) == {"acct_2"}
            assert accounts_since(two, cursors[1]) == {"acct_3"}


# ======================================================================================
# 8. A slow consumer
# ======================================================================================


async def test_slow_consumer_keeps_connection_and_every_event():
    """README / consumer docstring: the buffer gets every event whatever the consumer does;
    drop_oldest reads the socket at full speed, so the keepalive never suffers."""
    async with HydraServer(rate=400, heartbeat_interval=0.5) as srv:
        feed = feeds.hydra(srv.url(), token=srv.token, heartbeat_interval=0.5)
        async with opened(feed, streams=["signals"], queue_size=200, **fast()) as stream:
            states = record_states(stream)
            await stream.__aenter__()
            seen = {"events": 0, "gaps": 0}

            async def consume() -> None:
                async for item in stream:
                    if isinstance(item, Gap):
                        seen["gaps"] += 1
                    else:
                        seen["events"] += 1
                    await asyncio.sleep(0.02)  # ~50 events/s

            task = asyncio.ensure_future(consume())
            await asyncio.sleep(5.0)
            srv.paused = True
            await asyncio.sleep(0.5)
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task
            sent = {e["data"]["seq"] for e in srv.sent_events}
            assert len(sent) > 1000
            missing = sent - values(stream.df, "data.seq")
            assert not missing, f"{len(missing)} of {len(sent)} events not in the buffer"
            assert len(srv.connections) == 1
            assert stream.stats.connects == 1
            assert stream.state == State.CONNECTED
            assert State.RECONNECTING not in [c.state for c in states]
            assert stream.dropped > 0 and seen["gaps"] > 0
