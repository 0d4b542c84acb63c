"""The badge says what is true, in real JupyterLab (and Notebook 7) in Chromium.

Paused (events skipped, no stale rate), reconnecting then live again, "kernel gone"
within a few seconds of a kernel that stops answering (busy, restarted, shut down) and
back when it answers again, a closed widget that leaves its last counters in the output,
a saved notebook reopened with no kernel behind it, and a replay that says where it is.
Each state is pictured into the artifacts directory.
"""

from __future__ import annotations

import asyncio
import gzip
import json
import re
from collections.abc import Iterator

import orjson
import pytest
from playwright.async_api import expect

from streamwidgets.widget.protocol import Limit
from tests.support.recordings import record_live
from tests.support.waiting import seconds

from .footprint import save_notebook
from .jupyter import (
    open_notebook,
    run_cell,
    save_screenshot,
    wait_for_cell_output,
    wait_for_selector_in_output,
    write_notebook,
)

HYDRA_CELL = """\
from streamwidgets import StreamWidget, feeds
from streamwidgets.simulators.hydra import HydraSimulator
sim = HydraSimulator(rate=40)
sim.start_background()
w = StreamWidget(feeds.hydra(sim.url, token=sim.issue_token()), streams=["markets"])
w
"""

#: "Within a few seconds": from the moment the kernel stops answering to the badge saying so.
KERNEL_GONE_WITHIN_MS = 5000

_WIDGET_SETTINGS = "lab/api/settings/@jupyter-widgets/jupyterlab-manager:plugin"


async def badge(page):
    return (await wait_for_selector_in_output(page, ".sw-root:not(.sw-loading) .sw-state")).first


async def live(page, timeout: float = 30.0):
    state = await badge(page)
    await expect(state).to_have_attribute("data-badge", "live", timeout=seconds(timeout) * 1000)
    return state


async def status_text(page) -> str:
    status = (await wait_for_selector_in_output(page, ".sw-root:not(.sw-loading) .sw-status")).first
    return " ".join((await status.text_content() or "").split())


_RESTART_FROM_PAGE_JS = """() => {
  const panel = window.jupyterapp.shell.currentWidget;
  panel.sessionContext.session.kernel.restart();
}"""


def _kernel_id(server) -> str:
    (kernel,) = server.api("GET", "api/kernels")
    return kernel["id"]


async def test_paused_badge_counts_skipped_events_and_shows_no_stale_rate(page, jupyter_server):
    """Pause: the badge says "paused, N events skipped" (N growing), the rate says
    "paused", not the last events/s; resume: live, and a number again."""
    name = write_notebook(jupyter_server, "badge_pause.ipynb", HYDRA_CELL)
    await open_notebook(page, jupyter_server, name, "lab")
    await run_cell(page, 0, timeout=60)
    state = await live(page)
    rate = (
        await wait_for_selector_in_output(page, '.sw-stat-value[data-stat="events_per_second"]')
    ).first
    await expect(rate).to_have_attribute(
        "data-value", re.compile(r"^[1-9]"), timeout=seconds(15) * 1000
    )

    pause = (await wait_for_selector_in_output(page, ".sw-pause")).first
    await pause.click()
    await expect(state).to_have_attribute("data-badge", "paused", timeout=seconds(10) * 1000)
    await expect(rate).to_have_text("paused")
    assert await rate.get_attribute("data-value") is None, "no number left behind"
    counts = []
    for _ in range(2):
        await asyncio.sleep(1.5)
        text = await status_text(page)
        match = re.fullmatch(r"paused, ([\d,]+) events? skipped", text)
        assert match, text
        counts.append(int(match.group(1).replace(",", "")))
    assert counts[0] < counts[1], f"the skipped count grows while paused: {counts}"
    await save_screenshot(
        page, "badge-paused", element=(await wait_for_selector_in_output(page, ".sw-header")).first
    )

    await pause.click()
    await expect(state).to_have_attribute("data-badge", "live", timeout=seconds(10) * 1000)
    await expect(rate).not_to_have_text("paused")
    assert await status_text(page) == "live"


