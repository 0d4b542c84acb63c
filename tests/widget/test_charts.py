"""Charts that mean something: split series, gaps, the picker's classes, decimation, zoom.

Pure tests of the encoding and classification functions first, then a real StreamWidget
against the real Hydra simulator over loopback, every comm message recorded (see
tests/widget/test_widget.py for the recording comm).
"""

from __future__ import annotations

import asyncio
import re

import numpy as np
import pandas as pd
import pytest

from streamwidgets import ConfigurationError, StreamWidget
from streamwidgets.buffer.event_buffer import EventBuffer
from streamwidgets.events import Event
from streamwidgets.simulators.hydra import HydraSimulator
from streamwidgets.widget.encoding import (
    NO_KEY,
    SeriesKey,
    SeriesRows,
    decimate,
    epoch_ms,
    in_range,
    recent_item,
    series_rows,
    with_gaps,
)
from streamwidgets.widget.fields import classify
from streamwidgets.widget.protocol import Limit
from streamwidgets.widget.updates import SplitKeys, UpdateBuilder, zoom_range
from tests.support.waiting import eventually, seconds
from tests.support.widgets import customs, from_browser, make

PRICE_BY_SYMBOL = "markets|market_update|data.price|data.symbol"
ALTITUDE_BY_AIRCRAFT = "aircraft|position_update|data.altitude|data.icaoHex"


def points_of(messages, series_id: str) -> dict[str | None, tuple[np.ndarray, np.ndarray]]:
    """Per key (None: unsplit) the x and y of ``series_id`` across ``messages``, in order."""
    out: dict[str | None, list[list[np.ndarray]]] = {}
    for _, content, buffers in messages:
        for i, entry in enumerate(content.get("series", [])):
            if entry["id"] != series_id:
                continue
            x = np.frombuffer(buffers[2 * i], dtype="<f8")
            y = np.frombuffer(buffers[2 * i + 1], dtype="<f8")
            assert len(x) == len(y) == entry["n"]
            xs, ys = out.setdefault(entry.get("key"), [[], []])
            xs.append(x)
            ys.append(y)
    return {k: (np.concatenate(xs), np.concatenate(ys)) for k, (xs, ys) in out.items()}


# Pure: encoding -------------------------------------------------------------------------


def test_series_rows_splits_by_the_text_of_a_column_and_missing_values_go_under_none():
    buf = EventBuffer()
    for i, (v, k) in enumerate([(1.0, "A"), (2.0, 1), (3.0, None), (4.0, "1"), ("x", "A")]):
        data = {"v": v} if k is None else {"v": v, "k": k}
        buf.append(Event("s", "t", data, received_ns=(i + 1) * 10**6))
    rows = series_rows(buf.df, SeriesKey("s", "t", "data.v", by="data.k"))
    by_key = {rows.keys[c]: rows.of_key(c).y.tolist() for c in range(len(rows.keys))}
    # 1 and "1" read the same, so they are one key; "x" is no number, so no point.
    assert by_key == {"A": [1.0], "1": [2.0, 4.0], NO_KEY: [3.0]}
    assert rows.seq.tolist() == [1, 2, 3, 4]
    # A by column the rows lack: every point under "(none)".
    rows = series_rows(buf.df, SeriesKey("s", "t", "data.v", by="data.nope"))
    assert rows.keys == (NO_KEY,) and len(rows) == 4


