"""JSON encoding and decoding with orjson, the one place that chooses the parser.

orjson is used because ``json.loads`` alone limits ingest to about 0.6x of the raw
receive rate on small events; orjson brings it to about 0.85x.

What orjson refuses but Python's own ``json.loads`` reads is read that way instead (a
lenient parse, counted in :data:`LENIENT`): the ``NaN``, ``Infinity`` and ``-Infinity``
literals Python servers write with ``json.dumps`` (they become float NaN and infinities),
numbers beyond a double such as ``1e400`` (infinity, the nearest a float can say) and
lone surrogates in strings. orjson stays the fast path; only frames it refuses pay for
the second try. A documented limit of that fast path: an integer beyond 64 bits
(``|n| >= 2**64``) is read as the nearest float, as orjson reads it; integers up to
64 bits are exact.
"""

from __future__ import annotations

import json
from typing import Any

import orjson

from streamwidgets.exceptions import FrameError

__all__ = [
    "LENIENT",
    "dumps",
    "dumps_exact",
    "loads_frame",
    "loads_lenient",
    "loads_object",
    "loads_typed",
    "preview",
]

_PREVIEW_LIMIT = 200


class _Count:
    """How many texts only the lenient parser could read (read before and after a parse
    to know whether that one was lenient: the event loop runs one parse at a time)."""

    __slots__ = ("n",)

    def __init__(self) -> None:
        self.n = 0


#: Lenient parses so far, in this process.
LENIENT = _Count()


def loads_lenient(text: str | bytes) -> Any:
    """Decode JSON with orjson, or else as Python's ``json.loads`` would (see above).

    Raises:
        ValueError: neither reads it (orjson's message); a nesting too deep for Python's
            parser is refused too.

    Example:
        >>> loads_lenient('{"temp": 21.5, "rsi": NaN}')
        {'temp': 21.5, 'rsi': nan}
        >>> loads_lenient('{"n": 18446744073709551615, "big": 1e400}')
        {'n': 18446744073709551615, 'big': inf}
    """
    try:
        return orjson.loads(text)
    except orjson.JSONDecodeError as exc:
        if not _may_be_lenient(text, exc.msg):
            raise ValueError(exc.msg) from None  # plain garbage: no second parse
        try:
            value = json.loads(text)
        except (ValueError, TypeError, RecursionError):
            raise ValueError(exc.msg) from None
        LENIENT.n += 1
        return value


def _may_be_lenient(text: str | bytes, reason: str) -> bool:
    # What Python reads and orjson refuses: the non-finite literals, a number beyond a
    # double, lone surrogates. Anything else is garbage for both.
    if "number" in reason or "surrogate" in reason:
        return True
    if isinstance(text, str):
        return "NaN" in text or "Infinity" in text
    if isinstance(text, (bytes, bytearray)):
        return b"NaN" in text or b"Infinity" in text
    return False


def loads_frame(frame: str | bytes) -> Any:
    """Decode a frame's JSON, raising :class:`FrameError` with a short preview on failure.

    Example:
        >>> loads_frame('{"type": "heartbeat"}')
        {'type': 'heartbeat'}
    """
    try:
        return loads_lenient(frame)
    except ValueError as exc:
        raise FrameError(f"not JSON ({exc}): {preview(frame)}") from None


def loads_object(frame: str | bytes) -> dict[str, Any]:
    """Decode a text frame holding one JSON object, the shape every JSON feed sends.

    Binary frames, invalid JSON and anything but an object raise :class:`FrameError`.

    Example:
        >>> loads_object('{"type": "pong"}')
        {'type': 'pong'}
        >>> loads_object("[1]")
        Traceback (most recent call last):
        ...
        streamwidgets.exceptions.FrameError: expected a JSON object, got list: '[1]'
    """
    if isinstance(frame, bytes):
        raise FrameError(f"unexpected binary frame: {preview(frame)}")
    message = loads_frame(frame)
    if not isinstance(message, dict):
        raise FrameError(f"expected a JSON object, got {type(message).__name__}: {preview(frame)}")
    return message


def loads_typed(frame: str | bytes) -> tuple[dict[str, Any], str]:
    """Decode a JSON-object frame whose ``type`` names its kind; return it and the type.

    A missing, empty or non-string ``type`` raises :class:`FrameError`.

    Example:
        >>> loads_typed('{"type": "pong", "data": {}}')
        ({'type': 'pong', 'data': {}}, 'pong')
        >>> loads_typed('{"type": ""}')
        Traceback (most recent call last):
        ...
        streamwidgets.exceptions.FrameError: message without a 'type': '{"type": ""}'
    """
    message = loads_object(frame)
    kind = message.get("type")
    if not isinstance(kind, str) or not kind:
        raise FrameError(f"message without a 'type': {preview(frame)}")
    return message, kind


def dumps(obj: Any) -> str:
    """Encode ``obj`` as compact JSON text.

    Example:
        >>> dumps({"action": "subscribe", "streams": ["signals"]})
        '{"action":"subscribe","streams":["signals"]}'
    """
    return orjson.dumps(obj).decode()


def dumps_exact(obj: Any, default: Any = None) -> str:
    """Encode ``obj`` as compact JSON text that :func:`loads_lenient` reads back as the
    same value: NaN and infinities as the ``NaN``/``Infinity`` literals Python writes
    (orjson would write null), ints of any size, and a string with a lone surrogate
    (which has no UTF-8 form) with ``\\u`` escapes. ``default`` is called for values JSON
    has no form for, as in ``json.dumps``.

    Raises:
        TypeError: a value neither JSON nor ``default`` can encode.

    Example:
        >>> dumps_exact([1.5, float("nan"), 2**70, "\\ud800"])
        '[1.5,NaN,1180591620717411303424,"\\\\ud800"]'
    """
    try:
        out = orjson.dumps(obj, default=default, option=orjson.OPT_NON_STR_KEYS)
        if b"null" not in out:  # no NaN or infinity was written as null
            return out.decode()
    except (TypeError, orjson.JSONEncodeError):
        pass  # a lone surrogate, an int beyond 64 bits: Python's encoder has a form
    text = json.dumps(obj, default=default, ensure_ascii=False, separators=(",", ":"))
    try:
        text.encode()
    except UnicodeEncodeError:
        text = json.dumps(obj, default=default, ensure_ascii=True, separators=(",", ":"))
    return text


def preview(frame: str | bytes, limit: int = _PREVIEW_LIMIT) -> str:
    """A short printable excerpt of a frame, for error messages.

    Example:
        >>> preview("x" * 300, limit=5)
        "'xxxxx'... (300 chars)"
    """
    unit = "bytes" if isinstance(frame, bytes) else "chars"
    if len(frame) <= limit:
        return repr(frame)
    return f"{frame[:limit]!r}... ({len(frame)} {unit})"
