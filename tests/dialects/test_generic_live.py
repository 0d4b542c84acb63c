"""GenericDialect: templates, paths and validation without sockets, then end to end on loopback."""

from __future__ import annotations

import asyncio
import logging

import orjson
import pandas as pd
import pytest

from streamwidgets._util.secret import Secret
from streamwidgets.connection.backoff import Backoff
from streamwidgets.connection.dialect import CloseAction, Keepalive, Outgoing
from streamwidgets.connection.driver import Connection, State
from streamwidgets.dialects.generic import (
    GenericDialect,
    HeaderAuth,
    MessageAuth,
    QueryAuth,
    binance_style,
)
from streamwidgets.events import Event, Heartbeat, Reply, Welcome
from streamwidgets.exceptions import (
    AuthenticationFailed,
    ConfigurationError,
    ConnectionFailed,
    FrameError,
    RequestError,
    StreamNotAvailable,
)
from tests.support.feeds_for_tests import BinanceStyleFeed
from tests.support.waiting import eventually, seconds

URL = "ws://127.0.0.1:9/ws"
KEY = "sk-live-7f3a9c2e41b8d6"
SUB = {"method": "SUBSCRIBE", "params": "{streams}", "id": "{id}"}


def dialect(**options):
    options.setdefault("subscribe", SUB)
    options.setdefault("reply_id_path", "id")
    return GenericDialect(URL, **options)


def frame(**message):
    return orjson.dumps(message).decode()


# Templates ------------------------------------------------------------------------


def test_whole_value_placeholders_keep_their_type():
    """ "{streams}" becomes a JSON list and "{id}" an int, and the reply key is the id."""
    d = dialect()
    out = d.subscribe(["btcusdt@trade", "ethusdt@trade"])
    assert out == [
        Outgoing(
            '{"method":"SUBSCRIBE","params":["btcusdt@trade","ethusdt@trade"],"id":1}',
            "1",
            ("btcusdt@trade", "ethusdt@trade"),
        )
    ]
    assert d.subscribe(["btcusdt@trade"])[0].reply_key == "2"


def test_stream_placeholder_sends_one_message_per_stream_with_fresh_ids():
    """A "{stream}" template gives one frame per stream, each with its own id."""
    d = dialect(subscribe={"op": "sub", "args": {"channel": "{stream}"}, "req": "{id}"})
    out = d.subscribe(["a", "b"])
    assert [orjson.loads(o.frame) for o in out] == [
        {"op": "sub", "args": {"channel": "a"}, "req": 1},
        {"op": "sub", "args": {"channel": "b"}, "req": 2},
    ]
    assert [o.reply_key for o in out] == ["1", "2"]


def test_placeholders_inside_longer_strings_become_text():
    """Inside a longer string, a list joins with commas and an id becomes digits."""
    d = dialect(subscribe={"topic": "trades:{streams}", "ref": "r-{id}"})
    assert orjson.loads(d.subscribe(["a", "b"])[0].frame) == {"topic": "trades:a,b", "ref": "r-1"}


def test_string_template_puts_streams_as_json_list():
    """A string template is sent as text, with "{streams}" as its JSON list."""
    d = GenericDialect(URL, subscribe='{"sub": {streams}}', unsubscribe="UNSUB {stream}")
    assert d.subscribe(["a", "b"]) == [Outgoing('{"sub": ["a","b"]}', None, ("a", "b"))]
    assert d.unsubscribe(["a", "b"]) == [
        Outgoing("UNSUB a", None, ("a",)),
        Outgoing("UNSUB b", None, ("b",)),
    ]


def test_template_without_id_is_fire_and_forget():
    """Without "{id}" the frame expects no reply, so the connection does not wait."""
    d = GenericDialect(URL, subscribe={"action": "subscribe", "streams": "{streams}"})
    assert d.subscribe(["x"])[0].reply_key is None
    assert d.unsubscribe(["x"]) == []


