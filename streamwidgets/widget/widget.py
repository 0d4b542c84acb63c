"""StreamWidget: a live feed in a notebook, with charts, controls and a DataFrame.

The connection runs as a task on the kernel's event loop from the moment the
widget is made. The browser receives small state as synced traits and data as
coalesced messages, at most ``update_hz`` a second whatever the feed rate (see
:mod:`streamwidgets.widget.protocol`). No secret is ever synced or sent.

Re-running the cell that made a widget closes the old one (see
:mod:`streamwidgets.widget.instances`).
"""

from __future__ import annotations

import asyncio
import collections
import contextlib
import datetime
import difflib
import html
import inspect
import logging
import os
import time
import uuid
from collections.abc import Awaitable, Callable, Iterable
from typing import TYPE_CHECKING, Any

import anywidget
import pandas as pd
import traitlets

from streamwidgets.buffer.event_buffer import EventBuffer
from streamwidgets.buffer.options import window_ns
from streamwidgets.connection.callbacks import FailureReport
from streamwidgets.connection.dialect import Dialect
from streamwidgets.connection.driver import (
    CONNECTION_OPTIONS,
    Connection,
    State,
    StateChange,
    SubscriptionResult,
)
from streamwidgets.events import Event
from streamwidgets.exceptions import ConfigurationError, StreamError
from streamwidgets.feeds import registry
from streamwidgets.feeds.entry import Simulated
from streamwidgets.recording.history import HistorySummary, HistoryWriter, fill_from_history
from streamwidgets.widget.encoding import SeriesKey
from streamwidgets.widget.export_job import (
    ExportFile,
    ExportRequest,
    build_in_worker,
    format_label,
)
from streamwidgets.widget.frontend import Frontend, app_for_new_widget, frontend
from streamwidgets.widget.instances import current_cell_id, live_widgets, register, unregister
from streamwidgets.widget.kernel_loop import block_on, running_loop
from streamwidgets.widget.protocol import Limit, ToBrowser, ToKernel
from streamwidgets.widget.updates import UpdateBuilder, zoom_range

if TYPE_CHECKING:
    from streamwidgets.recording.recorder import Recorder, RecordingSummary

__all__ = ["StreamWidget"]

logger = logging.getLogger(__name__)

#: ``async def`` callbacks (see :meth:`StreamWidget.on`) running at once, at most.
MAX_CALLBACK_TASKS = 100

#: Outputs a widget remembers it was shown in, for the final picture close() leaves there.
MAX_DISPLAYS = 20

#: Largest export sent to the browser in one message.
MAX_EXPORT_BYTES = Limit.DOWNLOAD_MAX_BYTES


