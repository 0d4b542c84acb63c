"""Frames as the tests send them: JSON text for a WebSocket text frame."""

from __future__ import annotations

from typing import Any

import orjson


def text(value: Any) -> str:
    """``value`` as compact JSON text (str), so that it goes as a text frame: orjson gives
    bytes, which a WebSocket sends as a binary one. Raises ``orjson.JSONEncodeError`` for
    values JSON cannot hold.

    Example: ``await ws.send(text({"type": "ping"}))``.
    """
    return orjson.dumps(value).decode()
