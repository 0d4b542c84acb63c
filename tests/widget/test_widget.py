"""StreamWidget against the real Hydra simulator, with every comm message recorded.

The comm is the one piece replaced: a recorder stands where the kernel's comm
would be, so each test sees exactly what would go to the browser (and can play
the browser's messages back). The kernel-level test in test_widget_kernel.py
checks the same throttling through a real Jupyter kernel.
"""

from __future__ import annotations

import asyncio
import io
import time

import numpy as np
import orjson
import pandas as pd
import pytest

from streamwidgets import ConfigurationError, StreamWidget, feeds
from streamwidgets.simulators.hydra import HydraSimulator
from streamwidgets.widget import widget as widget_module
from streamwidgets.widget.encoding import SeriesKey, series_points
from tests.support.waiting import eventually, seconds
from tests.support.widgets import (
    PRICE,
    PRICE_ID,
    STREAMS,
    assert_never_sent,
    customs,
    from_browser,
    make,
    series_from,
)


async def test_state_streams_and_charts_reach_the_traits(recorded, sim):
    w = make(recorded, sim, chart=[PRICE])
    await w.wait_async(state="connected", timeout=seconds(5))
    await eventually(lambda: w.state == "connected")
    assert w.reason == "connected"
    assert "markets" in w.available_streams
    assert w.subscriptions == STREAMS
    assert w.feed == {"name": "hydra", "url": sim.url}
    assert w.charts == [
        {
            "id": PRICE_ID,
            "stream": "markets",
            "type": "market_update",
            "field": "data.price",
            "by": None,
        }
    ]
    await eventually(lambda: any(f["stream"] == "markets" for f in w.fields), timeout=3)
    markets = next(f for f in w.fields if f["type"] == "market_update")
    assert "data.price" in markets["fields"] and "data.symbol" not in markets["fields"]


async def test_a_fast_feed_is_coalesced_to_the_update_rate_and_only_deltas_are_sent(recorded):
    async with HydraSimulator(rate=10_000, seed=5) as fast:
        w = make(recorded, fast, chart=[PRICE], max_points=100_000, update_hz=20)
        await w.wait_async(state="connected", timeout=seconds(5))
        began = time.monotonic()
        await asyncio.sleep(3.0)
        sent = [at for at, msg_type, *_ in w.comm.sent if msg_type == "comm_msg" and at >= began]
        w.pause()
        await asyncio.sleep(0.2)  # the update after the pause carries the last rows

    per_second = np.histogram(sent, bins=np.arange(began, began + 3.01, 1.0))[0]
    assert w.stats["events"] > 10_000, "the feed was not fast enough to prove anything"
    assert per_second.max() <= 30, f"comm messages per second: {per_second.tolist()}"
    # Deltas only: every price point went exactly once, in order, none repeated.
    x, y = series_from(customs(w, "update"), PRICE_ID)
    px, py = series_points(w.to_dataframe(), SeriesKey(*PRICE), 10**9)
    assert len(x) == len(px) > 100
    np.testing.assert_array_equal(y, py)
    np.testing.assert_array_equal(x, px)
    # And nothing resends the whole window unasked.
    assert not customs(w, "window")


async def test_a_view_opened_later_gets_the_current_window(recorded, sim):
    w = make(recorded, sim, chart=[PRICE])
    await w.wait_async(events=300, timeout=seconds(10))
    from_browser(w, kind="hello", view="view-2")
    [(at, window, buffers)] = customs(w, "window")
    assert window["view"] == "view-2"
    w.pause()
    await asyncio.sleep(0.3)
    # The window holds what updates sent so far; the updates after it the rest, once.
    later = [m for m in customs(w, "update") if m[0] >= at]
    x, y = series_from([(at, window, buffers), *later], PRICE_ID)
    px, py = series_points(w.to_dataframe(), SeriesKey(*PRICE), w.max_points)
    np.testing.assert_array_equal(y, py)
    np.testing.assert_array_equal(x, px)
    assert len(window["recent"]) > 0 and window["stats"]["events"] > 0
    assert all(set(item) >= {"seq", "stream", "type", "time", "json"} for item in window["recent"])


