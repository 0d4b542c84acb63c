"""The quickstart notebook, run in real JupyterLab and Notebook 7 in Chromium.

Cells are added to a copy of the quickstart: one prints what the embedded
simulator received (so a click can be checked on the server side), one displays
the same widget a second time (a view opened later must draw the current window),
one counts the running widgets (re-running the cell that made one replaces it).
"""

from __future__ import annotations

import asyncio
import json
from pathlib import Path

import nbformat
from playwright.async_api import expect

from streamwidgets import read_export
from tests.support.waiting import seconds

from .jupyter import (
    open_notebook,
    run_all_cells,
    run_cell,
    save_screenshot,
    wait_for_cell_output,
    wait_for_selector_in_output,
)
from .table_rows import walk_table

QUICKSTART = Path(__file__).resolve().parents[2] / "notebooks" / "quickstart.ipynb"

_PRINT_UNSUBSCRIBES = (
    "print('unsubscribed:', sorted({s for _, c in w.simulator.commands "
    "if c.get('action') == 'unsubscribe' for s in c.get('streams', [])}))"
)

_PRINT_RUNNING = (
    "w.wait(state='connected', timeout=20)\n"
    "print('running:', [(x is w, x.state) for x in StreamWidget.running()], "
    "'first:', first.state, first.reason)"
)

_COLOURS_JS = """() => {
  const root = document.querySelector('.sw-root');
  const plot = document.querySelector('.sw-field-chart .js-plotly-plot');
  return {root: getComputedStyle(root).color, font: plot._fullLayout.font.color};
}"""

# Points drawn per charted series (a split series' keys summed), in chart order.
_TRACE_POINTS_JS = """(index) => {
  // The index-th view with drawn field charts (one plotly figure per charted field).
  const sel = '.sw-field-chart .js-plotly-plot';
  const root = [...document.querySelectorAll('.sw-root')].filter(r => r.querySelector(sel))[index];
  const drawn = (plot) => (plot.parentElement.querySelector('canvas.sw-traces') || {}).swTraces;
  const plots = root ? [...root.querySelectorAll(sel)].filter(drawn) : [];
  if (!plots.length) return null;
  const per = new Map();
  for (const t of plots.flatMap(drawn)) {
    const id = Array.isArray(t.meta) ? t.meta[0] : t.meta;
    per.set(id, (per.get(id) || 0) + t.x.length);
  }
  return [...per.values()];
}"""


def quickstart_with_probes(server) -> tuple[str, dict[str, int]]:
    """Copy the quickstart with the probe cells; return its name and the cells' indices."""
    notebook = nbformat.read(QUICKSTART, as_version=4)
    cells = {
        "maker": next(
            i
            for i, c in enumerate(notebook.cells)
            if c.cell_type == "code" and "StreamWidget.demo()" in c.source
        )
    }
    for name, source in (
        ("unsubscribes", _PRINT_UNSUBSCRIBES),
        ("display_again", "w"),
        ("keep_first", "first = w"),
        ("running", _PRINT_RUNNING),
    ):
        cells[name] = len(notebook.cells)
        notebook.cells.append(nbformat.v4.new_code_cell(source))
    path = Path(server.root_dir) / "quickstart_probed.ipynb"
    nbformat.write(notebook, path)
    return path.name, cells


async def trace_points(page, view: int = 0) -> list[int] | None:
    return await page.evaluate(_TRACE_POINTS_JS, view)


async def wait_for_points(page, predicate, view: int = 0, timeout: float = 20.0) -> list[int]:
    deadline = asyncio.get_running_loop().time() + seconds(timeout)
    while True:
        points = await trace_points(page, view)
        if points is not None and predicate(points):
            return points
        if asyncio.get_running_loop().time() > deadline:
            raise AssertionError(f"trace points never met the condition; last {points}")
        await asyncio.sleep(0.1)


