"""The Hydra JWT stream protocol as the simulator speaks it, without any socket.

The protocol follows the Hydra document (seed ``000``) and the further public facts in
``NOTES.md``. Where both are silent, the choices below are the simulator's own:

Handshake
    * Only the path ``/stream`` upgrades; any other path gets HTTP 404. With
      ``max_connections`` set, an upgrade beyond it gets HTTP 503.
    * The JWT comes in ``?token=``. It must be HS256-signed with the simulator's secret and
      carry ``sub``, ``exp`` (not past) and ``streams`` (a list of strings). A missing,
      malformed, badly signed or expired token is accepted at the HTTP level and then
      closed with **4001** "Invalid or expired JWT" before any message, because the
      document lists 4001 as a WebSocket close code, not as an HTTP status.
    * ``balance`` <= 0 closes with **4002** "Insufficient token balance" *instead of*
      ``connected``: every credential refusal happens before the greeting. A token
      without ``balance`` is not metered.
    * The scope is the token's ``streams`` that this simulator offers, in token order.
      The first message is ``{"type": "connected", "ts", "data": {"sessionId": "sess-…",
      "address": sub, "availableStreams": scope, "serverTime"}}``.

Commands (JSON text from the client; every message counts towards the rate limit)
    * ``subscribe {streams}``: ``"*"`` means the whole scope. The reply ``subscribed``
      lists in ``subscribed`` every requested stream now active (new or already active),
      in ``rejected`` the others with ``rejectedReason[stream] = "Stream not in token
      scope"`` (unknown names included), and ``active``. When *every* requested stream is
      rejected (``"*"`` with an empty scope included) the server closes with **4004**
      "Subscription not in JWT scope" instead.
    * ``unsubscribe {streams}``: ``"*"`` means every active stream; ``unsubscribed`` lists
      the streams that were active and no longer are; names not active are ignored.
    * ``list`` → ``subscriptions {active, available}``.
    * Lenient profile only (NOTES.md names the ``ping`` action but no reply, and no
      document shows an error message): ``ping`` → ``pong`` (data null); anything else
      (not JSON, binary, not an object, no or unknown ``action``, ``streams`` missing,
      empty or not a list of strings) → ``{"type": "error", "ts", "data": {"message"}}``.
      The strict profile ignores both. Either way the connection stays open.
    * More than ``max_commands_per_second`` messages within one second closes with
      **4003** "Rate limit exceeded".
    * ``active`` lists are in scope order. Every reply carries ``ts`` (milliseconds).

Server messages
    * ``heartbeat`` every ``heartbeat_interval`` seconds, from connect on.
    * Events ``{"stream", "type", "ts", "data"}`` only for active streams, round robin
      across them, ``rate`` per second per connection (0 = as fast as the socket takes
      them, yielding every 64 events), at most ``limit`` per connection. Each ``data``
      starts with ``id`` (``"<prefix>-<seq:09d>"``, e.g. ``"sig-000000123"``) and ``seq``
      (an int): both are unique and increasing across the whole server, so gaps and
      duplicates across reconnects are visible. Payloads come from one shared
      :class:`~streamwidgets.simulators.synthetic.SyntheticWorld`: deterministic given
      ``seed`` for one connection (timestamps aside).
    * WebSocket compression is off and the server sends no protocol pings: a silenced
      server is then truly silent (the library still answers the client's pings).

Example:
    >>> command_error(decode_command('{"action": "subscribe", "streams": []}'))
    'subscribe: streams must be a non-empty list of strings'
    >>> plan_subscribe(("signals", "markets"), [], ["markets", "cyber"])
    (['markets'], ['cyber'], ['markets'])
"""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from typing import Any

import orjson

from streamwidgets.simulators.synthetic import SyntheticWorld

__all__ = [
    "ALL_STREAMS",
    "CLOSE_BALANCE",
    "CLOSE_INVALID_JWT",
    "CLOSE_RATE_LIMIT",
    "CLOSE_SCOPE",
    "EVENT_TYPES",
    "HYDRA_COMMANDS",
    "MALFORMED_KINDS",
    "OUT_OF_SCOPE",
    "EventGenerator",
    "command_error",
    "decode_command",
    "event_frame",
    "event_generators",
    "malformed_frame",
    "now_ms",
    "padded_frame",
    "plan_subscribe",
    "plan_unsubscribe",
    "reply_frame",
]

