"""Times and values in the page are the server's, and the live table has no holes.

Checked against a strict Hydra server written from the feed's document alone
(``time_attack_server``), which keeps every message it sent: each event carries a unique
``data.id``, so every row the page draws is matched to the message it came from.

- The table's "time (UTC)" cells (``HH:MM:SS.mmm``), their tooltips (``YYYY-MM-DD
  HH:MM:SS.mmm UTC``) and the inspector's header time equal the sent ``ts`` (ms): 240+
  distinct whole-ms values (consecutive ms across a second boundary, random ms across a
  day, ``.999`` ms, just before and after midnight UTC, 1999 and 2099).
- A charted field's hover label shows the sent value and ``ts``.
- At 200 events/s with ``recent=500``, with the kernel blocked by ``time.sleep(1.5)``
  three times, and after a burst of 500 events at once, the frozen table walked top to
  bottom holds exactly the newest 500 events sent, newest first, none missing.
- ``w.df["event_time"]`` equals the sent ``ts`` exactly.
- Fractional-ms ``ts`` (what a server computing ``performance.timeOrigin +
  performance.now()`` sends), out-of-order and duplicate ``ts``, and integers beyond
  2**53 and floats with 17 significant digits in the fields.

Readings where the documents are silent are given in each test's docstring.
"""

from __future__ import annotations

import asyncio
import json
import random
import re
import time
from datetime import UTC, datetime, timedelta
from decimal import ROUND_FLOOR, Decimal
from pathlib import Path
from typing import Any

import pytest
import pytest_asyncio
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
from .time_attack_server import TOKEN, HydraServer, now_ms

EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
STREAM, TYPE = "signals", "signal_new"


@pytest_asyncio.fixture(loop_scope="session")
async def hydra():
    """A fresh strict Hydra server on 127.0.0.1, port 0."""
    async with HydraServer() as server:
        yield server


# ----------------------------------------------------------------------------- expectations


def ms_of(dt: datetime) -> int:
    return (dt - EPOCH) // timedelta(milliseconds=1)


def floor_ms(ts: int | float) -> int:
    """The whole ms a ``ts`` (ms) falls in: the decimal the server wrote, floored."""
    return int(Decimal(repr(ts)).to_integral_value(rounding=ROUND_FLOOR))


def shown(ts: int | float) -> tuple[str, str]:
    """(table cell, tooltip) for ``ts``: the instant's ms, never rounded up."""
    ms = floor_ms(ts)
    dt = EPOCH + timedelta(milliseconds=ms)
    frac = f"{ms % 1000:03d}"
    return dt.strftime("%H:%M:%S.") + frac, dt.strftime("%Y-%m-%d %H:%M:%S.") + frac + " UTC"


def exact_ns(ts: int | float) -> int:
    """The ``ts`` the server wrote, in ns, exactly (its JSON decimal times 10**6)."""
    return int(Decimal(repr(ts)) * 1_000_000)


def payload(ident: str, ts: Any, n: int, **extra: Any) -> dict[str, Any]:
    """A ``signal_new`` data object as NOTES lists its fields."""
    data = {
        "id": ident,
        "title": f"t{n}",
        "description": "d",
        "category": "OTHER",
        "severity": 1 + n % 5,
        "lat": round(-60 + (n * 7.31) % 120, 4),
        "lng": 20.25,
        "tags": ["x"],
        "createdAt": floor_ms(ts),
    }
    data.update(extra)
    return data