async def test_recent_500_is_a_trait_and_a_late_view_gets_500_recent_events(recorded):
    """The widget's limits travel as traits (the browser keeps as many as the kernel)."""
    async with HydraSimulator(rate=2000, seed=7) as fast:
        w = make(recorded, fast, recent=500, update_hz=30, max_points=300)
        state = w.get_state()
        assert (state["recent"], state["update_hz"], state["max_points"]) == (500, 30.0, 300)

        def recent_sent() -> int:
            return sum(len(msg["recent"]) for _, msg, _ in customs(w, "update"))

        # At most a few recent events go out per update: 500 take some seconds.
        await eventually(lambda: recent_sent() > 520, timeout=20, what="520 recent events")
        from_browser(w, kind="hello", view="late")
        [(_, window, _)] = customs(w, "window")
        seqs = [item["seq"] for item in window["recent"]]
        assert len(seqs) == 500 and seqs == sorted(seqs)


async def test_toggles_subscribe_and_unsubscribe_on_the_server(recorded, sim):
    w = make(recorded, sim)
    await w.wait_async(state="connected", timeout=seconds(5))
    from_browser(w, kind="unsubscribe", stream="markets")
    assert "markets" in w.pending
    await eventually(lambda: not w.pending)
    assert w.subscriptions == ["signals", "aircraft"]
    assert any(
        c.get("action") == "unsubscribe" and "markets" in c.get("streams", [])
        for _, c in sim.commands
    )
    from_browser(w, kind="subscribe", stream="cyber")
    await eventually(lambda: "cyber" in w.subscriptions)
    assert w.error == ""
    from_browser(w, kind="subscribe", stream="no-such-stream")
    await eventually(lambda: w.error != "")
    assert "no-such-stream" in w.error and "no-such-stream" not in w.subscriptions


async def test_pause_freezes_the_buffer_and_updates_and_marks_the_gap(recorded, sim):
    w = make(recorded, sim)
    await w.wait_async(events=50, timeout=seconds(5))
    from_browser(w, kind="pause")
    assert w.paused
    await asyncio.sleep(0.1)
    rows, updates = len(w.df), len(customs(w, "update"))
    await asyncio.sleep(0.5)
    assert len(w.df) == rows
    while_paused = [content for _, content, _ in customs(w, "update")[updates + 1 :]]
    assert while_paused, "the counters should keep moving while paused"
    assert all(not (u["series"] or u["recent"]) for u in while_paused)
    assert w.stats["skipped_while_paused"] > 0
    from_browser(w, kind="resume")
    await w.wait_async(events=20, timeout=seconds(5))
    assert len(w.df) > rows and not w.paused
    assert "gap" in w.buffer.markers["kind"].tolist()


async def test_picking_a_field_charts_it_and_sends_its_history(recorded, sim):
    w = make(recorded, sim)
    await w.wait_async(events=300, timeout=seconds(10))
    from_browser(w, kind="chart", stream="aircraft", type="position_update", field="data.altitude")
    series_id = "aircraft|position_update|data.altitude"
    assert [c["id"] for c in w.charts] == [series_id]
    [(_, window, buffers)] = customs(w, "window")
    assert window["view"] is None and "recent" not in window
    x, _ = series_from([(0, window, buffers)], series_id)
    assert len(x) > 0
    await eventually(lambda: len(series_from(customs(w, "update"), series_id)[0]) > 0)
    from_browser(w, kind="unchart", id=series_id)
    assert w.charts == []
    with pytest.raises(ConfigurationError, match="say which stream and type"):
        w.chart("lat")  # seen in several streams
    assert w.chart("altitude") == series_id


