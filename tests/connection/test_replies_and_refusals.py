"""Requests wait only for documented replies; subscriptions survive everything but a refusal;
one feed object serves many connections. Each case runs against both simulator profiles."""

from __future__ import annotations

import asyncio
import time

import pytest

import streamwidgets
from streamwidgets import StreamWidget, feeds
from streamwidgets.connection.backoff import Backoff
from streamwidgets.connection.driver import Connection, State
from streamwidgets.exceptions import SubscriptionRefused
from streamwidgets.simulators.axol import AxolSimulator
from streamwidgets.simulators.hydra import HydraSimulator
from streamwidgets.simulators.hyperoru import HyperoruSimulator
from streamwidgets.simulators.pusher import PusherSimulator
from tests.support.waiting import eventually, seconds

FAST = {"backoff": Backoff(initial=0.02, maximum=0.1), "healthy_after": 0.05}
HYPERORU_TOKEN = "hyo_sim_refusals_0123456789abcdef"
PUSHER_TOKEN = "sk_sim_refusals_0123456789"
AXOL_KEY = "axol_sim_refusals_0123456789"


async def connected(conn: Connection) -> Connection:
    conn.start()
    await conn.wait_connected(timeout=seconds(5))
    return conn


def streams_of(conn: Connection) -> set[str]:
    df = conn.buffer.to_dataframe()
    return set(df["stream"]) if not df.empty else set()


# -- Hyperoru: subscribe and switch_account have no documented reply -------------------------


async def test_hyperoru_subscribe_without_a_reply_keeps_the_channel_and_its_rows(profile):
    """subscribe is complete once sent; positions stays subscribed and its rows arrive."""
    async with HyperoruSimulator(
        session_tokens=[HYPERORU_TOKEN], rate=200.0, profile=profile
    ) as sim:
        feed = feeds.hyperoru(sim.url, session_token=HYPERORU_TOKEN, bootstrap_on_connect=False)
        conn = await connected(Connection(feed, request_timeout=seconds(3), **FAST))
        try:
            began = time.monotonic()
            result = await conn.subscribe(["positions"])
            assert time.monotonic() - began < seconds(0.5)  # nothing waited for a reply
            assert result.rejected == {} and conn.subscriptions == ["positions"]
            await eventually(lambda: "positions" in streams_of(conn))
            assert conn.subscriptions == ["positions"] and conn.state is State.CONNECTED
        finally:
            await conn.close()


async def test_hyperoru_the_chosen_account_is_restored_after_a_reconnect(profile):
    """switch_account (no reply) is remembered and re-sent after a reconnect, so broadcasts
    after the reconnect are still the chosen account's."""
    async with HyperoruSimulator(
        session_tokens=[HYPERORU_TOKEN], rate=200.0, profile=profile
    ) as sim:
        feed = feeds.hyperoru(sim.url, session_token=HYPERORU_TOKEN)
        conn = await connected(Connection(feed, streams=["positions"], **FAST))
        try:
            assert await conn.dialect.requests(conn).switch_account("acct_2") is None
            await eventually(lambda: sim.sessions()[1]["account"] == "acct_2")
            sim.drop_connections()
            await eventually(lambda: conn.stats.reconnects == 1 and conn.state is State.CONNECTED)
            session = max(sim.sessions())
            await eventually(lambda: sim.sessions().get(session, {}).get("account") == "acct_2")
            sent = [
                (n, c["data"]["account_id"])
                for n, c in sim.commands
                if c["type"] == "switch_account"
            ]
            assert (session, "acct_2") in sent  # re-sent on the new connection
        finally:
            await conn.close()


async def test_hyperoru_an_order_is_answered_by_its_trade_update(profile):
    """place_order resolves with the trade_update for that order, request id or not."""
    async with HyperoruSimulator(
        session_tokens=[HYPERORU_TOKEN], rate=50.0, profile=profile
    ) as sim:
        feed = feeds.hyperoru(sim.url, session_token=HYPERORU_TOKEN, allow_orders=True)
        conn = await connected(Connection(feed, streams=["trades"], **FAST))
        try:
            ack = await conn.dialect.requests(conn).place_order("acct_1", "SOL", "buy", 3.25)
            assert (ack["symbol"], ack["side"], ack["size"]) == ("SOL", "buy", 3.25)
            assert ack["order_id"] == sim.orders[-1]["order_id"]
            assert len(sim.commands_of("place_order")) == 1  # answered: not placed twice
        finally:
            await conn.close()


