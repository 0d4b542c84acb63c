"""The charts in real JupyterLab (and Notebook 7) in Chromium: what the page draws.

Each test runs a feed simulator inside the notebook's kernel and looks at what the page
drew: the lines the canvas over each plot drew (its ``swTraces``: points, colours, line
pieces) and its pixels, plotly's axes (``gd._fullLayout``) and SVG, and the hover label
under the pointer: traces per key of a split chart, breaks in the lines after a pause
and an outage, "waiting for data" on an empty chart, distinct stream colours that
survive a reload, flat tick labels, and a narrow output whose names and legend fit.
"""

from __future__ import annotations

import asyncio
import json
import time

from playwright.async_api import expect

from tests.support.waiting import seconds

from .footprint import save_notebook
from .jupyter import (
    open_notebook,
    run_cell,
    save_screenshot,
    wait_for_selector_in_output,
    write_notebook,
)

# A Hydra simulator in the kernel, and a widget on it. The token stays in the kernel.
HYDRA_CELL = """\
from streamwidgets import StreamWidget, feeds
from streamwidgets.simulators.hydra import HydraSimulator
sim = HydraSimulator(rate={rate})
sim.start_background()
w = StreamWidget(feeds.hydra(sim.url, token=sim.issue_token()), streams={streams!r},
                 chart={charts!r}, max_points={max_points})
w
"""

FIELD_PLOT = ".sw-field-chart .js-plotly-plot"
RATE_PLOT = ".sw-rate-chart .js-plotly-plot"

# The plots of the (first) widget matching a selector: the field charts are one plotly
# figure per charted field, stacked; the events/s chart is one.
_PLOTS = """const plots = (sel) => {
  const root = document.querySelector('.sw-root');
  return root ? [...root.querySelectorAll(sel)] : [];
};
const drawnOf = (gd) => (gd.parentElement.querySelector('canvas.sw-traces') || {}).swTraces;"""

# Each trace of the plots: its name, meta, colour, points and where y is NaN (a break).
_TRACES_JS = (
    """(sel) => {"""
    + _PLOTS
    + """
  const drawn = plots(sel).map(drawnOf).filter(Boolean);
  if (!drawn.length) return null;
  return drawn.flat().map((t, i) => {
    const y = Array.from(t.y || []);
    const x = Array.from(t.x || []);
    return {
      name: t.name, meta: t.meta, color: t.color, n: y.length,
      hover: t.hover || '', visible: t.visible, pieces: t.pieces,
      nan: y.map((v, k) => (v === null || Number.isNaN(v)) ? x[k] : null).filter(v => v !== null),
      x, y: y.map(v => (v === null || Number.isNaN(v)) ? null : v),
    };
  });
}"""
)

# The drawn line of each shown trace: how many pieces (pen moves) the canvas drew.
_PATH_PIECES_JS = (
    """(sel) => {"""
    + _PLOTS
    + """
  return plots(sel).flatMap(gd => drawnOf(gd) || []).filter(t => t.visible !== false)
    .map(t => t.pieces);
}"""
)

# How many pixels of each trace's colour the canvases over the plots hold.
_CANVAS_COLOURS_JS = (
    """(sel) => {"""
    + _PLOTS
    + """
  const out = {};
  for (const gd of plots(sel)) {
    const canvas = gd.parentElement.querySelector('canvas.sw-traces');
    if (!canvas || !canvas.width) continue;
    const px = canvas.getContext('2d').getImageData(0, 0, canvas.width, canvas.height).data;
    for (const t of canvas.swTraces || []) {
      const c = t.color.match(/[0-9a-f]{2}/gi).map(v => parseInt(v, 16));
      let n = 0;
      for (let i = 0; i < px.length; i += 4) {
        if (px[i + 3] > 250 && Math.abs(px[i] - c[0]) < 8 && Math.abs(px[i + 1] - c[1]) < 8
            && Math.abs(px[i + 2] - c[2]) < 8) n += 1;
      }
      out[JSON.stringify(t.meta)] = n;
    }
  }
  return out;
}"""
)

