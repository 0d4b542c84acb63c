"""Drive a real JupyterLab / Jupyter Notebook 7 from Playwright (async API).

One ``jupyter lab`` server serves both UIs: ``/lab`` (JupyterLab) and ``/notebooks/NAME``
(Notebook 7). It runs offline and hermetic: temp config, data, runtime, settings,
workspace and IPython dirs; no news feed, no update check, no PyPI extension listing.

The helpers talk to the page through ``window.jupyterapp`` (the server exposes it with
``expose_app_in_browser``): both UIs have the same command registry
(``notebook:run-all-cells``, ``notebook:run-cell``, ``docmanager:open``), the same shell
API (``shell.widgets('main')``) and the same ``NotebookPanel``, so one code path drives
both. Neither UI binds a keyboard shortcut to "run all cells", which rules out the
keyboard route; the Run menu exists in both but the command registry is what the menu
calls anyway, without the menu's layout to depend on.

Every timeout here is in seconds and is scaled by ``seconds()`` (``STREAMWIDGETS_TEST_SLOWDOWN``).
"""

from __future__ import annotations

import asyncio
import contextlib
import ctypes
import itertools
import json
import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
import uuid
import weakref
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal
from urllib.parse import quote

from tests.support.waiting import seconds

if TYPE_CHECKING:
    from playwright.async_api import ConsoleMessage, Locator, Page
    from playwright.async_api import Error as PlaywrightError

__all__ = [
    "CHROMIUM_ARGS",
    "NOTEBOOKS",
    "ConsoleLog",
    "JupyterServer",
    "artifacts_dir",
    "assert_no_console_errors",
    "cell_outputs_text",
    "chromium_path",
    "console_log",
    "new_notebook",
    "open_notebook",
    "record_console",
    "run_all_cells",
    "run_cell",
    "save_screenshot",
    "start_jupyter_server",
    "wait_for_cell_output",
    "wait_for_kernel_idle",
    "wait_for_selector_in_output",
    "write_notebook",
]

UI = Literal["lab", "notebook"]

REPO_ROOT = Path(__file__).resolve().parents[2]
#: The fixture notebooks of the browser tests.
NOTEBOOKS = Path(__file__).resolve().parent / "notebooks"

#: Chromium flags: no sandbox (root, containers), no GPU, and none of Chromium's own
#: background traffic (this network refuses it and Chromium keeps retrying).
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]


def chromium_path() -> Path:
    """The Chromium to drive: ``$STREAMWIDGETS_TEST_CHROMIUM``, else ``/usr/bin/chromium``."""
    return Path(os.environ.get("STREAMWIDGETS_TEST_CHROMIUM", "/usr/bin/chromium"))


# --------------------------------------------------------------------------- artifacts


def artifacts_dir() -> Path:
    """Where screenshots go: ``$STREAMWIDGETS_TEST_ARTIFACTS``, else ``<repo>/test-artifacts/``."""
    path = Path(os.environ.get("STREAMWIDGETS_TEST_ARTIFACTS") or REPO_ROOT / "test-artifacts")
    path.mkdir(parents=True, exist_ok=True)
    return path


def _safe_name(name: str) -> str:
    return re.sub(r"[^A-Za-z0-9._-]+", "_", name).strip("_") or "screenshot"


async def save_screenshot(page: Page, name: str, *, element: Locator | None = None) -> Path:
    """Save a screenshot as ``<artifacts>/<name>.png``; returns its path.

    The viewport, after scrolling ``element`` into view if given (Jupyter scrolls inside
    its panels, so a full-page screenshot would show no more than the viewport).
    """
    stem = name[:-4] if name.endswith(".png") else name
    path = artifacts_dir() / f"{_safe_name(stem)}.png"
    if element is not None:
        await element.scroll_into_view_if_needed()
    await page.screenshot(path=str(path))
    return path


# --------------------------------------------------------------------------- server


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _die_with_parent() -> None:  # pragma: no cover - runs in the child before exec
    """Linux: SIGTERM the server if pytest dies without tearing down (kill -9, timeout)."""
    with contextlib.suppress(OSError, AttributeError):
        ctypes.CDLL(None, use_errno=True).prctl(1, signal.SIGTERM)  # PR_SET_PDEATHSIG