@pytest.mark.parametrize(
    ("options", "words"),
    [
        ({"subscribe": {"op": "{stremas}"}}, "unknown placeholder(s) {stremas}"),
        ({"subscribe": {"op": "x"}}, "exactly one of {streams}"),
        ({"subscribe": {"a": "{stream}", "b": "{streams}"}}, "exactly one of {streams}"),
        ({"subscribe": {"a": "{streams}", "id": "{id}"}, "reply_id_path": None}, "reply_id_path"),
        ({"subscribe": {}}, "non-empty dict or string"),
        ({"unsubscribe": {"a": "{streams}"}, "subscribe": None}, "needs a subscribe"),
        ({"stream_path": ""}, "stream_path must be a dotted path"),
        ({"time_path": "a..b"}, "time_path must be a dotted path"),
        ({"time_unit": "minutes"}, "time_unit must be one of"),
        ({"ping": {"op": "ping"}, "ping_interval": 0}, "ping_interval must be a number > 0"),
        ({"ping": {"op": "ping"}}, "ping and ping_interval go together"),
        ({"ping": {"op": "ping", "n": "{id}"}, "ping_interval": 1}, "ping: unknown placeholder"),
        ({"idle_timeout": -1}, "idle_timeout must be a number > 0"),
        ({"welcome": {}}, "welcome must be a non-empty dict"),
        ({"available_path": "streams"}, "set welcome too"),
        ({"ignore": {"type": "ack"}}, "ignore is a list of matches"),
        ({"stop_codes": {99: "x"}}, "close codes are ints 1000-4999"),
        ({"stop_codes": {4001: ""}}, "needs a plain-words reason"),
        ({"stop_codes": {4001: "a"}, "slow_codes": {4001: "b"}}, "both stop and slow codes"),
        ({"explode": {"book": ""}}, "explode['book'] must be a dotted path"),
        ({"name": ""}, "name must be a non-empty string"),
    ],
)
def test_invalid_configuration_fails_at_construction_with_a_specific_message(options, words):
    """Every bad template, path, unit, interval or code is refused when the dialect is made."""
    with pytest.raises(ConfigurationError) as info:
        dialect(**options)
    assert words in str(info.value)


@pytest.mark.parametrize(
    ("url", "auth", "words"),
    [
        ("http://h/ws", None, "starts with ws:// or wss://"),
        ("ws://h/ws?apiKey=x", QueryAuth("apiKey", "k"), "already has 'apiKey'"),
        (URL, "Bearer k", "auth must be QueryAuth"),
    ],
)
def test_bad_url_or_auth_is_refused(url, auth, words):
    """A non-WebSocket URL, a key both in the URL and in auth, or a bare string auth fail."""
    with pytest.raises(ConfigurationError, match=words):
        GenericDialect(url, auth=auth)


@pytest.mark.parametrize(
    "make",
    [
        lambda: QueryAuth("", "k"),
        lambda: QueryAuth("apiKey", ""),
        lambda: HeaderAuth("Bad Header", "k"),
        lambda: MessageAuth({"key": "k"}, "k"),
        lambda: MessageAuth({"key": "{secret}", "x": "{user}"}, "k"),
    ],
)
def test_bad_auth_objects_are_refused(make):
    """Empty names or secrets, bad header names and templates without {secret} fail early."""
    with pytest.raises(ConfigurationError):
        make()


# Parsing ------------------------------------------------------------------------


def test_event_fields_come_from_their_paths():
    """Stream, type, time and data are read from (nested) dotted paths."""
    d = GenericDialect(
        URL,
        stream_path="arg.channel",
        type_path="kind",
        time_path="meta.0.ts",
        data_path="payload",
    )
    message = {"arg": {"channel": "trades"}, "kind": "t", "meta": [{"ts": 5}], "payload": [1]}
    assert d.parse(orjson.dumps(message).decode(), 42) == [Event("trades", "t", [1], 42, 5_000_000)]


