"""Every row of the live table, read by scrolling it as a user would.

The table draws only the rows in its scroller's view (and a few around them); the others
exist as scroll height. ``walk_table`` scrolls from the top to the bottom a view at a time,
waits for each scroll's rows to be drawn, and returns the rows seen, in order, with how many
were in the DOM at most: a row that cannot be reached by scrolling is not in the walk.
"""

from __future__ import annotations

# A view at a time (less one row, so no row is skipped at a seam), two animation frames
# after each scroll: the scroll event's frame draws the rows, the next one shows them.
_WALK_JS = """async (root) => {
  const scroller = root.querySelector('.sw-recent');
  const frame = () => new Promise((done) => requestAnimationFrame(done));
  const frames = async () => { await frame(); await frame(); };
  const seen = new Map();
  let most = 0;
  let steps = 0;
  scroller.scrollTop = 0;
  await frames();
  for (;;) {
    const rows = [...scroller.querySelectorAll('tbody tr.sw-event')];
    most = Math.max(most, rows.length);
    const view = scroller.getBoundingClientRect();
    for (const row of rows) {
      const box = row.getBoundingClientRect();
      // Seen: the row is inside the scroller's visible box, not only in the DOM.
      if (box.bottom > view.top && box.top < view.bottom && !seen.has(row.dataset.seq)) {
        const time = row.querySelector('.sw-cell-time');
        seen.set(row.dataset.seq, { seq: Number(row.dataset.seq), stream: row.dataset.stream,
          cells: [...row.cells].map((c) => c.textContent), title: time && time.title });
      }
    }
    const atEnd = scroller.scrollTop + scroller.clientHeight >= scroller.scrollHeight - 1;
    if (atEnd || ++steps > 500) break;
    scroller.scrollTop += Math.max(1, scroller.clientHeight - 24);
    await frames();
  }
  const table = root.querySelector('.sw-table');
  return { rows: [...seen.values()], mostInDom: most, steps,
           heads: [...table.tHead.rows[0].cells].map((c) => c.textContent),
           count: root.querySelector('.sw-table-count').textContent };
}"""


async def walk_table(root) -> dict:
    """Scroll the table of ``root`` (a locator of ``.sw-root``) from top to bottom.

    Returns ``{"rows": [{"seq", "stream", "cells", "title" (the time cell's tooltip)}] in
    the order seen (newest first), "mostInDom": the most rows the DOM held at once, "steps":
    scrolls made, "heads": the header cells' texts, "count": the table's "N rows" line}``.
    Freeze a live table first, or rows move while it is walked.
    """
    return await root.evaluate(_WALK_JS)
