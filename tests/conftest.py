"""Fixtures every test directory shares: simulator profiles, a recording comm, a Hydra simulator.

Plain helpers (waiting, scaled durations, test servers) live in :mod:`tests.support`.
"""

from __future__ import annotations

import comm
import pytest

from streamwidgets.simulators.hydra import HydraSimulator
from streamwidgets.simulators.profiles import PROFILES
from tests.support.comms import RecordingComm


@pytest.fixture(params=PROFILES)
def profile(request: pytest.FixtureRequest) -> str:
    """Each simulator profile in turn: "strict" (only what the feed's documents show) and
    "lenient" (the simulators' extra replies). The client must be right against both."""
    return request.param


@pytest.fixture
def recorded(monkeypatch: pytest.MonkeyPatch):
    """Widgets made in the test publish to a :class:`RecordingComm`; they are closed after."""
    from streamwidgets import StreamWidget

    monkeypatch.setattr(comm, "create_comm", RecordingComm)
    widgets: list[StreamWidget] = []
    yield widgets
    for w in widgets:
        w.close()


@pytest.fixture
async def sim():
    """A Hydra simulator at 200 events/s (a test file that needs another defines its own)."""
    async with HydraSimulator(rate=200, seed=3) as simulator:
        yield simulator
