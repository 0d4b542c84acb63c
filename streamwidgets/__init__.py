"""streamwidgets: live WebSocket feeds, explorable in Jupyter.

Headless use::

    import streamwidgets
    from streamwidgets import feeds

    async with streamwidgets.open(feeds.hydra(url, token=jwt), streams=["signals"]) as stream:
        async for event in stream:
            ...
        stream.df  # the rolling DataFrame
"""

from . import feeds
from .buffer import EventBuffer
from .buffer_export import read_export
from .connection import Connection, State, StateChange, SubscriptionResult
from .events import Event, Gap
from .exceptions import (
    AuthenticationFailed,
    ConfigurationError,
    ConnectionFailed,
    FrameError,
    RequestError,
    StreamError,
    StreamNotAvailable,
    SubscriptionRefused,
)
from .headless import Stream, open
from .history_store import history
from .secret import Secret

__version__ = "0.1.0"

__all__ = [
    "AuthenticationFailed",
    "ConfigurationError",
    "Connection",
    "ConnectionFailed",
    "Event",
    "EventBuffer",
    "FrameError",
    "Gap",
    "RequestError",
    "Secret",
    "State",
    "StateChange",
    "Stream",
    "StreamError",
    "StreamNotAvailable",
    "StreamWidget",
    "SubscriptionRefused",
    "SubscriptionResult",
    "__version__",
    "feeds",
    "history",
    "open",
    "read_export",
]


def __getattr__(name: str) -> object:
    # The widget pulls in ipywidgets and IPython; headless users never pay for that.
    if name == "StreamWidget":
        from .widget import StreamWidget

        return StreamWidget
    raise AttributeError(f"module 'streamwidgets' has no attribute {name!r}")
