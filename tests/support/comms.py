"""A comm that keeps what a widget publishes, for tests without a kernel."""

from __future__ import annotations

import time

from comm.base_comm import BaseComm


class RecordingComm(BaseComm):
    """A comm that keeps what the widget publishes instead of sending it to a kernel."""

    def __init__(self, *args, **kwargs):
        self.sent: list[tuple[float, str, dict, list[bytes]]] = []
        super().__init__(*args, **kwargs)

    def publish_msg(self, msg_type, data=None, metadata=None, buffers=None, **keys):
        copies = [bytes(b) for b in buffers or []]
        self.sent.append((time.monotonic(), msg_type, data or {}, copies))