def test_missing_paths_give_none_stream_message_type_and_whole_data():
    """Absent stream/type/time/data paths give None, "message", None and the whole message."""
    d = GenericDialect(URL, stream_path="s", time_path="E", data_path="data")
    [event] = d.parse('{"x": 1}', 7)
    assert (event.stream, event.type, event.data, event.event_ns) == (
        None,
        "message",
        {"x": 1},
        None,
    )


def test_scalar_stream_and_type_become_strings():
    """A numeric stream id or type is kept as its text, so filtering by name works."""
    d = GenericDialect(URL, stream_path="ch", type_path="op")
    [event] = d.parse('{"ch": 17, "op": 2}', 0)
    assert (event.stream, event.type) == ("17", "2")


@pytest.mark.parametrize(
    ("unit", "value", "ns"),
    [
        ("s", 1_710_000_000, 1_710_000_000_000_000_000),
        ("s", 1_710_000_000.5, 1_710_000_000_500_000_000),
        ("ms", 1_710_000_000_123, 1_710_000_000_123_000_000),
        ("ms", "1710000000123", 1_710_000_000_123_000_000),
        ("us", 1_710_000_000_123_456, 1_710_000_000_123_456_000),
        ("ns", 1_710_000_000_123_456_789, 1_710_000_000_123_456_789),
        ("iso", "2024-03-09T16:00:00.123456Z", 1_710_000_000_123_456_000),
        ("iso", "2024-03-09T17:00:00+01:00", 1_710_000_000_000_000_000),
        ("iso", "2024-03-09T16:00:00", 1_710_000_000_000_000_000),
        ("ms", "soon", None),
        ("ms", True, None),
        ("ms", None, None),
        ("ms", {"t": 1}, None),
        # Beyond datetime64[ns]: an int outside int64, which the buffer counts as out of range
        ("ms", 1e300, 2**64),
        ("ms", -1e300, -(2**64)),
        ("iso", "yesterday", None),
        ("iso", 1_710_000_000, None),
    ],
)
def test_time_is_converted_to_ns_and_bad_values_give_none(unit, value, ns):
    """Each time unit converts to epoch ns; an unreadable time gives None, never an error;
    one too far for datetime64[ns] gives a bounded int beyond int64."""
    d = GenericDialect(URL, time_path="t", time_unit=unit)
    assert d.parse(orjson.dumps({"t": value}).decode(), 0)[0].event_ns == ns


@pytest.mark.parametrize(
    ("raw", "words"),
    [
        (b'{"e": "trade"}', "unexpected binary frame"),
        ("{not json", "not JSON"),
        ("[1, 2]", "expected a JSON object, got list: '[1, 2]'"),
        ('"hi"', "expected a JSON object, got str"),
    ],
)
def test_unreadable_frames_raise_frame_error_with_a_preview(raw, words):
    """Binary, non-JSON and non-object frames raise FrameError quoting the frame."""
    with pytest.raises(FrameError, match="^" + words[:12]) as info:
        GenericDialect(URL).parse(raw, 0)
    assert words in str(info.value)


def test_welcome_reports_available_streams_and_streams_are_checked():
    """The welcome match completes the handshake; streams outside its list are refused."""
    d = dialect(welcome={"e": "welcome"}, available_path="data.streams")
    assert d.needs_welcome
    [welcome] = d.parse(frame(e="welcome", data={"streams": ["a", "b"]}, v=2), 0)
    assert welcome == Welcome(["a", "b"], {"e": "welcome", "data": {"streams": ["a", "b"]}, "v": 2})
    assert d.available_streams == ["a", "b"]
    with pytest.raises(StreamNotAvailable, match="'c'"):
        d.subscribe(["a", "c"])
    d.reset()
    assert d.available_streams is None
    assert d.subscribe(["c"])


