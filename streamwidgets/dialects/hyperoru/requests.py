"""Hyperoru's requests: their payloads checked before sending, and awaitables bound to a
running connection.

Every request is sent with a fresh ``request_id``. One whose reply the document promises
(``bootstrap``, ``get_snapshot``, ``get_asset_curve``, ``place_order``, ``ping``) resolves
with that reply, matched as :mod:`streamwidgets.dialects.hyperoru.dialect` says; ``switch_account``
has no documented reply and is complete once sent. A server ``error``, no promised reply
within the timeout, or no connection raise :class:`HyperoruRequestError` (a
:class:`~streamwidgets.RequestError`) naming the request; a bad argument raises
:class:`~streamwidgets.ConfigurationError` before anything is sent.

In a notebook::

    w = StreamWidget(feeds.hyperoru(url, session_token=token), streams=["trades"])
    state = await w.requests.bootstrap()

In a script::

    async with streamwidgets.open(feed, streams=["trades"]) as stream:
        curve = await feed.requests(stream).get_asset_curve("acct_1", "7d")
"""

from __future__ import annotations

import time
from typing import Any, Protocol

from streamwidgets.connection.dialect import Outgoing
from streamwidgets.connection.driver import Connection
from streamwidgets.dialects._config import positive_or_none, require_positive
from streamwidgets.exceptions import ConfigurationError, RequestError

__all__ = [
    "HYPERORU_TIMEFRAMES",
    "HyperoruRequestError",
    "HyperoruRequests",
    "OrdersNotAllowed",
    "checked_payload",
]

HYPERORU_TIMEFRAMES = ("1d", "7d", "30d", "90d", "all")
_ORDER_SIDES = ("buy", "sell")
_ORDER_TYPES = ("market", "limit")


class _RequestingFeed(Protocol):
    """What the requests use of the Hyperoru dialect (which imports this module)."""

    allow_orders: bool

    def request(self, kind: str, data: Any = None) -> Outgoing: ...

    def forget(self, reply_key: str) -> None: ...

    def describe(self) -> dict[str, Any]: ...


class HyperoruRequestError(RequestError):
    """A Hyperoru request failed: an ``error`` reply, no reply in time, or no connection.

    Attributes:
        request: the request type, e.g. ``"get_snapshot"``.
    """

    def __init__(self, request: str, message: str) -> None:
        self.request = request
        super().__init__(f"Hyperoru {request} failed: {message}")


class OrdersNotAllowed(ConfigurationError):
    """``place_order`` on a feed made without ``allow_orders=True``; nothing was sent."""


