"""A plain Pusher app's own auth endpoints: channel authorization and user authentication.

Facts, from Pusher's public documentation ("Authorizing users", "Authenticating users",
"Generating authentication and authorization strings" under pusher.com/docs/channels)
and pusher-js's ``src/core/auth`` (what the reference client sends):

- Channel authorization: ``POST`` to the app's endpoint (pusher-js's default path
  ``/pusher/auth``), a form ``socket_id=...&channel_name=...``, answered by
  ``{"auth": "<key>:<signature>"}`` and, for a presence channel, ``"channel_data"``: the
  exact JSON string the signature covers, sent on as it is.
- User authentication: ``POST`` to the user-auth endpoint (default
  ``/pusher/user-auth``), a form ``socket_id=...``, answered by ``{"auth": "<key>:
  <signature>", "user_data": "<JSON string with a non-empty id>"}``.
- The signatures are hex HMAC-SHA256 with the app secret, of ``socket_id:channel_name
  [:channel_data]`` and ``socket_id::user::user_data``; only the app server can make
  them, so the client just carries them.

What an answer means here (the documents say nothing of failures):

- HTTP 401 or 403: :class:`~streamwidgets.exceptions.AuthenticationFailed`: refused.
- A redirect (3xx): :class:`~streamwidgets.exceptions.ConfigurationError`: not followed,
  since the headers go only to the host the user named.
- Another 4xx but 408 and 429, or a JSON answer without the fields above:
  :class:`~streamwidgets.exceptions.ConfigurationError`: the endpoint as configured
  cannot work, and asking again would get the same.
- The endpoint unreachable, no answer within the timeout, 5xx, 408, 429, or an answer
  that is no JSON (a proxy's error page): :class:`~streamwidgets.exceptions.
  ConnectionFailed`: transient.

The headers (``auth_headers``, e.g. a session cookie or a Bearer token) and the
signatures are secrets: no message here holds them.

Example:
    >>> endpoint = AuthEndpoint("https://example.com/pusher/auth", {"Cookie": "s=1"}, 5.0)
    >>> endpoint
    AuthEndpoint(url='https://example.com/pusher/auth', header_names=('Cookie',), timeout=5.0)
    >>> endpoint.secrets()
    [Secret('***')]
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from streamwidgets._util import checks
from streamwidgets._util.secret import Secret, redact_url
from streamwidgets.connection.rest import request_json
from streamwidgets.dialects.pusher.channels import ChannelAuth
from streamwidgets.exceptions import AuthenticationFailed, ConfigurationError, ConnectionFailed

__all__ = [
    "AuthEndpoint",
    "UserAuth",
    "authenticate_user",
    "authorize_channel",
    "check_headers",
]

# Limits: an auth answer is a signature and a little user data.
_MAX_ANSWER_BYTES = 64 * 1024
_HEADER_NAME = re.compile(r"[!#$%&'*+.^_`|~0-9A-Za-z-]+")
#: 4xx statuses that say "later", not "never".
_TRANSIENT_4XX = (408, 429)


@dataclass(frozen=True, slots=True)
class UserAuth:
    """A user signature (secret) and the exact ``user_data`` it signs."""

    auth: Secret = field(repr=False)
    user_data: str


def check_headers(value: Any) -> tuple[tuple[str, Secret], ...]:
    """``auth_headers`` as (name, secret value) pairs, checked; None gives none.

    Raises:
        ConfigurationError: not a mapping of header names to non-empty strings.

    Example:
        >>> check_headers({"Authorization": "Bearer t"})
        (('Authorization', Secret('***')),)
        >>> check_headers({"Bad Name": "x"})
        Traceback (most recent call last):
        ...
        streamwidgets.exceptions.ConfigurationError: auth_headers: 'Bad Name' is not a valid ...
    """
    if value is None:
        return ()
    if not isinstance(value, Mapping):
        raise checks.ArgumentTypeError(
            f"auth_headers must be a dict of header name -> value, got a {type(value).__name__}"
        )
    out = []
    for name, text in value.items():
        if not isinstance(name, str) or not _HEADER_NAME.fullmatch(name):
            raise ConfigurationError(f"auth_headers: {name!r} is not a valid HTTP header name")
        out.append((name, checks.credential(f"auth_headers[{name!r}]", text)))
    return tuple(out)


class AuthEndpoint:
    """One of the app's auth endpoints: its URL, the headers it gets, the time it has.

    Only the header names are ever shown; their values are kept as
    :class:`~streamwidgets._util.secret.Secret` and revealed only for this URL.

    Args:
        url: ``http(s)://host[:port]/path``, already checked by the caller.
        headers: header name -> value (secrets), sent to this URL only.
        timeout: seconds for one request.
    """

    __slots__ = ("_pairs", "timeout", "url")

    def __init__(self, url: str, headers: Mapping[str, str | Secret] | None, timeout: float):
        self.url = url
        self.timeout = timeout
        self._pairs = check_headers(headers)

    def __repr__(self) -> str:
        names = tuple(name for name, _ in self._pairs)
        shown = redact_url(self.url)
        return f"AuthEndpoint(url={shown!r}, header_names={names!r}, timeout={self.timeout!r})"

    def secrets(self) -> list[Secret]:
        """The header values, so they can be masked anywhere."""
        return [value for _, value in self._pairs]

    def wire_headers(self) -> dict[str, str]:
        """The headers as they go on the wire (to :attr:`url` only)."""
        headers = {"Accept": "application/json"}
        headers.update((name, value.reveal()) for name, value in self._pairs)
        return headers


async def authorize_channel(endpoint: AuthEndpoint, socket_id: str, channel: str) -> ChannelAuth:
    """Ask the app's channel-authorization endpoint to sign ``channel`` for this socket.

    Returns:
        The signature (a :class:`~streamwidgets._util.secret.Secret`) and, for a presence
        channel, the ``channel_data`` string it covers.

    Raises:
        AuthenticationFailed: the endpoint refused (401, 403).
        ConfigurationError: it redirects, answers another 4xx, or misses ``auth`` (or a
            presence channel's ``channel_data``).
        ConnectionFailed: transient: unreachable, too slow, 5xx, 408, 429, not JSON.

    Example:
        >>> import asyncio
        >>> nowhere = AuthEndpoint("http://127.0.0.1:9/pusher/auth", {}, 1.0)
        >>> asyncio.run(authorize_channel(nowhere, "1.2", "private-x"))
        Traceback (most recent call last):
        ...
        streamwidgets.exceptions.ConnectionFailed: channel auth for 'private-x': cannot reach ...
    """
    what = f"channel auth for {channel!r}"
    form = {"socket_id": socket_id, "channel_name": channel}
    answer = await _post(endpoint, what, form)
    auth, data = answer.get("auth"), answer.get("channel_data")
    if not isinstance(auth, str) or not auth:
        raise ConfigurationError(f"{what}: the auth endpoint's answer holds no 'auth'")
    if channel.startswith("presence-") and not isinstance(data, str):
        raise ConfigurationError(
            f"{what}: the auth endpoint's answer holds no 'channel_data' string, which a "
            "presence channel needs (the JSON of its user_id and user_info)"
        )
    return ChannelAuth(Secret(auth), data if isinstance(data, str) else None)


async def authenticate_user(endpoint: AuthEndpoint, socket_id: str) -> UserAuth:
    """Ask the app's user-authentication endpoint to sign this socket's sign-in.

    Raises:
        AuthenticationFailed, ConfigurationError, ConnectionFailed: as
        :func:`authorize_channel` (a missing ``auth`` or ``user_data`` string is a
        ConfigurationError).

    Example:
        >>> import asyncio
        >>> nowhere = AuthEndpoint("http://127.0.0.1:9/pusher/user-auth", {}, 1.0)
        >>> asyncio.run(authenticate_user(nowhere, "1.2"))
        Traceback (most recent call last):
        ...
        streamwidgets.exceptions.ConnectionFailed: user authentication: cannot reach ...
    """
    what = "user authentication"
    answer = await _post(endpoint, what, {"socket_id": socket_id})
    auth, user_data = answer.get("auth"), answer.get("user_data")
    if not isinstance(auth, str) or not auth or not isinstance(user_data, str):
        raise ConfigurationError(
            f"{what}: the endpoint's answer needs 'auth' and 'user_data' strings"
        )
    return UserAuth(Secret(auth), user_data)


async def _post(endpoint: AuthEndpoint, what: str, form: dict[str, str]) -> dict[str, Any]:
    try:
        answer = await request_json(
            what,
            "POST",
            endpoint.url,
            headers=endpoint.wire_headers(),
            timeout=endpoint.timeout,
            refused=f"{what}: refused by the endpoint",
            check="auth_headers and what the endpoint allows this user",
            max_bytes=_MAX_ANSWER_BYTES,
            data=form,
        )
    except AuthenticationFailed:
        raise
    except ConnectionFailed as exc:
        status = exc.code
        if status is not None and 300 <= status < 400:
            raise ConfigurationError(
                f"{what}: the endpoint redirects (HTTP {status}); the auth headers go only to "
                "the host you named, so it is not followed: name the final URL yourself"
            ) from None
        if status is not None and 400 <= status < 500 and status not in _TRANSIENT_4XX:
            shown = redact_url(endpoint.url)
            raise ConfigurationError(
                f"{what}: the endpoint answered HTTP {status}; check its URL ({shown})"
            ) from None
        raise
    if not isinstance(answer, dict):
        raise ConfigurationError(f"{what}: the endpoint's answer is not a JSON object")
    return answer
