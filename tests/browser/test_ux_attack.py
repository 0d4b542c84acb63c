"""The widget's promised behaviour in the page, held to the README and the Hydra document
from outside: through the page and the public API only.

Each case feeds the widget from ``tests/support/ux_attack_server.py`` (a strict Hydra JWT
server written from the seed document) or runs the demo where the demo is the claim, and
asserts what the page shows. A failing case is a finding: it stays as it is.
"""

# ruff: noqa: E501  (page scripts are kept whole, one line each, as written)

from __future__ import annotations

import asyncio
import json
import random
import re
import time
from datetime import UTC

import pytest
import pytest_asyncio

from tests.support.ux_attack_server import HydraAttackServer
from tests.support.waiting import seconds

from .jupyter import open_notebook, run_cell, save_screenshot, wait_for_selector_in_output
from .table_rows import walk_table
from .voila import guard_offline, open_in_voila, start_voila_server, write_notebook

TOKEN = "eyJhbGciOiJIUzI1NiJ9.UXATTACKSECRET123.c2lnbmF0dXJlX3V4"
SECRET_PIECE = "UXATTACKSECRET123"

ELEVEN = ["s01", "s02", "s03", "s04", "s05", "s06", "s07", "s08", "s09", "s10", "s11"]


@pytest_asyncio.fixture(loop_scope="session")
async def hydra():
    async with HydraAttackServer(token=TOKEN, heartbeat_interval=1.0) as server:
        yield server


@pytest_asyncio.fixture(loop_scope="session")
async def hydra11():
    async with HydraAttackServer(token=TOKEN, heartbeat_interval=1.0, streams=ELEVEN) as server:
        yield server


@pytest_asyncio.fixture(loop_scope="session")
async def refusing():
    async with HydraAttackServer(token=TOKEN, refuse_all=True) as server:
        yield server


# ----------------------------------------------------------------------------- helpers


def connect_cell(url: str, streams: list[str], extra: str = "") -> str:
    return (
        "from streamwidgets import StreamWidget, feeds\n"
        f"w = StreamWidget(feeds.hydra({url!r}, token={TOKEN!r}), streams={streams!r}{extra})\n"
        "w"
    )


async def start(page, jupyter_server, name: str, cells: list[str], ui: str = "lab"):
    write_notebook(jupyter_server.root_dir / name, cells)
    await open_notebook(page, jupyter_server, name, ui)
    await run_cell(page, 0)
    await wait_for_selector_in_output(page, ".sw-root .sw-state")


async def badge(page) -> dict:
    return await page.evaluate(
        """() => { const s = document.querySelector('.sw-root .sw-state');
        const st = document.querySelector('.sw-root .sw-status');
        return s ? {text: s.textContent.trim(), state: s.dataset.state, badge: s.dataset.badge,
                    status: st ? st.innerText.trim() : ''} : null; }"""
    )


async def stat(page, name: str) -> str:
    return await page.evaluate(
        '(n) => { const e = document.querySelector(`.sw-root [data-stat="${n}"]`);'
        " return e ? e.textContent.trim() : null; }",
        name,
    )


async def wait_badge(page, pattern: str, timeout: float) -> tuple[float, dict]:
    t0 = time.monotonic()
    last = None
    while time.monotonic() - t0 < seconds(timeout):
        last = await badge(page)
        if last and re.search(pattern, last["text"] + " " + last["status"]):
            return time.monotonic() - t0, last
        await asyncio.sleep(0.1)
    raise AssertionError(f"badge never matched {pattern!r} within {timeout} s; last: {last}")


# The lines drawn over a plot: the canvas laid over its plot area keeps what it drew.
PLOT_JS = """(sel) => {
  const gd = document.querySelector(sel);
  const canvas = gd && gd.parentElement.querySelector('canvas.sw-traces');
  if (!canvas || !canvas.swTraces) return null;
  const fix = v => (v === null || v === undefined || (typeof v === 'number' && !isFinite(v))) ? null : v;
  return canvas.swTraces.map((t, i) => ({
    name: t.name === undefined ? null : String(t.name),
    x: Array.from(t.x || [], v => v === null || v === undefined ? null : String(v)),
    y: Array.from(t.y || [], fix),
    rawNaN: Array.from(t.y || []).some(v => typeof v === 'number' && isNaN(v)),
    pieces: t.pieces,
    visible: t.visible === undefined ? true : t.visible,
    color: t.color,
  }));
}"""

FIELD = ".sw-root .sw-field-chart .js-plotly-plot"
RATE = ".sw-root .sw-rate-chart .js-plotly-plot"


async def plot(page, sel: str = FIELD):
    return await page.evaluate(PLOT_JS, sel)


def has_break(trace: dict) -> bool:
    """A line break in a drawn trace: a null/NaN y (or x), drawn as a new piece of line."""
    hole = any(v is None for v in trace["y"]) or any(v is None for v in trace["x"])
    return hole and trace["pieces"] >= 2


def market(symbol, price, **more):
    return {"symbol": symbol, "price": price, **more}


async def feed_symbols(server, symbols, n_each=4, delay=0.01, base=None):
    """Send n_each noisy prices per symbol; returns {symbol: [prices sent]}."""
    sent: dict = {s: [] for s in symbols}
    rnd = random.Random(7)
    for _ in range(n_each):
        for i, s in enumerate(symbols):
            price = round((base or 100.0) * (1 + i) + rnd.uniform(-3, 3), 4)
            sent[s].append(price)
            await server.push(
                "markets", "market_update", market(s, price, changePct=rnd.uniform(-1, 1))
            )
            await asyncio.sleep(delay)
    return sent


# ----------------------------------------------------------------------------- §1 split charts


