"""A wrapper that keeps credentials out of reprs, logs and messages."""

from __future__ import annotations

import base64
import functools
import re
from collections.abc import Iterable
from typing import Any
from urllib.parse import quote

__all__ = [
    "Secret",
    "encoded_forms",
    "redact",
    "redact_frame",
    "redact_url",
    "redact_value",
    "url_shown",
    "url_with_secret",
]

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


# Shown by its public name (streamwidgets.Secret) in help(), reprs and tracebacks.
Secret.__module__ = "streamwidgets"


def redact(text: str, secrets: Iterable[Secret | str | None], *, fragments: bool = False) -> str:
    """Replace every occurrence of the given secrets by ``***``: as written, URL-encoded,
    base64-encoded (standard and URL-safe, padded or not) and hex-encoded.

    With ``fragments``, any run of :data:`FRAGMENT_CHARS` or more characters of one of
    those forms is masked too, and base64 at any byte alignment (the secret inside
    ``base64("user:" + token)``, or a base64 text cut short): a preview cut in the middle
    (``eyJhbGciO...k3MlidOfdZYN``) must not leave the secret's head or tail readable. A
    cheap check (8-character blocks of each form) skips texts holding no piece at all.

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
        encodings = _encodings(value)
        for form in encodings.whole:
            if form in text:
                text = text.replace(form, _MASK)
        if fragments:
            for source, anchors in encodings.pieces:
                if any(anchor in text for anchor in anchors):
                    text = _mask_fragments(text, source)
    return text


def encoded_forms(value: str) -> list[str]:
    """Every whole form of a secret :func:`redact` masks (as written, URL-encoded, base64
    standard and URL-safe with and without padding, hex), longest first: for a writer
    that masks many lines with plain ``str.replace``.

    Example:
        >>> encoded_forms("ab")[-1], "YWI" in encoded_forms("ab")
        ('ab', True)
    """
    return list(_encodings(value).whole)


#: The shortest piece of a secret that :func:`redact` masks on its own (``fragments``).
FRAGMENT_CHARS = 16
_ANCHOR = FRAGMENT_CHARS // 2


class _Encodings:
    """A secret's forms: whole ones to replace, and sources of pieces with their anchors."""

    __slots__ = ("pieces", "whole")

    def __init__(self, value: str) -> None:
        raw = value.encode()
        whole = {value, quote(value, safe=""), quote(value), raw.hex(), raw.hex().upper()}
        sources = {value, quote(value, safe=""), raw.hex(), raw.hex().upper()}
        for encode in (base64.b64encode, base64.urlsafe_b64encode):
            text = encode(raw).decode()
            whole.update((text, text.rstrip("=")))
            for shift in range(3):
                # Inside a longer base64 text the secret starts at one of three byte
                # alignments; all but the last group's characters are then fixed.
                shifted = encode(raw[shift:]).decode().rstrip("=")[:-4]
                if shifted:
                    sources.add(shifted)
        self.whole = sorted((form for form in whole if form), key=len, reverse=True)
        # Every piece of FRAGMENT_CHARS or more holds one whole block at an _ANCHOR multiple.
        self.pieces = [
            (
                source,
                {source[i : i + _ANCHOR] for i in range(0, len(source) - _ANCHOR + 1, _ANCHOR)},
            )
            for source in sources
            if len(source) >= FRAGMENT_CHARS
        ]


@functools.lru_cache(maxsize=64)
def _encodings(value: str) -> _Encodings:
    return _Encodings(value)


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


def redact_frame(frame: Any, secrets: Iterable[Secret | str | None]) -> Any:
    """A copy of a DataFrame whose text and object cells hold no secret in any whole form
    (for a file that leaves the kernel, e.g. the widget's download). Other columns are
    shared, not copied.

    Example:
        >>> import pandas as pd
        >>> redact_frame(pd.DataFrame({"note": ["key abc123"]}), [Secret("abc123")])["note"][0]
        'key ***'
    """
    import numpy as np
    import pandas as pd

    values = [s.reveal() if isinstance(s, Secret) else s for s in secrets if s]
    forms = [form for value in values if value for form in _encodings(value).whole]
    if not forms:
        return frame
    out = frame.copy(deep=False)
    for name, dtype in frame.dtypes.items():
        column = frame[name]
        if isinstance(dtype, pd.StringDtype) or str(dtype) == "str":
            for form in forms:
                column = column.str.replace(form, _MASK, regex=False)
            out[name] = column
        elif isinstance(dtype, np.dtype) and dtype.kind == "O":  # Python values
            out[name] = column.map(lambda v: redact_value(v, values)).astype(object)
    return out


#: Levels of nesting :func:`redact_value` keeps.
MAX_DEPTH = 32


_QUERY_SECRET = re.compile(
    r"(?i)([?&](?:token|apikey|api_key|key|session_token|access_token|auth)=)[^&#\s]+"
)


_USERINFO_SECRET = re.compile(r"(://[^/@:\s]*:)[^/@\s]*@")


def redact_url(url: str) -> str:
    """Mask the values of query parameters that usually carry credentials, and a password
    in the URL's user part.

    Example:
        >>> redact_url("wss://h/s?token=abc&x=1")
        'wss://h/s?token=***&x=1'
        >>> redact_url("wss://alice:pw@h/s")
        'wss://alice:***@h/s'
    """
    url = _USERINFO_SECRET.sub(lambda m: m.group(1) + _MASK + "@", url)
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