async def test_export_sends_the_buffer_as_a_download(recorded, sim):
    w = make(recorded, sim)
    await w.wait_async(events=100, timeout=seconds(5))
    w.pause()
    # Built off the loop, one at a time: each download arrives a moment after its request.
    from_browser(w, kind="export", format="csv", view="v1")
    await eventually(lambda: len(customs(w, "download")) == 1)
    from_browser(w, kind="export", format="jsonl", view="v1")
    await eventually(lambda: len(customs(w, "download")) == 2)
    [(_, csv_msg, [csv_bytes]), (_, jsonl_msg, [jsonl_bytes])] = customs(w, "download")
    assert csv_msg["view"] == "v1" and csv_msg["filename"].endswith(".csv")
    assert csv_msg["mime"] == "text/csv" and jsonl_msg["mime"] == "application/x-ndjson"
    assert len(pd.read_csv(io.BytesIO(csv_bytes))) == len(w.df)
    lines = jsonl_bytes.decode().splitlines()
    assert len(lines) == len(w.df) and orjson.loads(lines[0])["seq"] == w.df["seq"].iloc[0]
    from_browser(w, kind="export", format="xlsx", view="v1")
    assert "csv or jsonl" in w.error


async def test_an_export_says_what_it_holds_and_one_runs_at_a_time(recorded, sim):
    w = make(recorded, sim)
    await w.wait_async(events=200, timeout=seconds(5))
    from_browser(w, kind="unsubscribe", stream="signals")
    await eventually(lambda: "signals" not in w.subscriptions)
    w.pause()
    from_browser(w, kind="export", format="jsonl", view="v1")
    from_browser(w, kind="export", format="csv", view="v2")  # while the first is built
    [(_, busy, _)] = customs(w, "export_failed")
    assert busy["view"] == "v2" and "already being built" in busy["reason"]
    await eventually(lambda: len(customs(w, "download")) == 1)
    [(_, msg, [data])] = customs(w, "download")
    lines = [orjson.loads(line) for line in data.splitlines()]
    # Only the streams subscribed now, each row with its present fields only.
    shown = w.df[w.df["stream"].isin(w.subscriptions)]
    assert msg["rows"] == len(lines) == len(shown) and msg["bytes"] == len(data)
    assert {row["stream"] for row in lines} <= set(w.subscriptions)
    assert all(value is not None for row in lines for value in row.values())
    # A second export once the first is done is fine.
    from_browser(w, kind="export", format="parquet", view="v1")
    await eventually(lambda: len(customs(w, "download")) == 2)


async def test_an_export_of_a_feed_without_subscribe_leaves_out_the_hidden_streams(
    recorded, sim, monkeypatch
):
    w = make(recorded, sim)
    await w.wait_async(events=200, timeout=seconds(5))
    w.pause()
    monkeypatch.setattr(w, "subscribe_supported", False)
    from_browser(w, kind="export", format="csv", view="v1", hidden=["markets", "aircraft"])
    await eventually(lambda: len(customs(w, "download")) == 1)
    [(_, msg, [data])] = customs(w, "download")
    rows = pd.read_csv(io.BytesIO(data))
    assert set(rows["stream"]) == {"signals"} and msg["rows"] == len(rows)
    from_browser(w, kind="export", format="csv", view="v1", hidden=list(STREAMS))
    await eventually(lambda: len(customs(w, "export_failed")) == 1)
    [(_, failed, _)] = customs(w, "export_failed")
    assert failed["reason"] == "CSV export failed: no rows of the streams shown to export"


async def test_clear_empties_buffer_and_views_but_not_the_counters(recorded, sim):
    w = make(recorded, sim, chart=[PRICE])
    await w.wait_async(events=100, timeout=seconds(5))
    events = w.stats["events"]
    from_browser(w, kind="clear")
    assert len(w.df) < 10 and w.stats["events"] >= events
    window = customs(w, "window")[-1][1]
    assert window["recent"] == [] and window["rates"] == []
    assert all(entry["n"] == 0 for entry in window["series"])


async def test_no_secret_reaches_a_trait_a_message_or_the_repr(recorded, sim):
    token = sim.issue_token()
    w = StreamWidget(feeds.hydra(sim.url, token=token), streams=STREAMS, chart=[PRICE])
    recorded.append(w)
    await w.wait_async(events=200, timeout=seconds(5))
    from_browser(w, kind="hello", view="v")
    from_browser(w, kind="export", format="jsonl", view="v")
    await eventually(lambda: len(customs(w, "download")) == 1)
    assert_never_sent(w, token)


