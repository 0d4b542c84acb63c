"""What the widget's kernel half and its browser half say to each other: the contract.

Keep in sync with ``js/src/protocol.js``, which holds the same groups, names and values
(``tests/widget/test_contract.py`` compares the two files and fails on any difference).
Code on both sides uses these names, never the words themselves.

Small, slowly changing state travels as synced traits; bulk data travels as
coalesced custom messages with binary buffers, at most ``update_hz`` a second,
whatever the feed rate. Nothing here ever carries a token, key or secret URL.

Traits (:class:`Trait`; kernel to browser, the browser never sets them):

=======================  =====================================================
``feed``                 ``{"name": str, "url": str}`` (the URL with secrets masked),
                         optionally ``states`` (the feed's words for the states) and
                         ``streams_note``
``state``                ``disconnected``, ``connecting``, ``connected``,
                         ``reconnecting``, ``failed`` or ``closed``
``reason``               why, in plain words ("token invalid or expired (4001)")
``available_streams``    what the server offers (empty if it does not say)
``subscriptions``        the streams subscribed now
``pending``              streams with a subscribe/unsubscribe request in flight
``subscribe_supported``  False when the feed has no subscribe step
``paused``               True while paused
``fields``               ``[{"stream", "type", "fields": [numeric columns]}]``
``charts``               ``[{"id", "stream", "type", "field"}]``, the charted series
``max_points``           points each trace keeps (the widget's ``max_points``)
``recent``               events the recent list keeps (the widget's ``recent``)
``update_hz``            updates a second, at most (the widget's ``update_hz``)
``error``                the last failed user action, in plain words ("" if none)
``_app``                 the app's code, for the first widget of a kernel only
=======================  =====================================================

The browser keeps one key of its own in the model (:class:`BrowserState`): ``_snapshot``,
a picture of the charts for a notebook saved with widget state; the kernel never has it.

Messages, kernel to browser (:class:`ToBrowser`, ``msg:custom``), each a dict with ``kind``:

``update``
    What is new since the last update: ``stats`` (dict), ``series``
    (``[{"id", "n"}]``, whose points are two buffers each, x then y, in order),
    ``rates`` (``[{"t": epoch ms, "counts": {stream: events}}]`` or ``{"t", "gap": true}``,
    one per completed second), ``recent`` (``[{"seq", "stream", "type", "time",
    "snapshot", "json"}]``, oldest first). Charts grow with ``extendTraces``.
``window``
    The current window, replacing what a view shows: same keys as ``update``
    (each one present replaces that part), plus ``view``: the id of the view that
    asked, or None for every view. Sent on ``hello``, after ``clear`` and when a
    series is charted (then only ``series`` is present).
``download``
    ``{"view", "filename", "mime", "format", "rows", "bytes"}`` and one buffer: the
    file, for the view that asked (``rows`` in it, ``bytes`` its size).
``export_failed``
    ``{"view", "format", "reason"}``: an export asked for by ``view`` was not built
    (another one is still being built, no rows, too big...), ``reason`` in plain words.
``bundle``
    ``{"hash"}`` and one buffer: the app's code, answering the loader's request.

Messages, browser to kernel (:class:`ToKernel`, ``model.send``):
``{"kind": "hello", "view"}``, ``subscribe``/``unsubscribe`` with ``stream``,
``pause``, ``resume``, ``clear``, ``chart`` with ``stream``, ``type``, ``field``,
``unchart`` with ``id``, ``export`` with ``format`` (:class:`ExportFormat`), ``view`` and
``hidden`` (the streams that view hides, for a feed without a subscribe step),
``bundle`` with ``hash`` (the loader asking for the app).

Limits are in :class:`Limit`. Times are float64 epoch milliseconds, so plotly's date
axis reads them directly.

Example:
    >>> Trait.RECENT, ToBrowser.UPDATE, ToKernel.HELLO, Limit.RECENT_MAX
    ('recent', 'update', 'hello', 1000)
"""

from __future__ import annotations

from typing import Final

__all__ = ["BrowserState", "ExportFormat", "Limit", "ToBrowser", "ToKernel", "Trait"]


class Trait:
    """Names of the synced traits the kernel sets and the browser reads."""

    FEED: Final = "feed"
    STATE: Final = "state"
    REASON: Final = "reason"
    AVAILABLE_STREAMS: Final = "available_streams"
    SUBSCRIPTIONS: Final = "subscriptions"
    PENDING: Final = "pending"
    SUBSCRIBE_SUPPORTED: Final = "subscribe_supported"
    PAUSED: Final = "paused"
    FIELDS: Final = "fields"
    CHARTS: Final = "charts"
    MAX_POINTS: Final = "max_points"
    RECENT: Final = "recent"
    UPDATE_HZ: Final = "update_hz"
    ERROR: Final = "error"
    APP: Final = "_app"


class BrowserState:
    """Model keys only the browser sets (saved with a notebook's widget state)."""

    SNAPSHOT: Final = "_snapshot"


class ToBrowser:
    """The ``kind`` of each custom message the kernel sends."""

    UPDATE: Final = "update"
    WINDOW: Final = "window"
    DOWNLOAD: Final = "download"
    EXPORT_FAILED: Final = "export_failed"
    BUNDLE: Final = "bundle"


class ToKernel:
    """The ``kind`` of each custom message the browser sends."""

    HELLO: Final = "hello"
    SUBSCRIBE: Final = "subscribe"
    UNSUBSCRIBE: Final = "unsubscribe"
    PAUSE: Final = "pause"
    RESUME: Final = "resume"
    CLEAR: Final = "clear"
    CHART: Final = "chart"
    UNCHART: Final = "unchart"
    EXPORT: Final = "export"
    BUNDLE: Final = "bundle"


class ExportFormat:
    """The ``format`` of an ``export`` request (the buffer's export formats)."""

    CSV: Final = "csv"
    JSONL: Final = "jsonl"
    PARQUET: Final = "parquet"


class Limit:
    """Bounds of the widget's arguments, their defaults, and sizes fixed on both sides.

    The browser reads the widget's own values from the traits (``max_points``,
    ``recent``, ``update_hz``); the defaults here are its fallback for a model
    without them.
    """

    UPDATE_HZ_MIN: Final = 1
    UPDATE_HZ_MAX: Final = 30
    UPDATE_HZ_DEFAULT: Final = 20.0
    MAX_POINTS_MIN: Final = 10
    MAX_POINTS_MAX: Final = 100_000
    MAX_POINTS_DEFAULT: Final = 2000
    RECENT_MIN: Final = 1
    RECENT_MAX: Final = 1000
    RECENT_DEFAULT: Final = 100
    #: Completed seconds the events-per-second chart keeps (one point each).
    RATE_SECONDS: Final = 300
    #: The longest pretty JSON sent for one recent event; the rest is cut.
    RECENT_JSON_CHARS: Final = 4000
    #: The largest file a ``download`` message carries (bytes).
    DOWNLOAD_MAX_BYTES: Final = 256 * 1024 * 1024
