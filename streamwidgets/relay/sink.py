"""A recording's lines appended to a Redis Stream: the relay's sink, beside the file sinks.

The :class:`~streamwidgets.recording.recorder.Recorder` does everything a recording does (the
bounded queue and its counted ``lost`` marker, masking every credential, state markers,
``replay-config`` markers) and hands its lines to :class:`RedisSink` instead of a file, on
its writer thread. The sink adds each line as one entry (field ``r``) with ``XADD``,
a batch per pipeline, trimmed by ``MAXLEN ~`` or ``MINID ~``
(:class:`~streamwidgets.relay.target.Trim`), and keeps the header, as JSON, at
``KEY:header`` with the replay options in force from each entry id on (``"configs"``), so
a reader starting anywhere parses as the live feed did.

Entry ids are the receive times in ms, made strictly increasing (``ms-seq``). They are
given once per line, so a batch retried after Redis failed is not added twice: Redis
refuses an id at or below the stream's newest, and for a retried batch that refusal means
"already there". When Redis is down the writer thread retries with jittered backoff (and
the recorder's bounded queue fills, then drops and counts: a ``lost`` marker, the gap, is
the first entry once Redis is back); only a refusal (a wrong password, a key that is not
a stream) ends the relay.

Example:
    >>> from streamwidgets.relay.target import redis_target, trim
    >>> sink = RedisSink(redis_target("redis://127.0.0.1:6379/0", "hydra"), trim=trim())
    >>> sink.state, sink.format
    ('connecting', 'redis')
"""

from __future__ import annotations

import logging
import threading
import time
from typing import Any

import orjson

from streamwidgets.connection.backoff import Backoff
from streamwidgets.recording.recorder import REPLAY_CONFIG_MARKER, _LineSink
from streamwidgets.relay.target import (
    FIELD,
    RedisTarget,
    Trim,
    describe_error,
    is_refusal,
    parse_id,
)

__all__ = ["RedisSink", "RelayRefused"]

logger = logging.getLogger(__name__)

_CONFIGS_KEPT = 32  # replay options kept in the header, newest last
_CLOSE_TIMEOUT = 3.0  # seconds a stopping relay still tries to reach Redis


class RelayRefused(Exception):
    """Redis refused the relay (password, permission, a key of another type): not transient."""


