"""JWT helpers for the simulators: issue and verify HS256 tokens with PyJWT.

Hydra-style tokens carry ``sub`` (the wallet address), ``streams`` (the scope),
``balance`` (the token balance the session is paid from), ``iat`` and ``exp``.

Example:
    >>> token = issue_token("s3cret", address="0xabc", streams=["signals"], expires_in=60)
    >>> claims = verify_token(token, "s3cret")
    >>> claims.address, claims.streams, claims.balance
    ('0xabc', ('signals',), 100.0)
"""

from __future__ import annotations

import time
import warnings
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

import jwt

__all__ = ["ALGORITHM", "InvalidToken", "TokenClaims", "issue_token", "verify_token"]

ALGORITHM = "HS256"


class InvalidToken(Exception):
    """The token is missing, badly signed, expired or lacks a required claim."""


@dataclass(frozen=True, slots=True)
class TokenClaims:
    """The claims of a verified token.

    Attributes:
        address: the ``sub`` claim (a wallet address).
        streams: the ``streams`` claim, the scope of the token, in token order.
        balance: the ``balance`` claim (infinite when the token has none).
        expires_at: the ``exp`` claim, seconds since the epoch.
        raw: every claim as decoded.
    """

    address: str
    streams: tuple[str, ...]
    balance: float
    expires_at: int
    raw: dict[str, Any] = field(default_factory=dict, compare=False)


def issue_token(
    secret: str,
    *,
    address: str,
    streams: Iterable[str],
    expires_in: float = 3600,
    balance: float = 100.0,
    now: float | None = None,
    extra: dict[str, Any] | None = None,
) -> str:
    """Sign a Hydra-style JWT with HS256.

    Args:
        secret: the HMAC key.
        address: the wallet address, written to ``sub``.
        streams: the stream names in scope.
        expires_in: seconds until ``exp``; negative gives an already expired token.
        balance: the token balance claim.
        now: the issue time (seconds since the epoch); defaults to the current time.
        extra: further claims to merge in.

    Returns:
        The encoded token.

    Example:
        >>> issue_token("k", address="0x1", streams=[]).count(".")
        2
    """
    issued = time.time() if now is None else now
    claims: dict[str, Any] = {
        "sub": address,
        "streams": list(streams),
        "balance": balance,
        "iat": int(issued),
        "exp": int(issued + expires_in),
    }
    if extra:
        claims.update(extra)
    with warnings.catch_warnings():
        # Simulator secrets are short test fixtures; PyJWT's key-length advice is noise here.
        warnings.simplefilter("ignore", jwt.warnings.InsecureKeyLengthWarning)
        return jwt.encode(claims, secret, algorithm=ALGORITHM)


def verify_token(token: str | None, secret: str, *, leeway: float = 0.0) -> TokenClaims:
    """Check the signature and expiry of a token and return its claims.

    Args:
        token: the encoded token, or None when the client sent none.
        secret: the HMAC key it must be signed with.
        leeway: seconds of clock skew tolerated on ``exp``.

    Returns:
        The verified claims.

    Raises:
        InvalidToken: the token is missing, malformed, badly signed, expired, or lacks
            ``sub``, ``exp`` or a list-of-strings ``streams``.

    Example:
        >>> verify_token(issue_token("k", address="0x1", streams=["a"]), "k").streams
        ('a',)
    """
    if not token:
        raise InvalidToken("no token")
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", jwt.warnings.InsecureKeyLengthWarning)
            raw = jwt.decode(
                token,
                secret,
                algorithms=[ALGORITHM],
                leeway=leeway,
                options={"require": ["exp", "sub"]},
            )
    except jwt.PyJWTError as exc:
        raise InvalidToken(str(exc)) from None
    streams = raw.get("streams", [])
    if not isinstance(streams, list) or not all(isinstance(s, str) for s in streams):
        raise InvalidToken("the streams claim must be a list of strings")
    # A token without a balance claim is not metered: nothing to be insufficient.
    balance = raw.get("balance", float("inf"))
    if isinstance(balance, bool) or not isinstance(balance, (int, float)):
        raise InvalidToken("the balance claim must be a number")
    return TokenClaims(
        address=str(raw["sub"]),
        streams=tuple(streams),
        balance=float(balance),
        expires_at=int(raw["exp"]),
        raw=raw,
    )
