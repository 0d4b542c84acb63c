"""Fault schedules for simulators: when a connection drops, closes, falls silent or misbehaves.

A :class:`FaultPlan` belongs to one simulator. It holds the construction options, which
apply to every connection and count events since the connection started, and the
one-shot faults armed while no connection was open, which go to the next connection.
Each connection gets its own :class:`ConnectionFaults` from :meth:`FaultPlan.for_connection`;
the server asks it at every :attr:`~ConnectionFaults.checkpoint` what is due. Neither does
I/O. :class:`FaultInjectingServer` adds the runtime fault calls (``drop_after``,
``go_silent``, ``close_with``...) to a :class:`~streamwidgets.simulators.server.LoopbackServer`.

Example:
    >>> plan = FaultPlan(drop_after=3, malformed_every=2, malformed_kinds=("binary",))
    >>> faults = plan.for_connection()
    >>> faults.checkpoint
    2
    >>> faults.advance(2), faults.malformed_pending
    (None, ['binary'])
    >>> faults.advance(3)
    'drop'
"""

from __future__ import annotations

import asyncio
from collections.abc import Sequence
from typing import Generic, Literal, Protocol, TypeVar

from websockets.asyncio.server import ServerConnection

from streamwidgets.simulators.server import LoopbackServer

__all__ = ["NEVER", "ConnectionFaults", "FaultInjectingServer", "FaultPlan", "PongSwitch"]

#: A checkpoint no connection reaches.
NEVER = 1 << 62

Ending = Literal["drop", "close"]


class PongSwitch:
    """A fault hook for simulators that answer the protocol's own JSON ``ping`` with ``pong``.

    The server answers while :attr:`ponging` is true; :meth:`stop_pongs` makes it ignore
    pings (so a client's pong timeout fires) until :meth:`resume_pongs`. Put it before the
    server class in the bases.

    Example:
        >>> switch = PongSwitch()
        >>> switch.stop_pongs(); switch.ponging
        False
        >>> switch.resume_pongs(); switch.ponging
        True
    """

    _ponging = True

    def stop_pongs(self) -> None:
        """Ignore pings (no pong) until :meth:`resume_pongs`."""
        self._ponging = False

    def resume_pongs(self) -> None:
        """Answer pings again."""
        self._ponging = True

    @property
    def ponging(self) -> bool:
        """True while pings are answered."""
        return self._ponging


class FaultPlan:
    """The faults of one simulator: options for every connection, and armed one-shots.

    Args:
        drop_after: abort every connection after that many events.
        silent_after: make every connection silent after that many events.
        close_after: close every connection with ``close_code`` after that many events.
        close_code: code for ``close_after``.
        close_reason: reason for ``close_after``.
        malformed_every: one malformed frame every that many events, cycling ``malformed_kinds``.
        malformed_kinds: the kinds ``malformed_every`` cycles through (the server's names).
        huge_frame_after: after that many events, one event of ``huge_size`` bytes.
        huge_size: size in bytes of that frame.

    Example:
        >>> plan = FaultPlan()
        >>> plan.arm_drop(5)
        >>> plan.for_connection().drop_at, plan.for_connection().drop_at
        (5, None)
    """

    def __init__(
        self,
        *,
        drop_after: int | None = None,
        silent_after: int | None = None,
        close_after: int | None = None,
        close_code: int = 1001,
        close_reason: str = "Server going away (maintenance)",
        malformed_every: int | None = None,
        malformed_kinds: Sequence[str] = ("malformed",),
        huge_frame_after: int | None = None,
        huge_size: int = 2 * 1024 * 1024,
    ) -> None:
        self.drop_after = drop_after
        self.silent_after = silent_after
        self.close_after = close_after
        self.close_after_code = (close_code, close_reason)
        self.malformed_every = malformed_every
        self.malformed_kinds = tuple(malformed_kinds)
        self.huge_frame_after = huge_frame_after
        self.huge_size = huge_size
        # The cycle is simulator-wide, so successive connections continue it.
        self._malformed_cycle = 0
        # One-shot faults waiting for the next connection because none was open.
        self._armed_drop: int | None = None
        self._armed_malformed: list[str] = []
        self._armed_huge: list[int] = []
        self._armed_close: tuple[int, str] | None = None

    def for_connection(self) -> ConnectionFaults:
        """The faults of a new connection; takes over the one-shots armed for it."""
        faults = ConnectionFaults(self)
        drop, self._armed_drop = self._armed_drop, None
        faults.drop_at = drop if drop is not None else self.drop_after
        faults.silent_at = self.silent_after
        faults.close_at = self.close_after
        faults.huge_at = self.huge_frame_after
        faults.next_malformed = self.malformed_every
        faults.malformed_pending, self._armed_malformed = self._armed_malformed, []
        faults.huge_pending, self._armed_huge = self._armed_huge, []
        faults.recompute(0)
        return faults

    def arm_drop(self, n: int) -> None:
        """Drop the next connection after ``n`` events."""
        self._armed_drop = n

    def arm_malformed(self, kinds: Sequence[str]) -> None:
        """Send these malformed frames on the next connection."""
        self._armed_malformed.extend(kinds)

    def arm_huge(self, size: int) -> None:
        """Send one event of ``size`` bytes on the next connection."""
        self._armed_huge.append(size)

    def arm_close(self, code: int, reason: str) -> None:
        """Close the next connection right after its greeting."""
        self._armed_close = (code, reason)

    def take_armed_close(self) -> tuple[int, str] | None:
        """The close armed for this new connection, if any (it is then disarmed)."""
        close, self._armed_close = self._armed_close, None
        return close

    def next_malformed_kind(self) -> str:
        """The next kind in the ``malformed_every`` cycle."""
        kind = self.malformed_kinds[self._malformed_cycle % len(self.malformed_kinds)]
        self._malformed_cycle += 1
        return kind


