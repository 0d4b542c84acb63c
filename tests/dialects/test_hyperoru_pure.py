"""The Hyperoru account stream without sockets: reply matching, request checks, closes, chat."""

from __future__ import annotations

import random

import orjson
import pandas as pd
import pytest

from streamwidgets import feeds
from streamwidgets.connection.backoff import Backoff
from streamwidgets.connection.dialect import CloseAction
from streamwidgets.connection.driver import Connection
from streamwidgets.dialects.hyperoru.chat import assemble_chat
from streamwidgets.dialects.hyperoru.dialect import HYPERORU_TIMEFRAMES, HyperoruDialect
from streamwidgets.dialects.hyperoru.requests import OrdersNotAllowed
from streamwidgets.events import Heartbeat, Refused, Reply, ServerNotice, Welcome
from streamwidgets.exceptions import ConfigurationError, RequestError
from tests.support.feed_inputs import HYPERORU_TOKEN as TOKEN

# -- the dialect alone, no network ---------------------------------------------------------


def text(value):
    return orjson.dumps(value).decode()


def _request_id(out):
    return orjson.loads(out.frame)["request_id"]


def test_replies_answer_the_request_they_name_or_the_oldest_that_fits():
    """A reply answers the request whose id it carries; without one, the oldest waiting
    request of its kind whose content fits. Broadcasts go to their channel, ts as time."""
    d = HyperoruDialect(session_token=TOKEN, allow_orders=True)
    boot = d.request("bootstrap")
    data = {"accounts": [{"id": "a1", "name": "A"}], "positions": [{"symbol": "BTC"}]}
    data["active_orders"] = [{"order_id": "o1"}]
    frame = text({"type": "bootstrap", "request_id": boot.reply_key, "data": data})
    *events, reply = d.parse(frame, 5)
    assert [(e.stream, e.type, e.snapshot) for e in events] == [
        ("accounts", "account", True),
        ("positions", "position", True),
        ("trades", "active_order", True),
    ]
    assert reply == Reply(boot.reply_key, data)
    again = d.request("bootstrap")
    assert d.parse('{"type":"bootstrap","data":{}}', 0) == [Reply(again.reply_key, {})]
    assert d.parse('{"type":"bootstrap","data":{}}', 0) == []  # nothing waits any more

    order = d.request(
        "place_order", {"account_id": "a1", "symbol": "BTC", "side": "buy", "size": 0.5}
    )
    other = {"account_id": "a1", "symbol": "ETH", "side": "buy", "size": 0.5, "ts": 17e11}
    (trade,) = d.parse(text({"type": "trade_update", "data": other}), 9)
    assert trade.stream == "trades" and trade.event_ns == 1_700_000_000 * 10**9
    assert not trade.snapshot
    mine = {"account_id": "a1", "symbol": "BTC", "side": "buy", "size": 0.50, "status": "accepted"}
    ack, reply = d.parse(text({"type": "trade_update", "data": mine}), 9)
    assert ack.stream == "trades" and reply == Reply(order.reply_key, mine)
    for kind, channel in (
        ("position_update", "positions"),
        ("model_chat_update", "model_chat"),
        ("asset_curve_update", "asset_curve"),
    ):
        assert d.parse(f'{{"type":"{kind}","data":{{}}}}', 0)[0].stream == channel

    snap = d.request("get_snapshot", {"account_id": "zz"})
    error = {"code": "unknown_account", "message": "no"}
    (refused,) = d.parse(text({"type": "error", "request_id": snap.reply_key, "data": error}), 0)
    assert refused == Reply(snap.reply_key, error, error="no (unknown_account)")
    (sub,) = d.subscribe(["positions"])
    assert sub.reply_key is None  # no reply is documented: complete once sent
    frame = text({"type": "error", "request_id": _request_id(sub), "data": error})
    reply, refusal = d.parse(frame, 0)
    assert reply.error and refusal == Refused({"positions": "no (unknown_account)"})
    (notice,) = d.parse('{"type":"error","request_id":"x1","data":{"message":"Invalid JSON"}}', 0)
    assert isinstance(notice, ServerNotice) and notice.is_error

    heartbeat, welcome = d.parse('{"type":"pong"}', 0)  # the first pong: the token was taken
    assert isinstance(heartbeat, Heartbeat) and isinstance(welcome, Welcome)
    ping = d.request("ping")
    heartbeat, reply = d.parse('{"type":"pong"}', 0)  # bare, as the document shows it
    assert isinstance(heartbeat, Heartbeat) and reply.key == ping.reply_key
    ping = d.request("ping")
    heartbeat, reply = d.parse(f'{{"type":"pong","request_id":"{ping.reply_key}"}}', 0)
    assert reply.key == ping.reply_key


