"""A connection's recording taps: the frames it receives and sends, or its buffered rows.

One connection has at most one tap at a time: a
:class:`~streamwidgets.recording.recorder.Recorder` (every frame, with its time) or a
:class:`~streamwidgets.recording.history.HistoryWriter` (every buffered row, as
Parquet). :class:`Taps` holds it and is told of every frame and row; with no tap, each
call costs one attribute test.

Example:
    >>> taps = Taps()
    >>> taps.received("{}", 0)  # nothing recording: nothing happens
    >>> taps.current is None
    True
"""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING, Any

from streamwidgets.events import Event
from streamwidgets.exceptions import ConfigurationError
from streamwidgets.recording.history import HistoryWriter, is_history_target
from streamwidgets.recording.recorder import Recorder

if TYPE_CHECKING:
    import os

    from streamwidgets.connection.dialect import Dialect

__all__ = ["Taps"]


class Taps:
    """The recorder or history writer of one connection (at most one of them active)."""

    __slots__ = ("history", "recorder")

    def __init__(self) -> None:
        self.recorder: Recorder | None = None
        self.history: HistoryWriter | None = None

    @property
    def current(self) -> Recorder | HistoryWriter | None:
        """The current (or last stopped) recording or history."""
        return self.recorder if self.recorder is not None else self.history

    def start(
        self,
        path: str | os.PathLike[str],
        *,
        dialect: Dialect,
        follow: Callable[..., Any],
        state: str,
        reason: str,
        bytes_received: Callable[[], int],
        explode: Any,
        **options: Any,
    ) -> Recorder | HistoryWriter:
        """Start recording to ``path``: a directory gets a history of buffered rows, a file
        the frames (see :meth:`streamwidgets.connection.driver.Connection.record`).

        Raises:
            ConfigurationError: already recording, or a bad path or option.
        """
        if self.recorder is not None and self.recorder.active:
            raise ConfigurationError(f"already recording to {self.recorder.path}")
        if self.history is not None and self.history.active:
            raise ConfigurationError(f"already writing history to {self.history.directory}")
        if is_history_target(path, options):
            writer = HistoryWriter(
                path, bytes_received=bytes_received, explode=explode or None, **options
            )
            self.history = writer
            return writer
        recorder = Recorder(path, dialect=dialect, **options)
        recorder.follow(follow, state, reason)
        self.recorder = recorder
        return recorder

    async def stop(self) -> Recorder | HistoryWriter | None:
        """End the current recording or history, wait until its files are complete,
        return it (None if there was none)."""
        recorder, self.recorder = self.recorder, None
        if recorder is not None:
            await recorder.aclose()
            return recorder
        return await self.stop_history()

    async def stop_history(self, reason: str = "stopped by the user") -> HistoryWriter | None:
        """End the history (if any) for ``reason``; return it."""
        writer, self.history = self.history, None
        if writer is None:
            return None
        await writer.aclose(reason)
        return writer

    async def aclose(self, reason: str) -> None:
        """The connection closed: end whatever records."""
        if self.recorder is not None:
            await self.recorder.aclose(reason)
        await self.stop_history(reason)

    def received(self, frame: str | bytes, now_ns: int) -> None:
        """A frame came in at ``now_ns``."""
        recorder = self.recorder
        if recorder is not None:
            recorder.received(frame, now_ns)

    def sent(self, frame: str | bytes) -> None:
        """A frame is going out now."""
        recorder = self.recorder
        if recorder is not None:
            recorder.sent(frame, time.time_ns())

    def buffered(self, events: Sequence[Event], last_seq: int) -> None:
        """``events`` went into the buffer, the last one with seq ``last_seq``."""
        history = self.history
        if history is not None:
            first = last_seq - len(events) + 1
            for i, event in enumerate(events):
                history.add(event, first + i)

    def options_changed(self) -> None:
        """Streams changed: a feed that filters on the client (a mute) parses differently
        from now on, and the recording must say so before the next frame."""
        recorder = self.recorder
        if recorder is not None:
            recorder.options_may_have_changed()
