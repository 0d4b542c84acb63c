"""A wrapper that keeps credentials out of reprs, logs and messages."""

from __future__ import annotations

import re
from collections.abc import Iterable

__all__ = ["Secret", "redact", "redact_url", "url_shown", "url_with_secret"]

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


def url_with_secret(url: str, param: str, secret: Secret, *, first: bool = False) -> str:
    """``url`` with ``param=<secret>`` added to its query; the query as written is kept.

    The one place where a credential goes into a URL; :func:`url_shown` is the same URL
    as it may be shown. ``first`` puts the credential before the rest of the query.

    Example:
        >>> url_with_secret("wss://h/s?x=1", "token", Secret("a b"))
        'wss://h/s?x=1&token=a+b'
        >>> url_with_secret("wss://h/s", "apiKey", Secret("k"), first=True)
        'wss://h/s?apiKey=k'
    """
    from urllib.parse import urlencode

    return _add_to_query(url, urlencode({param: secret.reveal()}), first)


def url_shown(url: str, param: str, *, first: bool = False) -> str:
    """The URL :func:`url_with_secret` makes, with ``***`` in place of the credential.

    Example:
        >>> url_shown("wss://h/s?x=1", "apiKey", first=True)
        'wss://h/s?apiKey=***&x=1'
    """
    from urllib.parse import urlencode

    return _add_to_query(url, urlencode({param: _MASK}, safe="*"), first)


def _add_to_query(url: str, pair: str, first: bool) -> str:
    from urllib.parse import urlsplit, urlunsplit

    parts = urlsplit(url)
    pairs = (pair, parts.query) if first else (parts.query, pair)
    return urlunsplit(parts._replace(query="&".join(p for p in pairs if p)))
