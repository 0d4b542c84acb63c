"""A wrapper that keeps credentials out of reprs, logs and messages."""

from __future__ import annotations

import re
from collections.abc import Iterable

__all__ = ["Secret", "redact"]

_MASK = "***"


class Secret:
    """Hold a credential so that printing or logging it shows ``***``.

    The value is only reachable through :meth:`reveal`, which the dialects call
    at the single place where it goes on the wire.

    Example:
        >>> s = Secret("eyJhbGci.payload.sig")
        >>> s
        Secret('***')
        >>> f"{s}"
        '***'
        >>> s.reveal()[:7]
        'eyJhbGc'
    """

    __slots__ = ("_value",)

    def __init__(self, value: str | Secret) -> None:
        if isinstance(value, Secret):
            value = value.reveal()
        if not isinstance(value, str) or not value:
            raise TypeError("a secret must be a non-empty string")
        self._value = value

    def reveal(self) -> str:
        """Return the secret itself, for the wire only."""
        return self._value

    def __repr__(self) -> str:
        return f"Secret({_MASK!r})"

    def __str__(self) -> str:
        return _MASK

    def __format__(self, spec: str) -> str:
        return _MASK

    def __eq__(self, other: object) -> bool:
        return isinstance(other, Secret) and other._value == self._value

    def __hash__(self) -> int:
        return hash(("Secret", self._value))

    def __reduce__(self) -> tuple[object, ...]:
        # Pickling would write the secret to disk or send it to another process.
        raise TypeError("secrets cannot be pickled")


def redact(text: str, secrets: Iterable[Secret | str | None]) -> str:
    """Replace every occurrence of the given secrets (and their URL-encoded forms) by ``***``.

    Example:
        >>> redact("wss://h/stream?token=abc123", [Secret("abc123")])
        'wss://h/stream?token=***'
    """
    from urllib.parse import quote

    for secret in secrets:
        if secret is None:
            continue
        value = secret.reveal() if isinstance(secret, Secret) else secret
        if not value:
            continue
        for form in {value, quote(value, safe=""), quote(value)}:
            text = text.replace(form, _MASK)
    return text


_QUERY_SECRET = re.compile(
    r"(?i)([?&](?:token|apikey|api_key|key|session_token|access_token|auth)=)[^&#\s]+"
)


def redact_url(url: str) -> str:
    """Mask the values of query parameters that usually carry credentials.

    Example:
        >>> redact_url("wss://h/s?token=abc&x=1")
        'wss://h/s?token=***&x=1'
    """
    return _QUERY_SECRET.sub(lambda m: m.group(1) + _MASK, url)
