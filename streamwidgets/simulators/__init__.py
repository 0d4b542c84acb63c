"""Local servers that imitate real feeds, for tests, demos and benchmarks.

Example:
    >>> from streamwidgets.simulators import HydraSimulator
    >>> sim = HydraSimulator(rate=20, seed=1)
"""

from __future__ import annotations

from streamwidgets.simulators.axol import AxolSimulator
from streamwidgets.simulators.hydra import ALL_STREAMS, EVENT_TYPES, HydraSimulator
from streamwidgets.simulators.hydra_v1 import HydraV1Simulator
from streamwidgets.simulators.synthetic import SIGNAL_CATEGORIES, SyntheticWorld
from streamwidgets.simulators.tokens import InvalidToken, TokenClaims, issue_token, verify_token

__all__ = [
    "ALL_STREAMS",
    "EVENT_TYPES",
    "SIGNAL_CATEGORIES",
    "AxolSimulator",
    "HydraSimulator",
    "HydraV1Simulator",
    "InvalidToken",
    "SyntheticWorld",
    "TokenClaims",
    "issue_token",
    "verify_token",
]
