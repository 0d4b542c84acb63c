"""Serve notebooks with Voila and open them in Playwright (async API), offline.

``start_voila_server`` runs ``voila ROOT`` on 127.0.0.1 with the same hermetic setup as
``jupyter.start_jupyter_server``: temp config, data, runtime and IPython dirs, the
kernels importing this checkout. Voila renders ``ROOT/NAME.ipynb`` at
``/voila/render/NAME.ipynb`` with the same handler that ``voila NAME.ipynb`` serves at
``/``: each page load starts a kernel, runs every cell, then streams the page, whose
widget manager connects to that kernel.

Voila's lab template links two Font Awesome style sheets from a public CDN (Voila's
own icons; no widget uses them), and nothing else outside the server. ``guard_offline``
answers those two with an empty style sheet, so the page never waits on the network
nor logs a failed load, and refuses every other request that leaves 127.0.0.1, keeping
its URL for the test to report.

Every timeout here is in seconds and is scaled by ``seconds()`` (``STREAMWIDGETS_TEST_SLOWDOWN``).
"""

from __future__ import annotations

import contextlib
import json
import os
import signal
import subprocess
import sys
import urllib.error
import urllib.request
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING
from urllib.parse import quote, urlsplit

import nbformat

from tests.support.waiting import seconds

from .jupyter import isolated_env, launch, new_notebook

if TYPE_CHECKING:
    from playwright.async_api import Page, Route

__all__ = [
    "OFFLINE_STUBS",
    "VoilaServer",
    "guard_offline",
    "open_in_voila",
    "start_voila_server",
    "write_notebook",
]

#: Voila 0.5 loads every prebuilt JupyterLab extension of the environment into its own
#: JupyterLab 4.2 core. Notebook 7's lab extension (the "open in Notebook" buttons of
#: JupyterLab) needs a newer @jupyterlab/docregistry than that core shares and throws
#: "The getter for the shared module is not a function" at every page load. It has no
#: part in a Voila page, so the server leaves it out, as a Voila deployment would.
EXTENSION_DENYLIST = ["@jupyter-notebook/lab-extension"]

#: Requests outside 127.0.0.1 that a Voila page makes and ``guard_offline`` answers:
#: URL prefix -> (content type, body). Voila's lab template links Font Awesome 5 from
#: jsdelivr (the icons of Voila's own chrome; the widget draws none).
OFFLINE_STUBS: dict[str, tuple[str, str]] = {
    "https://cdn.jsdelivr.net/npm/@fortawesome/fontawesome-free@": (
        "text/css",
        "/* Font Awesome: not loaded in tests, which run offline */\n",
    ),
}


@dataclass
class VoilaServer:
    """A running ``voila ROOT`` on 127.0.0.1; each rendered notebook gets its own kernel."""

    base_url: str  #: ``http://127.0.0.1:PORT/``
    root_dir: Path  #: the notebooks it serves
    runtime_dir: Path  #: Voila's connection files (one per kernel) live under it
    log_path: Path  #: the server's stdout and stderr
    process: subprocess.Popen[bytes]
    kernel_ids: list[str] = field(default_factory=list)  #: kernels of the pages opened

    def url(self, path: str = "") -> str:
        """The absolute URL of ``path`` (relative to the server's base URL)."""
        return self.base_url + path.lstrip("/")

    def render_url(self, name: str) -> str:
        """The URL that renders notebook ``name`` (relative to the root) as a Voila page."""
        return self.url("voila/render/" + quote(name))

    def write_notebook(self, name: str, cells: list[str]) -> str:
        """Write a notebook of code ``cells`` into the root; returns ``name``."""
        write_notebook(self.root_dir / name, cells)
        return name

    def shutdown_kernels(self) -> None:
        """Shut down the kernels of the pages opened so far (``/voila/api/shutdown/ID``).

        A Voila page asks for this itself on ``beforeunload``, which a closed browser
        context never fires; without it every demo kernel would keep streaming until
        the server stops.
        """
        while self.kernel_ids:
            kernel_id = self.kernel_ids.pop()
            if self.process.poll() is not None:
                continue
            request = urllib.request.Request(
                self.url(f"voila/api/shutdown/{kernel_id}"), data=b"", method="POST"
            )
            try:
                with urllib.request.urlopen(request, timeout=seconds(20)):
                    pass
            except urllib.error.HTTPError as error:
                if error.code != 404:  # already gone
                    raise

    def stop(self, timeout: float = 10.0) -> None:
        """Stop the server (SIGTERM: Voila shuts its kernels down), then kill what is left.

        What is left: the server if it did not stop in time, and any kernel whose
        connection file lies under ``runtime_dir`` (a kernel runs in its own session,
        so killing the server alone would orphan it).
        """
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
        try:
            self.process.wait(timeout=seconds(timeout))
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait()
        for pid in self.leftover_kernels():
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, signal.SIGKILL)

    def leftover_kernels(self) -> list[int]:
        """Pids of running kernels started by this server (Linux ``/proc``; else none)."""
        marker = str(self.runtime_dir).encode()
        pids = []
        for entry in Path("/proc").glob("[0-9]*"):
            try:
                cmdline = (entry / "cmdline").read_bytes()
            except OSError:
                continue
            if b"ipykernel" in cmdline and marker in cmdline:
                pids.append(int(entry.name))
        return pids

    def log_tail(self, lines: int = 40) -> str:
        """The last ``lines`` lines of the server's log."""
        try:
            text = self.log_path.read_text(errors="replace")
        except OSError:
            return ""
        return "\n".join(text.splitlines()[-lines:])


