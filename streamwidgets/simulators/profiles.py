"""What a simulator answers: its profile (strict or lenient) and the commands it leaves unanswered.

Every simulator takes ``profile`` and, if its clients send commands, ``unanswered``:

``"strict"`` (the default)
    Only the replies the feed's seed document and ``NOTES.md`` show. A client tested
    against it cannot learn to wait for a reply the real service may never send.
``"lenient"``
    Also the simulator's own extra replies (pongs, errors, acknowledgements the
    documents do not show), as the simulators sent them before profiles existed.
``unanswered``
    Command kinds (a Hydra ``action``, an Axol or Hyperoru ``type``, a Pusher ``event``)
    that get no reply at all in either profile, errors included, though the command
    still takes effect: a server that answers nothing, for testing a client's timeouts.

:class:`ReplyPolicy` holds both for one simulator; :func:`reply_policy` checks them.

Example:
    >>> policy = reply_policy("strict", ["ping"], known=("ping", "subscribe"))
    >>> policy.lenient, policy.answers("ping"), policy.answers("subscribe")
    (False, False, True)
    >>> reply_policy("loose", (), known=())
    Traceback (most recent call last):
    ...
    ValueError: profile must be one of 'strict', 'lenient', not 'loose'
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Any, Literal

__all__ = ["PROFILES", "Profile", "ReplyPolicy", "Replying", "check_profile", "reply_policy"]

#: The profile names, the default first.
PROFILES: tuple[str, ...] = ("strict", "lenient")
Profile = Literal["strict", "lenient"]


def check_profile(profile: Any) -> str:
    """``profile`` if it is one of :data:`PROFILES`, else a ValueError naming it and them.

    Example:
        >>> check_profile("lenient")
        'lenient'
    """
    if not isinstance(profile, str) or profile not in PROFILES:
        allowed = ", ".join(repr(p) for p in PROFILES)
        raise ValueError(f"profile must be one of {allowed}, not {profile!r}")
    return profile


@dataclass(frozen=True, slots=True)
class ReplyPolicy:
    """One simulator's profile and the command kinds it never answers.

    Example:
        >>> ReplyPolicy("lenient", frozenset({"get_info"})).answers("get_info")
        False
    """

    profile: str = "strict"
    unanswered: frozenset[str] = frozenset()

    @property
    def lenient(self) -> bool:
        """True when the simulator's own extra replies are sent too."""
        return self.profile == "lenient"

    def answers(self, kind: Any) -> bool:
        """Whether a command of this kind gets replies (of its profile) at all.

        ``kind`` is whatever the client sent there, so it may be no string (then it is
        no kind ``unanswered`` can name).
        """
        return not (isinstance(kind, str) and kind in self.unanswered)


def reply_policy(profile: Any, unanswered: Iterable[str], *, known: Sequence[str]) -> ReplyPolicy:
    """Check a simulator's ``profile`` and ``unanswered`` options; ``known`` are its command kinds.

    A single string counts as one kind, not as its letters.

    Raises:
        ValueError: an unknown profile, or a kind the simulator has no command for.

    Example:
        >>> reply_policy("strict", "ping", known=("ping",)).unanswered
        frozenset({'ping'})
        >>> reply_policy("strict", ["pong"], known=("ping",))
        Traceback (most recent call last):
        ...
        ValueError: unanswered names no command of this simulator: ['pong']; known: ['ping']
    """
    check_profile(profile)
    kinds = [unanswered] if isinstance(unanswered, str) else list(unanswered)
    bad = [k for k in kinds if not isinstance(k, str) or k not in known]
    if bad:
        raise ValueError(
            f"unanswered names no command of this simulator: {bad}; known: {list(known)}"
        )
    return ReplyPolicy(profile, frozenset(kinds))


class Replying:
    """Gives a simulator its :attr:`profile` and :attr:`unanswered`, from the
    :class:`ReplyPolicy` it keeps in ``_policy`` (made by :func:`reply_policy`)."""

    _policy: ReplyPolicy

    @property
    def profile(self) -> str:
        """``"strict"`` or ``"lenient"``: which replies this server sends."""
        return self._policy.profile

    @property
    def unanswered(self) -> frozenset[str]:
        """The command kinds (actions, types, events) that get no reply at all."""
        return self._policy.unanswered
