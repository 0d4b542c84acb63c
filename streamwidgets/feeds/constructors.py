"""Ready-made live feeds: one function per dialect, returning a configured dialect.

Recorded feeds (``replay``, ``redis``) are in :mod:`streamwidgets.feeds.recorded`.

Example:
    >>> from streamwidgets import feeds
    >>> feed = feeds.hydra("ws://127.0.0.1:8765/stream", token="eyJ.x.y")
    >>> feed.describe()
    {'dialect': 'hydra', 'url': 'ws://127.0.0.1:8765/stream'}
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, Literal

from streamwidgets._util.secret import Secret
from streamwidgets.connection.dialect import Dialect
from streamwidgets.dialects.hydra import HydraDialect

if TYPE_CHECKING:
    from streamwidgets.dialects.axol.channels import AxolDialect
    from streamwidgets.dialects.axol.endpoints import (
        AxolGasDialect,
        AxolLiquidationsDialect,
        AxolMempoolDialect,
    )
    from streamwidgets.dialects.hydra_v1 import HydraV1Dialect
    from streamwidgets.dialects.hyperoru.dialect import HyperoruDialect
    from streamwidgets.dialects.pusher.app import PusherAppDialect
    from streamwidgets.dialects.pusher.session_feed import PusherDialect

__all__ = [
    "axol",
    "axol_gas",
    "axol_liquidations",
    "axol_mempool",
    "generic",
    "hydra",
    "hydra_v1",
    "hyperoru",
    "pusher",
    "pusher_app",
]

HYDRA_URL = "wss://api.hydra.app/stream"
HYDRA_V1_URL = "wss://api.hydra.fast/v1/stream"
AXOL_URL = "wss://api.axol.io/api/v1/ws/connect"
AXOL_BASE_URL = "wss://api.axol.io"


def hydra(url: str = HYDRA_URL, *, token: str | Secret, **options: Any) -> HydraDialect:
    """The Hydra JWT stream.

    Args:
        url: the endpoint (the public one by default).
        token: the JWT; it never appears in a repr, log or message.
        **options: ``heartbeat_interval``, ``missed_heartbeats``, ``rate_limit_backoff``,
            ``time_unit`` (of ``ts``; by default the documented ms, unless the values are
            plainly another unit).

    Example:
        >>> hydra(token="eyJ.x.y").target().display_url
        'wss://api.hydra.app/stream?token=***'
    """
    return HydraDialect(url, token=token, **options)


def hydra_v1(
    url: str = HYDRA_V1_URL,
    *,
    api_key: str | Secret,
    key_in: Literal["header", "query"] = "header",
    snapshot: bool = True,
    **options: Any,
) -> HydraV1Dialect:
    """The Hydra v1 API-key stream (see :mod:`streamwidgets.dialects.hydra_v1`).

    Args:
        url: the endpoint (the public one by default).
        api_key: the API key; it never appears in a repr, log, message or shown URL.
        key_in: ``"header"`` (``x-api-key``, the default) or ``"query"`` (``?apiKey=``).
        snapshot: False skips the initial snapshot: live events only.
        **options: ``ping_timeout``, ``rate_limit_backoff``.

    Example:
        >>> feed = hydra_v1(api_key="hydra_k1_abc", key_in="query", snapshot=False)
        >>> feed.target().display_url
        'wss://api.hydra.fast/v1/stream?apiKey=***&snapshot=false'
    """
    from streamwidgets.dialects.hydra_v1 import HydraV1Dialect

    return HydraV1Dialect(url, api_key=api_key, key_in=key_in, snapshot=snapshot, **options)


def axol(
    url: str = AXOL_URL, *, api_key: str | Secret, rest_url: str | None = None, **options: Any
) -> AxolDialect:
    """The Axol channel stream (see :mod:`streamwidgets.dialects.axol.channels`).

    The API key is exchanged for a JWT before connecting, and again when the server says
    the token expired (close 1008); a key the exchange refuses stops the connection.

    Args:
        url: the stream endpoint (the public one by default).
        api_key: the API key; neither it nor the JWT appears in a repr, log or message.
        rest_url: the REST base of the token exchange (default: the stream's host).
        **options: ``chains``, ``ping_interval``, ``missed_pongs``, ``exchange_timeout``,
            ``refresh_margin``, ``rate_limit_backoff``, ``token_trial``.

    Example:
        >>> feed = axol(api_key="axol_key")
        >>> feed.rest_url, feed.describe()["url"]
        ('https://api.axol.io', 'wss://api.axol.io/api/v1/ws/connect?token=***')
    """
    from streamwidgets.dialects.axol.channels import AxolDialect

    return AxolDialect(url, api_key=api_key, rest_url=rest_url, **options)


def axol_gas(
    base_url: str = AXOL_BASE_URL,
    *,
    api_key: str | Secret,
    chain: str = "ethereum",
    interval: int = 10,
    **options: Any,
) -> AxolGasDialect:
    """Axol's dedicated gas stream for one chain (see :mod:`streamwidgets.dialects.axol.endpoints`).

    Args:
        base_url: the server (the public one by default).
        api_key: the API key, exchanged for a JWT like :func:`axol`.
        chain: ``ethereum``, ``polygon``, ``arbitrum`` (or one added with ``chains=``).
        interval: seconds between updates, an int of 5-300 (else ConfigurationError).
        **options: those of :func:`axol` (``rest_url``, ``ping_interval``, ...).

    Example:
        >>> axol_gas(api_key="k", chain="arbitrum", interval=5).describe()["url"]
        'wss://api.axol.io/api/v1/ws/gas-updates/arbitrum?interval=5&token=***'
    """
    from streamwidgets.dialects.axol.endpoints import AxolGasDialect

    return AxolGasDialect(base_url, api_key=api_key, chain=chain, interval=interval, **options)


def axol_mempool(
    base_url: str = AXOL_BASE_URL, *, api_key: str | Secret, chain: str = "ethereum", **options: Any
) -> AxolMempoolDialect:
    """Axol's pending-transaction stream for one chain.

    Example:
        >>> axol_mempool(api_key="k").describe()["url"]
        'wss://api.axol.io/api/v1/mempool/ethereum/stream?token=***'
    """
    from streamwidgets.dialects.axol.endpoints import AxolMempoolDialect

    return AxolMempoolDialect(base_url, api_key=api_key, chain=chain, **options)


def axol_liquidations(
    base_url: str = AXOL_BASE_URL, *, api_key: str | Secret, **options: Any
) -> AxolLiquidationsDialect:
    """Axol's DeFi liquidation stream; ``chain``, ``protocol``, ``min_profit`` and
    ``health_threshold`` filter it on the server.

    Example:
        >>> axol_liquidations(api_key="k", chain="ethereum").describe()["url"]
        'wss://api.axol.io/api/v1/defi/liquidations/stream?chain=ethereum&health_threshold=1.1&token=***'
    """
    from streamwidgets.dialects.axol.endpoints import AxolLiquidationsDialect

    return AxolLiquidationsDialect(base_url, api_key=api_key, **options)


def hyperoru(
    url: str = "wss://api.production.hyperoru.com/ws",
    *,
    session_token: str | Secret,
    allow_orders: bool = False,
    **options: Any,
) -> HyperoruDialect:
    """The Hyperoru account stream (see :mod:`streamwidgets.dialects.hyperoru.dialect`).

    The token goes in ``?session_token=`` and is masked in every shown URL; a refused token
    stops the connection at once. Requests (``bootstrap``, ``get_snapshot``,
    ``get_asset_curve``, ``switch_account``, ``ping``, ``place_order``) are awaitables of
    ``feed.requests(stream)`` or ``widget.requests``.

    Args:
        url: the endpoint (the production one by default), without the token.
        session_token: the session token; it never appears in a repr, log or message.
        allow_orders: True makes ``place_order`` available; otherwise it raises and sends
            nothing.
        **options: ``bootstrap_on_connect``, ``ping_interval``, ``missed_pongs``,
            ``max_pending``.

    Example:
        >>> feed = hyperoru(session_token="hyo_secret")
        >>> feed.describe()["url"]
        'wss://api.production.hyperoru.com/ws?session_token=***'
    """
    from streamwidgets.dialects.hyperoru.dialect import HyperoruDialect

    return HyperoruDialect(url, session_token=session_token, allow_orders=allow_orders, **options)


def pusher(
    base_url: str,
    *,
    token: str | Secret,
    streams: list[str] | tuple[str, ...] | None = None,
    **options: Any,
) -> PusherDialect:
    """The Pusher-compatible stream with session bootstrap
    (:mod:`streamwidgets.dialects.pusher.session_feed`).

    Before every connection attempt the catalog and a session are fetched from
    ``base_url`` with the Bearer token; the session says where the WebSocket is.
    Presence streams are signed by the channel-auth endpoint once connected.

    Args:
        base_url: the REST base, e.g. ``https://api.example.com``.
        token: the Bearer token; it never appears in a repr, log or message.
        streams: the streams the session is asked for (None: every catalog stream).
        **options: ``activity_timeout``, ``pong_timeout``, ``rest_timeout``,
            ``reconnect_delay``, ``max_members``, ``ws_hosts`` (other hosts the session
            may send the socket to), ``allow_insecure`` (accept ``ws://`` after https).

    Example:
        >>> feed = pusher("https://api.example.com", token="tok", streams=["prices"])
        >>> feed.describe()["streams"], feed.state_labels["connected"]
        (['prices'], 'Connected')
    """
    from streamwidgets.dialects.pusher.session_feed import PusherDialect

    return PusherDialect(base_url, token=token, streams=streams, **options)


def pusher_app(
    key: str,
    *,
    cluster: str | None = None,
    host: str | None = None,
    port: int | None = None,
    tls: bool = True,
    auth_endpoint: str | None = None,
    auth_headers: dict[str, str | Secret] | None = None,
    **options: Any,
) -> PusherAppDialect:
    """A plain Pusher app: Pusher Channels, soketi, Laravel Reverb
    (:mod:`streamwidgets.dialects.pusher.app`).

    Streams are channel names: public ones as they are, ``private-`` and ``presence-``
    ones signed by the app's ``auth_endpoint`` for each socket. Server data (a JSON
    string) is decoded into ``event.data``; presence members become ``member`` rows.
    Facts from Pusher's public documentation: the socket is
    ``wss://ws-{cluster}.pusher.com:443/app/{key}?protocol=7&...`` (port 80 without TLS);
    the auth endpoint takes a form POST of ``socket_id`` and ``channel_name`` and answers
    ``{"auth": "key:signature"}`` (presence: also ``channel_data``); a sign-in
    (``pusher:signin``) carries ``{"auth", "user_data"}`` from the user-authentication
    endpoint.

    Args:
        key: the app key (public).
        cluster: the Pusher cluster, e.g. ``"mt1"``; or give ``host`` instead.
        host: a self-hosted server's host name or IP address.
        port: TCP port, 1-65535 (default 443 with TLS, 80 without).
        tls: ``wss://`` (True, default) or ``ws://``.
        auth_endpoint: the app's channel-authorization URL (needed for private and
            presence channels); ``http://`` beside a TLS socket needs ``allow_insecure=True``.
        auth_headers: headers for the auth endpoints only (a cookie, a Bearer token); never
            shown, logged or sent anywhere else.
        **options: ``user_auth_endpoint`` (sign in on every connection), ``activity_timeout``,
            ``pong_timeout``, ``auth_timeout`` (seconds), ``reconnect_delay``,
            ``max_members``, ``allow_insecure``.

    Raises:
        ConfigurationError: a bad argument (no key, both cluster and host, a port out of
            range...), naming it and what is allowed.

    Example:
        >>> feed = pusher_app("app-key", cluster="eu")
        >>> feed.describe()["url"], feed.state_labels["connected"]
        ('wss://ws-eu.pusher.com:443/app/app-key', 'Connected')
        >>> pusher_app("app-key", cluster="eu", host="127.0.0.1")
        Traceback (most recent call last):
        ...
        streamwidgets.exceptions.ConfigurationError: give cluster= ... or host= ..., not both
    """
    from streamwidgets.dialects.pusher.app import PusherAppDialect

    return PusherAppDialect(
        key,
        cluster=cluster,
        host=host,
        port=port,
        tls=tls,
        auth_endpoint=auth_endpoint,
        auth_headers=auth_headers,
        **options,
    )


def generic(url: str, **config: Any) -> Dialect:
    """Any other JSON feed, described by configuration (see :mod:`streamwidgets.dialects.generic`).

    Example:
        >>> feed = generic("ws://127.0.0.1:9/ws", type_path="e", stream_path="s")
        >>> feed.name
        'generic'
    """
    from streamwidgets.dialects.generic import GenericDialect

    return GenericDialect(url, **config)
