"""The connection's session without a socket or an event loop: frames and commands in,
frames to send, events and decisions out, for Hydra, Pusher and Hyperoru."""

from __future__ import annotations

import orjson

from streamwidgets.connection.dialect import CloseAction, Outgoing
from streamwidgets.connection.session import (
    Abort,
    Connected,
    Fail,
    FailRequest,
    Mark,
    Reconnect,
    Resolve,
    Send,
    Session,
    State,
    StateChanged,
    StreamsRefused,
)
from streamwidgets.dialects.hydra import HydraDialect
from streamwidgets.dialects.hyperoru.dialect import HyperoruDialect
from streamwidgets.dialects.pusher.app import PusherAppDialect
from tests.support.feed_inputs import HYPERORU_TOKEN
from tests.support.frames import text

S = 1_000_000_000


def session_for(feed, streams=()) -> Session:
    return Session(feed.for_connection(), streams)


def connect(session: Session, now_ns: int, *welcome: str, mono: float = 0.0) -> list:
    """One attempt up to connected (its welcome frames given); returns the outputs."""
    session.attempt_begins()
    _target, keepalive = session.prepared()
    session.socket_opened(now_ns, keepalive)
    session.opening_sent(now_ns)
    for frame in welcome:
        session.receive_frame(frame, now_ns)
    # The session itself decides that the welcome (or, without one, the open socket)
    # completes the connection.
    assert session.state is State.CONNECTED
    return session.take()


def subscribe(session: Session, streams) -> tuple[int, list[int], list[Outgoing]]:
    """What the driver does for a subscribe: the batch, its requests, its frames."""
    batch = session.begin_subscribe(streams)
    frames = session.subscribe_frames(batch, streams)
    requests = []
    for out in frames:
        if out.reply_key is not None:
            requests.append(session.request(out, batch))
            session.request_sent(requests[-1])
    return batch, requests, frames


def of(kind, outputs) -> list:
    return [out for out in outputs if isinstance(out, kind)]


# -- Hydra ----------------------------------------------------------------------------------

HYDRA_WELCOME = text(
    {"type": "connected", "data": {"availableStreams": ["signals", "cyber", "alerts"]}}
)


def hydra_data(stream: str, n: int = 1) -> str:
    return text({"type": "update", "stream": stream, "data": {"n": n}, "ts": 1_700_000_000_000})


def hydra_subscribed(granted, rejected=None) -> str:
    data = {"subscribed": list(granted), "rejected": list(rejected or {})}
    data["rejectedReason"] = dict(rejected or {})
    return text({"type": "subscribed", "data": data})


def test_hydra_welcome_connects_and_a_reply_confirms_the_subscribe():
    session = session_for(HydraDialect("ws://h/stream", token="tok"), ["signals"])
    outputs = connect(session, 5 * S, HYDRA_WELCOME)
    assert [c.change.state for c in of(StateChanged, outputs)] == [State.CONNECTED]
    assert of(Mark, outputs) == [Mark("connected", "", 5 * S)]
    assert session.resubscription() == ["signals"]
    batch, (request,), (out,) = subscribe(session, ["signals"])
    assert orjson.loads(out.frame) == {"action": "subscribe", "streams": ["signals"]}
    assert session.receive_frame(hydra_subscribed(["signals"]), 6 * S) == []
    (resolved,) = session.take()
    assert isinstance(resolved, Resolve) and resolved.request == request
    result = session.end_subscribe(batch)
    assert (result.active, result.rejected, result.pending) == (["signals"], {}, [])
    assert session.pending == {}
    (event,) = session.receive_frame(hydra_data("signals"), 7 * S)
    assert (event.stream, event.data) == ("signals", {"n": 1})


def test_hydra_a_reply_resolves_only_its_own_request():
    """A list reply answers the list request, not the subscribe waiting beside it."""
    dialect = HydraDialect("ws://h/stream", token="tok")
    session = session_for(dialect, ["signals"])
    connect(session, 0, HYDRA_WELCOME)
    batch, (subscribing,), _ = subscribe(session, ["signals"])
    listing = session.request(session.dialect.list_request())
    session.receive_frame(text({"type": "subscriptions", "data": {"active": []}}), S)
    (resolved,) = session.take()
    assert resolved.request == listing and resolved.reply.data == {"active": []}
    assert list(session.pending) != []  # the subscribe still waits
    session.receive_frame(hydra_subscribed(["signals"]), 2 * S)
    (resolved,) = session.take()
    assert resolved.request == subscribing
    assert session.end_subscribe(batch).pending == []
    # A request given up on (no reply in time) is forgotten: a late reply resolves nothing.
    late = session.request(session.dialect.list_request())
    session.give_up(late)
    session.receive_frame(text({"type": "subscriptions", "data": {}}), 3 * S)
    assert session.take() == [] and session.pending == {}


