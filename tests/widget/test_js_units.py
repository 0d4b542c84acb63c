"""The browser half's pure modules, tested by node's own test runner (``js/test``).

No browser and no npm package: ``node --test`` imports the modules that need neither the
DOM nor plotly (buffers, pending, messages, protocol) and checks them directly.
"""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import pytest

JS = Path(__file__).resolve().parents[2] / "js"
NODE_TESTS = sorted((JS / "test").glob("*.test.mjs"))


def test_there_are_node_tests() -> None:
    assert len(NODE_TESTS) >= 3, f"expected the node tests in {JS / 'test'}"


def test_node_tests_pass() -> None:
    node = shutil.which("node")
    if node is None:
        pytest.fail(
            "node is not installed: the browser half's unit tests (js/test) need Node.js 20 "
            "or newer on PATH, as the widget's build does"
        )
    # The files are named, not the directory: node 20 searches a directory, newer
    # versions read their arguments as glob patterns.
    result = subprocess.run(
        [node, "--test", "--test-reporter=tap", *map(str, NODE_TESTS)],
        cwd=JS,
        capture_output=True,
        text=True,
        timeout=120,
    )
    failed = [line for line in result.stdout.splitlines() if line.startswith("not ok")]
    assert result.returncode == 0, (
        f"node --test failed ({result.returncode}); failing: {failed}\n"
        f"{result.stdout[-6000:]}\n{result.stderr[-2000:]}"
    )
    assert "# fail 0" in result.stdout and "# pass 0" not in result.stdout, result.stdout[-2000:]
