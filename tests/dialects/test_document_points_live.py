"""Smaller points of the documents against the simulator: Hydra v1 client-side scopes."""

from __future__ import annotations

import streamwidgets
from streamwidgets import feeds
from streamwidgets.simulators.hydra_v1 import HydraV1Simulator
from tests.support.waiting import eventually


async def test_hydra_v1_streams_filter_what_is_buffered(profile):
    """streams=["aircraft"] on a key with every scope: only aircraft rows are buffered (the
    README says scopes filter on the client), and the rest is counted as filtered."""
    async with HydraV1Simulator(rate=200.0, profile=profile) as sim:
        feed = feeds.hydra_v1(sim.url, api_key=sim.api_key)
        async with streamwidgets.open(feed, streams=["aircraft"]) as stream:
            await eventually(lambda: len(stream.df) > 50 and stream.stats.filtered > 50)
            assert set(stream.df["stream"]) == {"aircraft"}
            await stream.subscribe("vessels")
            await eventually(lambda: "vessels" in set(stream.df["stream"]))
        async with streamwidgets.open(feed) as everything:
            await eventually(lambda: len(set(everything.df["stream"])) > 3)
            assert everything.stats.filtered == 0
