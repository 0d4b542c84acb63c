"""What a widget costs a page, measured from the outside: the browser tests and
``benchmarks/bench_browser.py`` share these.

- :class:`CommMeter` counts the kernel-to-browser comm bytes on the page's kernel
  WebSockets, per comm, as they arrive (the frames as sent, buffers included).
- :func:`run_cell_timed` runs one cell and times, on the page's own clock, the moment
  the cell's widget is visible and the moment a chart in it has its first point.
- :func:`saved_state_bytes` is how much the widget state adds to a saved notebook.

Nothing here knows the widget's code: it reads the page (the lines the charts' canvases
drew, their ``swTraces``), the WebSocket frames and the notebook file.
"""

from __future__ import annotations

import asyncio
import json
import re
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from streamwidgets.widget.protocol import ToBrowser
from tests.support.waiting import seconds

from .jupyter import _ERRORS_JS, _FIND_PANEL

if TYPE_CHECKING:
    from playwright.async_api import Page, WebSocket

__all__ = [
    "CommMeter",
    "CommOpen",
    "run_cell_timed",
    "saved_state_bytes",
]

_MSG_TYPE = re.compile(rb'"msg_type":\s*"(comm_open|comm_msg|comm_close)"')
_COMM_ID = re.compile(rb'"comm_id":\s*"([^"]+)"')
_MODEL_NAME = re.compile(rb'"_model_name":\s*"([^"]+)"')
_KIND = re.compile(rb'"kind":\s*"([^"]+)"')
#: Custom messages that carry the feed's data (see streamwidgets.widget.protocol).
DATA_KINDS = frozenset({ToBrowser.UPDATE, ToBrowser.WINDOW})


@dataclass
class CommOpen:
    """A comm the kernel opened: its id, the model it carries and when."""

    comm_id: str
    model: str
    at: float  #: ``time.monotonic()``
    bytes: int


@dataclass
class CommMeter:
    """Kernel-to-browser comm traffic of a page, per comm id (attach before opening)."""

    opens: list[CommOpen] = field(default_factory=list)
    #: comm id -> [(time.monotonic(), bytes, custom message kind or "")] of its comm_msg frames
    messages: dict[str, list[tuple[float, int, str]]] = field(default_factory=dict)

    def attach(self, page: Page) -> CommMeter:
        page.on("websocket", self._watch)
        return self

    def _watch(self, ws: WebSocket) -> None:
        if "/channels" in ws.url:
            ws.on("framereceived", self._received)

    def _received(self, payload: str | bytes) -> None:
        data = payload.encode() if isinstance(payload, str) else payload
        kind = _MSG_TYPE.search(data)
        comm = _COMM_ID.search(data)
        if kind is None or comm is None:
            return
        comm_id = comm.group(1).decode()
        now = time.monotonic()
        if kind.group(1) == b"comm_open":
            model = _MODEL_NAME.search(data)
            name = model.group(1).decode() if model else "?"
            self.opens.append(CommOpen(comm_id, name, now, len(data)))
        elif kind.group(1) == b"comm_msg":
            custom = _KIND.search(data)
            what = custom.group(1).decode() if custom else ""
            self.messages.setdefault(comm_id, []).append((now, len(data), what))

    def widgets(self, model: str = "AnyModel") -> list[CommOpen]:
        """The comms opened for ``model`` widgets, in order."""
        return [o for o in self.opens if o.model == model]

    def bytes_of(self, comm_id: str, until: float | None = None, *, data: bool = True) -> int:
        """Bytes of a comm: its open and its messages (up to ``until``, monotonic).

        ``data=False`` leaves out the messages carrying the feed's data (:data:`DATA_KINDS`),
        whose size is the feed's, not the widget's: what remains is what the widget costs.
        """
        opened = sum(o.bytes for o in self.opens if o.comm_id == comm_id)
        sent = self.messages.get(comm_id, [])
        return opened + sum(
            n
            for at, n, kind in sent
            if (until is None or at <= until) and (data or kind not in DATA_KINDS)
        )

    def opened_between(self, start: float, end: float) -> int:
        """Bytes of every comm opened in ``[start, end]`` (a widget and its Layout, say)."""
        return sum(o.bytes for o in self.opens if start <= o.at <= end)


