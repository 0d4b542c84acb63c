"""Recording a feed's raw frames to a file as they arrive, bounded, without slowing ingest.

Formats, chosen by the file name:

- ``*.jsonl.gz`` (gzip) or ``*.jsonl`` (plain): JSON lines. The first line is the header::

      {"format": "streamwidgets-recording", "version": 1, "created_at": ISO-8601,
       "dialect": name, "describe": {...non-secret facts...},
       "replay": {...the dialect's replay_config(), or null...}, "include_sent": bool,
       "limits": {"max_bytes": ..., "max_duration": ...}}

  then one line per frame, ``{"t_ns": epoch ns, "dir": "in"|"out", "text": str}`` (or
  ``"bytes": base64`` for a binary frame), and marker lines
  ``{"t_ns": ..., "marker": kind, "detail": str}``: the connection's states
  (``connected``, ``reconnecting``, ``failed``, ``closed``...), ``lost`` (frames dropped
  because the writer fell behind, with their ``count``), ``replay-config`` (the dialect's
  ``replay_config()`` as JSON in ``detail``, written before a session's first frame when
  it differs from the header's: a feed that resolves its options when it connects, such
  as Pusher's session bootstrap) and a last ``end`` line saying why the recording
  stopped, with the totals. The gzip stream is flushed (sync flush)
  every ``flush_interval`` seconds, so a crash loses at most that much.
- ``*.parquet``: the same lines as rows (``t_ns``, ``dir``, ``text``, ``bytes``,
  ``marker``, ``detail``), written in row groups; the header is JSON in the schema's
  metadata under ``streamwidgets_recording``.

Ingest only appends ``(time, direction, frame)`` to a bounded queue; a writer thread
encodes, redacts and writes. When the queue is full (a slow disk), frames are dropped
and counted, and a ``lost`` marker says how many: memory never grows without bound.
``max_bytes`` bounds the file, ``max_duration`` the recorded time; reaching either ends
the recording cleanly with an ``end`` marker giving the reason.

Secrets: only frames and non-secret metadata are written, and every line is checked
against the dialect's :meth:`~streamwidgets.connection.dialect.Dialect.secrets` (as given,
URL-encoded, base64 and hex: :func:`~streamwidgets._util.secret.encoded_forms`); a match
becomes ``***``. Welcome frames that echo a token, and sent
auth frames, are therefore recorded without it.

Example:
    >>> from streamwidgets.dialects.hydra import HydraDialect
    >>> rec = Recorder("feed.jsonl.gz", dialect=HydraDialect("ws://h/stream", token="t"),
    ...                max_duration=60)  # doctest: +SKIP
    >>> rec.received('{"type":"heartbeat"}', 1_700_000_000_000_000_000)  # doctest: +SKIP
    >>> rec.close().frames  # doctest: +SKIP
    1
"""

from __future__ import annotations

import asyncio
import base64
import datetime
import logging
import os
import threading
import time
import zlib
from collections import deque
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import IO, Any, Protocol
from urllib.parse import quote

import orjson

from streamwidgets._util.secret import encoded_forms
from streamwidgets.exceptions import ConfigurationError

__all__ = [
    "FORMAT",
    "FORMAT_VERSION",
    "REPLAY_CONFIG_MARKER",
    "Recorder",
    "RecordingSummary",
    "recording_format",
]

logger = logging.getLogger(__name__)

FORMAT = "streamwidgets-recording"
FORMAT_VERSION = 1
PARQUET_HEADER_KEY = b"streamwidgets_recording"
#: The marker holding the dialect's replay options once they changed since the header.
REPLAY_CONFIG_MARKER = "replay-config"

# Limits
DEFAULT_MAX_QUEUE = 100_000
DEFAULT_MAX_QUEUE_BYTES = 64 * 1024 * 1024
_BATCH = 4096
_POLL = 0.02  # seconds the writer sleeps when the queue is empty
# Room kept under max_bytes for the end marker and the gzip trailer / Parquet footer.
_RESERVE = {"gzip": 1024, "plain": 1024, "parquet": 16 * 1024}
_PARQUET_ROWS = 20_000
_MASK = "***"
#: The shortest credential whose base64 and hex forms are masked as well.
_ENCODED_MIN = 8


