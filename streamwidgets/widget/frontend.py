"""The browser half of the widget, as the kernel serves it.

``npm run build`` (in ``js/``) writes three files to ``streamwidgets/widget/static``:

- ``loader.js``: every widget's anywidget ``_esm``, a few KB. It names the app by its
  content hash and shows the snapshot saved with a notebook when there is no kernel.
- ``widget.js``: the app (controls, charts, plotly.js core + scattergl), about 1.4 MB.
  A page gets it once. The first widget a kernel makes carries it in its ``_app``
  binary trait (:func:`app_for_new_widget`), so it is on the page with that widget even
  while later cells keep the kernel busy (comm requests wait for a busy kernel); the
  loader keeps it on the page and drops it from the model, so a notebook saved with
  widget state does not hold it. A loader that finds no copy on its page and no
  ``_app`` (a page opened later, a widget made after the first) asks its kernel
  (``{"kind": "bundle", "hash": ...}``) and gets it as one binary buffer
  (:meth:`Frontend.reply`).
- ``widget.css``: the styles, every widget's ``_css``.

Keep in sync with ``js/src/loader.js`` (the request and reply, whose kinds are
``ToKernel.BUNDLE`` and ``ToBrowser.BUNDLE`` of :mod:`streamwidgets.widget.protocol`)
and ``js/build.mjs``.
"""

from __future__ import annotations

import hashlib
import threading
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from streamwidgets.exceptions import ConfigurationError
from streamwidgets.widget.protocol import ToBrowser

__all__ = ["Frontend", "app_for_new_widget", "frontend"]

STATIC = Path(__file__).parent / "static"
LOADER = STATIC / "loader.js"
APP = STATIC / "widget.js"
STYLES = STATIC / "widget.css"


@dataclass(frozen=True)
class Frontend:
    """One build of the browser half: what every widget carries and the app it loads."""

    loader: str  #: the ``_esm`` of every widget
    styles: str  #: the ``_css`` of every widget
    app: bytes  #: the app module, sent once per page on request
    app_hash: str  #: its content hash (sha256, 16 hex digits), as baked into the loader

    def reply(self) -> tuple[dict[str, Any], list[bytes]]:
        """The message answering a loader's request: the app as one binary buffer."""
        return {"kind": ToBrowser.BUNDLE, "hash": self.app_hash}, [self.app]


_lock = threading.Lock()
_cached: tuple[tuple[int, ...], Frontend] | None = None
_app_given: set[str] = set()


def _stamp() -> tuple[int, ...]:
    try:
        stats = [path.stat() for path in (LOADER, APP, STYLES)]
    except FileNotFoundError:
        raise ConfigurationError(
            "the widget's frontend bundle is missing; reinstall the package "
            "(`pip install -e .` builds it and needs node and npm)"
        ) from None
    return tuple(n for s in stats for n in (s.st_mtime_ns, s.st_size))


def frontend() -> Frontend:
    """The built browser half, read once and again only after a rebuild.

    Raises:
        ConfigurationError: the files are missing, or the loader names another build
            of the app (a build that did not finish: run ``npm run build`` in ``js/``).
    """
    global _cached
    stamp = _stamp()
    with _lock:
        if _cached is not None and _cached[0] == stamp:
            return _cached[1]
        app = APP.read_bytes()
        app_hash = hashlib.sha256(app).hexdigest()[:16]
        loader = LOADER.read_text(encoding="utf-8")
        if f'"{app_hash}"' not in loader:
            raise ConfigurationError(
                "the widget's loader was built for another widget.js; rebuild the "
                "frontend (`npm run build` in js/, or `pip install -e .`)"
            )
        built = Frontend(loader, STYLES.read_text(encoding="utf-8"), app, app_hash)
        _cached = (stamp, built)
        return built


def app_for_new_widget(built: Frontend) -> bytes:
    """The ``_app`` of a widget being made: the app for the first one of this process
    (the kernel) and build, else nothing (its page has the app, or asks for it)."""
    with _lock:
        if built.app_hash in _app_given:
            return b""
        _app_given.add(built.app_hash)
    return built.app