class ConnectionFaults:
    """The fault points of one connection, in events since it started.

    Example:
        >>> faults = FaultPlan(silent_after=4).for_connection()
        >>> faults.advance(4), faults.silent
        (None, True)
    """

    def __init__(self, plan: FaultPlan) -> None:
        self.plan = plan
        self.silent = False
        self.drop_at: int | None = None
        self.silent_at: int | None = None
        self.close_at: int | None = None
        self.huge_at: int | None = None
        self.next_malformed: int | None = None
        self.malformed_pending: list[str] = []
        self.huge_pending: list[int] = []
        #: The event count at which :meth:`advance` must be called next.
        self.checkpoint = NEVER

    def recompute(self, events_sent: int) -> None:
        """Move :attr:`checkpoint` to the next fault point (now, if frames are pending)."""
        points = [self.drop_at, self.silent_at, self.close_at, self.huge_at, self.next_malformed]
        due = [p for p in points if p is not None]
        if self.malformed_pending or self.huge_pending:
            due.append(events_sent)
        self.checkpoint = min(due, default=NEVER)

    def drop_in(self, n: int, events_sent: int) -> None:
        """Drop after ``n`` more events."""
        self.drop_at = events_sent + n
        self.recompute(events_sent)

    def add_malformed(self, kinds: Sequence[str], events_sent: int) -> None:
        """Queue malformed frames, sent before the next event."""
        self.malformed_pending.extend(kinds)
        self.recompute(events_sent)

    def add_huge(self, size: int, events_sent: int) -> None:
        """Queue one event of ``size`` bytes, sent before the next ordinary one."""
        self.huge_pending.append(size)
        self.recompute(events_sent)

    def advance(self, events_sent: int) -> Ending | None:
        """Take the faults due after ``events_sent`` events.

        Returns:
            ``"drop"`` or ``"close"`` when the connection must end now (drop first), else
            None; silence and the frames to send (:attr:`malformed_pending`,
            :attr:`huge_pending`) are then updated for the server to act on.
        """
        k = events_sent
        if self.drop_at is not None and k >= self.drop_at:
            return "drop"
        if self.close_at is not None and k >= self.close_at:
            return "close"
        if self.silent_at is not None and k >= self.silent_at:
            self.silent_at = None
            self.silent = True
        if self.huge_at is not None and k >= self.huge_at:
            self.huge_at = None
            self.huge_pending.append(self.plan.huge_size)
        every = self.plan.malformed_every
        if self.next_malformed is not None and every and k >= self.next_malformed:
            self.next_malformed = k + every
            self.malformed_pending.append(self.plan.next_malformed_kind())
        return None


class FaultyConnection(Protocol):
    """What :class:`FaultInjectingServer` needs of a server's per-connection state."""

    number: int
    ws: ServerConnection
    active: list[str]
    events_sent: int
    closing: bool
    faults: ConnectionFaults


C = TypeVar("C", bound=FaultyConnection)


