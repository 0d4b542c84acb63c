"""When to keep trying: an outage is retried for ever unless the server refuses.

A notebook left open overnight on Wi-Fi must be connected again in the morning, so
transient causes (network down, server restarts, 1001, 1011, a server that drops every
connection at once) never end a connection by themselves. What ends one:

- a refusal the feed's document names (a close code or HTTP status the dialect maps to
  ``STOP``: bad credentials, a stream outside the token's scope...);
- for a feed whose document says a refused credential is closed at once without a code
  (:attr:`~streamwidgets.connection.dialect.Dialect.silent_refusal_after`), that many attempts
  in a row closed right after opening, before any welcome;
- the user's own bounds, both off by default: ``max_attempts`` (attempts in one outage)
  and ``give_up_after`` (seconds of outage).

:class:`Outage` is pure bookkeeping (no I/O, no clock of its own): the connection tells it
what each attempt came to and uses what it answers.

Example:
    >>> from streamwidgets.connection.dialect import CloseAction, CloseDecision
    >>> outage = Outage(silent_refusal_after=2)
    >>> lost = CloseDecision(CloseAction.RECONNECT, "connection lost")
    >>> outage.failed(lost, started=0.0, now=0.1, opened=True, welcomed=False, code=None).action
    <CloseAction.RECONNECT: 'reconnect'>
    >>> outage.failed(lost, started=1.0, now=1.1, opened=True, welcomed=False, code=1000).action
    <CloseAction.STOP: 'stop'>
"""

from __future__ import annotations

from streamwidgets.connection.dialect import CloseAction, CloseDecision

__all__ = ["SILENT_CLOSE_CODES", "Outage", "duration_words"]

#: Closes that say nothing about why: a normal close, no status, or no close frame at all.
SILENT_CLOSE_CODES = frozenset({None, 1000, 1005, 1006})


class Outage:
    """The current run of failed attempts, and whether to go on.

    Args:
        max_attempts: attempts in one outage before giving up (None: no bound).
        give_up_after: seconds of outage before giving up (None: no bound).
        silent_refusal_after: attempts in a row closed silently right after opening,
            before any welcome, that count as a refusal (None: never).
    """

    def __init__(
        self,
        *,
        max_attempts: int | None = None,
        give_up_after: float | None = None,
        silent_refusal_after: int | None = None,
    ) -> None:
        self.max_attempts = max_attempts
        self.give_up_after = give_up_after
        self.silent_refusal_after = silent_refusal_after
        self.reset()

    def reset(self) -> None:
        """The connection was healthy: the next failure starts a new outage."""
        #: Failed attempts in this outage.
        self.attempts = 0
        #: When this outage began (the caller's clock, seconds), None while healthy.
        self.since: float | None = None
        self._silent_closes = 0

    def failed(
        self,
        decision: CloseDecision,
        *,
        started: float,
        now: float,
        opened: bool,
        welcomed: bool,
        code: int | None,
    ) -> CloseDecision:
        """Count one attempt that ended, and return what to do: ``decision`` or a STOP.

        Args:
            decision: what the dialect made of the end (close code, HTTP status...).
            started: when the attempt began; the outage starts there if it is the first.
            now: when it ended.
            opened: the socket opened (the upgrade succeeded).
            welcomed: the handshake completed (the connection counted as connected).
            code: the close code received, None if none.
        """
        if self.since is None:
            self.since = now if welcomed else started
        self.attempts += 1
        if decision.action is CloseAction.STOP:
            return decision
        if opened and not welcomed and code in SILENT_CLOSE_CODES:
            self._silent_closes += 1
        else:
            self._silent_closes = 0
        limit = self.silent_refusal_after
        if limit is not None and self._silent_closes >= limit:
            return CloseDecision(
                CloseAction.STOP,
                f"the server closed {self._silent_closes} connections in a row right after "
                "opening them, before any answer: the credentials are most likely refused",
                auth_failure=True,
            )
        if self.max_attempts is not None and self.attempts >= self.max_attempts:
            return CloseDecision(
                CloseAction.STOP,
                f"gave up after {self.attempts} attempts; last: {decision.reason}",
            )
        if self.give_up_after is not None and now - self.since >= self.give_up_after:
            return CloseDecision(
                CloseAction.STOP,
                f"gave up after {duration_words(now - self.since)} down (give_up_after); "
                f"last: {decision.reason}",
            )
        return decision

    def describe(self, reason: str, *, now: float, delay: float) -> str:
        """The reconnecting state's words: why, for how long, which attempt, when next.

        Example:
            >>> outage = Outage()
            >>> outage.since, outage.attempts = 0.0, 12
            >>> outage.describe("connection lost", now=245.0, delay=38.2)
            'connection lost; down for 4 min 5 s, attempt 12, next in 38 s'
        """
        down = 0.0 if self.since is None else max(0.0, now - self.since)
        wait = f"{delay:.0f} s" if delay >= 10 else f"{delay:.1f} s"
        return f"{reason}; down for {duration_words(down)}, attempt {self.attempts}, next in {wait}"


def duration_words(seconds: float) -> str:
    """A duration for people: ``"12 s"``, ``"4 min 5 s"``, ``"2 h 7 min"``.

    Example:
        >>> duration_words(3.4), duration_words(245), duration_words(7_620)
        ('3 s', '4 min 5 s', '2 h 7 min')
    """
    whole = round(seconds)
    if whole < 60:
        return f"{whole} s"
    if whole < 3600:
        minutes, rest = divmod(whole, 60)
        return f"{minutes} min {rest} s" if rest else f"{minutes} min"
    hours, rest = divmod(whole, 3600)
    return f"{hours} h {rest // 60} min"
