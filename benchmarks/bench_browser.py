"""The widget in a real browser: what crosses the comm, and how fast it is drawn.

For feeds of 1k, 10k and 50k events/s (the Hydra simulator in its own process), a
StreamWidget runs in a real JupyterLab in Chromium, and this prints:

- comm messages per second and bytes per second from kernel to browser, counted on
  the page's own kernel WebSocket (goal: messages/s flat at the update rate, bytes
  growing only with what is drawn);
- the time to apply one frame's updates in the browser, with the points on screen
  (goal: <= 16 ms with 10k points);
- the latency from the simulator stamping an event to the frame that draws it
  (goal: median <= 100 ms at 1k events/s).

How busy the page is (``--only busy``), at 50 and 1,000 events/s, for two setups: the
demo widget (``StreamWidget.demo(rate=...)``: its split field charts, the events/s chart
and the live table at its default ``recent``) and the Hydra simulator in its own process
with the two charts of the rates run (``max_points`` 5,000, so long series are on
screen; ``--by`` adds a price chart split by symbol):

- busy %: the page's main-thread task time over wall time (Chrome's ``TaskDuration``
  counter, the main thread's task time, read over CDP; goal: < 25% at 1,000 events/s);
- one chart draw, p50 and p95: each plotly draw call, with the decimation that feeds
  it (goal: p95 < 16 ms);
- p95 of the field figures' draws and of the events/s chart's draws, apart.

And what a widget costs a page (``--only footprint``), with two demo widgets:

- the bytes of the app bundle (sent once per page) and of every widget's loader;
- the comm bytes of the second widget in the page up to its first drawn point, without
  and with the feed's data messages (goal: < 50 KB without);
- the bytes a notebook saved with widget state holds per widget (goal: < 300 KB);
- the time from running a cell to its widget's first drawn point: the import done in
  an earlier cell, for the first and the second widget, and a fresh kernel running
  ``import`` and the widget in one cell (goal: < 1.5 s).

Run from the repository root:
``python3 benchmarks/bench_browser.py [--seconds 10] [--only rates|busy|footprint]``.
Needs Debian's chromium, jupyterlab and playwright (the test extras).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from servers import start_server  # noqa: E402  (benchmarks/ is the script's directory)

from tests.browser.footprint import (  # noqa: E402
    CommMeter,
    run_cell_timed,
    save_notebook,
    saved_state_bytes,
)
from tests.browser.jupyter import (  # noqa: E402
    CHROMIUM_ARGS,
    chromium_path,
    open_notebook,
    run_all_cells,
    run_cell,
    start_jupyter_server,
    wait_for_selector_in_output,
    write_notebook,
)

RATES = (1_000, 10_000, 50_000)
SECRET = "bench-browser-secret"
STREAMS = ["markets", "aircraft", "signals", "alerts", "cyber"]
CHARTS = [
    ("markets", "market_update", "data.price"),
    ("aircraft", "position_update", "data.altitude"),
]
MAX_POINTS = 5_000  # two series: 10k points on screen

# The token reaches the kernel through the server's environment, never the notebook.
CELL = """\
import os
from streamwidgets import StreamWidget, feeds
w = StreamWidget(
    feeds.hydra({url!r}, token=os.environ["SW_BENCH_TOKEN"]),
    streams={streams!r}, chart={charts!r}, max_points={max_points}, max_rows=200_000,
)
w
"""

PERF_JS = """() => {
  const root = document.querySelector('.sw-root');
  // One figure per charted field: the points its canvas drew, of all of them.
  const plots = [...root.querySelectorAll('.sw-field-chart canvas.sw-traces')];
  const events = document.querySelector('[data-stat="events"]');
  return {
    apply: root.__swPerf.applyMs.slice(),
    latency: root.__swPerf.latencyMs.slice(),
    frames: root.__swPerf.frames,
    points: plots.reduce((n, c) => n + (c.swTraces || []).reduce((k, t) => k + t.x.length, 0), 0),
    events: events ? Number(events.dataset.value || 0) : 0,
  };
}"""


WIDGET_SETTINGS = "lab/api/settings/@jupyter-widgets/jupyterlab-manager:plugin"


async def save_with_snapshots(page, server, name: str, widgets: int) -> None:
    """Save (widget state on) until every widget's snapshot is in the file."""
    for _ in range(40):
        await save_notebook(page, name)
        saved = json.loads((server.root_dir / name).read_text())
        states = saved["metadata"].get("widgets", {}).values()
        found = (
            sum('"_snapshot"' in json.dumps(s) for state in states for s in state["state"].values())
            if states
            else 0
        )
        if found >= widgets:
            return
        await asyncio.sleep(0.5)


