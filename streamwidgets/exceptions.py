"""Exceptions raised by streamwidgets.

The tree::

    StreamError
    ├── ConfigurationError      a bad argument, caught before anything is sent
    │   ├── ArgumentTypeError   an argument of the wrong type (also a TypeError)
    │   └── StreamNotAvailable  a stream outside what the feed offers
    ├── FrameError              a frame that cannot be understood (counted, never fatal)
    ├── RequestError            the server answered a request with an error, or not in time
    │   └── SubscriptionRefused the server refused some streams; the others went through
    └── ConnectionFailed        the connection gave up; ``reason`` says why in plain words
        └── AuthenticationFailed  the credentials were refused; reconnecting cannot help

Messages never contain a token, key or secret URL.
"""

from __future__ import annotations

__all__ = [
    "ArgumentTypeError",
    "AuthenticationFailed",
    "ConfigurationError",
    "ConnectionFailed",
    "FrameError",
    "RequestError",
    "StreamError",
    "StreamNotAvailable",
    "SubscriptionRefused",
]


class StreamError(Exception):
    """Base class of every error streamwidgets raises."""


class ConfigurationError(StreamError, ValueError):
    """An argument is invalid; raised before any network traffic."""


class ArgumentTypeError(ConfigurationError, TypeError):
    """An argument of the wrong type (a ConfigurationError, and a TypeError)."""


class StreamNotAvailable(ConfigurationError):
    """A stream was asked for that the feed does not offer to these credentials."""

    def __init__(self, streams: list[str], available: list[str]) -> None:
        self.streams = list(streams)
        self.available = list(available)
        super().__init__(
            f"stream(s) {', '.join(map(repr, self.streams))} not available on this feed; "
            f"available: {', '.join(self.available) or 'none'}"
        )


class FrameError(StreamError):
    """A received frame could not be decoded or did not fit the feed's protocol."""


class RequestError(StreamError):
    """A request got an error reply, or no reply in time."""


class SubscriptionRefused(RequestError):
    """The server refused streams of a subscribe; the rest of the request went through.

    The refused streams left the wanted set (they are not re-sent after a reconnect);
    the others are subscribed.

    Attributes:
        rejected: refused stream -> the server's reason.
        result: the whole :class:`~streamwidgets.SubscriptionResult`.
    """

    def __init__(self, rejected: dict[str, str], result: object) -> None:
        self.rejected = dict(rejected)
        self.result = result
        said = "; ".join(f"{stream}: {why}" for stream, why in self.rejected.items())
        super().__init__(f"subscription refused: {said}")


class ConnectionFailed(StreamError):
    """The connection stopped for good; ``reason`` explains why."""

    def __init__(self, reason: str, *, code: int | None = None) -> None:
        self.reason = reason
        self.code = code
        super().__init__(reason)


class AuthenticationFailed(ConnectionFailed):
    """The server refused the credentials; reconnecting with them cannot succeed."""