def special_times() -> dict[str, int]:
    """Named edge ``ts`` values (ms)."""
    midnight = ms_of(datetime(2026, 12, 1, tzinfo=UTC))
    return {
        "before-midnight": midnight - 1,
        "midnight": midnight,
        "midnight+1ms": midnight + 1,
        "midnight+999ms": midnight + 999,
        "midnight+1s": midnight + 1000,
        "midnight+61.001s": midnight + 61_001,
        "1999-first": ms_of(datetime(1999, 1, 1, tzinfo=UTC)),
        "1999-mid": ms_of(datetime(1999, 7, 4, 12, 34, 56, 78_000, tzinfo=UTC)),
        "1999-last": ms_of(datetime(1999, 12, 31, 23, 59, 59, 999_000, tzinfo=UTC)),
        "2099-first": ms_of(datetime(2099, 1, 1, 0, 0, 0, 1000, tzinfo=UTC)),
        "2099-mid": ms_of(datetime(2099, 6, 15, 8, 9, 10, 11_000, tzinfo=UTC)),
        "2099-last": ms_of(datetime(2099, 12, 31, 23, 59, 59, 999_000, tzinfo=UTC)),
    }


def many_times() -> list[tuple[str, int]]:
    """240+ distinct whole-ms ``ts`` values, each with a unique id, in sending order."""
    rng = random.Random(20261130)
    day = ms_of(datetime(2026, 11, 30, tzinfo=UTC))
    out: list[tuple[str, int]] = []
    start = ms_of(datetime(2025, 11, 24, 16, 0, 0, tzinfo=UTC)) + 940  # crosses .999 -> .000
    out += [(f"c{i}", start + i) for i in range(120)]
    out += [(f"r{i}", day + rng.randrange(86_400_000)) for i in range(100)]
    out += [(f"n{i}", day + i * 3_600_000 + rng.randrange(60) * 1000 + 999) for i in range(12)]
    out += list(special_times().items())
    assert len({ts for _, ts in out}) == len(out)
    return out


# ----------------------------------------------------------------------------- page helpers

# The table as drawn at the top: heads, the count line, and the first rows' cells.
_TOP_JS = """async (root) => {
  const scroller = root.querySelector('.sw-recent');
  scroller.scrollTop = 0;
  await new Promise((r) => requestAnimationFrame(() => requestAnimationFrame(r)));
  const table = root.querySelector('.sw-table');
  return {
    heads: [...table.tHead.rows[0].cells].map((c) => c.textContent),
    count: root.querySelector('.sw-table-count').textContent,
    sample: root.querySelector('.sw-table-sample').hidden ? null
      : root.querySelector('.sw-table-sample').textContent,
    rows: [...table.querySelectorAll('tbody tr.sw-event')].slice(0, 3).map((r) =>
      [...r.cells].map((c) => c.textContent)),
  };
}"""

# Scroll the table until the row of ``seq`` is drawn, then put it in the middle of the view.
_SCROLL_TO_JS = """async (root, seq) => {
  const scroller = root.querySelector('.sw-recent');
  const frames = () => new Promise((r) => requestAnimationFrame(() => requestAnimationFrame(r)));
  scroller.scrollTop = 0;
  await frames();
  for (let steps = 0; steps < 1000; steps++) {
    const row = scroller.querySelector(`tbody tr.sw-event[data-seq="${seq}"]`);
    if (row) {
      row.scrollIntoView({block: 'center'});
      await frames();
      return true;
    }
    if (scroller.scrollTop + scroller.clientHeight >= scroller.scrollHeight - 1) return false;
    scroller.scrollTop += Math.max(1, scroller.clientHeight - 24);
    await frames();
  }
  return false;
}"""


def widget_cell(url: str, extra: str = "") -> str:
    return (
        "from streamwidgets import StreamWidget, feeds\n"
        f"w = StreamWidget(feeds.hydra({url!r}, token={TOKEN!r}), streams=[{STREAM!r}]{extra})\n"
        "w"
    )


async def start(page, server, hydra, name: str, cells: list[str]):
    """Open a notebook of ``cells``, run the first (the widget); returns its ``.sw-root``."""
    write_notebook(server, name, *cells)
    await open_notebook(page, server, name, "lab")
    await run_cell(page, 0)
    root = (await wait_for_selector_in_output(page, ".sw-root")).first
    await hydra.wait_subscribed(STREAM, timeout=seconds(30))
    await expect(root.locator(".sw-state")).to_have_attribute(
        "data-state", "connected", timeout=seconds(20) * 1000
    )
    return root


