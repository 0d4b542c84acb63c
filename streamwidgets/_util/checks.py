"""Argument checks shared by every public entry point: one place, one wording.

Every check raises :class:`~streamwidgets.exceptions.ConfigurationError` at once, before
anything starts, naming the argument, the value it got and what is allowed. A value of
the wrong type raises :class:`ArgumentTypeError`, which is a ``ConfigurationError`` and a
``TypeError`` too. Durations are finite numbers of seconds (NaN and infinity are not
durations); counts are ints within bounds that keep memory and waits sane; URLs name a
host and a port from 1 to 65535; credentials are non-empty strings and are never echoed.

Example:
    >>> seconds("open_timeout", 2.5)
    2.5
    >>> seconds("open_timeout", float("nan"))
    Traceback (most recent call last):
    ...
    streamwidgets.exceptions.ConfigurationError: open_timeout must be a number > 0 ..., got nan
    >>> count("max_rows", 10**12, maximum=MAX_ROWS)
    Traceback (most recent call last):
    ...
    streamwidgets.exceptions.ConfigurationError: max_rows must be >= 1 and <= 50,000,000, ...
"""

from __future__ import annotations

import math
from collections.abc import Iterable
from typing import Any
from urllib.parse import urlsplit

from streamwidgets._util.secret import Secret, redact_url
from streamwidgets.exceptions import ArgumentTypeError, ConfigurationError

__all__ = [
    "DAY",
    "MAX_ROWS",
    "YEAR",
    "ArgumentTypeError",
    "count",
    "credential",
    "endpoint",
    "flag",
    "seconds",
    "stream_names",
]

#: The longest timeout or interval accepted, in seconds.
DAY = 86_400.0
#: The longest outage bound accepted (``give_up_after``), in seconds.
YEAR = 366 * DAY
#: The most rows a buffer may keep (about 20 GB at 400 bytes a row).
MAX_ROWS = 50_000_000


def seconds(
    name: str, value: Any, *, maximum: float = DAY, allow_none: bool = False
) -> float | None:
    """A duration: a finite number of seconds > 0 and <= ``maximum`` (or None if allowed).

    Raises:
        ArgumentTypeError: not a number.
        ConfigurationError: NaN, infinite, not > 0, or above ``maximum``.
    """
    if value is None and allow_none:
        return None
    allowed = f"a number > 0 (seconds, at most {maximum:g})"
    if allow_none:
        allowed += " or None"
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise ArgumentTypeError(f"{name} must be {allowed}, got {value!r}")
    if not (math.isfinite(value) and 0 < value <= maximum):
        raise ConfigurationError(f"{name} must be {allowed}, got {value!r}")
    return float(value)


def count(
    name: str,
    value: Any,
    *,
    minimum: int = 1,
    maximum: int,
    allow_none: bool = False,
) -> int | None:
    """An int from ``minimum`` to ``maximum`` (or None if allowed).

    Raises:
        ArgumentTypeError: not an int (a bool is no count).
        ConfigurationError: out of range.
    """
    if value is None and allow_none:
        return None
    if isinstance(value, bool) or not _is_int(value):
        none = " or None" if allow_none else ""
        raise ArgumentTypeError(
            f"{name} must be an int from {minimum:,} to {maximum:,}{none}, got {value!r}"
        )
    if not minimum <= value <= maximum:
        raise ConfigurationError(
            f"{name} must be >= {minimum:,} and <= {maximum:,}, got {int(value)}"
        )
    return int(value)


def flag(name: str, value: Any) -> bool:
    """True or False, nothing else (``"yes"`` and 1 are not flags)."""
    if not isinstance(value, bool):
        raise ArgumentTypeError(f"{name} must be True or False, got {value!r}")
    return value


def stream_names(value: Any, *, what: str = "streams", noun: str = "stream") -> list[str]:
    """A list of non-empty stream names (any iterable but a string or None).

    Example:
        >>> stream_names(("a", "b"))
        ['a', 'b']
        >>> stream_names(None)
        Traceback (most recent call last):
        ...
        streamwidgets.exceptions.ArgumentTypeError: streams must be a list of stream names, got None
    """
    if isinstance(value, (str, bytes)) or value is None or not isinstance(value, Iterable):
        shown = "one string" if isinstance(value, str) else repr(value)
        raise ArgumentTypeError(f"{what} must be a list of {noun} names, got {shown}")
    names = list(value)
    bad = [s for s in names if not isinstance(s, str) or not s]
    if bad:
        raise ConfigurationError(f"{noun} names must be non-empty strings, got {bad!r}")
    return names


def credential(name: str, value: Any) -> Secret:
    """A credential as a :class:`~streamwidgets._util.secret.Secret`; its value is never shown.

    Example:
        >>> credential("token", "")
        Traceback (most recent call last):
        ...
        streamwidgets.exceptions.ConfigurationError: token must be a non-empty string, ...
    """
    text = value.reveal() if isinstance(value, Secret) else value
    if not isinstance(text, str):
        raise ArgumentTypeError(f"{name} must be a non-empty string, got a {type(value).__name__}")
    if not text.strip():
        raise ConfigurationError(f"{name} must be a non-empty string, got an empty one")
    if any(ord(c) < 32 or ord(c) == 127 for c in text):
        # It goes into a header or a URL, where a line break would start another one.
        raise ConfigurationError(f"{name} holds a control character (a line break?)")
    return value if isinstance(value, Secret) else Secret(value)


def endpoint(name: str, value: Any, *, schemes: tuple[str, ...]) -> str:
    """A URL with one of ``schemes``, a host, and a port from 1 to 65535 if it names one.

    Example:
        >>> endpoint("url", "ws://127.0.0.1:99999/x", schemes=("ws", "wss"))
        Traceback (most recent call last):
        ...
        streamwidgets.exceptions.ConfigurationError: url has no valid port (1-65535): 'ws://127.0.0.1:99999/x'
    """
    if not isinstance(value, str):
        raise ArgumentTypeError(f"{name} must be a URL string, got {value!r}")
    shown_url = repr(redact_url(value))
    if any(ord(c) <= 32 or ord(c) == 127 for c in value):
        raise ConfigurationError(f"{name} holds a space or control character: {shown_url}")
    try:
        parts = urlsplit(value)
    except ValueError:  # e.g. an unclosed IPv6 bracket
        raise ConfigurationError(f"{name} is not a valid URL: {shown_url}") from None
    try:
        port = parts.port
    except ValueError:  # out of range, or not a number
        port = 0
    schemes_shown = " or ".join(f"{s}://" for s in schemes)
    if parts.scheme not in schemes:
        raise ConfigurationError(f"{name}: it starts with {schemes_shown}, got {shown_url}")
    if parts.username is not None or parts.password is not None:
        raise ConfigurationError(
            f"{name} holds a user name or password ({shown_url}): pass the credential as "
            "the feed's token or key argument, where it is kept secret"
        )
    if not parts.hostname:
        raise ConfigurationError(f"{name} names no host: {shown_url}")
    if port == 0 or (port is None and ":" in parts.netloc.rsplit("]", 1)[-1]):
        raise ConfigurationError(f"{name} has no valid port (1-65535): {shown_url}")
    return value


def _is_int(value: Any) -> bool:
    # numpy ints count; anything with __index__ that is not a bool does.
    try:
        return int(value.__index__()) == value
    except (AttributeError, TypeError):
        return False
