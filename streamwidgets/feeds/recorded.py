"""Recorded feeds: a recording file, or a relay's Redis Stream, played as a live feed.

Each is parsed by the recorded feed's own dialect, rebuilt for parsing only by the feed
registry (:func:`streamwidgets.feeds.registry.rebuild_dialect`), which these constructors
hand to the replay and the Redis reader: those sit below the feeds and know no feed by name.
The registry (every dialect and simulator) is imported when one is made, not with the package.

Example:
    >>> from streamwidgets import feeds
    >>> feeds.replay("missing.jsonl.gz")
    Traceback (most recent call last):
    ...
    streamwidgets.exceptions.ConfigurationError: no recording at missing.jsonl.gz
"""

from __future__ import annotations

import datetime
import os
from typing import TYPE_CHECKING

from streamwidgets._util.secret import Secret
from streamwidgets.connection.dialect import Dialect

if TYPE_CHECKING:
    from streamwidgets.relay.feed import RedisDialect
    from streamwidgets.replay.dialect import ReplayDialect

__all__ = ["redis", "replay"]


def replay(
    path: str | os.PathLike[str],
    *,
    speed: float | None = 1.0,
    dialect: Dialect | None = None,
    start: float = 0.0,
    paused: bool = False,
) -> ReplayDialect:
    """A recording played back as a live feed, parsed by the recorded feed's own dialect.

    Frames keep their recorded receive times, so the buffer gets the recorded rows. The
    returned feed has ``pause()``, ``resume()``, ``seek(seconds)``, a settable ``speed``,
    ``finished`` and ``wait_finished()`` (see :mod:`streamwidgets.replay.dialect`).

    Args:
        path: a recording (``w.record(...)``, ``open(..., record=...)``, ``streamwidgets record``).
        speed: times real time (0.01-1000); None plays as fast as possible.
        dialect: parse with this dialect instead of the one the recording names.
        start: seconds from the start of the recording to play from.
        paused: start paused.

    Example:
        >>> replay("feed.jsonl.gz", speed=0)
        Traceback (most recent call last):
        ...
        streamwidgets.exceptions.ConfigurationError: speed must be a number from 0.01 to 1000 ...
    """
    from streamwidgets.feeds.registry import rebuild_dialect
    from streamwidgets.replay.dialect import ReplayDialect

    return ReplayDialect(
        path, speed=speed, dialect=dialect, start=start, paused=paused, rebuild=rebuild_dialect
    )


def redis(
    url: str,
    key: str,
    *,
    start: str | datetime.datetime = "now",
    dialect: Dialect | None = None,
    password: str | Secret | None = None,
    page: int = 1000,
) -> RedisDialect:
    """A relay's Redis Stream as a live feed (``streamwidgets relay``; see
    :mod:`streamwidgets.relay.feed`), parsed by the relayed feed's own dialect.

    Reads with ``XREAD BLOCK`` after ``start``: backfill in pages of ``page`` entries, then
    live. Any number of readers at once. Redis down: ``reconnecting``, then on from the last
    entry read, nothing twice. The relay chose the subscriptions: streams (the widget's
    toggles) filter here, on the client.

    Args:
        url: ``redis://HOST:PORT/DB`` (``rediss://`` for TLS).
        key: the stream's key (the relay's ``--key``; by default ``streamwidgets:<feed>``).
        start: ``"now"`` (entries added from the first connect on), ``"begin"`` (the oldest
            entry the stream keeps) or a timezone-aware datetime (entries received from then).
        dialect: parse with this dialect instead of the one the relay's header names.
        password: the Redis password, if it needs one.
        page: entries per ``XREAD`` (1-100,000).

    Raises:
        ConfigurationError: a bad URL, key or start; no relay header at ``KEY:header``.
        ConnectionFailed: Redis unreachable while reading the header (one ``GET``, needed
            to know the dialect unless ``dialect=`` is given).

    Example:
        >>> redis("redis://127.0.0.1:6379/0", "hydra", start="begin", page=0)
        Traceback (most recent call last):
        ...
        streamwidgets.exceptions.ConfigurationError: page must be >= 1 and <= 100,000, got 0
    """
    from streamwidgets.feeds.registry import rebuild_dialect
    from streamwidgets.relay.feed import RedisDialect

    return RedisDialect(
        url,
        key,
        start=start,
        dialect=dialect,
        password=password,
        page=page,
        rebuild=rebuild_dialect,
    )
