"""GenericDialect end to end on loopback against a Binance-style test server."""

from __future__ import annotations

import asyncio
import logging

import pandas as pd
import pytest

from streamwidgets.connection.backoff import Backoff
from streamwidgets.connection.driver import Connection, State
from streamwidgets.dialects.generic import (
    GenericDialect,
    HeaderAuth,
    MessageAuth,
    QueryAuth,
    binance_style,
)
from streamwidgets.exceptions import (
    AuthenticationFailed,
    ConnectionFailed,
    RequestError,
    StreamNotAvailable,
)
from tests.support.feed_inputs import GENERIC_KEY as KEY
from tests.support.feed_inputs import GENERIC_SUBSCRIBE as SUB
from tests.support.feeds_for_tests import BinanceStyleFeed
from tests.support.waiting import eventually, seconds

# End to end -----------------------------------------------------------------------

AUTHS = {
    "query": lambda key: QueryAuth("apiKey", key),
    "header": lambda key: HeaderAuth("X-MBX-APIKEY", key),
    "message": lambda key: MessageAuth({"method": "AUTH", "key": "{secret}"}, key),
}


def connect(feed, *, placement=None, key=KEY, streams=("btcusdt@trade",), **options):
    auth = AUTHS[placement](key) if placement else None
    backoff = Backoff(initial=0.02, maximum=0.1, slow_initial=0.5)
    return Connection(
        binance_style(feed.url, auth=auth, **options),
        streams=list(streams),
        backoff=backoff,
        healthy_after=0.05,
    )


@pytest.mark.parametrize("placement", ["query", "header", "message"])
async def test_each_auth_placement_connects_and_buffers_trades(placement):
    """With the key in the query, a header or the first message, trades reach the buffer."""
    async with BinanceStyleFeed(auth=placement, key=KEY, rate=100) as feed:
        conn = connect(feed, placement=placement)
        conn.start()
        try:
            await conn.wait_connected(timeout=seconds(5))
            await eventually(lambda: len(conn.buffer) >= 5)
            df = conn.buffer.to_dataframe()
            assert set(df["stream"]) == {"BTCUSDT"} and set(df["type"]) == {"trade"}
            expected = pd.to_datetime(df["data.E"].astype("int64"), unit="ms", utc=True)
            assert (df["event_time"] == expected).all()
            assert conn.stats.parse_errors == 0
        finally:
            await conn.close()


async def test_subscribe_reply_is_correlated_by_id_and_unsubscribe_stops_events():
    """subscribe() waits for the reply with its id; unsubscribe() stops that symbol."""
    async with BinanceStyleFeed(rate=100) as feed:
        conn = connect(feed)
        conn.start()
        try:
            await conn.wait_connected(timeout=seconds(5))
            await eventually(lambda: any(c.get("id") == 1 for c in feed.commands))
            result = await conn.subscribe(["ethusdt@trade"])
            assert result.active == ["btcusdt@trade", "ethusdt@trade"]
            sent = [c for c in feed.commands if c.get("method") == "SUBSCRIBE"]
            assert [c["id"] for c in sent] == [1, 2]
            await eventually(lambda: "ETHUSDT" in set(conn.buffer.to_dataframe()["stream"]))
            await conn.unsubscribe(["ethusdt@trade"])
            assert feed.commands[-1] == {
                "method": "UNSUBSCRIBE",
                "params": ["ethusdt@trade"],
                "id": 3,
            }
            seen = conn.buffer.last_seq
            await eventually(lambda: conn.buffer.last_seq >= seen + 5)
            new, _ = conn.buffer.since(seen)
            assert set(new["stream"]) == {"BTCUSDT"}
        finally:
            await conn.close()


async def test_an_error_reply_raises_request_error_with_the_servers_words():
    """A refused subscription raises RequestError carrying the feed's error message."""
    async with BinanceStyleFeed() as feed:
        conn = connect(feed)
        conn.start()
        try:
            await conn.wait_connected(timeout=seconds(5))
            with pytest.raises(RequestError, match="unknown stream"):
                await conn.subscribe(["dogeusdt@trade"])
            assert conn.state is State.CONNECTED
        finally:
            await conn.close()


