"""streamwidgets: live WebSocket feeds, explorable in Jupyter.

Headless use::

    import streamwidgets
    from streamwidgets import feeds

    async with streamwidgets.open(feeds.hydra(url, token=jwt), streams=["signals"]) as stream:
        async for event in stream:
            ...
        stream.df  # the rolling DataFrame
"""

from streamwidgets import feeds
from streamwidgets._util.secret import Secret
from streamwidgets._util.version import VERSION
from streamwidgets.buffer.event_buffer import EventBuffer
from streamwidgets.buffer.export import read_export
from streamwidgets.connection.driver import Connection, State, StateChange, SubscriptionResult
from streamwidgets.events import Event, Gap
from streamwidgets.exceptions import (
    AuthenticationFailed,
    ConfigurationError,
    ConnectionFailed,
    FrameError,
    RequestError,
    StreamError,
    StreamNotAvailable,
    SubscriptionRefused,
)
from streamwidgets.headless import Stream, open
from streamwidgets.recording.history import history

__version__ = VERSION

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
        from streamwidgets.widget.widget import StreamWidget

        return StreamWidget
    raise AttributeError(f"module 'streamwidgets' has no attribute {name!r}")
