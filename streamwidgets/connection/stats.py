"""Counters of a connection, and the frames it could not understand."""

from __future__ import annotations

import time
from collections import deque
from dataclasses import dataclass, field
from typing import Any

__all__ = ["ConnectionStats", "RejectedFrame"]

_RATE_SECONDS = 5


@dataclass(frozen=True, slots=True)
class RejectedFrame:
    """A frame that was counted as an error instead of becoming an event.

    ``preview`` is a truncated, printable excerpt; ``size`` the frame's length.
    """

    received_ns: int
    error: str
    preview: str
    size: int


@dataclass
class ConnectionStats:
    """Running totals of a connection (across reconnects).

    ``events_per_second`` is the mean over the last few whole seconds.

    Example:
        >>> s = ConnectionStats()
        >>> s.events, s.parse_errors
        (0, 0)
    """

    frames: int = 0
    events: int = 0
    bytes: int = 0
    parse_errors: int = 0
    lenient_parses: int = 0
    oversized_frames: int = 0
    reconnects: int = 0
    connects: int = 0
    heartbeats: int = 0
    skipped_while_paused: int = 0
    filtered: int = 0
    consumer_waits: int = 0
    last_error: str | None = None
    connected_since_ns: int | None = None
    _buckets: deque[list[int]] = field(default_factory=lambda: deque(maxlen=_RATE_SECONDS + 1))

    def count_events(self, n: int, now_s: int) -> None:
        """Add ``n`` events received during second ``now_s`` (epoch seconds)."""
        self.events += n
        buckets = self._buckets
        if buckets and buckets[-1][0] == now_s:
            buckets[-1][1] += n
        else:
            buckets.append([now_s, n])

    @property
    def events_per_second(self) -> float:
        """Events per second over the last complete seconds."""
        now_s = int(time.time())
        done = [(s, n) for s, n in self._buckets if now_s - _RATE_SECONDS <= s < now_s]
        if not done:
            return 0.0
        # A feed that started two seconds ago is averaged over two seconds, not five.
        span = now_s - max(done[0][0], now_s - _RATE_SECONDS)
        return sum(n for _, n in done) / span

    def as_dict(self) -> dict[str, Any]:
        """A plain snapshot, e.g. for display or JSON."""
        return {
            "frames": self.frames,
            "events": self.events,
            "bytes": self.bytes,
            "events_per_second": round(self.events_per_second, 1),
            "parse_errors": self.parse_errors,
            "lenient_parses": self.lenient_parses,
            "oversized_frames": self.oversized_frames,
            "reconnects": self.reconnects,
            "connects": self.connects,
            "heartbeats": self.heartbeats,
            "skipped_while_paused": self.skipped_while_paused,
            "filtered": self.filtered,
            "consumer_waits": self.consumer_waits,
            "last_error": self.last_error,
        }
