"""What the Pusher-compatible simulator says: catalog, frames, signatures, payloads.

The catalog is the simulator's own design (the stream's document names the kinds of
streams, not their payloads): three public market streams and two presence streams per
user. Payloads carry ``timestamp`` in epoch milliseconds.

Example:
    >>> sign("secret", "123.456", "presence-portfolio-u1", '{"user_id": "u1"}')[:8]
    '7c2cc0da'
    >>> frame("pusher:pong", {})
    '{"event":"pusher:pong","data":"{}"}'
"""

from __future__ import annotations

import hashlib
import hmac
import random
import secrets
import time
from typing import Any

import orjson

__all__ = [
    "CATALOG",
    "PUSHER_COMMANDS",
    "channel_of",
    "frame",
    "generate_token",
    "payload",
    "sign",
    "sign_user",
    "signature_error",
]

#: name -> (type, channel template, events, filters)
CATALOG: dict[str, tuple[str, str, tuple[str, ...], tuple[dict[str, str], ...]]] = {
    "prices": (
        "public",
        "market-prices",
        ("price_update",),
        ({"name": "symbols", "type": "string[]", "description": "only these symbols"},),
    ),
    "trades": (
        "public",
        "market-trades",
        ("trade",),
        (
            {"name": "symbols", "type": "string[]", "description": "only these symbols"},
            {"name": "min_size", "type": "number", "description": "smallest trade size"},
        ),
    ),
    "signals": (
        "public",
        "market-signals",
        ("signal",),
        ({"name": "min_strength", "type": "number", "description": "0-1"},),
    ),
    "portfolio": (
        "presence",
        "presence-portfolio-{userId}",
        ("position_update", "balance_update"),
        (),
    ),
    "automation": (
        "presence",
        "presence-automation-{userId}",
        ("automation_run",),
        ({"name": "automation_id", "type": "string", "description": "one automation"},),
    ),
}
#: The ``event`` of every protocol message a client can send.
PUSHER_COMMANDS: tuple[str, ...] = (
    "pusher:subscribe",
    "pusher:unsubscribe",
    "pusher:ping",
    "pusher:pong",
    "pusher:signin",
)
_SYMBOLS = {"BTC-USD": 97_000.0, "ETH-USD": 3_400.0, "SOL-USD": 180.0, "AAPL": 230.0}
_AUTOMATIONS = ("rebalance", "stop-loss", "dca-btc", "take-profit")


def generate_token() -> str:
    """A fresh simulator Bearer token (not a real one).

    Example:
        >>> generate_token().startswith("sk_sim_")
        True
    """
    return f"sk_sim_{secrets.token_hex(12)}"


def channel_of(stream: str, user_id: str) -> str:
    """The channel of a catalog stream for a user.

    Example:
        >>> channel_of("portfolio", "u7"), channel_of("prices", "u7")
        ('presence-portfolio-u7', 'market-prices')
    """
    return CATALOG[stream][1].replace("{userId}", user_id)


def sign(secret: str, socket_id: str, channel: str, channel_data: str | None = None) -> str:
    """Hex HMAC-SHA256 of ``socket_id:channel[:channel_data]``, as Pusher signs channels."""
    subject = f"{socket_id}:{channel}" + (f":{channel_data}" if channel_data is not None else "")
    return hmac.new(secret.encode(), subject.encode(), hashlib.sha256).hexdigest()


def sign_user(secret: str, socket_id: str, user_data: str) -> str:
    """Hex HMAC-SHA256 of ``socket_id::user::user_data``, as Pusher signs a user's sign-in
    (Pusher's "Generating authentication and authorization strings").

    Example:
        >>> len(sign_user("secret", "1.2", '{"id":"u1"}'))
        64
    """
    subject = f"{socket_id}::user::{user_data}"
    return hmac.new(secret.encode(), subject.encode(), hashlib.sha256).hexdigest()


def signature_error(socket_id: str, channel: str, sent: str) -> dict[str, Any]:
    """The data of the ``pusher:error`` the Pusher service sends for a bad channel signature.

    ``sent`` is the ``auth`` the client sent (empty when it sent none). The wording is
    the real service's; ``code`` is null.

    Example:
        >>> signature_error("1.2", "presence-x", "k:00")["message"]
        'Invalid signature: Expected HMAC SHA256 hex digest of 1.2:presence-x, but got k:00'
    """
    return {
        "message": (
            f"Invalid signature: Expected HMAC SHA256 hex digest of {socket_id}:{channel}, "
            f"but got {sent}"
        ),
        "code": None,
    }


def frame(event: str, data: Any, channel: str | None = None, *, raw: bool = False) -> str:
    """A server frame; ``data`` JSON-encoded into a string unless ``raw`` (pusher:error)."""
    message: dict[str, Any] = {"event": event}
    if channel is not None:
        message["channel"] = channel
    message["data"] = data if raw else orjson.dumps(data).decode()
    return orjson.dumps(message).decode()


def payload(stream: str, rng: random.Random, user_id: str) -> tuple[str, dict[str, Any]]:
    """One synthetic event (name, data) of a stream."""
    now = int(time.time() * 1000)
    symbol = rng.choice(list(_SYMBOLS))
    price = round(_SYMBOLS[symbol] * rng.uniform(0.98, 1.02), 2)
    if stream == "prices":
        spread = price * 0.0002
        return "price_update", {
            "symbol": symbol,
            "price": price,
            "bid": round(price - spread, 2),
            "ask": round(price + spread, 2),
            "change_24h": round(rng.uniform(-5, 5), 2),
            "volume_24h": round(rng.uniform(1e6, 5e8), 0),
            "timestamp": now,
        }
    if stream == "trades":
        return "trade", {
            "id": f"t{rng.randrange(10**9):09d}",
            "symbol": symbol,
            "side": rng.choice(["buy", "sell"]),
            "price": price,
            "size": round(rng.expovariate(2.0), 4),
            "timestamp": now,
        }
    if stream == "signals":
        return "signal", {
            "id": f"s{rng.randrange(10**6):06d}",
            "symbol": symbol,
            "kind": rng.choice(["momentum", "breakout", "mean_reversion", "volume_spike"]),
            "direction": rng.choice(["long", "short"]),
            "strength": round(rng.random(), 3),
            "timestamp": now,
        }
    if stream == "portfolio":
        if rng.random() < 0.3:
            equity = round(rng.uniform(95_000, 105_000), 2)
            return "balance_update", {
                "user_id": user_id,
                "equity": equity,
                "cash": round(equity * rng.uniform(0.2, 0.5), 2),
                "margin_used": round(equity * rng.uniform(0.05, 0.3), 2),
                "timestamp": now,
            }
        size = round(rng.uniform(-2, 2), 4)
        entry = round(price * rng.uniform(0.95, 1.05), 2)
        return "position_update", {
            "user_id": user_id,
            "symbol": symbol,
            "size": size,
            "entry_price": entry,
            "mark_price": price,
            "unrealized_pnl": round((price - entry) * size, 2),
            "timestamp": now,
        }
    name = rng.choice(_AUTOMATIONS)
    return "automation_run", {
        "automation_id": f"auto-{_AUTOMATIONS.index(name)}",
        "name": name,
        "status": rng.choice(["started", "succeeded", "succeeded", "skipped", "failed"]),
        "symbol": symbol,
        "timestamp": now,
    }
