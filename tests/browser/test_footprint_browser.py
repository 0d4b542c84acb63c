"""What a widget costs a page and a saved notebook, and how soon it draws, in Chromium.

The app (controls, charts, plotly) reaches a page once: every widget carries a loader of
a few KB as its ``_esm``, and the first one asks its kernel for the app. A notebook saved
with widget state keeps each widget's loader, traits and a picture of its charts, never
the app; reopened, it shows that picture without asking the kernel for anything.
"""

from __future__ import annotations

import asyncio
import dataclasses
import hashlib
import json
from collections.abc import Iterator

import nbformat
import pytest

from streamwidgets import StreamWidget
from streamwidgets.widget.frontend import app_for_new_widget, frontend
from tests.support.waiting import seconds

from .footprint import CommMeter, run_cell_timed, save_notebook, saved_state_bytes
from .jupyter import open_notebook, run_all_cells, run_cell, save_screenshot

#: Goals from the issue "A light notebook and a fast first paint".
SECOND_WIDGET_MAX_BYTES = 50_000
SAVED_MAX_BYTES_PER_WIDGET = 300_000
FIRST_POINT_MAX_MS = 1500

_WIDGET_SETTINGS = "lab/api/settings/@jupyter-widgets/jupyterlab-manager:plugin"

_SECRETS_CELL = """\
with open("secrets.txt", "w") as out:
    for w in (w1, w2):
        for secret in w.connection.dialect.secrets():
            out.write(secret.reveal() + "\\n")
"""

_APP_ON_PAGE_JS = (
    "() => { const r = globalThis[Symbol.for('streamwidgets.app')]; return r ? r.size : 0; }"
)


def _two_widgets(server, name: str, *extra: str) -> str:
    """A notebook: the import, then two demo widgets, each in its own cell."""
    notebook = nbformat.v4.new_notebook()
    notebook.cells = [
        nbformat.v4.new_code_cell(source)
        for source in (
            "from streamwidgets import StreamWidget",
            "w1 = StreamWidget.demo()\nw1",
            "w2 = StreamWidget.demo()\nw2",
            *extra,
        )
    ]
    notebook.metadata["kernelspec"] = {
        "name": "python3",
        "display_name": "Python 3",
        "language": "python",
    }
    nbformat.write(notebook, server.root_dir / name)
    return name


@pytest.fixture
def widget_state_saved(jupyter_server) -> Iterator[None]:
    """JupyterLab's "Save Widget State Automatically", on for one test (pages opened after)."""
    jupyter_server.api("PUT", _WIDGET_SETTINGS, {"raw": json.dumps({"saveState": True})})
    yield
    jupyter_server.api("PUT", _WIDGET_SETTINGS, {"raw": json.dumps({"saveState": False})})


async def test_a_second_widget_adds_little_comm_traffic_and_both_draw_fast(page, jupyter_server):
    """The app crosses the comm once per page: widget two costs < 50 KB of comm traffic
    besides the feed's data; from running the cell to the first charted point < 1.5 s."""
    meter = CommMeter().attach(page)
    name = _two_widgets(jupyter_server, "footprint_two.ipynb")
    await open_notebook(page, jupyter_server, name, "lab")
    await run_cell(page, 0)  # the import, so the timings are the widgets' own

    first = await run_cell_timed(page, 1)
    await asyncio.sleep(0.5)
    second = await run_cell_timed(page, 2)

    widgets = meter.widgets()
    assert len(widgets) == 2, meter.opens
    app = len(frontend().app)
    until = [t["started"] + t["point"] / 1000 + 0.1 for t in (first, second)]
    first_bytes = meter.bytes_of(widgets[0].comm_id, until[0], data=False)
    second_bytes = meter.bytes_of(widgets[1].comm_id, until[1], data=False)
    with_data = meter.bytes_of(widgets[1].comm_id, until[1])
    assert first_bytes > app, "the first widget of the page brings the app"
    assert second_bytes < SECOND_WIDGET_MAX_BYTES, (first_bytes, second_bytes)
    assert await page.evaluate(_APP_ON_PAGE_JS) == 1, "one copy of the app on the page"
    for timing in (first, second):
        assert timing["point"] < seconds(FIRST_POINT_MAX_MS), (first, second)
    print(
        f"\napp {app:,} B; widget 1 {first_bytes:,} B, first point {first['point']:.0f} ms; "
        f"widget 2 {second_bytes:,} B ({with_data:,} B with the feed's data), "
        f"first point {second['point']:.0f} ms"
    )


def _widget_states(notebook: dict) -> list[dict]:
    states = notebook["metadata"].get("widgets", {})
    states = states.get("application/vnd.jupyter.widget-state+json", {}).get("state", {})
    return [s["state"] for s in states.values() if s["model_name"] == "AnyModel"]


