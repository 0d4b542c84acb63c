"""What the Axol simulator sends (its HTTP side is :mod:`streamwidgets.simulators.http`).

Channel names, chains and tier limits are those of :mod:`streamwidgets.dialects.axol.channels`, so
simulator and client cannot drift apart. Payloads follow the document where it shows them
(``gas_update``); the others (``new_block``, ``alert_triggered``, ``system_status``) are
plausible shapes of our own.

Example:
    >>> import random
    >>> kind, data = channel_message("gas_prices_polygon", random.Random(1))
    >>> kind, data["chain"], sorted(data["gas_data"])
    ('gas_update', 'polygon', ['base_fee', 'fast', 'instant', 'slow', 'standard'])
"""

from __future__ import annotations

import random
import secrets
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import orjson

from streamwidgets.dialects.axol.channels import AXOL_CHAINS, AXOL_CHANNELS, AXOL_TIER_LIMITS

# Re-exported from their former home here.
from streamwidgets.simulators.http import HttpRequest, http_response, read_http_request

__all__ = [
    "AXOL_CHAINS",
    "AXOL_CHANNELS",
    "AXOL_COMMANDS",
    "AXOL_TIER_LIMITS",
    "HttpRequest",
    "Route",
    "channel_message",
    "generate_key",
    "health_status",
    "http_response",
    "iso_now",
    "liquidation_message",
    "message",
    "pending_transaction",
    "read_http_request",
    "route_of",
]

#: The ``type`` of every message a client can send.
AXOL_COMMANDS: tuple[str, ...] = ("subscribe", "unsubscribe", "ping", "get_info")
_BASE_GWEI = {"ethereum": 20.0, "polygon": 40.0, "arbitrum": 0.1}


def generate_key() -> str:
    """A fresh simulator API key (not a real Axol key).

    Example:
        >>> generate_key().startswith("axol_sim_")
        True
    """
    return f"axol_sim_{secrets.token_hex(12)}"