def test_hydra_refusal_leaves_the_wanted_set_and_is_not_resent_after_a_reconnect():
    session = session_for(HydraDialect("ws://h/stream", token="tok"), ["signals", "cyber"])
    connect(session, 0, HYDRA_WELCOME)
    batch, _, _ = subscribe(session, session.resubscription())
    session.receive_frame(hydra_subscribed(["signals"], {"cyber": "tier too low"}), S)
    outputs = session.take()
    (refused,) = of(StreamsRefused, outputs)
    assert refused.rejected == {"cyber": "tier too low"}
    assert len(of(Resolve, outputs)) == 1
    result = session.end_subscribe(batch)
    assert result.rejected == {"cyber": "tier too low"} and result.active == ["signals"]
    assert session.wanted == ["signals"] and session.notices[-1].is_error
    assert session.state is State.CONNECTED  # a refusal ends nothing

    # The socket drops; the session asks for a reconnect, then resubscribes what is wanted.
    decision = session.socket_closed(1011, "oops", now_ns=20 * S)
    assert decision.action is CloseAction.RECONNECT
    session.attempt_ended(decision, started=0.0, mono=20.0, now_ns=20 * S)
    outputs = session.take()
    assert of(Mark, outputs)[0].kind == "disconnected"
    (reconnect,) = of(Reconnect, outputs)
    assert reconnect.delay > 0 and session.state is State.RECONNECTING
    outputs = connect(session, 21 * S, HYDRA_WELCOME, mono=21.0)
    assert [m.kind for m in of(Mark, outputs)] == ["gap", "reconnected"]
    assert of(Mark, outputs)[0].at_ns == 20 * S and session.stats.reconnects == 1
    _, _, (out,) = subscribe(session, session.resubscription())
    assert orjson.loads(out.frame)["streams"] == ["signals"]


def test_hydra_a_stream_the_welcome_does_not_offer_is_refused_at_resubscription():
    session = session_for(HydraDialect("ws://h/stream", token="tok"), ["signals", "markets"])
    outputs = connect(session, 0, HYDRA_WELCOME)
    (up,) = of(Connected, outputs)
    assert up.streams == ["signals"]
    (refused,) = of(StreamsRefused, outputs)
    assert "not offered by the server" in refused.rejected["markets"]


def test_hydra_a_bad_frame_is_counted_and_kept_without_ending_anything():
    session = session_for(HydraDialect("ws://h/stream", token="tok"), ["signals"])
    connect(session, 0, HYDRA_WELCOME)
    assert session.receive_frame("{oops", S) == []
    session.bad_frame(b"\xff\xfe", "a text frame that is not UTF-8", 2 * S)
    assert session.stats.parse_errors == 2 and session.stats.frames == 3
    assert [r.received_ns for r in session.rejected_frames] == [S, 2 * S]
    assert "not JSON" in session.rejected_frames[0].error
    assert not of(Fail, session.take()) and session.state is State.CONNECTED
    assert len(session.receive_frame(hydra_data("signals"), 3 * S)) == 1


def test_hydra_pause_counts_events_and_marks_the_gap():
    session = session_for(HydraDialect("ws://h/stream", token="tok"), ["signals"])
    connect(session, 0, HYDRA_WELCOME)
    session.pause(S)
    session.pause(2 * S)  # twice is harmless
    assert session.take() == [Mark("paused", "", S)]
    assert session.receive_frame(hydra_data("signals"), 3 * S) == []
    assert session.stats.skipped_while_paused == 1 and session.stats.events == 1
    session.resume(4 * S)
    assert session.take() == [
        Mark("gap", "paused by the user", S, 4 * S),
        Mark("resumed", "", 4 * S),
    ]
    assert len(session.receive_frame(hydra_data("signals", 2), 5 * S)) == 1


def test_hydra_silence_past_the_idle_timeout_aborts_the_socket():
    dialect = HydraDialect("ws://h/stream", token="tok", heartbeat_interval=1, missed_heartbeats=3)
    session = session_for(dialect)
    connect(session, 0, HYDRA_WELCOME)
    due = session.next_timer_ns()
    assert due == S * 3 // 10
    session.timer_due(2 * S)
    assert session.take() == []
    session.receive_frame(text({"type": "heartbeat"}), 2 * S)  # life: the clock restarts
    session.timer_due(4 * S)
    assert session.take() == [] and session.stats.heartbeats == 1
    session.timer_due(5 * S)
    (abort,) = session.take()
    assert isinstance(abort, Abort) and "no data or heartbeat for 3.0 s" in abort.reason
    decision = session.socket_closed(None, "", now_ns=5 * S)
    assert decision.action is CloseAction.RECONNECT and decision.reason == abort.reason


def test_a_request_when_the_socket_drops_fails_with_the_reason():
    session = session_for(HydraDialect("ws://h/stream", token="tok"))
    connect(session, 0, HYDRA_WELCOME)
    request = session.request(session.dialect.list_request())
    decision = session.socket_closed(1001, "", now_ns=S)
    session.attempt_ended(decision, started=0.0, mono=1.0, now_ns=S)
    (failed,) = of(FailRequest, session.take())
    assert failed.request == request and failed.reason.startswith("no reply: server going away")
    assert session.pending == {}