class RedisSink(_LineSink):
    """Append recording lines to a Redis Stream; used by :class:`~streamwidgets.relay.relay.Relay`.

    Runs on the recorder's writer thread (a blocking ``redis.Redis`` client there keeps the
    event loop, which reads the feed, free of Redis round trips).

    Args:
        target: the Redis server, database and stream key.
        trim: the stream's bound.
        relay: facts about the relay to keep in the header (key, streams, bound).
        stopping: set when the relay stops: from then on Redis is tried for at most
            ``close_timeout`` seconds more.
        backoff: delays between attempts while Redis is down (0.1 s doubling to 10 s).
        close_timeout: seconds, see ``stopping``.
    """

    format = "redis"

    #: Failures the recorder reports without a traceback: Redis said no.
    refusals = (RelayRefused,)

    def __init__(
        self,
        target: RedisTarget,
        *,
        trim: Trim,
        relay: dict[str, Any] | None = None,
        stopping: threading.Event | None = None,
        backoff: Backoff | None = None,
        close_timeout: float = _CLOSE_TIMEOUT,
    ) -> None:
        # Not a file: none of the line sink's file state, only its interface (the recorder
        # hands a line sink whole blocks of lines).
        self.target = target
        self.trim = trim
        self.size = 0
        #: Entries added to the stream.
        self.entries = 0
        #: Entries of a retried batch that Redis already had (not added twice).
        self.already_there = 0
        #: Times Redis became unreachable.
        self.outages = 0
        #: ``connecting``, ``connected``, ``reconnecting``, ``failed`` or ``closed``.
        self.state = "connecting"
        #: Why, in plain words.
        self.reason = f"connecting to {target.display}"
        self._relay = dict(relay or {})
        self._stopping = stopping or threading.Event()
        self._backoff = backoff or Backoff(initial=0.1, maximum=10.0)
        self._close_timeout = close_timeout
        self._client: Any = None
        self._header: dict[str, Any] = {}
        self._header_due = True
        self._header_checked = 0.0
        self._pending: list[bytes] = []
        self._configs: dict[int, Any] = {}  # index in _pending -> replay options it starts
        self._last = (0, 0)
        self._down_since: float | None = None

    def open(self, header: dict[str, Any]) -> RedisSink:
        """Take the recording's header (written to ``KEY:header`` once Redis answers)."""
        self._header = {**header, "relay": self._relay, "configs": [["0-0", header.get("replay")]]}
        self._header_due = True
        return self

    # The sink interface (the recorder's writer thread) -----------------------------------------

    def write(self, record: dict[str, Any], line: str) -> None:
        if record.get("marker") == REPLAY_CONFIG_MARKER:
            # The checked (masked) line's detail, not the record's.
            self._configs[len(self._pending)] = orjson.loads(orjson.loads(line)["detail"])
        self._pending.append(line.encode())
        if len(self._pending) >= 4096:
            self._send()

    def write_block(self, data: bytes) -> None:
        lines = data.split(b"\n")
        if lines and not lines[-1]:
            lines.pop()
        self._pending.extend(lines)
        self._send()

    def fits(self, n: int, limit: int) -> bool:
        return True  # bounded by trimming, not by size

    def flush(self) -> None:
        self._send()

    def close(self) -> None:
        try:
            self._send()
        finally:
            self._disconnect()
            if self.state != "failed":
                self.state, self.reason = "closed", "the relay stopped"

    def abandon(self) -> None:
        self._disconnect()
        if self.state != "failed":
            self.state = "closed"

    # Sending --------------------------------------------------------------------------------

    def _send(self) -> None:
        if not self._pending and self._client is not None and not self._header_due:
            return
        lines, configs = self._pending, self._configs
        self._pending, self._configs = [], {}
        ids: list[str] | None = None
        retried = False
        deadline: float | None = None
        while True:
            try:
                client = self._connected()
                if ids is None:
                    ids = self._ids(lines)
                    self._note_configs(ids, configs)
                if not self._header_due and time.monotonic() >= self._header_checked + 1.0:
                    # Once a second: a FLUSHALL or a DEL of it leaves new readers nothing
                    # to rebuild the feed's dialect from.
                    self._header_checked = time.monotonic()
                    self._header_due = not client.exists(self.target.header_key)
                if self._header_due:
                    client.set(self.target.header_key, orjson.dumps(self._header))
                    self._header_due = False
                if lines:
                    self._add(client, ids, lines, retried)
                self._reachable()
                return
            except RelayRefused:
                raise
            except Exception as exc:
                if is_refusal(exc):
                    self.state = "failed"
                    self.reason = f"Redis refused the relay: {describe_error(exc)}"
                    raise RelayRefused(self.reason) from None
                retried = True
                delay = self._unreachable(exc)
                if self._stopping.is_set():
                    now = time.monotonic()
                    deadline = deadline or now + self._close_timeout
                    if now + delay > deadline:
                        raise ConnectionError(
                            f"Redis unreachable as the relay stopped: {len(lines):,} lines not "
                            f"added ({self.reason})"
                        ) from None
                    time.sleep(delay)
                else:
                    self._stopping.wait(delay)

    def _connected(self) -> Any:
        if self._client is not None:
            return self._client
        client = self.target.sync_client("streamwidgets-relay")
        try:
            newest = client.xrevrange(self.target.key, "+", "-", count=1)
        except Exception:
            client.close()
            raise
        if newest:  # continue above what a previous relay added
            self._last = max(self._last, parse_id(newest[0][0]))
        self._client = client
        self._header_due = True  # Redis may have restarted without it
        return client

    def _ids(self, lines: list[bytes]) -> list[str]:
        ms_last, seq = self._last
        ids = []
        for line in lines:
            ms = _t_ns(line) // 1_000_000
            if ms > ms_last:
                ms_last, seq = ms, 0
            else:
                seq += 1
            ids.append(f"{ms_last}-{seq}")
        self._last = (ms_last, seq)
        return ids

    def _note_configs(self, ids: list[str], configs: dict[int, Any]) -> None:
        if not configs:
            return
        kept = self._header["configs"]
        for index, config in sorted(configs.items()):
            kept.append([ids[index], config])
        del kept[:-_CONFIGS_KEPT]
        self._header["replay_latest"] = kept[-1][1]
        self._header_due = True

    def _add(self, client: Any, ids: list[str], lines: list[bytes], retried: bool) -> None:
        key = self.target.key
        bound = self.trim.xadd_options(time.time_ns() // 1_000_000)
        args = (
            ("MINID", "~", bound["minid"])
            if "minid" in bound
            else ("MAXLEN", "~", str(bound["maxlen"]))
        )
        pipe = client.pipeline(transaction=False)
        for entry_id, line in zip(ids, lines, strict=True):
            pipe.execute_command("XADD", key, *args, entry_id, FIELD, line)
        results = pipe.execute(raise_on_error=False)
        again: list[int] = []
        for index, result in enumerate(results):
            if not isinstance(result, Exception):
                self.entries += 1
                self.size += len(lines[index])
            elif "equal or smaller" not in str(result):
                raise result
            elif retried:
                self.already_there += 1  # added before the connection broke
            else:
                again.append(index)
        if again:
            self._after_another_writer(client, [ids[i] for i in again], [lines[i] for i in again])

    def _after_another_writer(self, client: Any, ids: list[str], lines: list[bytes]) -> None:
        # Another writer put newer entries in this stream: go on above them (out of order
        # for these few lines, rather than lost). One relay per key avoids it.
        logger.warning(
            "%s: another writer added newer entries; %d lines appended after them",
            self.target.display,
            len(lines),
        )
        newest = client.xrevrange(self.target.key, "+", "-", count=1)
        if newest:
            self._last = max(self._last, parse_id(newest[0][0]))
        self._add(client, self._ids(lines), lines, retried=False)

    # States ---------------------------------------------------------------------------------

    def _unreachable(self, exc: BaseException) -> float:
        self._disconnect()
        now = time.monotonic()
        if self._down_since is None:
            self._down_since = now
            self.outages += 1
            logger.warning("%s unreachable: %s", self.target.display, describe_error(exc))
        delay = self._backoff.next_delay()
        self.state = "reconnecting"
        self.reason = (
            f"Redis unreachable: {describe_error(exc)}; down for {now - self._down_since:.0f} s, "
            f"attempt {self._backoff.failures}, next in {delay:.1f} s"
        )
        return delay

    def _reachable(self) -> None:
        if self.state != "connected":
            if self._down_since is not None:
                logger.warning(
                    "%s reachable again after %.1f s",
                    self.target.display,
                    time.monotonic() - self._down_since,
                )
            self.state, self.reason = "connected", f"adding to {self.target.display}"
        self._down_since = None
        self._backoff.reset()

    def _disconnect(self) -> None:
        client, self._client = self._client, None
        if client is not None:
            try:
                client.close()
            except Exception:
                logger.debug("closing the Redis client failed", exc_info=True)


def _t_ns(line: bytes) -> int:
    # Every recording line starts with its time: {"t_ns":1700000000000000000,...
    if line.startswith(b'{"t_ns":'):
        end = line.find(b",", 8)
        try:
            return int(line[8:end])
        except ValueError:
            pass
    return time.time_ns()
