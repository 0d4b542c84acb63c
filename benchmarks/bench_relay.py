"""The relay and feeds.redis against a direct connection, in one run.

A redis-server of its own (a free port, no persistence) and the blast server
(``blast_server.py``: pre-encoded Hydra ``signal_new`` events, faster than any client),
each in its own process. It prints, all measured in this run:

1. **direct**: a Connection (receive, orjson, Hydra dialect, EventBuffer) ingesting
   ``--events`` events: events/s, the baseline of every ratio.
2. **relay in**: a Relay in this process ingesting the same number into Redis (its
   connection parses as the direct one does, its writer thread XADDs in pipelines):
   events/s until the last one is in the stream, and frames lost (none expected).
3. **Redis memory**: ``used_memory`` grown by those entries, per 1M events (and per event,
   the recording line in bytes beside it).
4. **reader backfill**: ``feeds.redis(start="begin")`` reading those entries: events/s.
5. **5 readers at once**: five reader processes backfilling the same entries together:
   each one's events/s and their sum.
6. **relay -> reader live**: ``streamwidgets relay`` as a process and one reader here, the
   blast server unpaced: events/s at the reader (first to last event), lost at the relay.
7. **added latency**: the blast server paced at ``--rate`` events/s, ``streamwidgets
   relay`` as a process, one reader here, then five reader processes, each reading from
   ``start="now"``: the time from the relay's receipt of a frame (the recorded receive
   time) to the event in a reader's buffer, p50/p99 in ms, over the events the relay
   received from a second after the reader connected on.

On a 2-core machine the processes share the cores (feed server, relay, Redis, readers),
so the live figures are what one small machine does, not what each part could.

Run: ``python3 benchmarks/bench_relay.py [--events 200000] [--rate 2000] [--seconds 8]``
(needs ``redis-server`` on the PATH: ``apt-get install -y redis-server``).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import shutil
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import redis
from bench_ingest import SERVERS, token  # benchmarks/ is the script's own directory
from servers import start_server

import streamwidgets
from streamwidgets import feeds
from streamwidgets.buffer.event_buffer import EventBuffer
from streamwidgets.connection.driver import Connection
from streamwidgets.relay.relay import Relay

STREAMS = ["signals"]
READERS = 5


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def start_redis() -> tuple[subprocess.Popen[bytes], str]:
    binary = shutil.which("redis-server")
    if binary is None:
        raise SystemExit("redis-server is not installed: apt-get install -y redis-server")
    port = free_port()
    proc = subprocess.Popen(
        [binary, "--port", str(port), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no"],
        stdout=subprocess.DEVNULL,
    )
    client = redis.Redis(port=port)
    for _ in range(200):
        try:
            client.ping()
            break
        except redis.ConnectionError:
            time.sleep(0.05)
    return proc, f"redis://127.0.0.1:{port}/0"


def blast(events: int, rate: int = 0) -> tuple[subprocess.Popen[bytes], str]:
    def command(ready: Path) -> list[str]:
        extra = ["--rate", str(rate)] if rate else []
        return [*SERVERS["blast"](events, ready), *extra]

    proc, port = start_server(command, "blast server")
    return proc, f"ws://127.0.0.1:{port}/stream"


def stop(proc: subprocess.Popen[bytes]) -> None:
    proc.terminate()
    proc.wait(10)


# 1. direct -----------------------------------------------------------------------------------


async def direct(events: int) -> float:
    server, url = blast(events)
    try:
        conn = Connection(
            feeds.hydra(url, token=token()), streams=STREAMS, buffer=EventBuffer(max_rows=events)
        )
        started = time.perf_counter()
        conn.start()
        while conn.stats.events < events:
            await asyncio.sleep(0.005)
        took = time.perf_counter() - started
        await conn.close()
    finally:
        stop(server)
    return events / took


# 2. relay in ---------------------------------------------------------------------------------


async def relay_in(events: int, redis_url: str, key: str) -> tuple[float, int]:
    server, url = blast(events)
    try:
        relay = Relay(feeds.hydra(url, token=token()), redis_url, key=key, streams=STREAMS)
        started = time.perf_counter()
        await relay.start()
        # The welcome and the subscribed reply are frames too.
        while relay.sink.entries < events + 2 - relay.summary().lost:
            await asyncio.sleep(0.005)
        took = time.perf_counter() - started
        summary = await relay.close()
    finally:
        stop(server)
    return events / took, summary.lost


# 4-5. readers --------------------------------------------------------------------------------


async def read(redis_url: str, key: str, events: int, start: str) -> dict[str, float]:
    """Read ``events`` events (with ``start="now"``: until none came for 2 s); events/s
    from the first connect, and latencies in ms."""
    latencies: list[float] = []
    reader = feeds.redis(redis_url, key, start=start)
    async with streamwidgets.open(reader, max_rows=events) as stream:
        started = time.perf_counter()
        # Latency counts events the relay received once this reader was reading (plus a
        # second of warm-up), not the backlog it read first.
        live_from = time.time_ns() + 1_000_000_000
        first: list[float] = []

        def arrived(event: streamwidgets.Event) -> None:
            now = time.time_ns()
            if not first:
                first.append(time.perf_counter())
            if event.received_ns >= live_from:
                latencies.append((now - event.received_ns) / 1e6)

        stream.connection.on_event(arrived)
        seen, quiet_since = 0, time.perf_counter()
        while stream.stats.events < events:
            await asyncio.sleep(0.002)
            if stream.stats.events != seen:
                seen, quiet_since = stream.stats.events, time.perf_counter()
            elif start == "now" and seen and time.perf_counter() - quiet_since > 2:
                break
        ended = quiet_since if start == "now" else time.perf_counter()
        events = stream.stats.events
    return {
        "from_connect": events / (ended - started),
        "first_to_last": (events - 1) / max(ended - first[0], 1e-9),
        **percentiles(latencies),
    }


def percentiles(latencies: list[float]) -> dict[str, float]:
    kept = latencies or [float("nan")]
    cuts = statistics.quantiles(kept, n=100) if len(kept) > 1 else kept * 99
    return {"p50": statistics.median(kept), "p99": cuts[98]}


def readers_at_once(redis_url: str, key: str, events: int, start: str) -> list[dict[str, float]]:
    """``READERS`` reader processes at once; each one's figures."""
    command = [sys.executable, __file__, "--reader", redis_url, key, str(events), start]
    procs = [subprocess.Popen(command, stdout=subprocess.PIPE) for _ in range(READERS)]
    return [json.loads(proc.communicate(timeout=600)[0]) for proc in procs]