async def test_reconnecting_is_shown_while_the_server_is_away_then_live_again(page, jupyter_server):
    """The server goes away: "reconnecting" with the attempt and the next try in words;
    back on the same port: live again."""
    outage = (
        "port = sim.port\n"
        "sim.stop_background()\n"
        "import asyncio\n"
        "await asyncio.sleep(6)\n"
        "sim = HydraSimulator(rate=40, port=port, secret=sim.secret)\n"
        "sim.start_background()\n"
        "w.wait(state='connected', timeout=60)"
    )
    name = write_notebook(jupyter_server, "badge_reconnect.ipynb", HYDRA_CELL, outage)
    await open_notebook(page, jupyter_server, name, "lab")
    await run_cell(page, 0, timeout=60)
    state = await live(page)
    running = asyncio.ensure_future(run_cell(page, 1, timeout=90))
    try:
        await expect(state).to_have_attribute(
            "data-badge", "reconnecting", timeout=seconds(10) * 1000
        )
        await expect(state).to_have_attribute("data-state", "reconnecting")
        # The kernel's words: down for how long, which attempt, when the next one is.
        status = (await wait_for_selector_in_output(page, ".sw-status")).first
        await expect(status).to_have_text(
            re.compile(r"reconnecting: .*attempt \d+, next in"), timeout=seconds(10) * 1000
        )
        await save_screenshot(
            page,
            "badge-reconnecting",
            element=(await wait_for_selector_in_output(page, ".sw-header")).first,
        )
    finally:
        await running
    await expect(state).to_have_attribute("data-badge", "live", timeout=seconds(30) * 1000)


async def test_a_busy_kernel_is_said_gone_within_seconds_and_comes_back(page, jupyter_server):
    """A cell keeps the kernel busy (no heartbeat): "kernel gone" within 5 s, the counters
    marked as last known; the cell ends, the same comm speaks again: live again."""
    busy = "import time\ntime.sleep(8)\nprint('awake')"
    name = write_notebook(jupyter_server, "badge_busy.ipynb", HYDRA_CELL, busy)
    await open_notebook(page, jupyter_server, name, "lab")
    await run_cell(page, 0, timeout=60)
    state = await live(page)
    running = asyncio.ensure_future(run_cell(page, 1, timeout=60))
    try:
        await expect(state).to_have_attribute(
            "data-badge", "kernel-gone", timeout=KERNEL_GONE_WITHIN_MS + 1000
        )
        assert "kernel gone: no answer from the kernel for" in await status_text(page)
        note = (await wait_for_selector_in_output(page, ".sw-stats-note")).first
        await expect(note).to_have_text("last known:")
        await save_screenshot(
            page,
            "badge-kernel-gone",
            element=(await wait_for_selector_in_output(page, ".sw-header")).first,
        )
    finally:
        await running
    await wait_for_cell_output(page, 1, "awake")
    await expect(state).to_have_attribute("data-badge", "live", timeout=seconds(10) * 1000)
    assert await (
        await wait_for_selector_in_output(page, ".sw-stats-note", state="attached")
    ).first.is_hidden()


@pytest.mark.allow_console_errors  # the page logs the kernel's going away
@pytest.mark.parametrize("how", ["restart", "restart from the page", "shutdown"])
async def test_a_restarted_or_shut_down_kernel_is_said_gone_within_seconds(
    page, jupyter_server, how
):
    """Counters frozen under a "connected" badge is what a restart left before: now the
    badge says "kernel gone" within 5 s of the kernel going, and stays so."""
    name = write_notebook(jupyter_server, f"badge_{how.replace(' ', '_')}.ipynb", HYDRA_CELL)
    await open_notebook(page, jupyter_server, name, "lab")
    await run_cell(page, 0, timeout=60)
    state = await live(page)
    kernel = _kernel_id(jupyter_server)
    loop = asyncio.get_running_loop()
    began = loop.time()
    if how == "restart":
        await asyncio.to_thread(jupyter_server.api, "POST", f"api/kernels/{kernel}/restart", {})
    elif how == "restart from the page":  # what Kernel > Restart does once confirmed
        await page.evaluate(_RESTART_FROM_PAGE_JS)
    else:
        await asyncio.to_thread(jupyter_server.api, "DELETE", f"api/kernels/{kernel}")
    await expect(state).to_have_attribute(
        "data-badge", "kernel-gone", timeout=KERNEL_GONE_WITHIN_MS
    )
    print(f"\n{how}: kernel gone shown {1000 * (loop.time() - began):.0f} ms after the request")
    await asyncio.sleep(Limit.KERNEL_SILENT_SECONDS + 1)
    await expect(state).to_have_attribute("data-badge", "kernel-gone")
    assert "kernel gone" in await status_text(page)


