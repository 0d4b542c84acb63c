"""Argument types the commands share: durations, sizes, ports and rates, each refused
with a message saying what is allowed (argparse prints it and exits with 2).

Example:
    >>> parse_duration("5m"), parse_size("1k"), port_number("0"), events_rate("0")
    (300.0, 1024, 0, 0.0)
"""

from __future__ import annotations

import argparse
import math
import re

__all__ = ["events_rate", "parse_duration", "parse_size", "port_number"]

_UNITS = {"": 1, "s": 1, "m": 60, "h": 3600}
_SIZES = {"": 1, "k": 1024, "m": 1024**2, "g": 1024**3}


def parse_duration(text: str) -> float:
    """``"90"``, ``"90s"``, ``"5m"``, ``"1.5h"`` -> seconds.

    Example:
        >>> parse_duration("5m"), parse_duration("2.5")
        (300.0, 2.5)
    """
    match = re.fullmatch(r"\s*([0-9]*\.?[0-9]+)\s*([smh]?)\s*", text.lower())
    if match is None or float(match.group(1)) <= 0:
        raise argparse.ArgumentTypeError(f"a duration like 60s, 5m or 1h, got {text!r}")
    return float(match.group(1)) * _UNITS[match.group(2)]


def parse_size(text: str) -> int:
    """``"500k"``, ``"100M"``, ``"1G"`` (binary units) -> bytes.

    Example:
        >>> parse_size("100M")
        104857600
    """
    match = re.fullmatch(r"\s*([0-9]*\.?[0-9]+)\s*([kmg]?)i?b?\s*", text.lower())
    if match is None:
        raise argparse.ArgumentTypeError(f"a size like 500k, 100M or 1G, got {text!r}")
    return int(float(match.group(1)) * _SIZES[match.group(2)])


def port_number(text: str) -> int:
    """A TCP port, 0 (pick a free one) to 65535.

    Example:
        >>> port_number("70000")
        Traceback (most recent call last):
        ...
        argparse.ArgumentTypeError: a port from 0 to 65535, got '70000'
    """
    try:
        port = int(text)
    except ValueError:
        port = -1
    if not 0 <= port <= 65535:
        raise argparse.ArgumentTypeError(f"a port from 0 to 65535, got {text!r}")
    return port


def events_rate(text: str) -> float:
    """Events per second: a finite number >= 0 (what 0 means is the simulator's to say).

    Example:
        >>> events_rate("nan")
        Traceback (most recent call last):
        ...
        argparse.ArgumentTypeError: a rate in events/s, a finite number >= 0, got 'nan'
    """
    try:
        rate = float(text)
    except ValueError:
        rate = -1.0
    if not math.isfinite(rate) or rate < 0:
        raise argparse.ArgumentTypeError(f"a rate in events/s, a finite number >= 0, got {text!r}")
    return rate