# JupyterLab's "Would you like to get notified about official Jupyter news?" toast comes
# from this plugin even with the server's news feed off; it also covers the bottom right
# of the notebook, where it could take clicks meant for a widget.
_USER_SETTINGS = {
    "@jupyterlab/apputils-extension/notification.jupyterlab-settings": {
        "fetchNews": "false",
        "checkForUpdates": False,
    },
}


@dataclass
class JupyterServer:
    """A running ``jupyter lab`` server (both UIs) on 127.0.0.1, rooted in a temp dir."""

    base_url: str  #: ``http://127.0.0.1:PORT/``
    root_dir: Path  #: the server's root: notebooks are opened relative to it
    log_path: Path  #: the server's stdout and stderr
    process: subprocess.Popen[bytes]
    _copies: itertools.count[int] = field(default_factory=lambda: itertools.count(1))

    def url(self, path: str = "") -> str:
        """The absolute URL of ``path`` (relative to the server's base URL)."""
        return self.base_url + path.lstrip("/")

    def copy_notebook(self, src: str | os.PathLike[str], name: str | None = None) -> str:
        """Copy a notebook into the server's root; returns its name relative to the root.

        Each copy gets a new name (``smoke-3.ipynb``) unless ``name`` is given, so each
        test gets its own session and kernel even when tests open the same notebook.
        """
        src = Path(src)
        if name is None:
            name = f"{src.stem}-{next(self._copies)}{src.suffix}"
        dest = self.root_dir / name
        dest.parent.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(src, dest)
        return dest.relative_to(self.root_dir).as_posix()

    def api(self, method: str, path: str, body: Any = None, timeout: float = 10.0) -> Any:
        """Call the REST API (``api/...``); returns the decoded JSON, or None."""
        data = None if body is None else json.dumps(body).encode()
        request = urllib.request.Request(self.url(path), data=data, method=method)
        if data is not None:
            request.add_header("Content-Type", "application/json")
        with urllib.request.urlopen(request, timeout=seconds(timeout)) as response:
            raw = response.read()
        return json.loads(raw) if raw else None

    def shutdown_kernels(self) -> None:
        """Delete every session and shut down every kernel (a clean slate for the next test)."""
        if self.process.poll() is not None:
            return
        for session in self.api("GET", "api/sessions"):
            self._delete(f"api/sessions/{session['id']}")
        for kernel in self.api("GET", "api/kernels"):
            self._delete(f"api/kernels/{kernel['id']}")

    def _delete(self, path: str) -> None:
        try:
            self.api("DELETE", path, timeout=20.0)
        except urllib.error.HTTPError as error:
            if error.code != 404:  # already gone
                raise

    def stop(self, timeout: float = 10.0) -> None:
        """Shut kernels down, ask the server to stop, and terminate/kill it if it does not."""
        if self.process.poll() is None:
            try:
                self.shutdown_kernels()
                self.api("POST", "api/shutdown")
            except (OSError, urllib.error.URLError):
                pass
        try:
            self.process.wait(timeout=seconds(timeout))
        except subprocess.TimeoutExpired:
            self.process.terminate()
            try:
                self.process.wait(timeout=seconds(timeout))
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()

    def log_tail(self, lines: int = 40) -> str:
        """The last ``lines`` lines of the server's log."""
        try:
            text = self.log_path.read_text(errors="replace")
        except OSError:
            return ""
        return "\n".join(text.splitlines()[-lines:])


#: The kernel a written notebook names: it then opens without asking which kernel to use.
KERNELSPEC = {"name": "python3", "display_name": "Python 3", "language": "python"}


def new_notebook(cells: list[str] | tuple[str, ...]) -> Any:
    """A notebook (``nbformat.NotebookNode``) of code ``cells`` that names its kernel."""
    import nbformat

    notebook = nbformat.v4.new_notebook()
    notebook.cells = [nbformat.v4.new_code_cell(source) for source in cells]
    notebook.metadata["kernelspec"] = dict(KERNELSPEC)
    return notebook


