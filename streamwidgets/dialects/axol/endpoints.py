"""Axol's specialised streams: gas updates, mempool and liquidations, each a feed of its own.

Protocol (from the Axol document and its further public notes):

- Gas: ``/api/v1/ws/gas-updates/{chain}?token=JWT&interval=N`` (N seconds, 5-300, default
  10); messages ``{"type": "gas_update", "data": {chain, gas_data: {slow, standard, fast,
  instant, base_fee}}, "channel": "gas_prices_{chain}"}``.
- Mempool: ``/api/v1/mempool/{chain}/stream?token=JWT``; ``pending_transaction`` messages
  with ``channel: "mempool_{chain}"`` and an ISO ``timestamp``.
- Liquidations: ``/api/v1/defi/liquidations/stream?token=JWT&chain=&protocol=&min_profit=
  &health_threshold=1.1``; ``position_update`` and ``liquidation_alert`` messages.

Choices where the documents are silent (the rest is :mod:`streamwidgets.dialects.axol.channels`:
the same token exchange, 1008/1011/1013 handling and secrets):

- The server decides what is sent: no subscription step (:attr:`supports_subscribe` is
  False); each feed has one stream, named after its channel (``gas_prices_{chain}``,
  ``mempool_{chain}``, ``liquidations``), which is also every event's stream when a message
  names no channel.
- No welcome is documented, so none is awaited; a ``connected`` message, if sent, is read
  like the main stream's. The first frame of a session counts as the token's acceptance (a
  later 1008 then refreshes it instead of stopping).
- Liveness: the main stream's JSON ping is sent; a pong or any frame proves life. For gas,
  the idle timeout is at least 2.5 intervals, so a long ``interval`` is not taken for death.
- Bad arguments raise :class:`~streamwidgets.exceptions.ConfigurationError` before
  anything is sent: ``interval`` must be an int of 5-300, chains must be documented (or
  added with ``chains=``), ``min_profit`` >= 0 and ``health_threshold`` > 0.
"""

from __future__ import annotations

import time
from collections.abc import Mapping, Sequence
from typing import Any, Self
from urllib.parse import urlencode, urlsplit

from streamwidgets._util.secret import Secret
from streamwidgets.connection.dialect import Keepalive
from streamwidgets.dialects._config import require_positive
from streamwidgets.dialects.auth import PARSE_ONLY_CREDENTIAL
from streamwidgets.dialects.axol.channels import AXOL_CHAINS, AxolDialect
from streamwidgets.events import Control, Event
from streamwidgets.exceptions import ConfigurationError, StreamNotAvailable

__all__ = ["AxolGasDialect", "AxolLiquidationsDialect", "AxolMempoolDialect"]

AXOL_BASE_URL = "wss://api.axol.io"


class _AxolEndpoint(AxolDialect):
    """One of Axol's specialised streams: token handling of the main stream, one stream."""

    stream = "axol"
    wildcard = "*"

    def __init__(
        self,
        base_url: str,
        path: str,
        query: dict[str, Any],
        *,
        api_key: str | Secret,
        **options: Any,
    ) -> None:
        parts = urlsplit(base_url)
        if parts.scheme not in ("ws", "wss") or parts.query or parts.path not in ("", "/"):
            raise ConfigurationError(
                f"base_url is the server only, like 'wss://api.axol.io', got {base_url!r}"
            )
        query_text = urlencode({k: v for k, v in query.items() if v is not None})
        url = f"{base_url.rstrip('/')}{path}" + (f"?{query_text}" if query_text else "")
        super().__init__(url, api_key=api_key, **options)

    @classmethod
    def parse_only(cls, config: Mapping[str, Any]) -> Self:
        """A copy that parses a recording of this stream, from its ``replay_config()``
        (unset options take their defaults); its key is a placeholder.

        Example:
            >>> AxolGasDialect.parse_only({"base_url": "ws://h:9", "interval": 30}).interval
            30
        """
        options = {k: v for k, v in config.items() if v is not None}
        return cls(api_key=PARSE_ONLY_CREDENTIAL, **options)

    def _replay_base(self) -> dict[str, Any]:
        parts = urlsplit(self.url)
        return {"base_url": f"{parts.scheme}://{parts.netloc}", "chains": list(self.chains)}

    def _check_chain(self, chain: str) -> str:
        if not isinstance(chain, str) or chain not in self.chains:
            raise ConfigurationError(
                f"unknown chain {chain!r}; documented chains: {', '.join(self.chains)} "
                "(pass chains=[...] to allow others)"
            )
        return chain

    @property
    def needs_welcome(self) -> bool:
        return False

    @property
    def supports_subscribe(self) -> bool:
        return False

    def check_streams(self, streams: Sequence[str]) -> None:
        if isinstance(streams, str):
            raise ConfigurationError("streams must be a list of names, not one string")
        missing = [s for s in streams if s not in (self.stream, "*")]
        if missing:
            raise StreamNotAvailable(list(missing), [self.stream])

    def known_channels(self) -> list[str]:
        return [self.stream]

    def parse(self, frame: str | bytes, received_ns: int) -> list[Event | Control]:
        # No welcome here: the first frame says the server took the token, so a later
        # 1008 means "refresh" (and one soon after it counts as a quick refusal).
        if self._welcomed_at is None:
            self._welcomed_at = time.monotonic()
        self._fresh = False
        return super().parse(frame, received_ns)

    def _default_stream(self, kind: str) -> str:
        return self.stream