class RecordedFeed(Protocol):
    """What a recorder reads from the feed it records (a
    :class:`~streamwidgets.connection.dialect.Dialect` has all of it)."""

    name: str

    def describe(self) -> dict[str, Any]: ...

    def replay_config(self) -> dict[str, Any] | None: ...

    def secrets(self) -> Sequence[object]: ...


def recording_format(path: str | os.PathLike[str]) -> str:
    """The format a file name asks for: ``gzip``, ``plain`` or ``parquet``.

    Example:
        >>> recording_format("feed.jsonl.gz"), recording_format("feed.parquet")
        ('gzip', 'parquet')
        >>> recording_format("feed.txt")
        Traceback (most recent call last):
        ...
        streamwidgets.exceptions.ConfigurationError: a recording is a .jsonl.gz, ...
    """
    name = Path(path).name.lower()
    if name.endswith(".gz"):
        return "gzip"
    if name.endswith(".jsonl"):
        return "plain"
    if name.endswith(".parquet"):
        return "parquet"
    raise ConfigurationError(
        f"a recording is a .jsonl.gz, .jsonl or .parquet file, got {Path(path).name!r}"
    )


@dataclass(frozen=True, slots=True)
class RecordingSummary:
    """What a recording holds once stopped (or so far, while it runs)."""

    path: Path
    frames: int
    """Frames written."""
    bytes: int
    """Bytes in the file (compressed)."""
    lost: int
    """Frames dropped because the writer fell behind (each drop is marked in the file)."""
    not_recorded: int
    """Frames that arrived after the recording stopped (a bound was reached)."""
    stopped: str | None
    """Why the recording stopped, or None while it runs."""