def write_notebook(server: JupyterServer, name: str, *cells: str) -> str:
    """Write a notebook of code ``cells`` as ``name`` in the server's root; returns ``name``.

    Example: ``await open_notebook(page, server, write_notebook(server, "a.ipynb", "1"), "lab")``
    """
    import nbformat

    nbformat.write(new_notebook(cells), Path(server.root_dir) / name)
    return name


def start_jupyter_server(base_dir: Path, timeout: float = 60.0) -> JupyterServer:
    """Start ``jupyter lab``, every Jupyter dir under ``base_dir``; wait until ``/lab`` answers 200.

    ``base_dir`` gets ``root/`` (the notebooks), ``config/``, ``data/``, ``runtime/``,
    ``settings/``, ``workspaces/``, ``ipython/`` and ``server.log``. Retries on a new
    port if the chosen one was taken in the meantime.
    """
    dirs = {name: base_dir / name for name in (
        "root", "config", "data", "runtime", "settings", "workspaces", "ipython")}  # fmt: skip
    for path in dirs.values():
        path.mkdir(parents=True, exist_ok=True)
    for rel, settings in _USER_SETTINGS.items():
        path = dirs["settings"] / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(json.dumps(settings))

    env = isolated_env(
        dirs,
        # Both LabApp and JupyterNotebookApp read these (their *_dir traits default to them).
        JUPYTERLAB_SETTINGS_DIR=str(dirs["settings"]),
        JUPYTERLAB_WORKSPACES_DIR=str(dirs["workspaces"]),
    )

    def command(port: int) -> list[str]:
        return [
            sys.executable, "-m", "jupyter", "lab",
            "--no-browser",
            "--allow-root",
            "--ServerApp.ip=127.0.0.1",
            f"--ServerApp.port={port}",
            "--ServerApp.port_retries=0",  # fail, never drift to a port we do not know
            "--IdentityProvider.token=",
            "--ServerApp.password=",
            "--ServerApp.disable_check_xsrf=True",
            f"--ServerApp.root_dir={dirs['root']}",
            "--ServerApp.terminals_enabled=False",
            # Offline and quiet: no news feed, no update check, no PyPI extension listing.
            "--LabApp.news_url=None",
            "--LabApp.check_for_updates_class=jupyterlab.NeverCheckForUpdate",
            "--LabApp.extension_manager=readonly",
            # window.jupyterapp, in both UIs: the helpers drive the app through it.
            "--LabApp.expose_app_in_browser=True",
            "--JupyterNotebookApp.expose_app_in_browser=True",
        ]  # fmt: skip

    def server(port: int, process: subprocess.Popen[bytes]) -> JupyterServer:
        return JupyterServer(f"http://127.0.0.1:{port}/", dirs["root"], log_path, process)

    log_path = base_dir / "server.log"
    return launch("Jupyter server", command, server, "lab", dirs["root"], env, log_path, timeout)


def isolated_env(dirs: dict[str, Path], **more: str) -> dict[str, str]:
    """The environment of a test server: Jupyter's config, data and runtime dirs and IPython's
    under ``dirs`` (none of the user's), and kernels importing this checkout, installed or not.
    """
    env = {k: v for k, v in os.environ.items() if not k.startswith(("JUPYTER", "JPY_"))}
    env.update(
        JUPYTER_CONFIG_DIR=str(dirs["config"]),
        JUPYTER_DATA_DIR=str(dirs["data"]),
        JUPYTER_RUNTIME_DIR=str(dirs["runtime"]),
        # No user IPython profile or startup scripts in the kernels.
        IPYTHONDIR=str(dirs["ipython"]),
        PYTHONPATH=os.pathsep.join(filter(None, [str(REPO_ROOT), os.environ.get("PYTHONPATH")])),
        **more,
    )
    return env


