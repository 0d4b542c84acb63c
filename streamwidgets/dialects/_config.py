"""Configuration pieces of config-driven dialects: templates, dotted paths, matches, times.

Each is validated once, when the dialect is made, and raises
:class:`~streamwidgets.exceptions.ConfigurationError` in words a notebook user can act on;
using one on the wire is then cheap. See :mod:`streamwidgets.dialects.generic` for the
configuration model they serve.

Example:
    >>> Template("subscribe", {"op": "sub", "args": "{streams}"}, {"streams"}).render(
    ...     {"streams": ["a", "b"]}
    ... )
    '{"op":"sub","args":["a","b"]}'
    >>> lookup({"data": [{"ts": 5}]}, parse_path("time_path", "data.0.ts"))
    5
    >>> matches({"type": "hb", "n": 1}, parse_match("heartbeat", {"type": "hb", "n": ...}))
    True
    >>> to_ns("1.5", "s")
    1500000000
"""

from __future__ import annotations

import math
import re
from collections.abc import Mapping
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

import orjson

from streamwidgets._util import checks
from streamwidgets._util.jsonutil import dumps
from streamwidgets.exceptions import ConfigurationError

__all__ = [
    "MISSING",
    "TIME_UNITS",
    "Match",
    "Template",
    "TimeReader",
    "close_codes",
    "lookup",
    "matches",
    "parse_match",
    "parse_path",
    "positive_or_none",
    "require_counts",
    "require_positive",
    "require_seconds",
    "to_ns",
]

_PLACEHOLDER = re.compile(r"\{([A-Za-z_][A-Za-z0-9_]*)\}")
_WHOLE = re.compile(r"\{([A-Za-z_][A-Za-z0-9_]*)\}\Z")
#: What :func:`lookup` returns when the path is absent (None is a value JSON can hold).
MISSING = object()
_TIME_FACTORS = {"s": 1_000_000_000, "ms": 1_000_000, "us": 1_000, "ns": 1}
TIME_UNITS = (*_TIME_FACTORS, "iso")

#: A compiled match: (path, expected value) pairs, all of which must hold.
Match = tuple[tuple[tuple[str, ...], Any], ...]


class Template:
    """A message template, validated once and rendered per message."""

    def __init__(self, what: str, template: Any, allowed: set[str]) -> None:
        if not isinstance(template, (dict, str)) or not template:
            raise ConfigurationError(f"{what} must be a non-empty dict or string, got {template!r}")
        self.what = what
        self.template = template
        self.names: set[str] = set()
        self._collect(template)
        unknown = self.names - allowed
        if unknown:
            known = ", ".join("{" + n + "}" for n in sorted(allowed)) or "none"
            raise ConfigurationError(
                f"{what}: unknown placeholder(s) "
                f"{', '.join('{' + n + '}' for n in sorted(unknown))}; known: {known}"
            )
        try:
            self.render({n: [] if n == "streams" else 1 if n == "id" else "x" for n in self.names})
        except orjson.JSONEncodeError as exc:
            raise ConfigurationError(f"{what} cannot be sent as JSON: {exc}") from None

    def _collect(self, value: Any) -> None:
        if isinstance(value, str):
            self.names.update(_PLACEHOLDER.findall(value))
        elif isinstance(value, dict):
            for item in value.values():
                self._collect(item)
        elif isinstance(value, (list, tuple)):
            for item in value:
                self._collect(item)

    def render(self, values: Mapping[str, Any]) -> str:
        if isinstance(self.template, str):
            return _PLACEHOLDER.sub(
                lambda m: _text(values[m.group(1)], as_json=True), self.template
            )
        return dumps(_fill(self.template, values))


def _text(value: Any, *, as_json: bool) -> str:
    if isinstance(value, list):
        return dumps(value) if as_json else ",".join(map(str, value))
    return str(value)


def _fill(value: Any, values: Mapping[str, Any]) -> Any:
    if isinstance(value, str):
        whole = _WHOLE.match(value)
        if whole:
            return values[whole.group(1)]
        return _PLACEHOLDER.sub(lambda m: _text(values[m.group(1)], as_json=False), value)
    if isinstance(value, dict):
        return {k: _fill(v, values) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_fill(v, values) for v in value]
    return value


def parse_path(what: str, path: str | None) -> tuple[str, ...] | None:
    if path is None:
        return None
    if not isinstance(path, str) or not path or any(not p for p in path.split(".")):
        raise ConfigurationError(
            f"{what} must be a dotted path like 'data.ts' with no empty part, got {path!r}"
        )
    return tuple(path.split("."))


def lookup(message: Any, path: tuple[str, ...]) -> Any:
    for part in path:
        if isinstance(message, dict):
            message = message.get(part, MISSING)
        elif isinstance(message, list) and part.isdigit() and int(part) < len(message):
            message = message[int(part)]
        else:
            return MISSING
        if message is MISSING:
            return MISSING
    return message


