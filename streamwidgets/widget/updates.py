"""Turn what is new in a buffer into the widget's coalesced update messages.

One :class:`UpdateBuilder` per widget remembers what the browser has been sent
(a buffer cursor, completed rate seconds, recent events, the last point of each
series), so each update carries only what is new, and a view opened later can be sent
the whole current window (decimated to what a chart shows) or a zoomed part of it.

The events-per-second chart gets one entry per completed second: ``{"t", "counts"}``
(empty counts: a quiet second, zero events), or ``{"t", "gap": true}`` for a second in
which the feed was not live (disconnected, paused), which the chart draws as a break, so
an outage is never a straight line between the seconds around it.

Field charts break the same way: the connection's markers in the buffer (``paused``,
``disconnected``, ``gap``) say after which event each span without a live feed began,
and a point with y = NaN goes there in every charted series (and every key of a split
one), in updates and windows alike.
"""

from __future__ import annotations

import math
import time
from collections import deque
from collections.abc import Sequence
from typing import Any

import numpy as np
import pandas as pd

from streamwidgets.buffer.columns import META_COLUMNS
from streamwidgets.buffer.event_buffer import EventBuffer
from streamwidgets.events import Event
from streamwidgets.exceptions import ConfigurationError
from streamwidgets.widget.encoding import (
    SeriesKey,
    SeriesRows,
    decimate,
    encode_series,
    epoch_ms,
    event_rows_by_stream,
    in_range,
    in_time_order,
    recent_item,
    series_rows,
    with_gaps,
)
from streamwidgets.widget.fields import Classified, classify
from streamwidgets.widget.protocol import Limit, ToBrowser

__all__ = ["SplitKeys", "UpdateBuilder", "zoom_range"]

#: How often the field picker's choices are refreshed, and from how many newest rows.
FIELDS_EVERY_SECONDS = 1.0
FIELDS_SAMPLE_ROWS = 2000
#: A stream and type's columns are classified again once the sample holds this many rows.
FIELDS_MIN_ROWS = 10
#: A stream and type learnt from this many rows is learnt again only this often.
FIELDS_SETTLED_ROWS = 50
FIELDS_SETTLED_SECONDS = 10.0
FIELDS_AGAIN_PER_PASS = 3
#: Stream and type pairs the picker describes at most (a feed with more is not sane).
FIELDS_MAX_GROUPS = 500
#: The buffer markers that begin a span without a live feed.
GAP_MARKERS = ("paused", "disconnected", "gap")
#: How often the markers are read when nothing said the feed's liveness changed.
GAPS_EVERY_SECONDS = 1.0
#: A shown key of a split chart gives its place to a new key only after this long unseen.
SPLIT_STALE_MS = 10_000.0
#: Zoom bounds beyond this (epoch ms, either sign) are refused as absurd.
ZOOM_LIMIT_MS = 1e15


def zoom_range(x0: Any, x1: Any) -> tuple[float | None, float | None]:
    """Check a ``zoom`` request's bounds: epoch ms, or None for an open end.

    Raises:
        ConfigurationError: a bound that is no number (or a bool), NaN or infinite,
            beyond ±1e15 ms, or x0 > x1; the message says which.

    Example:
        >>> zoom_range(1_000.0, None)
        (1000.0, None)
        >>> zoom_range(5, 1)
        Traceback (most recent call last):
        ...
        streamwidgets.exceptions.ConfigurationError: zoom: x0 (5.0) is after x1 (1.0)
    """
    bounds: list[float | None] = []
    for name, value in (("x0", x0), ("x1", x1)):
        if value is None:
            bounds.append(None)
            continue
        if isinstance(value, bool) or not isinstance(value, (int, float)):
            raise ConfigurationError(
                f"zoom: {name} must be epoch milliseconds (a number) or null, got {value!r}"
            )
        number = float(value)
        if not math.isfinite(number) or abs(number) > ZOOM_LIMIT_MS:
            raise ConfigurationError(
                f"zoom: {name} must be a finite time within ±{ZOOM_LIMIT_MS:.0e} ms, got {value!r}"
            )
        bounds.append(number)
    low, high = bounds
    if low is not None and high is not None and low > high:
        raise ConfigurationError(f"zoom: x0 ({low}) is after x1 ({high})")
    return low, high


