"""Making real recordings for the tests: the Hydra simulator on loopback, recorded live."""

from __future__ import annotations

import asyncio
import gzip
from pathlib import Path
from typing import Any

import orjson
import pandas as pd

import streamwidgets
from streamwidgets import feeds
from streamwidgets.simulators.hydra import HydraSimulator

from .conftest import seconds

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
