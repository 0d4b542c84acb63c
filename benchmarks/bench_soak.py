"""Soak: 2 million events through a 50,000-row buffer; memory stays flat, speed holds.

The blast server (``blast_server.py``, its own process) sends pre-encoded Hydra events as
fast as the socket takes them; one Connection ingests them into an EventBuffer that keeps
``--max-rows`` rows. Every ``--every`` events it prints the process's resident memory
(RSS, read from /proc) and the events/s of that stretch; at the end, the ratio of the
last RSS to the one after warm-up (the buffer full, the first stretch past ``max_rows``),
and of the last stretch's rate to the first's.

Run: ``python benchmarks/bench_soak.py [--events 2000000] [--max-rows 50000] [--every 100000]``
"""

from __future__ import annotations

import argparse
import asyncio
import os
import sys
import time
from pathlib import Path

from servers import start_server  # benchmarks/ is the script's own directory

from streamwidgets import feeds
from streamwidgets.buffer.event_buffer import EventBuffer
from streamwidgets.connection.driver import Connection

PAGE = os.sysconf("SC_PAGE_SIZE")


def rss_mb() -> float:
    """This process's resident memory now, in MB."""
    with open("/proc/self/statm") as statm:
        return int(statm.read().split()[1]) * PAGE / 1e6


async def soak(url: str, events: int, max_rows: int, every: int) -> None:
    feed = feeds.hydra(url, token="bench.soak.token")
    conn = Connection(feed, streams=["signals"], buffer=EventBuffer(max_rows=max_rows))
    conn.start()
    print(f"{'events':>10} {'rows kept':>10} {'RSS MB':>8} {'events/s':>10}")
    marks: list[tuple[int, float, float]] = []
    next_mark, last_at, last_count = every, time.perf_counter(), 0
    while conn.stats.events < events:
        await asyncio.sleep(0.01)
        count = conn.stats.events
        if count >= next_mark:
            now = time.perf_counter()
            rate = (count - last_count) / (now - last_at)
            len(conn.buffer)  # a read, as a notebook makes them
            marks.append((count, rss_mb(), rate))
            print(f"{count:>10,} {len(conn.buffer):>10,} {marks[-1][1]:>8.1f} {rate:>10,.0f}")
            last_at, last_count = now, count
            next_mark += every
    df = conn.buffer.df
    await conn.close()
    print(
        f"\nfinal: {conn.stats.events:,} events, {len(df):,} rows kept, "
        f"{conn.stats.reconnects} reconnects, {conn.stats.parse_errors} rejected frames"
    )
    warm = next((m for m in marks if m[0] > max_rows), marks[0])
    print(
        f"RSS: {warm[1]:.1f} MB after warm-up ({warm[0]:,} events) -> {marks[-1][1]:.1f} MB "
        f"at the end: ratio {marks[-1][1] / warm[1]:.3f}"
    )
    print(
        f"events/s: first stretch {marks[0][2]:,.0f} -> last {marks[-1][2]:,.0f}: "
        f"ratio {marks[-1][2] / marks[0][2]:.2f}"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--events", type=int, default=2_000_000)
    parser.add_argument("--max-rows", type=int, default=50_000)
    parser.add_argument("--every", type=int, default=100_000)
    args = parser.parse_args()
    blast = Path(__file__).with_name("blast_server.py")
    proc, port = start_server(
        lambda ready: [
            sys.executable,
            str(blast),
            "--events",
            str(args.events),
            "--ready-file",
            str(ready),
        ],
        "blast server",
    )
    try:
        asyncio.run(soak(f"ws://127.0.0.1:{port}/stream", args.events, args.max_rows, args.every))
    finally:
        proc.terminate()
        proc.wait(5)


if __name__ == "__main__":
    main()
