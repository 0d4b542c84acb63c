"""Checks of :class:`~streamwidgets.buffer.event_buffer.EventBuffer` arguments."""

from __future__ import annotations

import datetime
import math
from collections.abc import Mapping
from typing import Any

import numpy as np

from streamwidgets._util import checks
from streamwidgets.exceptions import ConfigurationError

__all__ = ["check_count", "explode_paths", "window_ns"]


def check_count(name: str, value: Any, *, allow_none: bool, maximum: int = 1_000_000) -> int | None:
    """An int from 1 to ``maximum`` (see :func:`streamwidgets._util.checks.count`)."""
    return checks.count(name, value, maximum=maximum, allow_none=allow_none)


def window_ns(window: Any) -> int | None:
    if window is None:
        return None
    if isinstance(window, datetime.timedelta):
        seconds = window.total_seconds()
    elif isinstance(window, (int, float, np.integer, np.floating)) and not isinstance(window, bool):
        seconds = float(window)
    else:
        raise checks.ArgumentTypeError(
            f"window must be seconds (a number) or a timedelta, got {window!r}"
        )
    if not math.isfinite(seconds) or not 0 < seconds <= checks.YEAR:
        raise ConfigurationError(
            f"window must be a positive, finite duration (at most a year), got {window!r}"
        )
    return round(seconds * 1e9)


def explode_paths(explode: Mapping[str, str] | None) -> dict[str, tuple[str, ...]]:
    if explode is None:
        return {}
    if not isinstance(explode, Mapping):
        raise checks.ArgumentTypeError(
            f"explode must be a mapping of event type -> path, got {explode!r}"
        )
    paths = {}
    for event_type, path in explode.items():
        if not isinstance(event_type, str) or not isinstance(path, str):
            raise checks.ArgumentTypeError(
                f"explode must map str to str, got {event_type!r}: {path!r}"
            )
        parts = tuple(path.split("."))
        if not all(parts):
            raise ConfigurationError(f"explode path for {event_type!r} is malformed: {path!r}")
        paths[event_type] = parts
    return paths
