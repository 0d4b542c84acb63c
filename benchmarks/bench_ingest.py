"""Ingest and loop-friendliness benchmark: our pipeline against the raw websockets loop.

Two servers, each in its own process, send the same kind of small Hydra JSON
events as fast as they can:

- ``simulator``: the Hydra simulator, a realistic feed that builds every event as it
  sends it (the client often waits on it);
- ``blast``: ``blast_server.py``, pre-encoded frames written straight to the socket,
  faster than any client, so the ratio shows the client's own cost per event.

Against each, it measures the raw ``websockets`` receive loop (receive only) and the
full pipeline (Connection: receive, orjson, Hydra dialect, EventBuffer), and prints
events/s and their ratio, measured in this one run. While each ingests, a probe
schedules a ``loop.call_soon`` callback every millisecond and records how long it
waited: the p50/p99/max of those waits say how responsive the kernel's loop stays.

Run: ``python benchmarks/bench_ingest.py [--events 200000] [--rounds 3] [--server both]``
"""

from __future__ import annotations

import argparse
import asyncio
import statistics
import sys
import time
from pathlib import Path

import websockets
from servers import start_server  # benchmarks/ is the script's own directory
from websockets.asyncio.client import connect

from streamwidgets import feeds
from streamwidgets.buffer.event_buffer import EventBuffer
from streamwidgets.connection.driver import Connection

SECRET = "bench-secret"


SERVERS = {
    # The Hydra simulator: a realistic feed that builds each event as it sends it.
    "simulator": lambda events, ready: [
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
    # Pre-encoded frames written straight to the socket: faster than any client, so
    # the client's own cost per event is what the ratio shows.
    "blast": lambda events, ready: [
        sys.executable,
        str(Path(__file__).with_name("blast_server.py")),
        "--events",
        str(events),
        "--ready-file",
        str(ready),
    ],
}


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


async def measure(kind: str, events: int, rounds: int) -> float:
    proc, port = start_server(lambda ready: SERVERS[kind](events, ready), f"{kind} server")
    url = f"ws://127.0.0.1:{port}/stream"
    print(f"\n== server: {kind} ==")
    try:
        raw_rates, ours = [], []
        for round_ in range(rounds):
            raw_rate, raw_probe = await raw_loop(url, events)
            our_rate, our_probe, rows = await pipeline(url, events)
            raw_rates.append(raw_rate)
            ours.append(our_rate)
            print(
                f"round {round_ + 1}: raw {raw_rate:,.0f} ev/s | pipeline {our_rate:,.0f} ev/s "
                f"| ratio {our_rate / raw_rate:.2f} | rows buffered {rows:,}"
            )
            for name, probe in (("raw loop", raw_probe), ("pipeline", our_probe)):
                p50, p99, worst = probe.summary()
                print(
                    f"   loop wait, {name}: p50 {p50:.2f} ms  p99 {p99:.2f} ms  max {worst:.2f} ms"
                )
        raw_med, our_med = statistics.median(raw_rates), statistics.median(ours)
        print(f"median over {rounds} rounds of {events:,} events:")
        print(f"  raw websockets receive loop: {raw_med:,.0f} events/s")
        print(f"  streamwidgets pipeline:      {our_med:,.0f} events/s")
        print(f"  ratio pipeline/raw:          {our_med / raw_med:.2f}x  (goal >= 0.75x)")
        print(
            f"  per event: raw {1e6 / raw_med:.1f} us, pipeline {1e6 / our_med:.1f} us "
            f"(+{1e6 / our_med - 1e6 / raw_med:.1f} us)"
        )
        return our_med / raw_med
    finally:
        proc.terminate()
        proc.wait(5)


async def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--events", type=int, default=200_000)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--server", choices=[*SERVERS, "both"], default="both")
    args = parser.parse_args()
    print(f"websockets {websockets.__version__}; each server runs in its own process")
    kinds = list(SERVERS) if args.server == "both" else [args.server]
    ratios = {kind: await measure(kind, args.events, args.rounds) for kind in kinds}
    print("\nsummary: " + ", ".join(f"{k} feed {r:.2f}x of raw" for k, r in ratios.items()))


if __name__ == "__main__":
    asyncio.run(main())
