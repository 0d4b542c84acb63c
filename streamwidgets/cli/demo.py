"""The no-network demo: the Hydra simulator in this process, and a live summary of the buffer.

The feed, its simulator, the client and the streams shown are the feed registry's
(:data:`~streamwidgets.feeds.registry.DEMO_FEED`).
"""

from __future__ import annotations

import asyncio
import sys
import time
from typing import TextIO

from streamwidgets.feeds import registry
from streamwidgets.headless import open as open_stream

__all__ = ["run_demo"]


async def run_demo(
    *, seconds: float | None = None, rate: float = 50.0, out: TextIO = sys.stdout
) -> int:
    """Serve the simulated Hydra feed on 127.0.0.1, connect to it, print a summary every second.

    Args:
        seconds: stop after this long (None: until cancelled).
        rate: events per second the simulator sends.
        out: where the summary goes.

    Returns:
        The number of rows in the buffer at the end.

    Example:
        >>> import asyncio, io
        >>> rows = asyncio.run(run_demo(seconds=1.5, rate=100, out=io.StringIO()))
        >>> rows > 0
        True
    """
    entry, simulated = registry.demo()
    streams = list(simulated.demo_streams)
    async with simulated.cls(rate=rate) as sim:
        feed = simulated.client(sim)
        async with open_stream(feed, streams=streams, max_rows=20_000) as stream:
            print(f"connected to the simulated {entry.title} feed at {sim.url}", file=out)
            started = time.monotonic()
            while seconds is None or time.monotonic() - started < seconds:
                await asyncio.sleep(min(1.0, seconds or 1.0))
                df = stream.df
                by_stream = df["stream"].value_counts().to_dict() if len(df) else {}
                counts = ", ".join(f"{name} {n}" for name, n in sorted(by_stream.items()))
                stats = stream.stats
                print(
                    f"[{stream.state.value}] events {stats.events:,} "
                    f"({stats.events_per_second:.0f}/s) | buffer {len(df):,} rows x "
                    f"{df.shape[1]} columns | {counts} | parse errors {stats.parse_errors}",
                    file=out,
                    flush=True,
                )
            return len(stream.df)