# 6-7. live, through a relay process ------------------------------------------------------------


def relay_process(url: str, redis_url: str, key: str) -> subprocess.Popen[bytes]:
    env = {**os.environ, "HYDRA_TOKEN": token()}
    command = [sys.executable, "-m", "streamwidgets", "relay", "hydra", "--url", url]
    command += ["--streams", "signals", "--to", redis_url, "--key", key]
    return subprocess.Popen(command, env=env, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL)


def stop_relay(proc: subprocess.Popen[bytes]) -> str:
    proc.terminate()
    out = proc.communicate(timeout=30)[0].decode()
    return out.strip().splitlines()[-1] if out.strip() else "(no summary)"


def wait_for_header(redis_url: str, key: str) -> None:
    client = redis.Redis.from_url(redis_url)
    while not client.exists(f"{key}:header"):
        time.sleep(0.02)


async def live(redis_url: str, events: int, rate: int, key: str) -> tuple[dict, str]:
    server, url = blast(events, rate)
    proc = relay_process(url, redis_url, key)
    try:
        wait_for_header(redis_url, key)
        figures = await read(redis_url, key, events, "begin" if rate == 0 else "now")
    finally:
        summary = stop_relay(proc)
        stop(server)
    return figures, summary


def live_readers(redis_url: str, events: int, rate: int, key: str) -> tuple[list[dict], str]:
    server, url = blast(events, rate)
    proc = relay_process(url, redis_url, key)
    try:
        wait_for_header(redis_url, key)
        figures = readers_at_once(redis_url, key, events, "now")
    finally:
        summary = stop_relay(proc)
        stop(server)
    return figures, summary


