"""Reading a recording back, tolerant of damage.

:class:`RecordingReader` checks the header when opened (a missing file, another format
or a newer format version are refused with a specific :class:`ConfigurationError`), then
yields :class:`Entry` objects in file order. Damage (a truncated gzip stream, a line
that is not JSON, a line that is not a recording line, an unreadable Parquet row group)
ends the iteration *after* every entry before it was yielded, and :attr:`RecordingReader.damage`
says where and what, in words a user can act on.

Memory stays bounded whatever the file size: gzip and plain files are read in
64 KiB chunks and split into lines as they come; Parquet files a batch of rows at a time.

Example:
    >>> reader = RecordingReader("feed.jsonl.gz")  # doctest: +SKIP
    >>> reader.header["dialect"]  # doctest: +SKIP
    'hydra'
    >>> sum(1 for e in reader if e.kind == "in"), reader.damage  # doctest: +SKIP
    (1200, None)
"""

from __future__ import annotations

import base64
import os
import zlib
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import IO, Any

import orjson

from streamwidgets.exceptions import ConfigurationError
from streamwidgets.recording.recorder import (
    FORMAT,
    FORMAT_VERSION,
    PARQUET_HEADER_KEY,
    recording_format,
)

__all__ = ["Entry", "RecordingReader", "read_line"]

_CHUNK = 64 * 1024
_FEED = 4 * 1024  # compressed bytes given to zlib at a time
_PARQUET_BATCH = 2048


@dataclass(frozen=True, slots=True)
class Entry:
    """One line of a recording.

    ``kind`` is ``"in"`` or ``"out"`` for a frame (``payload`` the text or bytes), or
    ``"marker"`` (``payload`` the marker's kind, ``detail`` its text).
    """

    t_ns: int
    kind: str
    payload: str | bytes
    detail: str = ""


class RecordingReader:
    """Iterate over a recording's entries; stop at damage and say where.

    Args:
        path: a file written by :class:`~streamwidgets.recording.recorder.Recorder`.

    Raises:
        ConfigurationError: no such file, not a recording, or a format version this
            version of streamwidgets cannot read.
    """

    def __init__(self, path: str | os.PathLike[str]) -> None:
        self.path = Path(path)
        if not self.path.is_file():
            raise ConfigurationError(f"no recording at {self.path}")
        try:
            self.format = recording_format(self.path)
        except ConfigurationError:
            self.format = _sniff(self.path)
        #: Why iteration stopped early (None: the file was read to its end).
        self.damage: str | None = None
        #: Entries yielded by the last iteration.
        self.entries = 0
        self.header = self._read_header()

    def __iter__(self) -> Iterator[Entry]:
        self.damage = None
        self.entries = 0
        source = self._parquet_entries() if self.format == "parquet" else self._line_entries()
        for entry in source:
            self.entries += 1
            yield entry

    # Header -------------------------------------------------------------------------

    def _read_header(self) -> dict[str, Any]:
        if self.format == "parquet":
            header = self._parquet_header()
        else:
            first = next(self._lines(), None)
            if first is None:
                raise ConfigurationError(
                    f"{self.path.name} is empty or unreadable: not a recording"
                )
            try:
                header = orjson.loads(first[1])
            except orjson.JSONDecodeError:
                header = None
        return _check_header(header, self.path)

    def _parquet_header(self) -> Any:
        import pyarrow.parquet as pq

        try:
            schema = pq.read_schema(self.path)
        except Exception as exc:  # pyarrow raises several kinds for a bad footer
            raise ConfigurationError(
                f"{self.path.name} is not a readable Parquet file ({exc}); a Parquet "
                "recording is only readable once closed (use .jsonl.gz to survive crashes)"
            ) from None
        raw = (schema.metadata or {}).get(PARQUET_HEADER_KEY)
        return None if raw is None else orjson.loads(raw)

    # JSON lines -----------------------------------------------------------------------

    def _open(self) -> IO[bytes]:
        return self.path.open("rb")

    def _lines(self) -> Iterator[tuple[int, bytes]]:
        """(line number, line) pairs; sets :attr:`damage` if the stream is cut or corrupt."""
        number = 0
        pending = b""
        with self._open() as raw:
            for chunk in self._decoded_chunks(raw):
                pending += chunk
                *complete, pending = pending.split(b"\n")
                for line in complete:
                    number += 1
                    yield number, line
        if pending.strip():
            number += 1
            # Text after the last newline: a line cut short by a crash, unless it parses.
            yield number, pending

    def _decoded_chunks(self, raw: IO[bytes]) -> Iterator[bytes]:
        if self.format != "gzip":
            while chunk := raw.read(_CHUNK):
                yield chunk
            return
        decoder = zlib.decompressobj(31)
        fed = False  # whether the current gzip member got any input
        offset = 0
        while chunk := raw.read(_FEED):
            # Small feeds: data decoded before corrupt bytes is delivered, not lost with them.
            offset += len(chunk)
            while chunk:
                try:
                    out = decoder.decompress(chunk)
                except zlib.error as exc:
                    self.damage = f"corrupt gzip data near byte {offset:,} ({exc})"
                    return
                fed = True
                yield out
                if decoder.eof:  # concatenated gzip members: start the next one
                    chunk = decoder.unused_data
                    decoder, fed = zlib.decompressobj(31), False
                else:
                    chunk = b""
        if fed and not decoder.eof:
            tail = decoder.flush()
            if tail:
                yield tail
            self.damage = (
                f"the gzip stream is cut short at byte {offset:,} (the recording was not closed)"
            )

    def _line_entries(self) -> Iterator[Entry]:
        lines = self._lines()
        next(lines, None)  # the header, checked when opened
        for number, line in lines:
            if not line.strip():
                continue
            try:
                entry = _entry(orjson.loads(line))
            except (orjson.JSONDecodeError, ValueError, TypeError, KeyError) as exc:
                self._set_damage(f"line {number} is not a recording line ({_why(exc)})")
                return
            yield entry
        if self.damage is not None:
            self._set_damage(self.damage)

    def _set_damage(self, what: str) -> None:
        # A cut gzip stream also leaves a cut last line: report the cause, once.
        cause = self.damage if self.damage and self.damage != what else None
        where = f"{what}; {cause}" if cause else what
        self.damage = (
            f"{self.path.name} is damaged: {where}. Replayed the {self.entries:,} entries "
            "before the damage."
        )

    # Parquet ---------------------------------------------------------------------------

    def _parquet_entries(self) -> Iterator[Entry]:
        import pyarrow.parquet as pq

        file = pq.ParquetFile(self.path)
        batches = file.iter_batches(batch_size=_PARQUET_BATCH)
        group = 0
        while True:
            try:
                batch = next(batches)
            except StopIteration:
                return
            except Exception as exc:
                self._set_damage(f"rows after {self.entries:,} cannot be read ({exc})")
                return
            group += 1
            columns = batch.to_pydict()
            for t_ns, direction, text, data, marker, detail in zip(
                columns["t_ns"],
                columns["dir"],
                columns["text"],
                columns["bytes"],
                columns["marker"],
                columns["detail"],
                strict=True,
            ):
                if marker is not None:
                    yield Entry(int(t_ns), "marker", str(marker), detail or "")
                else:
                    yield Entry(int(t_ns), str(direction), text if data is None else bytes(data))