class StreamWidget(anywidget.AnyWidget):  # type: ignore[misc]
    """A live feed in a notebook: state, stream toggles, charts, recent events, export.

    Args:
        feed: a feed from :mod:streamwidgets.feeds`; None starts the embedded demo.
        streams: streams to subscribe to (kept across reconnects).
        max_rows: rows the buffer keeps.
        window: time the buffer keeps (seconds or a timedelta).
        chart: series to chart from the start, as ``(stream, type, field)`` or ``(stream,
            type, field, by)``: ``by`` a column (a market's symbol, an aircraft's ICAO
            address) that splits the series into one line per value, the
            ``Limit.SPLIT_KEYS`` (8) most recently seen drawn (each keeps its line until
            unseen for 10 s), the others counted. The demo charts sensible ones of its
            own unless given some.
        update_hz: updates sent to the browser per second, at most (1-30).
        max_points: points each chart trace keeps (10-100,000): a longer history, a
            burst or a zoomed part is sent decimated to this many points (MinMaxLTTB),
            and the browser reduces its older points as new ones come, so a chart spans
            everything it was sent.
        recent: events kept in the recent list (1-1,000).
        history: a history directory (``record("dir/", ...)``): the buffer, and with it the
            charts, starts from its newest rows of the wanted streams (at most
            ``max_rows``, within ``window``), then goes live, a gap marked between.
        **options: connection options (``open_timeout``, ``request_timeout``,
            ``backoff``, ``healthy_after``, ``max_attempts``, ``give_up_after``,
            ``max_frame_bytes``, ``read_bytes``, ``yield_every``, ``keep_rejected``).

    Example:
        >>> w = StreamWidget(feeds.hydra(url, token=token), streams=["signals"])  # doctest: +SKIP
        >>> w                                  # the live widget  # doctest: +SKIP
        >>> w.wait(events=100); w.df.tail()    # doctest: +SKIP
        >>> w = StreamWidget(feed, streams=["markets"],  # doctest: +SKIP
        ...                  chart=[("markets", "market_update", "data.price", "data.symbol")])
    """

    # Placeholders so anywidget makes the traits; each widget gets the loader (a few KB)
    # and the app reaches a page once (see widget/frontend.py).
    _esm = ""
    _css = ""

    # The app, for the first widget of a kernel only (see widget/frontend.py); the browser
    # keeps it on the page and drops it from the model.
    _app = traitlets.Bytes(b"", allow_none=True).tag(sync=True)
    feed = traitlets.Dict().tag(sync=True)
    state = traitlets.Unicode("disconnected").tag(sync=True)
    reason = traitlets.Unicode("").tag(sync=True)
    available_streams = traitlets.List(traitlets.Unicode()).tag(sync=True)
    subscriptions = traitlets.List(traitlets.Unicode()).tag(sync=True)
    pending = traitlets.List(traitlets.Unicode()).tag(sync=True)
    subscribe_supported = traitlets.Bool(True).tag(sync=True)
    paused = traitlets.Bool(False).tag(sync=True)
    fields = traitlets.List(traitlets.Dict()).tag(sync=True)
    charts = traitlets.List(traitlets.Dict()).tag(sync=True)
    max_points = traitlets.Int(Limit.MAX_POINTS_DEFAULT).tag(sync=True)
    recent = traitlets.Int(Limit.RECENT_DEFAULT).tag(sync=True)
    update_hz = traitlets.Float(Limit.UPDATE_HZ_DEFAULT).tag(sync=True)
    error = traitlets.Unicode("").tag(sync=True)
    playback = traitlets.Dict().tag(sync=True)

    def __init__(
        self,
        feed: Dialect | None = None,
        /,
        *,
        streams: Iterable[str] = (),
        max_rows: int | None = 50_000,
        window: float | datetime.timedelta | None = None,
        chart: Iterable[tuple[str | None, str, str] | tuple[str | None, str, str, str | None]] = (),
        update_hz: float = Limit.UPDATE_HZ_DEFAULT,
        max_points: int = Limit.MAX_POINTS_DEFAULT,
        recent: int = Limit.RECENT_DEFAULT,
        history: str | os.PathLike[str] | None = None,
        _demo_rate: float = 50.0,
        **options: Any,
    ) -> None:
        # Until the connection runs there is nothing to shut (ipywidgets calls close()
        # from __del__, also on a widget whose construction failed).
        self._closed = True
        self._ready = False
        unknown = sorted(set(options) - CONNECTION_OPTIONS)
        if unknown:
            raise ConfigurationError(_unknown_message(unknown))
        if isinstance(update_hz, bool) or not isinstance(update_hz, (int, float)):
            raise ConfigurationError(f"update_hz must be a number, got {update_hz!r}")
        if not Limit.UPDATE_HZ_MIN <= update_hz <= Limit.UPDATE_HZ_MAX:
            raise ConfigurationError(
                f"update_hz must be between {Limit.UPDATE_HZ_MIN} and {Limit.UPDATE_HZ_MAX} "
                f"(Jupyter drops fast comm traffic), got {update_hz}"
            )
        for name, value, low, high in (
            ("max_points", max_points, Limit.MAX_POINTS_MIN, Limit.MAX_POINTS_MAX),
            ("recent", recent, Limit.RECENT_MIN, Limit.RECENT_MAX),
        ):
            if isinstance(value, bool) or not isinstance(value, int) or not low <= value <= high:
                raise ConfigurationError(
                    f"{name} must be an int between {low:,} and {high:,}, got {value!r}"
                )
        loop = running_loop("a StreamWidget")
        if feed is not None and not isinstance(feed, Dialect):
            raise ConfigurationError(
                f"expected a feed from streamwidgets.feeds, got {type(feed).__name__}"
            )
        # Everything that can be refused is checked before a demo simulator starts.
        self._frontend: Frontend = frontend()
        demo = _demo_simulated() if feed is None else None
        charted = _series_keys(chart or (demo.demo_charts if demo else ()))
        self._simulator: Any = None
        if feed is None:
            feed, self._simulator = _start_demo_feed(_demo_rate)
            # The demo's own streams unless some were named (None is refused as anywhere).
            streams = demo.demo_streams if demo and streams == () else streams
        try:
            buffer = EventBuffer(max_rows=max_rows, window=window, explode=feed.explode)
            self.connection = Connection(feed, streams=streams, buffer=buffer, **options)
            if history is not None:
                # Before the first update: the charts start from the store, then go live.
                fill_from_history(
                    buffer,
                    history,
                    streams=list(self.connection.subscriptions) or None,
                    max_rows=max_rows,
                    window_ns=window_ns(window),
                )
        except BaseException:
            if self._simulator is not None:
                self._simulator.stop_background()
            raise
        self._updates = UpdateBuilder(buffer, max_points=max_points, recent_limit=recent)
        self._update_interval = 1.0 / update_hz
        # Badge facts (see _publish_once): when the browser last heard from us, the replay's
        # facts and when they were last sent, the skip count when paused, the outputs shown in.
        self._sent_at = float("-inf")
        self._playback_at = float("-inf")
        self._skipped_at_pause = 0
        self._display_ids: collections.deque[str] = collections.deque(maxlen=MAX_DISPLAYS)
        self._tasks: set[asyncio.Task[Any]] = set()
        self._callbacks: dict[str, list[Callable[[Event], Any]]] = {}
        self._failures = FailureReport()
        self._callback_tasks: set[asyncio.Task[None]] = set()
        self._finisher: asyncio.Task[None] | None = None
        # The export being built, if any: one at a time per widget.
        self._export_task: asyncio.Task[None] | None = None

        super().__init__(
            _esm=self._frontend.loader,
            _css=self._frontend.styles,
            _app=app_for_new_widget(self._frontend),
            feed={
                "name": feed.name,
                "url": str(feed.describe().get("url", "")),
                # The feed's own words for the states, for the badge (Pusher: "Connected").
                **({"states": dict(feed.state_labels)} if feed.state_labels else {}),
                # ...and under stream toggles that filter (a relayed feed: feeds.redis).
                **_streams_note(feed),
            },
            subscriptions=self.connection.subscriptions,
            subscribe_supported=feed.supports_subscribe,
            max_points=max_points,
            recent=recent,
            update_hz=float(update_hz),
        )
        for key in charted:
            self._chart(key)
        self.on_msg(self._on_browser_message)
        self._stop_listening = [
            self.connection.on_state(self._on_state),
            self.connection.on_event(self._on_event),
            self.connection.on_refused(self._on_refused),
        ]
        previous = register(self, current_cell_id())
        if previous is not None:
            # Release its comm too: ipywidgets would otherwise keep every replaced
            # widget (and its buffer) alive for as long as the kernel runs.
            previous._shut("replaced by a new widget from the same cell")
            _release(previous)
        self._closed = False
        self.connection.start()
        self._spawn(self._publish(), loop)
        self._ready = True

    # Constructors -----------------------------------------------------------------

    @classmethod
    def demo(cls, *, rate: float = 50.0, **kwargs: Any) -> StreamWidget:
        """The embedded demo: the Hydra simulator in this kernel, no network, no token.

        Args:
            rate: events per second the simulator sends.
            **kwargs: as for :class:`StreamWidget`.

        Example:
            >>> w = StreamWidget.demo()  # doctest: +SKIP
        """
        if isinstance(rate, bool) or not isinstance(rate, (int, float)) or not 0 < rate <= 100_000:
            raise ConfigurationError(f"rate must be a number in (0, 100000], got {rate!r}")
        return cls(None, _demo_rate=rate, **kwargs)

    @staticmethod
    def running() -> list[StreamWidget]:
        """The widgets of this kernel whose connections are still running.

        Example:
            >>> for w in StreamWidget.running():  # doctest: +SKIP
            ...     w.close()
        """
        return [w for w in live_widgets() if isinstance(w, StreamWidget) and not w._closed]

    # Data ---------------------------------------------------------------------------

    @property
    def buffer(self) -> EventBuffer:
        """The rolling buffer behind :attr:`df`."""
        return self.connection.buffer

    @property
    def df(self) -> pd.DataFrame:
        """Every buffered row, now, as a DataFrame."""
        return self.connection.buffer.df

    def to_dataframe(self, stream: str | None = None, type: str | None = None) -> pd.DataFrame:
        """Buffered rows of one stream and/or event type.

        Example:
            >>> w.to_dataframe("markets", "market_update")  # doctest: +SKIP
        """
        return self.connection.buffer.to_dataframe(stream, type)

    @property
    def stats(self) -> dict[str, Any]:
        """Counters of the connection and buffer (events, rates, reconnects, errors)."""
        return self._stats()

    @property
    def simulator(self) -> Any:
        """The embedded simulator of a demo widget, else None."""
        return self._simulator

    @property
    def requests(self) -> Any:
        """The feed's own requests bound to this widget's connection, for feeds that have
        them (e.g. :class:`~streamwidgets.dialects.hyperoru.requests.HyperoruRequests`).

        Example:
            >>> state = await w.requests.bootstrap()  # doctest: +SKIP
        """
        return self.connection.dialect.requests(self.connection)

    def __repr__(self) -> str:
        if "connection" not in self.__dict__:
            return "<StreamWidget (not started)>"
        paused = " paused" if self.connection.paused else ""
        return (
            f"<StreamWidget {self.connection.dialect.name} state={self.connection.state.value}"
            f"{paused} rows={len(self.connection.buffer)} streams={self.connection.subscriptions}>"
        )

    # Control ----------------------------------------------------------------------

    def subscribe(self, *streams: str) -> SubscriptionResult:
        """Subscribe to more streams and wait for the server's answer (kept across reconnects).

        A stream the server does not offer raises
        :class:`~streamwidgets.StreamNotAvailable` before anything is sent; a refusal
        shows in the result's ``rejected`` and in the widget.

        Example:
            >>> w.subscribe("cyber")  # doctest: +SKIP
            SubscriptionResult(active=['signals', 'cyber'], rejected={})
        """
        return block_on(self.subscribe_async(*streams))

    def unsubscribe(self, *streams: str) -> SubscriptionResult:
        """Unsubscribe from streams and wait for the server's answer.

        Example:
            >>> w.unsubscribe("cyber")  # doctest: +SKIP
        """
        return block_on(self.unsubscribe_async(*streams))

    async def subscribe_async(self, *streams: str) -> SubscriptionResult:
        """The ``await`` form of :meth:`subscribe`.

        Example:
            >>> result = await w.subscribe_async("cyber")  # doctest: +SKIP
        """
        return await self._request(self.connection.subscribe, streams)

    async def unsubscribe_async(self, *streams: str) -> SubscriptionResult:
        """The ``await`` form of :meth:`unsubscribe`.

        Example:
            >>> result = await w.unsubscribe_async("cyber")  # doctest: +SKIP
        """
        return await self._request(self.connection.unsubscribe, streams)

    def pause(self) -> None:
        """Stop buffering and drawing; the connection stays up (the gap is marked).

        Example:
            >>> w.pause(); frozen = w.df; w.resume()  # doctest: +SKIP
        """
        if not self.connection.paused:
            self._skipped_at_pause = self.connection.stats.skipped_while_paused
        self.connection.pause()
        self._updates.note_live(False, now=self._clock())
        self.paused = True

    def resume(self) -> None:
        """Buffer and draw again after :meth:`pause`.

        Example:
            >>> w.resume(); w.paused  # doctest: +SKIP
            False
        """
        self.connection.resume()
        self._updates.note_live(self.connection.state is State.CONNECTED, now=self._clock())
        self.paused = False

    def record(self, path: str | os.PathLike[str], **options: Any) -> Recorder | HistoryWriter:
        """Record every frame from now on to ``path`` (``.jsonl.gz``, ``.jsonl``, ``.parquet``),
        or keep the buffer's rows in a history directory (``"history/"``).

        Options: ``include_sent``, ``max_bytes``, ``max_duration`` and the others of
        :class:`~streamwidgets.recording.recorder.Recorder`; for a directory ``partition_by``,
        ``roll_every`` and the others of :class:`~streamwidgets.recording.history.HistoryWriter`.
        Play a recording back with ``StreamWidget(feeds.replay(path))``, read a history
        with :func:`streamwidgets.history`. Closing the widget ends either.

        Example:
            >>> rec = w.record("feed.jsonl.gz", max_duration=600)  # doctest: +SKIP
            >>> w.stop_recording().frames  # doctest: +SKIP
            1200
            >>> w.record("history/", roll_every="10min")  # doctest: +SKIP
        """
        return self.connection.record(path, **options)

    def stop_recording(self) -> RecordingSummary | HistorySummary | None:
        """End the recording or history started by :meth:`record`; return what it holds
        (None if none)."""
        recorder = self.connection.recorder
        if recorder is None:
            return None
        # Blocks only until the writer has written what is queued (the file is complete).
        return recorder.close()

    def clear(self) -> None:
        """Empty the buffer, charts and recent list; counters and the connection go on.

        Example:
            >>> w.clear(); len(w.df)  # doctest: +SKIP
            0
        """
        self.connection.buffer.clear()
        self._updates.reset()
        self.fields = []
        self._send_window(None)

    def chart(
        self,
        field: str,
        *,
        stream: str | None = None,
        type: str | None = None,
        by: str | None = None,
    ) -> str:
        """Chart a numeric field; returns the series id.

        Args:
            field: the column (``"price"`` or ``"data.price"``: the ``data.`` prefix may be
                omitted).
            stream: its stream; type: its event type. Without ``type`` (and ``stream``),
                the field must have been seen in exactly one stream and type.
            by: a column to split by (the ``data.`` prefix may be omitted): one line per
                value, the ``Limit.SPLIT_KEYS`` (8) most recently seen drawn (each keeps
                its line until unseen for 10 s) and the others counted; a row without a
                value goes under ``"(none)"``. The picker
                (the ``fields`` trait's ``keys``) lists good ones.

        Returns:
            the series id: ``"stream|type|field"``, with ``"|by"`` when split.

        Raises:
            ConfigurationError: the stream and type are not clear, or rows of them were
                seen and none had a ``by`` column (the message names the columns seen).

        Example:
            >>> w.chart("price", stream="markets", type="market_update")  # doctest: +SKIP
            'markets|market_update|data.price'
            >>> w.chart("price", stream="markets", by="symbol")  # doctest: +SKIP
            'markets|market_update|data.price|data.symbol'
        """
        name = _field_name(field)
        split = None if by is None else _field_name(by)
        if type is None:
            self._learn_fields_now(force=True)
            seen = [
                (group["stream"], group["type"])
                for group in self.fields
                if name in (*group["fields"], *group.get("other", ()))
                and (stream is None or group["stream"] == stream)
            ]
            if len(seen) != 1:
                where = "; ".join(f"{s} / {t}" for s, t in seen) or "no stream yet"
                raise ConfigurationError(
                    f"say which stream and type to chart {name!r} for (seen in: {where})"
                )
            stream, type = seen[0]
        return self._chart(self._checked_key(SeriesKey(stream, type, name, split)))

    def unchart(self, series_id: str) -> None:
        """Stop charting a series (by the id :meth:`chart` returned).

        Example:
            >>> w.unchart("markets|market_update|data.price")  # doctest: +SKIP
        """
        if not self._updates.unchart(series_id):
            raise ConfigurationError(f"no charted series {series_id!r}")
        self.charts = [c for c in self.charts if c["id"] != series_id]

    def on(self, type: str, callback: Callable[[Event], Any]) -> Callable[[], None]:
        """Call ``callback(event)`` for each event of ``type`` ("*" for all); returns a
        function that stops it. A callback that raises is reported, never fatal: its first
        failure with the traceback, then a count at most every 10 s, also on the widget.

        An ``async def`` callback runs as a task per event; at most
        :data:`MAX_CALLBACK_TASKS` run at once, and an event that finds them all busy is
        skipped for that callback (counted as a failure), so a slow one cannot pile up.

        Example:
            >>> stop = w.on("alert_issued", lambda e: print(e.data["title"]))  # doctest: +SKIP
        """
        if not callable(callback):
            raise ConfigurationError("on() needs a callable")
        if not isinstance(type, str) or not type:
            raise ConfigurationError(f"on() takes an event type (or '*'), got {type!r}")
        self._callbacks.setdefault(type, []).append(callback)

        def stop() -> None:
            with contextlib.suppress(ValueError):
                self._callbacks.get(type, []).remove(callback)

        return stop

    def wait(self, *, events: int = 1, timeout: float = 10.0, state: str | None = None) -> int:
        """Block a synchronous cell until ``events`` more events arrived (or ``state``).

        The connection and charts keep running while it waits. Returns the rows in
        the buffer. Raises ``TimeoutError`` saying how far it got, or
        :class:`~streamwidgets.ConnectionFailed` if the feed fails meanwhile.

        Example:
            >>> w.wait(events=100, timeout=10)  # doctest: +SKIP
            100
        """
        return block_on(self.wait_async(events=events, timeout=timeout, state=state))

    async def wait_async(
        self, *, events: int = 1, timeout: float = 10.0, state: str | None = None
    ) -> int:
        """The ``await`` form of :meth:`wait`, for async cells and scripts.

        Example:
            >>> rows = await w.wait_async(events=100)  # doctest: +SKIP
        """
        if isinstance(events, bool) or not isinstance(events, int) or events < 0:
            raise ConfigurationError(f"events must be an int >= 0, got {events!r}")
        if not isinstance(timeout, (int, float)) or timeout <= 0:
            raise ConfigurationError(f"timeout must be a number > 0, got {timeout!r}")
        wanted = State(state) if state is not None else None
        start = self.connection.stats.events - self.connection.stats.skipped_while_paused
        deadline = time.monotonic() + timeout
        while True:
            got = self.connection.stats.events - self.connection.stats.skipped_while_paused
            if wanted is not None and self.connection.state is wanted:
                return len(self.connection.buffer)
            if wanted is None and got - start >= events:
                return len(self.connection.buffer)
            if self.connection.state in (State.FAILED, State.CLOSED) and wanted is None:
                self.connection._raise_if_ended()
            if time.monotonic() >= deadline:
                what = f"state {wanted.value}" if wanted else f"{events} events"
                raise TimeoutError(
                    f"waited {timeout} s for {what}: {got - start} events arrived, "
                    f"state {self.connection.state.value} ({self.connection.reason})"
                )
            await asyncio.sleep(0.02)

    def close(self) -> None:
        """Stop the connection and every task (and a demo's simulator), close the view.

        The buffer stays readable: ``w.df`` still works after closing. The widget's comm
        is released, and so is that of the layout ipywidgets gave it: the live view goes
        with the comm, as for any widget. Each output the widget was shown in keeps a
        final, static picture instead (through the display id it was shown with): the
        badge "closed", why, and the last counters (events, rows, reconnects, parse errors,
        events skipped while paused), so an output never turns blank. A widget closed
        because its cell ran again leaves none: that output is replaced anyway. Closing
        twice does nothing more.

        Example:
            >>> w.close(); w.state  # doctest: +SKIP
            'closed'
        """
        was_open = not self._closed
        self._shut("closed by the user")
        if was_open:
            self._leave_final_picture()
        _release(self)

    async def aclose(self) -> None:
        """Close and wait until the socket and tasks are gone.

        Example:
            >>> await w.aclose()  # doctest: +SKIP
        """
        self.close()
        if self._finisher is not None:
            await self._finisher

    def _ipython_display_(self) -> None:
        # Shown with a display id (one per output, the newest MAX_DISPLAYS), so close() can
        # leave its final picture there: the live view goes when the comm closes.
        from IPython.display import display

        if self.comm is None:  # closed: only the picture is left to show
            display(self._final_picture(), raw=True)
            return
        bundle = self._repr_mimebundle_()
        data, metadata = bundle if isinstance(bundle, tuple) else (bundle, {})
        display_id = uuid.uuid4().hex
        self._display_ids.append(display_id)
        display(data, metadata=metadata, raw=True, display_id=display_id)

    def _leave_final_picture(self) -> None:
        ids = self.__dict__.get("_display_ids")
        if not ids:
            return
        try:
            from IPython.display import update_display

            picture = self._final_picture()
            for display_id in ids:
                update_display(picture, raw=True, display_id=display_id)
        except Exception:  # no IPython, or closing at interpreter exit: nothing to show it in
            logger.debug("could not leave the closed widget's picture", exc_info=True)
        ids.clear()

    def _final_picture(self) -> dict[str, str]:
        """The closed widget as a static output: ``{"text/html", "text/plain"}``."""
        stats = self._stats()
        counters = [
            (key.replace("_", " "), key, stats[key])
            for key in ("events", "rows", "reconnects", "parse_errors", "skipped_while_paused")
        ]
        name = self.feed.get("name", "")
        reason = self.reason or "closed"
        cells = "".join(
            f'<span class="sw-stat"><span class="sw-stat-value" data-stat="{key}">'
            f'{value:,}</span> <span class="sw-stat-label">{label}</span></span> '
            for label, key, value in counters
        )
        text = self.connection.mask(
            f'<div class="sw-root sw-final" data-state="closed" style="font: 13px sans-serif; '
            f'padding: 6px 0">'
            f'<div class="sw-header"><span class="sw-status">'
            f'<span class="sw-state" data-state="closed" data-badge="closed" style="padding: '
            f'1px 8px; border-radius: 9px; background: #8a8a8a; color: #fff">closed</span>'
            f'<span class="sw-visually-hidden">: </span>'
            f'<span class="sw-reason">{html.escape(reason)}</span></span> '
            f'<span class="sw-feed-name"><b>{html.escape(str(name))}</b></span></div>'
            f'<div class="sw-stats"><span class="sw-stats-note">last values:</span> {cells}</div>'
            f'<div class="sw-final-note" style="opacity: 0.75">The widget is closed; '
            f"its buffer stays readable as <code>.df</code> ({stats['rows']:,} rows).</div>"
            f"</div>"
        )
        plain = self.connection.mask(
            f"<StreamWidget {name} closed: {reason}; "
            + ", ".join(f"{label} {value:,}" for label, _, value in counters)
            + ">"
        )
        return {"text/html": text, "text/plain": plain}

    # Internals ----------------------------------------------------------------------

    def _shut(self, reason: str) -> None:
        if self._closed:
            return
        self._closed = True
        unregister(self)
        for stop in self._stop_listening:
            stop()
        for task in [*self._tasks, *self._callback_tasks]:
            task.cancel()
        try:
            self._finisher = asyncio.get_running_loop().create_task(self._finish())
        except RuntimeError:  # no running loop (interpreter exit): nothing left to drive
            self._finisher = None
        with self.hold_sync():
            self.state = State.CLOSED.value
            self.reason = reason
            self.pending = []

    async def _finish(self) -> None:
        await self.connection.close()
        if self._simulator is not None:
            await self._simulator.stop()

    def _spawn(self, coro: Any, loop: asyncio.AbstractEventLoop | None = None) -> asyncio.Task[Any]:
        task = (loop or asyncio.get_running_loop()).create_task(coro)
        self._tasks.add(task)
        task.add_done_callback(self._task_done)
        return task

    def _task_done(self, task: asyncio.Task[Any]) -> None:
        self._tasks.discard(task)
        if not task.cancelled() and task.exception() is not None:
            logger.warning("a widget task failed", exc_info=task.exception())

    def _stats(self) -> dict[str, Any]:
        stats = self.connection.stats.as_dict()
        buffer = self.connection.buffer
        stats["rows"] = len(buffer)
        stats["dropped_rows"] = buffer.dropped_rows
        # A replay's rate per recorded second, as its rate chart counts: the socket delivers
        # ``speed`` recorded seconds each second.
        speed = self.playback.get("speed") if self.playback else None
        if speed:
            stats["events_per_second"] = round(stats["events_per_second"] / speed, 1)
        # Events that arrived since this pause began and were not buffered (0 when live).
        stats["skipped_this_pause"] = (
            stats["skipped_while_paused"] - self._skipped_at_pause if self.connection.paused else 0
        )
        return stats

    def _clock(self) -> float:
        """Epoch seconds the rate chart's seconds close by: now, or for a replay the recorded
        time of the newest frame played (a second past it once the replay finished), so a
        replay's events per second are per recorded second, whatever the speed."""
        dialect = self.connection.dialect
        clock_ns = getattr(dialect, "clock_ns", None)
        if clock_ns is None:
            return time.time()
        at = clock_ns()
        if at is None:
            return 0.0  # nothing played yet: no second is complete
        return at / 1e9 + (1.0 if getattr(dialect, "finished", False) else 0.0)

    def _learn_playback(self, now: float) -> None:
        # A replay's position and length for the badge: at most once a second, and at once
        # when it pauses, finishes or changes speed.
        progress = getattr(self.connection.dialect, "progress", None)
        if progress is None:
            return
        facts = progress()
        facts["position"] = float(int(facts["position"]))
        if facts["length"] is not None:
            facts["length"] = round(facts["length"], 1)
        old = self.playback
        flags = ("paused", "finished", "speed", "length")
        if facts != old and (
            now - self._playback_at >= 1.0 or any(facts.get(k) != old.get(k) for k in flags)
        ):
            self._playback_at = now
            self.playback = facts

    async def _publish(self) -> None:
        loop = asyncio.get_running_loop()
        next_at = loop.time()
        while True:
            # A fixed schedule, not a fixed pause: the work of a tick and a busy loop
            # would otherwise stretch every interval and halve the update rate.
            next_at = max(next_at + self._update_interval, loop.time())
            await asyncio.sleep(next_at - loop.time())
            try:
                self._publish_once()
            except Exception:  # a drawing bug must not stop the updates for good
                logger.warning("building a widget update failed", exc_info=True)

    def _publish_once(self) -> None:
        # Paused: nothing new is buffered, so updates carry only the counters.
        built = self._updates.update(self._stats(), now=self._clock())
        self._learn_fields_now()
        now = time.monotonic()
        self._learn_playback(now)
        if built is not None:
            message, buffers = built
            self.send(message, buffers)
            self._sent_at = now
        elif now - self._sent_at >= Limit.HEARTBEAT_SECONDS:
            # Nothing changed, but the views must hear that the kernel is still there.
            self.send({"kind": ToBrowser.HEARTBEAT})
            self._sent_at = now

    def _learn_fields_now(self, *, force: bool = False) -> None:
        fields = self.connection.mask(self._updates.fields(refresh=force))
        if fields != self.fields:
            self.fields = fields

    def _send_window(
        self,
        view: str | None,
        only: list[str] | None = None,
        x_range: tuple[float | None, float | None] | None = None,
    ) -> None:
        message, buffers = self._updates.window(self._stats(), view, only=only, x_range=x_range)
        self.send(message, buffers)

    def _chart(self, key: SeriesKey) -> str:
        if key.id not in self._updates.series:
            self._updates.chart(key)
            self.charts = [*self.charts, key.as_dict()]
            if self._ready:
                self._send_window(None, only=[key.id])
        return key.id

    def _checked_key(self, key: SeriesKey) -> SeriesKey:
        # A split column must be one the rows of that stream and type have (when some
        # were seen; a chart made before the first event is taken on trust).
        if key.by is None:
            return key
        if self._updates.columns(key.stream, key.type) is None:
            self._learn_fields_now(force=True)
        seen = self._updates.columns(key.stream, key.type)
        if seen is not None and key.by not in seen:
            group = next(
                (g for g in self.fields if g["stream"] == key.stream and g["type"] == key.type),
                {},
            )
            keys = ", ".join(group.get("keys", [])) or "none"
            raise ConfigurationError(
                f"cannot split {key.field!r} by {key.by!r}: no such column in "
                f"{key.stream} / {key.type} rows (split-key candidates: {keys}; "
                f"columns seen: {', '.join(seen)})"
            )
        return key

    def _zoom(self, view: str | None, x0: Any, x1: Any) -> None:
        # Raises ConfigurationError for absurd bounds, which the caller shows in `error`.
        self._send_window(view, x_range=zoom_range(x0, x1))

    def _on_state(self, change: StateChange) -> None:
        if self._closed:
            return
        self._updates.note_live(
            change.state is State.CONNECTED and not self.connection.paused, now=self._clock()
        )
        with self.hold_sync():
            self.state = change.state.value
            self.reason = self.connection.reason
            self.subscriptions = self.connection.subscriptions
            self.available_streams = list(self.connection.available_streams or [])

    def _on_refused(self, rejected: dict[str, str]) -> None:
        # Also refusals of what a reconnect re-sent, which no user request waits for.
        if self._closed:
            return
        with self.hold_sync():
            self.subscriptions = self.connection.subscriptions
            self.error = "subscription refused: " + "; ".join(
                f"{s}: {why}" for s, why in rejected.items()
            )

    def _on_event(self, event: Event) -> None:
        self._updates.note_event(event)
        if self._callbacks:
            for key in (event.type, "*"):
                for callback in self._callbacks.get(key, ()):
                    try:
                        result = callback(event)
                    except Exception as exc:
                        self._callback_failed(f"on({key!r})", exc)
                    else:
                        if inspect.isawaitable(result):
                            self._run_async_callback(f"on({key!r})", result)

    def _run_async_callback(self, label: str, awaitable: Any) -> None:
        if len(self._callback_tasks) >= MAX_CALLBACK_TASKS:
            if inspect.iscoroutine(awaitable):
                awaitable.close()  # never awaited on purpose: no "never awaited" warning
            self._callback_failed(label, RuntimeError("too many of its calls still running"))
            return

        async def run() -> None:
            try:
                await awaitable
            except Exception as exc:
                self._callback_failed(label, exc)

        task = asyncio.get_running_loop().create_task(run())
        self._callback_tasks.add(task)
        task.add_done_callback(self._callback_tasks.discard)

    def _callback_failed(self, label: str, exc: Exception) -> None:
        # Bounded: the first failure with its traceback, then a count now and then, so a
        # callback failing on every event cannot flood the output (or suspend it).
        words = self._failures.failed(label, exc)
        if words is None:
            return
        first = self._failures.counts[label] == 1
        logger.warning("%s", words, exc_info=exc if first else None)
        if not self._closed:
            self.error = self.connection.mask(words)

    def _request(
        self, method: Callable[[list[str]], Awaitable[SubscriptionResult]], streams: Iterable[str]
    ) -> asyncio.Task[SubscriptionResult]:
        # ``method``: the connection's subscribe or unsubscribe, whose name the errors use.
        names = list(streams)
        if self._closed:
            raise ConfigurationError("this widget is closed; make a new one")
        if not names or not all(isinstance(s, str) and s for s in names):
            raise ConfigurationError(f"{method.__name__}() takes stream names, got {names!r}")
        self.pending = sorted({*self.pending, *names})
        return self._spawn(self._run_request(method, names))

    async def _run_request(
        self, method: Callable[[list[str]], Awaitable[SubscriptionResult]], names: list[str]
    ) -> SubscriptionResult:
        action = method.__name__
        try:
            result: SubscriptionResult = await method(names)
        except StreamError as exc:
            self.error = self.connection.mask(f"{action} {', '.join(names)}: {exc}")
            raise
        else:
            rejected = result.rejected
            self.error = (
                f"{action} refused: " + "; ".join(f"{s}: {why}" for s, why in rejected.items())
                if rejected
                else ""
            )
            return result
        finally:
            with self.hold_sync():
                self.pending = [s for s in self.pending if s not in names]
                self.subscriptions = self.connection.subscriptions

    def _on_browser_message(self, _widget: Any, content: Any, buffers: list[Any]) -> None:
        if not isinstance(content, dict):
            return
        kind = content.get("kind")
        handle = _BROWSER_COMMANDS.get(kind) if isinstance(kind, str) else None
        try:
            if handle is None:
                self.error = f"unknown request from the browser: {kind!r}"
            else:
                handle(self, content)
        except StreamError as exc:
            self.error = str(exc)

    # Browser commands (see _BROWSER_COMMANDS) -------------------------------------------

    def _on_bundle(self, _content: dict[str, Any]) -> None:
        # Asked once per page (the loader keeps the app on the page after that).
        self.send(*self._frontend.reply())

    def _on_hello(self, content: dict[str, Any]) -> None:
        self._send_window(_view_id(content))

    def _on_subscribe(self, content: dict[str, Any]) -> None:
        self._request_from_browser(self.connection.subscribe, content)

    def _on_unsubscribe(self, content: dict[str, Any]) -> None:
        self._request_from_browser(self.connection.unsubscribe, content)

    def _request_from_browser(
        self, method: Callable[[list[str]], Awaitable[SubscriptionResult]], content: dict[str, Any]
    ) -> None:
        task = self._request(method, [str(content.get("stream", ""))])
        # The browser learns the outcome from the traits; don't log it twice.
        task.add_done_callback(lambda t: t.cancelled() or t.exception())

    def _on_chart(self, content: dict[str, Any]) -> None:
        by = _optional_str(content.get("by"))
        self._chart(
            self._checked_key(
                SeriesKey(
                    _optional_str(content.get("stream")),
                    str(content.get("type", "")),
                    _field_name(str(content.get("field", ""))),
                    None if by is None else _field_name(by),
                )
            )
        )

    def _on_zoom(self, content: dict[str, Any]) -> None:
        self._zoom(_view_id(content), content.get("x0"), content.get("x1"))

    def _on_unchart(self, content: dict[str, Any]) -> None:
        self.unchart(str(content.get("id", "")))

    def _on_export(self, content: dict[str, Any]) -> None:
        hidden = content.get("hidden")
        names = [str(h) for h in hidden] if isinstance(hidden, list) else []
        self._export(str(content.get("format", "")), _view_id(content), hidden=names)

    def _export(self, fmt: str, view: str | None, *, hidden: Iterable[str] = ()) -> None:
        """Start building an export for ``view``; the file follows as a ``download``
        message, or an ``export_failed`` one says why not.

        Which rows: with a subscribe step, those of the streams subscribed now (rows kept
        from a stream since unsubscribed are left out); without one, those of every
        stream but the ones ``hidden`` in the view that asked. Rows with no stream name
        are always in. The buffer's rows are taken here, on the loop, at one instant;
        their frame and the file are built in a worker thread, so the feed goes on.
        """
        connection = self.connection
        request = ExportRequest(  # raises ConfigurationError for an unknown format
            fmt,
            feed_name=connection.dialect.name,
            shown=frozenset(connection.subscriptions) if self.subscribe_supported else None,
            hidden=frozenset() if self.subscribe_supported else frozenset(hidden),
            secrets=tuple(connection.dialect.secrets()),
            max_bytes=MAX_EXPORT_BYTES,
        )
        if self._export_task is not None and not self._export_task.done():
            self._export_failed(
                view,
                fmt,
                f"{format_label(fmt)} export not started: an export is already being built "
                "for this widget; try again when its file is ready",
            )
            return
        snapshot = connection.buffer.df_later()
        self._export_task = self._spawn(self._build_export(snapshot, request, view))

    async def _build_export(
        self, snapshot: Callable[[], pd.DataFrame], request: ExportRequest, view: str | None
    ) -> None:
        loop = asyncio.get_running_loop()
        try:
            built: ExportFile = await loop.run_in_executor(None, build_in_worker, snapshot, request)
        except ConfigurationError as exc:
            self._export_failed(view, request.format, _failed(request.format, str(exc)))
            return
        except Exception as exc:  # a writer bug: say so in the widget, keep the details
            logger.warning("building an export failed", exc_info=True)
            what = f"{type(exc).__name__}: {exc}"
            self._export_failed(view, request.format, _failed(request.format, what))
            return
        if self._closed:
            return
        message = {
            "kind": ToBrowser.DOWNLOAD,
            "view": view,
            "filename": built.filename,
            "mime": built.mime,
            "format": request.format,
            "rows": built.rows,
            "bytes": len(built.data),
        }
        self.send(message, [built.data])

    def _export_failed(self, view: str | None, fmt: str, reason: str) -> None:
        if self._closed:
            return
        self.send({"kind": ToBrowser.EXPORT_FAILED, "view": view, "format": fmt, "reason": reason})

    def send(self, content: Any, buffers: list[Any] | None = None) -> None:
        """Send a custom message to the browser views, every text in it masked: a server
        may have quoted the credential in an event, a stream name or a field name.
        (Binary buffers carry numbers and the files the user asked to download.)"""
        connection = self.__dict__.get("connection")
        if connection is not None:
            content = connection.mask(content)
        super().send(content, buffers)


