"""What the Hydra v1 simulator sends: payloads in the documented shapes, built from a
:class:`~streamwidgets.simulators.synthetic.SyntheticWorld`.

The scopes, the snapshot order and the event type -> scope mapping are those of
:mod:`streamwidgets.dialects.hydra_v1`, so simulator and client cannot drift apart.

Example:
    >>> from streamwidgets.simulators.synthetic import SyntheticWorld
    >>> data = aircraft_data(SyntheticWorld(1), 1_710_000_000_000, count=2)
    >>> data["count"], sorted(data["positions"][0])[:3]
    (2, ['altitudeBaro', 'callsign', 'category'])
"""

from __future__ import annotations

import secrets
import time
from collections.abc import Iterable
from typing import Any

import orjson

from streamwidgets.dialects.hydra_v1 import HYDRA_V1_SCOPES, signal_stream
from streamwidgets.simulators.synthetic import SyntheticWorld

__all__ = [
    "CLOSE_UNAUTHORIZED",
    "HYDRA_V1_SCOPES",
    "aircraft_data",
    "frame",
    "generate_key",
    "live_message",
    "now_ms",
    "signals_data",
    "snapshot_messages",
]

CLOSE_UNAUTHORIZED = (1008, "Unauthorized: invalid, expired, or revoked API key")

_SIGNAL_SCOPES = ("signals", "alerts", "airspace", "cyber", "earthquakes")
_OPERATORS = ("Air Force", "Navy", "Lufthansa", "Turkish Airlines", "Emirates", "private")


def now_ms() -> int:
    """Wall-clock time in epoch milliseconds."""
    return time.time_ns() // 1_000_000


def generate_key() -> str:
    """A fresh simulator API key in the documented ``hydra_k1_...`` form.

    Example:
        >>> generate_key().startswith("hydra_k1_")
        True
    """
    return f"hydra_k1_{secrets.token_hex(12)}"


def frame(kind: str, data: Any) -> str:
    """The ``{type, data}`` envelope as JSON text.

    Example:
        >>> frame("online_count", {"count": 3})
        '{"type":"online_count","data":{"count":3}}'
    """
    return orjson.dumps({"type": kind, "data": data}).decode()


def aircraft_data(world: SyntheticWorld, now: int, count: int) -> dict[str, Any]:
    """An ``aircraft`` payload: ``count`` positions in the documented fields."""
    positions = []
    for _ in range(count):
        p = world.aircraft_position(now)
        positions.append(
            {
                "icaoHex": p["icaoHex"],
                "callsign": p["callsign"],
                "lat": p["lat"],
                "lng": p["lng"],
                "altitudeBaro": p["altitude"],
                "groundSpeed": p["groundSpeed"],
                "track": p["track"],
                "verticalRate": p["verticalRate"],
                "category": p["category"],
                "isMilitary": p["isMilitary"],
                "registration": p["registration"],
                "icaoType": p["icaoType"],
                "model": p["icaoType"],
                "operator": _OPERATORS[int(p["icaoHex"], 16) % len(_OPERATORS)],
                "squawk": p["squawk"],
                "emergency": "general" if p["squawk"] == "7700" else "none",
                "timestamp": now,
                "flightId": f"{p['icaoHex']}-{now // 3_600_000}",
                "country": p["country"],
                "flagCode": str(p["country"])[:2].upper(),
            }
        )
    return {"positions": positions, "count": len(positions), "timestamp": now}


def signals_data(
    world: SyntheticWorld, now: int, count: int, scopes: Iterable[str], next_id: Any
) -> dict[str, Any] | None:
    """A ``signal`` payload of up to ``count`` signals the scopes allow; None if none."""
    allowed = set(scopes)
    out = []
    for _ in range(count):
        if world.rng.random() < 0.1:
            quake = world.seismic_event(now)
            signal = {
                "title": f"M{quake['magnitude']} earthquake, {quake['place']}",
                "category": "EARTHQUAKE",
                "severity": min(5, max(1, int(quake["magnitude"]) - 2)),
                "lat": quake["lat"],
                "lng": quake["lng"],
                "createdAt": now,
            }
        else:
            signal = world.signal(now)
        if signal_stream(signal["category"]) in allowed:
            out.append({"id": next_id(), **signal})
    return {"signals": out, "timestamp": now} if out else None


def snapshot_messages(
    world: SyntheticWorld, scopes: Iterable[str], size: int, online: int, next_id: Any
) -> list[tuple[str, Any]]:
    """The snapshot for these scopes, in the documented order, ``size`` items per kind."""
    scopes = set(scopes)
    now = now_ms()
    out: list[tuple[str, Any]] = []
    if "aircraft" in scopes:
        out.append(("aircraft", aircraft_data(world, now, size)))
    if "vessels" in scopes:
        out.extend(("vessel", world.vessel_position(now)) for _ in range(size))
    if scopes & set(_SIGNAL_SCOPES):
        data = signals_data(world, now, size * 3, scopes, next_id)
        if data is not None:
            out.append(("signal", data))
    if "alerts" in scopes:
        out.extend(("alert", {"id": next_id(), **world.alert(now)[1]}) for _ in range(size))
    if "social" in scopes:
        out.extend(("x_post", {"id": next_id(), **world.osint_post(now)}) for _ in range(size))
    if "markets" in scopes:
        out.append(("market_correlation", _correlation(world, now)))
    chat = [
        {"id": next_id(), "user": f"analyst_{i}", "text": "watching the feed", "ts": now}
        for i in range(size)
    ]
    out.append(("chat_history", {"messages": chat}))
    out.append(("online_count", {"count": online, "ts": now}))
    return out


def live_message(
    world: SyntheticWorld, scopes: tuple[str, ...], now: int, next_id: Any
) -> tuple[str, Any] | None:
    """One live message of one of the scopes, picked at random; None if it came out empty."""
    scope = world.rng.choice(scopes)
    if scope == "aircraft":
        return "aircraft", aircraft_data(world, now, world.rng.randint(1, 4))
    if scope == "vessels":
        return "vessel", world.vessel_position(now)
    if scope == "markets":
        if world.rng.random() < 0.1:
            return "market_correlation", _correlation(world, now)
        return "market", world.market_update(now)
    if scope == "social":
        return "x_post", {"id": next_id(), **world.osint_post(now)}
    if scope == "alerts" and world.rng.random() < 0.5:
        return "alert", {"id": next_id(), **world.alert(now)[1]}
    data = signals_data(world, now, world.rng.randint(1, 3), [scope], next_id)
    return None if data is None else ("signal", data)


def _correlation(world: SyntheticWorld, now: int) -> dict[str, Any]:
    a, b = world.market_update(now), world.market_update(now)
    return {
        "pair": [a["symbol"], b["symbol"]],
        "correlation": round(world.rng.uniform(-1.0, 1.0), 3),
        "window": "1h",
        "timestamp": now,
    }
