"""The demo widget served by Voila, as a colleague's browser gets it, in Chromium, offline.

A notebook that makes ``StreamWidget.demo()`` and shows it is served by a real ``voila``
(one server for the module, see ``voila.py``): the page shows the live widget, the
badge says live, the events counter grows, the charts draw points and the recent events
table fills. The same checks run in JupyterLab and Notebook 7, so the three front ends
are held to one standard.

Voila runs the whole notebook before its page connects to the kernel. The first widget
a kernel makes carries the app's code in its ``_app`` trait; a widget made after it asks
its kernel for the code with a ``bundle`` message (``loader.js``). Both routes are taken
here: the first by the demo notebook, the second by a notebook whose first widget is
closed before the one it shows is made.
"""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from typing import Any

import pytest

from tests.support.waiting import seconds

from .jupyter import open_notebook, run_all_cells, save_screenshot, wait_for_selector_in_output
from .voila import (
    VoilaServer,
    guard_offline,
    open_in_voila,
    start_voila_server,
    write_notebook,
)

_DEMO = ["from streamwidgets import StreamWidget\nw = StreamWidget.demo()\nw"]

# The first widget of the kernel takes the app's code with it when it closes, so the
# shown one has none (printed) and its page must ask the kernel.
_ASKS_KERNEL = [
    "from streamwidgets import StreamWidget\n"
    "from streamwidgets.widget.protocol import Trait\n"
    "first = StreamWidget.demo()\n"
    "first.close()",
    "w = StreamWidget.demo()\nprint('app bytes in the model:', len(getattr(w, Trait.APP)))\nw",
]

# What a person sees in the widget, read from its DOM. The badge: `data-badge` where the
# header has it ("live"), else the connection state ("connected" reads as live).
_LOOK_JS = """() => {
  const root = document.querySelector('.sw-root:not(.sw-loading)');
  const loading = document.querySelector('.sw-loading-note');
  if (!root) {
    const failed = Boolean(loading && loading.classList.contains('sw-error'));
    return {app: false, loading: loading ? loading.textContent : null, failed};
  }
  const badge = root.querySelector('.sw-state');
  const state = badge ? badge.dataset.state : null;
  const events = root.querySelector('.sw-stat-value[data-stat="events"]');
  const finite = (values) => Array.from(values || []).filter(Number.isFinite).length;
  const plots = {};
  for (const [name, selector] of [['rate', '.sw-rate-chart'], ['field', '.sw-field-chart']]) {
    const gd = root.querySelector(selector + ' .js-plotly-plot');
    const canvas = gd && gd.parentElement.querySelector('canvas.sw-traces');
    const traces = canvas && Array.isArray(canvas.swTraces) ? canvas.swTraces : [];
    plots[name] = {traces: traces.length, points: traces.reduce((n, t) => n + finite(t.y), 0)};
  }
  return {
    app: true,
    badge: badge ? (badge.dataset.badge || (state === 'connected' ? 'live' : state)) : null,
    badgeText: badge ? badge.textContent : null,
    events: events && events.dataset.value != null ? Number(events.dataset.value) : null,
    plots,
    rows: root.querySelectorAll('.sw-recent .sw-event').length,
  };
}"""


async def look(page) -> dict[str, Any]:
    """The widget as shown: badge, events counter, chart traces and points, table rows."""
    return await page.evaluate(_LOOK_JS)


async def wait_for_look(page, predicate, what: str, timeout: float = 30.0) -> dict[str, Any]:
    """Poll ``look`` until ``predicate`` holds; fail naming ``what`` and the last look."""
    deadline = asyncio.get_running_loop().time() + seconds(timeout)
    while True:
        seen = await look(page)
        if seen.get("app") and predicate(seen):
            return seen
        if seen.get("failed"):  # the loader gave up: no use waiting
            raise AssertionError(f"{what}: the widget failed to load: {seen['loading']}")
        if asyncio.get_running_loop().time() > deadline:
            raise AssertionError(f"{what}: not seen within {seconds(timeout):.0f} s; last {seen}")
        await asyncio.sleep(0.1)


async def assert_live_widget(page) -> dict[str, Any]:
    """The widget is live: badge, a growing events counter, charted points, table rows.

    The counter is read twice: once it is positive, then until it is larger.
    """
    await wait_for_look(page, lambda s: s["badge"] == "live", "the badge saying live")
    first = await wait_for_look(page, lambda s: (s["events"] or 0) > 0, "a positive events counter")
    later = await wait_for_look(
        page,
        lambda s: s["events"] > first["events"],
        f"the events counter passing {first['events']}",
    )
    seen = await wait_for_look(
        page,
        lambda s: all(
            s["plots"][n]["traces"] > 0 and s["plots"][n]["points"] > 0 for n in s["plots"]
        ),
        "points in the events/s chart and the field chart",
    )
    seen = await wait_for_look(page, lambda s: s["rows"] > 0, "rows in the recent events table")
    assert later["events"] > first["events"] > 0
    assert seen["badge"] == "live", seen
    return seen


@pytest.fixture(scope="module")
def voila_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[VoilaServer]:
    """One ``voila`` server for this module; no kernel of it outlives the module."""
    try:
        import voila  # noqa: F401
    except ImportError:
        pytest.fail("Voila tests need voila: python3 -m pip install 'voila'", pytrace=False)
    server = start_voila_server(tmp_path_factory.mktemp("voila"), timeout=60)
    yield server
    server.stop(timeout=10)
    assert not server.leftover_kernels(), "kernels outlived the Voila server"


@pytest.fixture(autouse=True)
def _voila_kernels_shut(request: pytest.FixtureRequest) -> Iterator[None]:
    """After a test that opened Voila pages, shut their kernels down (after the page closed:
    autouse, so set up before and torn down after ``page``)."""
    server = None
    if "voila_server" in request.fixturenames:
        server = request.getfixturevalue("voila_server")
    yield
    if server is not None:
        server.shutdown_kernels()


async def test_voila_shows_the_live_widget(page, voila_server):
    refused = await guard_offline(page)
    name = voila_server.write_notebook("demo_widget.ipynb", _DEMO)
    await open_in_voila(page, voila_server, name)

    seen = await assert_live_widget(page)
    widget = page.locator(".sw-root").first
    assert await widget.is_visible()
    shot = await save_screenshot(page, "voila-demo-widget", element=widget)
    assert shot.stat().st_size > 0
    assert refused == [], f"the page asked for URLs outside this machine: {refused}"
    assert seen["badgeText"], seen


async def test_voila_widget_asks_its_kernel_for_the_code(page, voila_server):
    refused = await guard_offline(page)
    name = voila_server.write_notebook("second_widget.ipynb", _ASKS_KERNEL)
    await open_in_voila(page, voila_server, name)
    assert "app bytes in the model: 0" in await page.locator("#rendered_cells").inner_text()

    await assert_live_widget(page)
    assert refused == [], f"the page asked for URLs outside this machine: {refused}"


async def test_same_widget_in_jupyterlab_and_notebook7(page, jupyter_server, ui):
    path = write_notebook(jupyter_server.root_dir / f"demo_widget_{ui}.ipynb", _DEMO)
    await open_notebook(page, jupyter_server, path.name, ui)
    await run_all_cells(page, ui, timeout=120)
    await wait_for_selector_in_output(page, ".sw-root")

    await assert_live_widget(page)