def write_notebook(path: Path, cells: list[str]) -> Path:
    """Write a notebook of code ``cells`` (Python 3 kernel) to ``path``; returns ``path``."""
    path.parent.mkdir(parents=True, exist_ok=True)
    nbformat.write(new_notebook(cells), path)
    return path


def start_voila_server(base_dir: Path, timeout: float = 60.0) -> VoilaServer:
    """Start ``voila`` on ``base_dir/root``; wait until its tree page answers 200.

    ``base_dir`` gets ``root/`` (the notebooks), ``config/``, ``data/``, ``runtime/``,
    ``ipython/`` and ``server.log``; ``config/voila.json`` holds the settings (below).
    Retries on a new port if the chosen one was taken in the meantime. A cell that
    raises shows its traceback in the page (``show_tracebacks``), so a failing test
    says why.
    """
    dirs = {name: base_dir / name for name in ("root", "config", "data", "runtime", "ipython")}
    for path in dirs.values():
        path.mkdir(parents=True, exist_ok=True)
    env = isolated_env(dirs)
    # Read from JUPYTER_CONFIG_DIR by Voila (and by no other app).
    config = {
        "Voila": {
            # Kernel connection files under runtime/, so stop() can find any kernel left.
            "connection_dir_root": str(dirs["runtime"]),
            # Lets shutdown_kernels() post without the page's XSRF cookie.
            "tornado_settings": {"disable_check_xsrf": True},
        },
        "VoilaConfiguration": {
            "show_tracebacks": True,
            "extension_denylist": EXTENSION_DENYLIST,
        },
    }
    (dirs["config"] / "voila.json").write_text(json.dumps(config, indent=1))

    def command(port: int) -> list[str]:
        return [
            sys.executable, "-m", "voila", str(dirs["root"]),
            "--no-browser",
            "--Voila.ip=127.0.0.1",
            f"--Voila.port={port}",
            "--Voila.port_retries=0",  # fail, never drift to a port we do not know
        ]  # fmt: skip

    def server(port: int, process: subprocess.Popen[bytes]) -> VoilaServer:
        url = f"http://127.0.0.1:{port}/"
        return VoilaServer(url, dirs["root"], dirs["runtime"], log_path, process)

    log_path = base_dir / "server.log"
    return launch("Voila", command, server, "", dirs["root"], env, log_path, timeout)


async def guard_offline(page: Page) -> list[str]:
    """Keep ``page`` on this machine: stub ``OFFLINE_STUBS``, refuse any other outside URL.

    Returns the list the refused URLs are appended to (a test asserts it stays empty).
    Loopback requests (the server, its kernel websocket) pass untouched.
    """
    refused: list[str] = []

    def outside(url: str) -> bool:
        parts = urlsplit(url)
        return parts.scheme in ("http", "https") and parts.hostname not in (
            "127.0.0.1",
            "localhost",
            "::1",
        )

    async def answer(route: Route) -> None:
        url = route.request.url
        for prefix, (content_type, body) in OFFLINE_STUBS.items():
            if url.startswith(prefix):
                await route.fulfill(status=200, content_type=content_type, body=body)
                return
        refused.append(url)
        await route.abort("blockedbyclient")

    await page.route(outside, answer)
    return refused


async def open_in_voila(page: Page, server: VoilaServer, name: str, timeout: float = 60.0) -> str:
    """Open notebook ``name`` in Voila; return its kernel id once every cell has run.

    Voila streams the page while the kernel runs the cells, so the page has loaded when
    the last cell's output is in it. Fails if a cell raised or wrote to stderr (Voila
    stops at the first cell that raised). The kernel id is kept for
    ``VoilaServer.shutdown_kernels``.
    """
    response = await page.goto(
        server.render_url(name), wait_until="load", timeout=seconds(timeout) * 1000
    )
    if response is None or response.status != 200:
        status = None if response is None else response.status
        raise AssertionError(f"Voila answered {status} for {name}; log:\n{server.log_tail()}")
    kernel_id = await page.evaluate(
        "() => JSON.parse(document.getElementById('jupyter-config-data').textContent).kernelId"
    )
    if kernel_id:
        server.kernel_ids.append(kernel_id)
    # A cell that raised, or printed to stderr, is a defect of the page as a person sees it.
    errors = await page.locator(
        ".jp-OutputArea-output[data-mime-type$='stderr'], "
        ".jp-OutputArea-output[data-mime-type$='error']"
    ).all_inner_texts()
    if errors:
        raise AssertionError(
            f"{name} in Voila: a cell raised or wrote to stderr:\n" + "\n".join(errors)
        )
    return kernel_id
