"""Replay: a recording served again over a loopback socket, at any speed.

``dialect`` is the replay feed; ``server`` serves the recorded frames; ``markers``
follows the recording's markers. The recorded feed's parse-only dialect is made by the
``rebuild`` function the replay is given (the feed registry's, which knows the feeds).
"""

from streamwidgets.replay.dialect import ReplayDialect

__all__ = ["ReplayDialect"]
