"""Replay: a recording served again over a loopback socket, at any speed.

``dialect`` is the replay feed; ``server`` serves the recorded frames; ``session``
follows the recording's markers; ``rebuild`` makes the recorded feed's parse-only dialect.
"""

from streamwidgets.replay.dialect import ReplayDialect

__all__ = ["ReplayDialect"]