def test_welcome_without_the_list_still_connects():
    """A greeting lacking available_path completes the handshake with unknown streams."""
    d = dialect(welcome={"type": "hello"}, available_path="streams")
    assert d.parse(frame(type="hello"), 0) == [Welcome(None, {"type": "hello"})]


def test_no_welcome_means_connected_on_open():
    """Without a welcome match the connection does not wait for a greeting."""
    assert not GenericDialect(URL).needs_welcome


def test_check_streams_refuses_bad_names():
    """One string instead of a list, or empty names, are configuration errors."""
    d = GenericDialect(URL)
    with pytest.raises(ConfigurationError, match="not one string"):
        d.check_streams("abc")
    with pytest.raises(ConfigurationError, match="non-empty strings"):
        d.check_streams(["ok", ""])


def test_heartbeats_and_ignored_messages_are_not_events():
    """Heartbeat matches become Heartbeat (with their time); ignore matches vanish."""
    d = GenericDialect(
        URL,
        time_path="ts",
        heartbeat={"type": "hb"},
        ignore=[{"result": "PONG"}, {"type": "ack", "seq": ...}],
    )
    assert d.parse(frame(type="hb", ts=2), 0) == [Heartbeat(2_000_000)]
    assert d.parse(frame(result="PONG"), 0) == []
    assert d.parse(frame(type="ack", seq=None), 0) == []
    assert d.parse(frame(type="ack"), 0)[0].type == "ack"  # "..." needs the path present


def test_matches_do_not_confuse_bools_and_numbers():
    """A match on True does not accept 1, nor a match on 1 accept True."""
    d = GenericDialect(URL, ignore=[{"ok": True}, {"n": 1}])
    assert d.parse(frame(ok=True), 0) == []
    assert len(d.parse(frame(ok=1), 0)) == 1
    assert len(d.parse(frame(n=True), 0)) == 1
    assert d.parse(frame(n=1.0), 0) == []


def test_replies_are_correlated_only_with_ids_this_dialect_issued():
    """A reply to an issued id becomes Reply(key=str(id)); other ids stay events."""
    d = dialect(reply_error_path="error.msg", ignore=[{"result": None}])
    [out] = d.subscribe(["a"])
    assert d.parse(frame(result=None, id=99), 0) == []  # not ours: an ignored ack
    [reply] = d.parse(frame(result=None, id=1), 0)
    assert reply == Reply("1", {"result": None, "id": 1}, None)
    assert out.reply_key == reply.key
    # Answered once: the same id again is no longer a reply.
    assert d.parse(frame(result=None, id=1), 0) == []
    d.subscribe(["zzz"])
    error = {"error": {"code": 2, "msg": "Invalid request"}, "id": 2}
    assert d.parse(orjson.dumps(error).decode(), 0) == [Reply("2", error, "Invalid request")]


def test_string_ids_and_non_text_errors_are_read():
    """An id echoed as a string still matches; a non-text error is kept as JSON text."""
    d = dialect(reply_error_path="error")
    d.subscribe(["a"])
    [reply] = d.parse(frame(id="1", error={"code": 5}), 0)
    assert (reply.key, reply.error) == ("1", '{"code":5}')


def test_reset_forgets_open_ids_but_never_reuses_them():
    """After a reconnect, late replies of the old session are not replies any more."""
    d = dialect()
    d.subscribe(["a"])
    d.reset()
    assert d.parse(frame(id=1, result=None), 0)[0].type == "message"
    assert d.subscribe(["a"])[0].reply_key == "2"


def test_keepalive_carries_ping_and_idle_timeout():
    """Keepalive has the idle timeout, the ping frame as JSON text and protocol pings."""
    d = GenericDialect(URL, ping={"method": "PING"}, ping_interval=5, idle_timeout=30)
    assert d.keepalive() == Keepalive(30.0, 5.0, '{"method":"PING"}', 20.0)
    assert GenericDialect(URL, ping="ping", ping_interval=1).keepalive().ping_frame == "ping"
    assert GenericDialect(URL).keepalive() == Keepalive(None, None, None, 20.0)