def launch(
    what: str,
    command: Callable[[int], list[str]],
    server: Callable[[int, subprocess.Popen[bytes]], Any],
    ready_path: str,
    cwd: Path,
    env: dict[str, str],
    log_path: Path,
    timeout: float,
) -> Any:
    """Run ``command(port)`` on a free port until ``server(...).url(ready_path)`` answers 200.

    ``server(port, process)`` wraps the process (it has ``url``, ``stop`` and ``log_tail``);
    output goes to ``log_path``. Retries on a new port (3 tries) if the chosen one was taken
    in the meantime. Raises RuntimeError with the log's tail if the server exits or does not
    answer within ``timeout`` seconds (scaled by ``seconds``).
    """
    deadline = time.monotonic() + seconds(timeout)
    for _attempt in range(3):
        with open(log_path, "ab") as log:
            process = subprocess.Popen(
                command(port := _free_port()),
                cwd=cwd,
                env=env,
                stdin=subprocess.DEVNULL,
                stdout=log,
                stderr=subprocess.STDOUT,
                start_new_session=True,  # Ctrl-C reaches pytest only; teardown stops us
                preexec_fn=_die_with_parent if sys.platform.startswith("linux") else None,
            )
        started = server(port, process)
        while time.monotonic() < deadline:
            if process.poll() is not None:
                break
            try:
                with urllib.request.urlopen(started.url(ready_path), timeout=5) as response:
                    if response.status == 200:
                        return started
            except (OSError, urllib.error.URLError):
                pass
            time.sleep(0.1)
        else:
            started.stop(timeout=5)
            raise RuntimeError(
                f"{what} did not answer /{ready_path} within {seconds(timeout):.0f} s; "
                f"log {log_path}:\n{started.log_tail()}"
            )
        if "already in use" not in started.log_tail():
            break
    raise RuntimeError(
        f"{what} exited with code {process.returncode}; log {log_path}:\n{started.log_tail()}"
    )


# --------------------------------------------------------------------------- console


@dataclass(frozen=True)
class ConsoleEntry:
    """One console message or uncaught page error."""

    kind: str  #: ``console.<type>`` (``console.error``, ``console.warning``...) or ``pageerror``
    text: str
    location: str  #: ``url:line:column`` of the message, or the first frame of the error
    stack: str = ""

    def __str__(self) -> str:
        return f"[{self.kind}] {self.text}  ({self.location})"


@dataclass(frozen=True)
class KnownNoise:
    """An error Jupyter itself emits; ``why`` says where it comes from and why it is harmless."""

    name: str
    why: str
    matches: Callable[[ConsoleEntry], bool]


def _first_frame(stack: str) -> str:
    for line in stack.splitlines():
        line = line.strip()
        if line.startswith("at "):
            return line[3:]
    return ""


#: What ``assert_no_console_errors`` ignores. Keep it narrow: each entry matches one
#: message from one bundle of Jupyter's own code. Widget code (anywidget ESM, our
#: labextension) is never in those bundles, so its errors are never filtered.
#: (News-feed and update-check fetch errors cannot happen: the server turns both off.)
KNOWN_NOISE: list[KnownNoise] = [
    KnownNoise(
        name="notebook7-shortcuts-schema",
        why=(
            "Notebook 7.6 (seen with 7.6.5, JupyterLab 4.6) throws this at every page load: its "
            "shortcuts plugin (@jupyter-notebook/application-extension:shortcuts) reads "
            "plugins[id].schema on a settings pluginChanged signal for "
            "@jupyterlab/docmanager-extension:plugin, which the Notebook settings registry does "
            "not hold. Unhandled promise rejection, no effect on the page; happens with no "
            "third-party extension enabled and with a stock `jupyter notebook` server."
        ),
        matches=lambda e: (
            e.kind == "pageerror"
            and e.text == "Cannot read properties of undefined (reading 'schema')"
            and re.search(r"/static/notebook/notebook_core\.[0-9a-f]+\.js", e.location) is not None
        ),
    ),
    KnownNoise(
        name="shared-font-403",
        why=(
            "JupyterLab and Notebook 7 ship some fonts under the same hashed file name "
            "(620019ed9d1100b6.woff2 in both /static/lab/ and /static/notebook/). "
            "jupyter_server's FileFindHandler caches a file's absolute path by its name alone "
            "(seen with 2.21): once one UI of a session loaded the font, the other UI's request "
            "resolves to the first one's directory and is refused with 403 'not in root static "
            "directory'. The page falls back to the next font; only servers that serve both "
            "UIs, like the test server, see it."
        ),
        matches=lambda e: (
            e.kind == "console.error"
            and e.text.startswith("Failed to load resource: the server responded with a status")
            and "403" in e.text
            and re.search(r"/static/(?:lab|notebook)/[0-9a-f]{16}\.woff2?:", e.location) is not None
        ),
    ),
]