# Runs a cell and watches its output on every animation frame: `visible` when a widget
# root in it has a size, `point` when one of its plotly charts holds a point.
_RUN_TIMED_JS = (
    "async ({path, index}) => {"
    + _FIND_PANEL
    + """
  const app = window.jupyterapp;
  const panel = findPanel(path);
  if (!panel) throw new Error('no notebook open');
  app.shell.activateById(panel.id);
  for (let i = 0; i < 100 && app.shell.currentWidget !== panel; i++) {
    await new Promise(r => setTimeout(r, 20));
  }
  panel.content.activeCellIndex = index;
  panel.content.deselectAll();
  const cell = panel.content.widgets[index];
  const out = {t0: performance.now(), visible: null, point: null, done: false, ok: null};
  window.__swTimed = out;
  const poll = () => {
    const node = cell.outputArea && cell.outputArea.node;
    if (node) {
      const now = performance.now();
      if (out.visible === null) {
        const root = node.querySelector('.sw-root');
        if (root && root.offsetWidth > 0) out.visible = now - out.t0;
      }
      if (out.point === null) {
        for (const canvas of node.querySelectorAll('canvas.sw-traces')) {
          if ((canvas.swTraces || []).some(t => t.x.length > 0 && t.pieces > 0)) {
            out.point = now - out.t0;
            break;
          }
        }
      }
    }
    if (out.point === null && performance.now() - out.t0 < 120000) requestAnimationFrame(poll);
  };
  requestAnimationFrame(poll);
  app.commands.execute('notebook:run-cell').then(
    ok => { out.done = true; out.ok = ok !== false; },
    e => { out.done = true; out.ok = false; out.error = String(e); });
  return out.t0;
}"""
)


async def run_cell_timed(
    page: Page, index: int, *, path: str | None = None, timeout: float = 60.0
) -> dict[str, Any]:
    """Run cell ``index`` and wait for its first charted point.

    Returns ``{"visible": ms, "point": ms, "started": monotonic}``: from the run command
    to the widget's root having a size, and to a chart holding a point (page clock).
    """
    started = time.monotonic()
    await page.evaluate(_RUN_TIMED_JS, {"path": path, "index": index})
    deadline = time.monotonic() + seconds(timeout)
    while True:
        state = await page.evaluate("() => window.__swTimed")
        if state["point"] is not None and state["done"]:
            break
        if state["done"] and state["ok"] is False:
            errors = "; ".join(await page.evaluate(_ERRORS_JS, path))
            raise AssertionError(f"cell {index} failed: {state.get('error') or errors}")
        if time.monotonic() > deadline:
            raise AssertionError(f"no point drawn within {seconds(timeout):.0f} s: {state}")
        await asyncio.sleep(0.05)
    return {"visible": state["visible"], "point": state["point"], "started": started}


def saved_state_bytes(path: str | Path) -> tuple[int, int]:
    """A saved notebook's size, and the bytes of its widget state (``metadata.widgets``).

    The state's bytes are the file's size less that of the same notebook without it,
    both written as Jupyter writes notebooks (indent 1).
    """
    path = Path(path)
    notebook = json.loads(path.read_text(encoding="utf-8"))

    def written(nb: dict[str, Any]) -> int:
        return len(json.dumps(nb, indent=1, ensure_ascii=False, sort_keys=True).encode())

    with_state = written(notebook)
    notebook.get("metadata", {}).pop("widgets", None)
    return path.stat().st_size, with_state - written(notebook)


async def save_notebook(page, path: str) -> None:
    """Save the open notebook at ``path`` through JupyterLab's own document context (with
    widget state, as the notebook's settings say)."""
    await page.evaluate(
        """async (path) => {
          const panel = [...window.jupyterapp.shell.widgets('main')]
            .find(w => w.context && w.context.path === path);
          await panel.context.save();
        }""",
        path,
    )
