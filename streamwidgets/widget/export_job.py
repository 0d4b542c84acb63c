"""A widget's export, built from a snapshot of the buffer's frame off the event loop.

The snapshot (``buffer.df_later()``: the buffer's rows at one instant) is taken on the
loop, between two events; everything after it (building its frame, choosing the rows of
the streams shown, masking secrets, writing the file's bytes) reads that snapshot only,
so it can run in a worker thread while the loop keeps serving the feed.
:class:`ExportRequest` says what to build, :func:`build_export` builds it (pure: no
loop, no widget).

Example:
    >>> import pandas as pd
    >>> frame = pd.DataFrame({"seq": [1, 2], "stream": ["a", "b"], "data.v": [1, 2]})
    >>> request = ExportRequest("csv", feed_name="demo", shown=frozenset({"a"}))
    >>> built = build_export(frame, request)
    >>> built.rows, built.mime, built.filename.endswith(".csv")
    (1, 'text/csv', True)
"""

from __future__ import annotations

import contextlib
import datetime
import sys
import threading
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field

import pandas as pd

from streamwidgets._util.secret import Secret, redact_frame
from streamwidgets.buffer.export import EXPORT_FORMATS, export_bytes
from streamwidgets.exceptions import ConfigurationError
from streamwidgets.widget.protocol import Limit

__all__ = ["ExportFile", "ExportRequest", "build_export", "build_in_worker", "format_label"]

#: Seconds between forced thread switches while an export is built (Python's default is
#: 0.005). The event loop gives up the GIL at every socket wait and must then wait for a
#: busy worker to hand it back, up to one interval each time: at 5 ms, a feed of a few
#: hundred frames a second falls behind by 100-300 ms during a build; at 0.5 ms it keeps up.
WORKER_SWITCH_INTERVAL = 0.0005
_switching = threading.Lock()
_builds = 0
_saved_interval = 0.0

_LABELS = {"csv": "CSV", "jsonl": "JSON lines", "parquet": "Parquet"}


def format_label(fmt: str) -> str:
    """The words a person reads for an export format (``"jsonl"`` -> ``"JSON lines"``)."""
    return _LABELS.get(fmt, fmt)


@dataclass(frozen=True)
class ExportRequest:
    """What to build: the format and which rows.

    Attributes:
        format: ``"csv"``, ``"jsonl"`` or ``"parquet"``.
        feed_name: the feed's name, the start of the file name.
        shown: keep only rows of these streams (a feed with a subscribe step: the streams
            subscribed now); None keeps every stream not in ``hidden``.
        hidden: leave out rows of these streams (a feed without a subscribe step: the
            streams hidden in the view that asked).
        secrets: texts masked in every cell (credentials a server quoted into the data).
        max_bytes: the largest file built; a bigger one is refused.

    Rows without a stream name are always kept: no toggle can hide them.
    """

    format: str
    feed_name: str
    shown: frozenset[str] | None = None
    hidden: frozenset[str] = frozenset()
    secrets: tuple[Secret | str | None, ...] = ()
    max_bytes: int = Limit.DOWNLOAD_MAX_BYTES

    def __post_init__(self) -> None:
        if self.format not in EXPORT_FORMATS:
            raise ConfigurationError(
                f"export format must be parquet, csv or jsonl, got {self.format!r}"
            )


@dataclass(frozen=True)
class ExportFile:
    """A built export: ``data`` (the file's bytes) of ``rows`` rows, named and typed."""

    filename: str
    mime: str
    rows: int
    data: bytes = field(repr=False)


def build_export(
    frame: pd.DataFrame | Callable[[], pd.DataFrame], request: ExportRequest
) -> ExportFile:
    """The file ``request`` asks for, from ``frame``: a DataFrame nobody else writes to, or
    a function that builds one (``buffer.df_later()``, so the frame is built here too).

    Safe to run in a worker thread. Uses the same writers as ``buffer.to_parquet``,
    ``to_csv`` and ``to_jsonl``, so the file reads back with :func:`~streamwidgets.read_export`.

    Raises:
        ConfigurationError: no rows of the streams shown, or a file over
            ``request.max_bytes`` (the message says what to do instead).
    """
    if callable(frame):
        frame = frame()
    frame = _rows_shown(frame, request)
    if frame.empty:
        raise ConfigurationError("no rows of the streams shown to export")
    # The file leaves the kernel: no credential a server quoted into the data goes too.
    frame = redact_frame(frame, request.secrets)
    data = export_bytes(frame, request.format)
    if len(data) > request.max_bytes:
        raise ConfigurationError(
            f"the export is {len(data) / 2**20:.0f} MiB, over the "
            f"{request.max_bytes // 2**20} MiB a browser download may take here; "
            "use w.buffer.to_parquet(path) instead"
        )
    mime, suffix = EXPORT_FORMATS[request.format]
    stamp = datetime.datetime.now(datetime.UTC).strftime("%Y%m%dT%H%M%SZ")
    filename = f"{request.feed_name.replace(':', '-')}-{stamp}{suffix}"
    return ExportFile(filename=filename, mime=mime, rows=len(frame), data=data)


def build_in_worker(
    frame: pd.DataFrame | Callable[[], pd.DataFrame], request: ExportRequest
) -> ExportFile:
    """:func:`build_export` for a worker thread beside a busy event loop: meanwhile the
    interpreter switches threads every :data:`WORKER_SWITCH_INTERVAL` seconds, so the
    loop waits less for the GIL (the interval is process-wide; the one before comes back
    when the last build running ends).

    Example:
        >>> # await loop.run_in_executor(None, build_in_worker, buffer.df_later(), request)
    """
    with _short_switch_interval():
        return build_export(frame, request)


@contextlib.contextmanager
def _short_switch_interval() -> Iterator[None]:
    global _builds, _saved_interval
    with _switching:
        if _builds == 0:
            _saved_interval = sys.getswitchinterval()
            sys.setswitchinterval(min(_saved_interval, WORKER_SWITCH_INTERVAL))
        _builds += 1
    try:
        yield
    finally:
        with _switching:
            _builds -= 1
            if _builds == 0:
                sys.setswitchinterval(_saved_interval)


def _rows_shown(frame: pd.DataFrame, request: ExportRequest) -> pd.DataFrame:
    if "stream" not in frame.columns or (request.shown is None and not request.hidden):
        return frame.copy()
    stream = frame["stream"]
    unnamed = stream.isna() | (stream == "")
    if request.shown is not None:
        keep = unnamed | stream.isin(sorted(request.shown))
    else:
        keep = unnamed | ~stream.isin(sorted(request.hidden))
    if bool(keep.all()):
        return frame.copy()
    kept = frame[keep.to_numpy()].reset_index(drop=True)
    # As buffer.to_dataframe(stream) does: data columns of the streams left out only go.
    empty = [c for c in kept.columns if c.startswith("data") and not kept[c].notna().any()]
    return kept.drop(columns=empty)
