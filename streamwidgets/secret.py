"""A wrapper that keeps credentials out of reprs, logs and messages."""

from __future__ import annotations

import base64
import re
from collections.abc import Iterable
from typing import Any
from urllib.parse import quote

__all__ = ["Secret", "redact", "redact_url", "redact_value", "url_shown", "url_with_secret"]

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


def redact(text: str, secrets: Iterable[Secret | str | None], *, fragments: bool = False) -> str:
    """Replace every occurrence of the given secrets by ``***``: as written, URL-encoded and
    base64-encoded (standard and URL-safe, padded or not).

    With ``fragments``, any run of :data:`FRAGMENT_CHARS` or more characters of a secret is
    masked too: a preview cut in the middle (``eyJhbGciO...k3MlidOfdZYN``) must not leave
    the secret's head or tail readable. That scan costs more, so it is for short texts
    (log lines, server messages, previews), not for whole recordings.

    Example:
        >>> redact("wss://h/stream?token=abc123", [Secret("abc123")])
        'wss://h/stream?token=***'
        >>> key = Secret("s3cr3t-0123456789abcdef0")
        >>> redact("got ...0123456789abcdef0)", [key], fragments=True)
        'got ...***)'
    """
    for secret in secrets:
        if secret is None:
            continue
        value = secret.reveal() if isinstance(secret, Secret) else secret
        if not value:
            continue
        for form in _forms(value):
            if form in text:
                text = text.replace(form, _MASK)
        if fragments and len(value) >= FRAGMENT_CHARS:
            text = _mask_fragments(text, value)
    return text


#: The shortest piece of a secret that :func:`redact` masks on its own (``fragments``).
FRAGMENT_CHARS = 16


def _forms(value: str) -> set[str]:
    raw = value.encode()
    forms = {value, quote(value, safe=""), quote(value)}
    for encoded in (base64.b64encode(raw), base64.urlsafe_b64encode(raw)):
        text = encoded.decode()
        forms.update((text, text.rstrip("=")))
    return {form for form in forms if form}


def _mask_fragments(text: str, value: str) -> str:
    spans: list[tuple[int, int]] = []
    for start in range(len(value) - FRAGMENT_CHARS + 1):
        window = value[start : start + FRAGMENT_CHARS]
        found = text.find(window)
        while found >= 0:
            # Grow the match both ways while text and secret agree.
            left, right, head = found, found + FRAGMENT_CHARS, start
            while left > 0 and head > 0 and text[left - 1] == value[head - 1]:
                left, head = left - 1, head - 1
            tail = start + FRAGMENT_CHARS
            while right < len(text) and tail < len(value) and text[right] == value[tail]:
                right, tail = right + 1, tail + 1
            spans.append((left, right))
            found = text.find(window, right)
    if not spans:
        return text
    spans.sort()
    out, at = [], 0
    for left, right in spans:
        if right <= at:
            continue
        out.append(text[at : max(left, at)])
        if left >= at:
            out.append(_MASK)
        at = right
    out.append(text[at:])
    return "".join(out)


def redact_value(value: Any, secrets: Iterable[Secret | str | None], *, depth: int = 0) -> Any:
    """A copy of JSON-like data (a server's error payload) with every string redacted, keys
    included. Deeper than :data:`MAX_DEPTH` levels the rest is replaced by a marker.

    Example:
        >>> redact_value({"msg": "bad abc123", "n": [1, "abc123"]}, [Secret("abc123")])
        {'msg': 'bad ***', 'n': [1, '***']}
    """
    secrets = list(secrets)
    if isinstance(value, str):
        return redact(value, secrets, fragments=True)
    if depth >= MAX_DEPTH:
        return "<deeper data left out>" if isinstance(value, (dict, list, tuple)) else value
    if isinstance(value, dict):
        return {
            redact(str(k), secrets, fragments=True): redact_value(v, secrets, depth=depth + 1)
            for k, v in value.items()
        }
    if isinstance(value, (list, tuple)):
        return [redact_value(v, secrets, depth=depth + 1) for v in value]
    return value


#: Levels of nesting :func:`redact_value` keeps.
MAX_DEPTH = 32


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