#: What each browser request does: the ``kind`` of the message, to the handler.
_BROWSER_COMMANDS: dict[str, Callable[[StreamWidget, dict[str, Any]], None]] = {
    ToKernel.BUNDLE: StreamWidget._on_bundle,
    ToKernel.HELLO: StreamWidget._on_hello,
    ToKernel.SUBSCRIBE: StreamWidget._on_subscribe,
    ToKernel.UNSUBSCRIBE: StreamWidget._on_unsubscribe,
    ToKernel.PAUSE: lambda widget, _content: widget.pause(),
    ToKernel.RESUME: lambda widget, _content: widget.resume(),
    ToKernel.CLEAR: lambda widget, _content: widget.clear(),
    ToKernel.CHART: StreamWidget._on_chart,
    ToKernel.UNCHART: StreamWidget._on_unchart,
    ToKernel.ZOOM: StreamWidget._on_zoom,
    ToKernel.EXPORT: StreamWidget._on_export,
}


def _release(widget: StreamWidget) -> None:
    # ipywidgets gives every DOMWidget a Layout widget with a comm of its own, which
    # closing the widget leaves open: one leaked comm per widget ever made.
    layout = widget.__dict__.get("_trait_values", {}).get("layout")
    anywidget.AnyWidget.close(widget)
    if layout is not None:
        layout.close()