class ConsoleLog:
    """Everything a page logged to its console, and its uncaught errors, in order."""

    def __init__(self, page: Page) -> None:
        self.entries: list[ConsoleEntry] = []
        page.on("console", self._on_console)
        page.on("pageerror", self._on_pageerror)

    def _on_console(self, message: ConsoleMessage) -> None:
        loc = message.location or {}
        where = f"{loc.get('url', '')}:{loc.get('lineNumber', '')}:{loc.get('columnNumber', '')}"
        self.entries.append(ConsoleEntry(f"console.{message.type}", message.text, where))

    def _on_pageerror(self, error: PlaywrightError) -> None:
        stack = error.stack or ""
        text = error.message or str(error)
        self.entries.append(ConsoleEntry("pageerror", text, _first_frame(stack), stack))

    def errors(self) -> list[ConsoleEntry]:
        """``console.error`` messages and page errors, known Jupyter noise left out."""
        return [e for e in self._all_errors() if not any(n.matches(e) for n in KNOWN_NOISE)]

    def ignored(self) -> list[ConsoleEntry]:
        """The errors left out as known Jupyter noise."""
        return [e for e in self._all_errors() if any(n.matches(e) for n in KNOWN_NOISE)]

    def _all_errors(self) -> list[ConsoleEntry]:
        return [e for e in self.entries if e.kind in ("console.error", "pageerror")]

    def format(self) -> str:
        """The whole log, one entry a line (stacks of page errors included)."""
        lines = []
        for e in self.entries:
            lines.append(str(e))
            if e.stack:
                lines.extend("    " + s for s in e.stack.splitlines()[1:])
        return "\n".join(lines)


_LOGS: weakref.WeakKeyDictionary[Page, ConsoleLog] = weakref.WeakKeyDictionary()


def record_console(page: Page) -> ConsoleLog:
    """Start recording ``page``'s console and page errors (idempotent); returns the log."""
    if page not in _LOGS:
        _LOGS[page] = ConsoleLog(page)
    return _LOGS[page]


def console_log(page: Page) -> ConsoleLog:
    """The log ``record_console`` (called by the ``page`` fixture) keeps for ``page``."""
    try:
        return _LOGS[page]
    except KeyError:
        raise AssertionError("page console not recorded: call record_console(page)") from None


def assert_no_console_errors(page: Page) -> None:
    """Fail if ``page`` logged a ``console.error`` or threw an uncaught error (noise aside)."""
    errors = console_log(page).errors()
    assert not errors, "browser console errors:\n" + "\n".join(
        str(e) + ("\n" + e.stack if e.stack else "") for e in errors
    )


# --------------------------------------------------------------------------- notebook UI

# Finds the NotebookPanel of `path` (default: the one open_notebook opened) among the
# main-area widgets; the same in JupyterLab and Notebook 7.
_FIND_PANEL = """
function findPanel(path) {
  const app = window.jupyterapp;
  if (!app) return null;
  path = path || window.__streamwidgetsNotebookPath;
  const panels = [...app.shell.widgets('main')].filter(
    w => w.context && w.sessionContext && w.content && Array.isArray(w.content.widgets));
  if (path) return panels.find(w => w.context.path === path) || null;
  return panels.length === 1 ? panels[0] : null;
}
"""

