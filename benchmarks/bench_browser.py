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

Run from the repository root: ``python3 benchmarks/bench_browser.py [--seconds 10]``.
Needs Debian's chromium, jupyterlab and playwright (the test extras).
"""

from __future__ import annotations

import argparse
import asyncio
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import nbformat

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from servers import start_server  # noqa: E402  (benchmarks/ is the script's directory)

from tests.browser.jupyter import (  # noqa: E402
    CHROMIUM_ARGS,
    chromium_path,
    open_notebook,
    run_all_cells,
    start_jupyter_server,
    wait_for_selector_in_output,
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
  const plot = document.querySelector('.sw-field-chart .js-plotly-plot');
  const events = document.querySelector('[data-stat="events"]');
  return {
    apply: root.__swPerf.applyMs.slice(),
    latency: root.__swPerf.latencyMs.slice(),
    frames: root.__swPerf.frames,
    points: plot && plot.data ? plot.data.reduce((n, t) => n + t.x.length, 0) : 0,
    events: events ? Number(events.dataset.value || 0) : 0,
  };
}"""


def start_simulator(rate: int) -> tuple[subprocess.Popen[bytes], str]:
    proc, port = start_server(
        lambda ready: [
            *[sys.executable, "-m", "streamwidgets", "sim", "hydra", "--port", "0"],
            *["--rate", str(rate), "--secret", SECRET, "--ready-file", str(ready)],
        ],
        f"simulator at {rate} events/s",
    )
    return proc, f"ws://127.0.0.1:{port}/stream"


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
    args = parser.parse_args()

    from playwright.async_api import async_playwright

    from streamwidgets.simulators.hydra import ALL_STREAMS
    from streamwidgets.simulators.tokens import issue_token

    simulators = {rate: start_simulator(rate) for rate in RATES}
    os.environ["SW_BENCH_TOKEN"] = issue_token(SECRET, address="0xbench", streams=ALL_STREAMS)
    base = Path(tempfile.mkdtemp(prefix="bench-browser-"))
    server = start_jupyter_server(base)
    results = {}
    try:
        async with async_playwright() as playwright:
            browser = await playwright.chromium.launch(
                executable_path=str(chromium_path()), args=CHROMIUM_ARGS, headless=True
            )
            for rate in RATES:
                cell = CELL.format(
                    url=simulators[rate][1], streams=STREAMS, charts=CHARTS, max_points=MAX_POINTS
                )
                notebook = nbformat.v4.new_notebook()
                notebook.cells = [nbformat.v4.new_code_cell(cell)]
                notebook.metadata["kernelspec"] = {
                    "name": "python3",
                    "display_name": "Python 3",
                    "language": "python",
                }
                name = f"bench_{rate}.ipynb"
                nbformat.write(notebook, server.root_dir / name)
                results[rate] = await measure(browser, server, name, args.seconds)
            await browser.close()
    finally:
        server.stop()
        for proc, _ in simulators.values():
            proc.terminate()

    print(f"\nStreamWidget in JupyterLab + Chromium, {args.seconds:.0f} s per feed rate")
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
