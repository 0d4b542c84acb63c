"""The public surface: exported names, and docstring examples that actually run."""

from __future__ import annotations

import doctest
import importlib
import json
import pkgutil

import pytest

import streamwidgets

EXPECTED = {
    "AuthenticationFailed", "ConfigurationError", "Connection", "ConnectionFailed", "Event",
    "EventBuffer", "FrameError", "Gap", "RequestError", "Secret", "State", "StateChange",
    "Stream", "StreamError", "StreamNotAvailable", "StreamWidget", "SubscriptionRefused",
    "SubscriptionResult", "__version__", "feeds", "history", "open", "read_export",
}  # fmt: skip


def test_exported_names_are_what_we_mean_to_export():
    """streamwidgets.__all__ is exactly the intended public API, and every name resolves."""
    assert set(streamwidgets.__all__) == EXPECTED
    for name in streamwidgets.__all__:
        assert getattr(streamwidgets, name) is not None


MODULES = sorted(
    info.name
    for info in pkgutil.walk_packages(streamwidgets.__path__, "streamwidgets.")
    if not info.name.endswith("__main__")
)


@pytest.mark.parametrize("name", MODULES)
def test_docstring_examples_run(name):
    """Every example in a module's docstrings gives the output it shows."""
    module = importlib.import_module(name)
    result = doctest.testmod(module, optionflags=doctest.ELLIPSIS | doctest.NORMALIZE_WHITESPACE)
    assert result.failed == 0, f"{result.failed} failing example(s) in {name}"


def test_demo_command_prints_a_live_summary(tmp_path):
    """`python -m streamwidgets demo` serves the simulator, connects and prints buffer summaries."""
    import subprocess
    import sys

    done = subprocess.run(
        [sys.executable, "-m", "streamwidgets", "demo", "--seconds", "2.5", "--rate", "200"],
        capture_output=True, text=True, timeout=60, check=True,
    )  # fmt: skip
    lines = done.stdout.splitlines()
    assert lines[0].startswith("connected to the simulated Hydra feed at ws://127.0.0.1:")
    summaries = [line for line in lines if line.startswith("[connected] events ")]
    assert len(summaries) >= 2
    assert "signals" in summaries[-1] and "parse errors 0" in summaries[-1]
    assert "eyJ" not in done.stdout + done.stderr  # no JWT printed


def test_lab_command_serves_the_quickstart_notebook():
    """`python -m streamwidgets lab`, the README's main command, serves the quickstart."""
    import re
    import socket
    import subprocess
    import sys
    import time
    import urllib.error
    import urllib.request

    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    lab = subprocess.Popen(
        [sys.executable, "-m", "streamwidgets", "lab", "--no-browser", "--port", str(port)],
        stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True,
    )  # fmt: skip
    try:
        # JupyterLab prints the URL it serves, with its login token, once it is ready.
        for line in lab.stderr:
            found = re.search(rf"http://127\.0\.0\.1:{port}/lab\?token=(\w+)", line)
            if found:
                break
        else:
            raise AssertionError(f"JupyterLab exited with {lab.wait()} before serving")
        request = urllib.request.Request(
            f"http://127.0.0.1:{port}/api/contents/quickstart.ipynb",
            headers={"Authorization": f"token {found.group(1)}"},
        )
        for _ in range(100):  # the URL may be printed just before it listens
            try:
                with urllib.request.urlopen(request, timeout=10) as answer:
                    notebook = json.load(answer)
                break
            except urllib.error.URLError as exc:
                if not isinstance(exc.reason, ConnectionRefusedError):
                    raise
                time.sleep(0.1)
        else:
            raise AssertionError("JupyterLab printed its URL but never listened")
        assert notebook["type"] == "notebook"
        assert "StreamWidget.demo()" in str(notebook["content"]["cells"])
    finally:
        lab.terminate()
        lab.wait(timeout=30)
