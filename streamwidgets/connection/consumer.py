"""What an ``async for`` consumer reads: a bounded queue with a stated overflow policy.

The buffer (and so ``df`` and the widget) is filled before any consumer queue, so a slow
consumer never costs the buffer an event. What happens when a consumer falls more than
``maxsize`` events behind is its policy:

- ``"drop_oldest"`` (the default): the oldest waiting events are dropped, counted, and the
  consumer reads a :class:`~streamwidgets.events.Gap` where they were. The socket is read
  at full speed, so the connection's keepalive never suffers.
- ``"block"``: nothing is dropped; reading from the socket waits for the consumer. The
  server then sees a slow reader (TCP back-pressure) and may close the connection by its
  own rules, which reconnects with a marked gap; the client itself never closes for it
  (its keepalive checks are suspended while it waits).

Example:
    >>> import asyncio
    >>> from streamwidgets.events import Event
    >>> async def demo():
    ...     queue = ConsumerQueue(2)
    ...     for n in range(4):
    ...         queue.put(Event("s", "t", n, received_ns=n))
    ...     return [await queue.get() for _ in range(3)]
    >>> [getattr(item, "data", None) for item in asyncio.run(demo())][1:]
    [2, 3]
"""

from __future__ import annotations

import asyncio
from collections import deque
from typing import Literal

from streamwidgets._util import checks
from streamwidgets.events import Event, Gap
from streamwidgets.exceptions import ConfigurationError

__all__ = ["OVERFLOW_POLICIES", "ConsumerQueue", "Overflow"]

Overflow = Literal["drop_oldest", "block"]
OVERFLOW_POLICIES: tuple[str, ...] = ("drop_oldest", "block")


class ConsumerQueue:
    """Events waiting for one consumer, at most ``maxsize``; ``None`` from :meth:`get` ends it.

    Args:
        maxsize: events that may wait (>= 1).
        on_overflow: ``"drop_oldest"`` or ``"block"`` (see the module docstring).

    Raises:
        ConfigurationError: a bad size or policy.
    """

    def __init__(self, maxsize: int, on_overflow: Overflow = "drop_oldest") -> None:
        maxsize = int(checks.count("queue_size", maxsize, maximum=10_000_000) or 1)
        if on_overflow not in OVERFLOW_POLICIES:
            raise ConfigurationError(
                f"on_overflow must be one of {', '.join(OVERFLOW_POLICIES)}, got {on_overflow!r}"
            )
        self.maxsize = maxsize
        self.on_overflow: Overflow = on_overflow
        #: Events dropped for this consumer since it was made.
        self.dropped = 0
        self._items: deque[Event] = deque()
        self._gap: list[int] | None = None  # [count, first ns, last ns] not yet read
        self._ended = False
        self._readable = asyncio.Event()
        self._writable = asyncio.Event()
        self._writable.set()

    @property
    def blocks(self) -> bool:
        """True when a full queue makes the socket reader wait."""
        return self.on_overflow == "block"

    def full(self) -> bool:
        """True when ``maxsize`` events wait."""
        return len(self._items) >= self.maxsize

    def put(self, event: Event) -> None:
        """Queue an event now; when full, drop the oldest (a ``"block"`` queue never calls
        this while full: see :meth:`wait_writable`)."""
        if self._ended:
            return
        items = self._items
        while len(items) >= self.maxsize:
            self._drop(items.popleft().received_ns)
        items.append(event)
        if len(items) >= self.maxsize:
            self._writable.clear()
        self._readable.set()

    async def wait_writable(self) -> None:
        """Wait until there is room (a ``"block"`` queue's back-pressure)."""
        while self.full() and not self._ended:
            await self._writable.wait()

    def end(self) -> None:
        """No more events: :meth:`get` returns None once what waits was read."""
        self._ended = True
        self._readable.set()
        self._writable.set()

    async def get(self) -> Event | Gap | None:
        """The next event, a :class:`Gap` where events were dropped, or None at the end."""
        while True:
            if self._gap is not None:
                count, first, last = self._gap
                self._gap = None
                return Gap(count, first, last)
            if self._items:
                item = self._items.popleft()
                self._writable.set()
                return item
            if self._ended:
                return None
            self._readable.clear()
            await self._readable.wait()

    def _drop(self, received_ns: int) -> None:
        self.dropped += 1
        if self._gap is None:
            self._gap = [1, received_ns, received_ns]
        else:
            self._gap[0] += 1
            self._gap[2] = received_ns

    def __len__(self) -> int:
        return len(self._items)
