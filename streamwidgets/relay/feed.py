"""Reading a relay's Redis Stream as a feed: the relayed feed, parsed by its own dialect.

:class:`RedisDialect` (made by :func:`streamwidgets.feeds.redis`) is a feed like any other:
give it to ``StreamWidget`` or ``streamwidgets.open``. Its connection reads the stream a
:class:`~streamwidgets.relay.relay.Relay` writes, through a loopback
:class:`~streamwidgets.relay.bridge.RedisBridge` (the way replay reads a file), so it has a
live feed's states, backoff, gaps and stats: Redis down is ``reconnecting: Redis
unreachable: ...``, and the reader goes on after the last entry it parsed, with nothing
twice. Any number of readers (notebooks, processes) read one stream at once.

Parsing is replay's: the dialect named in the relay's header is rebuilt for parsing only
(by the ``rebuild`` function the feed is given, the feed registry's, see
:func:`streamwidgets.feeds.redis`) with the replay options in force at the start, and
each frame is parsed with its recorded receive time, so the rows are the relay's own.
Recorded markers are followed as replay follows them (:mod:`streamwidgets.replay.markers`);
the relayed feed's reconnects, the relay's ``lost`` frames and its stop become notices
(``connection.notices``, the widget's error line).

The relay chose what is subscribed upstream, so the reader has no subscribe step: its
streams (and the widget's toggles) filter what is buffered, on the client.

Example:
    >>> from streamwidgets.dialects.generic import GenericDialect
    >>> parse_with = GenericDialect("ws://127.0.0.1:9/ws")
    >>> RedisDialect("redis://127.0.0.1:6379/0", "k", start="yesterday", dialect=parse_with)
    Traceback (most recent call last):
    ...
    streamwidgets.exceptions.ConfigurationError: start must be 'now', 'begin' or a ...
"""

from __future__ import annotations

import datetime
from collections.abc import Sequence
from typing import Any

import orjson

from streamwidgets._util import checks
from streamwidgets._util.secret import Secret
from streamwidgets.connection.dialect import (
    CloseAction,
    CloseDecision,
    ConnectTarget,
    Dialect,
    Keepalive,
)
from streamwidgets.events import Control, Event, ServerNotice
from streamwidgets.exceptions import (
    AuthenticationFailed,
    ConfigurationError,
    ConnectionFailed,
    FrameError,
)
from streamwidgets.recording.reader import read_line
from streamwidgets.recording.recorder import FORMAT, FORMAT_VERSION
from streamwidgets.relay.bridge import REFUSED, UNREACHABLE, RedisBridge
from streamwidgets.relay.target import (
    RedisTarget,
    describe_error,
    is_refusal,
    parse_id,
    redis_target,
    start_after,
)
from streamwidgets.replay.markers import Rebuild, follow_marker

__all__ = ["RedisDialect"]

DEFAULT_PAGE = 1000
#: Markers of the relayed connection shown to the reader, and whether each is an error.
_UPSTREAM = {"reconnecting": False, "disconnected": False, "failed": True}

#: The widget's words beside the stream toggles (the ``feed`` trait's ``streams_note``).
STREAMS_NOTE = "relayed: the relay chose the subscriptions; toggles filter here"


