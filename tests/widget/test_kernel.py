"""Throttling seen where it matters: comm messages on a real kernel's iopub channel."""

from __future__ import annotations

import queue
import time

import numpy as np
import pytest
from jupyter_client.manager import start_new_kernel

from tests.support.waiting import seconds


@pytest.fixture
def kernel():
    manager, client = start_new_kernel(kernel_name="python3", startup_timeout=seconds(60))
    try:
        yield client
    finally:
        client.stop_channels()
        manager.shutdown_kernel(now=True)


def run(client, code: str) -> str:
    """Execute ``code`` and return its stdout."""
    msg_id = client.execute(code)
    out = []
    while True:
        msg = client.get_iopub_msg(timeout=seconds(30))
        if msg["parent_header"].get("msg_id") != msg_id:
            continue
        if msg["msg_type"] == "stream":
            out.append(msg["content"]["text"])
        elif msg["msg_type"] == "error":
            raise AssertionError("\n".join(msg["content"]["traceback"]))
        elif msg["msg_type"] == "status" and msg["content"]["execution_state"] == "idle":
            return "".join(out)


def test_a_10k_events_per_second_feed_stays_under_30_comm_messages_per_second(kernel):
    run(kernel, "from streamwidgets import StreamWidget\nw = StreamWidget.demo(rate=10_000)")
    arrivals = []
    began = time.monotonic()
    while time.monotonic() - began < 4.0:
        try:
            msg = kernel.get_iopub_msg(timeout=0.5)
        except queue.Empty:
            continue
        if msg["msg_type"] == "comm_msg":
            arrivals.append(time.monotonic())
    events = int(run(kernel, "print(w.stats['events'])"))
    run(kernel, "w.close()")

    # Skip the first second: connecting and subscribing.
    per_second = np.histogram(arrivals, bins=np.arange(began + 1, began + 4.01, 1.0))[0]
    print(f"events {events}, comm messages per second {per_second.tolist()}")
    # The demo asks for 10k events/s; a loaded 2-core machine gives about 3.5k. Any rate
    # above 2k events/s is 60 times the cap on messages, which is what the test is about.
    assert events > 8_000, f"the feed only sent {events} events"
    assert per_second.min() >= 10, f"updates stalled: {per_second.tolist()}"
    assert per_second.max() <= 30, f"comm messages per second: {per_second.tolist()}"