async def _saved_with_snapshots(page, server, name: str, widgets: int) -> dict:
    """Save until the file holds a snapshot for every widget (taken every 2 s at most)."""
    deadline = asyncio.get_running_loop().time() + seconds(20)
    while True:
        await save_notebook(page, name)
        saved = json.loads((server.root_dir / name).read_text())
        pictured = [s for s in _widget_states(saved) if s.get("_snapshot")]
        if len(pictured) == widgets:
            return saved
        if asyncio.get_running_loop().time() > deadline:
            raise AssertionError(f"{len(pictured)} of {widgets} widgets saved a snapshot")
        await asyncio.sleep(0.5)


@pytest.mark.usefixtures("widget_state_saved")
async def test_a_saved_notebook_is_light_and_shows_the_charts_when_reopened(
    page, jupyter_server, ui
):
    """Saved with widget state: < 300 KB a widget, no app, no secret; reopened (its
    widgets unknown to the new kernel) it shows each widget's last charts as pictures."""
    name = _two_widgets(jupyter_server, f"footprint_saved_{ui}.ipynb", _SECRETS_CELL)
    await open_notebook(page, jupyter_server, name, ui)
    await run_all_cells(page, ui, timeout=120)
    second = page.locator(".sw-root").nth(1)
    await second.locator(".sw-field-chart .js-plotly-plot").first.wait_for()
    saved = await _saved_with_snapshots(page, jupyter_server, name, widgets=2)

    size, state = saved_state_bytes(jupyter_server.root_dir / name)
    assert state / 2 < SAVED_MAX_BYTES_PER_WIDGET, (size, state)
    text = (jupyter_server.root_dir / name).read_text()
    widgets = _widget_states(saved)
    assert [w["_esm"] for w in widgets] == [frontend().loader] * 2, "a loader each, no app"
    for w in widgets:
        # Each picture holds what was drawn: the axes, and the charted series' lines.
        captions = [c["caption"] for c in w["_snapshot"]["charts"]]
        assert captions == ["events per second by stream", "charted fields"], captions
        field = w["_snapshot"]["charts"][1]["svg"]
        assert field.startswith("<svg") and 'class="sw-canvas-traces"' in field and "<path" in field
    secrets = (jupyter_server.root_dir / "secrets.txt").read_text().split()
    assert secrets and not any(secret in text for secret in secrets)
    print(f"\n{ui}: saved notebook {size:,} B, widget state {state:,} B for 2 widgets")

    # Reopen in a fresh page and kernel, as the next day: the widgets come from the file
    # (JupyterLab and Notebook 7 restore saved widgets only once a kernel is ready).
    await page.goto("about:blank")
    jupyter_server.shutdown_kernels()
    meter = CommMeter().attach(page)
    await open_notebook(page, jupyter_server, name, ui)
    await page.locator(".sw-static img.sw-snapshot-image").nth(3).wait_for()
    await page.wait_for_function(
        "() => [...document.querySelectorAll('.sw-static img')]"
        ".every(i => i.complete && i.naturalWidth > 100 && i.naturalHeight > 100)"
    )
    badge = page.locator(".sw-static .sw-state").first
    assert await badge.get_attribute("data-badge") == "no-kernel"
    assert await page.locator(".sw-static .sw-feed-name").first.text_content() == "hydra"
    assert await page.evaluate(_APP_ON_PAGE_JS) == 0, "no app loaded to show a picture"
    assert not meter.messages, "a saved widget asks the new kernel for nothing"
    await save_screenshot(
        page, f"footprint-reopened-{ui}", element=page.locator(".sw-static").first
    )


async def test_a_widget_sends_a_small_loader_and_the_app_only_when_asked(recorded):
    """No browser: the comm_open carries the loader (and the app only for the kernel's
    first widget, as a binary buffer), and a request from the page gets the app whole."""
    w = StreamWidget.demo()
    recorded.append(w)
    opened = [(data, buffers) for _, kind, data, buffers in w.comm.sent if kind == "comm_open"]
    built = frontend()
    state, buffers = opened[0]
    assert state["state"]["_esm"] == built.loader
    assert len(json.dumps(state)) < SECOND_WIDGET_MAX_BYTES / 2
    assert buffers in ([], [b""], [built.app])
    message = {"content": {"data": {"method": "custom", "content": {"kind": "bundle"}}}}
    w.comm.handle_msg({**message, "buffers": []})
    replies = [
        (data["content"], buffers)
        for _, kind, data, buffers in w.comm.sent
        if kind == "comm_msg" and data.get("content", {}).get("kind") == "bundle"
    ]
    assert len(replies) == 1
    content, buffers = replies[0]
    assert buffers == [built.app]
    assert content["hash"] == hashlib.sha256(built.app).hexdigest()[:16] == built.app_hash
    assert f'"{built.app_hash}"' in built.loader


def test_only_the_first_widget_of_a_kernel_carries_the_app():
    """Per build, the app rides along with one widget; the rest get nothing."""
    built = dataclasses.replace(frontend(), app=b"app", app_hash="0123456789abcdef")
    assert app_for_new_widget(built) == b"app"
    assert app_for_new_widget(built) == app_for_new_widget(built) == b""