_STATE_JS = (
    "(path) => {"
    + _FIND_PANEL
    + """
  const dialog = document.querySelector('.jp-Dialog');
  if (dialog) return {dialog: dialog.innerText};
  if (window.__streamwidgetsOpenError) return {error: window.__streamwidgetsOpenError};
  const panel = findPanel(path);
  if (!panel) return {panel: false};
  const sc = panel.sessionContext;
  const kernel = sc.session ? sc.session.kernel : null;
  const running = panel.content.widgets.filter(
    c => c.model.type === 'code' && c.model.executionState === 'running').length;
  return {
    panel: true,
    ready: panel.context.isReady && sc.isReady,
    kernel: kernel ? kernel.name : null,
    status: kernel ? kernel.status : null,
    connection: kernel ? kernel.connectionStatus : null,
    running,
  };
}"""
)


def _is_idle(state: dict[str, Any]) -> bool:
    return bool(
        state.get("ready")
        and state.get("status") == "idle"
        and state.get("connection") == "connected"
        and state.get("running") == 0
    )


async def _wait_for_app(page: Page, timeout: float) -> None:
    try:
        await page.wait_for_function("() => window.jupyterapp", timeout=timeout * 1000)
    except Exception as error:
        raise AssertionError(
            f"window.jupyterapp did not appear on {page.url} within {timeout:.0f} s: the server "
            "must run with --LabApp.expose_app_in_browser=True and "
            "--JupyterNotebookApp.expose_app_in_browser=True (the jupyter_server fixture does)"
        ) from error
    await page.evaluate(
        "async () => { await window.jupyterapp.started; await window.jupyterapp.restored; }"
    )


async def _poll_kernel(
    page: Page, path: str | None, timeout: float, *, accept_kernel_dialog: bool, settle: float = 0.2
) -> dict[str, Any]:
    """Poll until the kernel is idle (for ``settle`` s), accepting "Select Kernel" if asked."""
    deadline = time.monotonic() + timeout
    idle_since: float | None = None
    state: dict[str, Any] = {}
    while True:
        state = await page.evaluate(_STATE_JS, path)
        now = time.monotonic()
        if "error" in state:
            raise AssertionError(f"opening the notebook failed: {state['error']}")
        if "dialog" in state:
            idle_since = None
            if accept_kernel_dialog and "Select Kernel" in state["dialog"]:
                # Shown when the notebook names no kernel (or one that does not exist);
                # the preselected choice is the default kernel, python3.
                await page.locator(".jp-Dialog .jp-mod-accept").click()
                await page.locator(".jp-Dialog").wait_for(state="detached")
            else:
                raise AssertionError(f"unexpected dialog: {state['dialog']!r}")
        elif _is_idle(state):
            idle_since = idle_since if idle_since is not None else now
            if now - idle_since >= settle:
                return state
        else:
            idle_since = None
        if now > deadline:
            raise AssertionError(f"kernel not idle within {timeout:.0f} s; last state: {state}")
        await asyncio.sleep(0.05)


async def open_notebook(
    page: Page, server: JupyterServer, name: str, ui: UI = "lab", timeout: float = 60.0
) -> None:
    """Open notebook ``name`` (relative to the server root) and wait until its kernel is idle.

    ``ui="notebook"`` navigates to Notebook 7's ``/notebooks/NAME``. ``ui="lab"`` navigates
    to a fresh JupyterLab workspace (``/lab/workspaces/<unique>``) and opens the notebook
    with ``docmanager:open``: a fresh workspace, because Lab restores the previous test's
    tabs from a reused one; no ``/lab/tree/NAME`` URL, because serving it stores
    ``treePath`` in the page config the server shares with Notebook 7, and every later
    Notebook 7 page then throws "Command 'filebrowser:open-path' not registered".

    Accepts the "Select Kernel" dialog (default kernel) if it appears.
    """
    if ui not in ("lab", "notebook"):
        raise ValueError(f"ui must be 'lab' or 'notebook', not {ui!r}")
    timeout = seconds(timeout)
    if ui == "lab":
        await page.goto(server.url(f"lab/workspaces/test-{uuid.uuid4().hex[:12]}"))
        await _wait_for_app(page, timeout)
        await page.evaluate(
            """(path) => {
              window.__streamwidgetsNotebookPath = path;
              // Not awaited: with no kernel named, opening waits for the kernel dialog.
              window.jupyterapp.commands.execute('docmanager:open', {path, factory: 'Notebook'})
                .catch(e => { window.__streamwidgetsOpenError = String(e); });
            }""",
            name,
        )
    else:
        await page.goto(server.url("notebooks/" + quote(name)))
        await _wait_for_app(page, timeout)
        await page.evaluate("(path) => { window.__streamwidgetsNotebookPath = path; }", name)
    await _poll_kernel(page, name, timeout, accept_kernel_dialog=True)


