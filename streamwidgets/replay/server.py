"""A WebSocket server on loopback that plays a recording back, paced like the original.

Every connection gets its own playback of the received frames, from the start (or from
the position set by :meth:`ReplayServer.seek`), at :attr:`ReplayServer.speed` times real
time, or as fast as the client reads when the speed is None. :meth:`~ReplayServer.pause`,
:meth:`~ReplayServer.resume`, :meth:`~ReplayServer.seek` and setting the speed apply to
every playback now running and to the next ones.

What a client receives:

- By default (any WebSocket client): the recorded frames as they were, text or binary.
  At the end the server closes with 1000 ``end of recording``; at damage with 1011 and
  the reason (the full message goes to the log).
- With ``?timed=1`` (what :func:`streamwidgets.feeds.replay` uses): each entry as a JSON
  array ``[index, t_ns, kind, payload, detail]`` (``kind`` ``"in"`` or ``"marker"``); a
  binary frame as bytes: 8-byte big-endian index, 8-byte t_ns, then the frame. At the
  end a ``replay-end`` marker whose detail is the damage message, if any, and the
  connection stays open. ``?after=N`` skips the entries up to index N, so a client that
  reconnects resumes where it was.

Read-ahead is bounded: the reader holds at most one 64 KiB chunk of the file, and
``send`` waits for the socket to drain, so a slow client slows the playback instead of
filling memory.

Example:
    >>> async def main(path):  # doctest: +SKIP
    ...     async with ReplayServer(path, speed=4.0) as server:
    ...         print(server.url)  # ws://127.0.0.1:PORT/replay
"""

from __future__ import annotations

import asyncio
import contextlib
import math
import os
import time
from typing import Any
from urllib.parse import parse_qs, urlsplit

import orjson
from websockets.asyncio.server import ServerConnection
from websockets.exceptions import ConnectionClosed

from streamwidgets.exceptions import ConfigurationError
from streamwidgets.recording.reader import RecordingReader
from streamwidgets.simulators.server import LoopbackServer

__all__ = ["MAX_SPEED", "MIN_SPEED", "ReplayServer", "check_speed"]

MIN_SPEED = 0.01
MAX_SPEED = 1000.0
_YIELD_EVERY = 64  # frames sent between two yields to the loop


def check_speed(speed: Any) -> float | None:
    """Return ``speed`` as a float (None: as fast as possible), or refuse it clearly.

    Example:
        >>> check_speed(4), check_speed(None)
        (4.0, None)
        >>> check_speed(-1)
        Traceback (most recent call last):
        ...
        streamwidgets.exceptions.ConfigurationError: speed must be a number from 0.01 to 1000 ...
    """
    if speed is None:
        return None
    if (
        isinstance(speed, bool)
        or not isinstance(speed, (int, float))
        or not math.isfinite(speed)
        or not MIN_SPEED <= speed <= MAX_SPEED
    ):
        raise ConfigurationError(
            f"speed must be a number from {MIN_SPEED:g} to {MAX_SPEED:g} (times real time), "
            f"or None for as fast as possible; got {speed!r}"
        )
    return float(speed)


def check_position(seconds: Any) -> float:
    """A seek target: seconds from the start of the recording, >= 0."""
    if isinstance(seconds, bool) or not isinstance(seconds, (int, float)):
        raise ConfigurationError(f"seek takes seconds from the start, got {seconds!r}")
    if not math.isfinite(seconds) or seconds < 0:
        raise ConfigurationError(
            f"seek takes seconds from the start of the recording (>= 0), got {seconds!r}"
        )
    return float(seconds)


