"""Fixtures for real-browser tests: one Jupyter server and one Chromium per session.

- ``jupyter_server`` (session): ``jupyter lab`` on 127.0.0.1, serving both JupyterLab
  (``/lab``) and Notebook 7 (``/notebooks/NAME``); every kernel is shut down after each
  test that used it.
- ``browser`` (session): headless Chromium (Debian's ``/usr/bin/chromium``) via Playwright's
  async API.
- ``page`` (function): a fresh context and page whose console is recorded; the test fails
  at teardown if the page logged a ``console.error`` or threw an uncaught error (known
  Jupyter noise aside, see ``jupyter.KNOWN_NOISE``), unless it is marked
  ``@pytest.mark.allow_console_errors``. A failing test leaves a screenshot and the
  console log in the artifacts directory.
- ``ui`` (function, parametrized): ``"lab"`` then ``"notebook"``.

Browser tests are ``async def``; every async test in this directory runs in pytest-asyncio's
session loop, the loop the browser lives in (added by ``pytest_collection_modifyitems``
here, nothing to mark by hand). Async fixtures the tests add (a simulator, say) run in
that loop too: give them ``loop_scope="session"``. Why async: the sync Playwright API
keeps its event loop marked as running on the main thread while the browser is alive,
so no asyncio code (pytest-asyncio included) can run in that session.
"""

from __future__ import annotations

import contextlib
import sys
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import TYPE_CHECKING

import pytest
import pytest_asyncio

from tests.support.waiting import seconds

from .jupyter import (
    CHROMIUM_ARGS,
    JupyterServer,
    artifacts_dir,
    chromium_path,
    record_console,
    save_screenshot,
    start_jupyter_server,
)

if TYPE_CHECKING:
    from playwright.async_api import Browser, Page

_REPORTS = pytest.StashKey[dict[str, pytest.TestReport]]()
_HERE = Path(__file__).resolve().parent


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line(
        "markers",
        "allow_console_errors: the page fixture does not fail the test on browser console errors",
    )


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """Run this directory's async tests in the session loop, where the browser lives."""
    session_loop = pytest.mark.asyncio(loop_scope="session")
    for item in items:
        if pytest_asyncio.is_async_test(item) and _HERE in Path(item.path).resolve().parents:
            item.add_marker(session_loop, append=False)


@pytest.hookimpl(wrapper=True, tryfirst=True)
def pytest_runtest_makereport(item: pytest.Item, call: pytest.CallInfo[None]):
    """Keep each phase's report on the item, so fixtures can tell a failed test at teardown."""
    report = yield
    item.stash.setdefault(_REPORTS, {})[report.when] = report
    return report


@pytest.fixture(scope="session")
def jupyter_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[JupyterServer]:
    """One ``jupyter lab`` server for the session, in a fresh temp dir."""
    for module, package in (("jupyterlab", "jupyterlab"), ("notebook", "notebook>=7")):
        try:
            __import__(module)
        except ImportError:
            message = f"browser tests need {package}: python3 -m pip install '{package}'"
            pytest.fail(message, pytrace=False)
    server = start_jupyter_server(tmp_path_factory.mktemp("jupyter"), timeout=60)
    yield server
    server.stop(timeout=10)


@pytest.fixture(autouse=True)
def _fresh_kernels(request: pytest.FixtureRequest) -> Iterator[None]:
    """After a test that used the server, shut down its sessions and kernels.

    Autouse, so it is set up before and torn down after ``page``: the page is closed
    before its kernel goes away (no "kernel died" noise in its console).
    """
    server = None
    if "jupyter_server" in request.fixturenames:
        server = request.getfixturevalue("jupyter_server")
    yield
    if server is not None:
        server.shutdown_kernels()


@pytest_asyncio.fixture(scope="session", loop_scope="session")
async def browser() -> AsyncIterator[Browser]:
    """Headless Chromium for the session. Fails (never skips) when Chromium is missing."""
    try:
        from playwright.async_api import async_playwright
    except ImportError:
        pytest.fail(
            "browser tests need Playwright for Python: python3 -m pip install playwright",
            pytrace=False,
        )
    path = chromium_path()
    if not path.exists():
        pytest.fail(
            f"Chromium not found at {path}: install it with `apt-get install -y chromium` "
            "(Playwright's own browser download does not work here), or point "
            "STREAMWIDGETS_TEST_CHROMIUM at a Chromium binary",
            pytrace=False,
        )
    playwright = await async_playwright().start()
    try:
        browser = await playwright.chromium.launch(
            executable_path=str(path), args=CHROMIUM_ARGS, headless=True
        )
    except Exception:
        await playwright.stop()
        raise
    yield browser
    await browser.close()
    await playwright.stop()


@pytest_asyncio.fixture(loop_scope="session")
async def page(browser: Browser, request: pytest.FixtureRequest) -> AsyncIterator[Page]:
    """A fresh context and page; console errors fail the test at teardown."""
    context = await browser.new_context(viewport={"width": 1280, "height": 900})
    context.set_default_timeout(seconds(30) * 1000)
    page = await context.new_page()
    log = record_console(page)
    yield page
    reports = request.node.stash.get(_REPORTS, {})
    failed = any(r.failed for r in reports.values())
    allowed = request.node.get_closest_marker("allow_console_errors") is not None
    errors = [] if allowed else log.errors()
    if failed or errors:
        what = "failure" if failed else "console-errors"
        stem = f"{request.node.nodeid.rsplit('/', 1)[-1]}-{what}"
        with contextlib.suppress(Exception):  # a crashed page must not hide the real failure
            shot = await save_screenshot(page, stem)
            shot.with_suffix(".console.log").write_text(log.format() + "\n")
    await context.close()
    if failed and log.errors():
        print("browser console errors:", *log.errors(), sep="\n", file=sys.stderr)
    if errors and not failed:
        pytest.fail(
            "browser console errors (screenshot and log in "
            f"{artifacts_dir()}):\n" + "\n".join(str(e) for e in errors),
            pytrace=False,
        )


@pytest.fixture(params=["lab", "notebook"])
def ui(request: pytest.FixtureRequest) -> str:
    """The Jupyter UI to test in: ``"lab"`` (JupyterLab) and ``"notebook"`` (Notebook 7)."""
    return request.param
