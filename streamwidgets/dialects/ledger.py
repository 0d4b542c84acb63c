"""Requests sent on one socket and not yet answered, for matching replies to them.

Many feeds answer without a request id (Hydra's ``subscribed``, Axol's
``subscription_result``, Hyperoru's bare ``pong``), and some answer only some requests.
A reply must resolve the request it answers and never another one, so a dialect notes
each request here under a unique key and, when a reply comes, asks for the oldest entry
of the right kind whose content fits. The key is what the dialect gives the connection as
the request's ``reply_key``; the connection waits on it.

The ledger is per-connection session state: a dialect clears it whenever a new socket
opens (nothing sent on the old socket will be answered on the new one).

Example:
    >>> ledger = RequestLedger()
    >>> first = ledger.add("subscribe", streams=("a", "b"))
    >>> second = ledger.add("subscribe", streams=("c",))
    >>> ledger.take("subscribe", lambda e: "c" in e.streams).key == second
    True
    >>> ledger.take("subscribe").key == first, ledger.take("subscribe")
    (True, None)
"""

from __future__ import annotations

import itertools
from collections import OrderedDict
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

__all__ = ["Entry", "RequestLedger"]


@dataclass(frozen=True, slots=True)
class Entry:
    """One request waiting for its answer.

    Attributes:
        key: unique within the session; the request's reply key.
        kind: what was asked (``"subscribe"``, ``"ping"``...).
        streams: the streams a subscribe asked for.
        facts: anything else a reply is matched on (an account id, an order's fields).
    """

    key: str
    kind: str
    streams: tuple[str, ...] = ()
    facts: dict[str, Any] = field(default_factory=dict)


class RequestLedger:
    """Unanswered requests of one socket, oldest first, at most ``limit`` of them.

    When full, the oldest entry is forgotten: a server that never answers cannot grow it.
    """

    def __init__(self, limit: int = 256) -> None:
        self.limit = limit
        self._entries: OrderedDict[str, Entry] = OrderedDict()
        self._numbers = itertools.count(1)

    def add(
        self,
        kind: str,
        *,
        key: str | None = None,
        streams: tuple[str, ...] = (),
        **facts: Any,
    ) -> str:
        """Note a request; return its key (``key`` if given, else ``"{kind}#{n}"``)."""
        key = key if key is not None else f"{kind}#{next(self._numbers)}"
        self._entries[key] = Entry(key, kind, tuple(streams), facts)
        while len(self._entries) > self.limit:
            self._entries.popitem(last=False)
        return key

    def take(self, kind: str, fits: Callable[[Entry], bool] | None = None) -> Entry | None:
        """Remove and return the oldest entry of ``kind`` that ``fits`` (None if none)."""
        for entry in self._entries.values():
            if entry.kind == kind and (fits is None or fits(entry)):
                del self._entries[entry.key]
                return entry
        return None

    def pop(self, key: str) -> Entry | None:
        """Remove and return the entry under ``key`` (None if it is not waiting)."""
        return self._entries.pop(key, None)

    def get(self, key: str) -> Entry | None:
        """The entry under ``key``, left in place."""
        return self._entries.get(key)

    def oldest(self, *kinds: str) -> Entry | None:
        """The oldest entry of one of ``kinds`` (of any kind if none is named), left in place."""
        for entry in self._entries.values():
            if not kinds or entry.kind in kinds:
                return entry
        return None

    def clear(self) -> None:
        """Forget everything (a new socket)."""
        self._entries.clear()

    def __len__(self) -> int:
        return len(self._entries)

    def __contains__(self, key: object) -> bool:
        return key in self._entries