# Report ----------------------------------------------------------------------------------------


def used_memory(redis_url: str) -> int:
    return int(redis.Redis.from_url(redis_url).info("memory")["used_memory"])


async def main(args: argparse.Namespace) -> None:
    n = args.events
    redis_proc, redis_url = start_redis()
    try:
        base = await direct(n)
        print(f"events: {n:,} Hydra signal_new; on {os.cpu_count()} cores")
        print(f"1. direct connection          {base:>10,.0f} ev/s   1.00x")

        before = used_memory(redis_url)
        rate_in, lost = await relay_in(n, redis_url, "bench")
        grown = used_memory(redis_url) - before
        print(
            f"2. relay into Redis           {rate_in:>10,.0f} ev/s   {rate_in / base:.2f}x  "
            f"lost {lost:,}"
        )
        line = redis.Redis.from_url(redis_url).xrange("bench", "-", "+", count=1000)
        line_bytes = statistics.mean(len(fields[b"r"]) for _, fields in line)
        print(
            f"3. Redis memory               {grown / n * 1e6 / 2**20:>10,.0f} MiB per 1M "
            f"events ({grown / n:,.0f} B/event; recording line {line_bytes:,.0f} B)"
        )

        back = await read(redis_url, "bench", n, "begin")
        print(
            f"4. reader backfill            {back['from_connect']:>10,.0f} ev/s   "
            f"{back['from_connect'] / base:.2f}x"
        )

        many = readers_at_once(redis_url, "bench", n, "begin")
        each = [r["from_connect"] for r in many]
        print(
            f"5. {READERS} readers backfilling      {min(each):>10,.0f} ev/s the slowest, "
            f"{max(each):,.0f} the fastest, {sum(each):,.0f} together "
            f"({sum(each) / base:.2f}x)"
        )

        end_to_end, said = await live(redis_url, n, 0, "live")
        print(
            f"6. relay -> reader, live      {end_to_end['first_to_last']:>10,.0f} ev/s   "
            f"{end_to_end['first_to_last'] / base:.2f}x  ({said})"
        )

        paced = args.rate * args.seconds
        one, _ = await live(redis_url, paced, args.rate, "paced1")
        print(
            f"7. added latency at {args.rate:,} ev/s  1 reader:  p50 {one['p50']:.2f} ms, "
            f"p99 {one['p99']:.2f} ms (relay receipt -> reader buffer)"
        )
        five, said = live_readers(redis_url, paced, args.rate, "paced5")
        print(
            f"   {READERS} readers at once: p50 {statistics.median(r['p50'] for r in five):.2f} "
            f"ms (median of theirs), p99 {max(r['p99'] for r in five):.2f} ms (worst); "
            f"{said}"
        )
    finally:
        stop(redis_proc)


def reader_main(redis_url: str, key: str, events: str, start: str) -> None:
    print(json.dumps(asyncio.run(read(redis_url, key, int(events), start))))


if __name__ == "__main__":
    if len(sys.argv) > 1 and sys.argv[1] == "--reader":
        reader_main(*sys.argv[2:6])
        sys.exit(0)
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--events", type=int, default=200_000)
    parser.add_argument("--rate", type=int, default=2000, help="events/s of the latency runs")
    parser.add_argument("--seconds", type=int, default=8, help="length of the latency runs")
    tempfile.tempdir = tempfile.mkdtemp(prefix="bench-relay-")
    asyncio.run(main(parser.parse_args()))
