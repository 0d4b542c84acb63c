"""The connection: one socket kept alive, its state, its subscriptions and its queues.

``driver`` owns the socket (``websocket``) and the asyncio tasks, and performs what
``session`` decides without I/O (reply matching, streams, pause, ``keepalive``);
``backoff`` and ``outage`` decide when to retry; ``stats`` counts; ``consumer`` holds the
bounded queues of readers; ``callbacks`` reports failing user callbacks; ``taps`` holds
the recording.
"""

from streamwidgets.connection.driver import (
    CONNECTION_OPTIONS,
    Connection,
    State,
    StateChange,
    SubscriptionResult,
)

__all__ = ["CONNECTION_OPTIONS", "Connection", "State", "StateChange", "SubscriptionResult"]
