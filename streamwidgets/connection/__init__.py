"""The connection: one socket kept alive, its state, its subscriptions and its queues.

``driver`` owns the socket and the asyncio tasks; ``backoff`` and ``outage`` decide
when to retry; ``stats`` counts; ``consumer`` holds the bounded queues of readers;
``callbacks`` reports failing user callbacks.
"""

from streamwidgets.connection.driver import (
    CONNECTION_OPTIONS,
    Connection,
    State,
    StateChange,
    SubscriptionResult,
)

__all__ = ["CONNECTION_OPTIONS", "Connection", "State", "StateChange", "SubscriptionResult"]