async def send_paced(hydra, items: list[tuple[str, Any, dict]], rate: float = 150.0) -> None:
    """Send ``(id, ts, data)`` events at about ``rate`` per second, in 20 ms ticks."""
    t0 = time.monotonic()
    for n, (_, ts, data) in enumerate(items):
        due = t0 + n / rate
        if (delay := due - time.monotonic()) > 0.005:
            await asyncio.sleep(delay)
        await hydra.emit(STREAM, TYPE, ts, data)


async def settle(root, last_id: str, count: str, timeout: float = 30.0) -> dict:
    """Wait until the table's newest row is ``last_id`` and its count line is ``count``."""
    deadline = time.monotonic() + seconds(timeout)
    while True:
        top = await root.evaluate(_TOP_JS)
        col = top["heads"].index("data.id") if "data.id" in top["heads"] else None
        newest = top["rows"][0][col] if col is not None and top["rows"] else None
        if newest == last_id and top["count"] == count:
            return top
        if time.monotonic() > deadline:
            raise AssertionError(f"table never settled on {last_id!r}, {count!r}: {top}")
        await asyncio.sleep(0.2)


async def freeze_and_walk(root) -> dict:
    freeze = root.locator(".sw-freeze")
    await freeze.click()
    await expect(freeze).to_have_attribute("aria-pressed", "true")
    return await walk_table(root)


def rows_by_id(walk: dict) -> list[dict]:
    """Walked rows, each with its ``id``, ``time`` cell and ``title`` (tooltip)."""
    heads = walk["heads"]
    idc, tc = heads.index("data.id"), heads.index("time (UTC)")
    return [
        {"seq": r["seq"], "id": r["cells"][idc], "time": r["cells"][tc], "title": r["title"]}
        | {h: r["cells"][i] for i, h in enumerate(heads)}
        for r in walk["rows"]
    ]


def time_problems(rows: list[dict], sent_ts: dict[str, Any]) -> list[str]:
    """Every row whose time cell or tooltip differs from its event's ``ts``."""
    out = []
    for r in rows:
        if r["id"] not in sent_ts:
            out.append(f"row {r['id']!r} (seq {r['seq']}) was never sent")
            continue
        ts = sent_ts[r["id"]]
        cell, tip = shown(ts)
        if r["time"] != cell or r["title"] != tip:
            out.append(
                f"row id {r['id']}: page {r['time']!r} / tooltip {r['title']!r}, "
                f"sent ts {ts!r} = {cell!r} / {tip!r}"
            )
    return out


async def kernel_check(page, server, index: int, name: str, expected: dict[str, Any]) -> str:
    """Run cell ``index`` (``DF_CHECK``) against ``{id: expected ns}``; returns its output."""
    Path(server.root_dir, name).write_text(json.dumps(expected))
    await run_cell(page, index, timeout=60)
    return await wait_for_cell_output(page, index, "DF CHECKED", timeout=30)


# w.df["event_time"] of each id against the expected ns (exact), and every id present once.
DF_CHECK = """\
import json
import pandas as pd
want = json.load(open({name!r}))
df = w.df
df = df[df["stream"] == "signals"]
bad, missing, twice = [], [], []
for ident, ns in want.items():
    got = df.loc[df["data.id"] == ident, "event_time"]
    if len(got) == 0:
        missing.append(ident)
        continue
    if len(got) > 1:
        twice.append(ident)
    t = got.iloc[0]
    if pd.isna(t) or t.value != ns:
        bad.append((ident, str(t), str(pd.Timestamp(ns, tz="UTC"))))
print("BAD", len(bad), bad[:15])
print("MISSING", len(missing), missing[:15])
print("TWICE", len(twice), twice[:15])
print("DF CHECKED", len(want))"""


def parse_check(output: str) -> dict[str, str]:
    return {
        m.group(1): m.group(2) for m in re.finditer(r"^(BAD|MISSING|TWICE) (\d+)", output, re.M)
    }


# ----------------------------------------------------------------------------- 1. times