async def footprint(browser, server) -> dict[str, float]:
    """Two demo widgets in one page: comm bytes, saved bytes, time to first point."""
    from streamwidgets.widget.frontend import frontend

    built = frontend()
    out: dict[str, float] = {"app": len(built.app), "loader": len(built.loader)}
    server.api("PUT", WIDGET_SETTINGS, {"raw": json.dumps({"saveState": True})})
    context = await browser.new_context(viewport={"width": 1280, "height": 1000})
    page = await context.new_page()
    meter = CommMeter().attach(page)
    name = write_notebook(
        server,
        "bench_footprint.ipynb",
        "from streamwidgets import StreamWidget",
        "w1 = StreamWidget.demo()\nw1",
        "w2 = StreamWidget.demo()\nw2",
    )
    try:
        await open_notebook(page, server, name, "lab")
        await run_cell(page, 0)
        first = await run_cell_timed(page, 1)
        await asyncio.sleep(0.5)
        second = await run_cell_timed(page, 2)
        widgets = meter.widgets()
        until = second["started"] + second["point"] / 1000 + 0.1
        out["first_widget_bytes"] = meter.bytes_of(
            widgets[0].comm_id, first["started"] + first["point"] / 1000 + 0.1, data=False
        )
        out["second_widget_bytes"] = meter.bytes_of(widgets[1].comm_id, until, data=False)
        out["second_widget_bytes_with_data"] = meter.bytes_of(widgets[1].comm_id, until)
        out["first_point_ms"] = first["point"]
        out["second_point_ms"] = second["point"]
        await asyncio.sleep(2.5)  # the charts are pictured every 2 s at most
        await save_with_snapshots(page, server, name, widgets=2)
        size, state = saved_state_bytes(server.root_dir / name)
        out["saved_bytes"] = size
        out["saved_bytes_per_widget"] = state / 2
    finally:
        await context.close()
        server.shutdown_kernels()
        server.api("PUT", WIDGET_SETTINGS, {"raw": json.dumps({"saveState": False})})

    # From a fresh kernel: Shift+Enter on one cell that imports and makes the widget.
    context = await browser.new_context(viewport={"width": 1280, "height": 1000})
    page = await context.new_page()
    name = write_notebook(
        server,
        "bench_cold.ipynb",
        "1",
        "from streamwidgets import StreamWidget\nStreamWidget.demo()",
    )
    try:
        await open_notebook(page, server, name, "lab")
        cold = await run_cell_timed(page, 1)
        out["cold_point_ms"] = cold["point"]
        out["cold_visible_ms"] = cold["visible"]
    finally:
        await context.close()
        server.shutdown_kernels()
    return out


def print_footprint(r: dict[str, float]) -> None:
    kb = lambda key: f"{r[key] / 1000:>9,.1f} KB"  # noqa: E731
    ms = lambda key: f"{r[key]:>9,.0f} ms"  # noqa: E731
    print("\nWhat a widget costs (two demo widgets in one JupyterLab page)")
    print(f"  app bundle, once per page          {kb('app')}")
    print(f"  loader, every widget's _esm        {kb('loader')}")
    print(f"  comm bytes, first widget           {kb('first_widget_bytes')}  (brings the app)")
    print(f"  comm bytes, second widget          {kb('second_widget_bytes')}")
    print(f"    with the feed's data to 1st point {kb('second_widget_bytes_with_data')}")
    print(f"  saved notebook (2 widgets)         {kb('saved_bytes')}")
    print(f"  saved widget state per widget      {kb('saved_bytes_per_widget')}")
    print(f"  run cell -> 1st point, widget 1    {ms('first_point_ms')}  (import done before)")
    print(f"  run cell -> 1st point, widget 2    {ms('second_point_ms')}")
    print(f"  fresh kernel, import + widget      {ms('cold_point_ms')}  to the first point")
    print(f"                                     {ms('cold_visible_ms')}  to a visible widget")


