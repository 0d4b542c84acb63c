"""The live table of recent events and the field picker, in real JupyterLab and Notebook 7.

The table shows the server's values in columns (checked against ``w.df`` in the kernel),
filters by stream and type in the page only, freezes while the kernel keeps buffering,
and opens an event in an inspector that stays. The picker puts measurements before ids
and times, narrows as you type, and charts a field split by a key (checked in
``w.charts``). At 332 px wide nothing is cut: the table scrolls sideways.
"""

from __future__ import annotations

import asyncio
import json
import re
from pathlib import Path

from playwright.async_api import expect

from tests.support.waiting import seconds

from .jupyter import (
    open_notebook,
    run_cell,
    save_screenshot,
    wait_for_cell_output,
    wait_for_selector_in_output,
    write_notebook,
)
from .table_rows import walk_table

PROBE_FILE = "table_probe.json"

_MAKE = """\
from streamwidgets import StreamWidget
w = StreamWidget.demo(rate=50)
w"""

# Does w.df hold a row of the probed stream and type whose values are the cells the table
# showed (numbers compared as numbers: the buffer may hold an int of a float column)?
_MATCH = """\
import json, math
import pandas as pd
q = json.load(open("table_probe.json"))
df = w.df
rows = df[(df["stream"] == q["stream"]) & (df["type"] == q["type"])]
def same(text, value):
    if value is None or value is pd.NA or (isinstance(value, float) and math.isnan(value)):
        return text == ""
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        return float(text) == float(value)
    return text == str(value)
def shown_time(row):
    t = row["event_time"] if not pd.isna(row["event_time"]) else row["received_at"]
    return t.strftime("%H:%M:%S.%f")[:-3]
found = [
    int(r["seq"]) for _, r in rows.iterrows()
    if shown_time(r) == q["time"] and all(same(t, r[c]) for c, t in q["cells"].items())
]
print("table row in w.df:", len(found), "of", len(rows), "columns", len(q["cells"]))
if not found:
    near = rows[[shown_time(r) == q["time"] for _, r in rows.iterrows()]]
    print("same time:", near.to_dict("records"), "newest:", rows.tail(2).to_dict("records"))"""

_GROWTH = """\
import asyncio
n0 = w.stats["events"]
await asyncio.sleep(2.5)
print("events grew by", w.stats["events"] - n0)"""

_CHARTS = 'print("charts:", [(c["stream"], c["type"], c["field"], c.get("by")) for c in w.charts])'

# The table as the page shows it: header texts, and per drawn row (those in the scroller's
# view and a few around them) its data attributes and cells.
_TABLE_JS = """(root) => {
  const table = root.querySelector('.sw-table');
  return {
    heads: [...table.tHead.rows[0].cells].map((c) => c.textContent),
    rows: [...table.querySelectorAll('tbody tr.sw-event')].map((r) => ({
      seq: Number(r.dataset.seq), stream: r.dataset.stream, type: r.dataset.type,
      cells: [...r.cells].map((c) => c.textContent),
    })),
  };
}"""

# Elements of the widget that stick out of it, at its current width.
_OVERFLOW_JS = """(root) => {
  const box = root.getBoundingClientRect();
  const sel = '.sw-fields button, .sw-fields select, .sw-fields input, ' +
    '.sw-table-bar button, .sw-table-bar select, .sw-recent, .sw-inspector';
  return [...root.querySelectorAll(sel)]
    .filter((n) => n.offsetParent !== null)
    .map((n) => [n.className, n.getBoundingClientRect()])
    .filter(([, r]) => r.left < box.left - 0.5 || r.right > box.right + 0.5)
    .map(([name, r]) => `${name}: ${r.left}-${r.right} outside ${box.left}-${box.right}`);
}"""


def _notebook(server, name: str) -> dict[str, int]:
    cells = {"make": _MAKE, "match": _MATCH, "growth": _GROWTH, "charts": _CHARTS}
    write_notebook(server, name, *cells.values())
    return {key: index for index, key in enumerate(cells)}


