"""Ingest with and without recording, in one run: what recording costs the pipeline.

The Hydra simulator runs in its own process and sends small JSON events as fast as it
can; this process runs the full pipeline (Connection: receive, parse, EventBuffer) with
no recording, then recording to ``.jsonl.gz`` and to ``.parquet``, alternating, and
prints events/s, the ratio to the run without recording, file size per event and
frames lost by the recorder (none expected: the writer keeps up or drops and counts).
Then it replays the gzip recording at full speed and prints that rate too.

Run: ``python benchmarks/bench_record.py [--events 100000] [--rounds 3]``
"""

from __future__ import annotations

import argparse
import asyncio
import statistics
import tempfile
import time
from pathlib import Path

from bench_ingest import SERVERS, token  # benchmarks/ is the script's own directory
from servers import start_server

from streamwidgets import feeds
from streamwidgets.buffer.event_buffer import EventBuffer
from streamwidgets.connection.driver import Connection

FORMATS = {"none": None, "gzip": "feed.jsonl.gz", "parquet": "feed.parquet"}


async def ingest(url: str, events: int, record: Path | None) -> tuple[float, float, int, int]:
    """Events/s until ``events`` arrived, CPU µs per event (this process, every thread,
    until the file is complete); with a recording, its size and losses."""
    conn = Connection(
        feeds.hydra(url, token=token()), streams=["signals"], buffer=EventBuffer(max_rows=events)
    )
    recorder = conn.record(record) if record is not None else None
    started, cpu_started = time.perf_counter(), time.process_time()
    conn.start()
    while conn.stats.events < events:
        await asyncio.sleep(0.005)
    elapsed = time.perf_counter() - started
    await conn.close()
    cpu_us = (time.process_time() - cpu_started) / events * 1e6
    if recorder is None:
        return events / elapsed, cpu_us, 0, 0
    summary = recorder.summary()
    return events / elapsed, cpu_us, summary.bytes, summary.lost


async def replay_rate(path: Path) -> float:
    feed = feeds.replay(path, speed=None)
    conn = Connection(feed, buffer=EventBuffer(max_rows=10**7))
    started = time.perf_counter()
    conn.start()
    await feed.wait_finished()
    elapsed = time.perf_counter() - started
    events = conn.stats.events
    await conn.close()
    return events / elapsed


async def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--events", type=int, default=100_000)
    parser.add_argument("--rounds", type=int, default=3)
    args = parser.parse_args()
    # Enough events for every run of every round from one simulator connection each.
    proc, port = start_server(lambda ready: SERVERS["simulator"](args.events, ready), "simulator")
    url = f"ws://127.0.0.1:{port}/stream"
    folder = Path(tempfile.mkdtemp())
    rates: dict[str, list[float]] = {name: [] for name in FORMATS}
    cpu: dict[str, list[float]] = {name: [] for name in FORMATS}
    sizes: dict[str, int] = {}
    try:
        for round_ in range(args.rounds):
            line = []
            for name, filename in FORMATS.items():
                path = None if filename is None else folder / filename
                rate, cpu_us, size, lost = await ingest(url, args.events, path)
                rates[name].append(rate)
                cpu[name].append(cpu_us)
                sizes[name] = size
                extra = f" ({size / args.events:.1f} B/event, lost {lost})" if path else ""
                line.append(f"{name} {rate:,.0f} ev/s{extra}")
            print(f"round {round_ + 1}: " + " | ".join(line))
        replayed = await replay_rate(folder / "feed.jsonl.gz")
    finally:
        proc.terminate()
        proc.wait(5)
    base = statistics.median(rates["none"])
    base_cpu = statistics.median(cpu["none"])
    print(f"\nmedian over {args.rounds} rounds of {args.events:,} events (Hydra simulator):")
    print(f"  no recording:        {base:,.0f} events/s  CPU {base_cpu:.1f} µs/event")
    for name in ("gzip", "parquet"):
        med = statistics.median(rates[name])
        med_cpu = statistics.median(cpu[name])
        print(
            f"  recording {name:8s}   {med:,.0f} events/s  ratio {med / base:.2f}x  "
            f"CPU {med_cpu:.1f} µs/event (+{med_cpu - base_cpu:.1f})  "
            f"file {sizes[name] / 1e6:.2f} MB ({sizes[name] / args.events:.1f} B/event)"
        )
    # On a machine with a core to spare, the writer thread's work (JSON lines, deflate)
    # runs beside ingest; with one free core it is taken from ingest, as the ratio shows.
    print(f"  replay of the gzip recording at full speed: {replayed:,.0f} events/s")


if __name__ == "__main__":
    asyncio.run(main())
