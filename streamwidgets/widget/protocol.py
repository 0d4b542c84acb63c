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
``fields``               ``[{"stream", "type", "fields": [measurements, best first],
                         "other": [numeric columns that are no measurements: ids,
                         sequence numbers, epoch times, counters that only grow],
                         "keys": [split-key candidates: text columns with few
                         distinct values, best first]}]``
``charts``               ``[{"id", "stream", "type", "field", "by": str | None}]``, the
                         charted series; ``id`` is ``stream|type|field``, and
                         ``stream|type|field|by`` for a series split by column ``by``
``max_points``           points each trace keeps (the widget's ``max_points``)
``recent``               rows the recent-events table keeps (the widget's ``recent``)
``update_hz``            updates a second, at most (the widget's ``update_hz``)
``error``                the last failed user action, in plain words ("" if none)
``playback``             ``{}`` for a live feed; for a replay ``{"speed": float | None
                         (times real time, None: as fast as possible), "position": float,
                         "length": float | None (seconds of recorded time from the
                         recording's first entry; length None until known), "paused":
                         bool, "finished": bool}``, changed at most once a second
``_app``                 the app's code, for the first widget of a kernel only
=======================  =====================================================

The browser keeps one key of its own in the model (:class:`BrowserState`): ``_snapshot``,
a picture of the charts for a notebook saved with widget state; the kernel never has it.

Messages, kernel to browser (:class:`ToBrowser`, ``msg:custom``), each a dict with ``kind``:

``update``
    What is new since the last update: ``stats`` (dict), ``series``
    (``[{"id", "n"}]``, or ``{"id", "key", "n"}`` for one key value of a split series:
    the ``by`` value as text, ``"(none)"`` where missing; whose points are two buffers
    each, x then y, in order; where the feed was not live (paused, disconnected, between
    a history and live rows) a point with y = NaN at the time that began comes before
    the first point after it, so the line breaks there), ``splits`` when it changed
    (``{series id:
    {"keys": [the shown key values, most recent first, at most SPLIT_KEYS], "others":
    distinct values seen but not shown, counted up to SPLIT_KEYS_REMEMBERED}}``; a key
    no longer shown gets no more points and its trace goes),
    ``rates`` (``[{"t": epoch ms, "counts": {stream: events}}]`` or ``{"t", "gap": true}``,
    one per completed second), ``recent`` (``[{"seq", "stream", "type", "time",
    "snapshot", "fields", "json"}]``, oldest first; ``fields`` is ``{dotted column:
    value}``, the event's leaf fields named as in the buffer (``data.price``), at most
    ``RECENT_FIELDS`` of them (then ``"fields_cut": true``), strings cut at
    ``RECENT_VALUE_CHARS`` with "…", ints beyond ±2**53 as text; ``json`` the payload as
    indented JSON, cut at ``RECENT_JSON_CHARS``). Charts grow with ``extendTraces``.
``window``
    The current window, replacing what a view shows: same keys as ``update``
    (each one present replaces that part), plus ``view``: the id of the view that
    asked, or None for every view. Sent on ``hello``, after ``clear`` and when a
    series is charted (then only ``series`` and ``splits`` are present), and to answer
    a ``zoom`` (then ``series``, ``splits`` and ``range``: ``[x0, x1]`` as asked). It
    always carries ``splits`` for each split series in it. A series with more than
    ``max_points`` points in the buffer (within the zoom's range, if any) is decimated
    to ``max_points`` over the whole span (MinMaxLTTB: the shape, each run's minimum
    and maximum kept), plus its NaN gap points. It holds the rows up to those the last
    ``update`` covered; newer ones follow in the next ``update``.
``download``
    ``{"view", "filename", "mime", "format", "rows", "bytes"}`` and one buffer: the
    file, for the view that asked (``rows`` in it, ``bytes`` its size).
``export_failed``
    ``{"view", "format", "reason"}``: an export asked for by ``view`` was not built
    (another one is still being built, no rows, too big...), ``reason`` in plain words.
``bundle``
    ``{"hash"}`` and one buffer: the app's code, answering the loader's request.
``heartbeat``
    ``{}`` besides ``kind``: sent when nothing else was sent for ``HEARTBEAT_SECONDS``
    while the widget is open, so a view that hears nothing for ``KERNEL_SILENT_SECONDS``
    knows the kernel is gone (restarted, shut down, or busy with a cell) and says so.

Messages, browser to kernel (:class:`ToKernel`, ``model.send``):
``{"kind": "hello", "view"}``, ``subscribe``/``unsubscribe`` with ``stream``,
``pause``, ``resume``, ``clear``, ``chart`` with ``stream``, ``type``, ``field``, ``by``
(a column to split by, or null),
``unchart`` with ``id``, ``zoom`` with ``view``, ``x0`` and ``x1`` (epoch ms, or null for
an open end; null and null: the whole buffer), answered by a ``window`` for that view
(absurd bounds: no window, ``error`` says why),
``export`` with ``format`` (:class:`ExportFormat`), ``view`` and
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
    PLAYBACK: Final = "playback"


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
    HEARTBEAT: Final = "heartbeat"


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
    ZOOM: Final = "zoom"
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
    #: Key values a split chart draws at most (the rest are counted in ``others``).
    SPLIT_KEYS: Final = 8
    #: Distinct key values a split chart remembers at most (``others`` counts up to this).
    SPLIT_KEYS_REMEMBERED: Final = 1000
    #: The longest pretty JSON sent for one recent event; the rest is cut.
    RECENT_JSON_CHARS: Final = 4000
    #: Leaf fields sent per recent event (the table's columns); the rest are left out.
    RECENT_FIELDS: Final = 32
    #: The longest text sent for one field of a recent event; the rest is cut ("…").
    RECENT_VALUE_CHARS: Final = 120
    #: The largest file a ``download`` message carries (bytes).
    DOWNLOAD_MAX_BYTES: Final = 256 * 1024 * 1024
    #: Seconds without any message after which an open widget sends a ``heartbeat``.
    HEARTBEAT_SECONDS: Final = 1
    #: Seconds without any message from the kernel after which a view says "kernel gone".
    KERNEL_SILENT_SECONDS: Final = 3