async def test_split_three_symbols_values_equal_sent(jupyter_server, page, hydra, ui):
    """§1: by="symbol" draws one trace per symbol; the y drawn are the prices the server sent;
    the y axis carries the field name (Lab and Notebook 7)."""
    await start(page, jupyter_server, f"split3-{ui}.ipynb", [
        connect_cell(hydra.url, ["markets"]),
        "w.chart('price', stream='markets', by='symbol')",
    ], ui)  # fmt: skip
    await hydra.wait_subscribed("markets")
    syms = ["EURUSD", "BTC", "ETH"]
    sent = await feed_symbols(hydra, syms, n_each=3)
    await asyncio.sleep(1)
    await run_cell(page, 1)
    more = await feed_symbols(hydra, syms, n_each=5)
    for s in syms:
        sent[s] += more[s]
    await asyncio.sleep(2)
    traces = [t for t in await plot(page) if t["name"] in syms]
    await save_screenshot(page, f"uxa-split3-{ui}")
    ytitle = await page.evaluate(f"() => document.querySelector('{FIELD} .g-ytitle').textContent")
    assert "price" in ytitle, ytitle
    assert sorted(t["name"] for t in traces) == sorted(syms), await plot(page)
    for t in traces:
        ys = [v for v in t["y"] if v is not None]
        assert ys, t
        assert set(ys) <= set(sent[t["name"]]), (t["name"], ys, sent[t["name"]])
        assert ys[-1] == sent[t["name"]][-1], (t["name"], ys[-1], sent[t["name"]][-1])


@pytest.mark.parametrize("count", [8, 50])
async def test_split_newest_eight_drawn_rest_counted(jupyter_server, page, hydra, count):
    """README: a split chart draws the 8 most recently seen values and counts the others."""
    syms = [f"SYM{i:02d}" for i in range(count)]
    await start(page, jupyter_server, f"split{count}.ipynb", [
        connect_cell(hydra.url, ["markets"]),
        "w.chart('price', stream='markets', by='symbol')",
    ])  # fmt: skip
    await hydra.wait_subscribed("markets")
    await feed_symbols(hydra, syms, n_each=1, delay=0.005)
    await asyncio.sleep(1)
    await run_cell(page, 1)
    await feed_symbols(hydra, syms, n_each=2, delay=0.01)
    await asyncio.sleep(2.5)
    drawn = sorted(
        {t["name"] for t in await plot(page) if t["name"] in syms and t["visible"] is True}
    )
    text = await page.evaluate("() => document.querySelector('.sw-root .sw-charts').textContent")
    chips = await page.evaluate("() => document.querySelector('.sw-root .sw-fields').textContent")
    await save_screenshot(page, f"uxa-split{count}")
    if count == 8:
        assert drawn == syms, drawn
    else:
        assert len(drawn) == 8, drawn
        assert drawn == syms[-8:], f"not the 8 most recently seen: {drawn}"
        others = count - 8
        assert re.search(rf"\b{others}\b", text + " " + chips), (
            f"the {others} other symbols are not counted on the page; charts text: {text[-400:]!r}"
        )


async def test_split_keys_markup_missing_numeric_shown_literally(jupyter_server, page, hydra):
    """§1: split keys are shown as sent: markup literal, a missing key as "(none)", "007" not 7."""
    keys = ["<b>x</b>", "&amp;", "007", "1.50"]
    await start(page, jupyter_server, "splitodd.ipynb", [
        connect_cell(hydra.url, ["markets"]),
        "w.chart('price', stream='markets', by='symbol')",
    ])  # fmt: skip
    await hydra.wait_subscribed("markets")
    for i in range(3):
        for j, k in enumerate(keys):
            await hydra.push("markets", "market_update", market(k, 10.0 * (j + 1) + i))
        await hydra.push("markets", "market_update", {"price": 99.0 + i})  # no symbol
        await asyncio.sleep(0.05)
    await asyncio.sleep(1)
    await run_cell(page, 1)
    for i in range(3):
        for j, k in enumerate(keys):
            await hydra.push("markets", "market_update", market(k, 10.0 * (j + 1) + i))
        await hydra.push("markets", "market_update", {"price": 99.0 + i})
        await asyncio.sleep(0.05)
    await asyncio.sleep(2)
    legend = await page.evaluate(
        """() => { const gd = document.querySelector('.sw-root .sw-field-chart .js-plotly-plot');
        const texts = [...gd.querySelectorAll('.legendtext, .g-gtitle, .annotation-text')]
          .map(e => e.textContent);
        return {text: texts.join(' | '),
                bold: gd.querySelectorAll('svg b, tspan[style*="bold"]').length}; }"""
    )
    await save_screenshot(page, "uxa-split-odd")
    for k in keys:
        assert k in legend["text"], (
            f"the chart should show {k!r} literally; it shows {legend['text']!r}"
        )
    assert "(none)" in legend["text"], legend
    assert legend["bold"] == 0, legend
    cells = await page.evaluate(
        "() => [...document.querySelectorAll('.sw-root .sw-table tbody td')].map(td => td.textContent)"
    )
    assert "<b>x</b>" in cells and "&amp;" in cells and "007" in cells, cells[:40]


async def test_picker_measurements_first_and_searchable(jupyter_server, page, hydra):
    """§1: the picker lists measurements before ids, sequence numbers and epoch times; searchable."""
    await start(page, jupyter_server, "picker.ipynb", [connect_cell(hydra.url, ["markets"])])
    await hydra.wait_subscribed("markets")
    rnd = random.Random(3)
    t0 = int(time.time() * 1000)
    for i in range(60):
        await hydra.push("markets", "market_update", {
            "id": 1000 + i, "seq": i, "timestamp": t0 + 50 * i, "createdAt": t0 + 50 * i - 7,
            "symbol": ["EURUSD", "BTC"][i % 2], "price": round(rnd.uniform(1, 2) if i % 2 == 0 else rnd.uniform(60000, 66000), 3),
            "volume": round(rnd.uniform(0, 500), 2),
        })  # fmt: skip
        await asyncio.sleep(0.02)
    await asyncio.sleep(1.5)
    options = await page.evaluate(
        """() => [...document.querySelectorAll('.sw-root .sw-field-picker option')]
             .filter(o => o.value).map(o => ({text: o.textContent, group: o.dataset.group,
               label: o.parentElement.tagName === 'OPTGROUP' ? o.parentElement.label : ''}))"""
    )
    by_field = {o["text"].rsplit("/", 1)[-1].strip(): o for o in options}
    measures = ["data.price", "data.volume"]
    others = ["data.id", "data.seq", "data.timestamp", "data.createdAt"]
    order = [o["text"].rsplit("/", 1)[-1].strip() for o in options]
    for m in measures:
        assert by_field.get(m, {}).get("group") == "measure", (m, options)
    for o in others:
        assert o in by_field and by_field[o]["group"] != "measure", (o, options)
    assert max(order.index(m) for m in measures) < min(order.index(o) for o in others), order
    # Searchable: typing narrows the list to the matches.
    await page.locator(".sw-root .sw-field-search").fill("vol")
    await asyncio.sleep(0.5)
    shown = await page.evaluate(
        """() => [...document.querySelectorAll('.sw-root .sw-field-picker option')]
             .filter(o => o.value && !o.hidden && o.style.display !== 'none' && !o.disabled)
             .map(o => o.textContent)"""
    )
    assert shown and all("volume" in s for s in shown), shown
    # Split-by offers the low-cardinality text column.
    await page.locator(".sw-root .sw-field-search").fill("")
    price_value = await page.evaluate(
        """() => [...document.querySelectorAll('.sw-root .sw-field-picker option')]
             .find(o => o.textContent.endsWith('data.price')).value"""
    )
    await page.locator(".sw-root .sw-field-picker").select_option(price_value)
    await asyncio.sleep(0.5)
    split = await page.evaluate(
        "() => [...document.querySelectorAll('.sw-root .sw-split-by option')].map(o => o.textContent)"
    )
    assert any("symbol" in s for s in split), split


