"""Ready-made feeds: one function per dialect, returning a configured dialect.

Example:
    >>> from streamwidgets import feeds
    >>> feed = feeds.hydra("ws://127.0.0.1:8765/stream", token="eyJ.x.y")
    >>> feed.describe()
    {'dialect': 'hydra', 'url': 'ws://127.0.0.1:8765/stream'}
"""

from __future__ import annotations

from typing import Any

from .dialects.base import Dialect
from .dialects.hydra import HydraDialect
from .secret import Secret

__all__ = ["generic", "hydra"]

HYDRA_URL = "wss://api.hydra.app/stream"


def hydra(url: str = HYDRA_URL, *, token: str | Secret, **options: Any) -> HydraDialect:
    """The Hydra JWT stream.

    Args:
        url: the endpoint (the public one by default).
        token: the JWT; it never appears in a repr, log or message.
        **options: ``heartbeat_interval``, ``missed_heartbeats``, ``rate_limit_backoff``.

    Example:
        >>> hydra(token="eyJ.x.y").target().display_url
        'wss://api.hydra.app/stream?token=***'
    """
    return HydraDialect(url, token=token, **options)


def generic(url: str, **config: Any) -> Dialect:
    """Any other JSON feed, described by configuration (see :mod:`streamwidgets.dialects.generic`).

    Example:
        >>> feed = generic("ws://127.0.0.1:9/ws", type_path="e", stream_path="s")
        >>> feed.name
        'generic'
    """
    from .dialects.generic import GenericDialect

    return GenericDialect(url, **config)