# Where a point of the first split trace (its middle one) is on the page, by plotly's axes.
_POINT_XY_JS = (
    """(sel) => {"""
    + _PLOTS
    + """
  const gd = plots(sel).find(gd => (drawnOf(gd) || []).some(t => Array.isArray(t.meta)));
  const t = drawnOf(gd).find(t => Array.isArray(t.meta));
  let i = Math.floor(t.y.length / 2);
  while (i < t.y.length - 1 && !Number.isFinite(t.y[i])) i += 1;
  const full = gd._fullLayout;
  const box = gd.getBoundingClientRect();
  return {
    x: box.left + full.xaxis._offset + full.xaxis.l2p(t.x[i]),
    y: box.top + full.yaxis._offset + full.yaxis.l2p(t.y[i]),
    value: String(t.y[i]), key: Array.isArray(t.meta) ? t.meta[1] : null,
  };
}"""
)

# Left and right are measured from each annotation's own plot; top and bottom from the
# top plot's, so the names of stacked figures can be compared.
_ANNOTATIONS_JS = (
    """(sel) => {"""
    + _PLOTS
    + """
  const gds = plots(sel);
  if (!gds.length) return [];
  const first = gds[0].querySelector('.main-svg').getBoundingClientRect();
  return gds.flatMap(gd => {
    const box = gd.querySelector('.main-svg').getBoundingClientRect();
    return [...gd.querySelectorAll('.annotation')].map(a => {
      const r = a.getBoundingClientRect();
      return {text: a.textContent, left: r.left - box.left, right: r.right - box.left,
              top: r.top - first.top, bottom: r.bottom - first.top, width: box.width,
              height: box.height};
    });
  });
}"""
)

# The time axis of the plots (the stacked field figures label it once, at the bottom).
_TICKS_JS = (
    """(sel) => {"""
    + _PLOTS
    + """
  const gds = plots(sel);
  const ticks = gds.flatMap(gd => [...gd.querySelectorAll('.xaxislayer-above .xtick text')]);
  const titles = gds.map(gd => (gd.querySelector('.g-xtitle') || {}).textContent || '');
  return {
    texts: ticks.map(t => t.textContent),
    rotated: ticks.filter(t => /rotate\\((?!0[,)])/.test(t.getAttribute('transform') || '')).length,
    angle: Math.max(...gds.map(gd => Math.abs(gd._fullLayout.xaxis.tickangle || 0))),
    title: titles.find(t => t) || '',
    visible: gds.some(gd => gd._fullLayout.xaxis.visible),
  };
}"""
)


# The legend's drawn height (entries beyond it scroll).
_LEGEND_JS = """(sel) => {
  const plot = document.querySelector(sel);
  const legend = plot && plot.parentElement.querySelector('.sw-legend');
  return legend ? legend.getBoundingClientRect().height : 0;
}"""


async def traces(page, sel: str = FIELD_PLOT) -> list[dict]:
    return await page.evaluate(_TRACES_JS, sel) or []


async def wait_for(page, probe, check, timeout: float = 30.0, what: str = ""):
    """Poll ``probe()`` until ``check(value)``; returns the value."""
    deadline = time.monotonic() + seconds(timeout)
    while True:
        value = await probe()
        if check(value):
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"{what or 'condition'} not met in {timeout:.0f} s: {value!r}")
        await asyncio.sleep(0.2)


async def connected(page) -> None:
    state = (await wait_for_selector_in_output(page, ".sw-state")).first
    await expect(state).to_have_attribute("data-state", "connected", timeout=seconds(30) * 1000)


async def start(page, server, name: str, *cells: str, ui: str = "lab") -> None:
    """Write a notebook of ``cells``, open it, run the first (the widget) and wait until
    its feed is connected."""
    await open_notebook(page, server, write_notebook(server, name, *cells), ui)
    await run_cell(page, 0, timeout=60)
    await connected(page)


