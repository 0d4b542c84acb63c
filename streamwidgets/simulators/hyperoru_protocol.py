"""What the Hyperoru simulator sends: accounts, positions, orders, curves and model chat.

Channel names, timeframes and broadcast types are those of
:mod:`streamwidgets.dialects.hyperoru.dialect`, so simulator and client cannot drift apart. The
broadcast payloads are the shapes documented there (the real ones are not public).

Example:
    >>> import random
    >>> book = AccountBook.default(random.Random(1))
    >>> [a["id"] for a in book.accounts()]
    ['acct_1', 'acct_2', 'acct_3']
    >>> len(asset_curve(book.equity["acct_1"], "1d", random.Random(1), now_ms=0))
    96
"""

from __future__ import annotations

import itertools
import random
import secrets
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

import orjson

from streamwidgets.dialects.hyperoru.dialect import (
    BROADCAST_CHANNELS,
    HYPERORU_CHANNELS,
    HYPERORU_TIMEFRAMES,
)

__all__ = [
    "BROADCAST_CHANNELS",
    "HYPERORU_CHANNELS",
    "HYPERORU_COMMANDS",
    "HYPERORU_TIMEFRAMES",
    "AccountBook",
    "ChatWriter",
    "asset_curve",
    "generate_token",
    "message",
    "now_ms",
]

#: The ``type`` of every message a client can send.
HYPERORU_COMMANDS: tuple[str, ...] = (
    "subscribe",
    "bootstrap",
    "switch_account",
    "get_snapshot",
    "get_asset_curve",
    "place_order",
    "ping",
)
SYMBOLS = ("BTC", "ETH", "SOL", "DOGE", "XRP")
_PRICES = {"BTC": 67_000.0, "ETH": 3_400.0, "SOL": 150.0, "DOGE": 0.15, "XRP": 0.6}
#: timeframe -> (points, milliseconds between points)
_CURVE_STEPS = {
    "1d": (96, 15 * 60_000),
    "7d": (168, 3_600_000),
    "30d": (120, 6 * 3_600_000),
    "90d": (90, 86_400_000),
    "all": (180, 86_400_000),
}
_REASONING = (
    "Funding on {symbol} turned negative while open interest kept rising, ",
    "which usually means late shorts are crowding in. ",
    "The 4h trend is intact and the last pullback held the 20-period average. ",
    "Volatility is compressing, so a breakout is more likely than a range. ",
    "Risk: a macro print in two hours could reverse it; ",
    "sizing stays at a quarter of the usual allocation. ",
)


def generate_token() -> str:
    """A fresh simulator session token (not a real Hyperoru token).

    Example:
        >>> generate_token().startswith("hyo_sim_")
        True
    """
    return f"hyo_sim_{secrets.token_hex(16)}"


def now_ms() -> int:
    """The current time in epoch milliseconds."""
    return int(time.time() * 1000)


def message(kind: str, data: Any, request_id: str | None = None) -> str:
    """The ``{type, request_id?, data}`` envelope as JSON text.

    Example:
        >>> message("pong", {}, "r3")
        '{"type":"pong","data":{},"request_id":"r3"}'
    """
    out: dict[str, Any] = {"type": kind, "data": data}
    if request_id is not None:
        out["request_id"] = request_id
    return orjson.dumps(out).decode()


def asset_curve(
    equity: float, timeframe: str, rng: random.Random, *, now_ms: int
) -> list[dict[str, Any]]:
    """A random-walk equity series ending at ``equity``, oldest first.

    Example:
        >>> points = asset_curve(1000.0, "7d", random.Random(0), now_ms=0)
        >>> len(points), points[-1]["equity"]
        (168, 1000.0)
    """
    count, step = _CURVE_STEPS[timeframe]
    values = [equity]
    for _ in range(count - 1):
        values.append(round(values[-1] * (1 - rng.gauss(0.0005, 0.01)), 2))
    values.reverse()
    start = values[0]
    return [
        {"ts": now_ms - (count - 1 - i) * step, "equity": v, "pnl": round(v - start, 2)}
        for i, v in enumerate(values)
    ]


