"""One HTTP request of a feed's REST step (token exchange, session bootstrap), with httpx.

Every failure becomes an exception the :class:`~streamwidgets.connection.driver.Connection`
already knows: HTTP 401 or 403 an :class:`~streamwidgets.exceptions.AuthenticationFailed`
(the connection stops: the same credential would be refused again), anything else a
:class:`~streamwidgets.exceptions.ConnectionFailed` (retried with backoff). No message
holds the request's headers or body, where the credential travels.

Example:
    >>> import asyncio
    >>> asyncio.run(request_json(
    ...     "session bootstrap", "GET", "http://127.0.0.1:9/x", headers={}, timeout=1,
    ...     refused="Bearer token refused", check="token"))
    Traceback (most recent call last):
    ...
    streamwidgets.exceptions.ConnectionFailed: session bootstrap: cannot reach ...
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from typing import Any

import httpx

from streamwidgets._util.secret import redact_url
from streamwidgets.exceptions import AuthenticationFailed, ConnectionFailed

__all__ = ["MAX_ANSWER_BYTES", "request_json"]


class _MaskedRequestURLs(logging.Filter):
    """httpx logs every request's whole URL at INFO; a credential in its query string
    (an auth endpoint's ``?token=``) must not reach a log line."""

    def filter(self, record: logging.LogRecord) -> bool:
        if isinstance(record.args, tuple) and any(isinstance(a, httpx.URL) for a in record.args):
            record.args = tuple(
                redact_url(str(a)) if isinstance(a, httpx.URL) else a for a in record.args
            )
        return True


logging.getLogger("httpx").addFilter(_MaskedRequestURLs())

# Limits: a REST step's answer is a few KiB; anything huge is not one.
MAX_ANSWER_BYTES = 64 * 1024


async def request_json(
    what: str,
    method: str,
    url: str,
    *,
    headers: Mapping[str, str],
    timeout: float,
    refused: str,
    check: str,
    failed_note: str = "",
    too_large: str = "the answer is too large",
    max_bytes: int = MAX_ANSWER_BYTES,
    **body: Any,
) -> Any:
    """Send one request and return its decoded JSON answer (any JSON value).

    Args:
        what: the step, as messages name it (``"token exchange"``).
        refused: the message of a 401/403, before `` (HTTP 401); check the <check>``.
        check: what the user should check then (``"key"``, ``"token"``).
        failed_note: added after `` (HTTP <status>)`` for other statuses.
        too_large: what to say of an answer over ``max_bytes``.
        max_bytes: the largest answer read (a token is small, a catalog larger).
        **body: httpx request options (``json=``, ``data=``).
    """
    # trust_env=False: like the WebSocket side (proxy=None), no proxy from the environment,
    # so loopback simulators work behind corporate proxy settings.
    try:
        async with httpx.AsyncClient(timeout=timeout, trust_env=False) as client:
            response = await client.request(method, url, headers=dict(headers), **body)
    except httpx.TimeoutException:
        raise ConnectionFailed(f"{what}: no answer within {timeout:g} s") from None
    except httpx.HTTPError as exc:
        # The exception text may quote the request; name only its kind and the host.
        host = httpx.URL(url).host
        raise ConnectionFailed(f"{what}: cannot reach {host} ({type(exc).__name__})") from None
    status = response.status_code
    if status in (401, 403):
        raise AuthenticationFailed(f"{refused} (HTTP {status}); check the {check}", code=status)
    if status != 200:
        raise ConnectionFailed(f"{what} failed (HTTP {status}){failed_note}", code=status)
    if len(response.content) > max_bytes:
        raise ConnectionFailed(f"{what}: {too_large}")
    try:
        return response.json()
    except ValueError:
        raise ConnectionFailed(f"{what}: the answer is not JSON") from None
