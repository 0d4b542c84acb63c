"""Turn what is new in a buffer into the widget's coalesced update messages.

One :class:`UpdateBuilder` per widget remembers what the browser has been sent
(a buffer cursor, completed rate seconds, recent events), so each update carries
only what is new, and a view opened later can be sent the whole current window.

The events-per-second chart gets one entry per completed second: ``{"t", "counts"}``
(empty counts: a quiet second, zero events), or ``{"t", "gap": true}`` for a second in
which the feed was not live (disconnected, paused), which the chart draws as a break, so
an outage is never a straight line between the seconds around it.
"""

from __future__ import annotations

import time
from collections import deque
from typing import Any

import pandas as pd

from streamwidgets.buffer.columns import META_COLUMNS
from streamwidgets.buffer.event_buffer import EventBuffer
from streamwidgets.events import Event
from streamwidgets.widget.encoding import (
    SeriesKey,
    encode_series,
    event_rows_by_stream,
    recent_item,
    series_points,
)
from streamwidgets.widget.protocol import Limit, ToBrowser

__all__ = ["UpdateBuilder"]

#: How often the field picker's choices are refreshed, and from how many newest rows.
FIELDS_EVERY_SECONDS = 1.0
FIELDS_SAMPLE_ROWS = 2000


class UpdateBuilder:
    """Builds ``update`` and ``window`` messages from a buffer.

    Args:
        buffer: the widget's buffer.
        max_points: points each series keeps (and sends at most per message).
        recent_limit: recent events kept for the list.
        recent_per_update: recent events sent at most per update (the newest): the list
            is read by people, and it is what costs the most bytes.

    Example:
        >>> buf = EventBuffer()
        >>> builder = UpdateBuilder(buf, max_points=100)
        >>> builder.chart(SeriesKey("m", "tick", "data.p"))
        >>> event = Event("m", "tick", {"p": 2.5}, received_ns=10**9)
        >>> buf.append(event); builder.note_event(event)
        >>> message, buffers = builder.update({"events": 1})
        >>> message["series"], len(buffers), len(message["recent"])
        ([{'id': 'm|tick|data.p', 'n': 1}], 2, 1)
        >>> builder.update({"events": 1})  # nothing new, same stats: nothing to send
    """

    def __init__(
        self,
        buffer: EventBuffer,
        *,
        max_points: int = Limit.MAX_POINTS_DEFAULT,
        recent_limit: int = Limit.RECENT_DEFAULT,
        recent_per_update: int = 5,
    ) -> None:
        self.buffer = buffer
        self.max_points = max_points
        self.series: dict[str, SeriesKey] = {}
        self._cursor = buffer.last_seq
        self._recent: deque[dict[str, Any]] = deque(maxlen=recent_limit)
        self._recent_unsent: deque[tuple[int, Event]] = deque(maxlen=recent_per_update)
        self._recent_seq = 0
        self._rate_open: dict[int, dict[str, int]] = {}
        self._rates: deque[dict[str, Any]] = deque(maxlen=Limit.RATE_SECONDS)
        # Rate seconds: the last one closed, and the spans (from, to) the feed was not live.
        self._rates_until: int | None = None
        self._down: list[list[int | None]] = []
        self._last_stats: dict[str, Any] | None = None
        self._fields: dict[tuple[str | None, str], dict[str, None]] = {}
        self._fields_cursor = self._cursor
        self._fields_at = float("-inf")

    # Inputs -----------------------------------------------------------------------

    def note_event(self, event: Event) -> None:
        """Remember an event for the recent list (called for every event; kept cheap)."""
        self._recent_seq += 1
        self._recent_unsent.append((self._recent_seq, event))

    def note_live(self, live: bool, *, now: float | None = None) -> None:
        """Say whether the feed is live (connected and not paused) from now on, so the rate
        chart can tell a quiet second (zero) from one with no feed (a break)."""
        second = int(time.time() if now is None else now)
        down = self._down
        if not live and not (down and down[-1][1] is None):
            down.append([second, None])
        elif live and down and down[-1][1] is None:
            down[-1][1] = second
            if down[-1][0] == second:
                down.pop()  # back within the same second: no whole second was lost

    def chart(self, key: SeriesKey) -> None:
        """Start charting a series."""
        self.series[key.id] = key

    def unchart(self, series_id: str) -> bool:
        """Stop charting a series; False if it was not charted."""
        return self.series.pop(series_id, None) is not None

    def reset(self) -> None:
        """Forget everything sent, e.g. after the buffer was cleared."""
        self._cursor = self.buffer.last_seq
        self._recent.clear()
        self._recent_unsent.clear()
        self._rate_open.clear()
        self._rates.clear()
        self._fields.clear()
        self._fields_cursor = self._cursor

    # Outputs ----------------------------------------------------------------------

    def update(
        self, stats: dict[str, Any], *, now: float | None = None
    ) -> tuple[dict[str, Any], list[bytes]] | None:
        """What is new since the last call, or None when there is nothing to say."""
        now_s = int(time.time() if now is None else now)
        # Only the columns charted: a wide feed's other columns cost time, not pixels.
        wanted = {key.field for key in self.series.values()}
        new, self._cursor = self.buffer.since(self._cursor, columns=wanted)
        if len(new):
            for second, counts in event_rows_by_stream(new).items():
                into = self._rate_open.setdefault(second, {})
                for stream, n in counts.items():
                    into[stream] = into.get(stream, 0) + n
        rates = self._close_seconds(now_s)
        recent = self._take_recent()
        points = [(key, *series_points(new, key, self.max_points)) for key in self.series.values()]
        points = [p for p in points if len(p[1])]
        if not points and not rates and not recent and stats == self._last_stats:
            return None
        self._last_stats = stats
        entries, buffers = encode_series(points)
        message = {
            "kind": ToBrowser.UPDATE,
            "stats": stats,
            "series": entries,
            "rates": rates,
            "recent": recent,
        }
        return message, buffers

    def window(
        self, stats: dict[str, Any], view: str | None, *, only: list[str] | None = None
    ) -> tuple[dict[str, Any], list[bytes]]:
        """The current window for a view (``view=None``: every view).

        ``only`` limits it to those series (a series just charted), leaving the rest alone.
        """
        frame = self.buffer.df if self.series else pd.DataFrame()
        keys = [self.series[i] for i in only or self.series if i in self.series]
        points = [(key, *series_points(frame, key, self.max_points)) for key in keys]
        entries, buffers = encode_series(points)
        message: dict[str, Any] = {"kind": ToBrowser.WINDOW, "view": view, "series": entries}
        if only is None:
            message["stats"] = stats
            message["rates"] = list(self._rates)
            message["recent"] = list(self._recent)
        return message, buffers

    def fields(self, *, refresh: bool = False) -> list[dict[str, Any]]:
        """Numeric fields seen so far, per stream and type, for the field picker.

        Learns from new rows at most once a second (``refresh``: now), and from the
        newest rows only.
        """
        now = time.monotonic()
        if refresh or now - self._fields_at >= FIELDS_EVERY_SECONDS:
            self._fields_at = now
            start = max(self._fields_cursor, self.buffer.last_seq - FIELDS_SAMPLE_ROWS)
            frame, self._fields_cursor = self.buffer.since(start)
            if len(frame):
                self._learn_fields(frame)
        return [
            {"stream": stream, "type": type_, "fields": list(names)}
            for (stream, type_), names in sorted(
                self._fields.items(), key=lambda item: (item[0][0] or "", item[0][1])
            )
        ]

    # Internals --------------------------------------------------------------------

    def _close_seconds(self, now_s: int) -> list[dict[str, Any]]:
        first = self._rates_until + 1 if self._rates_until is not None else None
        if first is None:
            seen = [s for s in self._rate_open if s < now_s]
            if not seen:
                return []
            first = min(seen)
        # At most the history's length of seconds, however long the wait was.
        first = max(first, now_s - Limit.RATE_SECONDS)
        closed = []
        for second in range(first, now_s):
            counts = self._rate_open.pop(second, None)
            if counts is not None:
                closed.append({"t": second * 1000.0, "counts": counts})
            elif self._was_down(second):
                closed.append({"t": second * 1000.0, "gap": True})
            else:
                closed.append({"t": second * 1000.0, "counts": {}})
        for stale in [s for s in self._rate_open if s < first]:
            del self._rate_open[stale]
        if now_s - 1 >= first:
            self._rates_until = now_s - 1
        self._down = [d for d in self._down if d[1] is None or d[1] > first]
        self._rates.extend(closed)
        return closed

    def _was_down(self, second: int) -> bool:
        return any(
            start <= second and (end is None or second < end)  # type: ignore[operator]
            for start, end in self._down
        )

    def _take_recent(self) -> list[dict[str, Any]]:
        items = [recent_item(event, seq) for seq, event in self._recent_unsent]
        self._recent_unsent.clear()
        self._recent.extend(items)
        return items

    def _learn_fields(self, frame: pd.DataFrame) -> None:
        numeric = [
            name
            for name, dtype in frame.dtypes.items()
            if name not in META_COLUMNS
            and pd.api.types.is_numeric_dtype(dtype)
            and not pd.api.types.is_bool_dtype(dtype)
        ]
        if not numeric:
            return
        present = frame[numeric].notna()
        keys = frame["stream"].astype(object).where(frame["stream"].notna(), None)
        groups = present.groupby([keys.fillna(""), frame["type"].astype(object)], sort=False)
        for (stream, type_), seen in groups.any().iterrows():
            names = self._fields.setdefault((stream or None, type_), {})
            for name in seen.index[seen.to_numpy(dtype=bool)]:
                names.setdefault(name, None)
