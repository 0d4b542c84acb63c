"""Requests waiting for the replies their documents promise, as data: matching only.

A request is an id and its reply key; replies with the same key answer their requests
oldest first. A subscribe belongs to a *batch* (one subscribe call), and data arriving on
its streams confirm it as its reply would; refusals of its streams, whenever they come,
count for every open batch. No futures and no clocks here: the
:class:`~streamwidgets.connection.session.Session` decides what an answer means, and its
driver holds what callers await.

Example:
    >>> from streamwidgets.connection.dialect import Outgoing
    >>> book = ReplyBook()
    >>> batch = book.begin(["trades"])
    >>> request = book.add(Outgoing("sub", "k1", ("trades",)), batch)
    >>> [w.id for w in book.data_arrived({"trades"})] == [request]
    True
    >>> book.end(batch).confirmed, book.pending
    ({'trades'}, {})
"""

from __future__ import annotations

from collections import deque
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any

from streamwidgets.connection.dialect import Outgoing
from streamwidgets.exceptions import RequestError

__all__ = ["Batch", "ReplyBook", "Waiting"]

_MAX_PENDING_REQUESTS = 256


@dataclass(slots=True, eq=False)
class Batch:
    """One subscribe call: the streams it asked for, what the server refused meanwhile
    (stream -> masked reason), and what replies or data confirmed."""

    streams: list[str]
    refused: dict[str, str] = field(default_factory=dict)
    confirmed: set[str] = field(default_factory=set)


@dataclass(slots=True, eq=False)
class Waiting:
    """A request waiting for its reply (a subscribe: or for data on its ``streams``)."""

    id: int
    key: str
    batch: Batch | None = None
    streams: tuple[str, ...] = ()
    #: Streams of a subscribe with no data yet.
    remaining: set[str] = field(default_factory=set)
    #: Streams of a subscribe that data confirmed.
    confirmed: set[str] = field(default_factory=set)


class ReplyBook:
    """The requests of one connection waiting for replies, and its open subscribe batches.

    Every method that ends a request removes it (and adds what data confirmed to its
    batch) before returning it: an ended request is never returned twice.
    """

    __slots__ = ("_batches", "_by_id", "_next_id", "_watching", "pending")

    def __init__(self) -> None:
        #: Reply key -> the requests waiting for it, oldest first.
        self.pending: dict[str, deque[Waiting]] = {}
        self._by_id: dict[int, Waiting] = {}
        # Stream -> the subscribes that data on it confirm.
        self._watching: dict[str, list[Waiting]] = {}
        self._batches: dict[int, Batch] = {}
        self._next_id = 0

    def begin(self, streams: Sequence[str]) -> int:
        """Open a batch for a subscribe of ``streams``; return its id."""
        self._next_id += 1
        self._batches[self._next_id] = Batch(list(streams))
        return self._next_id

    def batch(self, batch: int) -> Batch:
        """The open batch ``batch`` (KeyError once ended)."""
        return self._batches[batch]

    def end(self, batch: int) -> Batch:
        """Close batch ``batch`` and return it."""
        return self._batches.pop(batch)

    def add(self, out: Outgoing, batch: int | None = None) -> int:
        """Wait for ``out.reply_key``; return the new request's id.

        Raises:
            RequestError: too many requests with this key wait already.
        """
        key = out.reply_key or ""
        waiting = self.pending.setdefault(key, deque())
        if len(waiting) >= _MAX_PENDING_REQUESTS:
            raise RequestError(f"too many unanswered {key!r} requests")
        self._next_id += 1
        entry = Waiting(self._next_id, key)
        if batch is not None:
            entry.batch = self._batches[batch]
            entry.streams = out.streams
            entry.remaining = set(out.streams)
            for stream in entry.remaining:
                self._watching.setdefault(stream, []).append(entry)
        waiting.append(entry)
        self._by_id[entry.id] = entry
        return entry.id

    def get(self, request: int) -> Waiting | None:
        """The request ``request`` if it still waits."""
        return self._by_id.get(request)

    def answer(self, key: str) -> Waiting | None:
        """A reply with ``key`` came: end and return the oldest request it answers."""
        waiting = self.pending.get(key)
        if not waiting:
            return None
        return self.remove(waiting[0])

    def data_arrived(self, streams: Iterable[Any]) -> list[Waiting]:
        """Data came on ``streams``: end and return the subscribes now fully confirmed."""
        done = []
        for stream in streams:
            for entry in self._watching.pop(stream, ()):
                entry.remaining.discard(stream)
                entry.confirmed.add(stream)
                if not entry.remaining and entry.id in self._by_id:
                    done.append(self.remove(entry))
        return done

    def refused(self, rejected: dict[str, str]) -> list[Waiting]:
        """The server refused ``rejected`` (stream -> reason): every open batch notes it;
        end and return the subscribes left with nothing to wait for."""
        for batch in self._batches.values():
            batch.refused.update(rejected)
        done = []
        for stream in rejected:
            for entry in self._watching.pop(stream, ()):
                entry.remaining.discard(stream)
                if not entry.remaining and entry.id in self._by_id:
                    done.append(self.remove(entry))
        return done

    def remove(self, entry: Waiting) -> Waiting:
        """End ``entry``: it answers nothing any more."""
        del self._by_id[entry.id]
        waiting = self.pending.get(entry.key)
        if waiting is not None:
            waiting.remove(entry)
            if not waiting:  # reply keys may be unique ids: no empty queue per answered id
                del self.pending[entry.key]
        for stream in entry.remaining:
            watchers = self._watching.get(stream)
            if watchers is not None:
                watchers.remove(entry)
                if not watchers:
                    del self._watching[stream]
        if entry.batch is not None:
            entry.batch.confirmed.update(entry.confirmed)
        return entry

    def clear(self) -> list[Waiting]:
        """End every request (their socket closed) and return them."""
        ended = list(self._by_id.values())
        for entry in ended:
            if entry.batch is not None:
                entry.batch.confirmed.update(entry.confirmed)
        self.pending.clear()
        self._by_id.clear()
        self._watching.clear()
        return ended