@dataclass
class AccountBook:
    """The simulated AI traders: accounts, equity, open positions and orders."""

    names: dict[str, str]
    equity: dict[str, float]
    positions: dict[str, dict[str, dict[str, Any]]]  # account -> symbol -> position
    active_orders: dict[str, list[dict[str, Any]]]
    rng: random.Random
    order_numbers: int = 0
    start_equity: dict[str, float] = field(default_factory=dict)

    @classmethod
    def default(cls, rng: random.Random) -> AccountBook:
        """Three AI trader accounts with a position or two each."""
        names = {"acct_1": "Trend (Claude)", "acct_2": "Momentum (GPT)", "acct_3": "Carry (Qwen)"}
        equity = {a: round(rng.uniform(8_000, 25_000), 2) for a in names}
        book = cls(names, equity, {a: {} for a in names}, {a: [] for a in names}, rng)
        book.start_equity = dict(equity)
        for account in names:
            for symbol in rng.sample(SYMBOLS, 2):
                book.move_position(account, symbol)
            book.active_orders[account].append(book.new_order(account, "limit"))
        return book

    def accounts(self) -> list[dict[str, str]]:
        """``[{id, name}]`` as bootstrap lists them."""
        return [{"id": a, "name": n} for a, n in self.names.items()]

    def snapshot(self, account: str) -> dict[str, Any]:
        """``get_snapshot``'s reply for one account."""
        return {
            "account_id": account,
            "equity": self.equity[account],
            "positions": [
                {k: p[k] for k in ("symbol", "side", "size", "unrealized_pnl")}
                for p in self.positions[account].values()
            ],
        }

    def move_position(self, account: str, symbol: str | None = None) -> dict[str, Any]:
        """Open, update or close a position; returns the ``position_update`` payload."""
        rng = self.rng
        symbol = symbol or rng.choice(SYMBOLS)
        book = self.positions[account]
        held = book.get(symbol)
        mark = round(_PRICES[symbol] * rng.uniform(0.97, 1.03), 6)
        if held is not None and rng.random() < 0.2:
            del book[symbol]
            return {**held, "mark_price": mark, "status": "closed", "ts": now_ms()}
        if held is None:
            held = {
                "account_id": account,
                "symbol": symbol,
                "side": rng.choice(("long", "short")),
                "size": round(rng.uniform(0.1, 5.0) * 1000 / _PRICES[symbol], 6),
                "entry_price": mark,
            }
            status = "opened"
        else:
            status = "updated"
        sign = 1 if held["side"] == "long" else -1
        held["mark_price"] = mark
        held["unrealized_pnl"] = round(sign * (mark - held["entry_price"]) * held["size"], 2)
        book[symbol] = held
        return {**held, "status": status, "ts": now_ms()}

    def new_order(self, account: str, order_type: str = "market", **fields: Any) -> dict[str, Any]:
        """A new order's ``trade_update`` payload (status ``accepted``)."""
        rng = self.rng
        self.order_numbers += 1
        symbol = fields.get("symbol") or rng.choice(SYMBOLS)
        price = fields.get("price") or round(_PRICES[symbol] * rng.uniform(0.99, 1.01), 6)
        return {
            "order_id": f"ord_{self.order_numbers:06d}",
            "account_id": account,
            "symbol": symbol,
            "side": fields.get("side") or rng.choice(("buy", "sell")),
            "order_type": order_type,
            "status": "accepted",
            "size": fields.get("size") or round(rng.uniform(0.1, 2.0) * 500 / _PRICES[symbol], 6),
            "filled_size": 0.0,
            "price": price,
            "fee": 0.0,
            "ts": now_ms(),
        }

    def fill(self, order: dict[str, Any]) -> dict[str, Any]:
        """The ``trade_update`` that fills an order."""
        fee = round(order["size"] * order["price"] * 0.00035, 4)
        return {**order, "status": "filled", "filled_size": order["size"], "fee": fee,
                "ts": now_ms()}  # fmt: skip

    def curve_update(self, account: str) -> dict[str, Any]:
        """Move an account's equity a little; the ``asset_curve_update`` payload."""
        equity = round(self.equity[account] * (1 + self.rng.gauss(0.0002, 0.003)), 2)
        self.equity[account] = equity
        pnl = round(equity - self.start_equity[account], 2)
        return {
            "account_id": account,
            "equity": equity,
            "daily_pnl": pnl,
            "daily_pnl_pct": round(100 * pnl / self.start_equity[account], 3),
            "ts": now_ms(),
        }


class ChatWriter:
    """One connection's AI decisions, streamed as ``model_chat_update`` chunks.

    Example:
        >>> w = ChatWriter(random.Random(2), chunks=3)
        >>> parts = [w.next_chunk("acct_1") for _ in range(3)]
        >>> [p["seq"] for p in parts], parts[-1]["done"], "action" in parts[-1]
        ([0, 1, 2], True, True)
    """

    def __init__(
        self, rng: random.Random, *, chunks: int = 4, numbers: Iterator[int] | None = None
    ) -> None:
        self.rng = rng
        self.chunks = chunks
        # Shared by every connection of a server, so decision ids never repeat.
        self._numbers = numbers if numbers is not None else itertools.count(1)
        self._current: tuple[str, str, list[str]] | None = None
        self._seq = 0

    def next_chunk(self, account: str) -> dict[str, Any]:
        """The next chunk of the decision being written (a new one after ``done``)."""
        rng = self.rng
        if self._current is None:
            symbol = rng.choice(SYMBOLS)
            # A random subset, kept in the order that reads as one argument.
            picked = sorted(rng.sample(range(len(_REASONING)), self.chunks))
            parts = [_REASONING[i].format(symbol=symbol) for i in picked]
            self._current = (f"dec_{next(self._numbers):06d}", symbol, parts)
            self._seq = 0
        decision_id, symbol, parts = self._current
        done = self._seq == len(parts) - 1
        out: dict[str, Any] = {
            "decision_id": decision_id,
            "account_id": account,
            "model": "sim-trader-1",
            "seq": self._seq,
            "chunk": parts[self._seq],
            "done": done,
            "ts": now_ms(),
        }
        if done:
            out.update(
                action=rng.choice(("buy", "sell", "hold")),
                symbol=symbol,
                confidence=round(rng.uniform(0.4, 0.95), 2),
            )
            self._current = None
        else:
            self._seq += 1
        return out