def read_line(line: bytes | str) -> Entry:
    """One recording line (a frame or a marker, not the header) as an :class:`Entry`.

    What a relay's Redis stream holds in each entry (:mod:`streamwidgets.relay.sink`).

    Raises:
        ValueError: not JSON, or not a recording line; the message says why.

    Example:
        >>> read_line(b'{"t_ns":5,"dir":"in","text":"{}"}')
        Entry(t_ns=5, kind='in', payload='{}', detail='')
        >>> read_line(b'{"t_ns":5}')
        Traceback (most recent call last):
        ...
        ValueError: not a recording line (no 'dir')
    """
    try:
        return _entry(orjson.loads(line))
    except (orjson.JSONDecodeError, ValueError, TypeError, KeyError) as exc:
        raise ValueError(f"not a recording line ({_why(exc)})") from None


def _entry(record: Any) -> Entry:
    if not isinstance(record, dict):
        raise ValueError("not a JSON object")
    t_ns = record["t_ns"]
    if isinstance(t_ns, bool) or not isinstance(t_ns, int):
        raise ValueError("t_ns is not an integer")
    marker = record.get("marker")
    if marker is not None:
        return Entry(t_ns, "marker", str(marker), str(record.get("detail") or ""))
    direction = record["dir"]
    if direction not in ("in", "out"):
        raise ValueError(f"dir is {direction!r}, not 'in' or 'out'")
    if "text" in record:
        text = record["text"]
        if not isinstance(text, str):
            raise ValueError("text is not a string")
        return Entry(t_ns, direction, text)
    return Entry(t_ns, direction, base64.b64decode(record["bytes"], validate=True))


def _check_header(header: Any, path: Path) -> dict[str, Any]:
    if not isinstance(header, dict) or header.get("format") != FORMAT:
        raise ConfigurationError(
            f"{path.name} is not a streamwidgets recording (its first line is no {FORMAT!r} header)"
        )
    version = header.get("version")
    if isinstance(version, bool) or not isinstance(version, int) or version < 1:
        raise ConfigurationError(f"{path.name} has no valid format version: {version!r}")
    if version > FORMAT_VERSION:
        raise ConfigurationError(
            f"{path.name} is recording format version {version}; this streamwidgets reads "
            f"version {FORMAT_VERSION} at most: upgrade streamwidgets to replay it"
        )
    if not isinstance(header.get("dialect"), str):
        raise ConfigurationError(f"{path.name}'s header names no dialect")
    return header


def _sniff(path: Path) -> str:
    with path.open("rb") as file:
        start = file.read(4)
    if start[:2] == b"\x1f\x8b":
        return "gzip"
    if start == b"PAR1":
        return "parquet"
    return "plain"


def _why(exc: Exception) -> str:
    if isinstance(exc, KeyError):
        return f"no {exc.args[0]!r}"
    text = str(exc).split("\n")[0]
    return text[:120]