async def test_hyperoru_a_bare_pong_connects_and_the_connection_stays_up(profile):
    """The document's pong is a bare {"type": "pong"}: it completes the handshake, and the
    client does not reconnect while data flow."""
    async with HyperoruSimulator(
        session_tokens=[HYPERORU_TOKEN], rate=100.0, profile=profile
    ) as sim:
        feed = feeds.hyperoru(sim.url, session_token=HYPERORU_TOKEN, ping_interval=0.1)
        conn = await connected(Connection(feed, streams=["trades"], open_timeout=1, **FAST))
        try:
            await asyncio.sleep(seconds(1.5))
            assert conn.state is State.CONNECTED and conn.stats.connects == 1
            assert len(sim.connections) == 1
        finally:
            await conn.close()


# -- Hydra: no `subscribed` reply ------------------------------------------------------------


async def test_hydra_subscribe_without_a_reply_keeps_the_stream(profile):
    """A server that never answers subscribe: its data confirm the stream, which stays in
    subscriptions; nothing raises."""
    async with HydraSimulator(rate=200.0, profile=profile, unanswered=["subscribe"]) as sim:
        feed = feeds.hydra(sim.url, token=sim.issue_token())
        conn = await connected(
            Connection(feed, streams=["signals"], request_timeout=seconds(3), **FAST)
        )
        try:
            began = time.monotonic()
            result = await conn.subscribe(["markets"])
            assert time.monotonic() - began < seconds(2)  # data confirmed it before the timeout
            assert result.rejected == {} and "markets" not in result.pending
            assert conn.subscriptions == ["signals", "markets"]
            await eventually(lambda: {"signals", "markets"} <= streams_of(conn))
        finally:
            await conn.close()


# -- Axol: replies resolve only what they answer; a partial grant is a refusal --------------


async def test_axol_an_unanswered_unsubscribe_does_not_take_the_next_subscribes_reply(profile):
    """unsubscribe(alerts) then subscribe(system_status): the subscription_result answers the
    subscribe, nothing raises, and system_status stays wanted (and is sent again after a
    reconnect)."""
    async with AxolSimulator(api_keys={AXOL_KEY: "starter"}, rate=50.0, profile=profile) as sim:
        feed = feeds.axol(sim.url, api_key=AXOL_KEY, rest_url=sim.rest_url)
        conn = await connected(Connection(feed, streams=["alerts"], **FAST))
        try:
            await eventually(lambda: sim.commands_of("subscribe"))
            await conn.unsubscribe(["alerts"])
            result = await conn.subscribe(["system_status"])
            assert result.rejected == {} and result.pending == []
            assert conn.subscriptions == ["system_status"]
            sim.close_connections(1011, "Internal error")
            await eventually(lambda: len(sim.commands_of("subscribe")) == 3)
            assert sim.commands_of("subscribe")[-1]["channels"] == ["system_status"]
        finally:
            await conn.close()


async def test_axol_what_is_not_granted_is_refused_once_and_never_sent_again(profile):
    """A free key's sixth channel is not granted: a notice, SubscriptionRefused naming it, and
    after a reconnect only the granted five are sent."""
    async with AxolSimulator(api_keys={AXOL_KEY: "free"}, rate=50.0, profile=profile) as sim:
        feed = feeds.axol(sim.url, api_key=AXOL_KEY, rest_url=sim.rest_url)
        five = ["gas_prices", "gas_prices_ethereum", "gas_prices_polygon", "alerts"]
        five.append("system_status")
        conn = await connected(Connection(feed, streams=five, **FAST))
        try:
            await eventually(lambda: sim.commands_of("subscribe"))
            with pytest.raises(SubscriptionRefused) as refused:
                await conn.subscribe(["blockchain_events", "gas_prices"])
            assert list(refused.value.rejected) == ["blockchain_events"]
            assert conn.subscriptions == five
            assert any("blockchain_events" in n.message and n.is_error for n in conn.notices)
            sim.close_connections(1011, "Internal error")
            await eventually(lambda: len(sim.commands_of("subscribe")) == 3)
            assert sim.commands_of("subscribe")[-1]["channels"] == five
        finally:
            await conn.close()


