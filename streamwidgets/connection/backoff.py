"""Reconnection delays: exponential, jittered, reset after a healthy connection."""

from __future__ import annotations

import math
import random

from streamwidgets.exceptions import ConfigurationError

__all__ = ["Backoff"]


class Backoff:
    """Exponential backoff with "equal jitter" (each delay in [d/2, d]).

    Jitter keeps many clients that lost the same server from reconnecting in
    lockstep. ``slow`` delays (rate limited) start at ``slow_initial``. The cap (60 s by
    default) bounds how long a notebook waits after a long outage ends: the connection
    retries transient failures for ever, so the cap is the reconnect's worst delay.

    Args:
        initial: the first delay, seconds.
        maximum: the cap of any delay, seconds.
        factor: growth per consecutive failure.
        slow_initial: the least delay after a "back off longer" close, seconds.
        early_attempts: how many first delays stay under ``early_maximum`` (a feed's
            document may ask for quick first retries, e.g. Hyperoru's 1-5 s).
        early_maximum: the cap of those first delays, seconds.

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
        maximum: float = 60.0,
        factor: float = 2.0,
        slow_initial: float = 30.0,
        early_attempts: int = 0,
        early_maximum: float | None = None,
        rng: random.Random | None = None,
    ) -> None:
        numbers = (initial, maximum, factor, slow_initial)
        if (
            not all(isinstance(v, (int, float)) and math.isfinite(v) for v in numbers)
            or not (0 < initial <= maximum)
            or factor < 1
            or slow_initial < 0
        ):
            raise ConfigurationError(
                "backoff needs finite numbers with 0 < initial <= maximum, factor >= 1 and "
                f"slow_initial >= 0; got initial={initial}, maximum={maximum}, "
                f"factor={factor}, slow_initial={slow_initial}"
            )
        if early_attempts and (early_maximum is None or not 0 < early_maximum <= maximum):
            raise ConfigurationError(
                f"early_maximum must be in (0, maximum] when early_attempts is set, "
                f"got {early_maximum!r}"
            )
        self.initial = float(initial)
        self.maximum = float(maximum)
        self.factor = float(factor)
        self.slow_initial = float(slow_initial)
        self.early_attempts = int(early_attempts)
        self.early_maximum = early_maximum
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
        cap = self.maximum
        if self._failures < self.early_attempts and self.early_maximum is not None:
            cap = self.early_maximum
        # The exponent stops growing once past the cap, so a very long outage cannot
        # overflow a float.
        steps = min(self._failures, 64)
        ceiling = min(cap, self.initial * self.factor**steps)
        self._failures += 1
        delay = ceiling / 2 + self._rng.random() * ceiling / 2
        if slow:
            floor = self.slow_initial if at_least is None else at_least
            delay = max(delay, floor * (1 + self._rng.random() / 2))
        return delay

    def reset(self) -> None:
        """Forget past failures: the connection was healthy."""
        self._failures = 0