async def test_table_time_cells_tooltips_and_inspector_equal_sent_ts(page, jupyter_server, hydra):
    """244 distinct whole-ms ``ts`` (120 consecutive across a .999 -> .000 second
    boundary, 100 random across a day, 12 at .999 ms, around midnight UTC, in 1999 and in
    2099): every drawn row's time cell is the ``ts``'s UTC ``HH:MM:SS.mmm``, its tooltip
    ``YYYY-MM-DD HH:MM:SS.mmm UTC``, and the inspector's header ends with that tooltip
    for the edge values."""
    root = await start(
        page,
        jupyter_server,
        hydra,
        "ta_times.ipynb",
        [widget_cell(hydra.url, ", recent=1000")],
    )
    times = many_times()
    items = [(i, ts, payload(i, ts, n)) for n, (i, ts) in enumerate(times)]
    await send_paced(hydra, items, rate=150)
    await settle(root, times[-1][0], f"{len(times)} rows")
    walk = await freeze_and_walk(root)
    rows = rows_by_id(walk)
    sent_ts = dict(times)
    problems = time_problems(rows, sent_ts)
    drawn = {r["id"] for r in rows}
    problems += [f"id {i} (ts {ts}) never drawn" for i, ts in times if i not in drawn]

    # The inspector of each edge event: its header names the event's time.
    order = [r["id"] for r in rows]
    inspector = root.locator(".sw-inspector")
    edges = [i for i, _ in times if i[0] not in "cr"] + ["c59", "c60", "r7"]
    for ident in edges:
        if ident not in order:
            continue
        index = order.index(ident)
        seq = rows[index]["seq"]
        assert await root.evaluate(_SCROLL_TO_JS, seq), f"row {seq} not reached"
        await root.locator(f'tr.sw-event[data-seq="{seq}"]').click()
        await expect(inspector).to_have_attribute("data-seq", str(seq))
        title = await inspector.locator(".sw-inspector-title").text_content() or ""
        body = await inspector.locator(".sw-inspector-body").text_content() or ""
        want = shown(sent_ts[ident])[1]
        if not title.endswith(want) or f'"{ident}"' not in body:
            problems.append(
                f"inspector of id {ident}: {title!r}, sent ts {sent_ts[ident]} = {want}"
            )
    await save_screenshot(page, "time-attack-table", element=root)
    assert len(rows) == len(times), (len(rows), walk["count"])
    assert not problems, "\n".join(problems[:40]) + f"\n({len(problems)} problems)"


# ----------------------------------------------------------------------------- 2. hover

_HOVER_POINT_JS = """({x, y}) => {
  const gd = document.querySelectorAll('.sw-root .js-plotly-plot')[1];
  const fl = gd._fullLayout; const r = gd.getBoundingClientRect();
  return {px: r.left + fl.xaxis._offset + fl.xaxis.l2p(x),
          py: r.top + fl.yaxis._offset + fl.yaxis.l2p(y)};
}"""
_HOVER_TEXT_JS = """() => {
  const h = document.querySelectorAll('.sw-root .sw-hover')[1];
  return h && !h.hidden && getComputedStyle(h).display !== 'none' ? h.innerText : null;
}"""
_TRACES_JS = """() => {
  const gd = document.querySelectorAll('.sw-root .js-plotly-plot')[1];
  const c = gd && gd.parentElement.querySelector('canvas.sw-traces');
  return c && c.swTraces ? c.swTraces.map((t) => ({x: Array.from(t.x), y: Array.from(t.y)}))
    : [];
}"""


async def hover_problems(page, pts: list[tuple[str, int, float]]) -> list[str]:
    """Hover each ``(id, ts, value)`` where plotly's axes put it; the label must show
    ``lat: <value>`` (as a float, exactly) and ``ts`` as ``YYYY-MM-DD HH:MM:SS.mmm UTC``."""
    problems = []
    for ident, ts, v in pts:
        xy = await page.evaluate(_HOVER_POINT_JS, {"x": ts, "y": v})
        await page.mouse.move(xy["px"], xy["py"])
        await asyncio.sleep(0.4)
        text = await page.evaluate(_HOVER_TEXT_JS)
        m = re.search(r"lat: (\S+)", text or "")
        value_ok = bool(m) and float(m.group(1).replace(",", "")) == v
        if not (text and value_ok and shown(ts)[1] in text):
            problems.append(
                f"point {ident}: label {text!r}, sent lat {v!r} ts {ts} = {shown(ts)[1]}"
            )
    return problems