def start_simulator(rate: int) -> tuple[subprocess.Popen[bytes], str]:
    proc, port = start_server(
        lambda ready: [
            *[sys.executable, "-m", "streamwidgets", "sim", "hydra", "--port", "0"],
            *["--rate", str(rate), "--secret", SECRET, "--ready-file", str(ready)],
        ],
        f"simulator at {rate} events/s",
    )
    return proc, f"ws://127.0.0.1:{port}/stream"


BUSY_RATES = (50, 1_000)

DEMO_CELL = """\
from streamwidgets import StreamWidget
w = StreamWidget.demo(rate={rate})
w
"""

# The samples of the measured time only: the rings are emptied when it begins.
RESET_JS = """() => {
  const perf = document.querySelector('.sw-root').__swPerf;
  perf.drawMs = [];
  perf.drawOf = [];
}"""

SAMPLES_JS = """() => {
  const perf = document.querySelector('.sw-root').__swPerf;
  return { draws: perf.drawMs.slice(), of: (perf.drawOf || []).slice() };
}"""


async def measure_busy(
    browser, server, name: str, seconds: float, widget: bool = True
) -> dict[str, float]:
    """Main-thread busy share and per-draw times of one notebook's widget (or, with
    ``widget=False``, of the same page with no widget: the floor)."""
    context = await browser.new_context(viewport={"width": 1280, "height": 1000})
    page = await context.new_page()
    try:
        await open_notebook(page, server, name, "lab")
        await run_all_cells(page, "lab", timeout=120)
        if not widget:
            await asyncio.sleep(6.0)
            cdp = await context.new_cdp_session(page)
            await cdp.send("Performance.enable")
            metric = lambda ms: next(m["value"] for m in ms if m["name"] == "TaskDuration")  # noqa: E731
            before = metric((await cdp.send("Performance.getMetrics"))["metrics"])
            began = time.monotonic()
            await asyncio.sleep(seconds)
            after = metric((await cdp.send("Performance.getMetrics"))["metrics"])
            return {"busy_pct": 100.0 * (after - before) / (time.monotonic() - began)}
        state = (await wait_for_selector_in_output(page, ".sw-state")).first
        for _ in range(200):
            if await state.get_attribute("data-state") == "connected":
                break
            await asyncio.sleep(0.1)
        await asyncio.sleep(6.0)  # warm up: first draws, series filling up
        cdp = await context.new_cdp_session(page)
        await cdp.send("Performance.enable")

        async def task_seconds() -> float:
            # TaskDuration: seconds the renderer's main thread spent running tasks.
            metrics = (await cdp.send("Performance.getMetrics"))["metrics"]
            return next(m["value"] for m in metrics if m["name"] == "TaskDuration")

        before = await page.evaluate(PERF_JS)
        await page.evaluate(RESET_JS)
        busy_before, began = await task_seconds(), time.monotonic()
        await asyncio.sleep(seconds)
        busy_after, ended = await task_seconds(), time.monotonic()
        after = await page.evaluate(PERF_JS)
        samples = await page.evaluate(SAMPLES_JS)
    finally:
        await context.close()
        server.shutdown_kernels()
    wall = ended - began
    draws = samples["draws"]
    field = [ms for ms, of in zip(draws, samples["of"], strict=False) if of == "field"]
    rate = [ms for ms, of in zip(draws, samples["of"], strict=False) if of == "rate"]
    return {
        "events_per_s": (after["events"] - before["events"]) / wall,
        "busy_pct": 100.0 * (busy_after - busy_before) / wall,
        "draw_p50": percentile(draws, 0.5),
        "draw_p95": percentile(draws, 0.95),
        "draws_per_s": len(draws) / wall,
        "field_p95": percentile(field, 0.95),
        "rate_p95": percentile(rate, 0.95),
        "points": after["points"],
    }


