"""GenericDialect without sockets: templates, paths, replies, auth placements and validation."""

from __future__ import annotations

import orjson
import pytest

from streamwidgets._util.secret import Secret
from streamwidgets.connection.dialect import CloseAction, Keepalive, Outgoing
from streamwidgets.dialects.generic import (
    GenericDialect,
    HeaderAuth,
    MessageAuth,
    QueryAuth,
    binance_style,
)
from streamwidgets.events import Event, Heartbeat, Reply, Welcome
from streamwidgets.exceptions import ConfigurationError, FrameError, StreamNotAvailable
from tests.support.feed_inputs import GENERIC_KEY as KEY
from tests.support.feed_inputs import GENERIC_SUBSCRIBE as SUB

URL = "ws://127.0.0.1:9/ws"


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