async def chart_points(page, hydra, pts: list[tuple[str, int, float]]) -> None:
    """Send the first point, chart ``lat`` (cell 1), send the rest; wait until drawn."""
    await hydra.emit(STREAM, TYPE, pts[0][1], payload(pts[0][0], pts[0][1], 0, lat=pts[0][2]))
    await asyncio.sleep(1.0)
    await run_cell(page, 1)
    for n, (ident, ts, v) in enumerate(pts[1:], 1):
        await hydra.emit(STREAM, TYPE, ts, payload(ident, ts, n, lat=v))
        await asyncio.sleep(0.15)
    deadline = time.monotonic() + seconds(20)
    while True:
        traces = await page.evaluate(_TRACES_JS)
        if traces and len(traces[0]["x"]) >= len(pts):
            break
        assert time.monotonic() < deadline, f"chart never drew {len(pts)} points: {traces}"
        await asyncio.sleep(0.2)


async def test_chart_hover_label_shows_sent_time_and_value(page, jupyter_server, hydra):
    """``w.chart("lat", ...)``: hovering each point where plotly's axes put it shows
    ``lat: <value>`` with the sent value (compared as a float, so 0.1 + 0.2 must not
    show as 0.3) and the sent ``ts`` as ``YYYY-MM-DD HH:MM:SS.mmm UTC``."""
    chart = f"w.chart('lat', stream={STREAM!r}, type={TYPE!r})"
    root = await start(
        page, jupyter_server, hydra, "ta_hover.ipynb", [widget_cell(hydra.url), chart]
    )
    base = (now_ms() // 1000 - 20) * 1000
    values = [12.5, 0.1 + 0.2, 123456.78901234, -0.000123, 47.999999999, 3.14159265358979, 8.0]
    offsets = [67, 999, 1000 + 1, 1500 + 0, 2000 + 321, 3000 + 999, 4500 + 5]
    pts = [(f"h{k}", base + off, v) for k, (off, v) in enumerate(zip(offsets, values, strict=True))]
    await chart_points(page, hydra, pts)
    problems = await hover_problems(page, pts)
    await save_screenshot(page, "time-attack-hover", element=root)
    assert not problems, "\n".join(problems)


async def test_chart_hover_label_of_a_late_ts_point(page, jupyter_server, hydra):
    """Two events arrive after later ones (their ``ts`` earlier than the previous
    event's; the document gives ``ts`` no order). Reading: a time chart puts each point
    at its own ``ts``, so hovering it shows its own value and time, and hovering its
    neighbours still shows theirs; the line runs forward in time (no stroke back)."""
    chart = f"w.chart('lat', stream={STREAM!r}, type={TYPE!r})"
    await start(page, jupyter_server, hydra, "ta_hover_late.ipynb", [widget_cell(hydra.url), chart])
    base = (now_ms() // 1000 - 20) * 1000
    pts = [(f"k{k}", base + 500 * k + 11, 10.0 + 10 * k) for k in range(6)]
    pts += [("late1", base + 750 + 22, 95.5), ("late2", base + 1750 + 33, 4.25)]
    await chart_points(page, hydra, pts)
    drawn = await page.evaluate(
        """() => [...document.querySelectorAll('.sw-root canvas')]
            .flatMap((c) => c.swTraces || []).map((t) => Array.from(t.x))"""
    )
    assert drawn and all(x == sorted(x) for x in drawn), drawn
    assert any(len(x) >= len(pts) for x in drawn), drawn
    problems = await hover_problems(page, pts)
    await save_screenshot(page, "time-attack-hover-late")
    assert not problems, "\n".join(problems)


# ----------------------------------------------------------------------------- 3. completeness


def check_newest(rows: list[dict], sent: list[tuple[str, Any, dict]], n: int) -> list[str]:
    """The walked rows are exactly the newest ``n`` sent, newest first."""
    want = [i for i, _, _ in sent[-n:]][::-1]
    got = [r["id"] for r in rows]
    if got == want:
        return []
    missing = [i for i in want if i not in set(got)]
    extra = [i for i in got if i not in set(want)]
    first_diff = next((k for k, (a, b) in enumerate(zip(got, want, strict=False)) if a != b), None)
    return [
        f"{len(got)} rows walked, want {n}; missing {len(missing)} {missing[:20]}; "
        f"extra {len(extra)} {extra[:10]}; first difference at row {first_diff}: "
        f"{got[first_diff - 2 : first_diff + 3] if first_diff is not None else None} vs "
        f"{want[first_diff - 2 : first_diff + 3] if first_diff is not None else None}"
    ]


@pytest.mark.parametrize(
    ("rate", "recent", "sleeps"),
    [(200, 500, 3), (250, 1000, 2)],
    ids=["200-per-s-recent-500", "250-per-s-recent-1000"],
)
async def test_table_complete_with_kernel_blocked(
    page, jupyter_server, hydra, rate, recent, sleeps
):
    """``rate`` events/s (200, and the documented limit 250) for 6-9 s while a cell
    blocks the kernel's loop with ``time.sleep(1.5)`` ``sleeps`` times (the feed keeps
    sending meanwhile, so each sleep ends in a backlog of 300-375 events): no sample
    notice, and the frozen table walked top to bottom is exactly the newest ``recent``
    events sent, newest first, contiguous, each time cell the event's ``ts``."""
    root = await start(
        page,
        jupyter_server,
        hydra,
        f"ta_busy_{rate}.ipynb",
        [widget_cell(hydra.url, f", recent={recent}"), "import time\ntime.sleep(1.5)"],
    )
    base = now_ms()
    plan = [(f"b{n}", base + 3 * n, payload(f"b{n}", base + 3 * n, n)) for n in range(60 * rate)]
    t0 = time.monotonic()
    feed = asyncio.ensure_future(send_paced(hydra, plan, rate=rate))
    try:
        await asyncio.sleep(1.0)
        for _ in range(sleeps):
            await run_cell(page, 1, timeout=30)
            await asyncio.sleep(0.8)
        assert not feed.done(), "the feed ended before the kernel's last sleep"
    finally:
        feed.cancel()
    achieved = len(hydra.events()) / (time.monotonic() - t0)
    sent_ids = {m["data"]["id"] for m in hydra.events()}
    items = [item for item in plan if item[0] in sent_ids]
    assert [i for i, _, _ in items] == [i for i, _, _ in plan[: len(items)]]
    assert achieved > rate * 0.9, f"the server sent only {achieved:.0f} events/s"
    top = await settle(root, items[-1][0], f"{recent:,} rows")
    assert top["sample"] is None, f"the table says it shows a sample: {top['sample']!r}"
    rows = rows_by_id(await freeze_and_walk(root))
    problems = check_newest(rows, items, recent)
    problems += time_problems(rows, {i: ts for i, ts, _ in items})
    assert not problems, "\n".join(problems[:30])


async def test_table_complete_after_a_burst_of_500(page, jupyter_server, hydra):
    """100 events at 100/s, then 500 sent back to back: the frozen table of ``recent=500``
    is exactly the burst, newest first, none missing, each time its ``ts``."""
    root = await start(
        page, jupyter_server, hydra, "ta_burst.ipynb", [widget_cell(hydra.url, ", recent=500")]
    )
    base = now_ms()
    warm = [(f"w{n}", base + 10 * n, payload(f"w{n}", base + 10 * n, n)) for n in range(100)]
    await send_paced(hydra, warm, rate=100)
    burst_at = base + 2000
    burst = [(f"x{n}", burst_at + n, payload(f"x{n}", burst_at + n, n)) for n in range(500)]
    await hydra.emit_many([(STREAM, TYPE, ts, data) for _, ts, data in burst])
    top = await settle(root, burst[-1][0], "500 rows")
    assert top["sample"] is None, f"the table says it shows a sample: {top['sample']!r}"
    rows = rows_by_id(await freeze_and_walk(root))
    problems = check_newest(rows, warm + burst, 500)
    problems += time_problems(rows, {i: ts for i, ts, _ in warm + burst})
    assert not problems, "\n".join(problems[:30])


# ----------------------------------------------------------------------------- 4. w.df


async def test_df_event_time_equals_sent_ts(page, jupyter_server, hydra):
    """The same 244 ``ts`` as the table test: ``w.df["event_time"]`` of each id is the
    sent ``ts`` exactly (``Timestamp.value == ts * 10**6``), each id once."""
    await start(
        page,
        jupyter_server,
        hydra,
        "ta_df.ipynb",
        [widget_cell(hydra.url), DF_CHECK.format(name="ta_df.json")],
    )
    times = many_times()
    items = [(i, ts, payload(i, ts, n)) for n, (i, ts) in enumerate(times)]
    await send_paced(hydra, items, rate=200)
    await asyncio.sleep(1.0)
    out = await kernel_check(
        page, jupyter_server, 1, "ta_df.json", {i: exact_ns(ts) for i, ts in times}
    )
    assert parse_check(out) == {"BAD": "0", "MISSING": "0", "TWICE": "0"}, out


# ----------------------------------------------------------------------------- 5. other ts


async def df_problems(page, server, name: str, items: list[tuple[str, Any, dict]]) -> list[str]:
    """What ``w.df`` gets wrong of the sent ``items`` (id, ts, payload): an ``event_time``
    other than ``ts`` to the ns, an id missing or held twice; empty when none."""
    out = await kernel_check(page, server, 1, name, {i: exact_ns(ts) for i, ts, _ in items})
    return (
        [] if parse_check(out) == {"BAD": "0", "MISSING": "0", "TWICE": "0"} else [f"w.df: {out}"]
    )


async def test_fractional_ms_ts_shows_its_millisecond(page, jupyter_server, hydra):
    """``ts`` as a JSON number with a fraction (a server computing
    ``performance.timeOrigin + performance.now()`` sends ``1796040877873.456``): NOTES
    says only "ts (ms)", a number, so a fraction is allowed. Reading: the page shows the
    millisecond the instant falls in (floored, as clocks and ``isoformat(timespec=
    "milliseconds")`` do; ``.9996`` is not the next ms), and ``w.df`` keeps the decimal
    the server wrote, to the ns (README: "a float's shortest decimal form")."""
    root = await start(
        page,
        jupyter_server,
        hydra,
        "ta_float.ipynb",
        [widget_cell(hydra.url), DF_CHECK.format(name="ta_float.json")],
    )
    s = (now_ms() // 1000) * 1000
    floats = [
        s + 67.0,
        s + 67.5,
        s + 123.456,
        s + 998.9996,
        s + 999.5,
        s + 1000.25,
        s + 1066.999,
        s + 1500.0001,
        ms_of(datetime(2026, 12, 1, tzinfo=UTC)) - 0.5,
        ms_of(datetime(1999, 12, 31, 23, 59, 59, 999_000, tzinfo=UTC)) + 0.75,
        ms_of(datetime(2099, 12, 31, 23, 59, 59, 999_000, tzinfo=UTC)) + 0.875,
    ]
    items = [(f"f{n}", ts, payload(f"f{n}", ts, n)) for n, ts in enumerate(floats)]
    await send_paced(hydra, items, rate=50)
    await settle(root, items[-1][0], f"{len(items)} rows")
    rows = rows_by_id(await freeze_and_walk(root))
    problems = time_problems(rows, {i: ts for i, ts, _ in items})
    problems += await df_problems(page, jupyter_server, "ta_float.json", items)
    assert not problems, "\n".join(problems)


async def test_out_of_order_and_duplicate_ts(page, jupyter_server, hydra):
    """``ts`` going back and forth, a day back, and five events with one ``ts``: every
    event is its own row (duplicates not merged), each showing its own ``ts``. Reading:
    "newest first" is the order of arrival (the document gives no order to ``ts``), so
    the rows are the reverse of the sending order. ``w.df`` holds each with its ``ts``."""
    root = await start(
        page,
        jupyter_server,
        hydra,
        "ta_order.ipynb",
        [widget_cell(hydra.url), DF_CHECK.format(name="ta_order.json")],
    )
    b = (now_ms() // 1000) * 1000
    ts_list = [b + 500, b + 100, b + 900, b + 100, b + 100, b + 300, b - 86_400_000, b + 5]
    ts_list += [b + 777] * 5 + [b + 776, b + 778, b - 1, b + 60_000, b + 777]
    items = [(f"o{n}", ts, payload(f"o{n}", ts, n)) for n, ts in enumerate(ts_list)]
    await send_paced(hydra, items, rate=40)
    await settle(root, items[-1][0], f"{len(items)} rows")
    rows = rows_by_id(await freeze_and_walk(root))
    problems = time_problems(rows, {i: ts for i, ts, _ in items})
    problems += check_newest(rows, items, len(items))
    problems += await df_problems(page, jupyter_server, "ta_order.json", items)
    assert not problems, "\n".join(problems)


async def test_field_values_in_table_and_inspector_are_as_sent(page, jupyter_server, hydra):
    """Numbers the page could bend: an integer beyond 2**53 (``severity`` carries it;
    JSON allows it, and ``w.df`` keeps it exact per the README), floats with 17
    significant digits, and an epoch-ms field (``createdAt``). The table cell and the
    inspector's JSON value must read back as the sent number exactly (an int as the same
    digits, a float as the same float)."""
    root = await start(page, jupyter_server, hydra, "ta_values.ipynb", [widget_cell(hydra.url)])
    b = (now_ms() // 1000) * 1000
    cases = [
        {"severity": 2**53 + 1, "lat": 0.1 + 0.2},
        {"severity": 9_223_372_036_854_775_807, "lat": 123456.78901234567},
        {"severity": 3, "lat": 1e-7},
        {"severity": 4, "lat": -45.123456789012345},
        {"severity": 2**63 + 5, "lat": 5e-324},
    ]
    items = []
    for n, extra in enumerate(cases):
        ts = b + 11 * n + 7
        items.append((f"v{n}", ts, payload(f"v{n}", ts, n, **extra)))
    await send_paced(hydra, items, rate=20)
    await settle(root, items[-1][0], f"{len(items)} rows")
    rows = rows_by_id(await freeze_and_walk(root))
    problems = time_problems(rows, {i: ts for i, ts, _ in items})
    sent = {i: data for i, _, data in items}
    inspector = root.locator(".sw-inspector")

    def same(text: str, value: Any) -> bool:
        if isinstance(value, int):
            return text.strip() == str(value)
        try:
            return float(text) == value
        except ValueError:
            return False

    for r in rows:
        data = sent[r["id"]]
        for field in ("severity", "lat", "createdAt"):
            if not same(r[f"data.{field}"], data[field]):
                problems.append(
                    f"table id {r['id']} {field}: {r[f'data.{field}']!r}, sent {data[field]!r}"
                )
        assert await root.evaluate(_SCROLL_TO_JS, r["seq"]), f"row {r['seq']} not reached"
        await root.locator(f'tr.sw-event[data-seq="{r["seq"]}"]').click()
        await expect(inspector).to_have_attribute("data-seq", str(r["seq"]))
        for field in ("severity", "lat", "createdAt"):
            leaf = inspector.locator(
                ".sw-json-leaf", has=page.locator(".sw-json-key", has_text=f'"{field}":')
            )
            text = await leaf.locator(".sw-json-value").first.text_content() or ""
            if not same(text, data[field]):
                problems.append(f"inspector id {r['id']} {field}: {text!r}, sent {data[field]!r}")
    assert not problems, "\n".join(problems)
