"""Making real recordings for the tests: the Hydra simulator on loopback, recorded live;
and the ``streamwidgets`` command run in a subprocess."""

from __future__ import annotations

import asyncio
import contextlib
import gzip
import os
import subprocess
import sys
import time
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import Any

import orjson
import pandas as pd

import streamwidgets
from streamwidgets import feeds
from streamwidgets.simulators.hydra import HydraSimulator
from tests.support.waiting import seconds

STREAMS = ["signals", "markets", "aircraft"]


async def record_live(
    path: Path,
    *,
    events: int = 300,
    rate: float = 300,
    seconds_at_least: float = 0.0,
    **options: Any,
) -> pd.DataFrame:
    """Record the Hydra simulator to ``path`` until ``events`` arrived; return the live rows."""
    async with HydraSimulator(rate=rate, seed=7) as sim:
        feed = feeds.hydra(sim.url, token=sim.issue_token())
        async with streamwidgets.open(
            feed, streams=STREAMS, record=path, record_options=options
        ) as stream:
            loop = asyncio.get_running_loop()
            started = loop.time()
            deadline = started + seconds(20)
            while stream.stats.events < events or loop.time() - started < seconds_at_least:
                assert loop.time() < deadline, "the simulator sent too few events"
                await asyncio.sleep(0.01)
        return stream.df


def lines_of(path: Path) -> list[dict[str, Any]]:
    """Every line of a gzip recording, decoded."""
    return [orjson.loads(line) for line in gzip.decompress(path.read_bytes()).splitlines()]


@contextlib.contextmanager
def serving(*args: str, ready: Path) -> Iterator[int]:
    """Run ``python -m streamwidgets ARGS --ready-file READY`` for the block; yield its port.

    The server is terminated when the block ends, whatever happened in it.
    """
    server = subprocess.Popen(
        [sys.executable, "-m", "streamwidgets", *args, "--ready-file", str(ready)],
        stdout=subprocess.DEVNULL,
    )
    try:
        deadline = time.monotonic() + seconds(15)
        while not ready.exists():
            assert time.monotonic() < deadline and server.poll() is None
            time.sleep(0.05)
        yield int(ready.read_text())
    finally:
        server.terminate()
        server.wait(10)


def run_record(*args: str, env: Mapping[str, str]) -> subprocess.CompletedProcess[str]:
    """Run ``python -m streamwidgets record ARGS`` with ``env`` added; its output as text."""
    return subprocess.run(
        [sys.executable, "-m", "streamwidgets", "record", *args],
        env={**os.environ, **env},
        capture_output=True,
        text=True,
        timeout=seconds(30),
    )


def check_record_output(result: subprocess.CompletedProcess[str], out: Path, duration: str) -> None:
    """The record command succeeded, showed its progress and wrote ``out`` after ``duration``."""
    assert result.returncode == 0, result.stderr
    progress = [line for line in result.stderr.splitlines() if "ev/s" in line]
    assert progress and " events " in progress[-1] and " MB " in progress[-1]
    assert f"wrote {out}" in result.stdout and f"max_duration reached ({duration})" in result.stdout


async def replay_all(feed, **options) -> tuple[pd.DataFrame, list[float], streamwidgets.Stream]:
    """Open a replay, wait for its end; return the rows and the arrival time of each event."""
    arrivals: list[float] = []
    async with streamwidgets.open(feed, **options) as stream:
        stream.connection.on_event(lambda _e: arrivals.append(time.monotonic()))
        await feed.wait_finished(timeout=seconds(20))
        await asyncio.sleep(0.05)
    return stream.df, arrivals, stream
