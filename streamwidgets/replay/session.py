"""Following a recording's markers with a parse-only copy of the recorded feed's dialect.

A recording (a file, or a relay's Redis stream) holds the frames of one or more live
sessions and markers between them. Whoever parses it again (:mod:`streamwidgets.replay.dialect`,
:mod:`streamwidgets.relay.feed`) does what the live connection did at each marker:

- a new session began (``connecting``, ``reconnecting``, ``disconnected``, ``failed``):
  the dialect forgets the previous session
  (:meth:`~streamwidgets.connection.dialect.Dialect.reset`);
- ``replay-config``: the live dialect resolved other options (Pusher's channels after its
  session bootstrap, a Hyperoru channel muted): the parse-only copy is rebuilt with them
  (:func:`~streamwidgets.replay.rebuild.rebuild_dialect`), unless the user chose the
  dialect to parse with.

Example:
    >>> from streamwidgets.replay.rebuild import rebuild_dialect
    >>> inner = rebuild_dialect("hydra", {"url": "ws://127.0.0.1:9/stream"})
    >>> inner, notices = follow_marker(inner, "hydra", "reconnecting", "connection lost")
    >>> inner.name, notices
    ('hydra', [])
"""

from __future__ import annotations

from typing import Any

import orjson

from streamwidgets.connection.dialect import Dialect
from streamwidgets.events import Control, ServerNotice
from streamwidgets.exceptions import ConfigurationError
from streamwidgets.recording.recorder import REPLAY_CONFIG_MARKER
from streamwidgets.replay.rebuild import rebuild_dialect

__all__ = ["NEW_SESSION_MARKERS", "follow_marker"]

#: Markers after which the recorded feed started a new session.
NEW_SESSION_MARKERS = frozenset({"reconnecting", "disconnected", "failed", "connecting"})


def follow_marker(
    inner: Dialect, dialect_name: str, kind: str, detail: str, *, rebuild: bool = True
) -> tuple[Dialect, list[Control]]:
    """Apply one recorded marker to the parse-only dialect ``inner``.

    Args:
        inner: the dialect parsing the recorded frames.
        dialect_name: the recorded feed's dialect name (from the recording's header).
        kind: the marker's kind (``reconnecting``, ``replay-config``...).
        detail: the marker's text (for ``replay-config``, the options as JSON).
        rebuild: False when the user chose the dialect: recorded options are not applied.

    Returns:
        The dialect to parse the next frames with (``inner``, or a rebuilt one) and the
        notices to show (options that could not be applied: an error notice).

    Example:
        >>> from streamwidgets.replay.rebuild import rebuild_dialect
        >>> inner = rebuild_dialect("hydra", {"url": "ws://127.0.0.1:9/stream"})
        >>> _, notices = follow_marker(inner, "hydra", "replay-config", "not json")
        >>> notices[0].message
        'recorded replay options not applied: ...'
    """
    if kind in NEW_SESSION_MARKERS:
        inner.reset()
    elif kind == REPLAY_CONFIG_MARKER and rebuild:
        try:
            return rebuild_dialect(dialect_name, _config(detail)), []
        except ConfigurationError as exc:
            return inner, [ServerNotice(f"recorded replay options not applied: {exc}", None, True)]
    return inner, []


def _config(detail: str) -> Any:
    try:
        return orjson.loads(detail)
    except orjson.JSONDecodeError:
        raise ConfigurationError("the options are not JSON") from None
