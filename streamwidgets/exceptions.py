"""Exceptions raised by streamwidgets.

The tree::

    StreamError
    ├── ConfigurationError      a bad argument, caught before anything is sent
    │   └── StreamNotAvailable  a stream outside what the feed offers
    ├── FrameError              a frame that cannot be understood (counted, never fatal)
    ├── RequestError            the server answered a request with an error, or not in time
    └── ConnectionFailed        the connection gave up; ``reason`` says why in plain words
        └── AuthenticationFailed  the credentials were refused; reconnecting cannot help

Messages never contain a token, key or secret URL.
"""

from __future__ import annotations

__all__ = [
    "AuthenticationFailed",
    "ConfigurationError",
    "ConnectionFailed",
    "FrameError",
    "RequestError",
    "StreamError",
    "StreamNotAvailable",
]


class StreamError(Exception):
    """Base class of every error streamwidgets raises."""


class ConfigurationError(StreamError, ValueError):
    """An argument is invalid; raised before any network traffic."""


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


class ConnectionFailed(StreamError):
    """The connection stopped for good; ``reason`` explains why."""

    def __init__(self, reason: str, *, code: int | None = None) -> None:
        self.reason = reason
        self.code = code
        super().__init__(reason)


class AuthenticationFailed(ConnectionFailed):
    """The server refused the credentials; reconnecting with them cannot succeed."""
