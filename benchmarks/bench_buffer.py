"""Benchmark EventBuffer against naive ways of building a DataFrame from events.

Run: ``python benchmarks/bench_buffer.py``. Prints figures and ratios from one run; no
assertions. Events are built before timing, as a dialect hands them over, except for the
GC-enabled figures: there each event is decoded from a JSON frame and built inside the
loop and not kept, as in the live pipeline, so the cyclic GC sees what it sees there.
"""

from __future__ import annotations

import gc
import sys
import time
import tracemalloc
from collections.abc import Callable
from pathlib import Path

import orjson
import pandas as pd

# Run from a checkout without installing: the repository root holds the package.
sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from streamwidgets.buffer.event_buffer import EventBuffer
from streamwidgets.buffer.flatten import flatten
from streamwidgets.events import Event

T0 = 1_710_000_000_000_000_000


def hydra_events(n: int, *, tags: bool = True) -> list[Event]:
    """Small Hydra-like ``signal_new`` events."""
    events = []
    for i in range(n):
        data = {
            "id": i,
            "title": f"Signal number {i}",
            "category": ("CYBER", "GEO", "MIL")[i % 3],
            "severity": i % 5,
            "lat": 48.0 + (i % 1000) / 1000,
            "lng": 2.0 + (i % 700) / 700,
            "createdAt": 1_710_000_000_000 + i,
        }
        if tags:
            data["tags"] = ["a", "b"]
        events.append(Event("signals", "signal_new", data, received_ns=T0 + i * 1000))
    return events


def best_of(repeat: int, fn: Callable[[], object]) -> float:
    """Fastest wall time of ``repeat`` runs, in seconds."""
    times = []
    for _ in range(repeat):
        gc.collect()
        start = time.perf_counter()
        fn()
        times.append(time.perf_counter() - start)
    return min(times)


def append_cost(events: list[Event]) -> float:
    """Seconds per event to append and convert everything (a read forces the rest)."""

    def run() -> None:
        buf = EventBuffer(max_rows=len(events))
        append = buf.append
        for event in events:
            append(event)
        len(buf)  # converts what is still pending

    return best_of(3, run) / len(events)


def hydra_frames(n: int) -> list[bytes]:
    """JSON frames of ``signal_new`` payloads, as they come off the WebSocket."""
    return [
        orjson.dumps(
            {
                "id": f"sig-{i}",
                "seq": i,
                "title": f"Signal number {i}",
                "category": ("CYBER", "GEO", "MIL")[i % 3],
                "severity": i % 5,
                "lat": 48.0 + (i % 1000) / 1000,
                "lng": 2.0 + (i % 700) / 700,
                "tags": ["auto", "sim"],
                "createdAt": 1_710_000_000_000 + i,
            }
        )
        for i in range(n)
    ]


def pipeline_cost(frames: list[bytes], *, gc_enabled: bool) -> tuple[float, float]:
    """Seconds per event for decode + Event + append (GC on or off), and the worst append.

    Parsed events are not retained outside the buffer; the worst append includes the
    chunk conversions and any GC pause that falls on it.
    """
    gc.collect()
    was_enabled = gc.isenabled()
    if not gc_enabled:
        gc.disable()
    try:
        buf = EventBuffer(max_rows=len(frames))
        append, loads, clock = buf.append, orjson.loads, time.perf_counter
        worst = 0.0
        start = clock()
        for i, frame in enumerate(frames):
            t = clock()
            append(Event("signals", "signal_new", loads(frame), received_ns=T0 + i * 1000))
            worst = max(worst, clock() - t)
        len(buf)
        total = clock() - start
    finally:
        if was_enabled:
            gc.enable()
    return total / len(frames), worst


def naive_concat(events: list[Event]) -> pd.DataFrame:
    """One ``pd.concat`` per message: what people write first."""
    frame = pd.DataFrame()
    for e in events:
        row = pd.json_normalize({**flatten(e.data), "received_ns": e.received_ns})
        frame = pd.concat([frame, row], ignore_index=True)
    return frame


def naive_list(events: list[Event]) -> pd.DataFrame:
    """A list of flat dicts, turned into a DataFrame at the end."""
    rows = []
    for e in events:
        row = flatten(e.data)
        row["received_at"] = e.received_ns
        rows.append(row)
    frame = pd.DataFrame(rows)
    frame["received_at"] = pd.to_datetime(frame["received_at"], unit="ns", utc=True)
    return frame


def peak_memory(fn: Callable[[], object]) -> tuple[object, int]:
    """Result of ``fn`` and the peak bytes traced while running it and holding it."""
    gc.collect()
    tracemalloc.start()
    result = fn()
    _, peak = tracemalloc.get_traced_memory()
    tracemalloc.stop()
    return result, peak