class HyperoruRequests:
    """The Hyperoru requests, each a coroutine resolved by its reply.

    Get one from the feed or the widget rather than building it: ``feed.requests(stream)``
    (a :func:`streamwidgets.open` stream or a :class:`~streamwidgets.Connection`) or
    ``w.requests`` (a :class:`~streamwidgets.StreamWidget`). It holds no state of its own.

    Args:
        target: a Connection, or anything with a ``connection`` attribute holding one.
        timeout: seconds to wait for each reply (None: the connection's request_timeout).

    Example:
        >>> from streamwidgets import Connection, feeds
        >>> feed = feeds.hyperoru("ws://127.0.0.1:9/ws", session_token="t")
        >>> api = HyperoruRequests(Connection(feed))
        >>> api.allow_orders
        False
        >>> # state = await api.bootstrap(); state["accounts"] -> [{'id': ..., 'name': ...}]
    """

    def __init__(self, target: Any, *, timeout: float | None = None) -> None:
        connection = (
            target if isinstance(target, Connection) else getattr(target, "connection", None)
        )
        if not isinstance(connection, Connection):
            raise ConfigurationError(
                f"expected a Connection, stream or widget, got {type(target).__name__}"
            )
        if connection.dialect.name != "hyperoru":
            raise ConfigurationError(
                f"these requests need a Hyperoru feed, not {connection.dialect.name!r}"
            )
        self.connection: Connection = connection
        self.dialect: _RequestingFeed = connection.dialect  # type: ignore[assignment]
        self.timeout = positive_or_none("timeout", timeout)

    @property
    def allow_orders(self) -> bool:
        """True when the feed was made with ``allow_orders=True``."""
        return self.dialect.allow_orders

    async def bootstrap(self) -> dict[str, Any]:
        """The current accounts, positions and active orders (also buffered as snapshot rows).

        Example:
            >>> state = await w.requests.bootstrap()  # doctest: +SKIP
            >>> [a["id"] for a in state["accounts"]]  # doctest: +SKIP
            ['acct_1', 'acct_2', 'acct_3']
        """
        return await self._ask("bootstrap", {})

    async def get_snapshot(self, account_id: str) -> dict[str, Any]:
        """One account's equity and positions, now, without subscribing.

        Example:
            >>> snap = await w.requests.get_snapshot("acct_1")  # doctest: +SKIP
            >>> snap["equity"], snap["positions"][0]["symbol"]  # doctest: +SKIP
            (10234.5, 'BTC')
        """
        return await self._ask("get_snapshot", {"account_id": account_id})

    async def get_asset_curve(self, account_id: str, timeframe: str = "7d") -> dict[str, Any]:
        """An account's equity series: ``{account_id, timeframe, points: [{ts, equity, pnl}]}``.

        ``timeframe`` is ``1d``, ``7d``, ``30d``, ``90d`` or ``all``; anything else raises
        :class:`~streamwidgets.ConfigurationError` before sending.

        Example:
            >>> curve = await w.requests.get_asset_curve("acct_1", "30d")  # doctest: +SKIP
            >>> pd.DataFrame(curve["points"]).tail()  # doctest: +SKIP
        """
        return await self._ask(
            "get_asset_curve", {"account_id": account_id, "timeframe": timeframe}
        )

    async def switch_account(self, account_id: str) -> None:
        """Point later broadcasts at another account; kept across reconnects.

        Complete once sent: the document promises no reply. The account is re-sent after
        every reconnect; if the server refuses it with an ``error``, the previous account
        is restored and a notice says so.

        Example:
            >>> await w.requests.switch_account("acct_2")  # doctest: +SKIP
        """
        await self._ask("switch_account", {"account_id": account_id})

    async def ping(self) -> float:
        """Ping the server; returns the round trip in seconds.

        Example:
            >>> rtt = await w.requests.ping()  # doctest: +SKIP
        """
        began = time.perf_counter()
        await self._ask("ping", {})
        return time.perf_counter() - began

    async def place_order(
        self,
        account_id: str,
        symbol: str,
        side: str,
        size: float,
        *,
        order_type: str = "market",
        price: float | None = None,
    ) -> dict[str, Any]:
        """Place an order; returns the ``trade_update`` that acknowledges it.

        Only on a feed made with ``allow_orders=True``; otherwise
        :class:`OrdersNotAllowed` is raised and nothing is sent. When no ``trade_update``
        for the order comes in time, the error says the order was sent and may have gone
        through: look before placing it again.

        Example:
            >>> await w.requests.place_order("acct_1", "BTC", "buy", 0.01)  # doctest: +SKIP
            {'order_id': 'ord_000001', 'status': 'accepted', ...}
        """
        order: dict[str, Any] = {
            "account_id": account_id,
            "symbol": symbol,
            "side": side,
            "size": size,
            "order_type": order_type,
        }
        if price is not None:
            order["price"] = price
        return await self._ask("place_order", order)

    async def _ask(self, kind: str, data: dict[str, Any]) -> Any:
        try:
            # Checks the arguments (ConfigurationError) before anything is sent.
            out = self.dialect.request(kind, data)
        except RequestError as exc:  # too many requests already wait
            raise HyperoruRequestError(kind, str(exc)) from None
        try:
            reply = await self.connection.send(out, timeout=self.timeout)
        except RequestError as exc:
            said = str(exc)
            if kind == "place_order" and said.startswith("no reply"):
                said = (
                    f"{said}: no trade_update for this order came; it was sent and may have "
                    "gone through, so check the active orders (bootstrap) before placing it again"
                )
            raise HyperoruRequestError(kind, said) from None
        finally:
            if out.reply_key is not None:
                self.dialect.forget(out.reply_key)
        return reply.data if reply is not None else None

    def __repr__(self) -> str:
        return f"<HyperoruRequests {self.dialect.describe()['url']} orders={self.allow_orders}>"


def checked_payload(kind: str, data: dict[str, Any], *, allow_orders: bool) -> dict[str, Any]:
    """The payload of a request, refused before anything is sent when it cannot be right.

    Example:
        >>> checked_payload("get_snapshot", {"account_id": "acct_1"}, allow_orders=False)
        {'account_id': 'acct_1'}
        >>> checked_payload("place_order", {"symbol": "BTC"}, allow_orders=False)
        Traceback (most recent call last):
        ...
        streamwidgets.dialects.hyperoru.requests.OrdersNotAllowed: place_order is disabled: ...
    """
    if kind in ("bootstrap", "ping"):
        return data
    if kind == "subscribe":
        return data
    if kind == "place_order":
        if not allow_orders:
            raise OrdersNotAllowed(
                "place_order is disabled: this feed was made without allow_orders=True, "
                "so no order was sent"
            )
        return _checked_order(data)
    if kind not in ("get_snapshot", "get_asset_curve", "switch_account"):
        raise ConfigurationError(
            f"unknown Hyperoru request {kind!r}; known: bootstrap, get_snapshot, "
            "get_asset_curve, switch_account, place_order, ping"
        )
    account = data.get("account_id")
    if not isinstance(account, str) or not account:
        raise ConfigurationError(f"{kind} needs an account_id (a non-empty str), got {account!r}")
    if kind == "get_asset_curve":
        timeframe = data.get("timeframe")
        if timeframe not in HYPERORU_TIMEFRAMES:
            raise ConfigurationError(
                f"timeframe must be one of {', '.join(HYPERORU_TIMEFRAMES)}; got {timeframe!r}"
            )
    return data


def _checked_order(data: dict[str, Any]) -> dict[str, Any]:
    symbol, side, size = data.get("symbol"), data.get("side"), data.get("size")
    order_type = data.get("order_type", "market")
    if not isinstance(symbol, str) or not symbol:
        raise ConfigurationError(f"an order needs a symbol, got {symbol!r}")
    if side not in _ORDER_SIDES:
        raise ConfigurationError(f"side must be 'buy' or 'sell', got {side!r}")
    require_positive(size=size)
    if order_type not in _ORDER_TYPES:
        raise ConfigurationError(f"order_type must be 'market' or 'limit', got {order_type!r}")
    price = data.get("price")
    if order_type == "limit" and (
        isinstance(price, bool) or not isinstance(price, (int, float)) or not price > 0
    ):
        raise ConfigurationError(f"a limit order needs a price > 0, got {price!r}")
    return {**data, "order_type": order_type}