# ----------------------------------------------------------------------------- §1 gaps, colours, axes


async def charted_btc_feed(page, server, hydra, name: str, seed: int) -> asyncio.Task:
    """A notebook charting markets' price, a 20 events/s BTC feed, 5 s of it drawn; the feed's
    task (cancel it when done)."""
    await start(page, server, name, [
        connect_cell(hydra.url, ["markets"]),
        "w.chart('price', stream='markets', type='market_update')",
    ])  # fmt: skip
    await hydra.wait_subscribed("markets")
    rnd = random.Random(seed)
    task = hydra.feed(
        "markets", "market_update", lambda i: market("BTC", round(rnd.uniform(10, 20), 3)), rate=20
    )
    await asyncio.sleep(2)
    await run_cell(page, 1)
    await asyncio.sleep(3)
    return task


async def assert_both_charts_break(page, what: str) -> None:
    """The field chart and the events/s chart's markets line each have a break."""
    field = await plot(page, FIELD)
    rate = await plot(page, RATE)
    await save_screenshot(page, f"uxa-gap-{what}")
    assert any(has_break(t) for t in field if t["y"]), f"field chart bridges the {what}: {field}"
    stream_traces = [t for t in rate if t["name"] == "markets"]
    assert stream_traces and has_break(stream_traces[0]), f"rate chart bridges the {what}: {rate}"


async def test_pause_resume_breaks_every_chart(jupyter_server, page, hydra):
    """§1: a pause breaks the lines in every chart (field chart and events/s chart)."""
    task = await charted_btc_feed(page, jupyter_server, hydra, "gap-pause.ipynb", seed=1)
    await page.locator(".sw-root .sw-pause").click()
    await asyncio.sleep(4)
    await page.locator(".sw-root .sw-pause").click()
    await asyncio.sleep(4)
    task.cancel()
    await assert_both_charts_break(page, "pause")


async def test_outage_breaks_lines_and_badge_reconnecting_then_live(jupyter_server, page, hydra):
    """§1 + §3: a 10 s drop shows "reconnecting", then "live"; both charts break there."""
    task = await charted_btc_feed(page, jupyter_server, hydra, "gap-outage.ipynb", seed=2)
    await wait_badge(page, r"^live", 5)
    hydra.drop(down_for=10)
    _took, _shown = await wait_badge(page, r"reconnecting", 5)
    await save_screenshot(page, "uxa-badge-reconnecting")
    _took2, _shown2 = await wait_badge(page, r"^live", 90)
    await asyncio.sleep(4)
    task.cancel()
    assert int((await stat(page, "reconnects")).replace(",", "")) >= 1
    await assert_both_charts_break(page, "outage")


async def test_eleven_streams_distinct_colours_stable_after_reload(jupyter_server, page, hydra11):
    """§1: the events/s chart with 11 streams: no two share a colour, same after a reload; a total."""
    name = "eleven.ipynb"
    await start(page, jupyter_server, name, [connect_cell(hydra11.url, ELEVEN)])
    for s in ELEVEN:
        await hydra11.wait_subscribed(s)
    tasks = [hydra11.feed(s, "tick", lambda i: {"v": i % 7}, rate=3) for s in ELEVEN]
    await asyncio.sleep(5)

    async def colours():
        data = await plot(page, RATE)
        return {t["name"]: t["color"] for t in data if t["name"] in ELEVEN}, [
            t["name"] for t in data
        ]

    first, names = await colours()
    await save_screenshot(page, "uxa-eleven")
    assert sorted(first) == ELEVEN, first
    assert len(set(first.values())) == 11, f"colours shared: {first}"
    assert any(n and "total" in n.lower() for n in names), names
    await page.evaluate(
        "async () => { await window.jupyterapp.commands.execute('docmanager:save'); }"
    )
    await asyncio.sleep(1)
    await page.reload()
    await open_notebook(page, jupyter_server, name, "lab")
    await wait_for_selector_in_output(page, ".sw-root .sw-rate-chart .js-plotly-plot")
    await asyncio.sleep(4)
    second, _ = await colours()
    for t in tasks:
        t.cancel()
    assert second == first, f"colours changed after reload: {first} -> {second}"


async def test_empty_chart_waiting_no_year_2000_axis(jupyter_server, page, hydra):
    """§1: an empty chart says "waiting for data" and shows no Jan-Oct 2000 axis."""
    await start(page, jupyter_server, "empty.ipynb", [connect_cell(hydra.url, ["markets"])])
    await hydra.wait_subscribed("markets")
    await asyncio.sleep(2)
    charts = await page.evaluate("() => document.querySelector('.sw-root .sw-charts').innerText")
    ticks = await page.evaluate(
        "() => [...document.querySelectorAll('.sw-root .sw-charts .xtick text')].map(e => e.textContent)"
    )
    await save_screenshot(page, "uxa-empty")
    assert re.search(r"waiting for data", charts, re.I), charts
    assert not any("2000" in t for t in ticks), ticks