async def _start(page, server, name: str, ui: str) -> tuple[dict[str, int], object]:
    cells = _notebook(server, name)
    await open_notebook(page, server, name, ui)
    await run_cell(page, cells["make"])
    state = (await wait_for_selector_in_output(page, ".sw-state")).first
    await expect(state).to_have_attribute("data-state", "connected", timeout=seconds(20) * 1000)
    await (await wait_for_selector_in_output(page, ".sw-recent tr.sw-event")).first.wait_for()
    return cells, (await wait_for_selector_in_output(page, ".sw-root")).first


async def _table(root) -> dict:
    return await root.evaluate(_TABLE_JS)


async def _wait_table(root, predicate, what: str, timeout: float = 20.0) -> dict:
    deadline = asyncio.get_running_loop().time() + seconds(timeout)
    while True:
        table = await _table(root)
        if predicate(table):
            return table
        if asyncio.get_running_loop().time() > deadline:
            raise AssertionError(f"the table never {what}; last {json.dumps(table)[:2000]}")
        await asyncio.sleep(0.1)


async def test_table_shows_the_servers_values_and_filters_by_stream_and_type(
    page, jupyter_server, ui
):
    cells, root = await _start(page, jupyter_server, f"table_values_{ui}.ipynb", ui)
    table = await _table(root)
    assert table["heads"][:3] == ["time (UTC)", "stream", "type"], table["heads"]
    assert any(h.startswith("data.") for h in table["heads"][3:]), table["heads"]
    assert len({r["stream"] for r in table["rows"]}) > 1, "the demo sends several streams"

    # Only markets / market_update rows, and the count says how many of all are shown.
    await root.locator(".sw-filter-stream").select_option("markets")
    await _wait_table(
        root,
        lambda t: t["rows"] and all(r["stream"] == "markets" for r in t["rows"]),
        "showed markets rows only",
    )
    await root.locator(".sw-filter-type").select_option("market_update")
    table = await _wait_table(
        root,
        lambda t: t["rows"] and all(r["type"] == "market_update" for r in t["rows"]),
        "showed market_update rows only",
    )
    assert {r["stream"] for r in table["rows"]} == {"markets"}
    count = await root.locator(".sw-table-count").text_content() or ""
    shown, total = (int(n.replace(",", "")) for n in re.findall(r"[\d,]+", count))
    assert 0 < shown < total, count
    assert "data.price" in table["heads"] and "data.symbol" in table["heads"], table["heads"]

    # The newest row's cells are the values of one row of w.df, time included.
    row = table["rows"][0]
    cells_shown = dict(zip(table["heads"], row["cells"], strict=True))
    probe = {
        "stream": row["stream"],
        "type": row["type"],
        "time": cells_shown.pop("time (UTC)"),
        "cells": {k: v for k, v in cells_shown.items() if k.startswith("data.")},
    }
    assert probe["cells"]["data.price"] and probe["cells"]["data.symbol"], probe
    Path(jupyter_server.root_dir, PROBE_FILE).write_text(json.dumps(probe))
    for _ in range(3):  # the buffer may take a moment to hold the newest rows
        await run_cell(page, cells["match"])
        said = await wait_for_cell_output(page, cells["match"], "table row in w.df:")
        found = int(re.search(r"table row in w.df: (\d+)", said).group(1))
        if found:
            break
        await asyncio.sleep(1.0)
    assert found >= 1, (said, probe)

    # Back to all streams: other streams' rows come back.
    await root.locator(".sw-filter-stream").select_option("")
    await _wait_table(
        root, lambda t: len({r["stream"] for r in t["rows"]}) > 1, "showed all streams again"
    )


