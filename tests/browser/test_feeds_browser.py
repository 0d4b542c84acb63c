"""The Pusher-compatible and Hyperoru notebooks, run in real JupyterLab in Chromium."""

from __future__ import annotations

from pathlib import Path

from playwright.async_api import expect

from tests.support.waiting import seconds

from .jupyter import open_notebook, run_all_cells, save_screenshot, wait_for_selector_in_output

NOTEBOOKS = Path(__file__).resolve().parents[2] / "notebooks"


async def _run_notebook(page, jupyter_server, name: str) -> None:
    copied = jupyter_server.copy_notebook(NOTEBOOKS / name)
    await open_notebook(page, jupyter_server, copied, "lab")
    await run_all_cells(page, "lab", timeout=120)


async def test_pusher_feed_shows_its_own_state_words_and_subscribes_from_a_toggle(
    page, jupyter_server
):
    """The badge says "Connected" as the feed's document does; a toggle subscribes for real."""
    await _run_notebook(page, jupyter_server, "pusher.ipynb")
    state = (await wait_for_selector_in_output(page, ".sw-state")).first
    await expect(state).to_have_attribute("data-state", "connected", timeout=seconds(20) * 1000)
    await expect(state).to_have_text("Connected")

    portfolio = page.locator('.sw-stream[data-stream="portfolio"]').first
    await expect(portfolio).to_have_attribute("aria-pressed", "true")  # presence, from a cell
    trades = page.locator('.sw-stream[data-stream="trades"]').first
    await expect(trades).to_have_attribute("aria-pressed", "false")
    await trades.click()
    # Pressed only once the server confirmed the subscription, then its events arrive.
    await expect(trades).to_have_attribute("aria-pressed", "true", timeout=seconds(20) * 1000)
    rows = page.locator('.sw-recent .sw-event[data-stream="trades"]')
    await expect(rows.first).to_be_visible(timeout=seconds(20) * 1000)
    await save_screenshot(page, "pusher-jupyterlab", element=page.locator(".sw-root").first)


async def test_hyperoru_feed_shows_its_channels_and_chat(page, jupyter_server):
    """Hyperoru's four channels are toggles; model chat chunks stream into the page."""
    await _run_notebook(page, jupyter_server, "hyperoru.ipynb")
    state = (await wait_for_selector_in_output(page, ".sw-state")).first
    await expect(state).to_have_attribute("data-state", "connected", timeout=seconds(20) * 1000)
    for channel in ("trades", "positions", "model_chat", "asset_curve"):
        toggle = page.locator(f'.sw-stream[data-stream="{channel}"]').first
        await expect(toggle).to_have_attribute("aria-pressed", "true")
    chat = page.locator('.sw-recent .sw-event[data-stream="model_chat"]')
    await expect(chat.first).to_be_visible(timeout=seconds(20) * 1000)

    positions = page.locator('.sw-stream[data-stream="positions"]').first
    await positions.click()
    await expect(positions).to_have_attribute("aria-pressed", "false", timeout=seconds(20) * 1000)
    await positions.click()
    await expect(positions).to_have_attribute("aria-pressed", "true", timeout=seconds(20) * 1000)
    await save_screenshot(page, "hyperoru-jupyterlab", element=page.locator(".sw-root").first)