async def test_time_axis_says_utc_once(jupyter_server, page, hydra):
    """§1: charts show UTC like w.df: each time axis says UTC, once; tick labels carry no zone."""
    await start(page, jupyter_server, "utc.ipynb", [
        connect_cell(hydra.url, ["markets"]),
        "w.chart('price', stream='markets', type='market_update')",
    ])  # fmt: skip
    await hydra.wait_subscribed("markets")
    await feed_symbols(hydra, ["BTC"], n_each=20, delay=0.05)
    await run_cell(page, 1)
    await feed_symbols(hydra, ["BTC"], n_each=20, delay=0.05)
    await asyncio.sleep(1.5)
    info = await page.evaluate(
        """() => [...document.querySelectorAll('.sw-root .js-plotly-plot')].map(gd => ({
            xtitle: (gd.querySelector('.g-xtitle') || {}).textContent || '',
            utc: (gd.textContent.match(/UTC/g) || []).length,
            ticks: [...gd.querySelectorAll('.xtick text')].map(e => e.textContent)}))"""
    )
    # Times in the table: UTC, and equal to the chart's x (both UTC): compare the last row.
    assert len(info) >= 2, info
    for chart in info:
        assert "UTC" in chart["xtitle"], info
        assert chart["utc"] == 1, info
    head = await page.evaluate("() => document.querySelector('.sw-root .sw-col-time').textContent")
    assert "UTC" in head
    last_x = next(t for t in await plot(page, FIELD) if t["x"])["x"][-1]
    last_row = await page.evaluate(
        "() => document.querySelector('.sw-root .sw-event[data-stream=markets] .sw-cell-time').title"
    )
    from datetime import datetime

    # The chart's x is a float of ms (the ns time divided): it may sit a hair under the
    # ms the table shows (truncated, as w.df), so the two agree to the millisecond.
    shown = datetime.strptime(last_row[:23] + "+0000", "%Y-%m-%d %H:%M:%S.%f%z")
    assert abs(shown.timestamp() * 1000 - float(last_x)) < 1.0, (last_x, last_row)


# ----------------------------------------------------------------------------- §2 table


BIG = 2**53 + 1  # 9007199254740993: not a double


async def test_table_shows_values_as_sent(jupyter_server, page, hydra):
    """§2: columns show the values sent: ints > 2^53, markup as text, unicode, nested objects."""
    await start(page, jupyter_server, "table-values.ipynb", [connect_cell(hydra.url, ["signals"])])
    await hydra.wait_subscribed("signals")
    raw = (
        (
            '{"stream": "signals", "type": "signal_new", "ts": {ts}, "data": {"id": {big}, '
            '"title": "<img src=x onerror=window.__pwned=1><b>bold</b>", "place": "Zürich 東京 🚀", '
            '"geo": {"lat": 47.5, "inner": {"deep": "z"}}}}'
        )
        .replace("{ts}", str(int(time.time() * 1000)))
        .replace("{big}", str(BIG))
    )
    assert await hydra.push_raw("signals", raw) == 1
    await asyncio.sleep(2)
    table = await page.evaluate(
        """() => { const t = document.querySelector('.sw-root .sw-table');
        const heads = [...t.querySelectorAll('thead th')].map(h => h.title || h.textContent);
        const row = t.querySelector('tbody tr.sw-event');
        return {heads, cells: [...row.querySelectorAll('td')].map(td => td.textContent),
                imgs: t.querySelectorAll('img').length, bolds: t.querySelectorAll('tbody b').length,
                pwned: !!window.__pwned}; }"""
    )
    await save_screenshot(page, "uxa-table-values")
    row = dict(zip(table["heads"], table["cells"], strict=False))
    assert row.get("data.id") == str(BIG), row
    assert row.get("data.title") == "<img src=x onerror=window.__pwned=1><b>bold</b>", row
    assert row.get("data.place") == "Zürich 東京 🚀", row
    assert row.get("data.geo.lat") == "47.5", row
    assert row.get("data.geo.inner.deep") == "z", row
    assert table["imgs"] == 0 and table["bolds"] == 0 and not table["pwned"], table


