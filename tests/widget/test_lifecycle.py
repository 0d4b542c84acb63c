"""The widget in a kernel's life: closing leaves no comm behind, a failing callback is
reported a bounded number of times, and the events/s chart shows quiet seconds as zero
and seconds without a live feed as a break."""

from __future__ import annotations

import asyncio
import logging

import ipywidgets.widgets.widget as ipywidget
import pytest

from streamwidgets import StreamWidget, feeds
from streamwidgets.buffer.event_buffer import EventBuffer
from streamwidgets.events import Event
from streamwidgets.simulators.hydra import HydraSimulator
from streamwidgets.widget.updates import UpdateBuilder
from tests.support.waiting import eventually, seconds
from tests.support.widgets import customs


@pytest.fixture
async def sim():
    async with HydraSimulator(rate=1000.0, seed=11) as simulator:
        yield simulator


async def test_300_closed_widgets_leave_no_comm_open(recorded, sim):
    """Each widget made and closed takes its own comm and its layout's with it."""
    before = len(ipywidget._instances)
    token = sim.issue_token()
    for _ in range(300):
        w = StreamWidget(feeds.hydra(sim.url, token=token), streams=["signals"])
        w.close()
    await asyncio.sleep(0.2)  # the connections' own closing
    assert len(ipywidget._instances) == before
    assert StreamWidget.running() == []


async def test_a_callback_failing_on_every_event_is_reported_a_few_times(recorded, sim, caplog):
    """w.on("*", ...) raising on each of thousands of events: one traceback, then counts
    at most every 10 s, and the widget's error line says how often."""
    caplog.set_level(logging.WARNING, logger="streamwidgets")
    w = StreamWidget(feeds.hydra(sim.url, token=sim.issue_token()), streams=["signals"])
    recorded.append(w)
    w.on("*", lambda event: event.data["no_such_field"])
    await eventually(lambda: w.connection.stats.events > 2000, timeout=10)
    records = [r for r in caplog.records if "callback raised" in r.getMessage()]
    assert 1 <= len(records) <= 2
    assert records[0].exc_info is not None and "KeyError" in records[0].getMessage()
    assert "on('*') callback raised KeyError" in w.error
    assert w._failures.total > 2000


def test_quiet_seconds_are_zero_and_seconds_without_a_feed_are_breaks():
    """Events in second 100, none in 101 (quiet, connected), down 102-104, back in 105."""
    buffer = EventBuffer()
    builder = UpdateBuilder(buffer)

    def event_at(second: float) -> None:
        event = Event("s", "t", {}, received_ns=int(second * 1e9))
        buffer.append(event)

    event_at(100.2)
    builder.update({}, now=100.5)
    builder.update({}, now=101.5)  # closes 100
    builder.update({}, now=102.1)  # closes 101: quiet
    builder.note_live(False, now=102.2)
    builder.note_live(True, now=105.0)
    event_at(105.3)
    message, _ = builder.update({}, now=106.1)
    rates = [*builder._rates]
    assert [r["t"] / 1000 for r in rates] == [100, 101, 102, 103, 104, 105]
    assert rates[0]["counts"] == {"s": 1} and rates[1]["counts"] == {}
    assert all(r.get("gap") for r in rates[2:5]) and rates[5]["counts"] == {"s": 1}
    assert message["rates"][-1]["counts"] == {"s": 1}


async def test_a_pause_is_a_break_in_the_rate_chart(recorded, sim):
    """Seconds the widget was paused reach the browser as gap entries, not as a line."""
    w = StreamWidget(feeds.hydra(sim.url, token=sim.issue_token()), streams=["signals"])
    recorded.append(w)
    await eventually(lambda: w.connection.stats.events > 100)
    w.pause()
    await asyncio.sleep(seconds(2.5))
    w.resume()
    await asyncio.sleep(seconds(1.5))
    entries = [e for _, content, _ in customs(w, "update") for e in content["rates"]]
    gaps = [e for e in entries if e.get("gap")]
    counted = [e for e in entries if e.get("counts")]
    assert len(gaps) >= 1 and counted
    assert max(e["t"] for e in counted) > max(e["t"] for e in gaps)