def test_requests_are_checked_before_anything_is_sent():
    """Timeframes are exactly the five documented; bad ids, orders and kinds are refused."""
    d = HyperoruDialect(session_token=TOKEN)
    for timeframe in HYPERORU_TIMEFRAMES:
        d.request("get_asset_curve", {"account_id": "a", "timeframe": timeframe})
    for bad in ("2d", "1D", "", None, "1w", "7"):
        with pytest.raises(ConfigurationError, match="timeframe must be one of"):
            d.request("get_asset_curve", {"account_id": "a", "timeframe": bad})
    with pytest.raises(ConfigurationError, match="account_id"):
        d.request("get_snapshot", {})
    with pytest.raises(ConfigurationError, match="unknown Hyperoru request"):
        d.request("cancel_everything")
    with pytest.raises(OrdersNotAllowed, match="allow_orders=True"):
        d.request("place_order", {"account_id": "a", "symbol": "BTC", "side": "buy", "size": 1})
    orders = HyperoruDialect(session_token=TOKEN, allow_orders=True)
    with pytest.raises(ConfigurationError, match="side"):
        orders.request("place_order", {"symbol": "BTC", "side": "long", "size": 1})
    with pytest.raises(ConfigurationError, match="price"):
        orders.request(
            "place_order", {"symbol": "BTC", "side": "buy", "size": 1, "order_type": "limit"}
        )
    ids = {d.request("ping").reply_key for _ in range(5)}
    assert len(ids) == 5, "every request gets its own id"


def test_pending_requests_are_bounded():
    """At most max_pending requests wait; a reply frees a place."""
    d = HyperoruDialect(session_token=TOKEN, max_pending=2)
    first = d.request("ping")
    d.request("ping")
    with pytest.raises(RequestError, match="max_pending=2"):
        d.request("ping")
    d.parse(f'{{"type":"pong","request_id":"{first.reply_key}","data":{{}}}}', 0)
    d.request("ping")


def test_a_refused_token_stops_and_other_closes_reconnect():
    """1008 (and 4001/4003, HTTP 401/403) stop for good; 1006/1011/1001 reconnect."""
    d = HyperoruDialect(session_token=TOKEN)
    for code in (1008, 4001, 4003):
        decision = d.on_close(code, "Invalid session token")
        assert decision.action is CloseAction.STOP and decision.auth_failure
        assert "session token refused" in decision.reason
    assert d.on_http_status(401).action is CloseAction.STOP
    for code in (None, 1001, 1006, 1011):
        assert d.on_close(code, "").action is CloseAction.RECONNECT


def test_the_default_backoff_waits_one_to_five_seconds_then_grows_to_a_minute():
    """The document's 1-5 s for the first three delays (the first 1-2 s), jittered; a long
    outage then backs off up to 60 s instead of knocking every few seconds."""
    conn = Connection(HyperoruDialect("ws://127.0.0.1:9/ws", session_token=TOKEN))
    assert conn.backoff.initial == 2.0 and conn.backoff.maximum == 60.0
    firsts, early, later = [], [], []
    for seed in range(200):
        backoff = HyperoruDialect(session_token=TOKEN).reconnect_backoff()
        backoff._rng = random.Random(seed)
        delays = [backoff.next_delay() for _ in range(12)]
        firsts.append(delays[0])
        early.extend(delays[:3])
        later.extend(delays[3:])
    assert all(1.0 <= d <= 2.0 for d in firsts)
    assert all(1.0 <= d <= 5.0 for d in early)
    assert max(early) > 4.5 and len({round(d, 3) for d in firsts}) > 100  # jittered
    assert all(4.0 <= d <= 60.0 for d in later) and max(later) > 55
    given = Backoff(initial=0.1)
    assert Connection(HyperoruDialect(session_token=TOKEN), backoff=given).backoff is given


