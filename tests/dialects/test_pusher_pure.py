"""The Pusher-compatible stream without sockets: frames, presence, errors, close codes, options."""

from __future__ import annotations

import orjson
import pytest

from streamwidgets._util.secret import Secret
from streamwidgets.connection.dialect import CloseAction
from streamwidgets.dialects.pusher.bootstrap import ChannelAuth
from streamwidgets.dialects.pusher.session_feed import PusherDialect, close_decision
from streamwidgets.events import Event, Heartbeat, Refused, Reply, ServerNotice, Welcome
from streamwidgets.exceptions import ConfigurationError
from tests.support.feed_inputs import PUSHER_TOKEN as TOKEN


def wire(data) -> str:
    """A server frame's data: JSON inside a JSON string."""
    return orjson.dumps(orjson.dumps(data).decode()).decode()


def on_channel(event: str, data, channel: str = "presence-x") -> str:
    """A server frame on a channel."""
    return f'{{"event":"{event}","channel":"{channel}","data":{wire(data)}}}'


# -- the dialect alone, no network ---------------------------------------------------------


def test_frames_decode_twice_and_map_to_welcome_heartbeats_notices_and_events():
    """connection_established, ping/pong, pusher:error and channel events map as documented."""
    d = PusherDialect("http://h", token=TOKEN)
    established = wire({"socket_id": "123.456", "activity_timeout": 7})
    (welcome,) = d.parse(f'{{"event":"pusher:connection_established","data":{established}}}', 0)
    assert isinstance(welcome, Welcome) and welcome.info["socket_id"] == "123.456"
    assert d.keepalive().ping_interval == 7 and d.keepalive().ping_when_idle
    assert isinstance(d.parse('{"event":"pusher:ping","data":"{}"}', 0)[0], Heartbeat)
    assert list(d.take_answers()) == ['{"event":"pusher:pong","data":{}}']
    assert list(d.take_answers()) == []
    (notice,) = d.parse('{"event":"pusher:error","data":{"message":"Over quota","code":4004}}', 0)
    assert isinstance(notice, ServerNotice) and notice.is_error and "4004" in notice.message
    frame = f'{{"event":"trade","channel":"market-trades","data":{wire({"timestamp": 1000})}}}'
    (event,) = d.parse(frame, 5)
    assert isinstance(event, Event) and event.type == "trade" and event.data == {"timestamp": 1000}
    assert event.event_ns == 1000 * 10**6 and event.received_ns == 5
    (plain,) = d.parse('{"event":"note","channel":"c","data":"not json"}', 0)
    assert plain.data == "not json"


def test_presence_frames_become_member_events_and_state():
    """subscription_succeeded lists members; member_added/removed keep dialect.members current."""
    d = PusherDialect("http://h", token=TOKEN, max_members=2)
    presence = {"presence": {"ids": ["a", "b", "c"], "hash": {"a": {"n": 1}}, "count": 3}}
    reply, *members = d.parse(on_channel("pusher_internal:subscription_succeeded", presence), 0)
    assert reply == Reply("presence-x", presence)
    assert [m.data["user_id"] for m in members] == ["a", "b"] and members[0].snapshot
    assert d.members["presence-x"] == {"a": {"n": 1}, "b": None}
    d.parse(on_channel("pusher_internal:member_removed", {"user_id": "a"}), 0)
    added = {"user_id": "d", "user_info": {}}
    (event,) = d.parse(on_channel("pusher_internal:member_added", added), 0)
    assert event.type == "member_added" and set(d.members["presence-x"]) == {"b", "d"}
    error = {"type": "AuthError", "error": "Invalid signature", "status": 401}
    for name in ("pusher:subscription_error", "pusher_internal:subscription_error"):
        d.subscribe(["presence-x"])
        refused, refusal = d.parse(on_channel(name, error), 0)
        assert refused.key == "presence-x" and "Invalid signature" in refused.error
        assert refusal == Refused({"presence-x": "Invalid signature"})
    # A pusher:error on a channel is a notice (and that channel's refusal), never a data row.
    d.subscribe(["presence-x"])
    notice, refused, refusal = d.parse(on_channel("pusher:error", {"message": "Over quota"}), 0)
    assert isinstance(notice, ServerNotice) and refused.key == "presence-x"
    (other,) = d.parse(on_channel("pusher:error", {"message": "Over quota"}), 0)
    assert isinstance(other, ServerNotice)


def test_pushers_own_error_refuses_the_quoted_subscription_and_hides_the_signature():
    """pusher:error names no channel; its quoted channel refuses that subscribe, masked."""
    d = PusherDialect("http://h", token=TOKEN)
    signature = "ab" * 32
    d._auths["presence-x"] = ChannelAuth(Secret(f"key:{signature}"), None)
    (out,) = d.subscribe(["presence-x"])
    assert out.reply_key == "presence-x" and signature in str(out.frame)
    message = (
        f"Invalid signature: Expected HMAC SHA256 hex digest of 1.2:presence-x, but got {signature}"
    )
    data = {"message": message, "code": None}
    frame = orjson.dumps({"event": "pusher:error", "data": data}).decode()
    notice, reply, refusal = d.parse(frame, 0)
    assert isinstance(notice, ServerNotice) and reply.key == "presence-x"
    assert "Invalid signature" in reply.error and list(refusal.streams) == ["presence-x"]
    assert signature not in reply.error and signature not in notice.message
    assert signature not in refusal.streams["presence-x"]
    # Answered: a later error does not refuse it again.
    assert len(d.parse(frame, 0)) == 1


def test_close_code_ranges():
    """4000-4099 stop (4009 auth), 4100-4199 wait >= 1 s, 4200-4299 at once, 4300-4399 slow."""
    assert (
        close_decision(4009, "").auth_failure
        and close_decision(4001, "").action is CloseAction.STOP
    )
    slow = close_decision(4100, "over capacity")
    assert slow.action is CloseAction.RECONNECT_SLOW and slow.min_delay == 1.0
    now = close_decision(4200, "")
    assert now.action is CloseAction.RECONNECT and now.max_delay == 0.0
    assert close_decision(4301, "").action is CloseAction.RECONNECT_SLOW
    d = PusherDialect("http://h", token=TOKEN)
    assert d.on_close(1006, "").action is CloseAction.RECONNECT


def test_bad_options_and_no_token_in_repr():
    """Bad options raise ConfigurationError; the token is in no repr or description."""
    with pytest.raises(ConfigurationError):
        PusherDialect("ws://h", token=TOKEN)
    with pytest.raises(ConfigurationError):
        PusherDialect("http://h", token="")
    with pytest.raises(ConfigurationError):
        PusherDialect("http://h", token=TOKEN, pong_timeout=0)
    with pytest.raises(ConfigurationError):
        PusherDialect("http://h", token=TOKEN, streams="prices")
    d = PusherDialect("http://h", token=TOKEN)
    assert TOKEN not in repr(d) and TOKEN not in str(d.describe())