def test_epoch_milliseconds_keep_the_whole_millisecond_pandas_shows():
    """The browser cuts a time's fraction of a millisecond as pandas' strftime does, so the
    whole millisecond sent must be the event's own: on whole-millisecond times (servers' ms
    stamps) and on times a few ns either side of one."""
    rng = np.random.default_rng(7)
    base = 1_764_503_045_000_000_000 + rng.integers(0, 10**12, 20_000) * 1_000_000
    nanos = np.concatenate([base, base - 1, base + 1, base + 999_999, base - 128])
    ms = epoch_ms(nanos)
    assert np.array_equal(np.floor(ms).astype(np.int64), nanos // 1_000_000)
    assert np.all(np.abs(ms - nanos / 1e6) < 1e-3)  # still the time, to a microsecond
    naive = np.floor(base / 1e6).astype(np.int64) != base // 1_000_000
    assert naive.any(), "plain division no longer loses a millisecond: the test proves nothing"
    shown = pd.to_datetime(base[:50]).strftime("%H:%M:%S.%f").str[:-3]
    for ns, text in zip(base[:50].tolist(), shown, strict=True):
        item = recent_item(Event("s", "t", {}, received_ns=ns), 1)
        whole = int(item["time"])
        assert pd.Timestamp(whole, unit="ms").strftime("%H:%M:%S.%f")[:-3] == text


def test_a_gap_point_goes_between_two_points_only_at_the_gap_start():
    rows = SeriesRows(np.array([1, 2, 5, 9]), np.array([10.0, 20, 50, 90]), np.ones(4))
    gap_seq, gap_x = np.array([0, 2, 3, 9]), np.array([5.0, 24.0, 30.0, 95.0])
    x, y = with_gaps(rows, gap_seq, gap_x)
    # Gaps after seq 2 and 3 both fall between the 2nd and 3rd points: one break there,
    # at the first one's start; none before the first point or after the last.
    assert x.tolist() == [10.0, 20.0, 24.0, 50.0, 90.0]
    assert np.isnan(y).tolist() == [False, False, True, False, False]
    # In an update: a gap after the last point already sent (seq 0) breaks before these.
    x, y = with_gaps(rows, np.array([0]), np.array([5.0]), after=0)
    assert x.tolist() == [5.0, 10.0, 20.0, 50.0, 90.0] and np.isnan(y[0])
    x, y = with_gaps(rows, np.array([0]), np.array([5.0]), after=1)
    assert len(x) == 4 and not np.isnan(y).any()


def test_decimate_keeps_min_max_shape_and_every_gap_of_a_long_series():
    n = 200_000
    x = np.arange(n, dtype=np.float64) * 10.0
    y = np.sin(np.arange(n) / 3000.0) + np.random.default_rng(1).normal(0, 0.01, n)
    y[123_457], y[7_001] = 50.0, -40.0
    # A spike up and one down side by side: one bin, where LTTB alone keeps one of them.
    y[100_000], y[100_001] = 60.0, -60.0
    y[[50_000, 150_000]] = np.nan  # two gaps
    dx, dy = decimate(x, y, 1000)
    real = ~np.isnan(dy)
    assert real.sum() <= 1000 and np.isnan(dy).sum() == 2
    assert dy[real].max() == 60.0 and dy[real].min() == -60.0
    assert {50.0, -40.0} <= set(dy[real].tolist())
    assert dx[0] == x[0] and dx[-1] == x[-1], "the whole span, not the last points"
    assert (np.diff(dx) > 0).all()
    # The gaps stay where they were: between the same neighbours.
    assert dx[np.isnan(dy)].tolist() == [x[50_000], x[150_000]]
    # Short enough: untouched.
    short = x[:500]
    assert decimate(short, y[:500], 1000)[0] is short


def test_in_range_keeps_one_point_beyond_each_edge():
    rows = SeriesRows(np.arange(10), np.arange(10.0) * 100, np.arange(10.0))
    assert in_range(rows, 250.0, 520.0).x.tolist() == [200.0, 300.0, 400.0, 500.0, 600.0]
    assert in_range(rows, None, 150.0).x.tolist() == [0.0, 100.0, 200.0]
    assert len(in_range(rows, 5000.0, 6000.0)) == 0
    assert in_range(rows, 110.0, 120.0).x.tolist() == [100.0, 200.0]


def test_split_keys_show_eight_count_the_rest_and_forget_beyond_the_bound():
    keys = SplitKeys()
    names = [f"k{i}" for i in range(20)]
    keys.see(names, np.arange(20.0))
    state = keys.state()
    assert state["keys"] == [f"k{i}" for i in range(19, 11, -1)]
    assert state["others"] == 12 and Limit.SPLIT_KEYS == 8
    # Shown keys that keep reporting keep their place against a newer key...
    keys.see([*names[12:], "new"], np.array([100.0] * 8 + [101.0]))
    assert "new" not in keys.state()["keys"]
    # ...until one of them is stale.
    keys.see([*names[13:], "new"], np.array([20_000.0] * 7 + [20_001.0]))
    assert "new" in keys.state()["keys"] and "k12" not in keys.state()["keys"]
    # Bounded: 5000 distinct keys, at most SPLIT_KEYS_REMEMBERED remembered.
    many = SplitKeys()
    many.see([f"id{i}" for i in range(5000)], np.arange(5000.0))
    assert many.state()["others"] == Limit.SPLIT_KEYS_REMEMBERED - Limit.SPLIT_KEYS
    assert many.state()["keys"][0] == "id4999"


def test_zoom_bounds_are_checked():
    assert zoom_range(None, None) == (None, None)
    assert zoom_range(1, 2.5) == (1.0, 2.5)
    for x0, x1, words in [
        ("a", None, "x0 must be epoch milliseconds"),
        (None, True, "x1 must be epoch milliseconds"),
        (float("nan"), None, "x0 must be a finite time"),
        (None, 1e300, "x1 must be a finite time"),
        (10, 5, "x0 .* is after x1"),
        ([1], None, "x0 must be"),
    ]:
        with pytest.raises(ConfigurationError, match=words):
            zoom_range(x0, x1)


# Pure: classification ---------------------------------------------------------------------


def test_ids_sequence_numbers_epochs_and_counters_are_not_measurements():
    n = 200
    rng = np.random.default_rng(3)
    symbols = np.array(["BTC", "ETH", "EUR", "GOLD"])[rng.integers(0, 4, n)]
    rows = pd.DataFrame(
        {
            "seq": np.arange(n),  # meta column: never offered
            "data.id": [f"ev-{i}" for i in range(n)],
            "data.seq": np.arange(1000, 1000 + n),
            "data.total": np.cumsum(rng.integers(0, 3, n)) + 5,  # a counter that only grows
            "data.createdAt": 1_710_000_000_000 + np.arange(n) * 7,
            "data.sent": 1_710_000_000.5 + np.arange(n),  # epoch seconds, no telling name
            "data.user_id": rng.integers(0, 10**6, n),
            "data.price": rng.normal(100, 5, n),
            "data.qty": rng.integers(1, 9, n),
            "data.flat": np.full(n, 3.0),
            "data.symbol": symbols,
            "data.side": np.array(["buy", "sell"])[rng.integers(0, 2, n)],
            "data.note": [f"free text {i}" for i in range(n)],
            "data.ok": np.ones(n, dtype=bool),
        }
    )
    found = classify(rows)
    assert found.fields == ["data.price", "data.qty", "data.flat"]
    assert sorted(found.other) == sorted(
        ["data.seq", "data.total", "data.createdAt", "data.sent", "data.user_id"]
    )
    # symbol is named like an entity; id and note have too many values to split by.
    assert found.keys == ["data.symbol", "data.side"]


def test_a_key_that_explains_the_measurements_comes_before_one_that_does_not():
    n = 400
    rng = np.random.default_rng(4)
    level = rng.integers(0, 6, n)
    rows = pd.DataFrame(
        {
            "data.value": level * 1000.0 + rng.normal(0, 1, n),
            "data.colour": np.array(list("rgbcmy"))[rng.integers(0, 6, n)],
            "data.group": np.array(list("ABCDEF"))[level],
        }
    )
    assert classify(rows).keys == ["data.group", "data.colour"]


# A real widget against the simulator ------------------------------------------------------


async def test_a_split_chart_sends_one_series_per_key_and_the_keys(recorded, sim):
    w = make(recorded, sim, streams=["markets"])
    await w.wait_async(events=300, timeout=seconds(10))
    with pytest.raises(ConfigurationError, match=r"no such column.*data\.symbol.*data\.price"):
        w.chart("price", stream="markets", type="market_update", by="sybmol")
    assert w.chart("price", stream="markets", type="market_update", by="symbol") == (
        PRICE_BY_SYMBOL
    )
    assert w.charts[-1]["by"] == "data.symbol"
    # The picker's way: the same chart (so nothing new), and a bad column said in `error`.
    from_browser(
        w, kind="chart", stream="markets", type="market_update", field="price", by="symbol"
    )
    assert [c["id"] for c in w.charts] == [PRICE_BY_SYMBOL]
    from_browser(w, kind="chart", stream="markets", type="market_update", field="bid", by="nope")
    assert "cannot split 'data.bid' by 'data.nope'" in w.error and len(w.charts) == 1
    from_browser(w, kind="chart", stream="markets", type="market_update", field="bid", by=None)
    assert w.charts[-1] == {
        "id": "markets|market_update|data.bid",
        "stream": "markets",
        "type": "market_update",
        "field": "data.bid",
        "by": None,
    }
    await w.wait_async(events=300, timeout=seconds(10))
    w.pause()
    await asyncio.sleep(0.3)
    [(_, first, _)] = [m for m in customs(w, "window") if PRICE_BY_SYMBOL in str(m[1])]
    assert first["splits"][PRICE_BY_SYMBOL]["others"] == 2  # 10 symbols, 8 shown
    sent = points_of([*customs(w, "window"), *customs(w, "update")], PRICE_BY_SYMBOL)
    splits = [m["splits"][PRICE_BY_SYMBOL] for _, m, _ in customs(w, "update") if "splits" in m]
    shown = (splits[-1] if splits else first["splits"][PRICE_BY_SYMBOL])["keys"]
    assert len(shown) == Limit.SPLIT_KEYS and set(sent) >= set(shown)
    df = w.to_dataframe("markets", "market_update")
    for symbol in shown:
        _, y = sent[symbol]
        expected = df.loc[df["data.symbol"] == symbol, "data.price"].to_numpy(dtype=float)
        # Every price of that symbol, in order, none of another symbol's.
        np.testing.assert_array_equal(y[~np.isnan(y)], expected[-len(y[~np.isnan(y)]) :])
        assert len(y) >= len(expected) - 5
    # A view opened now gets the same keys, every series of every shown key.
    from_browser(w, kind="hello", view="late")
    _, late, _ = customs(w, "window")[-1]
    told = late["splits"][PRICE_BY_SYMBOL]["keys"]
    assert set(told) == set(shown)
    assert [e["key"] for e in late["series"] if e["id"] == PRICE_BY_SYMBOL] == told


async def test_a_chart_split_by_aircraft_draws_eight_and_counts_the_others(recorded, sim):
    w = make(recorded, sim, chart=[("aircraft", "position_update", "altitude", "icaoHex")])
    assert w.charts[0]["id"] == ALTITUDE_BY_AIRCRAFT
    # 24 aircraft report in turn, one a tick of the aircraft stream.
    await eventually(
        lambda: (
            sum(1 for m in customs(w, "update") for _ in m[1].get("splits", ())) > 0
            and len(w.to_dataframe("aircraft", "position_update")) > 60
        ),
        timeout=15,
        what="positions of every aircraft",
    )
    await asyncio.sleep(0.3)
    told = [m["splits"][ALTITUDE_BY_AIRCRAFT] for _, m, _ in customs(w, "update") if "splits" in m]
    assert told[-1]["others"] == 16 and len(told[-1]["keys"]) == 8
    # Only shown keys get points; each key's points are that aircraft's altitudes.
    updates = customs(w, "update")
    keys_sent = {e["key"] for _, m, _ in updates for e in m["series"]}
    assert len(keys_sent) <= 8 + 2, keys_sent  # the first shown set may still change once
    df = w.to_dataframe("aircraft", "position_update")
    for key, (_, y) in points_of(updates, ALTITUDE_BY_AIRCRAFT).items():
        theirs = set(df.loc[df["data.icaoHex"] == key, "data.altitude"].astype(float))
        assert set(y[~np.isnan(y)]) <= theirs


async def test_a_pause_breaks_every_line_in_updates_and_windows(recorded, sim):
    w = make(recorded, sim, chart=[("markets", "market_update", "price")])
    w.chart("price", stream="markets", type="market_update", by="symbol")
    await w.wait_async(events=200, timeout=seconds(10))
    w.pause()
    paused_at = pd.Timestamp.now(tz="UTC").value / 1e6
    await asyncio.sleep(0.6)
    w.resume()
    await w.wait_async(events=200, timeout=seconds(10))
    await asyncio.sleep(0.2)
    plain = "markets|market_update|data.price"
    for series_id in (plain, PRICE_BY_SYMBOL):
        sent = points_of(customs(w, "update"), series_id)
        for key, (x, y) in sent.items():
            gaps = np.flatnonzero(np.isnan(y))
            assert len(gaps) == 1, (series_id, key)
            # The break is at the pause, between a point before it and one after.
            assert 0 < gaps[0] < len(y) - 1
            assert abs(x[gaps[0]] - paused_at) < 1000
            assert x[gaps[0] - 1] <= x[gaps[0]] <= x[gaps[0] + 1]
    # A reloaded page shows the same break.
    from_browser(w, kind="hello", view="reloaded")
    window = customs(w, "window")[-1:]
    for key, (_, y) in points_of(window, PRICE_BY_SYMBOL).items():
        assert np.isnan(y).sum() == 1, key
    _, y = points_of(window, plain)[None]
    assert np.isnan(y).sum() == 1


async def test_a_server_disconnect_breaks_the_lines(recorded):
    async with HydraSimulator(rate=200, seed=8) as sim:
        w = make(recorded, sim, streams=["markets"], chart=[("markets", "market_update", "price")])
        await w.wait_async(events=100, timeout=seconds(10))
        sim.drop_after(5)
        await eventually(lambda: w.stats["reconnects"] >= 1, timeout=15, what="a reconnect")
        await w.wait_async(events=100, timeout=seconds(10))
        await asyncio.sleep(0.2)
        markers = w.buffer.markers
        lost = markers.loc[markers["kind"] == "disconnected", "time"].iloc[0].value / 1e6
        x, y = points_of(customs(w, "update"), "markets|market_update|data.price")[None]
        gaps = np.flatnonzero(np.isnan(y))
        assert len(gaps) == 1 and 0 < gaps[0] < len(y) - 1
        assert x[gaps[0] - 1] <= x[gaps[0]] <= lost + 1
        from_browser(w, kind="hello", view="reloaded")
        _, y = points_of(customs(w, "window")[-1:], "markets|market_update|data.price")[None]
        assert np.isnan(y).sum() == 1


async def test_the_demo_picker_offers_measurements_and_split_keys(recorded):
    w = StreamWidget.demo(rate=300)
    recorded.append(w)
    await w.wait_async(events=900, timeout=seconds(15))
    w._learn_fields_now(force=True)
    groups = {(g["stream"], g["type"]): g for g in w.fields}
    markets = groups[("markets", "market_update")]
    assert markets["fields"][0] == "data.price" and "data.changePct" in markets["fields"]
    assert {"data.seq", "data.timestamp"} <= set(markets["other"])
    assert not {"data.seq", "data.timestamp", "data.id"} & set(markets["fields"])
    assert markets["keys"] == ["data.symbol"]
    aircraft = groups[("aircraft", "position_update")]
    assert aircraft["keys"][0] == "data.icaoHex" and "data.altitude" in aircraft["fields"]
    signals = groups[("signals", "signal_new")]
    assert "data.createdAt" in signals["other"] and "data.createdAt" not in signals["fields"]


def _fill(buffer: EventBuffer, n: int, start_ns: int) -> np.ndarray:
    rng = np.random.default_rng(9)
    y = np.cumsum(rng.normal(0, 1, n))
    y[n // 3], y[2 * n // 3] = y.max() + 500, y.min() - 500
    for i in range(n):
        buffer.append(
            Event("markets", "tick", {"v": float(y[i])}, received_ns=start_ns + i * 10**6)
        )
    return y


async def test_a_window_of_200k_points_is_decimated_over_the_whole_span(recorded, sim):
    w = make(recorded, sim, streams=["signals"], max_rows=300_000, max_points=1000)
    w.pause()  # the buffer holds only what is put here
    start = 1_760_000_000 * 10**9
    y = _fill(w.buffer, 200_000, start)
    await asyncio.sleep(0.3)  # an update goes past them: a window holds what was sent
    w.chart("v", stream="markets", type="tick")
    [(_, window, buffers)] = customs(w, "window")
    x, sent = points_of([(0, window, buffers)], "markets|tick|data.v")[None]
    assert 100 < len(sent) <= 1000
    assert sent.max() == y.max() and sent.min() == y.min()
    assert x[0] == start / 1e6 and x[-1] == start / 1e6 + 199_999
    # Zoom into the middle fifth: at most max_points, from that span (one point beyond).
    x0, x1 = start / 1e6 + 80_000, start / 1e6 + 120_000
    from_browser(w, kind="zoom", view="v1", x0=x0, x1=x1)
    _, zoomed, buffers = customs(w, "window")[-1]
    assert zoomed["view"] == "v1" and zoomed["range"] == [x0, x1]
    assert "stats" not in zoomed and zoomed["splits"] == {}
    zx, zy = points_of([(0, zoomed, buffers)], "markets|tick|data.v")[None]
    assert 100 < len(zx) <= 1000
    assert zx[0] == x0 - 1 and zx[-1] == x1 + 1
    assert zy.max() == y[80_000:120_001].max()
    # null/null: the whole span again.
    from_browser(w, kind="zoom", view="v1", x0=None, x1=None)
    _, whole, buffers = customs(w, "window")[-1]
    wx, _ = points_of([(0, whole, buffers)], "markets|tick|data.v")[None]
    assert whole["range"] == [None, None] and wx[0] == x[0] and wx[-1] == x[-1]


async def test_absurd_zooms_say_why_and_send_nothing(recorded, sim):
    w = make(recorded, sim, chart=[("markets", "market_update", "price")])
    await w.wait_async(events=50, timeout=seconds(10))
    before = len(customs(w, "window"))
    for x0, x1, words in [
        ("yesterday", None, "zoom: x0 must be epoch milliseconds"),
        (None, float("inf"), "zoom: x1 must be a finite time"),
        (2e12, 1e12, "zoom: x0 .* is after x1"),
        (1e30, None, "zoom: x0 must be a finite time"),
    ]:
        from_browser(w, kind="zoom", view="v", x0=x0, x1=x1)
        assert re.search(words, w.error), w.error
    assert len(customs(w, "window")) == before
    assert w.state == "connected"
    from_browser(w, kind="zoom", view="v", x0=None, x1=None)
    assert len(customs(w, "window")) == before + 1


def test_an_update_breaks_a_series_at_a_pause_marker_and_sends_splits_once():
    buf = EventBuffer()
    builder = UpdateBuilder(buf, max_points=100)
    builder.chart(SeriesKey("m", "t", "data.v", by="data.k"))
    for i in range(4):
        buf.append(Event("m", "t", {"v": i, "k": "AB"[i % 2]}, received_ns=(i + 1) * 10**9))
    first, _ = builder.update({})
    assert first["splits"] == {"m|t|data.v|data.k": {"keys": ["B", "A"], "others": 0}}
    buf.mark("paused", at_ns=5 * 10**9)
    builder.note_live(False)
    buf.mark("gap", "paused by the user", at_ns=5 * 10**9, until_ns=9 * 10**9)
    builder.note_live(True)
    buf.append(Event("m", "t", {"v": 9, "k": "A"}, received_ns=10 * 10**9))
    message, buffers = builder.update({})
    assert "splits" not in message  # the same keys: not said again
    assert message["series"] == [{"id": "m|t|data.v|data.k", "key": "A", "n": 2}]
    x, y = np.frombuffer(buffers[0], "<f8"), np.frombuffer(buffers[1], "<f8")
    assert x.tolist() == [5000.0, 10_000.0] and np.isnan(y[0]) and y[1] == 9


def test_late_events_go_out_in_time_order_in_updates_and_windows():
    """A feed's times need not come in order: what a chart is sent is sorted by time (ties
    in arrival order), so its line runs forward and its hover and decimation hold."""
    buf = EventBuffer()
    builder = UpdateBuilder(buf, max_points=100)
    builder.chart(SeriesKey("m", "t", "data.v"))
    ms = 10**6
    for v, at in ((1, 100), (2, 300), (3, 200), (4, 300), (5, 50)):
        buf.append(Event("m", "t", {"v": v}, received_ns=10**12, event_ns=(10**6 + at) * ms))
    message, buffers = builder.update({})
    x, y = np.frombuffer(buffers[0], "<f8"), np.frombuffer(buffers[1], "<f8")
    assert (x - 10**6).tolist() == [50, 100, 200, 300, 300] and y.tolist() == [5, 1, 3, 2, 4]
    window, buffers = builder.window({}, None)
    assert np.frombuffer(buffers[1], "<f8").tolist() == [5, 1, 3, 2, 4], window


async def test_history_then_live_is_broken_between_them(recorded, tmp_path):
    from streamwidgets import feeds
    from streamwidgets.recording.history import HistoryWriter

    start = 1_764_374_400 * 10**9
    writer = HistoryWriter(tmp_path, roll_every="1h")
    for i in range(50):
        data = {"symbol": "BTC-USD", "price": 1000.0 + i}
        writer.add(Event("markets", "market_update", data, received_ns=start + i * 10**9))
    writer.close()
    async with HydraSimulator(rate=100, seed=2) as sim:
        w = StreamWidget(
            feeds.hydra(sim.url, token=sim.issue_token()),
            streams=["markets"],
            history=tmp_path,
            chart=[("markets", "market_update", "price")],
        )
        recorded.append(w)
        await w.wait_async(events=100, timeout=seconds(10))
        await asyncio.sleep(0.2)
        from_browser(w, kind="hello", view="v")
        x, y = points_of(customs(w, "window")[-1:], "markets|market_update|data.price")[None]
    gap = np.flatnonzero(np.isnan(y))
    assert len(gap) == 1, "one break, between the history and the live prices"
    assert y[gap[0] - 1] == 1049.0 and gap[0] < len(y) - 1
    assert x[gap[0]] == (start + 49 * 10**9) / 1e6  # the history's end: the gap's start


def _feed_recent(builder, buf, rate: float, seconds: float, hz: float = 20.0) -> list[int]:
    """Events at `rate` per second, an update every 1/hz s; the seqs of recent items sent."""
    sent, t, seq = [], 1000.0, 0
    for _ in range(int(seconds * hz)):
        for _ in range(int(rate / hz)):
            seq += 1
            event = Event("m", "t", {"v": seq}, received_ns=int(t * 1e9))
            buf.append(event)
            builder.note_event(event)
        t += 1 / hz
        out = builder.update({"events": seq}, now=t)
        sent += [item["seq"] for item in (out[0] if out else {}).get("recent", [])]
    return sent


def test_recent_events_are_all_sent_up_to_the_budget_and_sampled_above():
    # 200 events/s: every one reaches the table, in order.
    buf = EventBuffer()
    builder = UpdateBuilder(buf, recent_limit=500)
    sent = _feed_recent(builder, buf, rate=200, seconds=3)
    assert sent == list(range(1, 601))
    # The same with an update every 0.5 s (a busy kernel loop): 100 events an update, all.
    buf = EventBuffer()
    builder = UpdateBuilder(buf, recent_limit=500)
    assert _feed_recent(builder, buf, rate=200, seconds=3, hz=2) == list(range(1, 601))
    # A burst as long as the table: all of it.
    buf = EventBuffer()
    builder = UpdateBuilder(buf, recent_limit=500)
    assert _feed_recent(builder, buf, rate=1000, seconds=0.5) == list(range(1, 501))
    # 1,000 events/s for 4 s: the burst, then 250 a second (the newest of each update).
    buf = EventBuffer()
    builder = UpdateBuilder(buf, recent_limit=100, recent_per_second=250)
    sent = _feed_recent(builder, buf, rate=1000, seconds=4)
    assert 350 + 250 * 4 - 15 <= len(sent) <= 350 + 250 * 4 + 1, len(sent)
    assert sent == sorted(sent) and sent[-1] == 4000
    with pytest.raises(ValueError, match="recent_per_second"):
        UpdateBuilder(EventBuffer(), recent_per_second=0)