def parse_match(what: str, match: Mapping[str, Any]) -> Match:
    if not isinstance(match, Mapping) or not match:
        raise ConfigurationError(
            f"{what} must be a non-empty dict of path -> value, e.g. {{'type': 'ping'}}, "
            f"got {match!r}"
        )
    return tuple((parse_path(f"{what} key", key) or (), value) for key, value in match.items())


def matches(message: dict[str, Any], match: Match) -> bool:
    for path, expected in match:
        found = lookup(message, path)
        if found is MISSING:
            return False
        if expected is ...:
            continue
        # True == 1 in Python; a match on a flag must not accept a number.
        if isinstance(found, bool) != isinstance(expected, bool) or found != expected:
            return False
    return True


def to_ns(value: Any, unit: str) -> int | None:
    """Convert a time value to epoch nanoseconds; None when it is not a time.

    Exact for what the value carries: an int or a numeric string (``"1700000000.123456789"``)
    to the nanosecond; a float to its shortest decimal (the float64 a JSON reader made of
    the text sent: about 16 significant digits, so epoch seconds keep ~0.1 us); an ISO-8601
    string to the nanosecond (digits beyond the ninth are cut; no offset means UTC).

    A time beyond what ``datetime64[ns]`` holds (1677-2262) comes back as an int outside
    the int64 range (at most 2**64 in size), which the buffer keeps as NaT and counts in
    ``times_out_of_range``.

    Example:
        >>> to_ns("2024-01-01T00:00:00.123456789Z", "iso")
        1704067200123456789
        >>> to_ns("1700000000.123456789", "s")
        1700000000123456789
    """
    try:
        if unit == "iso":
            return _iso_ns(value) if isinstance(value, str) else None
        if isinstance(value, bool):
            return None
        if isinstance(value, int):
            return _bounded(value * _TIME_FACTORS[unit])
        if isinstance(value, float):
            # The float's shortest repr, scaled exactly: a binary float times 1e9 would
            # land 1710000001.25 s a few ns off.
            exact = Decimal(repr(value))
        elif isinstance(value, str) and len(value) <= 64:
            # Some feeds quote their timestamps: read the text itself, every digit of it.
            exact = Decimal(value.strip())
        else:
            return None
        if not exact.is_finite():
            return None
        scaled = exact * _TIME_FACTORS[unit]
        if abs(scaled) >= _OUT_OF_RANGE:
            return _OUT_OF_RANGE if scaled > 0 else -_OUT_OF_RANGE
        return int(scaled)
    except (ValueError, OverflowError, TypeError, ArithmeticError):
        return None


#: Beyond any datetime64[ns]; what a farther time is clamped to (no huge ints from a feed).
_OUT_OF_RANGE = 2**64
# Fractional seconds of an ISO time: dates hold no "." or ",", offsets neither.
_FRACTION = re.compile(r"[.,](\d+)")
_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)


def _bounded(ns: int) -> int:
    if -_OUT_OF_RANGE < ns < _OUT_OF_RANGE:
        return ns
    return _OUT_OF_RANGE if ns > 0 else -_OUT_OF_RANGE


def _iso_ns(text: str) -> int | None:
    if len(text) > 64:
        return None
    moment = datetime.fromisoformat(text)  # ValueError when it is no ISO-8601 time
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    delta = moment.replace(microsecond=0) - _EPOCH
    ns = (delta.days * 86_400 + delta.seconds) * 1_000_000_000
    fraction = _FRACTION.search(text)
    if fraction is not None:
        ns += int(fraction.group(1)[:9].ljust(9, "0"))
    return ns