async def test_quickstart_in_jupyterlab(page, jupyter_server, tmp_path):
    name, cells = quickstart_with_probes(jupyter_server)
    await open_notebook(page, jupyter_server, name, "lab")
    await run_all_cells(page, "lab", timeout=120)
    state = (await wait_for_selector_in_output(page, ".sw-state")).first
    await expect(state).to_have_attribute("data-state", "connected", timeout=seconds(20) * 1000)
    status = (await wait_for_selector_in_output(page, ".sw-status")).first
    assert "live" in (await status.text_content() or "")  # connected, not paused

    # The charts grow over time (the demo's two split series and the quickstart's one).
    first = await wait_for_points(page, lambda p: len(p) == 3 and min(p) > 0)
    await wait_for_points(page, lambda p: sum(p) > sum(first))
    # One events/s trace per subscribed stream (the chart draws completed seconds).
    # (A view scrolled out of sight starts its charts only once it is seen.)
    await page.wait_for_function(
        "() => document.querySelector('.sw-rate-chart .js-plotly-plot + canvas.sw-traces')"
        ".swTraces.length >= 4",
        timeout=seconds(10) * 1000,
    )

    # A toggle unsubscribes on the server, and the toggle follows what the server said.
    toggle = (await wait_for_selector_in_output(page, '.sw-stream[data-stream="signals"]')).first
    await expect(toggle).to_have_attribute("aria-pressed", "true")
    await toggle.click()
    await expect(toggle).to_have_attribute("aria-pressed", "false", timeout=seconds(10) * 1000)
    await run_cell(page, cells["unsubscribes"])
    await wait_for_cell_output(page, cells["unsubscribes"], "'signals'")
    await toggle.click()
    await expect(toggle).to_have_attribute("aria-pressed", "true", timeout=seconds(10) * 1000)

    # The field picker adds a trace.
    picker = (await wait_for_selector_in_output(page, "select.sw-field-picker")).first
    label = "aircraft / position_update / data.altitude"
    await expect(picker.locator("option", has_text=label)).to_have_count(1)
    await picker.select_option(label=label)
    # Unsplit: the picker splits by the group's first key unless told "none".
    await (await wait_for_selector_in_output(page, ".sw-split-by")).first.select_option("")
    await (await wait_for_selector_in_output(page, ".sw-add-field")).first.click()
    series = "aircraft|position_update|data.altitude"
    chip = (await wait_for_selector_in_output(page, f'.sw-chart-chip[data-id="{series}"]')).first
    await expect(chip).to_be_visible()
    await wait_for_points(page, lambda p: len(p) == 4 and p[3] > 0)

    # A second display of the same widget draws the current window at once.
    await run_cell(page, cells["display_again"])
    # (one plotly figure per charted field: count the views' chart boxes holding them)
    views = await wait_for_selector_in_output(page, ".sw-field-chart:has(.js-plotly-plot)")
    await expect(views).to_have_count(2, timeout=seconds(20) * 1000)
    # Updates draw at once; the window answers the view's hello (after the cell ran).
    await page.wait_for_function(
        "() => [...document.querySelectorAll('.sw-root')].every(r => r.__swPerf.windows > 0)"
    )
    again = await wait_for_points(page, lambda p: len(p) == 4 and p[0] >= first[0], view=1)
    assert min(again) > 0

    # Export downloads the buffer as a file.
    export = (await wait_for_selector_in_output(page, '.sw-export[data-format="csv"]')).first
    async with page.expect_download(timeout=seconds(20) * 1000) as download_info:
        await export.click()
    download = await download_info.value
    assert download.suggested_filename.endswith(".csv")
    csv_text = Path(await download.path()).read_text()
    assert csv_text.startswith("seq,received_at,event_time,stream,type,snapshot")
    assert len(csv_text.splitlines()) > 100
    # Parquet arrives as binary and reads back typed, timestamps in UTC.
    export = (await wait_for_selector_in_output(page, '.sw-export[data-format="parquet"]')).first
    async with page.expect_download(timeout=seconds(20) * 1000) as download_info:
        await export.click()
    download = await download_info.value
    assert download.suggested_filename.endswith(".parquet")
    saved = tmp_path / download.suggested_filename
    await download.save_as(saved)
    rows = read_export(saved)
    assert len(rows) > 100
    assert str(rows["received_at"].dtype) == "datetime64[ns, UTC]"
    csv_streams = {line.split(",")[3] for line in csv_text.splitlines()[1:]}
    assert csv_streams <= set(rows["stream"])

    root = (await wait_for_selector_in_output(page, ".sw-root")).first
    await save_screenshot(page, "quickstart-jupyterlab", element=root)

    # The widget follows JupyterLab's theme, charts included.
    light = await page.evaluate(_COLOURS_JS)
    await page.evaluate(
        "() => window.jupyterapp.commands.execute("
        "'apputils:change-theme', {theme: 'JupyterLab Dark'})"
    )
    await page.wait_for_selector('body[data-jp-theme-light="false"]', state="attached")
    for _ in range(100):
        dark = await page.evaluate(_COLOURS_JS)
        if dark != light:
            break
        await asyncio.sleep(0.1)
    assert dark["root"] != light["root"] and dark["font"] != light["font"], (light, dark)
    await save_screenshot(page, "quickstart-jupyterlab-dark", element=root)
    perf = await page.evaluate(
        "() => { const p = document.querySelector('.sw-root').__swPerf;"
        " return {updates: p.updates, frames: p.frames, messages: p.messages}; }"
    )
    assert perf["updates"] > 10 and perf["frames"] <= perf["messages"], json.dumps(perf)

    # Re-running the cell that made the widget replaces it: JupyterLab sends the cell id.
    await run_cell(page, cells["keep_first"])
    await run_cell(page, cells["maker"])
    await run_cell(page, cells["running"])
    await wait_for_cell_output(
        page, cells["running"], "running: [(True, 'connected')] first: closed replaced by"
    )


