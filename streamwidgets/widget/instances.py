"""Which StreamWidgets are running, and which notebook cell made each.

Re-running a cell that made a widget closes the widget that cell made before:
its connection, tasks and (for demos) simulator stop, its comm is released (so
nothing keeps it alive), and its buffer stays readable through any variable
still holding it. The cell is known by the id
JupyterLab and Notebook 7 send with every execution; where no id is sent (a
script, nbclient), nothing is closed for you: ``StreamWidget.running()`` lists
the live widgets.
"""

from __future__ import annotations

import weakref
from typing import Any

__all__ = ["current_cell_id", "live_widgets", "register", "unregister"]

_by_cell: dict[str, weakref.ref[Any]] = {}
_live: weakref.WeakSet[Any] = weakref.WeakSet()


def current_cell_id() -> str | None:
    """The id of the notebook cell being executed, if the front end sent one.

    Example:
        >>> current_cell_id() is None  # not in a kernel
        True
    """
    try:
        from IPython import get_ipython
    except ImportError:  # pragma: no cover - IPython comes with ipywidgets
        return None
    shell = get_ipython()
    kernel = getattr(shell, "kernel", None)
    if kernel is None:
        return None
    try:
        parent = kernel.get_parent("shell")
    except Exception:
        return None
    metadata = parent.get("metadata") if isinstance(parent, dict) else None
    cell_id = metadata.get("cellId") if isinstance(metadata, dict) else None
    return cell_id if isinstance(cell_id, str) and cell_id else None


def register(widget: Any, cell_id: str | None) -> Any | None:
    """Record a new widget; return the running widget the same cell made before, if any.

    Example:
        >>> class W: pass
        >>> first, second = W(), W()
        >>> register(first, "cell-1") is None
        True
        >>> register(second, "cell-1") is first
        True
        >>> unregister(first); unregister(second)
    """
    _live.add(widget)
    previous = None
    if cell_id is not None:
        ref = _by_cell.get(cell_id)
        previous = ref() if ref is not None else None
        _by_cell[cell_id] = weakref.ref(widget)
    return previous if previous is not widget else None


def unregister(widget: Any) -> None:
    """Forget a closed widget.

    Example:
        >>> class W: pass
        >>> w = W(); _ = register(w, None); unregister(w); w in live_widgets()
        False
    """
    _live.discard(widget)
    for cell_id, ref in list(_by_cell.items()):
        if ref() is widget or ref() is None:
            del _by_cell[cell_id]


def live_widgets() -> list[Any]:
    """The widgets registered and not yet closed.

    Example:
        >>> class W: pass
        >>> w = W(); _ = register(w, None); w in live_widgets()
        True
        >>> unregister(w)
    """
    return list(_live)