def gaps_of(trace: dict, step_ms: float) -> list[tuple[float, float]]:
    """Pairs of consecutive drawn points (no NaN between) further apart than step_ms."""
    out = []
    xs, ys = trace["x"], trace["y"]
    for k in range(1, len(xs)):
        if ys[k] is not None and ys[k - 1] is not None and xs[k] - xs[k - 1] > step_ms:
            out.append((xs[k - 1], xs[k]))
    return out


async def test_split_chart_draws_one_trace_per_key_and_waits_for_data(page, jupyter_server, ui):
    """A chart split by symbol draws one trace per shown key, named, coloured, on one axis."""
    cell = HYDRA_CELL.format(
        rate=40,
        streams=["markets"],
        # Aircraft are not subscribed: that chart has no data and must say so.
        charts=[("aircraft", "position_update", "data.altitude")],
        max_points=2000,
    )
    split = "w.chart('price', stream='markets', type='market_update', by='symbol')"
    await start(page, jupyter_server, f"charts_split_{ui}.ipynb", cell, split, ui=ui)
    plot = (await wait_for_selector_in_output(page, FIELD_PLOT)).first

    # Nothing for the altitude chart: "waiting for data", and no x axis from Jan 2000.
    async def field_notes():
        return [a["text"] for a in await page.evaluate(_ANNOTATIONS_JS, FIELD_PLOT)]

    await wait_for(page, field_notes, lambda t: "waiting for data" in t, what="waiting text")
    ticks = await page.evaluate(_TICKS_JS, FIELD_PLOT)
    assert not ticks["visible"] and not any("2000" in t for t in ticks["texts"]), ticks
    await save_screenshot(page, f"charts-waiting-{ui}", element=plot)

    await run_cell(page, 1)
    series = "markets|market_update|data.price|data.symbol"

    async def split_traces():
        return [t for t in await traces(page) if isinstance(t["meta"], list)]

    shown = await wait_for(
        page,
        split_traces,
        lambda ts: len(ts) >= 3 and all(t["n"] > 0 for t in ts),
        what="traces per symbol",
    )
    assert {t["meta"][0] for t in shown} == {series}
    assert len(shown) <= 8, "at most SPLIT_KEYS keys drawn"
    keys = [t["meta"][1] for t in shown]
    assert len(set(keys)) == len(keys), keys
    assert len({t["color"] for t in shown}) == len(shown), "one colour per key"
    for t in shown:
        assert t["meta"][1] in t["hover"] and "price" in t["hover"], t["hover"]
    # The lines are on the canvas, in their keys' colours (prices near 1 may overlap).
    pixels = await page.evaluate(_CANVAS_COLOURS_JS, FIELD_PLOT)
    seen = [k for k in keys if pixels.get(json.dumps([series, k], separators=(",", ":")), 0) >= 5]
    assert len(seen) >= 2, pixels
    # The pointer over a point (placed by plotly's axes) shows its key, field and value.
    await page.locator(f".sw-root {FIELD_PLOT}").last.scroll_into_view_if_needed()
    spot = await page.evaluate(_POINT_XY_JS, FIELD_PLOT)
    await page.mouse.move(spot["x"], spot["y"])
    tip = page.locator(".sw-root .sw-field-chart .sw-hover:not([hidden])")
    await expect(tip).to_have_count(1, timeout=5000)
    label = await tip.inner_text()
    head, value = label.splitlines()[:2]
    # The nearest point may be another key's where lines meet: any shown key, as sent.
    assert head in keys and value.startswith("price: "), label
    if head == spot["key"]:
        assert value == f"price: {spot['value']}", (label, spot)
    assert label.splitlines()[2].endswith(" UTC"), label
    await page.mouse.move(0, 0)
    await expect(tip).to_have_count(0, timeout=5000)
    # The subplot's header names the keys; the y axis is titled with the field.
    notes = " ".join(await field_notes())
    for key in keys:
        assert key in notes, (key, notes)
    titles = await page.evaluate(
        "(sel) => [...document.querySelectorAll(sel + ' .infolayer text')]"
        ".filter(t => /^y\\d*title$/.test(t.getAttribute('class'))).map(t => t.textContent)",
        FIELD_PLOT,
    )
    assert "price" in titles, titles
    ticks = await page.evaluate(_TICKS_JS, FIELD_PLOT)
    assert ticks["title"] == "time (UTC)", ticks
    await save_screenshot(page, f"charts-split-{ui}", element=plot)