def test_the_token_is_masked_and_bad_options_are_refused():
    """No repr or shown URL carries the token; options are checked at construction."""
    d = feeds.hyperoru("ws://127.0.0.1:9/ws?region=eu", session_token=TOKEN)
    assert d.target().display_url == "ws://127.0.0.1:9/ws?region=eu&session_token=***"
    assert TOKEN in d.target().url
    for text in (repr(d), str(d.describe()), repr(d.target()), repr(Connection(d))):
        assert TOKEN not in text
    with pytest.raises(ConfigurationError, match="session_token="):
        feeds.hyperoru(f"ws://h/ws?session_token={TOKEN}", session_token=TOKEN)
    with pytest.raises(ConfigurationError, match="non-empty"):
        feeds.hyperoru(session_token="")
    with pytest.raises(ConfigurationError, match="allow_orders"):
        feeds.hyperoru(session_token=TOKEN, allow_orders="yes")
    with pytest.raises(ConfigurationError, match="ping_interval"):
        feeds.hyperoru(session_token=TOKEN, ping_interval=0)
    with pytest.raises(ConfigurationError, match="ws:// or wss://"):
        feeds.hyperoru("https://h/ws", session_token=TOKEN)
    with pytest.raises(TypeError):
        feeds.hyperoru("ws://h/ws", TOKEN)  # keyword-only


def _chunk(decision, seq, text, done=False, **extra):
    return {
        "type": "model_chat_update",
        "data.decision_id": decision,
        "data.seq": seq,
        "data.chunk": text,
        "data.done": done,
        **{f"data.{k}": v for k, v in extra.items()},
    }


def test_chat_assembly_joins_chunks_in_order_and_says_what_is_missing():
    """Out of order, repeated, missing and unfinished chunks; other rows ignored."""
    frame = pd.DataFrame(
        [
            _chunk("d1", 2, "three.", done=True, action="buy", symbol="BTC"),
            _chunk("d1", 0, "one "),
            {"type": "trade_update", "data.decision_id": None},
            _chunk("d1", 1, "two "),
            _chunk("d1", 1, "two "),  # repeated
            _chunk("d2", 0, "alpha "),
            _chunk("d2", 2, "gamma", done=True, action="hold"),  # seq 1 lost
            _chunk("d3", 0, "still "),
            _chunk("d3", 1, "thinking"),  # no done yet
        ]
    )
    chat = assemble_chat(frame).set_index("decision_id")
    assert list(chat.index) == ["d1", "d2", "d3"]
    assert chat.loc["d1", "text"] == "one two three."
    assert chat.loc["d1", "complete"] and chat.loc["d1", "action"] == "buy"
    assert chat.loc["d1", "chunks"] == 3
    assert chat.loc["d2", "text"] == "alpha […]gamma" and chat.loc["d2", "missing"] == [1]
    assert not chat.loc["d2", "complete"]
    assert chat.loc["d3", "text"] == "still thinking" and not chat.loc["d3", "complete"]
    assert pd.isna(chat.loc["d3", "action"])
    assert list(assemble_chat(frame, max_decisions=1)["decision_id"]) == ["d3"]
    assert assemble_chat(frame, max_chars=5).loc[0, "text"] == "one …"
    huge = pd.DataFrame([_chunk("d9", 10**9, "x", done=True)])
    assert assemble_chat(huge).loc[0, "chunks"] == 0  # no billion-slot text
    with pytest.raises(ConfigurationError):
        assemble_chat(frame, max_decisions=0)