def main() -> None:
    n_append, n_rows, n_concat = 200_000, 50_000, 2_000
    print(f"pandas {pd.__version__}")

    # First, while no other events are held: a big heap would slow every collection.
    frames = hydra_frames(n_append)
    for gc_enabled in (True, False):
        runs = [pipeline_cost(frames, gc_enabled=gc_enabled) for _ in range(3)]
        per_event = sorted(r[0] for r in runs)[1] * 1e6  # median of 3
        worst_ms = max(r[1] for r in runs) * 1e3
        label = "enabled " if gc_enabled else "disabled"
        print(
            f"pipeline (orjson + Event + append), {n_append:,} events, GC {label}: "
            f"{per_event:6.2f} us/event, worst append {worst_ms:.1f} ms"
        )
    del frames

    with_tags = hydra_events(n_append)
    without_tags = hydra_events(n_append, tags=False)
    us_tags = append_cost(with_tags) * 1e6
    us_plain = append_cost(without_tags) * 1e6
    print(f"append+convert, {n_append:,} events with tags:    {us_tags:6.2f} us/event")
    print(f"append+convert, {n_append:,} events without tags: {us_plain:6.2f} us/event")

    events = with_tags[:n_rows]
    buf = EventBuffer(max_rows=n_rows)
    buf.extend(events)
    len(buf)  # conversion is append's cost, measured above

    def first_build() -> None:
        buf._changed()  # drop the cached frame, keep the converted chunks
        buf.to_dataframe()

    build_ms = best_of(5, first_build) * 1e3
    buf.to_dataframe()
    cached_ms = best_of(5, buf.to_dataframe) * 1e3
    print(f"DataFrame build, {n_rows:,} rows: first {build_ms:.2f} ms, cached {cached_ms:.3f} ms")

    # A reader that wakes every k events (the widget calls since() on each update: at 20 Hz
    # on a 100 events/s feed, every 5 events) must not make later builds slower.
    for every in (4096, 100, 5):
        read = EventBuffer(max_rows=n_rows)
        start = time.perf_counter()
        for first in range(0, n_rows, every):
            read.extend(events[first : first + every])
            len(read)  # converts what is pending, as since() does first
        fill_us = (time.perf_counter() - start) / n_rows * 1e6

        def uncached(b: EventBuffer = read) -> None:
            b._changed()
            b.to_dataframe()

        print(
            f"read every {every:>4} events, {n_rows:,} rows: append+convert "
            f"{fill_us:5.2f} us/event, uncached build {best_of(5, uncached) * 1e3:5.2f} ms "
            "(goal <= 5 ms)"
        )

    def fill() -> EventBuffer:
        b = EventBuffer(max_rows=n_rows)
        b.extend(events)
        len(b)
        return b

    held, peak_buffer = peak_memory(fill)
    _, peak_frame = peak_memory(held.to_dataframe)
    print(
        f"peak memory holding {n_rows:,} rows: {peak_buffer / 2**20:.1f} MiB "
        f"(+{peak_frame / 2**20:.1f} MiB to build a frame)"
    )
    del held

    concat_s = best_of(1, lambda: naive_concat(events[:n_concat]))
    concat_per_event = concat_s / n_concat
    concat_50k = concat_per_event * n_rows  # linear scaling: a lower bound
    print(
        f"naive pd.concat per message: {concat_per_event * 1e6:,.0f} us/event on {n_concat:,} "
        f"events; scaled linearly to {n_rows:,}: {concat_50k:.1f} s (a lower bound: "
        "each concat copies the whole frame, so it is really quadratic)"
    )

    list_s = best_of(3, lambda: naive_list(events))
    ours_s = best_of(
        3, lambda: (b := EventBuffer(max_rows=n_rows), b.extend(events), b.to_dataframe())
    )
    _, peak_list = peak_memory(lambda: naive_list(events))
    print(f"list of dicts + pd.DataFrame, {n_rows:,} events: {list_s * 1e3:.1f} ms total")
    print(f"EventBuffer extend + to_dataframe, {n_rows:,} events: {ours_s * 1e3:.1f} ms total")
    print(f"peak memory, list of dicts + DataFrame: {peak_list / 2**20:.1f} MiB")
    print("ratios:")
    print(f"  naive concat / EventBuffer (per event): {concat_per_event / (ours_s / n_rows):,.0f}x")
    print(f"  list+DataFrame / EventBuffer (total):   {list_s / ours_s:.2f}x")
    print(f"  first build / cached read:              {build_ms / cached_ms:,.0f}x")


if __name__ == "__main__":
    main()