class _Playback:
    """One connection's position in the recording and its clock (recording seconds)."""

    def __init__(self, speed: float | None, paused: bool, position: float) -> None:
        self.speed = speed
        self.paused = paused
        self.changed = asyncio.Event()
        self.generation = 0  # bumped by every seek
        self.target = position  # where the last seek (or the start) asked to play from
        self._anchor_wall = time.monotonic()
        self._anchor_pos = position

    def position(self) -> float:
        """Where the clock is now, in seconds from the recording's first entry."""
        if self.paused or self.speed is None:
            return self._anchor_pos
        return self._anchor_pos + (time.monotonic() - self._anchor_wall) * self.speed

    def _reanchor(self, position: float | None = None) -> None:
        self._anchor_pos = self.position() if position is None else position
        self._anchor_wall = time.monotonic()
        self.changed.set()
        self.changed = asyncio.Event()

    def set_speed(self, speed: float | None) -> None:
        self._reanchor()
        self.speed = speed

    def pause(self) -> None:
        self._reanchor()
        self.paused = True

    def resume(self) -> None:
        self._reanchor()
        self.paused = False

    def seek(self, position: float) -> None:
        self.generation += 1
        self.target = position
        self._reanchor(position)

    def at(self, position: float) -> None:
        """Full speed: the clock follows the frames sent."""
        self._anchor_pos = position


