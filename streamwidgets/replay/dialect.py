"""Replaying a recording through the same connection, dialect and buffer as the live feed.

:class:`ReplayDialect` is a feed like any other: give it to ``StreamWidget``,
``streamwidgets.open`` or a :class:`~streamwidgets.connection.driver.Connection`. When the
connection prepares, it starts an in-process :class:`~streamwidgets.replay.server.ReplayServer`
on the running loop (the way the demo embeds the Hydra simulator) and connects to it over
a real loopback WebSocket; it stops the server when the connection closes.

Parsing is the recorded feed's own: the dialect named in the recording's header is
rebuilt for parsing only by the ``rebuild`` function the feed is given (the feed
registry's, see :func:`streamwidgets.feeds.replay`; no credential, no token exchange, no
subscribe step), and each frame is parsed with its *recorded* receive time,
so the replayed buffer has the same rows as the recorded one. The recorded handshake
frames (welcome, subscription replies, Hyperoru's pong to its connect ping) are parsed as
they come, and nothing is sent back: the replay connection waits for no welcome, asks
nothing after connecting and subscribes to nothing, so a handshake in which the live
client spoke first replays from the server's recorded answers alone. Recorded reconnects
reset the parsing state the way a new live session would, and a ``replay-config`` marker
(options the live dialect resolved when it connected, such as Pusher's channels) rebuilds
the parse-only copy with them.

The end of the recording (or the damage that ends it early) sets :attr:`ReplayDialect.finished`
and :attr:`ReplayDialect.end_reason`; damage also becomes a server notice (an error in
``connection.notices`` and the widget's error line). The connection stays open, idle.

Example:
    >>> feed = feeds.replay("feed.jsonl.gz", speed=4.0)  # doctest: +SKIP
    >>> w = StreamWidget(feed)  # doctest: +SKIP
    >>> feed.pause(); feed.seek(30); feed.resume()  # doctest: +SKIP
"""

from __future__ import annotations

import asyncio
import os
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import orjson

from streamwidgets._util.checks import ArgumentTypeError
from streamwidgets._util.secret import Secret
from streamwidgets.connection.dialect import (
    CloseAction,
    CloseDecision,
    ConnectTarget,
    Dialect,
    Keepalive,
)
from streamwidgets.events import Control, Event, ServerNotice
from streamwidgets.exceptions import ConfigurationError, FrameError
from streamwidgets.recording.reader import RecordingReader
from streamwidgets.recording.recorder import REPLAY_CONFIG_MARKER
from streamwidgets.replay.markers import Rebuild, follow_marker
from streamwidgets.replay.server import ReplayServer, check_position, check_speed

__all__ = ["ReplayDialect"]

#: Entries read ahead, at most, for the options of the recording's first session.
_LOOK_AHEAD = 1000