async def test_table_filter_freeze_inspector(jupyter_server, page, hydra):
    """§2: filter by stream and type; Freeze holds the view while events arrive; unfreeze shows
    the newest; the inspector stays open on the exact event after its row has left."""
    await start(
        page, jupyter_server, "table-live.ipynb", [connect_cell(hydra.url, ["markets", "signals"])]
    )
    await hydra.wait_subscribed("signals")
    t1 = hydra.feed("markets", "market_update", lambda i: market("BTC", 100 + i % 9, n=i), rate=25)
    t2 = hydra.feed(
        "signals", "signal_new", lambda i: {"title": f"sig-{i}", "severity": 1 + i % 5}, rate=10
    )
    t3 = hydra.feed("markets", "price_spike", lambda i: {"symbol": "ETH", "jump": i}, rate=5)
    await asyncio.sleep(3)
    # Filter by stream.
    await page.locator(".sw-root .sw-filter-stream").select_option("signals")
    await asyncio.sleep(1)
    streams = await page.evaluate(
        "() => [...document.querySelectorAll('.sw-root .sw-event')].map(r => r.dataset.stream)"
    )
    assert streams and set(streams) == {"signals"}, streams
    await page.locator(".sw-root .sw-filter-stream").select_option("markets")
    await page.locator(".sw-root .sw-filter-type").select_option("price_spike")
    await asyncio.sleep(1)
    types = await page.evaluate(
        "() => [...document.querySelectorAll('.sw-root .sw-event')].map(r => r.dataset.stream + '/' + r.dataset.type)"
    )
    assert types and set(types) == {"markets/price_spike"}, types
    await page.locator(".sw-root .sw-filter-stream").select_option("")
    await page.locator(".sw-root .sw-filter-type").select_option("")
    await asyncio.sleep(1)
    # Freeze.
    top = "() => document.querySelector('.sw-root .sw-event').dataset.seq"
    await page.locator(".sw-root .sw-freeze").click()
    frozen = await page.evaluate(top)
    await asyncio.sleep(3)
    still = await page.evaluate(top)
    note = await page.evaluate("() => document.querySelector('.sw-root .sw-freeze-note').innerText")
    await save_screenshot(page, "uxa-table-frozen")
    assert still == frozen, (frozen, still)
    m = re.search(r"frozen,\s*([\d,]+)\s*new", note)
    assert m and int(m.group(1).replace(",", "")) > 50, note
    await page.locator(".sw-root .sw-freeze").click()
    await asyncio.sleep(1)
    newest = int(await page.evaluate(top))
    events = int((await stat(page, "events")).replace(",", ""))
    assert newest > int(frozen) + 50 and newest >= events - 60, (frozen, newest, events)
    # Inspector: open a signals row, let 3 s of traffic push it out, it stays open and exact.
    # The row's cells are read and the row clicked in one page task: between two calls from
    # here the live table could put a newer signals row first.
    title = await page.evaluate(
        """() => {
          const row = document.querySelector('.sw-root .sw-event[data-stream=signals]');
          const cells = [...row.cells].map((c) => c.innerText);
          row.click();
          return cells;
        }"""
    )
    inspector = page.locator(".sw-root .sw-inspector")
    await inspector.wait_for(state="visible", timeout=5000)
    body1 = await page.locator(".sw-root .sw-inspector-body").inner_text()
    head1 = await page.locator(".sw-root .sw-inspector-head").inner_text()
    await asyncio.sleep(4)
    for t in (t1, t2, t3):
        t.cancel()
    assert await inspector.is_visible(), "inspector closed while events kept arriving"
    body2 = await page.locator(".sw-root .sw-inspector-body").inner_text()
    await save_screenshot(page, "uxa-inspector")
    assert body2 == body1, (body1, body2)
    sig = next(c for c in title if c.startswith("sig-"))
    i = int(sig[4:])
    sent = next(e for e in hydra.sent if e["stream"] == "signals" and e["data"]["title"] == sig)
    assert f'"{sig}"' in body1 and "signal_new" in head1 and "signals" in head1, (head1, body1)
    assert re.search(rf'"severity":\s*{1 + i % 5}\b', body1), body1
    from datetime import datetime

    assert datetime.fromtimestamp(sent["ts"] / 1000, UTC).strftime("%H:%M:%S") in head1, head1


@pytest.mark.parametrize("mode", ["steady50", "steady200", "burst"])
async def test_recent_500_shows_500(jupyter_server, page, hydra, mode):
    """§2 ("already landed"): recent=500 shows 500 rows once 700 events arrived: at 50 and
    200 events/s, and after a burst (700 events in about a second)."""
    name = f"recent500-{mode}.ipynb"
    await start(page, jupyter_server, name, [connect_cell(hydra.url, ["markets"], ", recent=500")])
    await hydra.wait_subscribed("markets")
    for i in range(700):
        await hydra.push("markets", "market_update", market("BTC", float(i), n=i))
        if mode == "steady50":
            await asyncio.sleep(1 / 50)
        elif mode == "steady200":
            await asyncio.sleep(1 / 200)
        elif i % 50 == 0:
            await asyncio.sleep(0.05)
    await asyncio.sleep(3)
    events = await stat(page, "events")
    assert events == "700", events
    # The table draws the rows in view: all 500 are reached by scrolling it to the end,
    # newest (event 700) first, oldest kept (event 201) last, none missing.
    walk = await walk_table(page.locator(".sw-root").first)
    seqs = [r["seq"] for r in walk["rows"]]
    assert walk["count"] == "500 rows", walk["count"]
    assert seqs == list(range(700, 200, -1)), (
        f"{len(seqs)} rows reached ({walk['count']!r}) after {events} events: "
        f"{seqs[:3]} ... {seqs[-3:]}"
    )
    # Event 201 is the 200th sent: BTC at price 200.0 (shown as JavaScript prints 200.0), n 200.
    assert walk["rows"][-1]["cells"][3:] == ["BTC", "200", "200"], walk["rows"][-1]
    assert walk["mostInDom"] < 100, walk["mostInDom"]


# ----------------------------------------------------------------------------- §3 badge


async def test_badge_paused_no_stale_rate(jupyter_server, page, hydra):
    """§3: paused says so, with events skipped; the events/s figure says "paused"."""
    await start(page, jupyter_server, "paused.ipynb", [connect_cell(hydra.url, ["markets"])])
    await hydra.wait_subscribed("markets")
    task = hydra.feed("markets", "market_update", lambda i: market("BTC", 1.0 + i % 5), rate=30)
    await asyncio.sleep(3)
    await page.locator(".sw-root .sw-pause").click()
    await asyncio.sleep(3)
    shown = await badge(page)
    rate = await stat(page, "events_per_second")
    header = await page.evaluate("() => document.querySelector('.sw-root .sw-header').innerText")
    await save_screenshot(page, "uxa-paused")
    task.cancel()
    assert shown["text"].startswith("paused"), shown
    assert re.search(r"\d+\s*(events\s*)?skipped", header), header
    assert rate is not None and "paused" in rate.lower() and not re.search(r"\d", rate), rate


async def test_badge_failed_on_refused_token(jupyter_server, page, refusing):
    """§3: a token refused as the document shows (close 4001) is "failed" with the reason."""
    await start(page, jupyter_server, "failed.ipynb", [connect_cell(refusing.url, ["markets"])])
    _took, shown = await wait_badge(page, r"failed", 10)
    await save_screenshot(page, "uxa-failed")
    assert refusing.refused >= 1
    assert re.search(r"4001|token", shown["status"], re.I), shown


async def test_badge_closed_keeps_counters(jupyter_server, page, hydra, ui):
    """§3: w.close() leaves a "closed" widget with its last counters (Lab and Notebook 7)."""
    await start(page, jupyter_server, f"closed-{ui}.ipynb", [
        connect_cell(hydra.url, ["markets"]),
        "w.close()\nprint('EVENTS', w.stats['events'] if isinstance(w.stats, dict) else w.stats.events)",
    ], ui)  # fmt: skip
    await hydra.wait_subscribed("markets")
    for i in range(137):
        await hydra.push("markets", "market_update", market("BTC", float(i)))
    await asyncio.sleep(2)
    await run_cell(page, 1)
    await asyncio.sleep(2)
    outputs = await page.evaluate(
        "() => [...document.querySelectorAll('.jp-Cell-outputArea')].map(o => o.innerText)"
    )
    await save_screenshot(page, f"uxa-closed-{ui}")
    assert "EVENTS 137" in outputs[1], outputs
    assert re.search(r"\bclosed\b", outputs[0]), outputs[0]
    assert re.search(r"\b137\b", outputs[0]), f"last counters not shown: {outputs[0]!r}"