async def test_quickstart_smoke_in_notebook_7(page, jupyter_server):
    name = jupyter_server.copy_notebook(QUICKSTART)
    await open_notebook(page, jupyter_server, name, "notebook")
    await run_all_cells(page, "notebook", timeout=120)
    state = (await wait_for_selector_in_output(page, ".sw-state")).first
    await expect(state).to_have_attribute("data-state", "connected", timeout=seconds(20) * 1000)
    first = await wait_for_points(page, lambda p: len(p) == 3 and min(p) > 0)
    await wait_for_points(page, lambda p: sum(p) > sum(first))
    recent = await wait_for_selector_in_output(page, ".sw-recent tr.sw-event")
    assert await recent.count() > 0
    root = (await wait_for_selector_in_output(page, ".sw-root")).first
    await save_screenshot(page, "quickstart-notebook7", element=root)


async def test_a_feed_without_subscriptions_filters_on_the_client(page, jupyter_server):
    """Hydra v1 has no subscribe step: its toggles hide and show streams in the browser."""
    notebook = Path(__file__).resolve().parents[2] / "notebooks" / "hydra_v1.ipynb"
    name = jupyter_server.copy_notebook(notebook)
    await open_notebook(page, jupyter_server, name, "lab")
    await run_all_cells(page, "lab", timeout=120)
    state = (await wait_for_selector_in_output(page, ".sw-state")).first
    await expect(state).to_have_attribute("data-state", "connected", timeout=seconds(20) * 1000)
    note = (await wait_for_selector_in_output(page, ".sw-streams-note")).first
    await expect(note).to_be_visible()
    aircraft = page.locator('.sw-recent .sw-event[data-stream="aircraft"]')
    await expect(aircraft.first).to_be_visible(timeout=seconds(20) * 1000)

    toggle = (await wait_for_selector_in_output(page, '.sw-stream[data-stream="aircraft"]')).first
    await expect(toggle).to_have_attribute("aria-pressed", "true")
    await toggle.click()
    await expect(toggle).to_have_attribute("aria-pressed", "false")
    await expect(aircraft.first).to_be_hidden()
    others = page.locator('.sw-recent .sw-event:not([data-stream="aircraft"])')
    await expect(others.first).to_be_visible()
    await toggle.click()
    await expect(aircraft.first).to_be_visible(timeout=seconds(20) * 1000)


async def test_recent_500_keeps_500_events_in_the_page(page, jupyter_server):
    """StreamWidget(recent=500) lists 500 recent events, as many as its kernel keeps: the
    browser reads the limit from the widget's `recent` trait."""
    notebook = nbformat.read(QUICKSTART, as_version=4)
    notebook.cells = [
        nbformat.v4.new_code_cell(
            "from streamwidgets import StreamWidget\n"
            "w = StreamWidget.demo(rate=500, recent=500, update_hz=30)\n"
            "w"
        )
    ]
    nbformat.write(notebook, Path(jupyter_server.root_dir) / "recent_500.ipynb")
    await open_notebook(page, jupyter_server, "recent_500.ipynb", "lab")
    await run_all_cells(page, "lab", timeout=120)
    root = (await wait_for_selector_in_output(page, ".sw-root")).first
    count = root.locator(".sw-table-count")
    await expect(count).to_have_text("500 rows", timeout=seconds(40) * 1000)
    await asyncio.sleep(1.0)  # more keep arriving; the list stays at 500
    await expect(count).to_have_text("500 rows")
    # Only the rows in view are drawn: scrolled through (frozen, so they hold still), the
    # table shows 500 distinct events.
    await root.locator(".sw-freeze").click()
    walk = await walk_table(root)
    assert len({r["seq"] for r in walk["rows"]}) == 500, (walk["count"], len(walk["rows"]))
