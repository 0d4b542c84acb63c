"""The rolling buffer: events in, a pandas DataFrame out.

``event_buffer`` holds the rows; ``rows`` and ``flatten`` turn events into pending rows,
``columns`` turns those into typed columns, ``options`` checks the buffer's arguments and
``export`` writes and reads CSV, JSON lines and Parquet.
"""

from streamwidgets.buffer.event_buffer import EventBuffer

__all__ = ["EventBuffer"]