def _kernel_id(server) -> str:
    sessions = server.api("GET", "api/sessions")
    assert len(sessions) == 1, sessions
    return sessions[0]["kernel"]["id"]


@pytest.mark.allow_console_errors
async def test_badge_kernel_gone_after_shutdown(jupyter_server, page, hydra):
    """§3: the kernel shut down: the badge says "kernel gone" within a few seconds."""
    await start(page, jupyter_server, "gone-shutdown.ipynb", [connect_cell(hydra.url, ["markets"])])
    await hydra.wait_subscribed("markets")
    await wait_badge(page, r"^live", 10)
    jupyter_server.api("DELETE", f"api/kernels/{_kernel_id(jupyter_server)}")
    took, shown = await wait_badge(page, r"kernel gone", 8)
    await save_screenshot(page, "uxa-kernel-gone-shutdown")
    assert took <= 5, (took, shown)


@pytest.mark.allow_console_errors
async def test_badge_kernel_gone_after_restart(jupyter_server, page, hydra):
    """§3: the kernel restarted: the old view says "kernel gone" within a few seconds."""
    await start(page, jupyter_server, "gone-restart.ipynb", [connect_cell(hydra.url, ["markets"])])
    await hydra.wait_subscribed("markets")
    await wait_badge(page, r"^live", 10)
    jupyter_server.api("POST", f"api/kernels/{_kernel_id(jupyter_server)}/restart", {})
    took, shown = await wait_badge(page, r"kernel gone|no kernel", 8)
    await save_screenshot(page, "uxa-kernel-gone-restart")
    assert took <= 5, (took, shown)


# ----------------------------------------------------------------------------- §5


async def test_narrow_332_keeps_titles_and_controls_inside(jupyter_server, page, hydra):
    """§5: at 332 px wide, chart titles, legends and controls stay inside the output."""
    await start(page, jupyter_server, "narrow.ipynb", [
        connect_cell(hydra.url, ["markets", "signals", "alerts", "cyber"]),
        "w.chart('price', stream='markets', by='symbol')",
    ])  # fmt: skip
    await hydra.wait_subscribed("cyber")
    await feed_symbols(hydra, ["EURUSD", "BTC", "ETH", "SOL"], n_each=3)
    for s in ("signals", "alerts", "cyber"):
        await hydra.push(s, "x", {"v": 1})
    await run_cell(page, 1)
    await page.evaluate(
        """() => { const out = document.querySelector('.sw-root').closest('.jp-OutputArea-output');
        out.style.width = '332px'; out.style.maxWidth = '332px'; out.style.flex = 'none';
        window.dispatchEvent(new Event('resize')); }"""
    )
    for _ in range(3):
        await feed_symbols(hydra, ["EURUSD", "BTC", "ETH", "SOL"], n_each=2)
        for s in ("signals", "alerts", "cyber"):
            await hydra.push(s, "x", {"v": 1})
        await asyncio.sleep(1)
    out = await page.evaluate(
        """() => { const root = document.querySelector('.sw-root');
        const box = root.closest('.jp-OutputArea-output').getBoundingClientRect();
        const sel = 'figcaption, .gtitle, .g-xtitle, .g-ytitle, .legend, .legendtext, .sw-chip-label, '
          + 'button:not(.modebar-btn), select, input, .sw-stat, .sw-state, .main-svg';
        const outside = [];
        for (const e of root.querySelectorAll(sel)) {
          const r = e.getBoundingClientRect();
          if (r.width === 0 || r.height === 0) continue;
          if (e.closest('[hidden]')) continue;
          if (r.left < box.left - 1 || r.right > box.right + 1)
            outside.push(`${e.tagName}.${e.getAttribute('class')} '${(e.textContent||'').slice(0,40)}' `
                         + `${Math.round(r.left)}-${Math.round(r.right)} vs ${Math.round(box.left)}-${Math.round(box.right)}`);
        }
        const legends = [...root.querySelectorAll('.legend')].map(l => {
          const ys = new Set([...l.querySelectorAll('.traces')].map(t => Math.round(t.getBoundingClientRect().top)));
          return ys.size; });
        return {width: box.width, outside, legends}; }"""
    )
    await save_screenshot(page, "uxa-narrow-332", element=page.locator(".sw-root"))
    assert abs(out["width"] - 332) < 2, out
    assert not out["outside"], "\n".join(out["outside"])
    assert all(rows <= 3 for rows in out["legends"]), out["legends"]


async def test_replay_badge_says_replaying_4x(jupyter_server, page, hydra, tmp_path):
    """§5: a replay at speed 4 says "replaying 4x, mm:ss of mm:ss"."""
    rec = jupyter_server.root_dir / "uxa-rec.jsonl.gz"
    await start(page, jupyter_server, "replay.ipynb", [
        connect_cell(hydra.url, ["markets"]),
        f"w.record({str(rec)!r})",
        "s = w.stop_recording(); print('FRAMES', getattr(s, 'frames', s)); w.close()",
        f"w2 = StreamWidget(feeds.replay({str(rec)!r}, speed=4))\nw2",
    ])  # fmt: skip
    await hydra.wait_subscribed("markets")
    await run_cell(page, 1)
    task = hydra.feed("markets", "market_update", lambda i: market("BTC", 1.0 + i % 5), rate=10)
    await asyncio.sleep(24)
    task.cancel()
    await run_cell(page, 2)
    await run_cell(page, 3)
    await asyncio.sleep(1.5)
    text = await page.evaluate(
        "() => [...document.querySelectorAll('.sw-root .sw-status')].map(e => e.textContent).join(' | ')"
    )
    text = re.sub(r"\s+", " ", text).replace(" ,", ",")
    await asyncio.sleep(3)
    rate = float(
        await page.evaluate(
            "() => [...document.querySelectorAll('.sw-root [data-stat=events_per_second]')].pop().dataset.value"
        )
    )
    await save_screenshot(page, "uxa-replay")
    assert 7 <= rate <= 13, f"recorded at 10 events/s; the replay's header says {rate} events/s"
    m = re.search(r"replaying 4x, (\d\d):(\d\d) of (\d\d):(\d\d)", text)
    assert m, text
    total = int(m.group(3)) * 60 + int(m.group(4))
    assert 20 <= total <= 30, text