class FaultInjectingServer(LoopbackServer, Generic[C]):
    """A server whose open connections (:attr:`_sessions`) take runtime faults.

    Runtime calls are one-shot: they apply to every connection open now or, if none is
    open, to the next one. Silence is server-wide until :meth:`resume`. Subclasses
    implement :meth:`_close` (a close frame with this code), :meth:`_send_malformed_frame`
    and :meth:`_send_huge_event`, keep ``_sessions``, and call :meth:`_apply_faults` from
    their emitter whenever ``events_sent`` reaches the connection's checkpoint.
    """

    def __init__(self, plan: FaultPlan, *, host: str = "127.0.0.1", port: int = 0) -> None:
        super().__init__(host=host, port=port)
        self._faults = plan
        self._sessions: dict[int, C] = {}
        #: (connection number, close code, reason) of every close; drops show as 1006.
        self.closes: list[tuple[int, int, str]] = []
        self._silent = False
        self._resumed = asyncio.Event()

    async def _close(self, s: C, code: int, reason: str) -> None:
        raise NotImplementedError

    async def _send_malformed_frame(self, s: C, kind: str) -> None:
        raise NotImplementedError

    async def _send_huge_event(self, s: C, size: int) -> None:
        """Send one real event padded to ``size`` bytes (it counts in ``events_sent``)."""
        raise NotImplementedError

    def _muted(self, s: C) -> bool:
        return self._silent or s.faults.silent

    def drop_after(self, n: int) -> None:
        """Abort open connections, with no close frame, after ``n`` more events each.

        One-shot; with no connection open it applies to the next one.
        """
        self._dispatch(self._drop_after, n)

    def _drop_after(self, n: int) -> None:
        if not self._sessions:
            self._faults.arm_drop(n)
        for s in self._sessions.values():
            s.faults.drop_in(n, s.events_sent)

    def go_silent(self) -> None:
        """Stop sending anything on every connection, open or new, until :meth:`resume`."""
        self._dispatch(self._set_silent)

    def _set_silent(self) -> None:
        self._silent = True

    def resume(self) -> None:
        """Undo :meth:`go_silent` (and any ``silent_after``); emission restarts at once."""
        self._dispatch(self._resume)

    def _resume(self) -> None:
        self._silent = False
        for s in self._sessions.values():
            s.faults.silent = False
        resumed, self._resumed = self._resumed, asyncio.Event()
        resumed.set()

    def _send_malformed(self, frames: list[str]) -> None:
        if not self._sessions:
            self._faults.arm_malformed(frames)
        for s in self._sessions.values():
            s.faults.add_malformed(frames, s.events_sent)

    def close_with(self, code: int, reason: str = "") -> None:
        """Close open connections with this code and reason (else the next one, on connect)."""
        self._dispatch(self._close_with, code, reason)

    def _close_with(self, code: int, reason: str) -> None:
        if not self._sessions:
            self._faults.arm_close(code, reason)
        for s in list(self._sessions.values()):
            self._keep(asyncio.ensure_future(self._close(s, code, reason)))

    def send_huge_frame(self, size_bytes: int) -> None:
        """Send one event (a real one, with ``seq``) padded to ``size_bytes`` bytes of JSON.

        One-shot; with no connection open it goes to the next one.
        """
        self._dispatch(self._send_huge, size_bytes)

    def _send_huge(self, size: int) -> None:
        if not self._sessions:
            self._faults.arm_huge(size)
        for s in self._sessions.values():
            s.faults.add_huge(size, s.events_sent)

    async def _apply_faults(self, s: C) -> bool:
        """Run the faults due at this point; True when the connection is gone."""
        faults = s.faults
        ending = faults.advance(s.events_sent)
        if ending == "drop":
            await self._drop(s)
            return True
        if ending == "close":
            await self._close(s, *self._faults.close_after_code)
            return True
        while faults.malformed_pending and not self._muted(s):
            await self._send_malformed_frame(s, faults.malformed_pending.pop(0))
        while faults.huge_pending and s.active and not self._muted(s):
            await self._send_huge_event(s, faults.huge_pending.pop(0))
        faults.recompute(s.events_sent)
        if faults.checkpoint <= s.events_sent and self._muted(s):
            # Held back by silence; look again after resume() rather than spinning.
            await self._resumed.wait()
        return False

    async def _drop(self, s: C) -> None:
        transport = s.ws.transport
        # Let what was already sent reach the socket, so the client gets exactly n events.
        for _ in range(200):
            if transport.get_write_buffer_size() == 0:
                break
            await asyncio.sleep(0.005)
        s.closing = True
        self.closes.append((s.number, 1006, "dropped (TCP abort, no close frame)"))
        self._logger.debug("connection %d: dropping after %d events", s.number, s.events_sent)
        transport.abort()