async def test_freeze_holds_the_table_and_the_inspector_stays(page, jupyter_server):
    cells, root = await _start(page, jupyter_server, "table_freeze.ipynb", "lab")
    # Live, the newest row changes as events arrive.
    first = (await _table(root))["rows"][0]["seq"]
    await _wait_table(root, lambda t: t["rows"][0]["seq"] > first, "moved while live")

    freeze = root.locator(".sw-freeze")
    await freeze.click()
    await expect(freeze).to_have_attribute("aria-pressed", "true")
    held = await _table(root)
    await run_cell(page, cells["growth"], timeout=30)
    grew = await wait_for_cell_output(page, cells["growth"], "events grew by")
    assert int(re.search(r"grew by (\d+)", grew).group(1)) > 50, grew
    assert await _table(root) == held, "a frozen table changed"
    note = root.locator(".sw-freeze-note")
    await expect(note).to_have_text(re.compile(r"^frozen, [\d,]+ new$"))
    fresh = int(re.sub(r"\D", "", await note.text_content() or ""))
    assert fresh > 50, await note.text_content()

    await freeze.click()
    await expect(freeze).to_have_attribute("aria-pressed", "false")
    await expect(note).to_be_hidden()
    newest = await _wait_table(
        root, lambda t: t["rows"][0]["seq"] > held["rows"][0]["seq"], "showed the newest again"
    )
    assert newest["rows"][0]["seq"] > held["rows"][0]["seq"]

    # The inspector: open a row, it stays on that event while the row leaves the table.
    await root.locator(".sw-filter-stream").select_option("markets")
    await _wait_table(root, lambda t: all(r["stream"] == "markets" for r in t["rows"]), "filtered")
    seq = await root.locator("tr.sw-event").nth(2).get_attribute("data-seq")
    row = root.locator(f'tr.sw-event[data-seq="{seq}"]')
    price_col = (await _table(root))["heads"].index("data.price")
    price = await row.locator("td").nth(price_col).text_content()
    await row.click()
    inspector = root.locator(".sw-inspector")
    await expect(inspector).to_be_visible()
    await expect(inspector).to_have_attribute("data-seq", seq)
    leaf = inspector.locator(".sw-json-leaf", has=page.locator(".sw-json-key", has_text='"price":'))
    await expect(leaf.locator(".sw-json-value")).to_have_text(price)
    shown = await inspector.text_content()
    await save_screenshot(page, "table-inspector-jupyterlab", element=root)
    await asyncio.sleep(3.5)  # 50 events/s: the row has left the 100 kept by now
    await expect(root.locator(f'tr.sw-event[data-seq="{seq}"]')).to_have_count(0)
    await expect(inspector).to_be_visible()
    await expect(inspector).to_have_attribute("data-seq", seq)
    assert await inspector.text_content() == shown

    # Keyboard: a node of the tree closes and opens with Enter; Escape closes the panel.
    node = inspector.locator("details.sw-json-node").first
    await node.locator(":scope > summary").focus()
    await page.keyboard.press("Enter")
    await expect(node).not_to_have_attribute("open", "")
    await page.keyboard.press("Enter")
    await expect(node).to_have_attribute("open", "")
    await inspector.locator(".sw-inspector-close").click()
    await expect(inspector).to_be_hidden()

    # 332 px wide: nothing sticks out; the table scrolls sideways instead.
    await root.evaluate("(r) => { r.style.width = '332px'; }")
    await page.wait_for_timeout(300)
    assert await root.evaluate(_OVERFLOW_JS) == []
    scroller = root.locator(".sw-recent")
    assert await scroller.evaluate("(s) => s.scrollWidth > s.clientWidth + 50")
    await root.locator("tr.sw-event").first.click()
    await expect(inspector).to_be_visible()
    assert await root.evaluate(_OVERFLOW_JS) == []
    await save_screenshot(page, "table-332px-jupyterlab", element=root)


# The row that has the keyboard's focus: its seq, and whether it is inside the scroller's view.
_FOCUSED_JS = """(root) => {
  const row = document.activeElement;
  if (!row || !row.matches('tr.sw-event') || !root.contains(row)) return null;
  const view = root.querySelector('.sw-recent').getBoundingClientRect();
  const box = row.getBoundingClientRect();
  const inView = box.top >= view.top && box.bottom <= view.bottom + 1;
  return { seq: Number(row.dataset.seq), inView };
}"""


