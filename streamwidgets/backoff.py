"""Reconnection delays: exponential, jittered, reset after a healthy connection."""

from __future__ import annotations

import random

from .exceptions import ConfigurationError

__all__ = ["Backoff"]


class Backoff:
    """Exponential backoff with "equal jitter" (each delay in [d/2, d]).

    Jitter keeps many clients that lost the same server from reconnecting in
    lockstep. ``slow`` delays (rate limited) start at ``slow_initial``.

    Args:
        initial: the first delay, seconds.
        maximum: the cap of any delay.
        factor: growth per consecutive failure.
        slow_initial: the least delay after a "back off longer" close.

    Example:
        >>> b = Backoff(initial=1, maximum=8, factor=2, rng=random.Random(0))
        >>> [round(b.next_delay(), 2) for _ in range(5)]
        [0.92, 1.76, 2.84, 5.04, 6.05]
        >>> b.reset(); round(b.next_delay(), 2) <= 1
        True
    """

    def __init__(
        self,
        *,
        initial: float = 0.5,
        maximum: float = 30.0,
        factor: float = 2.0,
        slow_initial: float = 30.0,
        rng: random.Random | None = None,
    ) -> None:
        if not (0 < initial <= maximum) or factor < 1 or slow_initial < 0:
            raise ConfigurationError(
                "backoff needs 0 < initial <= maximum, factor >= 1 and slow_initial >= 0; "
                f"got initial={initial}, maximum={maximum}, factor={factor}, "
                f"slow_initial={slow_initial}"
            )
        self.initial = float(initial)
        self.maximum = float(maximum)
        self.factor = float(factor)
        self.slow_initial = float(slow_initial)
        self._rng = rng or random.Random()
        self._failures = 0

    @property
    def failures(self) -> int:
        """Consecutive failures since the last reset."""
        return self._failures

    def next_delay(self, *, slow: bool = False, at_least: float | None = None) -> float:
        """Return the delay before the next attempt, and count a failure.

        Args:
            slow: the server asked to back off longer: wait at least ``at_least``
                (``slow_initial`` if None), plus up to half as much again.
            at_least: the least wait of a slow delay, when the feed names one.
        """
        ceiling = min(self.maximum, self.initial * self.factor**self._failures)
        self._failures += 1
        delay = ceiling / 2 + self._rng.random() * ceiling / 2
        if slow:
            floor = self.slow_initial if at_least is None else at_least
            delay = max(delay, floor * (1 + self._rng.random() / 2))
        return delay

    def reset(self) -> None:
        """Forget past failures: the connection was healthy."""
        self._failures = 0