async def test_pause_resume_and_an_outage_break_the_lines(page, jupyter_server):
    """After a pause and after the server went away, no line is drawn across the hole."""
    cell = HYDRA_CELL.format(
        rate=40,
        streams=["markets", "aircraft"],
        charts=[("aircraft", "position_update", "data.altitude")],
        max_points=5000,
    )
    outage = (
        "port = sim.port\n"
        "sim.stop_background()\n"
        "import asyncio\n"
        "await asyncio.sleep(8)\n"
        "sim = HydraSimulator(rate=40, port=port, secret=sim.secret)\n"
        "sim.start_background()\n"
        "w.wait(state='connected', timeout=60)"
    )
    await start(page, jupyter_server, "charts_gaps.ipynb", cell, "w.pause()", "w.resume()", outage)
    await wait_for(
        page,
        lambda: traces(page),
        lambda ts: len(ts) == 1 and ts[0]["n"] > 20,
        what="altitude points",
    )
    await asyncio.sleep(2)
    await run_cell(page, 1)
    await asyncio.sleep(4)
    await run_cell(page, 2)

    # The field chart: a NaN where the pause began, and the drawn line in pieces.
    field = await wait_for(
        page,
        lambda: traces(page),
        lambda ts: ts[0]["nan"] and ts[0]["x"][-1] > ts[0]["nan"][-1] + 2000,
        what="a break in the altitude line after resume",
    )
    assert not gaps_of(field[0], 3000), "no straight line across the paused seconds"
    pieces = await page.evaluate(_PATH_PIECES_JS, FIELD_PLOT)
    assert pieces[0] >= 2, pieces

    # The events/s chart: every stream and the total break over the paused seconds.
    async def rate_breaks():
        return [t for t in await traces(page, RATE_PLOT) if t["nan"]]

    await wait_for(page, rate_breaks, lambda ts: len(ts) >= 3, what="rate breaks after pause")

    # The server goes away for 8 s; the rate chart must not bridge it.
    await run_cell(page, 3, timeout=90)
    await asyncio.sleep(3)
    rates = await traces(page, RATE_PLOT)
    total = next(t for t in rates if t["meta"] == "total")
    assert not gaps_of(total, 1500), f"the total bridges a hole: {gaps_of(total, 1500)}"
    for t in rates:
        assert not gaps_of(t, 1500), (t["name"], gaps_of(t, 1500))
    nan_runs = total["nan"]
    assert len(nan_runs) >= 2, "a break for the pause and one for the outage"
    pieces = await page.evaluate(_PATH_PIECES_JS, RATE_PLOT)
    assert max(pieces) >= 3, pieces
    await save_screenshot(page, "charts-gaps", element=page.locator(".sw-root").first)


ELEVEN = [
    "btc-usd",
    "eth-usd",
    "sol-usd",
    "eur-usd",
    "gbp-usd",
    "usd-jpy",
    "xau-usd",
    "ada-usd",
    "dot-usd",
    "ltc-usd",
    "xrp-usd",
]

PUSHER_CELL = """\
from streamwidgets import StreamWidget, feeds
from streamwidgets.simulators.pusher import PusherSimulator
sim = PusherSimulator(mode="app", rate=60)
sim.start_background()
w = StreamWidget(feeds.pusher_app(sim.app_key, host="127.0.0.1", port=sim.port, tls=False),
                 streams={streams!r})
w
"""


