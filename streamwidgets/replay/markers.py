"""Following a recording's markers with a parse-only copy of the recorded feed's dialect.

A recording (a file, or a relay's Redis stream) holds the frames of one or more live
sessions and markers between them. Whoever parses it again (:mod:`streamwidgets.replay.dialect`,
:mod:`streamwidgets.relay.feed`) does what the live connection did at each marker:

- a new session began (``connecting``, ``reconnecting``, ``disconnected``, ``failed``):
  the dialect forgets the previous session
  (:meth:`~streamwidgets.connection.dialect.Dialect.reset`);
- ``replay-config``: the live dialect resolved other options (Pusher's channels after its
  session bootstrap, a Hyperoru channel muted): the parse-only copy is rebuilt with them
  by the :data:`Rebuild` function the feed was given (the feed registry's
  :func:`~streamwidgets.feeds.registry.rebuild_dialect`), unless the user chose the
  dialect to parse with.

Example:
    >>> from streamwidgets.dialects.generic import GenericDialect
    >>> inner = GenericDialect.parse_only({"url": "ws://127.0.0.1:9/ws"})
    >>> inner, notices = follow_marker(
    ...     inner, "generic", "reconnecting", "connection lost", rebuild=None
    ... )
    >>> inner.name, notices
    ('generic', [])
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, TypeAlias

import orjson

from streamwidgets.connection.dialect import Dialect
from streamwidgets.events import Control, ServerNotice
from streamwidgets.exceptions import ConfigurationError
from streamwidgets.recording.recorder import REPLAY_CONFIG_MARKER

__all__ = ["NEW_SESSION_MARKERS", "Rebuild", "follow_marker"]

#: ``rebuild(dialect_name, replay_options) -> parse-only dialect``, raising
#: ConfigurationError when it cannot: how a recorded feed's dialect is made again.
Rebuild: TypeAlias = Callable[[str, Any], Dialect]

#: Markers after which the recorded feed started a new session.
NEW_SESSION_MARKERS = frozenset({"reconnecting", "disconnected", "failed", "connecting"})


def follow_marker(
    inner: Dialect, dialect_name: str, kind: str, detail: str, *, rebuild: Rebuild | None
) -> tuple[Dialect, list[Control]]:
    """Apply one recorded marker to the parse-only dialect ``inner``.

    Args:
        inner: the dialect parsing the recorded frames.
        dialect_name: the recorded feed's dialect name (from the recording's header).
        kind: the marker's kind (``reconnecting``, ``replay-config``...).
        detail: the marker's text (for ``replay-config``, the options as JSON).
        rebuild: makes the parse-only dialect again with recorded options (None when the
            user chose the dialect: recorded options are not applied).

    Returns:
        The dialect to parse the next frames with (``inner``, or a rebuilt one) and the
        notices to show (options that could not be applied: an error notice).

    Example:
        >>> from streamwidgets.dialects.generic import GenericDialect
        >>> def rebuild(name, config):
        ...     return GenericDialect.parse_only(config)
        >>> inner = rebuild("generic", {"url": "ws://127.0.0.1:9/ws"})
        >>> _, notices = follow_marker(inner, "generic", "replay-config", "not json",
        ...                            rebuild=rebuild)
        >>> notices[0].message
        'recorded replay options not applied: ...'
    """
    if kind in NEW_SESSION_MARKERS:
        inner.reset()
    elif kind == REPLAY_CONFIG_MARKER and rebuild is not None:
        try:
            return rebuild(dialect_name, _config(detail)), []
        except ConfigurationError as exc:
            return inner, [ServerNotice(f"recorded replay options not applied: {exc}", None, True)]
    return inner, []


def _config(detail: str) -> Any:
    try:
        return orjson.loads(detail)
    except orjson.JSONDecodeError:
        raise ConfigurationError("the options are not JSON") from None