# ----------------------------------------------------------------------------- §6 Voila


async def test_demo_live_in_voila(page, tmp_path):
    """§6: the demo served by Voila shows a live widget whose counters grow."""
    server = start_voila_server(tmp_path)
    try:
        refused = await guard_offline(page)
        write_notebook(server.root_dir / "demo.ipynb", [
            "from streamwidgets import StreamWidget\nStreamWidget.demo()"])  # fmt: skip
        await open_in_voila(page, server, "demo.ipynb")
        await page.locator(".sw-root .sw-state").wait_for(timeout=seconds(60) * 1000)
        t0 = time.monotonic()
        state = None
        while time.monotonic() - t0 < 20:
            state = await page.evaluate(
                "() => document.querySelector('.sw-root .sw-state').textContent"
            )
            if state.startswith("live"):
                break
            await asyncio.sleep(0.2)
        n1 = await page.evaluate(
            "() => +document.querySelector('.sw-root [data-stat=events]').dataset.value"
        )
        await asyncio.sleep(3)
        n2 = await page.evaluate(
            "() => +document.querySelector('.sw-root [data-stat=events]').dataset.value"
        )
        drawn = await page.evaluate(
            "() => [...document.querySelectorAll('.sw-root .js-plotly-plot')].map(gd => ((gd.parentElement.querySelector('canvas.sw-traces') || {}).swTraces || []).reduce((a, t) => a + t.y.length, 0))"
        )
        await save_screenshot(page, "uxa-voila-demo")
        assert state.startswith("live"), state
        assert n2 > n1 > 0, (n1, n2)
        assert drawn and all(n > 0 for n in drawn), drawn
        assert not refused, refused
    finally:
        server.shutdown_kernels()
        server.stop()


# ----------------------------------------------------------------------------- secrets


async def test_token_never_in_page_comm_or_saved_notebook(jupyter_server, page, hydra):
    """Secrets: the token is in no comm message, the page's DOM, nor the saved notebook, even
    when the server echoes it back in an event."""
    frames: list[str] = []

    def on_ws(ws):
        ws.on(
            "framereceived",
            lambda p: frames.append(p if isinstance(p, str) else p.decode("latin-1")),
        )
        ws.on(
            "framesent", lambda p: frames.append(p if isinstance(p, str) else p.decode("latin-1"))
        )

    page.on("websocket", on_ws)
    name = "secret.ipynb"
    await start(page, jupyter_server, name, [connect_cell(hydra.url, ["signals"])])
    await hydra.wait_subscribed("signals")
    for i in range(10):
        await hydra.push("signals", "signal_new", {
            "title": f"echo {TOKEN}", "token": TOKEN, "piece": SECRET_PIECE, "severity": i % 5,
            "url": f"wss://api.hydra.app/stream?token={TOKEN}"})  # fmt: skip
        await asyncio.sleep(0.05)
    await asyncio.sleep(2)
    await page.locator(".sw-root .sw-event").first.click()
    await asyncio.sleep(1)
    await page.evaluate(
        """async () => { const app = window.jupyterapp;
        const cmd = '@jupyter-widgets/jupyterlab-manager:saveWidgetState';
        if (!app.commands.isToggled(cmd)) await app.commands.execute(cmd);
        await app.commands.execute('docmanager:save'); }"""
    )
    await asyncio.sleep(2)
    html = await page.content()
    saved = (jupyter_server.root_dir / name).read_text()
    print("saved notebook bytes", len(saved), "widget state saved:", "widget-state" in saved)
    assert "application/vnd.jupyter.widget-state+json" in saved, "widget state was not saved"
    assert frames, "no websocket frames captured"
    # The token is in the notebook's own source cell (the user typed it): leave the cell out.
    nbjson = json.loads(saved)
    outputs = json.dumps([c.get("outputs", []) for c in nbjson["cells"]]) + json.dumps(
        nbjson.get("metadata", {})
    )
    html_no_source = re.sub(
        r"<div class=\"[^\"]*jp-InputArea[^\"]*\".*?</div></div></div>", "", html, flags=re.S
    )
    leaks = {
        "comm frames": [
            f[f.find(SECRET_PIECE) - 200 : f.find(SECRET_PIECE) + 50]
            for f in frames
            if SECRET_PIECE in f
            and re.search(
                r'"msg_type":\s*"(comm_\w+|display_data|update_display_data|execute_result|stream)"',
                f,
            )
        ],
        "page DOM (outputs)": [
            m.start()
            for m in re.finditer(
                SECRET_PIECE,
                await page.evaluate(
                    "() => [...document.querySelectorAll('.jp-Cell-outputArea')].map(o => o.innerHTML).join('')"
                ),
            )
        ],
        "saved notebook outputs/metadata": SECRET_PIECE in outputs,
    }
    assert (
        not leaks["comm frames"]
        and not leaks["page DOM (outputs)"]
        and not leaks["saved notebook outputs/metadata"]
    ), leaks
    del html_no_source


