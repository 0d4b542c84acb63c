"""Ready-made feeds: one function per dialect, returning a configured dialect.

Example:
    >>> from streamwidgets import feeds
    >>> feed = feeds.hydra("ws://127.0.0.1:8765/stream", token="eyJ.x.y")
    >>> feed.describe()
    {'dialect': 'hydra', 'url': 'ws://127.0.0.1:8765/stream'}
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, Literal

from .dialects.base import Dialect
from .dialects.hydra import HydraDialect
from .secret import Secret

if TYPE_CHECKING:
    from .dialects.hydra_v1 import HydraV1Dialect

__all__ = ["generic", "hydra", "hydra_v1"]

HYDRA_URL = "wss://api.hydra.app/stream"
HYDRA_V1_URL = "wss://api.hydra.fast/v1/stream"


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


def hydra_v1(
    url: str = HYDRA_V1_URL,
    *,
    api_key: str | Secret,
    key_in: Literal["header", "query"] = "header",
    snapshot: bool = True,
    **options: Any,
) -> HydraV1Dialect:
    """The Hydra v1 API-key stream (see :mod:`streamwidgets.dialects.hydra_v1`).

    Args:
        url: the endpoint (the public one by default).
        api_key: the API key; it never appears in a repr, log, message or shown URL.
        key_in: ``"header"`` (``x-api-key``, the default) or ``"query"`` (``?apiKey=``).
        snapshot: False skips the initial snapshot: live events only.
        **options: ``ping_timeout``, ``rate_limit_backoff``.

    Example:
        >>> feed = hydra_v1(api_key="hydra_k1_abc", key_in="query", snapshot=False)
        >>> feed.target().display_url
        'wss://api.hydra.fast/v1/stream?apiKey=***&snapshot=false'
    """
    from .dialects.hydra_v1 import HydraV1Dialect

    return HydraV1Dialect(url, api_key=api_key, key_in=key_in, snapshot=snapshot, **options)


def generic(url: str, **config: Any) -> Dialect:
    """Any other JSON feed, described by configuration (see :mod:`streamwidgets.dialects.generic`).

    Example:
        >>> feed = generic("ws://127.0.0.1:9/ws", type_path="e", stream_path="s")
        >>> feed.name
        'generic'
    """
    from .dialects.generic import GenericDialect

    return GenericDialect(url, **config)