class AxolGasDialect(_AxolEndpoint):
    """Axol's dedicated gas stream for one chain, every ``interval`` seconds.

    Args:
        base_url: the server, e.g. ``"wss://api.axol.io"``.
        api_key: the API key (exchanged for a JWT like :class:`AxolDialect`).
        chain: a documented chain (``ethereum``, ``polygon``, ``arbitrum``) or one of ``chains``.
        interval: seconds between updates, an int of 5-300.
        **options: those of :class:`~streamwidgets.dialects.axol.channels.AxolDialect`.

    Example:
        >>> d = AxolGasDialect("ws://127.0.0.1:9", api_key="k", chain="polygon", interval=30)
        >>> d.describe()["url"]
        'ws://127.0.0.1:9/api/v1/ws/gas-updates/polygon?interval=30&token=***'
        >>> d.stream
        'gas_prices_polygon'
        >>> AxolGasDialect(api_key="k", chain="ethereum", interval=4)
        Traceback (most recent call last):
        ...
        streamwidgets.exceptions.ConfigurationError: interval must be an int of 5-300 seconds, got 4
    """

    name = "axol-gas"

    def __init__(
        self,
        base_url: str = AXOL_BASE_URL,
        *,
        api_key: str | Secret,
        chain: str = "ethereum",
        interval: int = 10,
        chains: Sequence[str] = AXOL_CHAINS,
        **options: Any,
    ) -> None:
        if isinstance(interval, bool) or not isinstance(interval, int) or not 5 <= interval <= 300:
            raise ConfigurationError(f"interval must be an int of 5-300 seconds, got {interval!r}")
        self.interval = interval
        path = f"/api/v1/ws/gas-updates/{chain}"
        super().__init__(
            base_url, path, {"interval": interval}, api_key=api_key, chains=chains, **options
        )
        self.chain = self._check_chain(chain)
        self.stream = f"gas_prices_{chain}"

    def replay_config(self) -> dict[str, Any] | None:
        return {**self._replay_base(), "chain": self.chain, "interval": self.interval}

    def keepalive(self) -> Keepalive:
        rules = super().keepalive()
        idle = max(rules.idle_timeout or 0.0, 2.5 * self.interval)
        return Keepalive(idle, rules.ping_interval, rules.ping_frame, None)


class AxolMempoolDialect(_AxolEndpoint):
    """Axol's pending-transaction stream for one chain.

    Example:
        >>> AxolMempoolDialect("ws://127.0.0.1:9", api_key="k", chain="arbitrum").describe()["url"]
        'ws://127.0.0.1:9/api/v1/mempool/arbitrum/stream?token=***'
    """

    name = "axol-mempool"

    def __init__(
        self,
        base_url: str = AXOL_BASE_URL,
        *,
        api_key: str | Secret,
        chain: str = "ethereum",
        chains: Sequence[str] = AXOL_CHAINS,
        **options: Any,
    ) -> None:
        super().__init__(
            base_url,
            f"/api/v1/mempool/{chain}/stream",
            {},
            api_key=api_key,
            chains=chains,
            **options,
        )
        self.chain = self._check_chain(chain)
        self.stream = f"mempool_{chain}"

    def replay_config(self) -> dict[str, Any] | None:
        return {**self._replay_base(), "chain": self.chain}


class AxolLiquidationsDialect(_AxolEndpoint):
    """Axol's DeFi liquidation stream, filtered on the server by its query parameters.

    Args:
        chain: only positions on this chain (None: every chain).
        protocol: only positions of this protocol, e.g. ``"aave_v3"`` (None: every one).
        min_profit: only opportunities worth at least this many USD.
        health_threshold: only positions whose health factor is below this.

    Example:
        >>> d = AxolLiquidationsDialect("ws://h:9", api_key="k", protocol="aave_v3", min_profit=50)
        >>> d.describe()["url"]
        'ws://h:9/api/v1/defi/liquidations/stream?protocol=aave_v3&min_profit=50&health_threshold=1.1&token=***'
    """

    name = "axol-liquidations"
    stream = "liquidations"

    def __init__(
        self,
        base_url: str = AXOL_BASE_URL,
        *,
        api_key: str | Secret,
        chain: str | None = None,
        protocol: str | None = None,
        min_profit: float | None = None,
        health_threshold: float = 1.1,
        chains: Sequence[str] = AXOL_CHAINS,
        **options: Any,
    ) -> None:
        if min_profit is not None and (
            isinstance(min_profit, bool)
            or not isinstance(min_profit, (int, float))
            or min_profit < 0
        ):
            raise ConfigurationError(f"min_profit must be a number >= 0, got {min_profit!r}")
        require_positive(health_threshold=health_threshold)
        if protocol is not None and (not isinstance(protocol, str) or not protocol):
            raise ConfigurationError(f"protocol must be a non-empty string, got {protocol!r}")
        query = {
            "chain": chain,
            "protocol": protocol,
            "min_profit": min_profit,
            "health_threshold": health_threshold,
        }
        super().__init__(
            base_url,
            "/api/v1/defi/liquidations/stream",
            query,
            api_key=api_key,
            chains=chains,
            **options,
        )
        self.chain = None if chain is None else self._check_chain(chain)
        self.protocol, self.min_profit, self.health_threshold = (
            protocol,
            min_profit,
            health_threshold,
        )

    def replay_config(self) -> dict[str, Any] | None:
        return {
            **self._replay_base(),
            "chain": self.chain,
            "protocol": self.protocol,
            "min_profit": self.min_profit,
            "health_threshold": self.health_threshold,
        }