# -- Pusher: one refusal never stops the others; an in-flight subscribe survives a drop -----


class _WrongSigner(PusherSimulator):
    """An auth endpoint out of step with the socket server, for one channel: its
    signatures for that channel are wrong, as after a secret rotated on one side only."""

    bad_channel = "presence-automation-"

    def _channel_auth(self, request, token):
        status, answer = super()._channel_auth(request, token)
        if status == 200 and request.form().get("channel_name", "").startswith(self.bad_channel):
            answer = {**answer, "auth": f"{self.app_key}:{'0' * 64}"}
        return status, answer


async def test_pusher_a_refused_stream_does_not_stop_the_ones_after_it(profile):
    """streams=[automation, prices] with automation refused: prices is subscribed (now and
    after a reconnect), automation is a notice and leaves subscriptions."""
    async with _WrongSigner(tokens={PUSHER_TOKEN: "u1"}, rate=100.0, profile=profile) as sim:
        feed = feeds.pusher(sim.base_url, token=PUSHER_TOKEN)
        conn = await connected(
            Connection(feed, streams=["automation", "prices"], request_timeout=seconds(2), **FAST)
        )
        try:
            await eventually(lambda: conn.subscriptions == ["prices"])
            await eventually(lambda: "prices" in streams_of(conn))
            refusal = [n for n in conn.notices if "automation" in n.message]
            assert refusal and refusal[0].is_error and "Invalid signature" in refusal[0].message
            assert "0" * 64 not in refusal[0].message  # the signature it quoted is masked
            before = len(sim.events_of("pusher:subscribe"))
            sim.close_connections(4200, "Server restarting")
            await eventually(lambda: len(sim.events_of("pusher:subscribe")) > before)
            await asyncio.sleep(0.1)
            again = [c["data"]["channel"] for c in sim.events_of("pusher:subscribe")[before:]]
            assert again == [sim.channel("prices")]
        finally:
            await conn.close()


async def test_pusher_a_subscribe_in_flight_when_the_socket_drops_is_sent_again(profile):
    """The server got the subscribe and closed with 4200 before answering: subscribe()
    returns it as pending (no error), it stays wanted and is re-sent after the reconnect."""
    async with PusherSimulator(
        tokens={PUSHER_TOKEN: "u1"}, rate=2.0, profile=profile, unanswered=["pusher:subscribe"]
    ) as sim:
        feed = feeds.pusher(sim.base_url, token=PUSHER_TOKEN)
        conn = await connected(Connection(feed, request_timeout=seconds(5), **FAST))
        try:
            task = asyncio.ensure_future(conn.subscribe(["trades"]))
            await eventually(lambda: sim.events_of("pusher:subscribe"))
            sim.close_connections(4200, "Server restarting")
            result = await task
            assert result.rejected == {} and result.pending == ["trades"]
            assert conn.subscriptions == ["trades"]
            await eventually(lambda: len(sim.events_of("pusher:subscribe")) == 2)
            await eventually(lambda: "trades" in streams_of(conn))
        finally:
            await conn.close()


async def test_a_stream_the_server_does_not_offer_is_a_visible_refusal(profile):
    """streams=["nope"]: once the server said what it offers, a notice names the stream and
    what is offered, and it leaves subscriptions; the widget is never silently empty."""
    async with PusherSimulator(tokens={PUSHER_TOKEN: "u1"}, profile=profile) as pusher:
        feed = feeds.pusher(pusher.base_url, token=PUSHER_TOKEN)
        conn = await connected(Connection(feed, streams=["nope", "prices"], **FAST))
        try:
            await eventually(lambda: conn.subscriptions == ["prices"])
            (notice,) = [n for n in conn.notices if "nope" in n.message]
            assert notice.is_error and "not offered by the server" in notice.message
            assert "prices" in notice.message  # what is offered instead
        finally:
            await conn.close()
    async with HydraSimulator(profile=profile) as hydra:
        feed = feeds.hydra(hydra.url, token=hydra.issue_token(streams=["signals"]))
        conn = await connected(Connection(feed, streams=["nope"], **FAST))
        try:
            await eventually(lambda: conn.subscriptions == [])
            assert any("nope: not offered by the server" in n.message for n in conn.notices)
            assert conn.stats.last_error and "nope" in conn.stats.last_error
        finally:
            await conn.close()


