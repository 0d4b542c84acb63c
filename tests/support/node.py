"""Node.js and the frontend's npm packages, for the tests that run JavaScript."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

#: Where the frontend's npm packages are, pusher-js among them (a devDependency).
NODE_MODULES = Path(__file__).parents[2] / "js" / "node_modules"


def pusher_js_node() -> str:
    """The ``node`` executable for the tests that run the real pusher-js; fails the test,
    saying what is missing, when Node.js or pusher-js is not installed."""
    node = shutil.which("node")
    if node is None:
        pytest.fail("Node.js is required for the pusher-js tests (node not found)")
    if not (NODE_MODULES / "pusher-js").is_dir():
        pytest.fail("pusher-js is missing: run `npm install` in js/ (it is a devDependency)")
    return node