class RedisDialect(Dialect):
    """A relay's Redis Stream as a feed. Made by :func:`streamwidgets.feeds.redis`.

    Args:
        url: ``redis://HOST:PORT/DB``.
        key: the stream's key (the relay's ``--key``).
        start: ``"now"``, ``"begin"`` or a timezone-aware datetime.
        dialect: parse with this dialect instead of the one the relay's header names
            (then the header is not read, and Redis need not be up yet).
        password: the Redis password, if it needs one.
        page: entries read per ``XREAD`` (backfill comes in pages of this many).
        rebuild: makes the dialect the relay's header names, for parsing only, from the
            recorded replay options (needed unless ``dialect`` is given).

    Raises:
        ConfigurationError: a bad URL, key, start or page; neither ``dialect`` nor
            ``rebuild``; no relay header; a dialect that cannot be rebuilt.
        ConnectionFailed: Redis unreachable while reading the header.
    """

    streams_note = STREAMS_NOTE

    def __init__(
        self,
        url: str,
        key: str,
        *,
        start: str | datetime.datetime = "now",
        dialect: Dialect | None = None,
        password: str | Secret | None = None,
        page: int = DEFAULT_PAGE,
        rebuild: Rebuild | None = None,
    ) -> None:
        self.source = redis_target(url, key, password)
        self._start = start_after(start)
        self.start = start
        self.page = checks.count("page", page, maximum=100_000)
        if dialect is not None and not isinstance(dialect, Dialect):
            raise checks.ArgumentTypeError(f"dialect must be a feed dialect, got {dialect!r}")
        if dialect is None and rebuild is None:
            raise ConfigurationError("give the dialect to parse with, or a rebuild function")
        self.header: dict[str, Any] = {} if dialect is not None else read_header(self.source)
        # Recorded replay options are followed only when the relay's header chose the dialect.
        self._rebuild = rebuild if dialect is None else None
        self._recorded = self.header.get("dialect") or (dialect.name if dialect else "feed")
        self.inner = dialect or rebuild(  # type: ignore[misc]
            self._recorded, config_at(self.header, self._start)
        )
        super().__init__()
        self.name = f"redis:{self.inner.name}"
        self.explode = self.inner.explode
        self.new_session()

    # The inner dialect's view of the session ----------------------------------------------

    @property  # type: ignore[override]
    def available_streams(self) -> list[str] | None:
        """What the relayed server said it offers (once its welcome came through), else the
        streams the relay subscribed to."""
        inner = getattr(self, "inner", None)
        if inner is None:
            return None
        if inner.available_streams is not None:
            return inner.available_streams
        relayed = self.header.get("relay", {}).get("streams")
        return list(relayed) if relayed else None

    @available_streams.setter
    def available_streams(self, value: list[str] | None) -> None:
        inner = getattr(self, "inner", None)
        if inner is not None:
            inner.available_streams = value

    def new_session(self) -> None:
        """A connection's own reader: its parse-only dialect, position, client and bridge."""
        self.inner = self.inner.for_connection()
        self._after = self._start
        self._resumes = False
        self._client: Any = None
        self._bridge: RedisBridge | None = None

    def reset(self) -> None:
        """Nothing to forget: a new Redis connection is not a new session of the relayed
        feed (the relay's markers say when that began)."""

    def secrets(self) -> list[Secret]:
        return [] if self.source.password is None else [self.source.password]

    async def prepare(self) -> None:
        if self._client is None:
            self._client = self.source.async_client("streamwidgets-reader")
        try:
            if self._after is None:  # "now": after the newest entry at the first connect
                self._after = await _newest_id(self._client, self.source.key)
            else:
                await self._client.ping()
        except Exception as exc:
            said = describe_error(exc)
            if is_refusal(exc):
                raise AuthenticationFailed(f"Redis refused the reader: {said}") from None
            raise ConnectionFailed(f"Redis unreachable at {self.source.url}: {said}") from None
        if self._bridge is None:
            self._bridge = RedisBridge(self._client, self.source, page=self.page)
            await self._bridge.start()

    def target_url(self) -> str:
        """Where the bridge serves this reader's next connection (after the last entry)."""
        assert self._bridge is not None, "prepare() first"
        # From the second attempt on, the bridge checks that nothing unread was trimmed.
        resume = "&resume=1" if self._resumes else ""
        self._resumes = True
        return f"{self._bridge.url}?after={self._after}{resume}"

    def target(self) -> ConnectTarget:
        return ConnectTarget(url=self.target_url(), display_url=self.source.display)

    @property
    def supports_subscribe(self) -> bool:
        return False  # the relay subscribed; streams filter here

    def check_streams(self, streams: Sequence[str]) -> None:
        self.inner.check_streams(streams)

    def keepalive(self) -> Keepalive:
        # Loopback; Redis's liveness is the bridge's XREAD, which returns every second.
        return Keepalive(idle_timeout=None, protocol_ping_interval=None)

    def on_close(self, code: int | None, reason: str) -> CloseDecision:
        if code == UNREACHABLE and reason.startswith("Redis"):
            return CloseDecision(CloseAction.RECONNECT, reason)
        if code == REFUSED:
            return CloseDecision(CloseAction.STOP, reason, auth_failure=True)
        if self._bridge is not None and not self._bridge.running:
            return CloseDecision(CloseAction.STOP, "the Redis reader was closed")
        return super().on_close(code, reason)

    def describe(self) -> dict[str, Any]:
        start = self.start if isinstance(self.start, str) else self.start.isoformat()
        return {
            "dialect": self.name,
            "url": self.source.display,
            "start": start,
            "relayed": self.header.get("describe", {}),
        }

    async def aclose(self) -> None:
        bridge, self._bridge = self._bridge, None
        if bridge is not None:
            await bridge.stop()
        client, self._client = self._client, None
        if client is not None:
            await client.aclose()

    # Entries ---------------------------------------------------------------------------------

    @property
    def last_id(self) -> str | None:
        """The id of the last entry parsed (where a reconnect goes on from)."""
        return self._after

    def parse(self, frame: str | bytes, received_ns: int) -> list[Event | Control]:
        if not isinstance(frame, bytes):
            raise FrameError("not a frame from the Redis bridge (binary: id, newline, line)")
        cut = frame.find(b"\n")
        if cut <= 0:
            raise FrameError("not a frame from the Redis bridge (binary: id, newline, line)")
        entry_id = frame[:cut].decode()
        self._after = entry_id
        try:
            entry = read_line(frame[cut + 1 :])
        except ValueError as exc:
            raise FrameError(f"Redis entry {entry_id}: {exc}") from None
        if entry.kind == "in":
            return self.inner.parse(entry.payload, entry.t_ns)
        if entry.kind != "marker":
            return []  # a frame the relayed client sent
        kind, detail = str(entry.payload), entry.detail
        self.inner, notices = follow_marker(
            self.inner, self._recorded, kind, detail, rebuild=self._rebuild
        )
        where = {"entry": entry_id, "t_ns": entry.t_ns}
        if kind == "lost":
            notices.append(ServerNotice(f"the relay dropped frames here: {detail}", where, True))
        elif kind == "trimmed":
            notices.append(ServerNotice(detail, where, True))
        elif kind == "end":
            notices.append(ServerNotice(f"the relay stopped: {detail}", where))
        elif kind in _UPSTREAM:
            said = f"the relayed feed is {kind}: {detail}"
            notices.append(ServerNotice(said, where, _UPSTREAM[kind]))
        return list(notices)


