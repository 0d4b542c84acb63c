"""Smaller points of the documents, without sockets: Hydra v1 snapshots, Hydra time units,
control messages recognised by their type whatever else they carry."""

from __future__ import annotations

import pytest

from streamwidgets.dialects.hydra import HydraDialect
from streamwidgets.dialects.hydra_v1 import SNAPSHOT_BURST_GAP, HydraV1Dialect
from streamwidgets.events import Event, Heartbeat, ServerNotice
from streamwidgets.exceptions import ConfigurationError

MS = 1_000_000


def v1_events(dialect: HydraV1Dialect, frames: list[tuple[str, int]]) -> list[Event]:
    out = []
    for frame, at_ms in frames:
        out.extend(e for e in dialect.parse(frame, at_ms * MS) if isinstance(e, Event))
    return out


def test_hydra_v1_one_scope_snapshot_ends_where_the_live_messages_begin():
    """scopes: ["aircraft"] and a server that sends only the aircraft snapshot: the next
    aircraft message is live, not a second snapshot row."""
    d = HydraV1Dialect(api_key="k").for_connection()
    d.parse('{"type":"connected","data":{"scopes":["aircraft"],"ts":1}}', 0)
    aircraft = '{"type":"aircraft","data":{"positions":[{"icaoHex":"a"}],"count":1}}'
    events = v1_events(d, [(aircraft, 1), (aircraft, 2), (aircraft, 900)])
    assert [e.snapshot for e in events] == [True, False, False]


def test_hydra_v1_repeated_snapshot_types_end_with_the_burst():
    """vessel may come as many messages in the snapshot, but one arriving after the burst's
    gap is live; online_count still ends the snapshot at once."""
    d = HydraV1Dialect(api_key="k").for_connection()
    d.parse('{"type":"connected","data":{"scopes":["vessels"],"ts":1}}', 0)
    vessel = '{"type":"vessel","data":{"mmsi":1}}'
    late = int(SNAPSHOT_BURST_GAP * 1000) + 50
    events = v1_events(d, [(vessel, 0), (vessel, 1), (vessel, 2), (vessel, 2 + late)])
    assert [e.snapshot for e in events] == [True, True, True, False]
    d.parse('{"type":"connected","data":{"scopes":["vessels"],"ts":1}}', 0)
    count = '{"type":"online_count","data":{"count":3}}'
    events = v1_events(d, [(vessel, 0), (count, 1), (vessel, 2)])
    assert [e.snapshot for e in events] == [True, True, False]


def test_hydra_ts_in_seconds_is_noticed_once_and_read_as_seconds():
    """The document says ms; a ts of 1710000000 (seconds) is not put in January 1970: one
    notice, and each ts is read in the unit that makes it a date. time_unit= fixes it."""
    d = HydraDialect("ws://h/stream", token="t").for_connection()
    first = d.parse('{"stream":"signals","type":"signal_new","ts":1710000000,"data":{}}', 0)
    event, notice = first
    assert event.event_ns == 1_710_000_000 * 10**9
    assert isinstance(notice, ServerNotice) and "seconds, not milliseconds" in notice.message
    (second,) = d.parse('{"stream":"signals","type":"signal_new","ts":1710000001.25,"data":{}}', 0)
    assert second.event_ns == 1_710_000_001_250_000_000
    # Value by value: a later ts in the documented ms is read as ms, with no new notice.
    (third,) = d.parse('{"stream":"signals","type":"signal_new","ts":1710000002500,"data":{}}', 0)
    assert third.event_ns == 1_710_000_002_500 * MS
    ms = HydraDialect("ws://h/stream", token="t").for_connection()
    (event,) = ms.parse('{"stream":"signals","type":"x","ts":1710000000123,"data":{}}', 0)
    assert event.event_ns == 1_710_000_000_123 * MS
    forced = HydraDialect("ws://h/stream", token="t", time_unit="ms").for_connection()
    (event,) = forced.parse('{"stream":"signals","type":"x","ts":1710000000,"data":{}}', 0)
    assert event.event_ns == 1_710_000_000 * MS
    with pytest.raises(ConfigurationError, match="time_unit must be one of"):
        HydraDialect("ws://h/stream", token="t", time_unit="days")


def test_control_messages_are_recognised_by_type_whatever_they_carry():
    """A heartbeat or a subscribed reply with a stray 'stream' field is still a control
    message, never a data row."""
    d = HydraDialect("ws://h/stream", token="t").for_connection()
    (beat,) = d.parse('{"type":"heartbeat","stream":"signals","ts":1,"data":null,"x":1}', 0)
    assert isinstance(beat, Heartbeat)
    out = d.parse('{"type":"subscribed","stream":"signals","data":{"subscribed":["a"]}}', 0)
    assert not [e for e in out if isinstance(e, Event)]
    extra = '{"type":"connected","stream":"x","data":{"availableStreams":["signals"]},"v":2}'
    assert d.parse(extra, 0)[0].available_streams == ["signals"]