async def wait_for_kernel_idle(
    page: Page, timeout: float = 30.0, *, path: str | None = None
) -> None:
    """Wait until the notebook's kernel is connected and idle and no cell is running.

    "Idle" must hold for 0.2 s, so a gap between two queued executions does not count.
    """
    await _poll_kernel(page, path, seconds(timeout), accept_kernel_dialog=False)


_RUN_JS = (
    "async ({path, command, index}) => {"
    + _FIND_PANEL
    + """
  const app = window.jupyterapp;
  const panel = findPanel(path);
  if (!panel) throw new Error('no notebook open: ' + (path || window.__streamwidgetsNotebookPath));
  // Notebook commands act on the current notebook: make it ours first.
  app.shell.activateById(panel.id);
  for (let i = 0; i < 100 && app.shell.currentWidget !== panel; i++) {
    await new Promise(r => setTimeout(r, 20));
  }
  if (app.shell.currentWidget !== panel) throw new Error('cannot activate ' + panel.context.path);
  if (index !== null) {
    if (index < 0 || index >= panel.content.widgets.length) throw new Error('no cell ' + index);
    panel.content.activeCellIndex = index;
    panel.content.deselectAll();
  }
  const id = String(Math.random()).slice(2);
  window.__streamwidgetsRuns = window.__streamwidgetsRuns || {};
  window.__streamwidgetsRuns[id] = {done: false};
  app.commands.execute(command).then(
    ok => { window.__streamwidgetsRuns[id] = {done: true, ok: ok !== false}; },
    e => { window.__streamwidgetsRuns[id] = {done: true, ok: false, error: String(e)}; });
  return id;
}"""
)

_RUN_STATE_JS = """(id) => {
  const dialog = document.querySelector('.jp-Dialog');
  const run = window.__streamwidgetsRuns[id];
  return dialog && !run.done ? {...run, dialog: dialog.innerText} : run;
}"""

_ERRORS_JS = (
    "(path) => {"
    + _FIND_PANEL
    + """
  const panel = findPanel(path);
  const errors = [];
  panel.content.widgets.forEach((cell, i) => {
    if (cell.model.type !== 'code') return;
    for (const out of cell.model.outputs.toJSON()) {
      if (out.output_type === 'error') errors.push(`cell ${i}: ${out.ename}: ${out.evalue}`);
    }
  });
  return errors;
}"""
)


async def _run(
    page: Page, command: str, index: int | None, path: str | None, timeout: float, check: bool
) -> bool:
    run_id = await page.evaluate(_RUN_JS, {"path": path, "command": command, "index": index})
    deadline = time.monotonic() + timeout
    while True:
        result = await page.evaluate(_RUN_STATE_JS, run_id)
        if result["done"]:
            break
        if "dialog" in result:  # "Kernel Restarting", "Kernel died"...: never waits it out
            raise AssertionError(f"{command}: unexpected dialog: {result['dialog']!r}")
        if time.monotonic() > deadline:
            raise AssertionError(f"{command} did not finish within {timeout:.0f} s")
        await asyncio.sleep(0.05)
    if "error" in result:
        raise AssertionError(f"{command} failed: {result['error']}")
    await _poll_kernel(page, path, timeout, accept_kernel_dialog=False)
    if check and not result["ok"]:
        errors = await page.evaluate(_ERRORS_JS, path)
        shown = "; ".join(errors) or "(no error output)"
        raise AssertionError(f"{command}: a cell raised: {shown}")
    return bool(result["ok"])