async def busy(browser, server, seconds: float, by: bool) -> dict[tuple[str, int], dict]:
    """The demo widget, then the widget on a Hydra simulator, at each of BUSY_RATES."""
    results = {}
    # The same page with a notebook and no widget: what JupyterLab costs by itself.
    name = write_notebook(server, "bench_busy_none.ipynb", "1 + 1")
    results[("none", 0)] = await measure_busy(browser, server, name, seconds, widget=False)
    for rate in BUSY_RATES:
        name = write_notebook(server, f"bench_busy_demo_{rate}.ipynb", DEMO_CELL.format(rate=rate))
        results[("demo", rate)] = await measure_busy(browser, server, name, seconds)
    simulators = {rate: start_simulator(rate) for rate in BUSY_RATES}
    charts = CHARTS + ([("markets", "market_update", "data.price", "data.symbol")] if by else [])
    try:
        for rate in BUSY_RATES:
            cell = CELL.format(
                url=simulators[rate][1], streams=STREAMS, charts=charts, max_points=MAX_POINTS
            )
            name = write_notebook(server, f"bench_busy_{rate}.ipynb", cell)
            results[("hydra", rate)] = await measure_busy(browser, server, name, seconds)
    finally:
        for proc, _ in simulators.values():
            proc.terminate()
    return results


def print_busy(results: dict[tuple[str, int], dict], seconds: float, by: bool) -> None:
    print(f"\nBrowser main thread, JupyterLab + headless Chromium, {seconds:.0f} s per run")
    print("  demo: StreamWidget.demo(rate=...)")
    print(
        f"  hydra: simulator process, {len(CHARTS) + by} field charts"
        + (" (one by symbol)" if by else "")
    )
    floor = results.pop(("none", 0), None)
    if floor:
        print(f"  no widget: the same page and notebook without one, {floor['busy_pct']:.1f}% busy")
    print(
        f"{'setup':>6} {'feed ev/s':>10} {'got ev/s':>9} {'busy %':>7} {'draw p50':>9} "
        f"{'p95 ms':>7} {'draws/s':>8} {'field p95':>9} {'rate p95':>8} {'points':>7}"
    )
    for (setup, rate), r in results.items():
        print(
            f"{setup:>6} {rate:>10,} {r['events_per_s']:>9,.0f} {r['busy_pct']:>7.1f} "
            f"{r['draw_p50']:>9.1f} {r['draw_p95']:>7.1f} {r['draws_per_s']:>8.1f} "
            f"{r['field_p95']:>9.1f} {r['rate_p95']:>8.1f} {r['points']:>7,}"
        )


def percentile(values: list[float], q: float) -> float:
    if not values:
        return float("nan")
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(q * (len(ordered) - 1)))]


async def measure(browser, server, name: str, seconds: float) -> dict[str, float]:
    context = await browser.new_context(viewport={"width": 1280, "height": 1000})
    page = await context.new_page()
    frames: list[tuple[float, int]] = []

    def watch(ws) -> None:
        if "/channels" not in ws.url:
            return

        def received(payload: str | bytes) -> None:
            data = payload.encode() if isinstance(payload, str) else payload
            if b'"comm_msg"' in data:
                frames.append((time.monotonic(), len(data)))

        ws.on("framereceived", received)

    page.on("websocket", watch)
    try:
        await open_notebook(page, server, name, "lab")
        await run_all_cells(page, "lab", timeout=120)
        state = (await wait_for_selector_in_output(page, ".sw-state")).first
        for _ in range(200):
            if await state.get_attribute("data-state") == "connected":
                break
            await asyncio.sleep(0.1)
        await asyncio.sleep(3.0)  # warm up: first draws, WebGL start
        before = await page.evaluate(PERF_JS)
        began = time.monotonic()
        await asyncio.sleep(seconds)
        ended = time.monotonic()
        after = await page.evaluate(PERF_JS)
    finally:
        await context.close()
        server.shutdown_kernels()
    window = [size for at, size in frames if began <= at < ended]
    drawn_frames = after["frames"] - before["frames"]
    apply = after["apply"][-max(1, min(len(after["apply"]), drawn_frames)) :]
    return {
        "events_per_s": (after["events"] - before["events"]) / (ended - began),
        "messages_per_s": len(window) / (ended - began),
        "kib_per_s": sum(window) / 1024 / (ended - began),
        "apply_p50": percentile(apply, 0.5),
        "apply_p95": percentile(apply, 0.95),
        "points": after["points"],
        "latency_p50": percentile(after["latency"], 0.5),
        "latency_p95": percentile(after["latency"], 0.95),
    }