class Recorder:
    """Write every frame handed to it to a recording file, from a background thread.

    Made by :meth:`Connection.record <streamwidgets.connection.driver.Connection.record>`,
    ``StreamWidget.record`` or ``streamwidgets.open(..., record=path)``; the connection
    hands it frames and state changes.

    Args:
        path: ``*.jsonl.gz``, ``*.jsonl`` or ``*.parquet``; an existing file is replaced.
        dialect: the feed's dialect (its name, non-secret facts and secrets to redact).
        include_sent: also record the frames the client sends.
        max_bytes: stop before the file grows past this many bytes.
        max_duration: stop after this many seconds.
        max_queue: frames that may wait for the writer before new ones are dropped.
        max_queue_bytes: bytes that may wait for the writer before new ones are dropped.
        flush_interval: seconds between two flushes to disk.
        compression_level: gzip level, 1 (fast) to 9 (small). The default, 3, costs
            feed frames less than half the CPU of level 6 for files about a fifth larger:
            recording must not slow ingest.
        poll_interval: seconds the writer waits for frames when the queue is empty (a
            relay keeps it short: it is the latency the writer adds).
        sink: write the lines there instead of to ``path`` (which then only names the
            recording): an object with the file sinks' methods and a ``format``, opened
            with the header (``sink.open(header)``), e.g. the relay's Redis stream
            (:mod:`streamwidgets.relay.sink`).
    """

    def __init__(
        self,
        path: str | os.PathLike[str],
        *,
        dialect: RecordedFeed,
        include_sent: bool = False,
        # Limits
        max_bytes: int | None = None,
        max_duration: float | None = None,
        max_queue: int = DEFAULT_MAX_QUEUE,
        max_queue_bytes: int = DEFAULT_MAX_QUEUE_BYTES,
        # Writing
        flush_interval: float = 1.0,
        compression_level: int = 3,
        poll_interval: float = _POLL,
        sink: Any = None,
    ) -> None:
        self.format = recording_format(path) if sink is None else str(sink.format)
        _check_options(max_bytes, max_duration, max_queue, max_queue_bytes, flush_interval)
        if not isinstance(compression_level, int) or not 1 <= compression_level <= 9:
            raise ConfigurationError(f"compression_level must be 1-9, got {compression_level!r}")
        self.path = Path(path)
        # As given: Path would fold a sink's URL (redis://h) into redis:/h.
        self._shown = os.fspath(path)
        if sink is None and not self.path.parent.is_dir():
            raise ConfigurationError(f"no such directory for the recording: {self.path.parent}")
        self.include_sent = bool(include_sent)
        self.max_bytes = max_bytes
        self.max_duration = max_duration
        self._dialect = dialect
        self._max_queue = max_queue
        self._max_queue_bytes = max_queue_bytes
        self._flush_interval = flush_interval
        if not isinstance(poll_interval, (int, float)) or not 0 < poll_interval <= 1:
            raise ConfigurationError(f"poll_interval must be 0-1 seconds, got {poll_interval!r}")
        self._poll = float(poll_interval)
        self._started_ns = time.time_ns()
        self._deadline_ns = (
            None if max_duration is None else self._started_ns + int(max_duration * 1e9)
        )
        self._queue: deque[tuple[int, str, Any, Any]] = deque()
        # Each counter has one writer (ingest or the writer thread), so no lock is needed.
        self._queued_bytes_in = 0
        self._queued_bytes_out = 0
        self._lost = 0
        self._lost_marked = 0
        self._not_recorded = 0
        self._frames = 0
        self._active = True
        self._stop_reason: str | None = None
        self._user_reason = "stopped by the user"
        self._closing = threading.Event()
        self._done = threading.Event()
        self._detach: list[Any] = []
        self._secrets_seen: set[str] = set()
        # The replay options last written, checked again at each session's first frame.
        self._replay_config = dialect.replay_config()
        self._config_due = True
        self._sink: _Sink = (
            _open_sink(self.format, self.path, self._header(), compression_level)
            if sink is None
            else sink.open(self._header())
        )
        self._thread = threading.Thread(
            target=self._write_loop, name=f"streamwidgets-recorder-{self.path.name}", daemon=True
        )
        self._thread.start()

    # Ingest side: called on the event loop for every frame; must stay cheap ----------------

    def received(self, frame: str | bytes, t_ns: int) -> None:
        """Queue a received frame (dropped and counted if the writer is behind)."""
        if self._config_due:
            self._note_replay_config(t_ns)
        self._put(t_ns, "in", frame)

    def sent(self, frame: str | bytes, t_ns: int) -> None:
        """Queue a sent frame, if sent frames are recorded."""
        if self.include_sent:
            self._put(t_ns, "out", frame)

    def marker(self, kind: str, detail: str = "", t_ns: int | None = None) -> None:
        """Queue a marker line (never dropped while the recording runs)."""
        if self._active:
            self._queue.append((time.time_ns() if t_ns is None else t_ns, "marker", kind, detail))

    def options_may_have_changed(self) -> None:
        """Compare the dialect's replay options again at the next frame (after a subscribe or
        unsubscribe: a feed that filters on the client parses differently from then on)."""
        self._config_due = True

    def _note_replay_config(self, t_ns: int) -> None:
        # Once per session, at its first frame (so after the dialect's prepare step): options
        # resolved since the header (Pusher's catalog and channels) go in a marker before it.
        self._config_due = False
        config = self._dialect.replay_config()
        if config != self._replay_config:
            self._replay_config = config
            self.marker(REPLAY_CONFIG_MARKER, orjson.dumps(config, default=str).decode(), t_ns)

    def _put(self, t_ns: int, direction: str, frame: str | bytes) -> None:
        if not self._active:
            self._not_recorded += 1
            return
        size = len(frame)
        if (
            len(self._queue) >= self._max_queue
            or self._queued_bytes_in - self._queued_bytes_out + size > self._max_queue_bytes
        ):
            self._lost += 1
            return
        self._queued_bytes_in += size
        self._queue.append((t_ns, direction, frame, size))

    # Following a connection -------------------------------------------------------------

    def follow(
        self,
        on_state: Callable[[Callable[[Any], None]], Callable[[], None]],
        state: str,
        reason: str,
    ) -> None:
        """Record a connection's state changes as markers, starting with ``state`` (its
        value, e.g. ``"connected"``) and ``reason`` now.

        ``on_state`` registers a callback for every change (an object with ``state`` and
        ``reason``, as :class:`streamwidgets.connection.StateChange`) and returns the
        function that removes it; the recorder removes it when it stops.
        """
        self.marker("recording", f"state {state}: {reason}")

        def on_change(change: Any) -> None:
            self.marker(change.state.value, change.reason)
            self._config_due = True  # a new session may have new replay options

        self._detach.append(on_state(on_change))

    # Stopping -----------------------------------------------------------------------------

    @property
    def active(self) -> bool:
        """True while frames are being recorded."""
        return self._active

    @property
    def stopped(self) -> str | None:
        """Why the recording stopped (None while it runs)."""
        return self._stop_reason

    def summary(self) -> RecordingSummary:
        """Frames, bytes, losses and state, now.

        Example:
            >>> rec.summary().frames  # doctest: +SKIP
            1200
        """
        return RecordingSummary(
            self.path,
            self._frames,
            self._sink.size,
            self._lost,
            self._not_recorded,
            self._stop_reason,
        )

    def close(self, reason: str = "stopped by the user") -> RecordingSummary:
        """Write what is queued, end the file, and wait for the writer (blocking).

        Safe to call twice; a recording that already stopped keeps its first reason.
        """
        self._request_stop(reason)
        self._thread.join()
        return self.summary()

    async def aclose(self, reason: str = "stopped by the user") -> RecordingSummary:
        """:meth:`close` without blocking the event loop."""
        self._request_stop(reason)
        # Polled, not joined in an executor: the loop's default executor would keep an
        # idle worker thread alive for the rest of the process.
        while self._thread.is_alive():
            await asyncio.sleep(0.01)
        return self.summary()

    def _request_stop(self, reason: str) -> None:
        for detach in self._detach:
            detach()
        self._detach.clear()
        if not self._closing.is_set():
            self._user_reason = reason
        self._closing.set()

    def __repr__(self) -> str:
        s = self.summary()
        state = f"stopped: {s.stopped}" if s.stopped else "recording"
        return f"<Recorder {s.path.name} {state} frames={s.frames} bytes={s.bytes} lost={s.lost}>"

    # Writer thread ------------------------------------------------------------------------

    def _header(self) -> dict[str, Any]:
        dialect = self._dialect
        header = {
            "format": FORMAT,
            "version": FORMAT_VERSION,
            "created_at": datetime.datetime.now(datetime.UTC).isoformat(),
            "dialect": dialect.name,
            "describe": dialect.describe(),
            "replay": self._replay_config,
            "include_sent": self.include_sent,
            "limits": {"max_bytes": self.max_bytes, "max_duration": self.max_duration},
        }
        # Non-secret by contract, checked anyway: a URL may carry a credential.
        return orjson.loads(self._redact(orjson.dumps(header, default=str).decode()))

    def _secret_forms(self) -> list[str]:
        # Every credential ever held is kept: a refreshed JWT may still echo the old one.
        forms = self._secrets_seen
        for secret in self._dialect.secrets():
            value = secret.reveal()
            forms.update({value, quote(value, safe=""), quote(value)})
            if len(value) >= _ENCODED_MIN:
                # Base64 and hex too: a server may echo a credential in any form. Not for
                # a short one, whose hex ("74" for "t") would turn up inside numbers.
                forms.update(encoded_forms(value))
        return sorted(forms, key=len, reverse=True)

    def _redact(self, text: str, forms: list[str] | None = None) -> str:
        for form in self._secret_forms() if forms is None else forms:
            if form in text:
                text = text.replace(form, _MASK)
        return text

    def _write_loop(self) -> None:
        sink = self._sink
        next_flush = time.monotonic() + self._flush_interval
        try:
            while True:
                closing = self._closing.is_set()
                batch = self._drain()
                if batch:
                    self._write_batch(batch)
                if self._stop_reason is not None:
                    break
                if self._deadline_ns is not None and time.time_ns() >= self._deadline_ns:
                    self._stop(f"max_duration reached ({self.max_duration:g} s)")
                    break
                if closing and not self._queue:
                    self._stop(self._user_reason)
                    break
                if time.monotonic() >= next_flush:
                    sink.flush()
                    next_flush = time.monotonic() + self._flush_interval
                if not batch:
                    self._closing.wait(self._poll)
        except Exception as exc:
            # A full disk or a vanished directory: stop recording, never the feed.
            # A refusal the sink expects (a wrong password) needs no traceback.
            expected = isinstance(exc, getattr(sink, "refusals", ()))
            logger.warning(
                "recording to %s failed: %s", self._shown, exc, exc_info=None if expected else exc
            )
            self._active = False
            self._stop_reason = f"write failed: {type(exc).__name__}: {exc}"
            sink.abandon()
        finally:
            self._done.set()

    def _drain(self) -> list[tuple[int, str, Any, Any]]:
        queue = self._queue
        batch: list[tuple[int, str, Any, Any]] = []
        while queue and len(batch) < _BATCH:
            batch.append(queue.popleft())
        return batch

    def _write_batch(self, batch: list[tuple[int, str, Any, Any]]) -> None:
        forms = self._secret_forms()
        if self._write_text_block(batch, forms):
            return
        for t_ns, direction, payload, extra in batch:
            if direction == "marker":
                record: dict[str, Any] = {"t_ns": t_ns, "marker": payload, "detail": extra}
            else:
                self._queued_bytes_out += extra
                if self._stop_reason is not None:
                    self._not_recorded += 1
                    continue
                if self._deadline_ns is not None and t_ns >= self._deadline_ns:
                    self._stop(f"max_duration reached ({self.max_duration:g} s)")
                    self._not_recorded += 1
                    continue
                record = _frame_record(t_ns, direction, payload, self, forms)
            if self._stop_reason is not None:
                continue
            self._note_losses(forms)
            if self._write(record, forms):
                self._frames += direction != "marker"

    def _write_text_block(self, batch: list[tuple[int, str, Any, Any]], forms: list[str]) -> bool:
        """Write a batch of text frames in one go; False when it needs the line-by-line path
        (a marker, a binary frame, a loss to mark, a bound near).

        The common case at high rates: for JSON lines one join, one secret scan and one
        deflate call per batch instead of one per frame (the lines are the same bytes); for
        Parquet the texts go to their column without a JSON line being made and read back.
        """
        sink = self._sink
        deadline = self._deadline_ns
        if (
            self._stop_reason is not None
            or self._lost > self._lost_marked
            or any(
                direction == "marker"
                or type(payload) is not str
                or (deadline is not None and t_ns >= deadline)
                for t_ns, direction, payload, _ in batch
            )
        ):
            return False
        if isinstance(sink, _LineSink):
            block = _json_lines_block(batch, forms)
            if self.max_bytes is not None and not sink.fits(len(block), self.max_bytes):
                return False
            sink.write_block(block)
        elif isinstance(sink, _ParquetSink):
            texts = [_masked(text, forms) for _, _, text, _ in batch]
            size = sum(len(text) for text in texts) + 64 * len(texts)
            if self.max_bytes is not None and not sink.fits(size, self.max_bytes):
                return False
            sink.write_texts([(t_ns, direction) for t_ns, direction, _, _ in batch], texts)
        else:
            return False
        self._frames += len(batch)
        self._queued_bytes_out += sum(item[3] for item in batch)
        return True

    def _note_losses(self, forms: list[str]) -> None:
        record = self._loss_record()
        if record is not None:
            self._write(record, forms)

    def _loss_record(self) -> dict[str, Any] | None:
        lost = self._lost
        if lost <= self._lost_marked:
            return None
        count, self._lost_marked = lost - self._lost_marked, lost
        detail = f"{count} frames dropped: the writer fell behind (queue full)"
        return {"t_ns": time.time_ns(), "marker": "lost", "detail": detail, "count": count}

    def _write(self, record: dict[str, Any], forms: list[str]) -> bool:
        line = self._redact(orjson.dumps(record).decode(), forms)
        sink = self._sink
        if self.max_bytes is not None and not sink.fits(len(line) + 1, self.max_bytes):
            self._stop(f"max_bytes reached ({self.max_bytes:,} bytes)")
            return False
        sink.write(record, line)
        return True

    def _stop(self, reason: str) -> None:
        if self._stop_reason is not None:
            return
        self._active = False
        self._stop_reason = reason
        # Whatever is still queued will not be written.
        self._not_recorded += sum(1 for item in self._queue if item[1] != "marker")
        self._queue.clear()
        loss = self._loss_record()
        if loss is not None:  # within the reserve kept under max_bytes
            self._sink.write(loss, orjson.dumps(loss).decode())
        end = {
            "t_ns": time.time_ns(),
            "marker": "end",
            "detail": reason,
            "frames": self._frames,
            "lost": self._lost,
        }
        self._sink.write(end, orjson.dumps(end).decode())
        self._sink.close()
        if reason.startswith("max_"):
            logger.info("recording %s stopped: %s", self.path.name, reason)


