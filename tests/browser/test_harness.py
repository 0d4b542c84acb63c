"""The browser harness works: a notebook with an inline anywidget runs in both UIs.

Cells of ``notebooks/smoke_counter.ipynb``: 0 markdown, 1 defines and shows ``counter``
(a ``.smoke-button`` counting clicks in a synced ``count``; the kernel answers each
change by setting ``doubled``, shown in ``.smoke-doubled``), 2 prints ``counter.count``.
"""

from __future__ import annotations

import asyncio

import pytest
from playwright.async_api import expect

from tests.support.waiting import seconds

from .jupyter import (
    NOTEBOOKS,
    assert_no_console_errors,
    cell_outputs_text,
    console_log,
    open_notebook,
    run_all_cells,
    run_cell,
    save_screenshot,
    wait_for_cell_output,
    wait_for_selector_in_output,
)


async def test_inline_anywidget_round_trips_through_the_kernel(page, jupyter_server, ui):
    """Open, run all, the widget renders, clicks reach the kernel and its answer comes back."""
    assert jupyter_server.api("GET", "api/kernels") == []  # no kernel left by an earlier test
    name = jupyter_server.copy_notebook(NOTEBOOKS / "smoke_counter.ipynb")
    await open_notebook(page, jupyter_server, name, ui)
    await run_all_cells(page, ui)

    button = await wait_for_selector_in_output(page, ".smoke-button")
    doubled = await wait_for_selector_in_output(page, ".smoke-doubled")
    assert await button.text_content() == "count 0"
    assert (await cell_outputs_text(page))[2] == "count = 0"

    for clicks in (1, 2):
        await button.click()
        # `doubled` is set by the kernel only: seeing it proves the browser -> kernel ->
        # browser round trip, and waiting for it keeps the clicks from racing the echo.
        await expect(doubled).to_have_text(f"doubled {2 * clicks}", timeout=seconds(10) * 1000)
    assert await button.text_content() == "count 2"
    assert await doubled.text_content() == "doubled 4"

    await run_cell(page, 2)  # the kernel's own view of the trait
    await wait_for_cell_output(page, 2, "count = 2")

    path = await save_screenshot(page, f"harness-smoke-{ui}", element=button)
    assert path.is_file() and path.stat().st_size > 0
    assert_no_console_errors(page)


@pytest.mark.allow_console_errors
async def test_console_errors_are_recorded_never_filtered(page):
    """console.error and uncaught errors reach the log; the noise filter lets them through."""
    await page.set_content("<p>no Jupyter here</p>")
    await page.evaluate("() => console.error('widget failed: boom')")
    await page.evaluate("() => { setTimeout(() => { throw new TypeError('widget threw'); }); }")
    for _ in range(200):  # the uncaught error is reported asynchronously
        if any(e.kind == "pageerror" for e in console_log(page).entries):
            break
        await asyncio.sleep(0.01)

    errors = [str(e) for e in console_log(page).errors()]
    assert any("[console.error] widget failed: boom" in e for e in errors), errors
    assert any("[pageerror] widget threw" in e for e in errors), errors
    with pytest.raises(AssertionError, match="widget failed: boom"):
        assert_no_console_errors(page)
