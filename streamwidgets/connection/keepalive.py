"""When to ping and when to declare a silent connection dead: a schedule, without I/O.

A feed's :class:`~streamwidgets.connection.dialect.Keepalive` rules become two clocks:

- the watchdog checks every tenth of ``idle_timeout`` (at least every 10 ms) whether the
  feed said anything (a frame, or a protocol ping for a feed whose server pings to show
  it lives) within ``idle_timeout``; if not, the connection is presumed dead;
- the pinger sends ``ping_frame`` every ``ping_interval`` seconds, or, for a feed that
  pings only when idle (Pusher), once per silence of ``ping_interval`` seconds.

The caller owns the clock: it asks :meth:`KeepaliveSchedule.next_due_ns` when to come
back, and calls :meth:`KeepaliveSchedule.due` then.

Example:
    >>> from streamwidgets.connection.dialect import Keepalive
    >>> rules = Keepalive(idle_timeout=10.0, ping_interval=3.0, ping_frame="ping")
    >>> schedule = KeepaliveSchedule(rules, now_ns=0)
    >>> schedule.next_due_ns()
    1000000000
    >>> schedule.due(3_000_000_000, last_frame_ns=0)
    (None, 'ping')
    >>> schedule.due(11_000_000_000, last_frame_ns=0)[0]
    'no data or heartbeat for 11.0 s; connection presumed dead'
"""

from __future__ import annotations

from streamwidgets.connection.dialect import Keepalive

__all__ = ["KeepaliveSchedule"]

_NS = 1_000_000_000


class KeepaliveSchedule:
    """The watchdog and pinger clocks of one socket (times in ns since the epoch).

    Args:
        rules: the feed's keepalive rules for this socket.
        now_ns: when the socket opened (or the rules changed).
        pings_prove_life: the server's protocol pings count as life, like frames.
    """

    __slots__ = (
        "_idle_ns",
        "_interval_ns",
        "_period_ns",
        "_pinged_at",
        "idle_timeout",
        "next_check_ns",
        "next_ping_ns",
        "ping_frame",
        "pings_prove_life",
        "when_idle",
    )

    def __init__(self, rules: Keepalive, now_ns: int, *, pings_prove_life: bool = False) -> None:
        self.idle_timeout = rules.idle_timeout or None
        self.pings_prove_life = pings_prove_life
        self._idle_ns = int((self.idle_timeout or 0) * _NS)
        self._period_ns = int(max((self.idle_timeout or 0) / 10, 0.01) * _NS)
        #: When the watchdog looks next (None: no watchdog, or it has fired).
        self.next_check_ns: int | None = (
            now_ns + self._period_ns if self.idle_timeout is not None else None
        )
        pinging = bool(rules.ping_interval and rules.ping_frame)
        #: The frame the pinger sends (None: the feed has no application-level ping).
        self.ping_frame = rules.ping_frame if pinging else None
        self.when_idle = rules.ping_when_idle
        self._interval_ns = int((rules.ping_interval or 0) * _NS)
        #: When the pinger looks next (None: no pinger).
        self.next_ping_ns: int | None = now_ns + self._interval_ns if pinging else None
        self._pinged_at = 0

    def next_due_ns(self) -> int | None:
        """When :meth:`due` has something to check next (None: never)."""
        times = [t for t in (self.next_check_ns, self.next_ping_ns) if t is not None]
        return min(times) if times else None

    def due(
        self, now_ns: int, *, last_frame_ns: int, last_ping_ns: int = 0, blocked: bool = False
    ) -> tuple[str | None, str | None]:
        """Run what is due at ``now_ns``; return (why the connection is dead, or None;
        the ping frame to send now, or None).

        ``blocked``: a consumer holds the reader up, so silence proves nothing.
        """
        dead = None
        if self.next_check_ns is not None and now_ns >= self.next_check_ns:
            self.next_check_ns = now_ns + self._period_ns
            last_seen = last_frame_ns
            what = "data or heartbeat"
            if self.pings_prove_life:
                last_seen = max(last_seen, last_ping_ns)
                what = "data or ping"
            silent = (now_ns - last_seen) / _NS
            if silent >= self._idle_ns / _NS and not blocked:
                self.next_check_ns = None
                dead = f"no {what} for {silent:.1f} s; connection presumed dead"
        ping = None
        if self.next_ping_ns is not None and now_ns >= self.next_ping_ns:
            if not self.when_idle:
                ping = self.ping_frame
                self.next_ping_ns = now_ns + self._interval_ns
            else:
                # One ping per silence; the watchdog ends the connection if the silence
                # lasts on (Pusher: activity_timeout, then the pong timeout).
                silent_ns = now_ns - last_frame_ns
                if silent_ns >= self._interval_ns and self._pinged_at != last_frame_ns:
                    self._pinged_at = last_frame_ns
                    ping = self.ping_frame
                    silent_ns = 0
                wait = max(self._interval_ns - silent_ns, self._interval_ns // 20, _NS // 100)
                self.next_ping_ns = now_ns + wait
        return dead, ping