def read_header(target: RedisTarget) -> dict[str, Any]:
    """The relay's header at ``KEY:header`` (one ``GET``).

    Raises:
        ConnectionFailed: Redis unreachable.
        ConfigurationError: no relay wrote there, or not a header this version reads.
    """
    client = target.sync_client("streamwidgets-reader")
    try:
        raw = client.get(target.header_key)
    except Exception as exc:
        said = describe_error(exc)
        if is_refusal(exc):
            raise AuthenticationFailed(f"Redis refused the reader: {said}") from None
        raise ConnectionFailed(
            f"Redis unreachable at {target.url}: {said}; the relay's header there says how to "
            "parse the stream (pass dialect= to read without it)"
        ) from None
    finally:
        client.close()
    if raw is None:
        raise ConfigurationError(
            f"no relay has written to {target.display} (no {target.header_key!r}): start "
            f"`streamwidgets relay FEED --to {target.url} --key {target.key}` first"
        )
    try:
        header = orjson.loads(raw)
    except orjson.JSONDecodeError:
        header = None
    if not isinstance(header, dict) or header.get("format") != FORMAT:
        raise ConfigurationError(f"{target.header_key!r} is not a streamwidgets relay header")
    version = header.get("version")
    if not isinstance(version, int) or version > FORMAT_VERSION:
        raise ConfigurationError(
            f"the relay at {target.display} writes format version {version!r}; this "
            f"streamwidgets reads version {FORMAT_VERSION} at most: upgrade streamwidgets"
        )
    if not isinstance(header.get("dialect"), str):
        raise ConfigurationError(f"{target.header_key!r} names no dialect")
    return header


def config_at(header: dict[str, Any], after: str | None) -> Any:
    """The replay options in force after entry ``after`` (None: the newest).

    Example:
        >>> header = {"replay": {"v": 0}, "configs": [["0-0", {"v": 0}], ["50-0", {"v": 1}]]}
        >>> config_at(header, "10-0"), config_at(header, "60-0"), config_at(header, None)
        ({'v': 0}, {'v': 1}, {'v': 1})
    """
    configs = header.get("configs") or [["0-0", header.get("replay")]]
    if after is None:
        return configs[-1][1]
    position = parse_id(after)
    chosen = configs[0][1]
    for entry_id, config in configs:
        if parse_id(entry_id) <= position:
            chosen = config
    return chosen


async def _newest_id(client: Any, key: str) -> str:
    newest = await client.xrevrange(key, "+", "-", count=1)
    return newest[0][0].decode() if newest else "0-0"