async def run_all_cells(
    page: Page,
    ui: UI | None = None,
    timeout: float = 60.0,
    *,
    path: str | None = None,
    check: bool = True,
) -> bool:
    """Run every cell (``notebook:run-all-cells``) and wait until all ran and the kernel is idle.

    ``ui`` is accepted for symmetry with ``open_notebook``; both UIs take the same route.
    With ``check`` (default), a cell raising fails the test with the error; otherwise
    returns False in that case. Widget views may still be rendering when this returns:
    wait for them with ``wait_for_selector_in_output``.
    """
    if ui not in (None, "lab", "notebook"):
        raise ValueError(f"ui must be 'lab' or 'notebook', not {ui!r}")
    return await _run(page, "notebook:run-all-cells", None, path, seconds(timeout), check)


async def run_cell(
    page: Page, index: int, timeout: float = 30.0, *, path: str | None = None, check: bool = True
) -> bool:
    """Run cell ``index`` (0-based, markdown cells count) without moving on; wait until done."""
    return await _run(page, "notebook:run-cell", index, path, seconds(timeout), check)


_PANEL_ID_JS = "(path) => {" + _FIND_PANEL + "const p = findPanel(path); return p && p.id; }"

_OUTPUTS_JS = (
    "(path) => {"
    + _FIND_PANEL
    + """
  const panel = findPanel(path);
  if (!panel) throw new Error('no notebook open: ' + (path || window.__streamwidgetsNotebookPath));
  return panel.content.widgets.map(cell => {
    if (!cell.outputArea) return '';
    const outputs = cell.outputArea.node.querySelectorAll(
      ':scope > .jp-OutputArea-child > .jp-OutputArea-output');
    return [...outputs].map(o => o.textContent.replace(/\\s+$/, '')).join('\\n');
  });
}"""
)


async def cell_outputs_text(page: Page, *, path: str | None = None) -> list[str]:
    """The text of each cell's outputs as shown (one string per cell; "" for markdown).

    Outputs of one cell are joined by newlines, each without trailing whitespace; a
    widget's output is the text of its rendered DOM.
    """
    return await page.evaluate(_OUTPUTS_JS, path)


async def wait_for_cell_output(
    page: Page,
    index: int,
    expected: str | re.Pattern[str],
    timeout: float = 10.0,
    *,
    path: str | None = None,
) -> str:
    """Wait until cell ``index``'s output contains ``expected`` (substring or regex); returns it."""
    deadline = time.monotonic() + seconds(timeout)
    while True:
        text = (await cell_outputs_text(page, path=path))[index]
        found = expected.search(text) if isinstance(expected, re.Pattern) else expected in text
        if found:
            return text
        if time.monotonic() > deadline:
            raise AssertionError(
                f"cell {index} output never showed {expected!r} in {seconds(timeout):.0f} s; "
                f"it shows {text!r}"
            )
        await asyncio.sleep(0.05)


async def wait_for_selector_in_output(
    page: Page,
    selector: str,
    timeout: float = 30.0,
    *,
    state: Literal["attached", "visible"] = "visible",
    path: str | None = None,
) -> Locator:
    """Wait until ``selector`` matches inside the notebook's cell outputs; returns the locator.

    Widgets (anywidget included) render straight into the cell's output area in the page
    DOM, no iframe, in both UIs. The returned locator matches every hit (Playwright's
    strict mode then refuses to click an ambiguous one); ``.first``/``.nth()`` pick one.
    """
    panel_id = await page.evaluate(_PANEL_ID_JS, path)
    if not panel_id:
        raise AssertionError("no notebook open: call open_notebook first")
    locator = page.locator(f'[id="{panel_id}"] .jp-Cell-outputArea').locator(selector)
    try:
        await locator.first.wait_for(state=state, timeout=seconds(timeout) * 1000)
    except Exception as error:
        raise AssertionError(
            f"{selector!r} not {state} in the cell outputs within {seconds(timeout):.0f} s; "
            f"outputs: {await cell_outputs_text(page, path=path)}"
        ) from error
    return locator