EVENT_TYPES: dict[str, tuple[str, ...]] = {
    "aircraft": ("position_update", "pattern_detected"),
    "vessels": ("position_update", "status_change"),
    "alerts": ("alert_issued", "alert_cleared"),
    "cyber": ("threat_pulse",),
    "airspace": ("restriction_active", "restriction_expired"),
    "signals": ("signal_new",),
    "markets": ("market_update", "price_spike"),
    "social": ("osint_signal",),
    "earthquakes": ("seismic_event",),
}
ALL_STREAMS: tuple[str, ...] = tuple(EVENT_TYPES)
#: The ``action`` of every command a client can send.
HYDRA_COMMANDS: tuple[str, ...] = ("subscribe", "unsubscribe", "list", "ping")
MALFORMED_KINDS: tuple[str, ...] = (
    "not_json",
    "binary",
    "non_object",
    "unknown_type",
    "missing_fields",
)

CLOSE_INVALID_JWT = (4001, "Invalid or expired JWT")
CLOSE_BALANCE = (4002, "Insufficient token balance")
CLOSE_RATE_LIMIT = (4003, "Rate limit exceeded")
CLOSE_SCOPE = (4004, "Subscription not in JWT scope")
OUT_OF_SCOPE = "Stream not in token scope"

_ID_PREFIX = {
    "aircraft": "ac",
    "vessels": "vs",
    "alerts": "al",
    "cyber": "cy",
    "airspace": "as",
    "signals": "sig",
    "markets": "mk",
    "social": "osint",
    "earthquakes": "eq",
}

#: Makes one event of a stream at a time in ms: its type and its payload.
EventGenerator = Callable[[int], tuple[str, dict[str, Any]]]


def now_ms() -> int:
    """The wall-clock time in epoch milliseconds, as every message's ``ts`` carries it."""
    return time.time_ns() // 1_000_000


# Server messages -----------------------------------------------------------------------------


def reply_frame(kind: str, data: Any, ts: int) -> bytes:
    """A server message that is not an event: ``{"type", "ts", "data"}``.

    Example:
        >>> reply_frame("pong", None, 5)
        b'{"type":"pong","ts":5,"data":null}'
    """
    return orjson.dumps({"type": kind, "ts": ts, "data": data})


def event_generators(world: SyntheticWorld) -> dict[str, EventGenerator]:
    """One generator per stream, all drawing on ``world``, with the event types' mix."""
    rng = world.rng

    def aircraft(now: int) -> tuple[str, dict[str, Any]]:
        if rng.random() < 0.04:
            return "pattern_detected", world.aircraft_pattern(now)
        return "position_update", world.aircraft_position(now)

    def vessels(now: int) -> tuple[str, dict[str, Any]]:
        if rng.random() < 0.08:
            return "status_change", world.vessel_status(now)
        return "position_update", world.vessel_position(now)

    def alerts(now: int) -> tuple[str, dict[str, Any]]:
        kind, data = world.alert(now)
        return f"alert_{kind}", data

    def airspace(now: int) -> tuple[str, dict[str, Any]]:
        kind, data = world.restriction(now)
        return f"restriction_{kind}", data

    def markets(now: int) -> tuple[str, dict[str, Any]]:
        if rng.random() < 0.03:
            return "price_spike", world.price_spike(now)
        return "market_update", world.market_update(now)

    return {
        "aircraft": aircraft,
        "vessels": vessels,
        "alerts": alerts,
        "cyber": lambda now: ("threat_pulse", world.threat_pulse(now)),
        "airspace": airspace,
        "signals": lambda now: ("signal_new", world.signal(now)),
        "markets": markets,
        "social": lambda now: ("osint_signal", world.osint_post(now)),
        "earthquakes": lambda now: ("seismic_event", world.seismic_event(now)),
    }