class ReplayDialect(Dialect):
    """Play a recording back as a feed. Made by :func:`streamwidgets.feeds.replay`.

    Args:
        path: the recording.
        speed: times real time (0.01-1000), or None for as fast as possible.
        dialect: parse with this dialect instead of the one the header names.
        start: seconds from the start of the recording to play from.
        paused: start paused; :meth:`resume` starts the playback.
        rebuild: makes the dialect the header names, for parsing only, from the recorded
            replay options (needed unless ``dialect`` is given).

    Raises:
        ConfigurationError: no such file, not a recording, a newer format version, an
            absurd speed or a negative start; neither ``dialect`` nor ``rebuild``; the
            recorded dialect cannot be rebuilt.
    """

    def __init__(
        self,
        path: str | os.PathLike[str],
        *,
        speed: float | None = 1.0,
        dialect: Dialect | None = None,
        start: float = 0.0,
        paused: bool = False,
        rebuild: Rebuild | None = None,
    ) -> None:
        if not isinstance(path, (str, os.PathLike)):
            raise ArgumentTypeError(f"path must be a recording's file path, got {path!r}")
        check_speed(speed)
        start = check_position(start)
        if dialect is not None and not isinstance(dialect, Dialect):
            raise ConfigurationError(f"dialect must be a feed dialect, got {type(dialect)}")
        if dialect is None and rebuild is None:
            raise ConfigurationError("give the dialect to parse with, or a rebuild function")
        self.server = ReplayServer(path, speed=speed, paused=paused)
        header = self.server.reader.header
        # Recorded replay options are followed only when the recording chose the dialect.
        self._rebuild = rebuild if dialect is None else None
        self.inner = dialect or rebuild(  # type: ignore[misc]
            header["dialect"], _first_session_config(self.server.reader.path, header)
        )
        super().__init__()
        self.name = f"replay:{self.inner.name}"
        self.explode = self.inner.explode
        self.path = Path(path)
        self.header = header
        if start:
            self.server.seek(start)
        self._delivered = -1  # index of the last entry received, to resume after a drop
        # Recorded times (epoch ns) of the first and last entries the playback clock counts
        # from, learnt by reading the file once off the loop (see prepare()); and of the last
        # frame parsed.
        self._span: tuple[int, int] | None = None
        self._span_task: asyncio.Future[None] | None = None
        self.last_ns: int | None = None
        self._finished = asyncio.Event()
        self.end_reason: str | None = None

    # The inner dialect's view of the session ------------------------------------------------

    @property  # type: ignore[override]
    def available_streams(self) -> list[str] | None:
        """What the recorded server said it offers, once its welcome was replayed."""
        inner = getattr(self, "inner", None)
        return None if inner is None else inner.available_streams

    @available_streams.setter
    def available_streams(self, value: list[str] | None) -> None:
        inner = getattr(self, "inner", None)
        if inner is not None:
            inner.available_streams = value

    def for_connection(self) -> Dialect:
        """The replay itself: it is one playback (its controls, position and server), so the
        connection that plays it parses through it rather than through a copy."""
        return self

    def reset(self) -> None:
        self.inner.reset()

    def secrets(self) -> list[Secret]:
        return []  # a recording holds none, and replay needs none

    async def prepare(self) -> None:
        await self.server.start()
        if self._span is None and self._span_task is None:
            # Reading a long recording takes a while: the playback does not wait for it.
            loop = asyncio.get_running_loop()
            self._span_task = loop.run_in_executor(None, self._read_span)

    def _read_span(self) -> None:
        first = last = None
        for entry in RecordingReader(self.path):
            if entry.kind == "out":
                continue
            if first is None:
                first = entry.t_ns
            last = entry.t_ns
        if first is not None and last is not None:
            self._span = (first, last)

    def target(self) -> ConnectTarget:
        url = f"{self.server.url}?timed=1&after={self._delivered}"
        return ConnectTarget(url=url, display_url=f"replay of {self.path.name}")

    @property
    def supports_subscribe(self) -> bool:
        return False  # the recording holds what was subscribed; streams filter only

    def check_streams(self, streams: Sequence[str]) -> None:
        self.inner.check_streams(streams)

    def keepalive(self) -> Keepalive:
        # A paused replay is silent on purpose; loopback needs no keepalive.
        return Keepalive(idle_timeout=None, protocol_ping_interval=None)

    def on_close(self, code: int | None, reason: str) -> CloseDecision:
        if self.server.running:
            return super().on_close(code, reason)
        return CloseDecision(CloseAction.STOP, "the replay server was stopped")

    def describe(self) -> dict[str, Any]:
        return {
            "dialect": self.name,
            "url": f"replay of {self.path.name}",
            "recording": str(self.path),
            "recorded": self.header.get("describe", {}),
            "speed": self.server.speed,
        }

    async def aclose(self) -> None:
        await self.server.stop()

    # Frames ----------------------------------------------------------------------------------

    def parse(self, frame: str | bytes, received_ns: int) -> list[Event | Control]:
        if isinstance(frame, bytes):
            if len(frame) < 16:
                raise FrameError("a replayed binary frame shorter than its 16-byte prefix")
            self._delivered = int.from_bytes(frame[:8], "big")
            self.last_ns = int.from_bytes(frame[8:16], "big")
            return self.inner.parse(frame[16:], self.last_ns)
        try:
            index, t_ns, kind, payload, detail = orjson.loads(frame)
        except (orjson.JSONDecodeError, ValueError, TypeError):
            raise FrameError("not a frame from a replay server (connect with ?timed=1)") from None
        self._delivered = index
        if kind != "marker":
            self.last_ns = t_ns
            return self.inner.parse(payload, t_ns)
        if payload == "replay-end":
            self.end_reason = detail or "end of the recording"
            self._finished.set()
            if detail:
                return [ServerNotice(detail, {"recording": str(self.path)}, is_error=True)]
        else:
            # What the live connection did at this marker (shared with the Redis reader).
            self.inner, notices = follow_marker(
                self.inner, self.header["dialect"], payload, detail, rebuild=self._rebuild
            )
            return notices
        return []

    # Playback controls -----------------------------------------------------------------------

    @property
    def length(self) -> float | None:
        """Seconds of recorded time from the recording's first entry to its last (None until
        the file was read once, shortly after the playback starts)."""
        return None if self._span is None else (self._span[1] - self._span[0]) / 1e9

    @property
    def position(self) -> float:
        """Seconds of recorded time from the recording's first entry the playback reached
        (the whole length once finished)."""
        length = self.length
        if self.finished and length is not None:
            return length
        position = max(0.0, self.server.position)
        return position if length is None else min(position, length)

    def progress(self) -> dict[str, Any]:
        """Where the playback is, for a badge: ``{"speed": float | None, "position": s,
        "length": s | None, "paused": bool, "finished": bool}`` (seconds of recorded time).

        Example:
            >>> feed.progress()  # doctest: +SKIP
            {'speed': 4.0, 'position': 12.3, 'length': 180.0, 'paused': False, 'finished': False}
        """
        return {
            "speed": self.speed,
            "position": self.position,
            "length": self.length,
            "paused": self.server.paused,
            "finished": self.finished,
        }

    def clock_ns(self) -> int | None:
        """The recorded receive time (epoch ns) of the newest frame parsed, or None before
        the first: the replay's "now", for per-second counts that follow the recording."""
        return self.last_ns

    @property
    def finished(self) -> bool:
        """True once the whole recording (or everything before its damage) was delivered."""
        return self._finished.is_set()

    async def wait_finished(self, timeout: float | None = None) -> str:
        """Wait until the playback ends; return :attr:`end_reason`."""
        async with asyncio.timeout(timeout):
            await self._finished.wait()
        return self.end_reason or ""

    @property
    def speed(self) -> float | None:
        """Times real time (None: as fast as possible); settable while playing."""
        return self.server.speed

    @speed.setter
    def speed(self, value: float | None) -> None:
        self.server.speed = value

    def pause(self) -> None:
        """Hold the playback (the connection stays up)."""
        self.server.pause()

    def resume(self) -> None:
        """Carry on after :meth:`pause`."""
        self.server.resume()

    def seek(self, seconds: float) -> None:
        """Play from ``seconds`` from the start of the recording; backwards replays frames again."""
        self._finished.clear()
        self.end_reason = None
        self.server.seek(seconds)


def _first_session_config(path: Path, header: dict[str, Any]) -> Any:
    """The header's replay options, or those a ``replay-config`` marker gives before the first
    frame: a replay that starts later (``start=``) still parses with the session's options."""
    config = header.get("replay")
    for count, entry in enumerate(RecordingReader(path)):
        if entry.kind != "marker" or count >= _LOOK_AHEAD:
            break
        if entry.payload == REPLAY_CONFIG_MARKER:
            try:
                config = orjson.loads(entry.detail)
            except orjson.JSONDecodeError:
                break
    return config