#: Epoch values that read as a date between 2001 and 2100, per unit: what a live feed sends.
_PLAUSIBLE = {
    unit: (978_307_200 * 1_000_000_000 // f, 4_102_444_800 * 1_000_000_000 // f)
    for unit, f in _TIME_FACTORS.items()
}
_UNIT_WORDS = {"s": "seconds", "ms": "milliseconds", "us": "microseconds", "ns": "nanoseconds"}


class TimeReader:
    """Read a feed's epoch timestamps in the unit its document names, or in the one its
    values plainly use.

    With ``unit=None`` each numeric value is read in the documented unit if that makes it
    a date between 2001 and 2100; if only another unit does (``1710000000`` is 1970-01-20
    in ms, but 2024-03-09 in seconds), it is read in that unit, and :meth:`take_notice`
    says so once. The ranges of the units do not overlap, so no value is ambiguous, and a
    feed that mixes units is read right value by value. A unit given by the user is used
    for every value.

    Args:
        documented: the unit the feed's document names (``"s"``, ``"ms"``, ``"us"``, ``"ns"``).
        unit: the unit to use regardless (None: decide as above).
        what: how the notice names the field, e.g. ``"Hydra 'ts'"``.

    Raises:
        ConfigurationError: an unknown unit.

    Example:
        >>> reader = TimeReader("ms", what="Hydra 'ts'")
        >>> reader.read(1_710_000_000), reader.read(1_710_000_000_000)
        (1710000000000000000, 1710000000000000000)
        >>> reader.take_notice().startswith("Hydra 'ts' is in seconds")
        True
        >>> reader.take_notice() is None
        True
    """

    def __init__(self, documented: str, unit: str | None = None, *, what: str) -> None:
        for name, value in (("documented", documented), ("time_unit", unit)):
            if value is not None and value not in _TIME_FACTORS:
                raise ConfigurationError(
                    f"{name} must be one of {', '.join(_TIME_FACTORS)} or None, got {value!r}"
                )
        self.documented = documented
        self.unit = unit
        self.what = what
        self._notice: str | None = None
        self._noticed: set[str] = set()

    def read(self, value: Any) -> int | None:
        """``value`` as epoch nanoseconds (None when it is not a time)."""
        if self.unit is not None:
            return to_ns(value, self.unit)
        if isinstance(value, bool) or not isinstance(value, (int, float)):
            return to_ns(value, self.documented)
        low, high = _PLAUSIBLE[self.documented]
        return to_ns(value, self.documented if low <= value <= high else self._other(value))

    def take_notice(self) -> str | None:
        """The one-time note that values are not in the documented unit, else None."""
        notice, self._notice = self._notice, None
        return notice

    def _other(self, value: float) -> str:
        for unit, (low, high) in _PLAUSIBLE.items():
            if low <= value <= high:
                if unit in self._noticed:
                    return unit
                self._noticed.add(unit)
                self._notice = (
                    f"{self.what} is in {_UNIT_WORDS[unit]}, not {_UNIT_WORDS[self.documented]} "
                    f"as documented ({value!r} is no date in {_UNIT_WORDS[self.documented]}); "
                    f"reading it as {_UNIT_WORDS[unit]} (pass time_unit= to choose)"
                )
                return unit
        return self.documented


def require_positive(**values: Any) -> None:
    """Raise :class:`ConfigurationError` for the first value that is not a finite number > 0.

    Booleans are not numbers here; NaN and infinity are not > 0 numbers either.

    Example:
        >>> require_positive(size=0.01, health_threshold=1.1)
        >>> require_positive(size=float("inf"))
        Traceback (most recent call last):
        ...
        streamwidgets.exceptions.ConfigurationError: size must be a finite number > 0, got inf
    """
    for name, value in values.items():
        if isinstance(value, bool) or not isinstance(value, (int, float)):
            raise checks.ArgumentTypeError(f"{name} must be a finite number > 0, got {value!r}")
        if not (math.isfinite(value) and value > 0):
            raise ConfigurationError(f"{name} must be a finite number > 0, got {value!r}")


def require_seconds(**values: Any) -> None:
    """Raise :class:`ConfigurationError` for the first value that is not a duration: a
    finite number of seconds > 0, at most a day (see :func:`streamwidgets._util.checks.seconds`).

    Example:
        >>> require_seconds(ping_interval=30, timeout=2.5)
        >>> require_seconds(ping_interval=0)
        Traceback (most recent call last):
        ...
        streamwidgets.exceptions.ConfigurationError: ping_interval must be a number > 0 ..., got 0
    """
    for name, value in values.items():
        checks.seconds(name, value)


def require_counts(**values: Any) -> None:
    """Raise :class:`ConfigurationError` for the first value that is not an int >= 1 (and at
    most a billion: a count beyond that is a typo).

    Example:
        >>> require_counts(max_pending=64)
        >>> require_counts(max_pending=True)
        Traceback (most recent call last):
        ...
        streamwidgets.exceptions.ArgumentTypeError: max_pending must be an int from 1 to ...
    """
    for name, value in values.items():
        checks.count(name, value, maximum=1_000_000_000)


def positive_or_none(name: str, value: float | None) -> float | None:
    """A duration in seconds, or None (see :func:`streamwidgets._util.checks.seconds`)."""
    return checks.seconds(name, value, allow_none=True)


def close_codes(name: str, codes: Mapping[int, str]) -> dict[int, str]:
    out: dict[int, str] = {}
    for code, words in dict(codes).items():
        if isinstance(code, bool) or not isinstance(code, int) or not 1000 <= code <= 4999:
            raise ConfigurationError(f"{name}: close codes are ints 1000-4999, got {code!r}")
        if not isinstance(words, str) or not words.strip():
            raise ConfigurationError(f"{name}: code {code} needs a plain-words reason")
        out[code] = words
    return out
