"""Time in the tests: durations scaled for slow machines, and waiting for a condition."""

from __future__ import annotations

import asyncio
import os

import pytest

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