class SplitKeys:
    """Which key values of one split chart are shown, bounded and stable.

    Remembers at most ``remember`` distinct values (the most recently seen) with the time
    each was last seen. At most ``shown_max`` are shown: at first the most recently
    seen; after that a shown value keeps its place while it keeps being seen, and a new
    value takes the place of the stalest shown one only when that one has not been seen
    for ``stale_ms`` (so entities reporting in turn do not swap traces every update).

    Example:
        >>> keys = SplitKeys(shown_max=2)
        >>> keys.see(["A", "B", "C"], np.array([1.0, 3.0, 2.0]))
        >>> keys.state()
        {'keys': ['B', 'C'], 'others': 1}
        >>> keys.see(["A"], np.array([60_000.0]))  # C went stale: A takes its place
        >>> keys.state()
        {'keys': ['A', 'B'], 'others': 1}
    """

    def __init__(
        self,
        *,
        shown_max: int = Limit.SPLIT_KEYS,
        remember: int = Limit.SPLIT_KEYS_REMEMBERED,
        stale_ms: float = SPLIT_STALE_MS,
    ) -> None:
        self.shown_max = shown_max
        self.remember = max(remember, shown_max)
        self.stale_ms = stale_ms
        self.shown: list[str] = []
        self._last: dict[str, float] = {}
        self._newest = -math.inf

    def see(self, keys: Sequence[str], last_seen: np.ndarray) -> None:
        """Note key values and when each was last seen (epoch ms), e.g. from
        :meth:`SeriesRows.last_seen`."""
        if not len(keys):
            return
        order = np.argsort(-last_seen, kind="stable")[: self.remember]
        remembered = self._last
        fresh: list[str] = []
        for i in order.tolist():
            value, when = keys[i], float(last_seen[i])
            if when > remembered.get(value, -math.inf):
                remembered[value] = when
                fresh.append(value)
        self._newest = max(self._newest, float(last_seen[order[0]]))
        self._choose(fresh)
        if len(remembered) > self.remember:
            shown = set(self.shown)
            spare = sorted((k for k in remembered if k not in shown), key=remembered.__getitem__)
            for value in spare[: len(remembered) - self.remember]:
                del remembered[value]

    def state(self) -> dict[str, Any]:
        """``{"keys": [shown values, most recent first], "others": int}``."""
        keys = sorted(self.shown, key=lambda k: -self._last[k])
        return {"keys": keys, "others": len(self._last) - len(self.shown)}

    def _choose(self, fresh: list[str]) -> None:
        shown, last = self.shown, self._last
        for value in fresh:  # most recent first
            if value in shown:
                continue
            if len(shown) < self.shown_max:
                shown.append(value)
                continue
            stalest = min(shown, key=last.__getitem__)
            if self._newest - last[stalest] <= self.stale_ms or last[value] <= last[stalest]:
                break
            shown[shown.index(stalest)] = value


# Recent events sent per second on average (a token bucket holding `recent_limit` and a
# second's worth more): the table shows every event up to this rate and through a burst
# that fills it, and a sample above it, saying so. Each event sent costs the page
# a JSON decode and a row whether or not it is ever read: at 1,000 events/s, sending all
# of them kept the page's main thread about 15 points busier; nobody reads a table that
# turns over 250 rows a second, and `w.df` holds every event.
RECENT_PER_SECOND = 250