async def test_close_leaves_a_closed_widget_with_its_counters(page, jupyter_server, ui):
    """w.close() in a later cell: the widget's output shows "closed" and the last counters
    (not an empty output), and w.df is still readable."""
    after = (
        "w.close()\nw.close()\nprint('rows after close:', len(w.df), 'events:', w.stats['events'])"
    )
    name = write_notebook(jupyter_server, f"badge_close_{ui}.ipynb", HYDRA_CELL, after)
    await open_notebook(page, jupyter_server, name, ui)
    await run_cell(page, 0, timeout=60)
    await live(page)
    await asyncio.sleep(2)
    await run_cell(page, 1)
    text = await wait_for_cell_output(page, 1, re.compile(r"rows after close: \d+ events: \d+"))
    rows = int(re.search(r"rows after close: (\d+)", text).group(1))
    assert rows > 0
    final = (await wait_for_selector_in_output(page, '.sw-final[data-state="closed"]')).first
    closed = final.locator(".sw-state")
    await expect(closed).to_have_text("closed")
    assert "closed by the user" in (await final.text_content() or "")
    shown_rows = await final.locator('[data-stat="rows"]').text_content()
    shown_events = await final.locator('[data-stat="events"]').text_content()
    assert int(shown_rows.replace(",", "")) > 0 and int(shown_events.replace(",", "")) > 0
    await save_screenshot(page, f"badge-closed-{ui}", element=final)


@pytest.fixture
def widget_state_saved(jupyter_server) -> Iterator[None]:
    """JupyterLab's "Save Widget State Automatically", on for one test (pages opened after)."""
    jupyter_server.api("PUT", _WIDGET_SETTINGS, {"raw": json.dumps({"saveState": True})})
    yield
    jupyter_server.api("PUT", _WIDGET_SETTINGS, {"raw": json.dumps({"saveState": False})})


@pytest.mark.usefixtures("widget_state_saved")
async def test_a_saved_notebook_reopened_without_its_kernel_says_no_kernel(page, jupyter_server):
    """Reopened from saved widget state, nothing answers for the widget: the badge says
    "no kernel" (never "connected"), the counters are marked as the last known values."""
    name = write_notebook(jupyter_server, "badge_saved.ipynb", HYDRA_CELL)
    await open_notebook(page, jupyter_server, name, "lab")
    await run_cell(page, 0, timeout=60)
    await live(page)
    await page.locator(".sw-root .sw-rate-chart .js-plotly-plot").first.wait_for()
    deadline = asyncio.get_running_loop().time() + seconds(20)
    while True:  # a snapshot is taken every 2 s at most: save until the file holds one
        await save_notebook(page, name)
        saved = json.loads((jupyter_server.root_dir / name).read_text())
        states = (
            saved["metadata"]
            .get("widgets", {})
            .get("application/vnd.jupyter.widget-state+json", {})
        )
        pictured = [s for s in states.get("state", {}).values() if s["state"].get("_snapshot")]
        if pictured:
            break
        assert asyncio.get_running_loop().time() < deadline, "no snapshot saved"
        await asyncio.sleep(0.5)
    events = pictured[0]["state"]["_snapshot"]["stats"].get("events")

    await page.goto("about:blank")
    jupyter_server.shutdown_kernels()
    await open_notebook(page, jupyter_server, name, "lab")
    static = page.locator(".sw-static").first
    await static.wait_for()
    state = static.locator(".sw-state")
    await expect(state).to_have_attribute("data-badge", "no-kernel")
    await expect(state).to_have_text("no kernel")
    text = " ".join((await static.locator(".sw-status").text_content() or "").split())
    assert text.startswith(
        "no kernel: nothing answers for this saved widget; last known values, saved "
    ), text
    assert "connected" not in text and "live" not in text
    assert re.search(r"saved \d{4}-\d\d-\d\d \d\d:\d\d:\d\d UTC$", text), text  # one zone, said
    await expect(static.locator(".sw-stats-note")).to_have_text("last known:")
    if isinstance(events, int):
        await expect(static.locator('[data-stat="events"]')).to_have_text(str(events))
    await save_screenshot(page, "badge-no-kernel", element=static.locator(".sw-header"))