def _frame_record(
    t_ns: int, direction: str, frame: str | bytes, recorder: Recorder, forms: list[str]
) -> dict[str, Any]:
    if isinstance(frame, str):
        return {"t_ns": t_ns, "dir": direction, "text": frame}
    data = bytes(frame)
    for form in forms:  # base64 would hide a secret from the line check
        data = data.replace(form.encode(), _MASK.encode())
    return {"t_ns": t_ns, "dir": direction, "bytes": base64.b64encode(data).decode()}


def _json_lines_block(batch: list[tuple[int, str, Any, Any]], forms: list[str]) -> bytes:
    # The same bytes as orjson.dumps({"t_ns", "dir", "text"}) line by line.
    dumps = orjson.dumps
    block = (
        b"\n".join(
            [
                b'{"t_ns":%d,"dir":"%s","text":%s}' % (t_ns, direction.encode(), dumps(text))
                for t_ns, direction, text, _ in batch
            ]
        )
        + b"\n"
    )
    mask = _MASK.encode()
    for form in forms:
        encoded = form.encode()
        if encoded in block:
            block = block.replace(encoded, mask)
    return block


def _masked(text: str, forms: list[str]) -> str:
    for form in forms:
        if form in text:
            text = text.replace(form, _MASK)
    return text


def _check_options(
    max_bytes: Any, max_duration: Any, max_queue: Any, max_queue_bytes: Any, flush_interval: Any
) -> None:
    if max_bytes is not None and (
        isinstance(max_bytes, bool) or not isinstance(max_bytes, int) or max_bytes < 4096
    ):
        raise ConfigurationError(f"max_bytes must be None or an int >= 4096, got {max_bytes!r}")
    if max_duration is not None and (
        isinstance(max_duration, bool)
        or not isinstance(max_duration, (int, float))
        or not 0 < max_duration < float("inf")
    ):
        raise ConfigurationError(f"max_duration must be None or seconds > 0, got {max_duration!r}")
    for name, value in (("max_queue", max_queue), ("max_queue_bytes", max_queue_bytes)):
        if isinstance(value, bool) or not isinstance(value, int) or value < 1:
            raise ConfigurationError(f"{name} must be an int >= 1, got {value!r}")
    if not isinstance(flush_interval, (int, float)) or not 0 < flush_interval <= 60:
        raise ConfigurationError(f"flush_interval must be 0-60 seconds, got {flush_interval!r}")


