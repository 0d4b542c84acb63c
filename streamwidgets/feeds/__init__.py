"""Ready-made feeds: one function per dialect, returning a configured dialect.

Live feeds are made in :mod:`~streamwidgets.feeds.constructors`, recorded ones (``replay``,
``redis``) in :mod:`~streamwidgets.feeds.recorded`; :mod:`~streamwidgets.feeds.registry`
holds one entry per feed for the command line and replay.

Example:
    >>> from streamwidgets import feeds
    >>> feeds.hydra("ws://127.0.0.1:8765/stream", token="eyJ.x.y").describe()
    {'dialect': 'hydra', 'url': 'ws://127.0.0.1:8765/stream'}
"""

from streamwidgets.feeds.constructors import (
    axol,
    axol_gas,
    axol_liquidations,
    axol_mempool,
    generic,
    hydra,
    hydra_v1,
    hyperoru,
    pusher,
    pusher_app,
)
from streamwidgets.feeds.recorded import redis, replay

__all__ = [
    "axol",
    "axol_gas",
    "axol_liquidations",
    "axol_mempool",
    "generic",
    "hydra",
    "hydra_v1",
    "hyperoru",
    "pusher",
    "pusher_app",
    "redis",
    "replay",
]
