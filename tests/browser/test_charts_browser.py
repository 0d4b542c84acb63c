"""The charts in real JupyterLab (and Notebook 7) in Chromium: what the page draws.

Each test runs a feed simulator inside the notebook's kernel and looks at plotly's own
state (``gd.data``, ``gd._fullLayout``) and at the drawn SVG: traces per key of a split
chart, breaks in the lines after a pause and an outage, "waiting for data" on an empty
chart, distinct stream colours that survive a reload, flat tick labels, and a narrow
output whose names and legend fit.
"""

from __future__ import annotations

import asyncio
import json
import time

import nbformat
from playwright.async_api import expect

from tests.support.waiting import seconds

from .footprint import save_notebook
from .jupyter import (
    open_notebook,
    run_cell,
    save_screenshot,
    wait_for_selector_in_output,
)

KERNELSPEC = {"name": "python3", "display_name": "Python 3", "language": "python"}

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
};"""

# Each trace of the plots: its name, meta, colour, points and where y is NaN (a break).
_TRACES_JS = (
    """(sel) => {"""
    + _PLOTS
    + """
  const gds = plots(sel).filter(gd => gd.data);
  if (!gds.length) return null;
  return gds.flatMap(gd => gd.data).map((t, i) => {
    const y = Array.from(t.y || []);
    const x = Array.from(t.x || []);
    return {
      name: t.name, meta: t.meta, color: t.line && t.line.color, n: y.length,
      yaxis: t.yaxis || 'y', hover: t.hovertemplate || '', visible: t.visible,
      nan: y.map((v, k) => (v === null || Number.isNaN(v)) ? x[k] : null).filter(v => v !== null),
      x, y: y.map(v => (v === null || Number.isNaN(v)) ? null : v),
    };
  });
}"""
)

# The drawn line of each trace (plotly's SVG path): how many pieces ("M" moves) it has.
_PATH_PIECES_JS = (
    """(sel) => {"""
    + _PLOTS
    + """
  return plots(sel).flatMap(gd => [...gd.querySelectorAll('.scatterlayer .trace')]).map(tr =>
    [...tr.querySelectorAll('path.js-line')]
      .map(p => ((p.getAttribute('d') || '').match(/M/g) || []).length)
      .reduce((a, b) => a + b, 0));
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


# The legend's drawn height (its background box; entries beyond it scroll).
_LEGEND_JS = """(sel) => {
  const bg = document.querySelector(sel + ' .legend rect.bg');
  return bg ? bg.getBoundingClientRect().height : 0;
}"""


def write_notebook(server, name: str, *cells: str) -> str:
    notebook = nbformat.v4.new_notebook()
    notebook.cells = [nbformat.v4.new_code_cell(cell) for cell in cells]
    notebook.metadata["kernelspec"] = KERNELSPEC
    nbformat.write(notebook, server.root_dir / name)
    return name


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
    name = write_notebook(jupyter_server, f"charts_split_{ui}.ipynb", cell, split)
    await open_notebook(page, jupyter_server, name, ui)
    await run_cell(page, 0, timeout=60)
    await connected(page)
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
    assert len({t["yaxis"] for t in shown}) == 1, "all keys share the chart's y axis"
    for t in shown:
        assert t["meta"][1] in t["hover"] and "price" in t["hover"], t["hover"]
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
    name = write_notebook(
        jupyter_server, "charts_gaps.ipynb", cell, "w.pause()", "w.resume()", outage
    )
    await open_notebook(page, jupyter_server, name, "lab")
    await run_cell(page, 0, timeout=60)
    await connected(page)
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
    name = write_notebook(jupyter_server, "charts_eleven.ipynb", PUSHER_CELL.format(streams=ELEVEN))
    await open_notebook(page, jupyter_server, name, "lab")
    await run_cell(page, 0, timeout=60)
    await connected(page)

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
    name = write_notebook(jupyter_server, "charts_narrow.ipynb", cell)
    await open_notebook(page, jupyter_server, name, "lab")
    await run_cell(page, 0, timeout=60)
    await connected(page)
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