async def test_recent_500_every_row_reached_by_scrolling_and_by_keyboard(page, jupyter_server):
    """recent=500 holds 500 rows; the DOM holds only those in view, so the proof is a walk:
    scrolled to the end, all 500 are seen, newest first, contiguous; End and Home move the
    keyboard's focus to the last and the first of them, and Enter opens the last one."""
    # 200 events/s: under the rate the kernel sends every recent event at (250/s).
    make = _MAKE.replace("rate=50", "rate=200, recent=500")
    write_notebook(jupyter_server, "table_500.ipynb", make)
    await open_notebook(page, jupyter_server, "table_500.ipynb", "lab")
    await run_cell(page, 0)
    root = (await wait_for_selector_in_output(page, ".sw-root")).first
    count = root.locator(".sw-table-count")
    await expect(count).to_have_text("500 rows", timeout=seconds(40) * 1000)
    await root.locator(".sw-freeze").click()
    await expect(root.locator(".sw-freeze")).to_have_attribute("aria-pressed", "true")
    await expect(root.locator(".sw-table-sample")).to_be_hidden()  # every event, no sample

    walk = await walk_table(root)
    seqs = [r["seq"] for r in walk["rows"]]
    assert walk["count"] == "500 rows", walk["count"]
    assert len(seqs) == 500, (len(seqs), seqs[:3], seqs[-3:])
    assert seqs == list(range(seqs[0], seqs[0] - 500, -1)), "rows missing or out of order"
    assert walk["mostInDom"] < 100, walk["mostInDom"]
    assert walk["steps"] > 10, walk["steps"]  # 500 rows are many views tall
    first, last = seqs[0], seqs[-1]

    # Keyboard: from the first row, End reaches the oldest row (not drawn until then), Home
    # the newest; each is focused inside the view, and Enter opens the focused event.
    await root.locator(".sw-recent").evaluate("(s) => { s.scrollTop = 0; }")
    await expect(root.locator(f'tr.sw-event[data-seq="{first}"]')).to_be_visible()
    await root.locator(f'tr.sw-event[data-seq="{first}"]').focus()
    await page.keyboard.press("ArrowDown")
    assert await root.evaluate(_FOCUSED_JS) == {"seq": first - 1, "inView": True}
    await page.keyboard.press("End")
    await expect(root.locator(f'tr.sw-event[data-seq="{last}"]')).to_be_focused()
    await page.wait_for_timeout(100)  # the scroll's frame
    assert await root.evaluate(_FOCUSED_JS) == {"seq": last, "inView": True}
    await page.keyboard.press("Enter")
    inspector = root.locator(".sw-inspector")
    await expect(inspector).to_have_attribute("data-seq", str(last))
    await page.keyboard.press("Home")
    await expect(root.locator(f'tr.sw-event[data-seq="{first}"]')).to_be_focused()
    await page.wait_for_timeout(100)
    assert await root.evaluate(_FOCUSED_JS) == {"seq": first, "inView": True}
    await expect(inspector).to_have_attribute("data-seq", str(last))  # the inspector stays


async def test_picker_search_puts_measurements_first_and_charts_split_by_a_key(
    page, jupyter_server, ui
):
    cells, root = await _start(page, jupyter_server, f"picker_{ui}.ipynb", ui)
    picker = root.locator("select.sw-field-picker")
    price = "markets / market_update / data.price"
    await expect(picker.locator("option", has_text=price)).to_have_count(1, timeout=20_000)

    # Measurements come before ids and times (in their own group after them).
    groups = await picker.evaluate(
        "(p) => [...p.querySelectorAll('option[data-group]')].map(o => [o.dataset.group, o.text])"
    )
    kinds = [g for g, _ in groups]
    assert kinds == sorted(kinds, key=lambda g: g != "measure"), groups
    other = {label for g, label in groups if g == "other"}
    assert "markets / market_update / data.timestamp" in other, groups
    assert price in {label for g, label in groups if g == "measure"}, groups

    # Typing narrows the list to what matches, and picks the first match.
    search = root.locator(".sw-field-search")
    await search.fill("market_update price")
    visible = await picker.evaluate(
        "(p) => [...p.querySelectorAll('option[data-group]:not([hidden])')].map(o => o.text)"
    )
    assert visible == [price], visible
    assert len(groups) > len(visible)
    assert json.loads(await picker.input_value())["field"] == "data.price"

    # The split key defaults to the group's first key; Enter charts the field split by it.
    split = root.locator(".sw-split-by")
    await expect(split).to_have_value("data.symbol")
    await search.press("Enter")
    chip = root.locator('.sw-chart-chip[data-id="markets|market_update|data.price|data.symbol"]')
    await expect(chip).to_be_visible(timeout=seconds(10) * 1000)
    await run_cell(page, cells["charts"])
    await wait_for_cell_output(
        page, cells["charts"], "('markets', 'market_update', 'data.price', 'data.symbol')"
    )
