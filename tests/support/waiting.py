"""Time in the tests: scaled durations, waiting for a condition or for a connection."""

from __future__ import annotations

import asyncio
import os

import pytest

#: Multiplies every timeout in the tests; raise it on a slow machine.
SLOWDOWN = float(os.environ.get("STREAMWIDGETS_TEST_SLOWDOWN", "1"))


def seconds(value: float) -> float:
    """A test duration scaled for this machine."""
    return value * SLOWDOWN


async def eventually(predicate, timeout: float = 5.0, interval: float = 0.01, what: str = ""):
    """Wait until ``predicate()`` is truthy and return that value, polling every ``interval``
    seconds; fail the test after ``timeout`` seconds (scaled), naming ``what`` if given.

    Example: ``sock = await eventually(lambda: server.sockets, what="a client")``.
    """
    deadline = asyncio.get_running_loop().time() + seconds(timeout)
    while not (value := predicate()):
        if asyncio.get_running_loop().time() > deadline:
            pytest.fail(f"{what or 'condition'} not met within {seconds(timeout)} s")
        await asyncio.sleep(interval)
    return value


async def started(conn):
    """Start ``conn`` (a :class:`~streamwidgets.connection.driver.Connection`) and return it
    once connected; raises what ``wait_connected`` raises after 5 s (scaled).

    Example: ``conn = await started(Connection(feed))``.
    """
    conn.start()
    await conn.wait_connected(timeout=seconds(5))
    return conn