# Sinks: one per format, each knowing its size on disk -------------------------------------


class _Sink:
    size = 0

    def write(self, record: dict[str, Any], line: str) -> None:
        raise NotImplementedError

    def fits(self, n: int, limit: int) -> bool:
        raise NotImplementedError

    def flush(self) -> None:
        """Make what was written so far readable from the file."""

    def close(self) -> None:
        raise NotImplementedError

    def abandon(self) -> None:
        """Close after a failure, writing nothing more."""


class _LineSink(_Sink):
    """JSON lines, optionally gzip-compressed with one deflate stream."""

    def __init__(self, path: Path, header: dict[str, Any], level: int | None) -> None:
        self._file: IO[bytes] = path.open("wb")
        self._gzip = None if level is None else zlib.compressobj(level, zlib.DEFLATED, 31)
        self._reserve = _RESERVE["plain" if level is None else "gzip"]
        self._pending = 0  # uncompressed bytes handed to zlib since the last flush
        self.size = 0
        self.write(header, orjson.dumps(header).decode())
        self.flush()

    def write(self, record: dict[str, Any], line: str) -> None:
        self.write_block(line.encode() + b"\n")

    def write_block(self, data: bytes) -> None:
        """Write whole lines, each ending with a newline."""
        if self._gzip is not None:
            self._pending += len(data)
            data = self._gzip.compress(data)
        self._file.write(data)
        self.size += len(data)

    def fits(self, n: int, limit: int) -> bool:
        # Deflate never grows data by more than a few bytes per block; zlib holds up to
        # ``_pending`` bytes not yet on disk. Flushing makes the bound exact near the end.
        worst = n + n // 64 + 64
        if self.size + self._pending + worst + self._reserve <= limit:
            return True
        if self._pending:
            self.flush()
        return self.size + worst + self._reserve <= limit

    def flush(self) -> None:
        if self._gzip is not None and self._pending:
            data = self._gzip.flush(zlib.Z_SYNC_FLUSH)
            self._file.write(data)
            self.size += len(data)
            self._pending = 0
        self._file.flush()

    def close(self) -> None:
        if self._gzip is not None:
            data = self._gzip.flush(zlib.Z_FINISH)
            self._file.write(data)
            self.size += len(data)
        self._file.close()

    def abandon(self) -> None:
        try:
            self.close()
        except Exception:
            logger.debug("closing the failed recording also failed", exc_info=True)


