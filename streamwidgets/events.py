"""What a dialect makes of a frame: events for the buffer, control messages for the connection."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

__all__ = ["Control", "Event", "Gap", "Heartbeat", "Refused", "Reply", "ServerNotice", "Welcome"]


@dataclass(slots=True)
class Event:
    """One data event of a feed, as it goes into the buffer.

    Attributes:
        stream: the stream (channel, scope) the event belongs to, if the feed says.
        type: the event type, e.g. ``"signal_new"``.
        data: the payload, decoded from JSON (usually a dict).
        received_ns: when the frame arrived, nanoseconds since the epoch (UTC).
        event_ns: when the server says it happened, nanoseconds since the epoch, if it says.
        snapshot: True for rows of an initial snapshot or bootstrap, False for live rows.

    Example:
        >>> e = Event("signals", "signal_new", {"severity": 3}, received_ns=1_710_000_000 * 10**9)
        >>> e.stream, e.type, e.snapshot
        ('signals', 'signal_new', False)
    """

    stream: str | None
    type: str
    data: Any
    received_ns: int
    event_ns: int | None = None
    snapshot: bool = False

    def __repr__(self) -> str:
        return (
            f"Event(stream={self.stream!r}, type={self.type!r}, data={self.data!r}, "
            f"received_ns={self.received_ns}, event_ns={self.event_ns}, snapshot={self.snapshot})"
        )


@dataclass(slots=True)
class Welcome:
    """The server's greeting: the handshake is complete.

    ``available_streams`` is None when the feed does not say what it offers.
    """

    available_streams: list[str] | None = None
    info: dict[str, Any] = field(default_factory=dict)


@dataclass(slots=True)
class Heartbeat:
    """An application-level keepalive from the server."""

    server_ns: int | None = None


@dataclass(slots=True)
class Reply:
    """An answer to a request the client sent.

    ``key`` matches the key the dialect gave the request (a request id, or the
    kind of request for feeds that answer in order); ``error`` is set when the
    server refused it.
    """

    key: str
    data: Any = None
    error: str | None = None


@dataclass(slots=True)
class ServerNotice:
    """A message from the server about the session (an error report, a warning)."""

    message: str
    data: Any = None
    is_error: bool = False


@dataclass(slots=True)
class Refused:
    """The server refused subscriptions: stream -> why, in the server's words.

    A dialect emits it whenever a refusal arrives, whether or not anyone still waits for
    the request (a refusal after the request timed out counts all the same); the
    connection drops the streams from what it re-sends after a reconnect.
    """

    streams: dict[str, str]


Control = Welcome | Heartbeat | Reply | ServerNotice | Refused


@dataclass(frozen=True, slots=True)
class Gap:
    """Events an ``async for`` consumer missed because it fell behind.

    The buffer (``stream.df``) still holds them; only the iteration skipped them. It has
    the attributes a loop over events reads (``stream`` None, ``type`` ``"gap"``,
    ``data`` the counts), so ``event.type`` works on every item.

    Attributes:
        dropped: how many events were skipped.
        from_ns: when the first skipped event arrived, ns since the epoch (UTC).
        until_ns: when the last skipped event arrived.

    Example:
        >>> gap = Gap(3, 1_000, 2_000)
        >>> gap.type, gap.data["dropped"]
        ('gap', 3)
    """

    dropped: int
    from_ns: int
    until_ns: int
    stream: None = None
    type: str = "gap"

    @property
    def data(self) -> dict[str, Any]:
        """``{"dropped", "from_ns", "until_ns", "reason"}``."""
        return {
            "dropped": self.dropped,
            "from_ns": self.from_ns,
            "until_ns": self.until_ns,
            "reason": "the consumer fell behind; the buffer still holds these events",
        }