async def test_a_bad_token_shows_failed_with_the_reason(recorded, sim):
    w = StreamWidget(feeds.hydra(sim.url, token="not-a-jwt"), streams=STREAMS)
    recorded.append(w)
    await eventually(lambda: w.state == "failed")
    assert "(4001)" in w.reason and "not-a-jwt" not in w.reason
    with pytest.raises(Exception, match="4001"):
        await w.wait_async(events=1, timeout=seconds(2))


async def test_close_stops_the_socket_and_tasks_and_keeps_the_buffer(recorded, sim):
    w = make(recorded, sim)
    await w.wait_async(events=50, timeout=seconds(5))
    await w.aclose()
    assert w.state == "closed" and w.reason == "closed by the user"
    await eventually(lambda: sim.connections_open == 0)
    assert not w._tasks and w.connection._task.done()
    assert len(w.df) >= 50
    assert w not in StreamWidget.running()
    with pytest.raises(ConfigurationError, match="closed"):
        await w.subscribe_async("cyber")


async def test_rerunning_a_cell_closes_the_widget_it_made_before(recorded, sim, monkeypatch):
    monkeypatch.setattr(widget_module, "current_cell_id", lambda: "cell-7")
    first = make(recorded, sim)
    await first.wait_async(state="connected", timeout=seconds(5))
    second = make(recorded, sim)
    assert first.state == "closed"
    assert first.reason == "replaced by a new widget from the same cell"
    assert first.comm is None, "the replaced widget's comm is released"
    assert StreamWidget.running() == [second]
    await eventually(lambda: sim.connections_open == 1)


async def test_the_demo_runs_an_embedded_simulator_and_stops_it_on_close(recorded):
    w = StreamWidget.demo(rate=200)
    recorded.append(w)
    assert w.simulator is not None and w.simulator.url.startswith("ws://127.0.0.1:")
    await w.wait_async(events=50, timeout=seconds(5))
    # Split by entity, so neither chart is a comb through every symbol or aircraft.
    assert [c["id"] for c in w.charts] == [
        "markets|market_update|data.changePct|data.symbol",
        "aircraft|position_update|data.altitude|data.icaoHex",
    ]
    assert "markets" in w.subscriptions
    await w.aclose()
    assert w.simulator.connections_open == 0
    with pytest.raises(RuntimeError, match="not started"):
        _ = w.simulator.url  # the embedded server is stopped too
    plain = StreamWidget()  # no feed at all is the demo too
    recorded.append(plain)
    assert plain.simulator is not None and plain.subscriptions == w.subscriptions
    await plain.aclose()


async def test_on_calls_back_per_type_and_survives_a_raising_callback(recorded, sim):
    w = make(recorded, sim)
    seen: list[str] = []
    w.on("market_update", lambda e: seen.append(e.type))
    w.on("*", lambda e: 1 / 0)
    await w.wait_async(events=200, timeout=seconds(5))
    assert seen and set(seen) == {"market_update"}
    assert w.state == "connected"


def test_bad_options_are_refused_with_a_clear_message():
    async def build(**kwargs):
        return StreamWidget(feeds.hydra("ws://127.0.0.1:9/stream", token="t"), **kwargs)

    for kwargs, message in [
        ({"strams": ["a"]}, "did you mean 'streams'"),
        ({"update_hz": 500}, "between 1 and 30"),
        ({"max_points": 0}, "max_points must be an int"),
        ({"recent": "ten"}, "recent must be an int"),
        ({"chart": [("markets", "price")]}, r"chart takes \(stream, type, field\) or"),
        ({"chart": [("markets", None, "price")]}, "needs a stream"),
    ]:
        with pytest.raises(ConfigurationError, match=message):
            asyncio.run(build(**kwargs))
    with pytest.raises(ConfigurationError, match="running event loop"):
        StreamWidget(feeds.hydra("ws://127.0.0.1:9/stream", token="t"))
