"""Ingest and loop-friendliness benchmark: our pipeline against the raw websockets loop.

Starts the Hydra simulator in another process (so the server has its own core),
then, on the same loopback feed of small JSON events sent as fast as possible:

1. the raw ``websockets`` receive loop (receive only, no parsing);
2. the full pipeline: Connection (receive, orjson, Hydra dialect, EventBuffer);

and prints the events/s of each and their ratio, measured in this one run. While
each ingests, a probe schedules ``loop.call_soon`` callbacks every millisecond
and records how long each waited to run: the p50/p99/max of those waits say how
responsive the kernel's loop stays while a fast feed is being ingested.

Run: ``python benchmarks/bench_ingest.py [--events 200000] [--rounds 3]``
"""

from __future__ import annotations

import argparse
import asyncio
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import websockets
from websockets.asyncio.client import connect

from streamwidgets import feeds
from streamwidgets.buffer import EventBuffer
from streamwidgets.connection import Connection

SECRET = "bench-secret"


def start_server(events: int) -> tuple[subprocess.Popen[bytes], int]:
    ready = Path(tempfile.mkdtemp()) / "port"
    proc = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "streamwidgets",
            "sim",
            "hydra",
            "--port",
            "0",
            "--rate",
            "0",
            "--limit",
            str(events),
            "--secret",
            SECRET,
            "--ready-file",
            str(ready),
        ],
        stdout=subprocess.DEVNULL,
    )
    deadline = time.monotonic() + 20
    while not ready.exists() or not ready.read_text().strip():
        if time.monotonic() > deadline or proc.poll() is not None:
            proc.kill()
            raise SystemExit("the simulator did not start")
        time.sleep(0.05)
    return proc, int(ready.read_text().strip())


def token() -> str:
    from streamwidgets.simulators.hydra import ALL_STREAMS
    from streamwidgets.simulators.tokens import issue_token

    return issue_token(SECRET, address="0xbench", streams=ALL_STREAMS)


class LoopProbe:
    """Measures how long call_soon callbacks wait while something else runs."""

    def __init__(self) -> None:
        self.waits: list[float] = []
        self._task: asyncio.Task[None] | None = None

    async def _run(self) -> None:
        loop = asyncio.get_running_loop()
        while True:
            scheduled = time.perf_counter()
            loop.call_soon(lambda s=scheduled: self.waits.append(time.perf_counter() - s))
            await asyncio.sleep(0.001)

    def __enter__(self) -> LoopProbe:
        self._task = asyncio.get_running_loop().create_task(self._run())
        return self

    def __exit__(self, *exc: object) -> None:
        assert self._task is not None
        self._task.cancel()

    def summary(self) -> tuple[float, float, float]:
        ms = sorted(w * 1000 for w in self.waits) or [0.0]
        return ms[len(ms) // 2], ms[min(len(ms) - 1, int(len(ms) * 0.99))], ms[-1]


async def raw_loop(url: str, events: int) -> tuple[float, LoopProbe]:
    with LoopProbe() as probe:
        started = time.perf_counter()
        async with connect(f"{url}?token={token()}", max_size=4 * 1024 * 1024, proxy=None) as ws:
            await ws.send('{"action":"subscribe","streams":["signals"]}')
            # The feed sends `connected`, the `subscribed` reply, then the events.
            frames, wanted = 0, events + 2
            async for _message in ws:
                frames += 1
                if frames >= wanted:
                    break
        elapsed = time.perf_counter() - started
    return events / elapsed, probe


async def pipeline(url: str, events: int) -> tuple[float, LoopProbe, int]:
    feed = feeds.hydra(url, token=token())
    buffer = EventBuffer(max_rows=events)
    conn = Connection(feed, streams=["signals"], buffer=buffer)
    with LoopProbe() as probe:
        started = time.perf_counter()
        conn.start()
        while conn.stats.events < events:
            await asyncio.sleep(0.005)
        elapsed = time.perf_counter() - started
    rows = len(conn.buffer.to_dataframe())
    await conn.close()
    return events / elapsed, probe, rows


async def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--events", type=int, default=200_000)
    parser.add_argument("--rounds", type=int, default=3)
    args = parser.parse_args()
    proc, port = start_server(args.events)
    url = f"ws://127.0.0.1:{port}/stream"
    try:
        raw_rates, ours = [], []
        for round_ in range(args.rounds):
            raw_rate, raw_probe = await raw_loop(url, args.events)
            our_rate, our_probe, rows = await pipeline(url, args.events)
            raw_rates.append(raw_rate)
            ours.append(our_rate)
            print(
                f"round {round_ + 1}: raw {raw_rate:,.0f} ev/s | pipeline {our_rate:,.0f} ev/s "
                f"| ratio {our_rate / raw_rate:.2f} | rows buffered {rows:,}"
            )
            p50, p99, worst = raw_probe.summary()
            print(
                f"   loop wait, raw loop:  p50 {p50:.2f} ms  p99 {p99:.2f} ms  max {worst:.2f} ms"
            )
            p50, p99, worst = our_probe.summary()
            print(
                f"   loop wait, pipeline:  p50 {p50:.2f} ms  p99 {p99:.2f} ms  max {worst:.2f} ms"
            )
        raw_med, our_med = statistics.median(raw_rates), statistics.median(ours)
        print(
            f"\nmedian over {args.rounds} rounds, {args.events:,} events each "
            f"(websockets {websockets.__version__}, server in another process, pid {os.getpid()}):"
        )
        print(f"  raw websockets receive loop: {raw_med:,.0f} events/s")
        print(f"  streamwidgets pipeline:      {our_med:,.0f} events/s")
        print(f"  ratio pipeline/raw:          {our_med / raw_med:.2f}x  (goal >= 0.75x)")
    finally:
        proc.terminate()
        proc.wait(5)


if __name__ == "__main__":
    asyncio.run(main())