def test_close_codes_follow_the_configuration():
    """Stop codes stop with their words, slow codes back off longer, others as the base."""
    d = GenericDialect(
        URL,
        stop_codes={4010: "account suspended", 1008: "key refused"},
        slow_codes={4029: "rate limited"},
    )
    stop = d.on_close(4010, "bye")
    assert (stop.action, stop.reason, stop.auth_failure) == (
        CloseAction.STOP,
        "account suspended (4010): bye",
        False,
    )
    assert d.on_close(1008, "").auth_failure
    slow = d.on_close(4029, "")
    assert slow.action is CloseAction.RECONNECT_SLOW and "rate limited (4029)" in slow.reason
    assert d.on_close(1001, "").action is CloseAction.RECONNECT
    assert GenericDialect(URL).on_close(1008, "").action is CloseAction.STOP


def test_explode_is_handed_to_the_buffer():
    """The explode mapping is the dialect's, for the connection's buffer."""
    assert GenericDialect(URL, explode={"book": "levels"}).explode == {"book": "levels"}


# Secrets and targets --------------------------------------------------------------


def test_query_auth_goes_in_the_url_but_not_the_display_url():
    """The key is in target().url only; display_url, repr and describe mask it."""
    d = GenericDialect(URL + "?x=1", auth=QueryAuth("apiKey", KEY))
    target = d.target()
    assert target.url == f"{URL}?x=1&apiKey={KEY}"
    assert target.display_url == f"{URL}?x=1&apiKey=***"
    assert d.secrets() == [Secret(KEY)]
    for text in (repr(d), repr(target), str(d.describe()), repr(d.auth)):
        assert KEY not in text


def test_header_auth_goes_in_the_headers():
    """HeaderAuth puts prefix + key in its header, hidden from reprs."""
    d = GenericDialect(URL, auth=HeaderAuth("Authorization", KEY, prefix="Bearer "))
    target = d.target()
    assert dict(target.headers) == {"Authorization": f"Bearer {KEY}"}
    assert target.display_url == URL and target.url == URL
    assert KEY not in repr(target) + repr(d) + repr(d.auth) + str(d.describe())


def test_message_auth_is_the_first_message():
    """MessageAuth renders its template with the key as the first message."""
    d = GenericDialect(URL, auth=MessageAuth({"method": "AUTH", "key": "{secret}"}, Secret(KEY)))
    target = d.target()
    assert list(target.first_messages) == [f'{{"method":"AUTH","key":"{KEY}"}}']
    assert KEY not in repr(target) + repr(d) + repr(d.auth) + str(d.describe())
    text = GenericDialect(URL, auth=MessageAuth("AUTH {secret}", KEY)).target().first_messages
    assert list(text) == [f"AUTH {KEY}"]


def test_binance_style_preset_reads_the_documented_messages():
    """The preset subscribes with ids and turns a trade into stream/type/time."""
    d = binance_style(URL)
    [out] = d.subscribe(["btcusdt@trade"])
    assert orjson.loads(out.frame) == {"method": "SUBSCRIBE", "params": ["btcusdt@trade"], "id": 1}
    assert d.parse('{"result": null, "id": 1}', 0) == [Reply("1", {"result": None, "id": 1})]
    trade = (
        '{"e": "trade", "E": 1710000000000, "s": "BTCUSDT", "t": 12345, "p": "67000.10", '
        '"q": "0.012", "T": 1710000000000, "m": true}'
    )
    [event] = d.parse(trade, 9)
    assert (event.stream, event.type, event.event_ns) == ("BTCUSDT", "trade", 1_710_000_000 * 10**9)
    assert event.data["p"] == "67000.10"


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