class _ParquetSink(_Sink):
    """Rows in row groups; the header in the schema metadata."""

    _COLUMNS = ("t_ns", "dir", "text", "bytes", "marker", "detail")

    def __init__(self, path: Path, header: dict[str, Any]) -> None:
        import pyarrow as pa
        import pyarrow.parquet as pq

        self._pa = pa
        self._schema = pa.schema(
            [
                ("t_ns", pa.int64()),
                ("dir", pa.string()),
                ("text", pa.string()),
                ("bytes", pa.binary()),
                ("marker", pa.string()),
                ("detail", pa.string()),
            ],
            metadata={PARQUET_HEADER_KEY: orjson.dumps(header)},
        )
        self._file: IO[bytes] = path.open("wb")
        self._writer = pq.ParquetWriter(self._file, self._schema, compression="zstd")
        self._rows: dict[str, list[Any]] = {c: [] for c in self._COLUMNS}
        self._raw = 0  # bytes of the rows not yet written
        self._reserve = _RESERVE["parquet"] + len(self._schema.metadata[PARQUET_HEADER_KEY])
        self.size = 0

    def write(self, record: dict[str, Any], line: str) -> None:
        rows = self._rows
        rows["t_ns"].append(record["t_ns"])
        rows["dir"].append(record.get("dir"))
        rows["text"].append(_unmask_line(line, "text") if "text" in record else None)
        data = record.get("bytes")
        rows["bytes"].append(None if data is None else base64.b64decode(data))
        rows["marker"].append(record.get("marker"))
        detail = record.get("detail")
        if record.get("marker") in ("lost", "end"):
            extra = {k: v for k, v in record.items() if k not in ("t_ns", "marker", "detail")}
            detail = f"{detail} {orjson.dumps(extra).decode()}"
        rows["detail"].append(detail)
        self._raw += len(line) + 32
        if len(rows["t_ns"]) >= _PARQUET_ROWS:
            self.flush()

    def write_texts(self, keys: list[tuple[int, str]], texts: list[str]) -> None:
        """Append text frames: ``(t_ns, dir)`` and the (already masked) text of each."""
        rows = self._rows
        count = len(texts)
        rows["t_ns"].extend(t_ns for t_ns, _ in keys)
        rows["dir"].extend(direction for _, direction in keys)
        rows["text"].extend(texts)
        for column in ("bytes", "marker", "detail"):
            rows[column].extend([None] * count)
        self._raw += sum(len(text) for text in texts) + 32 * count
        if len(rows["t_ns"]) >= _PARQUET_ROWS:
            self.flush()

    def fits(self, n: int, limit: int) -> bool:
        return self.size + self._raw + n + self._reserve <= limit

    def flush(self) -> None:
        if not self._rows["t_ns"]:
            return
        table = self._pa.Table.from_pydict(self._rows, schema=self._schema)
        self._writer.write_table(table)
        self._rows = {c: [] for c in self._COLUMNS}
        self._raw = 0
        self._file.flush()
        self.size = self._file.tell()

    def close(self) -> None:
        self.flush()
        self._writer.close()
        self.size = self._file.tell()
        self._file.close()

    def abandon(self) -> None:
        try:
            self._writer.close()
            self._file.close()
        except Exception:
            logger.debug("closing the failed recording also failed", exc_info=True)


def _unmask_line(line: str, key: str) -> str:
    # The redacted text is what goes in the row: take it back out of the checked line.
    value = orjson.loads(line)[key]
    return str(value)


def _open_sink(kind: str, path: Path, header: dict[str, Any], level: int) -> _Sink:
    if kind == "parquet":
        return _ParquetSink(path, header)
    return _LineSink(path, header, level if kind == "gzip" else None)