def iso_now() -> str:
    """The current UTC time as ISO-8601 with a ``Z``."""
    return datetime.now(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")


def message(kind: str, data: Any, **extra: Any) -> str:
    """The ``{type, data, ...}`` envelope as JSON text.

    Example:
        >>> message("pong", {})
        '{"type":"pong","data":{}}'
    """
    return orjson.dumps({"type": kind, "data": data, **extra}).decode()


def gas_data(chain: str, rng: random.Random) -> dict[str, Any]:
    """Gas prices of a chain in gwei, in the documented fields."""
    base = _BASE_GWEI.get(chain, 5.0) * rng.uniform(0.8, 1.25)
    return {
        "slow": round(base * 1.05, 3),
        "standard": round(base * 1.25, 3),
        "fast": round(base * 1.5, 3),
        "instant": round(base * 2.0, 3),
        "base_fee": round(base, 3),
    }


def channel_message(channel: str, rng: random.Random) -> tuple[str, dict[str, Any]]:
    """One message (type, data) for a subscribed channel."""
    if channel.startswith("gas_prices"):
        chain = channel.removeprefix("gas_prices_")
        chain = chain if chain != channel else rng.choice(AXOL_CHAINS)
        return "gas_update", {"chain": chain, "gas_data": gas_data(chain, rng)}
    if channel == "blockchain_events":
        chain = rng.choice(AXOL_CHAINS)
        return "new_block", {
            "chain": chain,
            "number": rng.randint(19_000_000, 21_000_000),
            "hash": "0x" + rng.randbytes(32).hex(),
            "tx_count": rng.randint(50, 400),
            "base_fee": gas_data(chain, rng)["base_fee"],
        }
    if channel == "alerts":
        return "alert_triggered", {
            "alert_id": f"alert_{rng.randint(1, 99):02d}",
            "name": rng.choice(["ETH gas below 20", "Large transfer", "Whale swap"]),
            "message": "condition met",
            "value": round(rng.uniform(1, 100), 2),
        }
    return "system_status", {
        "status": rng.choice(["operational"] * 9 + ["degraded"]),
        "latency_ms": rng.randint(20, 90),
    }


# -- the specialised endpoints ---------------------------------------------------------------

_TX_TYPES = ("swap", "liquidation", "transfer", "flashloan", "bridge", "nft", "contract_deploy")
_PROTOCOLS = ("aave_v3", "compound_v3", "morpho", "spark")
_TOKENS = ("WETH", "USDC", "USDT", "DAI", "WBTC")


@dataclass(frozen=True, slots=True)
class Route:
    """What a stream path asks for: ``kind`` is main, gas, mempool or liquidations."""

    kind: str
    chain: str | None = None
    interval: int = 10
    protocol: str | None = None
    min_profit: float = 0.0
    health_threshold: float = 1.1


def route_of(path: str, query: dict[str, list[str]]) -> Route | str | None:
    """The route of a stream path; None if there is none, or a reason it is a bad request.

    Example:
        >>> route = route_of("/api/v1/ws/gas-updates/polygon", {"interval": ["30"]})
        >>> route.kind, route.chain, route.interval
        ('gas', 'polygon', 30)
        >>> route_of("/api/v1/ws/gas-updates/polygon", {"interval": ["3"]})
        'interval must be an integer of 5-300'
    """
    first = {k: v[0] for k, v in query.items() if v}
    parts = path.strip("/").split("/")
    if path == "/api/v1/ws/connect":
        return Route("main")
    if parts[:4] == ["api", "v1", "ws", "gas-updates"] and len(parts) == 5:
        if parts[4] not in AXOL_CHAINS:
            return None
        raw = first.get("interval", "10")
        if not raw.isdigit() or not 5 <= int(raw) <= 300:
            return "interval must be an integer of 5-300"
        return Route("gas", parts[4], interval=int(raw))
    if parts[:3] == ["api", "v1", "mempool"] and len(parts) == 5 and parts[4] == "stream":
        return Route("mempool", parts[3]) if parts[3] in AXOL_CHAINS else None
    if path == "/api/v1/defi/liquidations/stream":
        try:
            min_profit = float(first.get("min_profit", "0"))
            threshold = float(first.get("health_threshold", "1.1"))
        except ValueError:
            return "min_profit and health_threshold must be numbers"
        chain = first.get("chain")
        if chain is not None and chain not in AXOL_CHAINS:
            return f"unknown chain {chain}"
        return Route(
            "liquidations",
            chain,
            protocol=first.get("protocol"),
            min_profit=min_profit,
            health_threshold=threshold,
        )
    return None


def pending_transaction(chain: str, rng: random.Random) -> dict[str, Any]:
    """A ``pending_transaction`` payload in the fields of the notes."""
    kind = rng.choice(_TX_TYPES) if rng.random() < 0.9 else "unknown"
    gwei = gas_data(chain, rng)["fast"]
    token_in, token_out = rng.sample(_TOKENS, 2)
    profit = round(rng.uniform(0, 500), 2) if kind in ("swap", "liquidation") else 0.0
    return {
        "hash": "0x" + rng.randbytes(32).hex(),
        "from": "0x" + rng.randbytes(20).hex(),
        "to": "0x" + rng.randbytes(20).hex(),
        "value": str(rng.randint(0, 5 * 10**18)),
        "gas_price": str(int(gwei * 1e9)),
        "gas_limit": rng.choice([21000, 150000, 300000]),
        "nonce": rng.randint(0, 5000),
        "input": "0x" if kind == "transfer" else "0x" + rng.randbytes(8).hex(),
        "classification": {
            "type": kind,
            "protocol": rng.choice(["uniswap_v3", "curve", "aave_v3", None]),
            "tokens": [token_in, token_out],
            "amount_in": str(rng.randint(10**15, 10**20)),
            "amount_out_min": str(rng.randint(10**6, 10**12)),
        },
        "mev_potential": {
            "type": "sandwich" if kind == "swap" else "backrun" if profit else "none",
            "estimated_profit_usd": profit,
            "confidence": round(rng.uniform(0.1, 0.99), 2),
        },
    }


def health_status(health: float) -> str:
    """The band of a health factor, as in the notes.

    Example:
        >>> [health_status(h) for h in (2.0, 1.3, 1.1, 0.95)]
        ['HEALTHY', 'WARNING', 'AT_RISK', 'LIQUIDATABLE']
    """
    if health > 1.5:
        return "HEALTHY"
    if health >= 1.2:
        return "WARNING"
    if health > 1.0:
        return "AT_RISK"
    return "LIQUIDATABLE"


def liquidation_message(route: Route, rng: random.Random) -> tuple[str, dict[str, Any]] | None:
    """A ``position_update`` or ``liquidation_alert`` that passes the route's filters, or None."""
    health = round(rng.uniform(0.85, 1.6), 3)
    chain = route.chain or rng.choice(AXOL_CHAINS)
    protocol = route.protocol or rng.choice(_PROTOCOLS)
    collateral = round(rng.uniform(1_000, 500_000), 2)
    debt = round(collateral / max(health, 0.5) * 0.8, 2)
    bonus = rng.choice([0.05, 0.075, 0.1])
    profit = round(debt * 0.5 * bonus, 2)
    if health >= route.health_threshold or profit < route.min_profit:
        return None
    collateral_token, debt_token = rng.choice(["WETH", "WBTC"]), rng.choice(["USDC", "DAI"])
    data = {
        "user": "0x" + rng.randbytes(20).hex(),
        "protocol": protocol,
        "chain": chain,
        "health_factor": health,
        "health_status": health_status(health),
        "collateral": {
            "total_usd": collateral,
            "assets": [{"token": collateral_token, "usd": collateral}],
        },
        "debt": {"total_usd": debt, "assets": [{"token": debt_token, "usd": debt}]},
        "liquidation_opportunity": {
            "max_debt_to_cover": round(debt * 0.5, 2),
            "debt_token": debt_token,
            "collateral_to_receive": round(debt * 0.5 * (1 + bonus), 2),
            "collateral_token": collateral_token,
            "estimated_profit_usd": profit,
            "liquidation_bonus": bonus,
        },
        "price_drop_to_liquidation": round(max(0.0, 1 - 1 / health), 4),
    }
    if health <= 1.0:
        return "liquidation_alert", {**data, "priority": "high"}
    return "position_update", data