def _flat_recording(source, path, *, per_second: int) -> float:
    """``source``'s entries re-timed ``1/per_second`` s apart (a recording that ran flat,
    an hour ago); returns its length in seconds."""
    lines = gzip.decompress(source.read_bytes()).splitlines()
    header, entries = lines[0], [orjson.loads(line) for line in lines[1:]]
    base = (entries[0]["t_ns"] // 10**9 - 3600) * 10**9 + 50_000_000
    for i, entry in enumerate(entries):
        entry["t_ns"] = base + i * (10**9 // per_second)
    body = b"\n".join([header, *(orjson.dumps(e) for e in entries)]) + b"\n"
    path.write_bytes(gzip.compress(body))
    return (len(entries) - 1) / per_second


async def test_a_replay_says_replaying_4x_where_and_of_how_long_then_finished(page, jupyter_server):
    """feeds.replay(path, speed=4) on a 40 s recording: "replaying 4x, 00:12 of 00:40",
    the position moving, then "replay finished, 00:40 of 00:40"."""
    source = jupyter_server.root_dir / "badge_source.jsonl.gz"
    await record_live(source, events=400, rate=800)
    length = _flat_recording(source, jupyter_server.root_dir / "badge_flat.jsonl.gz", per_second=10)
    total = int(length)
    cell = (
        "from streamwidgets import StreamWidget, feeds\n"
        "w = StreamWidget(feeds.replay('badge_flat.jsonl.gz', speed=4))\n"
        "w"
    )
    name = write_notebook(jupyter_server, "badge_replay.ipynb", cell)
    await open_notebook(page, jupyter_server, name, "lab")
    await run_cell(page, 0, timeout=60)
    state = await badge(page)
    await expect(state).to_have_attribute("data-badge", "replaying", timeout=seconds(20) * 1000)
    status = (await wait_for_selector_in_output(page, ".sw-status")).first
    pattern = re.compile(r"^replaying 4x, (\d\d):(\d\d) of (\d\d):(\d\d)$")
    seen = []
    for _ in range(3):
        await expect(status).to_have_text(pattern, timeout=seconds(10) * 1000)
        text = " ".join((await status.text_content() or "").split())
        match = pattern.match(text)
        if match:
            seen.append((int(match[1]) * 60 + int(match[2]), int(match[3]) * 60 + int(match[4])))
        await asyncio.sleep(1.2)
    assert seen, "the replay badge was read"
    positions = [p for p, _ in seen]
    assert all(of == total for _, of in seen), (seen, length)
    assert positions == sorted(positions) and positions[-1] > positions[0], seen
    await save_screenshot(
        page,
        "badge-replaying",
        element=(await wait_for_selector_in_output(page, ".sw-header")).first,
    )
    await expect(state).to_have_attribute(
        "data-badge", "replay-finished", timeout=seconds(30) * 1000
    )
    text = " ".join((await status.text_content() or "").split())
    end = f"{total // 60:02d}:{total % 60:02d}"
    assert text == f"replay finished, {end} of {end}", text