async def test_narrow_332_chart_titles_not_cut(jupyter_server, page, hydra):
    """§5: "at 332 px wide, subplot titles are cut": the chart titles are shown whole
    (no ellipsis) at 332 px, so "by symbol" can still be read."""
    await start(page, jupyter_server, "narrow-title.ipynb", [
        connect_cell(hydra.url, ["markets"]),
        "w.chart('price', stream='markets', by='symbol')",
    ])  # fmt: skip
    await hydra.wait_subscribed("markets")
    await feed_symbols(hydra, ["EURUSD", "BTC", "ETH", "SOL"], n_each=3)
    await run_cell(page, 1)
    await page.evaluate(
        """() => { const out = document.querySelector('.sw-root').closest('.jp-OutputArea-output');
        out.style.width = '332px'; out.style.maxWidth = '332px'; out.style.flex = 'none';
        window.dispatchEvent(new Event('resize')); }"""
    )
    for _ in range(3):
        await feed_symbols(hydra, ["EURUSD", "BTC", "ETH", "SOL"], n_each=2)
        await asyncio.sleep(1)
    titles = await page.evaluate(
        """() => [...document.querySelectorAll('.sw-root .sw-field-chart svg text, .sw-root figcaption')]
             .filter(e => e.tagName !== 'text' || e.textContent.includes('market_update'))
             .map(e => (e.querySelector('tspan.line') || e).textContent.trim())"""
    )
    await save_screenshot(
        page, "uxa-narrow-title", element=page.locator(".sw-root .sw-field-chart")
    )
    cut = [t for t in titles if t.endswith("...") or t.endswith("…")]
    assert not cut, f"titles cut at 332 px: {cut}"
    assert any("price" in t and "symbol" in t for t in titles), titles


async def test_tick_labels_do_not_flip(jupyter_server, page, hydra):
    """§1: tick labels do not flip between flat and rotated while the chart grows."""
    await start(page, jupyter_server, "ticks.ipynb", [connect_cell(hydra.url, ["markets"])])
    await hydra.wait_subscribed("markets")
    task = hydra.feed("markets", "market_update", lambda i: market("BTC", 1.0 + i % 5), rate=20)
    seen = []
    for _ in range(24):
        await asyncio.sleep(0.5)
        seen.append(
            await page.evaluate(
                r"""() => [...document.querySelectorAll('.sw-root .sw-rate-chart .xtick text')]
                 .map(e => /rotate\((-?[\d.]+)/.exec(e.getAttribute('transform') || '') ? 'rotated' : 'flat')
                 .join(',')"""
            )
        )
    task.cancel()
    kinds = {k for sample in seen for k in sample.split(",") if k}
    assert len(kinds) == 1, f"tick labels flipped: {seen}"


async def test_saved_state_reopened_says_no_kernel(jupyter_server, page, hydra):
    """README §3: a notebook reopened from saved widget state says "no kernel" and shows the
    last counters and a picture of its charts."""
    name = "nokernel.ipynb"
    await start(page, jupyter_server, name, [connect_cell(hydra.url, ["markets"])])
    await hydra.wait_subscribed("markets")
    for i in range(123):
        await hydra.push("markets", "market_update", market("BTC", 1.0 + i % 7))
    await asyncio.sleep(2)
    await page.evaluate(
        """async () => { const app = window.jupyterapp;
        const cmd = '@jupyter-widgets/jupyterlab-manager:saveWidgetState';
        if (!app.commands.isToggled(cmd)) await app.commands.execute(cmd);
        await app.commands.execute('docmanager:save'); }"""
    )
    await asyncio.sleep(1)
    saved = (jupyter_server.root_dir / name).read_text()
    assert "application/vnd.jupyter.widget-state+json" in saved
    jupyter_server.shutdown_kernels()
    await page.goto("about:blank")
    await open_notebook(page, jupyter_server, name, "lab")  # a new kernel, which never made it
    await wait_for_selector_in_output(page, ".sw-root .sw-state")
    await asyncio.sleep(5)
    shown = await badge(page)
    text = await page.evaluate("() => document.querySelector('.sw-root').innerText")
    pictures = await page.evaluate(
        "() => document.querySelectorAll('.sw-root img, .sw-root svg.main-svg, .sw-root canvas').length"
    )
    await save_screenshot(page, "uxa-no-kernel")
    assert re.search(r"no kernel", shown["text"] + " " + shown["status"]), shown
    assert re.search(r"\b123\s*events", text), text[:500]
    assert pictures > 0, "no picture of the charts"


async def test_busy_kernel_says_kernel_gone_then_live_again(jupyter_server, page, hydra):
    """README §3: a kernel that says nothing for 3 s (busy) is shown as "kernel gone", with the
    counters marked last known; the badge goes back to live when the kernel speaks again."""
    await start(page, jupyter_server, "busy.ipynb", [
        connect_cell(hydra.url, ["markets"]),
        "import time\ntime.sleep(9)",
    ])  # fmt: skip
    await hydra.wait_subscribed("markets")
    await wait_badge(page, r"^live", 10)
    busy = asyncio.create_task(run_cell(page, 1, timeout=40))
    try:
        took, shown = await wait_badge(page, r"kernel gone", 8)
        note = await page.evaluate(
            "() => { const n = document.querySelector('.sw-root .sw-stats-note'); return n && !n.hidden ? n.textContent : ''; }"
        )
        await save_screenshot(page, "uxa-busy-kernel")
        assert took <= 5, (took, shown)
        assert "last known" in note, note
    finally:
        await busy
    _took2, _shown2 = await wait_badge(page, r"^live", 10)


async def test_demo_charts_split_by_itself(jupyter_server, page):
    """§1: the demo chooses sensible split keys by itself: its field chart draws one line per
    entity (no comb through all symbols)."""
    write_notebook(jupyter_server.root_dir / "demo-split.ipynb", [
        "from streamwidgets import StreamWidget\nw = StreamWidget.demo()\nw",
        "print('CHARTS', [(c['field'], c.get('by')) for c in w.charts])",
    ])  # fmt: skip
    await open_notebook(page, jupyter_server, "demo-split.ipynb", "lab")
    await run_cell(page, 0)
    await wait_for_selector_in_output(page, ".sw-root .sw-state")
    await asyncio.sleep(8)
    await run_cell(page, 1)
    printed = await page.evaluate(
        "() => [...document.querySelectorAll('.jp-Cell-outputArea')][1].innerText"
    )
    chips = await page.evaluate(
        "() => [...document.querySelectorAll('.sw-root .sw-chip-label')].map(e => e.textContent)"
    )
    traces = await plot(page)
    await save_screenshot(page, "uxa-demo-split")
    assert chips and all(" by " in c for c in chips), (chips, printed)
    named = {t["name"] for t in traces if t["y"]}
    assert len(named) >= 2, (named, printed)
