"""The event loop a widget lives on, and blocking on it from a synchronous cell.

A Jupyter kernel (ipykernel 6 and 7) runs every cell inside its own running
asyncio loop, so a widget's tasks advance between cells and during ``await``.
A synchronous cell that wants to wait for data must run that same loop while it
blocks, which a running asyncio loop refuses; nest-asyncio2 makes it reentrant.
It is applied only the first time something blocks, never on import.
"""

from __future__ import annotations

import asyncio
from collections.abc import Coroutine
from typing import Any, TypeVar

from streamwidgets.exceptions import ConfigurationError

__all__ = ["block_on", "running_loop"]

T = TypeVar("T")

_patched: set[int] = set()


def running_loop(what: str) -> asyncio.AbstractEventLoop:
    """The running loop, or a :class:`ConfigurationError` saying where ``what`` can run.

    Example:
        >>> running_loop("a StreamWidget")
        Traceback (most recent call last):
        ...
        streamwidgets.exceptions.ConfigurationError: a StreamWidget needs a running event loop, ...
    """
    try:
        return asyncio.get_running_loop()
    except RuntimeError:
        raise ConfigurationError(
            f"{what} needs a running event loop, such as a Jupyter kernel's; "
            "in a script, use streamwidgets.open() inside asyncio.run()"
        ) from None


def block_on(coro: Coroutine[Any, Any, T]) -> T:
    """Run ``coro`` to completion on the running loop from synchronous code in it.

    Other tasks on the loop (connections, widget updates) keep running meanwhile.

    Patching the loop is global to the process, hence no live example here; the
    notebooks in the test suite exercise it in a real kernel.

    Example:
        >>> rows = block_on(widget.wait_async(events=100))  # doctest: +SKIP
    """
    try:
        loop = asyncio.get_running_loop()
    except RuntimeError:
        return asyncio.run(coro)
    if id(loop) not in _patched:
        import nest_asyncio2

        nest_asyncio2.apply(loop)
        _patched.add(id(loop))
    pending_before = _ready_handles(loop)
    try:
        return loop.run_until_complete(coro)
    finally:
        _refill_ready(loop, pending_before)


def _ready_handles(loop: asyncio.AbstractEventLoop) -> int:
    ready = getattr(loop, "_ready", None)
    return len(ready) if ready is not None else 0


def _refill_ready(loop: asyncio.AbstractEventLoop, count: int) -> None:
    """Leave at least ``count`` handles ready, padding with no-ops.

    The cell that blocks runs inside one iteration of the loop; when that
    iteration began before nest-asyncio2 patched the loop (the first cell that
    blocks, and any later block in that same cell), it is asyncio's own
    ``_run_once``, which pops as many ready handles as it counted when it
    started. The nested run may have run those already, and asyncio would then
    pop from an empty deque and kill the kernel.
    """
    missing = count - _ready_handles(loop)
    for _ in range(missing):
        loop.call_soon(_nothing)


def _nothing() -> None:
    return None