def test_hydra_a_refusing_close_code_fails_the_connection():
    session = session_for(HydraDialect("ws://h/stream", token="tok"))
    connect(session, 0, HYDRA_WELCOME)
    decision = session.socket_closed(4001, "bad token", now_ns=S)
    session.attempt_ended(decision, started=0.0, mono=1.0, now_ns=S)
    (fail,) = of(Fail, session.take())
    assert session.state is State.FAILED and session.auth_failed and session.code == 4001
    assert "token invalid" in fail.decision.reason


# -- Pusher ---------------------------------------------------------------------------------


def pusher_welcome(activity_timeout: int = 7) -> str:
    data = text({"socket_id": "1.2", "activity_timeout": activity_timeout})
    return text({"event": "pusher:connection_established", "data": data})


def pusher_app() -> PusherAppDialect:
    return PusherAppDialect.parse_only({"key": "app-key", "cluster": "eu"})


def test_pusher_data_on_a_channel_confirms_its_subscribe_and_an_error_refuses_another():
    session = session_for(pusher_app(), ["trades", "news"])
    connect(session, 0, pusher_welcome())
    batch, requests, frames = subscribe(session, session.resubscription())
    assert [orjson.loads(f.frame)["data"]["channel"] for f in frames] == ["trades", "news"]
    event = text({"event": "trade", "channel": "trades", "data": text({"p": 1})})
    (row,) = session.receive_frame(event, S)
    assert row.stream == "trades"
    assert session.take() == [Resolve(requests[0], None)]  # data confirmed it
    error = text({"event": "pusher:subscription_error", "channel": "news", "data": {"error": "no"}})
    session.receive_frame(error, 2 * S)
    outputs = session.take()
    assert of(StreamsRefused, outputs)[0].rejected == {"news": "no"}
    assert [r.request for r in of(Resolve, outputs)] == [requests[1]]
    result = session.end_subscribe(batch)
    assert (result.active, result.rejected, result.pending) == (["trades"], {"news": "no"}, [])


def test_pusher_answers_pings_and_pings_when_idle_on_the_welcomes_clock():
    session = session_for(pusher_app())
    connect(session, 0, pusher_welcome(activity_timeout=7))
    session.start_keepalive(session.dialect.keepalive(), 0)  # the welcome set the rules
    session.receive_frame(text({"event": "pusher:ping", "data": {}}), S)
    (pong,) = session.take()
    assert isinstance(pong, Send) and "pusher:pong" in pong.frame
    session.timer_due(7 * S)
    assert session.take() == []  # a second ago the server spoke
    session.timer_due(8 * S)
    (ping,) = session.take()
    assert isinstance(ping, Send) and "pusher:ping" in ping.frame
    session.timer_due(9 * S)
    assert session.take() == []  # one ping per silence


# -- Hyperoru -------------------------------------------------------------------------------


def test_hyperoru_a_subscribe_without_a_promised_reply_stays_pending_until_data():
    session = session_for(HyperoruDialect(session_token=HYPERORU_TOKEN), ["positions"])
    connect(session, 0, text({"type": "pong"}))
    batch, requests, (out,) = subscribe(session, session.resubscription())
    assert requests == [] and out.reply_key is None
    result = session.end_subscribe(batch)
    assert result.pending == ["positions"] and result.active == ["positions"]
    (row,) = session.receive_frame(text({"type": "position_update", "data": {"s": 1}}), S)
    assert row.stream == "positions"


def test_hyperoru_an_error_naming_a_subscribe_refuses_its_channel():
    session = session_for(HyperoruDialect(session_token=HYPERORU_TOKEN), ["positions"])
    connect(session, 0, text({"type": "pong"}))
    batch, _, (out,) = subscribe(session, session.resubscription())
    request_id = orjson.loads(out.frame)["request_id"]
    error = {"code": "forbidden", "message": "no"}
    session.receive_frame(text({"type": "error", "request_id": request_id, "data": error}), S)
    (refused,) = of(StreamsRefused, session.take())
    assert refused.rejected == {"positions": "no (forbidden)"}
    assert session.end_subscribe(batch).rejected == {"positions": "no (forbidden)"}
    assert session.wanted == [] and session.resubscription() == []


def test_hyperoru_silent_closes_right_after_opening_count_as_a_refusal():
    """The document says a refused token is closed at once without a code: after three
    such closes in a row the session stops instead of reconnecting for ever."""
    session = session_for(HyperoruDialect(session_token=HYPERORU_TOKEN))
    kinds = []
    for attempt in range(3):
        session.attempt_begins()
        session.socket_opened(attempt * S, session.dialect.keepalive())
        decision = session.socket_closed(None, "", now_ns=attempt * S)
        session.attempt_ended(decision, started=float(attempt), mono=attempt + 0.1, now_ns=0)
        kinds += [type(out) for out in session.take() if isinstance(out, Reconnect | Fail)]
    assert kinds == [Reconnect, Reconnect, Fail]
    assert session.state is State.FAILED and session.auth_failed