class UpdateBuilder:
    """Builds ``update`` and ``window`` messages from a buffer.

    Args:
        buffer: the widget's buffer.
        max_points: points each series keeps (and sends at most per message; a window
            decimates a longer series to this many).
        recent_limit: recent events kept for the list; an update carries at most this
            many (the newest), so a late update (a busy kernel loop) still sends every
            event the bucket allows. Each costs about 9 us to build and 0.5 KB.
        recent_per_second: recent events sent per second on average, in bursts of up to
            ``recent_limit`` plus one second's worth (RECENT_PER_SECOND by default). The
            table holds every event up to this rate; above it a sample (the browser says
            so), and the comm carries at most about 125 KB/s of them.

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
        recent_per_second: float = RECENT_PER_SECOND,
    ) -> None:
        if not recent_per_second > 0:
            raise ValueError(f"recent_per_second must be > 0, got {recent_per_second!r}")
        self.buffer = buffer
        self.max_points = max_points
        self.series: dict[str, SeriesKey] = {}
        self._cursor = buffer.last_seq
        self._recent: deque[dict[str, Any]] = deque(maxlen=recent_limit)
        self._recent_unsent: deque[tuple[int, Event]] = deque(maxlen=recent_limit)
        self._recent_seq = 0
        # The token bucket of recent events (see RECENT_PER_SECOND); full at the start.
        self._recent_rate = float(recent_per_second)
        self._recent_burst = float(recent_limit + recent_per_second)
        self._recent_tokens = self._recent_burst
        self._recent_at: float | None = None
        self._rate_open: dict[int, dict[str, int]] = {}
        self._rates: deque[dict[str, Any]] = deque(maxlen=Limit.RATE_SECONDS)
        # Rate seconds: the last one closed, and the spans (from, to) the feed was not live.
        self._rates_until: int | None = None
        self._down: list[list[int | None]] = []
        self._last_stats: dict[str, Any] | None = None
        self._fields: dict[tuple[str | None, str], Classified] = {}
        self._fields_seq = -1
        self._fields_at = float("-inf")
        self._fields_learnt: dict[tuple[str | None, str], tuple[float, int]] = {}
        # Split charts: their keys, and what the views were last told about them.
        self._splits: dict[str, SplitKeys] = {}
        self._splits_told: dict[str, tuple[frozenset[str], int]] = {}
        # (series id, key value or None) -> seq of the last point sent in an update.
        self._sent_seq: dict[tuple[str, str | None], int] = {}
        # Spans without a live feed: the last seq before each, and when it began (ms).
        self._gap_seq = np.empty(0, dtype=np.int64)
        self._gap_x = np.empty(0)
        self._gaps_stale = True
        self._gaps_at = float("-inf")

    # Inputs -----------------------------------------------------------------------

    def note_event(self, event: Event) -> None:
        """Remember an event for the recent list (called for every event; kept cheap)."""
        self._recent_seq += 1
        self._recent_unsent.append((self._recent_seq, event))

    def note_live(self, live: bool, *, now: float | None = None) -> None:
        """Say whether the feed is live (connected and not paused) from now on, so the rate
        chart can tell a quiet second (zero) from one with no feed (a break), and the
        field charts look for the marker of a new break at the next update."""
        self._gaps_stale = True
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
        if key.by is not None:
            self._splits.setdefault(key.id, SplitKeys())

    def unchart(self, series_id: str) -> bool:
        """Stop charting a series; False if it was not charted."""
        self._splits.pop(series_id, None)
        self._splits_told.pop(series_id, None)
        for sent in [s for s in self._sent_seq if s[0] == series_id]:
            del self._sent_seq[sent]
        return self.series.pop(series_id, None) is not None

    def reset(self) -> None:
        """Forget everything sent, e.g. after the buffer was cleared."""
        self._cursor = self.buffer.last_seq
        self._recent.clear()
        self._recent_unsent.clear()
        self._rate_open.clear()
        self._rates.clear()
        self._fields.clear()
        self._fields_learnt.clear()
        self._fields_seq = -1
        self._splits = {i: SplitKeys() for i in self._splits}
        self._splits_told.clear()
        self._sent_seq.clear()
        self._gaps_stale = True

    # Outputs ----------------------------------------------------------------------

    def update(
        self, stats: dict[str, Any], *, now: float | None = None
    ) -> tuple[dict[str, Any], list[bytes]] | None:
        """What is new since the last call, or None when there is nothing to say."""
        now_s = int(time.time() if now is None else now)
        # Only the columns charted: a wide feed's other columns cost time, not pixels.
        wanted = {c for key in self.series.values() for c in (key.field, key.by) if c}
        new, self._cursor = self.buffer.since(self._cursor, columns=wanted)
        if len(new):
            for second, counts in event_rows_by_stream(new).items():
                into = self._rate_open.setdefault(second, {})
                for stream, n in counts.items():
                    into[stream] = into.get(stream, 0) + n
        rates = self._close_seconds(now_s)
        recent = self._take_recent(time.time() if now is None else now)
        self._read_gaps()
        points: list[Any] = []
        splits: dict[str, Any] = {}
        for key in self.series.values():
            rows = series_rows(new, key)
            if key.by is None:
                if len(rows):
                    points.append((key, *self._fresh(key.id, None, rows)))
                continue
            keys = self._splits[key.id]
            if len(rows):
                keys.see(rows.keys, rows.last_seen())
                index = {value: code for code, value in enumerate(rows.keys)}
                for value in keys.shown:
                    code = index.get(value)
                    if code is not None:
                        points.append((key, value, *self._fresh(key.id, value, rows.of_key(code))))
            told = self._tell_splits(key.id, keys)
            if told is not None:
                splits[key.id] = told
        if not points and not rates and not recent and not splits and stats == self._last_stats:
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
        if splits:
            message["splits"] = splits
        return message, buffers

    def window(
        self,
        stats: dict[str, Any],
        view: str | None,
        *,
        only: list[str] | None = None,
        x_range: tuple[float | None, float | None] | None = None,
    ) -> tuple[dict[str, Any], list[bytes]]:
        """The current window for a view (``view=None``: every view).

        ``only`` limits it to those series (a series just charted), leaving the rest alone.
        ``x_range`` (epoch ms, None for an open end; see :func:`zoom_range`) answers a
        zoom: only the series, each within the range, and ``range``. A series with more
        than ``max_points`` points is decimated to that many (:func:`decimate`). Rows
        after the last update's cursor are left to the next update, so none is sent twice.
        """
        self._read_gaps(force=True)
        frame = self.buffer.df if self.series else pd.DataFrame()
        keys = [self.series[i] for i in (self.series if only is None else only) if i in self.series]
        points: list[Any] = []
        splits: dict[str, Any] = {}
        for key in keys:
            # Up to the cursor: later rows reach every view with the next update.
            rows = _upto(series_rows(frame, key), self._cursor)
            if key.by is None:
                points.append((key, *self._whole(key.id, None, rows, x_range)))
                continue
            split = self._splits.setdefault(key.id, SplitKeys())
            if len(rows):
                split.see(rows.keys, rows.last_seen())
            splits[key.id] = state = split.state()
            index = {value: code for code, value in enumerate(rows.keys)}
            for value in state["keys"]:
                code = index.get(value)
                part = rows.of_key(code) if code is not None else SeriesRows(*_NO_ROWS)
                points.append((key, value, *self._whole(key.id, value, part, x_range)))
        entries, buffers = encode_series(points)
        message: dict[str, Any] = {
            "kind": ToBrowser.WINDOW,
            "view": view,
            "series": entries,
            "splits": splits,
        }
        if x_range is not None:
            message["range"] = list(x_range)
        elif only is None:
            message["stats"] = stats
            message["rates"] = list(self._rates)
            message["recent"] = list(self._recent)
        return message, buffers

    def fields(self, *, refresh: bool = False) -> list[dict[str, Any]]:
        """Columns seen so far, per stream and type, for the field picker:
        ``[{"stream", "type", "fields", "other", "keys"}]`` (see :func:`classify`).

        Learns at most once a second (``refresh``: now), from the newest
        ``FIELDS_SAMPLE_ROWS`` rows, and only when rows arrived; a column not in the
        sample keeps what it was found to be.
        """
        now = time.monotonic()
        last = self.buffer.last_seq
        if (refresh or now - self._fields_at >= FIELDS_EVERY_SECONDS) and last != self._fields_seq:
            self._fields_at = now
            self._fields_seq = last
            frame, _ = self.buffer.since(max(last - FIELDS_SAMPLE_ROWS, 0))
            if len(frame):
                self._learn_fields(frame)
        return [
            {
                "stream": stream,
                "type": type_,
                "fields": list(found.fields),
                "other": list(found.other),
                "keys": list(found.keys),
            }
            for (stream, type_), found in sorted(
                self._fields.items(), key=lambda item: (item[0][0] or "", item[0][1])
            )
        ]

    def columns(self, stream: str | None, type: str) -> list[str] | None:
        """The data columns seen with a value in ``stream`` / ``type`` rows (None: no row
        of them learnt yet), as :meth:`fields` last learnt them."""
        found = self._fields.get((stream, type))
        return None if found is None else list(found.seen)

    # Internals --------------------------------------------------------------------

    def _fresh(
        self, series_id: str, value: str | None, rows: SeriesRows
    ) -> tuple[np.ndarray, np.ndarray]:
        # New points of one series (or key) for an update, a NaN first if the feed was not
        # live between the last point sent and these. More than max_points at once (a
        # burst, a backfill) are decimated like a window, not cut to the newest: the chart
        # keeps the burst's shape, its minimum and maximum.
        x, y = with_gaps(
            rows, self._gap_seq, self._gap_x, after=self._sent_seq.get((series_id, value))
        )
        self._sent_seq[(series_id, value)] = int(rows.seq[-1])
        x, y = in_time_order(x, y)
        return (x, y) if len(x) <= self.max_points else decimate(x, y, self.max_points)

    def _whole(
        self,
        series_id: str,
        value: str | None,
        rows: SeriesRows,
        x_range: tuple[float | None, float | None] | None,
    ) -> tuple[np.ndarray, np.ndarray]:
        # One series (or key) for a window: every point (in the range), gaps, decimated.
        if x_range is not None:
            rows = in_range(rows, *x_range)
        elif len(rows):
            self._sent_seq.setdefault((series_id, value), int(rows.seq[-1]))
        x, y = with_gaps(rows, self._gap_seq, self._gap_x)
        return decimate(*in_time_order(x, y), self.max_points)

    def _tell_splits(self, series_id: str, keys: SplitKeys) -> dict[str, Any] | None:
        state = keys.state()
        told = (frozenset(state["keys"]), state["others"])
        if self._splits_told.get(series_id) == told:
            return None
        self._splits_told[series_id] = told
        for sent in [s for s in self._sent_seq if s[0] == series_id and s[1] not in told[0]]:
            del self._sent_seq[sent]
        return state

    def _read_gaps(self, *, force: bool = False) -> None:
        now = time.monotonic()
        if not (force or self._gaps_stale or now - self._gaps_at >= GAPS_EVERY_SECONDS):
            return
        self._gaps_stale, self._gaps_at = False, now
        markers = self.buffer.markers
        picked = markers[markers["kind"].isin(GAP_MARKERS)]
        at = epoch_ms(pd.DatetimeIndex(picked["time"]).asi8)
        first = pd.Series(at, index=picked["seq"].to_numpy(dtype=np.int64)).groupby(level=0).min()
        self._gap_seq = first.index.to_numpy(dtype=np.int64)
        self._gap_x = first.to_numpy(dtype=np.float64)

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

    def _take_recent(self, now: float) -> list[dict[str, Any]]:
        """The newest unsent events the bucket allows; the rest are skipped (a sample)."""
        if self._recent_at is not None:
            earned = max(0.0, now - self._recent_at) * self._recent_rate
            self._recent_tokens = min(self._recent_burst, self._recent_tokens + earned)
        self._recent_at = now
        unsent = list(self._recent_unsent)
        self._recent_unsent.clear()
        n = min(len(unsent), int(self._recent_tokens))
        self._recent_tokens -= n
        items = [recent_item(event, seq) for seq, event in unsent[len(unsent) - n :]]
        self._recent.extend(items)
        return items

    def _learn_fields(self, frame: pd.DataFrame) -> None:
        streams = frame["stream"].astype(object).where(frame["stream"].notna(), "")
        keys = [streams, frame["type"].astype(object)]
        data = frame[[c for c in frame.columns if c not in META_COLUMNS]]
        now, again = time.monotonic(), 0
        for (stream, type_), index in frame.groupby(keys, sort=False).indices.items():
            group = (stream or None, type_)
            old = self._fields.get(group)
            if old is None and len(self._fields) >= FIELDS_MAX_GROUPS:
                continue
            if old is not None and len(index) < FIELDS_MIN_ROWS:
                continue
            # A type learnt from a full sample is learnt again only now and then: columns
            # rarely change their nature, and this runs on the kernel's loop.
            learnt_at, learnt_rows = self._fields_learnt.get(group, (-math.inf, 0))
            if learnt_rows >= FIELDS_SETTLED_ROWS:
                if now - learnt_at < FIELDS_SETTLED_SECONDS or again >= FIELDS_AGAIN_PER_PASS:
                    continue
                again += 1  # a few per pass, so the work is spread over the seconds
            self._fields_learnt[group] = (now, len(index))
            rows = data.iloc[index]
            # Only the columns this type fills: a feed's types have columns of their own.
            rows = rows.loc[:, rows.notna().any().to_numpy()]
            found = classify(rows)
            if old is not None:  # columns not in this sample keep what they were
                kept = set(found.seen)
                found.fields += [c for c in old.fields if c not in kept]
                found.other += [c for c in old.other if c not in kept]
                found.keys += [c for c in old.keys if c not in kept]
                found.seen += [c for c in old.seen if c not in kept]
            self._fields[group] = found


_NO_ROWS = (np.empty(0, dtype=np.int64), np.empty(0), np.empty(0))


def _upto(rows: SeriesRows, seq: int) -> SeriesRows:
    end = int(np.searchsorted(rows.seq, seq, side="right"))
    if end == len(rows):
        return rows
    codes = None if rows.codes is None else rows.codes[:end]
    return SeriesRows(rows.seq[:end], rows.x[:end], rows.y[:end], codes, rows.keys)
