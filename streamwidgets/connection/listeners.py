"""The callbacks registered on a connection: state changes, refusals, and every event.

A callback that raises never stops the connection. A state or refusal listener's error
is logged with its traceback; an event callback runs for every event, so its first
failure is logged with the traceback, then a count now and then
(:class:`~streamwidgets.connection.callbacks.FailureReport`), never one record per event.

Example:
    >>> import logging
    >>> calls = Listeners(logging.getLogger("demo"))
    >>> seen = []
    >>> stop = calls.on_refused(seen.append)
    >>> calls.refused({"cyber": "tier too low"}); stop(); calls.refused({"x": "no"})
    >>> seen
    [{'cyber': 'tier too low'}]
"""

from __future__ import annotations

import contextlib
import logging
from collections.abc import Callable, Sequence
from typing import Any

from streamwidgets.connection.callbacks import FailureReport
from streamwidgets.events import Event

__all__ = ["Listeners"]


class Listeners:
    """What to call at each state change (``change``), refusal (masked stream -> reason)
    and event.

    Args:
        logger: where a failing listener is reported; masked, since an error may quote
            anything, the credential included.
    """

    __slots__ = ("_log", "_reports", "events", "refusals", "states")

    def __init__(self, logger: logging.Logger | logging.LoggerAdapter[Any]) -> None:
        self._log = logger
        self._reports = FailureReport()
        self.states: list[Callable[[Any], None]] = []
        self.refusals: list[Callable[[dict[str, str]], None]] = []
        #: Event callbacks; the connection's reader tests this list before each frame's
        #: events, so none registered costs nothing.
        self.events: list[Callable[[Event], Any]] = []

    def on_state(self, callback: Callable[[Any], None]) -> Callable[[], None]:
        """Call ``callback(change)`` at every state change; returns a function that stops it."""
        return _added(self.states, callback)

    def on_refused(self, callback: Callable[[dict[str, str]], None]) -> Callable[[], None]:
        """Call ``callback(rejected)`` at every refusal; returns a function that stops it."""
        return _added(self.refusals, callback)

    def on_event(self, callback: Callable[[Event], Any]) -> Callable[[], None]:
        """Call ``callback(event)`` for every event; returns a function that stops it."""
        return _added(self.events, callback)

    def state_changed(self, change: Any) -> None:
        """Tell every state listener of ``change``."""
        for listener in list(self.states):
            try:
                listener(change)
            except Exception:
                self._log.warning("a state listener raised", exc_info=True)

    def refused(self, rejected: dict[str, str]) -> None:
        """Tell every refusal listener which streams were refused, and why."""
        for listener in list(self.refusals):
            try:
                listener(rejected)
            except Exception:
                self._log.warning("a refusal listener raised", exc_info=True)

    def passed_on(self, events: Sequence[Event]) -> None:
        """Call every event callback with each of ``events``."""
        for sink in self.events:
            for event in events:
                try:
                    sink(event)
                except Exception as exc:
                    self._failed(sink, exc)

    def _failed(self, sink: Callable[[Event], Any], exc: Exception) -> None:
        label = f"on_event({getattr(sink, '__qualname__', type(sink).__name__)})"
        words = self._reports.failed(label, exc)
        if words is not None:
            first = self._reports.counts[label] == 1
            self._log.warning("%s", words, exc_info=exc if first else None)


def _added(items: list[Any], item: Any) -> Callable[[], None]:
    items.append(item)

    def stop() -> None:
        with contextlib.suppress(ValueError):
            items.remove(item)

    return stop