async def test_welcome_lists_streams_and_app_pings_are_answered_not_buffered():
    """A configured welcome gives available streams; PING/PONG never become events."""
    async with BinanceStyleFeed(greet=True, pong=True, rate=100) as feed:
        d = GenericDialect(
            feed.url,
            subscribe=SUB,
            reply_id_path="id",
            stream_path="s",
            type_path="e",
            time_path="E",
            welcome={"e": "welcome"},
            available_path="streams",
            ping={"method": "PING"},
            ping_interval=0.02,
            ignore=[{"result": "PONG"}],
        )
        conn = Connection(d, streams=["btcusdt@trade"])
        conn.start()
        try:
            await conn.wait_connected(timeout=seconds(5))
            assert conn.available_streams == ["btcusdt@trade", "ethusdt@trade"]
            with pytest.raises(StreamNotAvailable):
                await conn.subscribe(["xrpusdt@trade"])
            await eventually(lambda: sum(c == {"method": "PING"} for c in feed.commands) >= 3)
            await eventually(lambda: len(conn.buffer) >= 3)
            assert set(conn.buffer.to_dataframe()["type"]) == {"trade"}
            assert conn.stats.parse_errors == 0
        finally:
            await conn.close()


async def test_a_stop_code_fails_the_connection_without_reconnecting():
    """A configured stop code ends in state failed with its words, and no second attempt."""
    async with BinanceStyleFeed() as feed:
        d = GenericDialect(feed.url, stop_codes={4010: "account suspended"})
        conn = Connection(d, backoff=Backoff(initial=0.02, maximum=0.1))
        conn.start()
        try:
            await conn.wait_connected(timeout=seconds(5))
            await feed.kick(4010, "suspended")
            assert await conn.wait_for_state(State.FAILED, timeout=seconds(5)) is State.FAILED
            assert conn.reason == "account suspended (4010): suspended"
            assert conn.close_code == 4010
            with pytest.raises(ConnectionFailed, match="account suspended"):
                await conn.wait_connected(timeout=1)
            await asyncio.sleep(seconds(0.2))  # time a reconnect would have needed
            assert feed.connections == 1
        finally:
            await conn.close()


@pytest.mark.parametrize("placement", ["query", "header", "message"])
async def test_the_key_leaks_nowhere(placement, caplog):
    """Neither a good nor a refused key shows in logs, reprs, URLs, reasons or exceptions."""
    caplog.set_level(logging.DEBUG)
    wrong = "sk-wrong-0b1c2d3e4f5a"
    texts: list[str] = []
    async with BinanceStyleFeed(auth=placement, key=KEY, rate=100) as feed:
        good = connect(feed, placement=placement)
        good.start()
        try:
            await good.wait_connected(timeout=seconds(5))
            await eventually(lambda: len(good.buffer) >= 2)
            texts += [repr(good), repr(good.dialect), good.dialect.target().display_url]
            texts += [str(good.dialect.describe()), repr(good.dialect.auth), str(good.stats)]
        finally:
            await good.close()
        bad = connect(feed, placement=placement, key=wrong)
        bad.start()
        try:
            # Without a welcome the feed counts as connected on open, before the refusal.
            await bad.wait_for_state(State.FAILED, timeout=seconds(5))
            with pytest.raises(AuthenticationFailed) as info:
                await bad.wait_connected(timeout=seconds(1))
            assert bad.state is State.FAILED and bad.close_code == 1008
            assert feed.connections == 2  # the refused key was not retried
            texts += [str(info.value), repr(info.value), repr(bad), bad.reason]
            texts += [repr(change) for change in bad.history]
        finally:
            await bad.close()
    texts += [record.getMessage() for record in caplog.records]
    texts += [record.exc_text or "" for record in caplog.records]
    assert any("apiKey" in t or "X-MBX-APIKEY" in t or "AUTH" in t or "1008" in t for t in texts)
    for secret in (KEY, wrong):
        assert not [t for t in texts if secret in t]


async def test_a_refused_stream_does_not_spoil_resubscription_after_reconnect():
    """After a refused subscribe and a reconnect, the accepted streams flow again."""
    async with BinanceStyleFeed(rate=100) as feed:
        conn = connect(feed)
        conn.start()
        try:
            await conn.wait_connected(timeout=seconds(5))
            await eventually(lambda: len(conn.buffer) >= 1)
            with pytest.raises(RequestError):
                await conn.subscribe(["dogeusdt@trade"])
            await feed.kick(1001, "restart")
            await eventually(lambda: conn.stats.reconnects >= 1)
            seen = conn.buffer.last_seq
            await asyncio.sleep(seconds(0.3))
            assert conn.buffer.last_seq > seen
        finally:
            await conn.close()
