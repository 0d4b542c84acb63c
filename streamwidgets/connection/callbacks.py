"""Reporting what keeps happening (a failing callback, a server's errors) without one
message per occurrence.

A callback run for every event (``w.on("*", ...)``, ``connection.on_event``) that raises
would otherwise log a traceback per event: at 1,000 events/s that is 1,000 messages a
second under the cell that made the widget, and Jupyter Server suspends output above
that rate. :class:`FailureReport` lets the first failure through with its traceback,
then counts, and says the count at most once per ``every`` seconds.

Example:
    >>> clock = iter([0.0, 1.0, 2.0, 12.0]).__next__
    >>> report = FailureReport(every=10.0, clock=clock)
    >>> report.failed("on('*')", KeyError("x"))
    "on('*') callback raised KeyError: 'x'"
    >>> report.failed("on('*')", KeyError("x")) is None, report.failed("on('*')", KeyError("x"))
    (True, None)
    >>> report.failed("on('*')", KeyError("x"))
    "on('*') callback raised KeyError: 'x' (4 times so far)"
"""

from __future__ import annotations

import time
from collections.abc import Callable

__all__ = ["FailureReport"]


class FailureReport:
    """Counts failures per callback; what to say, and when.

    Args:
        every: seconds between two reports of the same callback after its first.
        clock: a monotonic clock in seconds (for tests).
    """

    def __init__(self, *, every: float = 10.0, clock: Callable[[], float] = time.monotonic):
        self.every = every
        self._clock = clock
        #: label -> failures so far.
        self.counts: dict[str, int] = {}
        self._said_at: dict[str, float] = {}

    def failed(self, label: str, error: BaseException) -> str | None:
        """Count one failure; return the words to report now, or None (not yet).

        The first failure of a callback is always reported (with its traceback, by the
        caller); after that, at most one line per ``every`` seconds, with the count.
        """
        count = self.due(label)
        if count is None:
            return None
        words = f"{label} callback raised {type(error).__name__}: {_text(error)}"
        return words if count == 1 else f"{words} ({count} times so far)"

    def due(self, label: str) -> int | None:
        """Count one occurrence of ``label``; its count so far when it is time to say so
        (the first time, then at most once per ``every`` seconds), else None.

        Example:
            >>> clock = iter([0.0, 1.0, 11.0]).__next__
            >>> report = FailureReport(every=10.0, clock=clock)
            >>> [report.due("server error") for _ in range(3)]
            [1, None, 3]
        """
        count = self.counts[label] = self.counts.get(label, 0) + 1
        now = self._clock()
        said = self._said_at.get(label)
        if said is not None and now - said < self.every:
            return None
        self._said_at[label] = now
        return count

    @property
    def total(self) -> int:
        """Failures of every callback."""
        return sum(self.counts.values())


def _text(error: BaseException) -> str:
    # An exception whose str() itself fails must not break the report of it.
    try:
        return str(error)
    except Exception:
        return "(its message cannot be shown)"
