"""The Axol channel stream without sockets: frames, channels, close codes, arguments."""

from __future__ import annotations

import pytest

from streamwidgets import feeds
from streamwidgets.connection.dialect import CloseAction
from streamwidgets.dialects.axol.channels import AxolDialect
from streamwidgets.events import Event, Heartbeat, Refused, Reply, ServerNotice, Welcome
from streamwidgets.exceptions import ConfigurationError, StreamNotAvailable
from tests.support.feed_inputs import AXOL_KEY as KEY

# -- the dialect alone, no network ---------------------------------------------------------


def test_frames_become_welcome_replies_heartbeats_and_channel_events():
    """connected, subscription_result, pong, connection_info, errors and data map as documented."""
    d = AxolDialect(api_key=KEY)
    (welcome,) = d.parse(
        '{"type":"connected","data":{"connection_id":"c1","message":"hi",'
        '"available_channels":["gas_prices","alerts"]}}',
        0,
    )
    assert isinstance(welcome, Welcome)
    assert welcome.available_streams[:2] == ["gas_prices", "alerts"]
    assert "gas_prices_polygon" in welcome.available_streams
    assert welcome.info["connection_id"] == "c1"
    (sub,) = d.subscribe(["alerts", "gas_prices"])
    result = '{"type":"subscription_result","data":{"subscribed_channels":["alerts"]}}'
    reply, refused = d.parse(result, 0)
    assert reply == Reply(sub.reply_key, {"subscribed_channels": ["alerts"]})
    assert list(refused.streams) == ["gas_prices"]
    assert refused.streams["gas_prices"].startswith("not granted by the server; Axol limits")
    # The same result again answers nothing that still waits.
    assert [type(item) for item in d.parse(result, 0)] == [Heartbeat]
    assert isinstance(d.parse('{"type":"pong","data":{}}', 0)[0], Heartbeat)
    info = d.info_request()
    answer = d.parse('{"type":"connection_info","data":{"state":"active"}}', 0)[0]
    assert answer.key == info.reply_key
    (sub,) = d.subscribe(["gas_prices"])
    limit = '{"type":"error","data":{"message":"limit","request":"subscribe"}}'
    notice, reply, refused = d.parse(limit, 0)
    assert isinstance(notice, ServerNotice) and reply.key == sub.reply_key and reply.error
    assert refused == Refused({"gas_prices": "limit"})
    assert isinstance(d.parse('{"type":"error","data":{"message":"x"}}', 0)[0], ServerNotice)
    (event,) = d.parse(
        '{"type":"gas_update","data":{"chain":"ethereum"},"channel":"gas_prices_ethereum",'
        '"timestamp":"2026-01-15T10:30:00Z"}',
        5,
    )
    assert isinstance(event, Event) and event.stream == "gas_prices_ethereum"
    assert event.event_ns == 1768473000 * 10**9
    assert d.parse('{"type":"alert_triggered","data":{}}', 0)[0].stream == "alerts"


def test_gas_channels_are_checked_against_the_documented_chains():
    """gas_prices_{chain} is accepted for documented chains only, unless chains= adds more."""
    d = AxolDialect(api_key=KEY)
    d.check_streams(["gas_prices", "gas_prices_ethereum", "gas_prices_arbitrum", "alerts"])
    with pytest.raises(ConfigurationError, match="unknown chain 'solana'"):
        d.subscribe(["gas_prices_solana"])
    with pytest.raises(StreamNotAvailable, match="nope"):
        d.check_streams(["nope"])
    AxolDialect(api_key=KEY, chains=["solana"]).check_streams(["gas_prices_solana"])
    d.parse('{"type":"connected","data":{"available_channels":["alerts"]}}', 0)
    with pytest.raises(StreamNotAvailable):
        d.check_streams(["gas_prices_ethereum"])  # no gas_prices on this connection


def test_close_codes_mean_what_the_document_says():
    """1008 refreshes the token (stops if the token is brand new), 1011 retries, 1013 slows."""
    d = AxolDialect(api_key=KEY, rate_limit_backoff=7)
    assert d.on_close(1008, "Token expired").action is CloseAction.REFRESH_AUTH
    assert d.on_close(1011, "").action is CloseAction.RECONNECT
    slow = d.on_close(1013, "Rate limited")
    assert slow.action is CloseAction.RECONNECT_SLOW and slow.min_delay == 7
    assert "reduce the number of subscribed channels" in slow.reason
    d._fresh = True  # a token just exchanged, no welcome yet
    stop = d.on_close(1008, "Invalid token")
    assert stop.action is CloseAction.STOP and stop.auth_failure


def test_configuration_errors_come_before_any_network():
    """Bad URLs, a token in the URL and bad numbers raise ConfigurationError."""
    for kwargs in (
        {"url": "http://h/x"},
        {"url": "ws://h/x?token=abc"},
        {"rest_url": "ftp://h"},
        {"ping_interval": 0},
        {"chains": "ethereum"},
    ):
        with pytest.raises(ConfigurationError):
            AxolDialect(**{"url": "ws://h/api/v1/ws/connect", **kwargs}, api_key=KEY)


# -- the specialised endpoints --------------------------------------------------------------


@pytest.mark.parametrize("interval", [4, 301, 5.5, "10", True, None])
def test_gas_interval_outside_5_to_300_is_refused_before_connecting(interval):
    """interval must be an int of 5-300 seconds: anything else is a ConfigurationError."""
    with pytest.raises(ConfigurationError, match="5-300"):
        feeds.axol_gas("ws://127.0.0.1:9", api_key=KEY, interval=interval)


def test_endpoint_arguments_are_checked_before_connecting():
    """Unknown chains, bad filters and a base URL with a path are refused up front."""
    for make_feed, kwargs in (
        (feeds.axol_gas, {"chain": "solana"}),
        (feeds.axol_mempool, {"chain": "solana"}),
        (feeds.axol_liquidations, {"chain": "solana"}),
        (feeds.axol_liquidations, {"min_profit": -1}),
        (feeds.axol_liquidations, {"health_threshold": 0}),
        (feeds.axol_mempool, {"base_url": "ws://h/api/v1"}),
    ):
        kwargs = {"base_url": "ws://127.0.0.1:9", **kwargs}
        with pytest.raises(ConfigurationError):
            make_feed(api_key=KEY, **kwargs)
    gas = feeds.axol_gas("ws://h:9", api_key=KEY, interval=300, ping_interval=1)
    assert gas.keepalive().idle_timeout == 750  # 2.5 intervals: a slow feed is not dead
    assert gas.supports_subscribe is False
    with pytest.raises(StreamNotAvailable):
        gas.check_streams(["alerts"])
