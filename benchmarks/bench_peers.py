"""Peer benchmark: our headless pipeline against the tools a user would pick instead.

Every client reads the same feed (``blast_server.py --kind market``: 200,000 nested Hydra
``market_update`` events of about 230 bytes, pre-encoded and written as fast as the
socket takes them) and ends with a table of the newest 50,000 rows:

- ``raw``: the websockets receive loop, frames kept in a 50,000-deque, unparsed: the ceiling.
- ``orjson``: receive + ``orjson.loads``, dicts kept in a deque: the floor of any JSON pipeline.
- ``streamwidgets``: Connection + Hydra dialect + ``EventBuffer(max_rows=50_000)``, the
  DataFrame built once at the end.
- ``glue``: notebook glue: a list of dicts; every 1,000 events ``pd.json_normalize``,
  ``pd.concat`` and ``tail(50_000)``.
- ``perspective``: a Perspective table with ``limit=50_000``, updated with 1,000 flattened
  rows at a time, no View; ``perspective-view``: the same with one View kept open (its
  Arrow read at the end).
- ``streamz``: ``Stream(asynchronous=True).partition(1000)`` -> ``json_normalize`` ->
  concat/tail, into a sink.
- ``concat``: a ``pd.concat`` per message, the naive way; so slow that it reads only the
  first 2,000 events (while its table is small, which flatters it).
- ``deephaven``: a Deephaven table publisher fed 1,000 rows at a time, into a 50,000-row
  ring table (the embedded engine runs in the client's process, its threads outside the
  GIL, so it may use more than one core; needs Java and the ``bench`` extra).

Peers parse with orjson and flatten with a function written for this one event shape (the
fastest a user can do); ours flattens any shape. Each client runs in a fresh Python
process; its clock starts before it connects and stops once its table is whole (imports,
the Deephaven JVM start and closing the socket are outside it). One server process per
round serves every client in turn (the order rotates); the table shows medians. Every
table is checked: 50,000 rows (2,000 for ``concat``), holding exactly the newest events.

Latency: a server paced at ``--rate`` events/s stamps each event's ``ts`` as it sends
it; a client notes, for each event, how long after its ``ts`` its row became visible in
the client's table (for batched peers: when the batch lands, so the wait for a batch to
fill is part of it). ``raw`` has no parsed ``ts`` and ``concat`` cannot keep up, so
neither is timed there. A p99 includes the client's garbage collections (a full one over
tens of thousands of kept dicts takes 10-30 ms), so it moves more than a p50 between runs.

Run: ``python benchmarks/bench_peers.py [--events N] [--rounds R] [--clients a,b]``
(``--help`` for the rest). Read the ratios, not the absolute numbers: "vs raw" is a
client's events/s over the raw receive loop's; "ours/peer" is ours over the peer's (above
1: we are faster). On a 2-core machine (the server takes one core) ratios move by up to
±25% from run to run; only larger differences mean something.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import resource
import shutil
import socket
import statistics
import subprocess
import sys
import time
from collections import deque
from collections.abc import Callable
from pathlib import Path
from typing import Any

import orjson

KEEP = 50_000  # rows every client's table ends with
BATCH = 1_000  # events per update for the batched peers
CONCAT_CAP = 2_000  # events the per-message-concat client reads
RESULT = "RESULT "  # prefix of the child's result line (Deephaven's JVM logs to stdout too)
SUBSCRIBE = '{"action":"subscribe","streams":["markets"]}'
CLIENTS = [
    "raw",
    "orjson",
    "streamwidgets",
    "glue",
    "perspective",
    "perspective-view",
    "streamz",
    "concat",
    "deephaven",
]
NOT_TIMED_FOR_LATENCY = {
    "raw": "it parses nothing, so no ts",
    "concat": "it cannot keep up with the paced feed (see its events/s)",
}
# The flattened row of the peers that need a schema (Perspective, Deephaven). Deephaven
# column names must be identifiers, hence ``book_bid``, not ``book.bid``.
COLUMNS = {
    "stream": str,
    "type": str,
    "ts": float,
    "symbol": str,
    "price": float,
    "changePct": float,
    "volume": float,
    "book_bid": float,
    "book_ask": float,
    "tags": str,
}


# Child side: one client, in its own process -------------------------------------------


class Latency:
    """Milliseconds from each event's ``ts`` to when its row is visible in the table."""

    def __init__(self) -> None:
        self.waiting: list[float] = []
        self.ms: list[float] = []

    def arrived(self, ts: float) -> None:
        self.waiting.append(ts)

    def landed(self) -> None:
        """Every event that arrived is now in the table."""
        now = time.time() * 1000
        self.ms.extend(now - ts for ts in self.waiting)
        self.waiting.clear()

    def add(self, ms: float) -> None:
        self.ms.append(ms)

    def summary(self, skip: int) -> dict[str, float]:
        # The first events are left out: lazy imports and first allocations are warm-up.
        ms = sorted(self.ms[skip:]) or [float("nan")]
        return {
            "p50": ms[len(ms) // 2],
            "p99": ms[min(len(ms) - 1, int(len(ms) * 0.99))],
            "max": ms[-1],
            "n": len(ms),
        }


def flat_row(event: dict[str, Any]) -> tuple[Any, ...]:
    """One event as a row of ``COLUMNS``, flattened by hand for this event shape."""
    data = event["data"]
    book = data["book"]
    return (
        event["stream"],
        event["type"],
        event["ts"],
        data["symbol"],
        data["price"],
        data["changePct"],
        data["volume"],
        book["bid"],
        book["ask"],
        ",".join(data["tags"]),  # neither peer stores a list column as easily
    )


def columns_of(batch: list[tuple[Any, ...]]) -> dict[str, list[Any]]:
    """Rows of ``COLUMNS`` turned into columns (what both schema'd peers take fastest)."""
    return dict(zip(COLUMNS, map(list, zip(*batch, strict=True)), strict=True))


def url(port: int) -> str:
    return f"ws://127.0.0.1:{port}/stream"


class Client:
    """A peer: its own receive loop hands each frame to ``on_frame``; ``finish`` completes
    the table. Set-up (imports, servers) happens in ``__init__``, before the clock starts."""

    def __init__(self, latency: Latency | None) -> None:
        self.latency = latency

    def on_frame(self, frame: str | bytes) -> None:
        raise NotImplementedError

    async def finish(self) -> None:
        """Make the table whole (a partial batch, a pending update)."""

    def inspect(self) -> tuple[int, float, float]:
        """Rows of the finished table, and its oldest and newest ``ts``."""
        raise NotImplementedError

    async def run(self, port: int, events: int) -> float:
        """Seconds from connecting to a whole table of ``events`` events."""
        from websockets.asyncio.client import connect

        on_frame = self.on_frame
        started = time.perf_counter()
        async with connect(url(port), max_size=4 * 1024 * 1024, proxy=None) as ws:
            # Hydra's handshake: the welcome, our subscribe, its reply; then events only.
            await ws.recv()
            await ws.send(SUBSCRIBE)
            await ws.recv()
            for _ in range(events):
                on_frame(await ws.recv())
            await self.finish()
            elapsed = time.perf_counter() - started
        return elapsed


class Raw(Client):
    def __init__(self, latency: Latency | None) -> None:
        super().__init__(latency)
        self.kept: deque[str | bytes] = deque(maxlen=KEEP)
        self.on_frame = self.kept.append  # type: ignore[method-assign]  # no Python frame

    def inspect(self) -> tuple[int, float, float]:
        ts = [orjson.loads(self.kept[i])["ts"] for i in (0, -1)]
        return len(self.kept), ts[0], ts[1]


class Orjson(Client):
    def __init__(self, latency: Latency | None) -> None:
        super().__init__(latency)
        self.kept: deque[dict[str, Any]] = deque(maxlen=KEEP)

    def on_frame(self, frame: str | bytes) -> None:
        event = orjson.loads(frame)
        self.kept.append(event)
        if self.latency is not None:
            self.latency.add(time.time() * 1000 - event["ts"])

    def inspect(self) -> tuple[int, float, float]:
        return len(self.kept), self.kept[0]["ts"], self.kept[-1]["ts"]


class Batched(Client):
    """Collects parsed events and hands every ``BATCH`` of them to ``land``."""

    def __init__(self, latency: Latency | None) -> None:
        super().__init__(latency)
        self.pending: list[Any] = []

    def parse(self, event: dict[str, Any]) -> Any:
        return event

    def land(self, batch: list[Any]) -> None:
        raise NotImplementedError

    def on_frame(self, frame: str | bytes) -> None:
        event = orjson.loads(frame)
        if self.latency is not None:
            self.latency.arrived(event["ts"])
        self.pending.append(self.parse(event))
        if len(self.pending) >= BATCH:
            self.flush()

    def flush(self) -> None:
        if self.pending:
            batch, self.pending = self.pending, []
            self.land(batch)
            if self.latency is not None:
                self.latency.landed()

    async def finish(self) -> None:
        self.flush()


def frame_span(frame: Any) -> tuple[int, float, float]:
    return len(frame), float(frame["ts"].min()), float(frame["ts"].max())


class Glue(Batched):
    def __init__(self, latency: Latency | None) -> None:
        super().__init__(latency)
        import pandas as pd

        self.pd = pd
        self.table: Any = None

    def land(self, batch: list[Any]) -> None:
        rows = self.pd.json_normalize(batch)
        if self.table is None:
            self.table = rows
        else:
            self.table = self.pd.concat([self.table, rows], ignore_index=True).tail(KEEP)

    def inspect(self) -> tuple[int, float, float]:
        return frame_span(self.table)


class Perspective(Batched):
    def __init__(self, latency: Latency | None, with_view: bool = False) -> None:
        super().__init__(latency)
        import perspective

        types = {str: "string", float: "float"}
        self.table = perspective.table(
            {name: types[kind] for name, kind in COLUMNS.items()}, limit=KEEP
        )
        # A View is what a user looks at; one kept open is recomputed on every update.
        self.view = self.table.view() if with_view else None
        self.arrow = b""

    parse = staticmethod(flat_row)

    def land(self, batch: list[Any]) -> None:
        # Column-oriented: faster than a list of row dicts with this version.
        self.table.update(columns_of(batch))

    async def finish(self) -> None:
        self.flush()
        if self.view is not None:
            self.arrow = self.view.to_arrow()

    def inspect(self) -> tuple[int, float, float]:
        ts = self.table.view(columns=["ts"]).to_columns()["ts"]
        rows = self.view.num_rows() if self.view is not None else self.table.size()
        return rows, min(ts), max(ts)


class Streamz(Client):
    def __init__(self, latency: Latency | None) -> None:
        super().__init__(latency)
        import pandas as pd
        from streamz import Stream

        def append_rows(table: Any, rows: Any) -> Any:
            return pd.concat([table, rows], ignore_index=True).tail(KEEP)

        self.table: Any = None
        # asynchronous=True, as streamz says for code in an event loop: with the default,
        # partition's own IO loop runs in a thread and every emit waits on it (15x slower).
        self.source = Stream(asynchronous=True)
        rows = self.source.partition(BATCH).map(pd.json_normalize)
        rows.accumulate(append_rows).sink(self.landed)

    def landed(self, table: Any) -> None:
        self.table = table
        if self.latency is not None:
            self.latency.landed()

    def on_frame(self, frame: str | bytes) -> None:
        event = orjson.loads(frame)
        if self.latency is not None:
            self.latency.arrived(event["ts"])
        # Every step is synchronous: the pipeline has run (and the future emit returns
        # is done) before emit returns, so nothing is left to await.
        self.source.emit(event)

    def inspect(self) -> tuple[int, float, float]:
        return frame_span(self.table)


class Concat(Client):
    def __init__(self, latency: Latency | None) -> None:
        super().__init__(latency)
        import pandas as pd

        self.pd = pd
        self.table: Any = None

    def on_frame(self, frame: str | bytes) -> None:
        row = self.pd.json_normalize(orjson.loads(frame))
        if self.table is None:
            self.table = row
        else:
            self.table = self.pd.concat([self.table, row], ignore_index=True).tail(KEEP)

    def inspect(self) -> tuple[int, float, float]:
        return frame_span(self.table)


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


class Deephaven(Batched):
    def __init__(self, latency: Latency | None) -> None:
        super().__init__(latency)
        from deephaven_server import Server

        # The engine lives in a JVM inside this process; its start is set-up, not ingest.
        Server(host="127.0.0.1", port=free_port(), jvm_args=["-Xmx2g"]).start()
        from deephaven import dtypes, ring_table
        from deephaven.column import double_col, string_col
        from deephaven.stream.table_publisher import table_publisher
        from deephaven.table_listener import listen

        kinds = {str: dtypes.string, float: dtypes.double}
        self.makers = {str: string_col, float: double_col}
        self.blink, self.publisher = table_publisher(
            "market", {name: kinds[kind] for name, kind in COLUMNS.items()}
        )
        self.ring = ring_table(self.blink, KEEP)
        self.published = 0
        self.seen = 0
        self.timed: list[float] = []
        # The blink table and the ring it feeds update in the same cycle: a row the
        # listener sees on the blink table is in the ring once that cycle ends.
        self.handle = listen(self.blink, self.on_update)

    parse = staticmethod(flat_row)

    def land(self, batch: list[Any]) -> None:
        from deephaven import new_table

        columns = columns_of(batch)
        made = [self.makers[COLUMNS[name]](name, values) for name, values in columns.items()]
        self.publisher.add(new_table(made))
        self.published += len(batch)

    def flush(self) -> None:
        # A batch lands when the update graph takes it (see on_update), not when published.
        if self.pending:
            batch, self.pending = self.pending, []
            self.land(batch)

    def on_update(self, update: Any, is_replay: bool) -> None:
        ts = update.added(cols=["ts"])["ts"]
        self.seen += len(ts)
        if self.latency is not None:
            now = time.time() * 1000
            self.latency.ms.extend((now - ts).tolist())

    async def finish(self) -> None:
        self.flush()
        # Ask for a cycle now rather than wait up to a whole period (1 s by default).
        self.blink.j_table.getUpdateGraph().requestRefresh()
        while self.seen < self.published:
            await asyncio.sleep(0.001)

    def inspect(self) -> tuple[int, float, float]:
        from deephaven.pandas import to_pandas

        return self.ring.size, *frame_span(to_pandas(self.ring.view(["ts"])))[1:]


class Streamwidgets(Client):
    def __init__(self, latency: Latency | None) -> None:
        super().__init__(latency)
        from bench_ingest import token  # benchmarks/ is the script's own directory

        from streamwidgets import feeds
        from streamwidgets.buffer.event_buffer import EventBuffer
        from streamwidgets.connection.driver import Connection

        self.feed = feeds.hydra
        self.token = token()
        self.EventBuffer = EventBuffer
        self.Connection = Connection
        self.table: Any = None

    async def run(self, port: int, events: int) -> float:
        # As bench_ingest.py drives it: built before the clock, started inside it.
        buffer = self.EventBuffer(max_rows=KEEP)
        feed = self.feed(url(port), token=self.token)
        conn = self.Connection(feed, streams=["markets"], buffer=buffer)
        if self.latency is not None:
            latency = self.latency
            # Sinks run once the events are appended: the next read of the buffer has them.
            conn.on_event(lambda event: latency.add((time.time_ns() - event.event_ns) / 1e6))
        started = time.perf_counter()
        conn.start()
        while conn.stats.events < events:
            await asyncio.sleep(0.005)
        self.table = buffer.to_dataframe()
        elapsed = time.perf_counter() - started
        await conn.close()
        return elapsed

    def inspect(self) -> tuple[int, float, float]:
        # ns -> the feed's ms, in integers: a float of ns since 1970 is not exact
        ms = self.table["event_time"].dt.as_unit("ns").astype("int64") // 1_000_000
        return len(self.table), float(ms.min()), float(ms.max())


def make_client(name: str, latency: Latency | None) -> Client:
    makers: dict[str, Callable[[Latency | None], Client]] = {
        "raw": Raw,
        "orjson": Orjson,
        "streamwidgets": Streamwidgets,
        "glue": Glue,
        "perspective": Perspective,
        "perspective-view": lambda lat: Perspective(lat, with_view=True),
        "streamz": Streamz,
        "concat": Concat,
        "deephaven": Deephaven,
    }
    return makers[name](latency)


def peak_rss_mb() -> float:
    """This process's peak resident memory (the Deephaven JVM lives in it, so it counts).

    Linux's ``ru_maxrss`` starts from the parent's peak (an exec keeps the old address
    space's high-water mark), which would bury a small client under the parent's pandas;
    ``VmHWM`` is the peak of this process's own address space.
    """
    try:
        with open("/proc/self/status") as status:
            for line in status:
                if line.startswith("VmHWM:"):
                    return int(line.split()[1]) / 1024
    except OSError:
        pass
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024  # KiB on Linux


def run_client(name: str, port: int, events: int, timed: bool) -> None:
    """Child mode: one client reads ``events`` events, then prints its result line."""
    latency = Latency() if timed else None
    client = make_client(name, latency)
    seconds = asyncio.run(client.run(port, events))
    rows, first_ts, last_ts = client.inspect()
    result = {
        "client": name,
        "events": events,
        "seconds": seconds,
        "rows": rows,
        "first_ts": first_ts,
        "last_ts": last_ts,
        "rss_mb": peak_rss_mb(),
        "latency": latency.summary(skip=BATCH) if latency is not None else None,
    }
    print(RESULT + json.dumps(result), flush=True)


# Parent side: servers, child processes, checks, tables --------------------------------


class ClientFailed(Exception):
    pass


def blast_command(events: int, rate: int) -> Callable[[Path], list[str]]:
    from bench_ingest import SERVERS

    extra = ["--kind", "market", "--rate", str(rate)]
    return lambda ready: SERVERS["blast"](events, ready) + extra


def spawn(name: str, port: int, events: int, timed: bool) -> dict[str, Any]:
    command = [sys.executable, __file__, "--client", name, "--port", str(port)]
    command += ["--events", str(events)] + (["--timed"] if timed else [])
    done = subprocess.run(command, capture_output=True, text=True, timeout=900)
    lines = [line for line in done.stdout.splitlines() if line.startswith(RESULT)]
    if done.returncode != 0 or not lines:
        tail = (done.stderr.strip().splitlines() or ["no error output"])[-1]
        raise ClientFailed(f"exit {done.returncode}: {tail}")
    return json.loads(lines[-1][len(RESULT) :])


def check_table(result: dict[str, Any], stream_start: dict[str, float]) -> None:
    """Fail loudly unless the table holds exactly the newest events it should."""
    name, events, rows = result["client"], result["events"], result["rows"]
    wanted = min(events, KEEP)
    if rows != wanted:
        raise SystemExit(f"{name}: its table has {rows:,} rows, expected {wanted:,}")
    # Unpaced, event n has ts = start + n: the span and the start must agree.
    span = result["last_ts"] - result["first_ts"]
    start = result["last_ts"] - events
    if span != rows - 1 or stream_start.setdefault("start", start) != start:
        raise SystemExit(
            f"{name}: its table does not hold the newest {rows:,} events "
            f"(ts {result['first_ts']}..{result['last_ts']})"
        )


def events_for(name: str, events: int) -> int:
    return min(events, CONCAT_CAP) if name == "concat" else events


def measure_throughput(
    clients: list[str], events: int, rounds: int
) -> tuple[dict[str, list[dict[str, Any]]], dict[str, str]]:
    from servers import start_server

    results: dict[str, list[dict[str, Any]]] = {name: [] for name in clients}
    left_out: dict[str, str] = {}
    for round_ in range(rounds):
        proc, port = start_server(blast_command(events, 0), "blast server")
        stream_start: dict[str, float] = {}
        order = clients[round_ % len(clients) :] + clients[: round_ % len(clients)]
        line = []
        try:
            for name in order:
                if name in left_out:
                    continue
                try:
                    result = spawn(name, port, events_for(name, events), timed=False)
                except ClientFailed as exc:
                    if name != "deephaven":
                        raise SystemExit(f"{name} failed: {exc}") from None
                    left_out[name] = f"did not run here ({exc})"
                    print(f"deephaven left out: {left_out[name]}")
                    continue
                check_table(result, stream_start)
                results[name].append(result)
                line.append(f"{name} {result['events'] / result['seconds']:,.0f}")
        finally:
            proc.terminate()
            proc.wait(10)
        print(f"round {round_ + 1}: " + " | ".join(line) + " ev/s", flush=True)
    return results, left_out


def measure_latency(clients: list[str], rate: int, seconds: float) -> dict[str, dict[str, float]]:
    from servers import start_server

    events = max(2 * BATCH, round(rate * seconds / BATCH) * BATCH)
    timed = [name for name in clients if name not in NOT_TIMED_FOR_LATENCY]
    proc, port = start_server(blast_command(events, rate), "paced blast server")
    found: dict[str, dict[str, float]] = {}
    try:
        for name in timed:
            try:
                result = spawn(name, port, events, timed=True)
            except ClientFailed as exc:
                print(f"{name}: latency not measured ({exc})")
                continue
            if result["rows"] != min(events, KEEP):
                raise SystemExit(f"{name}: {result['rows']:,} rows after the paced run")
            found[name] = result["latency"]
    finally:
        proc.terminate()
        proc.wait(10)
    return found


def print_throughput(results: dict[str, list[dict[str, Any]]]) -> None:
    def median(name: str, key: str) -> float:
        runs = results[name]
        if key == "rate":
            return statistics.median(r["events"] / r["seconds"] for r in runs)
        return statistics.median(r[key] for r in runs)

    done = [name for name, runs in results.items() if runs]
    rates = {name: median(name, "rate") for name in done}
    raw, ours = rates.get("raw"), rates.get("streamwidgets")
    print(f"\n{'client':<17}{'events/s':>11}{'vs raw':>9}{'ours/peer':>11}{'peak RSS MB':>13}")
    for name in done:
        vs_raw = f"{rates[name] / raw:.2f}" if raw else "-"
        ours_over = f"{ours / rates[name]:.2f}" if ours and name != "streamwidgets" else "-"
        note = f"  (first {CONCAT_CAP:,} events)" if name == "concat" else ""
        print(
            f"{name:<17}{rates[name]:>11,.0f}{vs_raw:>9}{ours_over:>11}"
            f"{median(name, 'rss_mb'):>13,.0f}{note}"
        )


def print_latency(found: dict[str, dict[str, float]], clients: list[str], rate: int) -> None:
    print(f"\nlatency, feed paced at {rate:,} events/s: event ts -> row visible in the table")
    print(f"{'client':<17}{'p50 ms':>9}{'p99 ms':>9}{'max ms':>9}{'events':>9}")
    for name, lat in found.items():
        print(f"{name:<17}{lat['p50']:>9.2f}{lat['p99']:>9.2f}{lat['max']:>9.2f}{lat['n']:>9,}")
    for name, why in NOT_TIMED_FOR_LATENCY.items():
        if name in clients:
            print(f"{name}: not timed ({why})")
    if "deephaven" in found:
        print("deephaven: rows land once per update-graph cycle, 1 s by default")
    print(f"(the first {BATCH:,} events of each run are warm-up, left out)")


def deephaven_problem() -> str | None:
    """Why Deephaven cannot run here, or None."""
    import importlib.util

    if importlib.util.find_spec("deephaven_server") is None:
        return "deephaven-server is not installed (pip install -e '.[bench]')"
    if shutil.which("java") is None:
        return "no java on PATH (the embedded Deephaven engine needs a JVM, 17 or later)"
    return None


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--events", type=int, default=200_000)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--clients", default=",".join(CLIENTS), help="comma-separated")
    parser.add_argument("--rate", type=int, default=5_000, help="paced feed, events/s")
    parser.add_argument("--latency-seconds", type=float, default=4.0, help="0: no latency run")
    # Child mode, used by the parent
    parser.add_argument("--client", choices=CLIENTS, help=argparse.SUPPRESS)
    parser.add_argument("--port", type=int, help=argparse.SUPPRESS)
    parser.add_argument("--timed", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args()
    args.clients = [name.strip() for name in args.clients.split(",") if name.strip()]
    unknown = sorted(set(args.clients) - set(CLIENTS))
    if unknown:
        parser.error(f"unknown clients {unknown}; known: {', '.join(CLIENTS)}")
    if args.client is None and (args.events < BATCH or args.events % BATCH):
        parser.error(f"--events must be a multiple of {BATCH} (the batch size of the peers)")
    return args


def main() -> None:
    args = parse_args()
    if args.client is not None:
        run_client(args.client, args.port, args.events, args.timed)
        return
    started = time.perf_counter()
    clients = list(args.clients)
    if "deephaven" in clients and (problem := deephaven_problem()) is not None:
        print(f"deephaven left out: {problem}")
        clients.remove("deephaven")
    print(
        f"{args.events:,} market_update events, {args.rounds} rounds; "
        f"every client in a fresh process, newest {KEEP:,} rows kept"
    )
    results, left_out = measure_throughput(clients, args.events, args.rounds)
    print_throughput(results)
    if args.latency_seconds > 0:
        timed = [name for name in clients if name not in left_out]
        found = measure_latency(timed, args.rate, args.latency_seconds)
        print_latency(found, timed, args.rate)
    print(f"\ntotal {time.perf_counter() - started:.0f} s")


if __name__ == "__main__":
    main()