async def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=10.0, help="measured time per rate")
    parser.add_argument(
        "--only", choices=("rates", "busy", "footprint"), help="run one part (default: all)"
    )
    parser.add_argument("--by", action="store_true", help="busy: add a price chart split by symbol")
    args = parser.parse_args()

    from playwright.async_api import async_playwright

    from streamwidgets.simulators.hydra import ALL_STREAMS
    from streamwidgets.simulators.tokens import issue_token

    # The token reaches the kernels through the server's environment, never the notebook.
    os.environ["SW_BENCH_TOKEN"] = issue_token(SECRET, address="0xbench", streams=ALL_STREAMS)
    base = Path(tempfile.mkdtemp(prefix="bench-browser-"))
    server = start_jupyter_server(base)
    try:
        async with async_playwright() as playwright:
            browser = await playwright.chromium.launch(
                executable_path=str(chromium_path()), args=CHROMIUM_ARGS, headless=True
            )
            if args.only in (None, "footprint"):
                print_footprint(await footprint(browser, server))
            if args.only in (None, "rates"):
                print_rates(await rates(browser, server, args.seconds), args.seconds)
            if args.only in (None, "busy"):
                print_busy(
                    await busy(browser, server, args.seconds, args.by), args.seconds, args.by
                )
            await browser.close()
    finally:
        server.stop()


async def rates(browser, server, seconds: float) -> dict[int, dict[str, float]]:
    """The widget on a Hydra simulator at each of RATES events/s."""
    simulators = {rate: start_simulator(rate) for rate in RATES}
    results = {}
    try:
        for rate in RATES:
            cell = CELL.format(
                url=simulators[rate][1], streams=STREAMS, charts=CHARTS, max_points=MAX_POINTS
            )
            name = write_notebook(server, f"bench_{rate}.ipynb", cell)
            results[rate] = await measure(browser, server, name, seconds)
    finally:
        for proc, _ in simulators.values():
            proc.terminate()
    return results


def print_rates(results: dict[int, dict[str, float]], seconds: float) -> None:
    print(f"\nStreamWidget in JupyterLab + Chromium, {seconds:.0f} s per feed rate")
    print(
        f"{'feed ev/s':>10} {'got ev/s':>9} {'msgs/s':>7} {'KiB/s':>8} "
        f"{'apply p50':>9} {'p95 ms':>7} {'points':>7} {'latency p50':>11} {'p95 ms':>7}"
    )
    for rate, r in results.items():
        print(
            f"{rate:>10,} {r['events_per_s']:>9,.0f} {r['messages_per_s']:>7.1f} "
            f"{r['kib_per_s']:>8.1f} {r['apply_p50']:>9.1f} {r['apply_p95']:>7.1f} "
            f"{r['points']:>7,} {r['latency_p50']:>11.0f} {r['latency_p95']:>7.0f}"
        )
    low, high = results[RATES[0]], results[RATES[-1]]
    print(
        f"\nratios {RATES[-1]:,} vs {RATES[0]:,} events/s: messages/s "
        f"{high['messages_per_s'] / low['messages_per_s']:.2f}x, bytes/s "
        f"{high['kib_per_s'] / low['kib_per_s']:.2f}x, events/s "
        f"{high['events_per_s'] / max(low['events_per_s'], 1):.2f}x"
    )


if __name__ == "__main__":
    asyncio.run(main())
