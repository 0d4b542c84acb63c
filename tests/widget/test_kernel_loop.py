"""Blocking from synchronous code that runs inside a running loop's iteration."""

from __future__ import annotations

import asyncio

from streamwidgets.widget.kernel_loop import block_on


class _FreshLoop(asyncio.SelectorEventLoop):
    """A loop class of its own, so the patch applied here stays local to this test."""


def test_first_block_inside_an_unpatched_iteration_keeps_the_loop_alive() -> None:
    # A cell is one handle among several ready in the same iteration of
    # asyncio's own _run_once; the nested run consumes the handles behind it.
    loop = _FreshLoop()
    ran: list[str] = []
    results: list[int] = []

    async def answer() -> int:
        await asyncio.sleep(0.01)
        return 42

    def cell() -> None:
        results.append(block_on(answer()))
        results.append(block_on(answer()))

    try:
        loop.call_soon(cell)
        for name in ("a", "b", "c", "d"):
            loop.call_soon(ran.append, name)
        loop.call_later(0.2, loop.stop)
        loop.run_forever()
    finally:
        loop.close()
    assert results == [42, 42]
    assert sorted(ran) == ["a", "b", "c", "d"]