class ReplayServer(LoopbackServer):
    """Serve a recording over WebSocket on ``ws://HOST:PORT/replay``.

    Args:
        recording: a recording file (checked now: missing or unreadable files raise).
        speed: times real time (0.01-1000), or None for as fast as the client reads.
        paused: start paused (new connections wait for :meth:`resume`).
        host: interface to bind.
        port: TCP port; 0 picks a free one.
    """

    label = "replay server"
    path = "/replay"

    def __init__(
        self,
        recording: str | os.PathLike[str],
        *,
        speed: float | None = 1.0,
        paused: bool = False,
        host: str = "127.0.0.1",
        port: int = 0,
    ) -> None:
        self._speed = check_speed(speed)
        self.reader = RecordingReader(recording)
        super().__init__(host=host, port=port)
        self._paused = bool(paused)
        self._start = 0.0
        self._playbacks: set[_Playback] = set()
        #: Damage met by the last playback that reached it, else None.
        self.damage: str | None = None
        #: Entries sent by the playback that ended last.
        self.sent = 0

    @property
    def running(self) -> bool:
        """True while the server accepts connections."""
        return self._server is not None

    # Controls --------------------------------------------------------------------------

    @property
    def speed(self) -> float | None:
        """Times real time; None: as fast as the client reads."""
        return self._speed

    @speed.setter
    def speed(self, value: float | None) -> None:
        self._speed = check_speed(value)
        self._each(lambda p: p.set_speed(self._speed))

    @property
    def paused(self) -> bool:
        """True while playback waits for :meth:`resume`."""
        return self._paused

    def pause(self) -> None:
        """Hold every playback where it is."""
        self._paused = True
        self._each(_Playback.pause)

    def resume(self) -> None:
        """Carry on from where :meth:`pause` held."""
        self._paused = False
        self._each(_Playback.resume)

    def seek(self, seconds: float) -> None:
        """Jump to ``seconds`` from the start of the recording; backwards replays again.

        Raises:
            ConfigurationError: a negative or non-numeric position.
        """
        position = check_position(seconds)
        self._start = position
        self._each(lambda p: p.seek(position))

    @property
    def position(self) -> float:
        """Seconds of recorded time from the recording's first entry that the playback clock
        has reached (the newest playback's; before any, where the next one starts)."""
        clocks = [p.position() for p in self._playbacks]
        return max(clocks) if clocks else self._start

    def _each(self, change: Any) -> None:
        for playback in list(self._playbacks):
            self._dispatch(change, playback)

    # Serving ---------------------------------------------------------------------------

    async def _handle(self, ws: ServerConnection) -> None:
        query = parse_qs(urlsplit(ws.request.path if ws.request else "").query)
        timed = query.get("timed", ["0"])[0] == "1"
        try:
            after = int(query.get("after", ["-1"])[0])
        except ValueError:
            after = -1
        playback = _Playback(self._speed, self._paused, self._start)
        self._playbacks.add(playback)
        try:
            await self._play(ws, playback, timed=timed, after=after)
        except ConnectionClosed:
            return
        finally:
            self._playbacks.discard(playback)

    async def _play(
        self, ws: ServerConnection, playback: _Playback, *, timed: bool, after: int
    ) -> None:
        reader = RecordingReader(self.reader.path)
        while True:
            while await self._play_from(ws, playback, reader, timed=timed, after=after):
                after = -1  # sought backwards: entries a client already had are sent again
            self.damage, self.sent = reader.damage, reader.entries
            if reader.damage:
                self._logger.warning("%s", reader.damage)
            if not timed:
                if reader.damage:
                    await ws.close(1011, "recording damaged; replayed up to the damage")
                else:
                    await ws.close(1000, "end of recording")
                return
            end = ["replay-end", reader.damage or ""]
            await ws.send(orjson.dumps([reader.entries, time.time_ns(), "marker", *end]).decode())
            # The in-process client stays connected: a seek plays again from its target.
            if not await self._wait_for_seek(ws, playback):
                return
            after = -1

    async def _wait_for_seek(self, ws: ServerConnection, playback: _Playback) -> bool:
        """Wait until the client leaves (False) or a seek asks for more (True)."""
        generation = playback.generation
        closed = asyncio.ensure_future(ws.wait_closed())
        try:
            while playback.generation == generation:
                changed = asyncio.ensure_future(playback.changed.wait())
                await asyncio.wait({closed, changed}, return_when=asyncio.FIRST_COMPLETED)
                changed.cancel()
                if closed.done():
                    return False
            return True
        finally:
            closed.cancel()

    async def _play_from(
        self,
        ws: ServerConnection,
        playback: _Playback,
        reader: RecordingReader,
        *,
        timed: bool,
        after: int,
    ) -> bool:
        """Send entries from the playback's target; True if a seek backwards asks to restart."""
        generation = playback.generation
        skip_before = playback.target
        first_ns: int | None = None
        since_yield = 0
        for index, entry in enumerate(reader):
            if entry.kind == "out":
                continue
            if first_ns is None:
                first_ns = entry.t_ns
            at = (entry.t_ns - first_ns) / 1e9
            if playback.generation != generation:
                generation, skip_before = playback.generation, playback.target
                if skip_before < at:
                    return True
            if index <= after or at < skip_before:
                continue  # already delivered, or before the seek target
            if entry.kind == "marker" and not timed:
                continue
            if await self._wait_until(playback, at, generation):
                generation, skip_before = playback.generation, playback.target
                if skip_before < at:
                    return True
                if at < skip_before:
                    continue
            if playback.speed is None:
                playback.at(at)
            since_yield += 1
            if since_yield >= _YIELD_EVERY:
                since_yield = 0
                await asyncio.sleep(0)  # a burst never suspends in send(): let others run
            await ws.send(_wire(index, entry, timed))
        return False

    async def _wait_until(self, playback: _Playback, at: float, generation: int) -> bool:
        """Sleep until the clock reaches ``at``; True if a seek happened meanwhile."""
        while True:
            if playback.generation != generation:
                return True
            if playback.speed is None and not playback.paused:
                return False
            if not playback.paused:
                delay = (at - playback.position()) / (playback.speed or 1.0)
                if delay <= 0:
                    return False
            else:
                delay = None
            changed = playback.changed
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(changed.wait(), delay)


def _wire(index: int, entry: Any, timed: bool) -> str | bytes:
    if not timed:
        return entry.payload  # type: ignore[no-any-return]
    if isinstance(entry.payload, bytes):
        return index.to_bytes(8, "big") + entry.t_ns.to_bytes(8, "big") + entry.payload
    return orjson.dumps([index, entry.t_ns, entry.kind, entry.payload, entry.detail]).decode()