def event_frame(stream: str, etype: str, data: dict[str, Any], seq: int, ts: int) -> dict[str, Any]:
    """The envelope of event number ``seq``; ``data`` gains the ``id`` and ``seq`` in front.

    Example:
        >>> event_frame("signals", "signal_new", {"x": 1}, 123, 7)["data"]
        {'id': 'sig-000000123', 'seq': 123, 'x': 1}
    """
    payload = {"id": f"{_ID_PREFIX[stream]}-{seq:09d}", "seq": seq, **data}
    return {"stream": stream, "type": etype, "ts": ts, "data": payload}


def padded_frame(frame: dict[str, Any], size: int) -> bytes:
    """``frame`` as JSON padded (``data.padding``) to ``size`` bytes; changes ``frame``.

    Example:
        >>> len(padded_frame({"data": {}}, 100))
        100
    """
    frame["data"]["padding"] = ""
    base = len(orjson.dumps(frame))
    frame["data"]["padding"] = "x" * max(0, size - base)
    return orjson.dumps(frame)


def malformed_frame(kind: str, stream: str, ts: int) -> str | bytes:
    """A frame of one of :data:`MALFORMED_KINDS`: text, or bytes for a binary frame.

    Example:
        >>> malformed_frame("missing_fields", "signals", 1)
        '{"stream":"signals","ts":1}'
    """
    if kind == "not_json":
        return '{"stream": "' + stream + '", "type": oops'
    if kind == "binary":
        return b"\x00\xffHYDRA\x01binary-frame"
    if kind == "non_object":
        return orjson.dumps([stream, "position_update", ts]).decode()
    if kind == "unknown_type":
        # No stream, so it is no event; and no server message has this type.
        return orjson.dumps(
            {
                "type": "mystery_message",
                "ts": ts,
                "data": {"note": "a message type the protocol does not define"},
            }
        ).decode()
    return orjson.dumps({"stream": stream, "ts": ts}).decode()  # missing_fields


# Commands ------------------------------------------------------------------------------------


def decode_command(message: str | bytes) -> Any:
    """The JSON value of a text message; None for binary or invalid JSON."""
    if isinstance(message, str):
        try:
            return orjson.loads(message)
        except orjson.JSONDecodeError:
            return None
    return None


def command_error(command: Any, *, binary: bool = False) -> str | None:
    """What is wrong with a decoded command, in the words of the ``error`` reply; None if valid.

    Example:
        >>> command_error({"action": "ping"}) is None
        True
        >>> command_error({"action": "dance"})
        "unknown action 'dance'"
    """
    if binary:
        return "commands must be JSON text frames, not binary"
    if not isinstance(command, dict):
        what = "not valid JSON" if command is None else "not a JSON object"
        return f"command is {what}"
    action = command.get("action")
    if action in ("ping", "list"):
        return None
    if action in ("subscribe", "unsubscribe"):
        streams = command.get("streams")
        if (
            not isinstance(streams, list)
            or not streams
            or not all(isinstance(x, str) for x in streams)
        ):
            return f"{action}: streams must be a non-empty list of strings"
        return None
    if action is None:
        return "command has no action"
    return f"unknown action {action!r}"


def plan_subscribe(
    scope: Sequence[str], active: Sequence[str], streams: Sequence[str]
) -> tuple[list[str], list[str], list[str]]:
    """Accepted and rejected names of a ``subscribe``, and the active list after it.

    An empty accepted list means the server closes with :data:`CLOSE_SCOPE`.
    """
    requested = list(
        dict.fromkeys(x for name in streams for x in (scope if name == "*" else (name,)))
    )
    accepted = [x for x in requested if x in scope]
    rejected = [x for x in requested if x not in scope]
    wanted = set(active) | set(accepted)
    return accepted, rejected, [x for x in scope if x in wanted]


def plan_unsubscribe(active: Sequence[str], streams: Sequence[str]) -> tuple[list[str], list[str]]:
    """The names an ``unsubscribe`` removes, and the active list after it.

    Example:
        >>> plan_unsubscribe(["a", "b"], ["*"])
        (['a', 'b'], [])
    """
    names = set(active) if "*" in streams else set(streams)
    return [x for x in active if x in names], [x for x in active if x not in names]