def _demo_simulated() -> Simulated:
    # The demo feed is the registry's, as for `streamwidgets demo`.
    return registry.demo()[1]


def _start_demo_feed(rate: float) -> tuple[Dialect, Any]:
    simulated = _demo_simulated()
    simulator = simulated.cls(rate=rate)
    simulator.start_background()
    return simulated.client(simulator), simulator  # type: ignore[misc]


def _series_keys(chart: Iterable[Any]) -> list[SeriesKey]:
    keys = []
    for entry in chart:
        if not isinstance(entry, (tuple, list)) or len(entry) not in (3, 4):
            raise ConfigurationError(
                f"chart takes (stream, type, field) or (stream, type, field, by) tuples, "
                f"got {entry!r}"
            )
        stream, type_, field, *rest = entry
        if (
            not isinstance(type_, str)
            or not type_
            or not (stream is None or isinstance(stream, str))
        ):
            raise ConfigurationError(f"chart needs a stream (or None) and a type, got {entry!r}")
        by = rest[0] if rest else None
        split = None if by is None else _field_name(by)
        keys.append(SeriesKey(stream, type_, _field_name(field), split))
    return keys


def _field_name(field: str) -> str:
    if not isinstance(field, str) or not field:
        raise ConfigurationError(f"a field name is a non-empty str, got {field!r}")
    return field if field.startswith("data") else f"data.{field}"


def _failed(fmt: str, why: str) -> str:
    return f"{format_label(fmt)} export failed: {why}"


def _optional_str(value: Any) -> str | None:
    return None if value in (None, "") else str(value)


def _view_id(content: dict[str, Any]) -> str | None:
    view = content.get("view")
    return view if isinstance(view, str) else None


def _unknown_message(unknown: list[str]) -> str:
    # The keyword arguments of StreamWidget itself, read from its signature so the hint
    # cannot fall behind it.
    own = {
        name
        for name, param in inspect.signature(StreamWidget.__init__).parameters.items()
        if param.kind is inspect.Parameter.KEYWORD_ONLY and not name.startswith("_")
    }
    known = sorted(own | CONNECTION_OPTIONS)
    hints = []
    for name in unknown:
        close = difflib.get_close_matches(name, known, n=1)
        hints.append(f"{name!r}" + (f" (did you mean {close[0]!r}?)" if close else ""))
    return f"unknown StreamWidget option {', '.join(hints)}; known: {', '.join(known)}"


def _streams_note(feed: Dialect) -> dict[str, str]:
    note = getattr(feed, "streams_note", None)
    return {"streams_note": note} if isinstance(note, str) and note else {}