async def test_eleven_streams_have_eleven_colours_that_survive_a_reload(page, jupyter_server):
    """11 streams: 11 colours on the events/s chart, a total, the same colours after reload."""
    name = "charts_eleven.ipynb"
    await start(page, jupyter_server, name, PUSHER_CELL.format(streams=ELEVEN))

    async def rate_traces():
        return await traces(page, RATE_PLOT)

    def all_there(ts):
        return {t["meta"] for t in ts} >= {*ELEVEN, "total"}

    before = await wait_for(page, rate_traces, all_there, timeout=40, what="11 streams + total")
    colours = {t["meta"]: t["color"] for t in before if t["meta"] in ELEVEN}
    assert len(set(colours.values())) == 11, colours
    total = next(t for t in before if t["meta"] == "total")
    assert total["color"] not in colours.values()
    legend = await page.evaluate(_LEGEND_JS, RATE_PLOT)
    assert legend <= 70, f"the legend takes {legend} px"
    root = page.locator(".sw-root").first
    await save_screenshot(page, "charts-eleven-streams", element=root)

    # A legend entry switches its line off and on again; the others stay drawn.
    entry = root.locator(".sw-legend-item", has_text="total")
    await entry.click()
    await expect(entry).to_have_attribute("aria-pressed", "false")

    def shown(ts):
        return {t["meta"] for t in ts if t["visible"] is not False}

    off = await wait_for(
        page, rate_traces, lambda ts: shown(ts) == set(ELEVEN), what="total switched off"
    )
    assert sum(t["pieces"] for t in off if t["meta"] == "total") == 0, off
    await entry.click()
    await wait_for(page, rate_traces, lambda ts: "total" in shown(ts), what="total back on")

    # A reload shows what the file holds: save the output (the widget's view) first.
    await save_notebook(page, name)
    await page.reload()
    await page.wait_for_function("() => window.jupyterapp && window.jupyterapp.shell")
    await page.locator(RATE_PLOT).first.wait_for(timeout=seconds(60) * 1000)
    after = await wait_for(page, rate_traces, all_there, timeout=40, what="traces after reload")
    again = {t["meta"]: t["color"] for t in after if t["meta"] in ELEVEN}
    assert again == colours, json.dumps({"before": colours, "after": again})


async def test_narrow_output_fits_names_and_legend_and_ticks_stay_flat(page, jupyter_server):
    """At 332 px the subplot names fit inside the plot, the legend stays small, ticks flat."""
    cell = HYDRA_CELL.format(
        rate=40,
        streams=["markets", "aircraft", "signals", "alerts", "cyber", "earthquakes"],
        # The second name is longer than 332 px hold: it must be cut, not overflow.
        charts=[
            ("aircraft", "position_update", "data.altitude"),
            ("earthquakes", "seismic_event", "data.magnitude"),
        ],
        max_points=2000,
    )
    await start(page, jupyter_server, "charts_narrow.ipynb", cell)
    root = (await wait_for_selector_in_output(page, ".sw-root")).first
    await wait_for(
        page,
        lambda: traces(page),
        lambda ts: len(ts) == 2 and max(t["n"] for t in ts) > 5,
        what="2 series",
    )

    # Tick labels stay flat while the window scrolls.
    for _ in range(12):
        for sel in (FIELD_PLOT, RATE_PLOT):
            ticks = await page.evaluate(_TICKS_JS, sel)
            assert ticks["rotated"] == 0 and ticks["angle"] == 0, (sel, ticks)
        await asyncio.sleep(0.5)

    await root.evaluate("(el) => { el.style.width = '332px'; }")

    async def fitted():
        notes = await page.evaluate(_ANNOTATIONS_JS, FIELD_PLOT)
        return notes if notes and notes[0]["width"] <= 340 else None

    notes = await wait_for(page, fitted, bool, what="the field chart at 332 px")
    await asyncio.sleep(1.0)  # a few draws at the new width
    notes = await page.evaluate(_ANNOTATIONS_JS, FIELD_PLOT)
    titles = [n for n in notes if "/" in n["text"]]
    assert len(titles) == 2, notes
    for n in titles:
        assert n["left"] >= -0.5 and n["right"] <= n["width"] + 0.5, n
        assert n["top"] >= -0.5, n
    # No two names overlap.
    a, b = sorted(titles, key=lambda n: n["top"])
    assert a["bottom"] <= b["top"] + 0.5, (a, b)
    legend = await page.evaluate(_LEGEND_JS, RATE_PLOT)
    assert legend <= 44, f"the legend takes {legend} px at 332 px"
    for sel in (FIELD_PLOT, RATE_PLOT):
        ticks = await page.evaluate(_TICKS_JS, sel)
        assert ticks["rotated"] == 0 and len(ticks["texts"]) <= 4, (sel, ticks)
    await save_screenshot(page, "charts-narrow-332", element=root)