# -- one feed, many connections --------------------------------------------------------------


async def test_one_pusher_feed_serves_two_connections_without_mixing_their_sessions(profile):
    """Two connections from one feeds.pusher(...) each sign their own socket id: both
    presence subscriptions succeed, and the feed object itself learned nothing."""
    async with PusherSimulator(tokens={PUSHER_TOKEN: "u1"}, rate=100.0, profile=profile) as sim:
        feed = feeds.pusher(sim.base_url, token=PUSHER_TOKEN)
        first = await connected(Connection(feed, streams=["portfolio"], **FAST))
        second = await connected(Connection(feed, streams=["portfolio"], **FAST))
        try:
            for conn in (first, second):
                await eventually(lambda conn=conn: "portfolio" in streams_of(conn))
                assert conn.subscriptions == ["portfolio"]
                assert not [n for n in conn.notices if n.is_error]
            assert first.dialect.socket_id != second.dialect.socket_id
            assert feed.socket_id is None and feed.session is None and feed.bootstraps == 0
        finally:
            await first.close()
            await second.close()


async def test_one_axol_and_one_hyperoru_feed_serve_two_connections(profile):
    """Each Axol connection exchanges its own token; Hyperoru's requests and chosen account
    belong to the connection that made them."""
    async with AxolSimulator(api_keys={AXOL_KEY: "starter"}, profile=profile) as axol:
        feed = feeds.axol(axol.url, api_key=AXOL_KEY, rest_url=axol.rest_url)
        first = await connected(Connection(feed, **FAST))
        second = await connected(Connection(feed, **FAST))
        try:
            assert (first.dialect.exchanges, second.dialect.exchanges) == (1, 1)
            assert feed.token is None and feed.exchanges == 0 and axol.exchanges == [200, 200]
        finally:
            await first.close()
            await second.close()
    async with HyperoruSimulator(session_tokens=[HYPERORU_TOKEN], profile=profile) as sim:
        feed = feeds.hyperoru(sim.url, session_token=HYPERORU_TOKEN, bootstrap_on_connect=False)
        first = await connected(Connection(feed, **FAST))
        second = await connected(Connection(feed, **FAST))
        try:
            await first.dialect.requests(first).switch_account("acct_3")
            snapshot = await second.dialect.requests(second).get_snapshot("acct_2")
            assert snapshot["equity"] > 0
            assert (first.dialect.account_id, second.dialect.account_id) == ("acct_3", None)
            assert feed.account_id is None
        finally:
            await first.close()
            await second.close()


async def test_headless_open_with_a_shared_feed(profile):
    """streamwidgets.open twice on one feed object: two independent live streams."""
    async with HydraSimulator(rate=100.0, profile=profile) as sim:
        feed = feeds.hydra(sim.url, token=sim.issue_token())
        async with (
            streamwidgets.open(feed, streams=["signals"]) as one,
            streamwidgets.open(feed, streams=["markets"]) as two,
        ):
            await eventually(lambda: len(one.df) > 5 and len(two.df) > 5)
            assert set(one.df["stream"]) == {"signals"} and set(two.df["stream"]) == {"markets"}


async def test_the_widget_shows_a_refusal_no_request_waited_for(recorded, profile):
    """A stream refused when the connection subscribes on its own (at connect) leaves the
    widget's subscriptions and shows as its error, though no user request waited."""
    async with HydraSimulator(rate=100.0, profile=profile) as sim:
        feed = feeds.hydra(sim.url, token=sim.issue_token(streams=["signals"]))
        w = StreamWidget(feed, streams=["nope", "signals"], **FAST)
        recorded.append(w)
        await eventually(lambda: w.subscriptions == ["signals"])
        assert "nope: not offered by the server" in w.error
