"""Recordings and history: what a connection saw, written to disk and read back.

``recorder`` writes a recording (JSON lines, gzip or Parquet) off the loop; ``reader``
reads one back; ``history`` keeps a feed's rows as a Parquet history DuckDB can query.
"""

from streamwidgets.recording.reader import RecordingReader
from streamwidgets.recording.recorder import Recorder, RecordingSummary

__all__ = ["Recorder", "RecordingReader", "RecordingSummary"]
