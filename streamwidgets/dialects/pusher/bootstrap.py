"""The REST side of the Pusher-compatible stream: catalog, session bootstrap, channel auth.

Three calls, each one HTTP request with httpx and a Bearer token:

- ``GET {base}/api/v2/ws/streams`` (the stream catalog):
  ``{"streams": [{"name", "type": "public"|"presence", "channel", "events", "filters"}]}``;
  ``channel`` may hold ``{userId}``, filled in from the session.
- ``POST {base}/api/v2/ws/session`` with ``{"streams": [...]}``: ``{"connection": {wsHost,
  wsPort, appKey, forceTls}, "userId", "channels": [{"stream", "channel", "type"}]}``.
- ``POST {base}/api/v2/ws/auth``, a form ``socket_id=&channel_name=``:
  ``{"auth": "appKey:signature", "channel_data"?: "..."}``.

Outcomes: HTTP 401 or 403 on the catalog or the session raise
:class:`~streamwidgets.exceptions.AuthenticationFailed` (the connection stops: the same
token would be refused again); other failures raise
:class:`~streamwidgets.exceptions.ConnectionFailed` (retried with backoff). No message
ever holds the token or a signature.

Example:
    >>> endpoint("http://127.0.0.1:9/", SESSION_PATH)
    'http://127.0.0.1:9/api/v2/ws/session'
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from streamwidgets._util.secret import Secret
from streamwidgets.connection.rest import request_json
from streamwidgets.dialects.pusher.channels import ChannelAuth
from streamwidgets.exceptions import ConnectionFailed

__all__ = [
    "AUTH_PATH",
    "CATALOG_PATH",
    "SESSION_PATH",
    "ChannelAuth",
    "Session",
    "StreamInfo",
    "authorize_channel",
    "endpoint",
    "fetch_catalog",
    "open_session",
]

CATALOG_PATH = "/api/v2/ws/streams"
SESSION_PATH = "/api/v2/ws/session"
AUTH_PATH = "/api/v2/ws/auth"
# Limits: these answers are a few kilobytes; a catalog is at most a few hundred streams.
_MAX_ANSWER_BYTES = 1024 * 1024
_MAX_STREAMS = 1000


@dataclass(frozen=True, slots=True)
class StreamInfo:
    """One stream of the catalog: its channel (template), kind, events and filters."""

    name: str
    type: str
    channel: str
    events: tuple[str, ...] = ()
    filters: tuple[dict[str, Any], ...] = ()

    @property
    def needs_auth(self) -> bool:
        """True for presence (and private) streams: subscribing needs a channel signature."""
        return self.type in ("presence", "private")


@dataclass(frozen=True, slots=True)
class Session:
    """Where to connect, and the channels the bootstrap resolved (stream -> channel)."""

    ws_host: str
    ws_port: int
    app_key: str
    force_tls: bool
    user_id: str | None
    channels: dict[str, str] = field(default_factory=dict)


def endpoint(base_url: str, path: str) -> str:
    """An endpoint URL under a REST base URL."""
    return base_url.rstrip("/") + path


async def fetch_catalog(token: Secret, base_url: str, *, timeout: float) -> list[StreamInfo]:
    """Read the stream catalog.

    Example:
        >>> import asyncio
        >>> asyncio.run(fetch_catalog(Secret("t"), "http://127.0.0.1:9", timeout=1))
        Traceback (most recent call last):
        ...
        streamwidgets.exceptions.ConnectionFailed: stream catalog: cannot reach ...
    """
    answer = await _call("stream catalog", "GET", endpoint(base_url, CATALOG_PATH), token, timeout)
    streams = answer.get("streams")
    if not isinstance(streams, list):
        raise ConnectionFailed("stream catalog: the answer holds no 'streams' list")
    out = []
    for item in streams[:_MAX_STREAMS]:
        if not isinstance(item, dict) or not isinstance(item.get("name"), str):
            continue
        events = item.get("events")
        filters = item.get("filters")
        out.append(
            StreamInfo(
                name=item["name"],
                type=str(item.get("type", "public")),
                channel=str(item.get("channel") or item["name"]),
                events=tuple(str(e) for e in events) if isinstance(events, list) else (),
                filters=tuple(f for f in filters if isinstance(f, dict))
                if isinstance(filters, list)
                else (),
            )
        )
    return out


async def open_session(
    token: Secret, base_url: str, streams: Sequence[str], *, timeout: float
) -> Session:
    """Bootstrap a session: where the WebSocket is, and the channels of ``streams``.

    Example:
        >>> import asyncio
        >>> asyncio.run(open_session(Secret("t"), "http://127.0.0.1:9", [], timeout=1))
        Traceback (most recent call last):
        ...
        streamwidgets.exceptions.ConnectionFailed: session bootstrap: cannot reach ...
    """
    url = endpoint(base_url, SESSION_PATH)
    answer = await _call(
        "session bootstrap", "POST", url, token, timeout, json={"streams": streams}
    )
    conn = answer.get("connection")
    if not isinstance(conn, dict):
        raise ConnectionFailed("session bootstrap: the answer holds no 'connection'")
    host, port, key = conn.get("wsHost"), conn.get("wsPort"), conn.get("appKey")
    if not isinstance(host, str) or not host or not isinstance(key, str) or not key:
        raise ConnectionFailed("session bootstrap: 'connection' lacks wsHost or appKey")
    if isinstance(port, bool) or not isinstance(port, int) or not 0 < port < 65536:
        raise ConnectionFailed(f"session bootstrap: wsPort is not a port: {port!r}")
    channels: dict[str, str] = {}
    resolved = answer.get("channels")
    for item in resolved if isinstance(resolved, list) else []:
        if isinstance(item, dict) and isinstance(item.get("stream"), str):
            channels[item["stream"]] = str(item.get("channel") or item["stream"])
    user = answer.get("userId")
    return Session(
        ws_host=host,
        ws_port=port,
        app_key=key,
        force_tls=conn.get("forceTls") is not False,
        user_id=str(user) if user is not None else None,
        channels=channels,
    )


async def authorize_channel(
    token: Secret, base_url: str, socket_id: str, channel: str, *, timeout: float
) -> ChannelAuth:
    """Ask the channel-auth endpoint to sign a subscription of this socket to ``channel``.

    Raises:
        AuthenticationFailed: the token or the channel was refused (401, 403).
        ConnectionFailed: anything else.

    Example:
        >>> import asyncio
        >>> asyncio.run(authorize_channel(Secret("t"), "http://127.0.0.1:9", "1.2", "x", timeout=1))
        Traceback (most recent call last):
        ...
        streamwidgets.exceptions.ConnectionFailed: channel auth: cannot reach ...
    """
    url = endpoint(base_url, AUTH_PATH)
    form = {"socket_id": socket_id, "channel_name": channel}
    answer = await _call("channel auth", "POST", url, token, timeout, data=form)
    auth, data = answer.get("auth"), answer.get("channel_data")
    if not isinstance(auth, str) or not auth:
        raise ConnectionFailed("channel auth: the answer holds no 'auth'")
    return ChannelAuth(Secret(auth), data if isinstance(data, str) else None)


async def _call(
    what: str, method: str, url: str, token: Secret, timeout: float, **body: Any
) -> dict[str, Any]:
    headers = {"Authorization": f"Bearer {token.reveal()}", "Accept": "application/json"}
    answer = await request_json(
        what,
        method,
        url,
        headers=headers,
        timeout=timeout,
        refused=f"{what}: Bearer token refused",
        check="token",
        max_bytes=_MAX_ANSWER_BYTES,
        **body,
    )
    if not isinstance(answer, dict):
        raise ConnectionFailed(f"{what}: the answer is not a JSON object")
    return answer