# The plot box of the first field figure on the page, and its x range (epoch ms).
_PLOT_BOX_JS = (
    """(sel) => {"""
    + _PLOTS
    + """
  const gd = plots(sel)[0];
  const full = gd._fullLayout;
  const box = gd.getBoundingClientRect();
  return {
    left: box.left + full._size.l, top: box.top + full._size.t,
    width: full._size.w, height: full._size.h,
    range: full.xaxis.range.map(v => full.xaxis.r2l(v)),
  };
}"""
)


async def test_a_mouse_zoom_redraws_the_range_in_full_detail_and_a_double_click_goes_live(
    page, jupyter_server
):
    """Dragging across a chart zooms its time axis (plotly's zoom box); the lines follow at
    full detail; a double click goes back to the whole, live span."""
    cell = HYDRA_CELL.format(
        rate=150,
        streams=["markets"],
        charts=[("markets", "market_update", "data.price")],
        max_points=5000,
    )
    await start(page, jupyter_server, "charts_zoom.ipynb", cell)
    await wait_for(
        page,
        lambda: traces(page),
        lambda ts: ts and ts[0]["x"][-1] - ts[0]["x"][0] > 8000,
        what="8 s",
    )
    await page.locator(f".sw-root {FIELD_PLOT}").first.scroll_into_view_if_needed()
    box = await page.evaluate(_PLOT_BOX_JS, FIELD_PLOT)

    def inside(trace, lo, hi):
        points = zip(trace["x"], trace["y"], strict=True)
        return [x for x, y in points if lo <= x <= hi and y is not None]

    y = box["top"] + box["height"] / 2
    x0, x1 = box["left"] + 0.3 * box["width"], box["left"] + 0.45 * box["width"]
    (live,) = await traces(page)
    span = box["range"][1] - box["range"][0]
    lo, hi = box["range"][0] + 0.3 * span, box["range"][0] + 0.45 * span
    before = len(inside(live, lo, hi))
    await page.mouse.move(x0, y)
    await page.mouse.down()
    await page.mouse.move((x0 + x1) / 2, y + 2, steps=4)
    await page.mouse.move(x1, y + 2, steps=4)
    await page.mouse.up()

    async def zoomed():
        (t,) = await traces(page)
        shown = await page.evaluate(_PLOT_BOX_JS, FIELD_PLOT)
        return t, shown["range"]

    def outside(v):
        return [x for x in v[0]["x"] if not v[1][0] <= x <= v[1][1]]

    # The lines keep to the zoomed range (one point each side may lead in)...
    trace, shown = await wait_for(
        page,
        zoomed,
        lambda v: (
            abs(v[1][0] - lo) < 0.02 * span
            and abs(v[1][1] - hi) < 0.02 * span
            and len(outside(v)) <= 2
        ),
        what="the lines in the zoomed x range",
    )
    # ... and are drawn in full: a column of pixels holds fewer points than before.
    after = len(inside(trace, *shown))
    assert after >= 1.5 * before, (before, after)
    pixels = await page.evaluate(_CANVAS_COLOURS_JS, FIELD_PLOT)
    assert max(pixels.values()) >= 20, pixels
    await save_screenshot(page, "charts-zoomed", element=page.locator(".sw-root").first)

    # A double click: the whole span again, following the live feed.
    await page.locator(f".sw-root {FIELD_PLOT}").first.scroll_into_view_if_needed()
    box = await page.evaluate(_PLOT_BOX_JS, FIELD_PLOT)
    await page.mouse.dblclick(box["left"] + box["width"] / 2, box["top"] + box["height"] / 2)
    await wait_for(
        page,
        zoomed,
        lambda v: v[1][1] - v[1][0] > 0.9 * span and v[0]["x"][-1] > shown[1] + 1000,
        what="the live span after a double click",
    )
