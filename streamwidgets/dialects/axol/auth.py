"""The Axol token exchange: an API key in, a short-lived JWT out, over HTTPS with httpx.

``POST {rest_url}/api/v1/auth/token`` with the key in the ``X-API-Key`` header and the body
``{"grant_type": "client_credentials"}``. The answer's shape is not documented; an
OAuth-style ``{"access_token", "token_type", "expires_in"}`` is read (``token`` is accepted
for ``access_token``; a missing ``expires_in`` means "until the server says otherwise").

Outcomes, as exceptions the :class:`~streamwidgets.connection.driver.Connection` already knows:

- 401 or 403: :class:`~streamwidgets.exceptions.AuthenticationFailed` (the connection stops;
  the same key would be refused again, so no retry storm).
- 5xx, 429, other statuses, timeouts, unreachable host, an unreadable answer:
  :class:`~streamwidgets.exceptions.ConnectionFailed` (the connection retries with its
  backoff, up to its ``max_attempts``).

No message ever holds the key or the token.

Example:
    >>> token_endpoint("https://api.axol.io")
    'https://api.axol.io/api/v1/auth/token'
    >>> token_endpoint("http://127.0.0.1:9/")
    'http://127.0.0.1:9/api/v1/auth/token'
"""

from __future__ import annotations

import math
import time
from dataclasses import dataclass, field
from typing import Any

from streamwidgets._util.secret import Secret
from streamwidgets.connection.rest import request_json
from streamwidgets.exceptions import ConnectionFailed

__all__ = ["TOKEN_PATH", "IssuedToken", "exchange_key", "token_endpoint"]

TOKEN_PATH = "/api/v1/auth/token"


@dataclass(frozen=True, slots=True)
class IssuedToken:
    """A JWT from the exchange and when to stop trusting it (``time.monotonic()`` seconds)."""

    token: Secret = field(repr=False)
    expires_at: float | None


def token_endpoint(rest_url: str) -> str:
    """The token exchange URL under a REST base URL."""
    return rest_url.rstrip("/") + TOKEN_PATH


async def exchange_key(api_key: Secret, rest_url: str, *, timeout: float) -> IssuedToken:
    """Exchange an API key for a JWT; one HTTP request, bounded by ``timeout`` seconds.

    Raises:
        AuthenticationFailed: the key was refused (HTTP 401 or 403).
        ConnectionFailed: anything else went wrong; worth retrying later.

    Example:
        >>> import asyncio
        >>> asyncio.run(exchange_key(Secret("k"), "http://127.0.0.1:9", timeout=1))
        Traceback (most recent call last):
        ...
        streamwidgets.exceptions.ConnectionFailed: token exchange: cannot reach ...
    """
    answer = await request_json(
        "token exchange",
        "POST",
        token_endpoint(rest_url),
        headers={"X-API-Key": api_key.reveal(), "Accept": "application/json"},
        timeout=timeout,
        refused="API key refused by the token exchange",
        check="key",
        failed_note="; retrying",
        too_large="the answer is too large to be a token",
        json={"grant_type": "client_credentials"},
    )
    return _read_answer(answer)


def _read_answer(answer: Any) -> IssuedToken:
    token = answer.get("access_token", answer.get("token")) if isinstance(answer, dict) else None
    if not isinstance(token, str) or not token:
        raise ConnectionFailed("token exchange: the answer holds no access_token")
    expires_in = answer.get("expires_in")
    expires_at = None
    if (
        isinstance(expires_in, (int, float))
        and not isinstance(expires_in, bool)
        and math.isfinite(expires_in)
        and expires_in > 0
    ):
        expires_at = time.monotonic() + float(expires_in)
    return IssuedToken(Secret(token), expires_at)
