"""Shared fixtures: real simulators on loopback, and a time unit for slow machines."""

from __future__ import annotations

import asyncio
import os
import shutil
import time
from pathlib import Path

import comm
import pytest
from comm.base_comm import BaseComm

from streamwidgets.simulators.profiles import PROFILES

#: Multiplies every timeout in the tests; raise it on a slow machine.
SLOWDOWN = float(os.environ.get("STREAMWIDGETS_TEST_SLOWDOWN", "1"))


def seconds(value: float) -> float:
    """A test duration scaled for this machine."""
    return value * SLOWDOWN


async def eventually(predicate, timeout: float = 5.0, interval: float = 0.01) -> None:
    """Wait until ``predicate()`` is true, failing the test after ``timeout`` (scaled)."""
    deadline = asyncio.get_running_loop().time() + seconds(timeout)
    while not predicate():
        if asyncio.get_running_loop().time() > deadline:
            pytest.fail(f"condition not met within {seconds(timeout)} s")
        await asyncio.sleep(interval)


@pytest.fixture(params=PROFILES)
def profile(request: pytest.FixtureRequest) -> str:
    """Each simulator profile in turn: "strict" (only what the feed's documents show) and
    "lenient" (the simulators' extra replies). The client must be right against both."""
    return request.param


class RecordingComm(BaseComm):
    """A comm that keeps what the widget publishes instead of sending it to a kernel."""

    def __init__(self, *args, **kwargs):
        self.sent: list[tuple[float, str, dict, list[bytes]]] = []
        super().__init__(*args, **kwargs)

    def publish_msg(self, msg_type, data=None, metadata=None, buffers=None, **keys):
        copies = [bytes(b) for b in buffers or []]
        self.sent.append((time.monotonic(), msg_type, data or {}, copies))


@pytest.fixture
def recorded(monkeypatch: pytest.MonkeyPatch):
    """Widgets made in the test publish to a :class:`RecordingComm`; they are closed after."""
    from streamwidgets import StreamWidget

    monkeypatch.setattr(comm, "create_comm", RecordingComm)
    widgets: list[StreamWidget] = []
    yield widgets
    for w in widgets:
        w.close()


#: Where the frontend's npm packages are, pusher-js among them (a devDependency).
NODE_MODULES = Path(__file__).parents[1] / "js" / "node_modules"


def pusher_js_node() -> str:
    """The ``node`` executable for the tests that run the real pusher-js; fails the test,
    saying what is missing, when Node.js or pusher-js is not installed."""
    node = shutil.which("node")
    if node is None:
        pytest.fail("Node.js is required for the pusher-js tests (node not found)")
    if not (NODE_MODULES / "pusher-js").is_dir():
        pytest.fail("pusher-js is missing: run `npm install` in js/ (it is a devDependency)")
    return node
