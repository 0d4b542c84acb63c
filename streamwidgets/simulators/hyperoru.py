"""A local Hyperoru account stream on one loopback port (``ws://HOST:PORT/ws``).

Faithful to the document and to the choices in :mod:`streamwidgets.dialects.hyperoru.dialect`:

- ``?session_token=`` is checked at connect: a missing or unknown token is closed with
  1008 right after the upgrade, before any message.
- Every message is ``{type, request_id?, data}`` (but the strict pong, see below);
  replies echo ``request_id``.
- ``subscribe {channels}`` is additive (an unknown channel gets an ``error``);
  ``bootstrap``, ``get_snapshot``, ``get_asset_curve`` (the five timeframes, else an
  ``error``), ``switch_account`` (later broadcasts are that account's), ``place_order``
  (a ``trade_update`` "accepted", then a "filled" one on ``trades``), ``ping`` ->
  ``pong``; anything else, or invalid JSON, an ``error``.
- Broadcasts of the subscribed channels at ``rate`` per second: ``trade_update``,
  ``position_update``, ``model_chat_update`` (each decision in ``chat_chunks`` chunks);
  ``asset_curve_update`` every ``asset_curve_interval`` seconds.
- No replay: a new connection starts with no channels and the default account.

Profiles (:mod:`streamwidgets.simulators.profiles`)
    ``strict`` (default) sends what the Hyperoru document (seed ``004``) and NOTES.md
    show. ``ping`` gets exactly ``{"type": "pong"}`` (the document's own example: no
    ``request_id``, no ``data``, whatever the ping carried). ``subscribe`` and
    ``switch_account`` get no reply (the document shows none), but an ``error`` when
    the server cannot fulfil them (an unknown channel or account), as the document says
    errors are sent. ``bootstrap``, ``get_snapshot`` and ``get_asset_curve`` get
    ``bootstrap``, ``snapshot`` and ``asset_curve`` echoing the ``request_id``.
    ``place_order``'s "response is pushed as a trade_update event on the trades
    channel", so its "accepted" ``trade_update`` goes to the placing connection without
    ``request_id``, and the "filled" one follows on ``trades`` as in both profiles.
    ``error {code, message}`` (invalid JSON, an unknown type, a request it cannot
    fulfil) echoes the ``request_id`` when the request had one.
    ``lenient`` is the simulator's earlier protocol: ``subscribed {channels: the whole
    set}`` to ``subscribe``, ``account_switched {account_id, name}`` to
    ``switch_account``, ``pong`` with ``data: {}`` echoing the ``request_id``, and the
    "accepted" ``trade_update`` echoing the ``request_id``.
    ``unanswered=["bootstrap", ...]`` (types) silences every reply to those messages,
    in both profiles, errors included, while they still take effect (an unanswered
    ``place_order`` still places the order, and it still fills).

Fault hooks for tests: :meth:`~HyperoruSimulator.drop_connections` (TCP abort, no close
frame), :meth:`~HyperoruSimulator.close_connections` (a close code),
:meth:`~HyperoruSimulator.stop_pongs`.

Example:
    >>> sim = HyperoruSimulator(session_tokens=["hyo_sim_t"])
    >>> sim.session_token, sim.path
    ('hyo_sim_t', '/ws')
"""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import logging
import random
from collections import deque
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import parse_qs, urlsplit

import orjson
from websockets.asyncio.server import ServerConnection
from websockets.exceptions import ConnectionClosed

from streamwidgets.simulators.faults import PongSwitch
from streamwidgets.simulators.hyperoru_protocol import (
    HYPERORU_CHANNELS,
    HYPERORU_COMMANDS,
    HYPERORU_TIMEFRAMES,
    AccountBook,
    ChatWriter,
    asset_curve,
    generate_token,
    message,
    now_ms,
)
from streamwidgets.simulators.profiles import Profile, Replying, reply_policy
from streamwidgets.simulators.server import LoopbackServer

__all__ = ["HyperoruSimulator", "SeenConnection"]

logger = logging.getLogger(__name__)

_MAX_CHANNELS_PER_MESSAGE = 32


@dataclass
class SeenConnection:
    """One connection attempt and what became of it (``accepted`` or ``closed 1008``)."""

    number: int
    outcome: str


@dataclass
class _Session:
    number: int
    ws: ServerConnection
    account: str
    chat: ChatWriter
    channels: list[str] = field(default_factory=list)


class HyperoruSimulator(Replying, PongSwitch, LoopbackServer):
    """A Hyperoru WebSocket server on the loopback interface.

    Args:
        host: interface to bind.
        port: TCP port; 0 picks a free one.
        session_tokens: tokens the server accepts; None: one generated
            (:attr:`session_token`).
        rate: broadcasts per second per connection, over its subscribed channels.
        asset_curve_interval: seconds between ``asset_curve_update`` messages (60 as
            documented; shorten it in tests).
        fill_delay: seconds between an order's "accepted" and "filled" updates.
        chat_chunks: chunks per AI decision.
        seed: seeds the data.
        profile: ``"strict"`` (only the documented replies) or ``"lenient"`` (also
            ``subscribed`` and ``account_switched``, and request ids on pongs and
            order updates); see the module docstring.
        unanswered: message types (``"subscribe"``, ``"bootstrap"``, ``"ping"``, ...)
            that get no reply at all, though they still take effect.

    Example:
        >>> HyperoruSimulator(rate=5).rate
        5.0
        >>> HyperoruSimulator(profile="lenient", unanswered=["ping"]).unanswered
        frozenset({'ping'})
    """

    label = "Hyperoru simulator"
    path = "/ws"

    def __init__(
        self,
        *,
        host: str = "127.0.0.1",
        port: int = 0,
        session_tokens: Iterable[str] | None = None,
        # Emission
        rate: float = 10.0,
        asset_curve_interval: float = 60.0,
        fill_delay: float = 0.2,
        chat_chunks: int = 4,
        seed: int = 0,
        # Replies
        profile: Profile = "strict",
        unanswered: Iterable[str] = (),
    ) -> None:
        self._policy = reply_policy(profile, unanswered, known=HYPERORU_COMMANDS)
        tokens = [generate_token()] if session_tokens is None else list(session_tokens)
        if not tokens or not all(isinstance(t, str) and t for t in tokens):
            raise ValueError("session_tokens must hold at least one non-empty token")
        if not rate > 0 or not asset_curve_interval > 0 or fill_delay < 0:
            raise ValueError("rate and asset_curve_interval must be > 0, fill_delay >= 0")
        if not 1 <= chat_chunks <= 6:
            raise ValueError("chat_chunks must be 1-6")
        super().__init__(host=host, port=port)
        self.session_tokens = tokens
        self.rate = float(rate)
        self.asset_curve_interval = float(asset_curve_interval)
        self.fill_delay = float(fill_delay)
        self.chat_chunks = chat_chunks

        #: every connection attempt, in order.
        self.connections: deque[SeenConnection] = deque(maxlen=10_000)
        #: (connection number, command as received) of every client message, in order.
        self.commands: deque[tuple[int, dict[str, Any]]] = deque(maxlen=100_000)
        #: (connection number, message type) of every message sent, in order.
        self.sent: deque[tuple[int, str]] = deque(maxlen=100_000)
        #: (connection number, close code, reason) of every close the server made.
        self.closes: deque[tuple[int, int, str]] = deque(maxlen=10_000)
        #: every order placed (the accepted trade_update), in order.
        self.orders: deque[dict[str, Any]] = deque(maxlen=10_000)

        self._rng = random.Random(seed)
        self.book = AccountBook.default(self._rng)
        self._numbers = itertools.count(1)
        self._decisions = itertools.count(1)
        self._open: dict[int, _Session] = {}

    @property
    def session_token(self) -> str:
        """The first (by default the only) token this simulator accepts."""
        return self.session_tokens[0]

    # -- fault hooks -------------------------------------------------------------------------

    def drop_connections(self) -> None:
        """Abort every open connection's TCP socket, without a close frame.

        Example:
            >>> HyperoruSimulator().drop_connections()  # none open
        """
        self._dispatch(self._drop_all)

    def close_connections(self, code: int = 1001, reason: str = "Server going away") -> None:
        """Close every open connection with ``code``.

        Example:
            >>> HyperoruSimulator().close_connections(1011, "Internal error")  # none open
        """
        self._dispatch(self._close_all, code, reason)

    def commands_of(self, kind: str) -> list[dict[str, Any]]:
        """The client commands of one type, all connections, in order.

        Example:
            >>> HyperoruSimulator().commands_of("place_order")
            []
        """
        return [c for _, c in self.commands if c.get("type") == kind]

    def sessions(self) -> dict[int, dict[str, Any]]:
        """Open connections: number -> ``{account, channels}``, for tests and the curious.

        Example:
            >>> HyperoruSimulator().sessions()
            {}
        """
        return {
            n: {"account": s.account, "channels": list(s.channels)} for n, s in self._open.items()
        }

    # -- connections -------------------------------------------------------------------------

    async def _handle(self, ws: ServerConnection) -> None:
        seen = SeenConnection(next(self._numbers), "accepted")
        self.connections.append(seen)
        request = ws.request
        query = parse_qs(urlsplit(request.path).query) if request is not None else {}
        token = query.get("session_token", [""])[0]
        if token not in self.session_tokens:
            why = "Invalid session token" if token else "Missing session token"
            seen.outcome = "closed 1008"
            self.closes.append((seen.number, 1008, why))
            await ws.close(1008, why)
            return
        chat = ChatWriter(self._rng, chunks=self.chat_chunks, numbers=self._decisions)
        session = _Session(seen.number, ws, "acct_1", chat)
        self._open[seen.number] = session
        emitter = asyncio.create_task(self._emit(session))
        curve = asyncio.create_task(self._emit_curve(session))
        try:
            async for raw in ws:
                await self._command(session, raw)
        except ConnectionClosed:
            pass
        finally:
            for task in (emitter, curve):
                task.cancel()
                with contextlib.suppress(asyncio.CancelledError, ConnectionClosed):
                    await task
            self._open.pop(seen.number, None)

    async def _command(self, session: _Session, raw: str | bytes) -> None:
        try:
            command = orjson.loads(raw)
        except orjson.JSONDecodeError:
            command = None
        if not isinstance(command, dict):
            # The document: an error is sent "when a client message fails to parse".
            await self._error(session, None, "bad_request", "Invalid JSON message")
            return
        self.commands.append((session.number, command))
        kind = command.get("type")
        rid = command.get("request_id")
        rid = None if rid is None else str(rid)
        data = command.get("data")
        data = data if isinstance(data, dict) else {}
        # Every reply to this request goes through `to`: unanswered kinds get none at all.
        to = _Replies(self, session, rid, self._policy.answers(kind))
        if kind == "ping":
            if self._ponging:
                await to.pong(lenient=self._policy.lenient)
        elif kind == "subscribe":
            await self._subscribe(session, to, data.get("channels"))
        elif kind == "bootstrap":
            await to.send("bootstrap", self._bootstrap(session))
        elif kind in ("get_snapshot", "get_asset_curve", "switch_account"):
            await self._account_request(session, to, kind, data)
        elif kind == "place_order":
            await self._place_order(session, to, data)
        else:
            await to.error("unknown_type", f"Unknown message type: {kind}")

    async def _subscribe(self, session: _Session, to: _Replies, asked: Any) -> None:
        if (
            not isinstance(asked, list)
            or not asked
            or len(asked) > _MAX_CHANNELS_PER_MESSAGE
            or not all(isinstance(c, str) for c in asked)
        ):
            await to.error("bad_request", "channels must be a list of names")
            return
        unknown = [c for c in asked if c not in HYPERORU_CHANNELS]
        if unknown:
            await to.error("unknown_channel", f"Unknown channel(s): {', '.join(unknown)}")
            return
        # Additive: new channels join the set, none leave it.
        session.channels.extend(c for c in dict.fromkeys(asked) if c not in session.channels)
        if self._policy.lenient:  # the document shows no reply to a subscribe
            await to.send("subscribed", {"channels": list(session.channels)})

    def _bootstrap(self, session: _Session) -> dict[str, Any]:
        book = self.book
        return {
            "account_id": session.account,
            "accounts": book.accounts(),
            "positions": [p for a in book.names for p in book.positions[a].values()],
            "active_orders": [o for a in book.names for o in book.active_orders[a]],
        }

    async def _account_request(
        self, session: _Session, to: _Replies, kind: str, data: dict[str, Any]
    ) -> None:
        account = data.get("account_id")
        if account not in self.book.names:
            await to.error("unknown_account", f"Unknown account: {account}")
            return
        if kind == "get_snapshot":
            await to.send("snapshot", self.book.snapshot(account))
        elif kind == "switch_account":
            session.account = account
            if self._policy.lenient:  # the document shows no reply to a switch
                reply = {"account_id": account, "name": self.book.names[account]}
                await to.send("account_switched", reply)
        else:
            timeframe = data.get("timeframe")
            if timeframe not in HYPERORU_TIMEFRAMES:
                await to.error(
                    "invalid_timeframe",
                    f"Invalid timeframe: {timeframe}; valid: {', '.join(HYPERORU_TIMEFRAMES)}",
                )
                return
            points = asset_curve(self.book.equity[account], timeframe, self._rng, now_ms=now_ms())
            reply = {"account_id": account, "timeframe": timeframe, "points": points}
            await to.send("asset_curve", reply)

    async def _place_order(self, session: _Session, to: _Replies, data: dict[str, Any]) -> None:
        account = data.get("account_id", session.account)
        size: Any = data.get("size")
        problem = None
        if account not in self.book.names:
            problem = f"Unknown account: {account}"
        elif data.get("side") not in ("buy", "sell"):
            problem = "side must be buy or sell"
        elif isinstance(size, bool) or not isinstance(size, (int, float)) or size <= 0:
            problem = "size must be a number > 0"
        elif not isinstance(data.get("symbol"), str) or not data["symbol"]:
            problem = "symbol is required"
        if problem is not None:
            await to.error("invalid_order", problem)
            return
        order = self.book.new_order(
            account,
            str(data.get("order_type", "market")),
            symbol=data["symbol"],
            side=data["side"],
            size=float(size),
            price=data.get("price"),
        )
        self.orders.append(order)
        # The document: "The response is pushed as a trade_update event on the trades
        # channel" -- an event, so strict sends it without the request id.
        await to.send("trade_update", order, echo=self._policy.lenient)
        self._keep(asyncio.get_running_loop().create_task(self._fill_later(order)))

    async def _fill_later(self, order: dict[str, Any]) -> None:
        await asyncio.sleep(self.fill_delay)
        filled = self.book.fill(order)
        for session in list(self._open.values()):
            if "trades" in session.channels and session.account == order["account_id"]:
                with contextlib.suppress(ConnectionClosed):
                    await self._send(session, "trade_update", filled)

    # -- broadcasts --------------------------------------------------------------------------

    async def _emit(self, session: _Session) -> None:
        rng = self._rng
        while True:
            await asyncio.sleep(1.0 / self.rate)
            channels = [c for c in session.channels if c != "asset_curve"]
            if not channels:
                continue
            channel = rng.choice(channels)
            account = session.account
            if channel == "trades":
                order = self.book.new_order(account)
                update = self.book.fill(order) if rng.random() < 0.6 else order
                await self._send(session, "trade_update", update)
            elif channel == "positions":
                await self._send(session, "position_update", self.book.move_position(account))
            else:
                await self._send(session, "model_chat_update", session.chat.next_chunk(account))

    async def _emit_curve(self, session: _Session) -> None:
        while True:
            await asyncio.sleep(self.asset_curve_interval)
            if "asset_curve" in session.channels:
                update = self.book.curve_update(session.account)
                await self._send(session, "asset_curve_update", update)

    async def _send(self, session: _Session, kind: str, data: Any, rid: str | None = None) -> None:
        await self._send_text(session, kind, message(kind, data, rid))

    async def _send_text(self, session: _Session, kind: str, text: str) -> None:
        await session.ws.send(text)
        self.sent.append((session.number, kind))

    async def _error(self, session: _Session, rid: str | None, code: str, text: str) -> None:
        await self._send(session, "error", {"code": code, "message": text}, rid)

    def _drop_all(self) -> None:
        for session in list(self._open.values()):
            session.ws.transport.abort()

    def _close_all(self, code: int, reason: str) -> None:
        for number, session in list(self._open.items()):
            self.closes.append((number, code, reason))
            self._keep(asyncio.get_running_loop().create_task(session.ws.close(code, reason)))


class _Replies:
    """The replies to one client request: they echo its ``request_id``, unless unanswered.

    ``answer`` False (its type is ``unanswered``) drops every reply, errors included.
    """

    __slots__ = ("_answer", "_rid", "_server", "_session")

    def __init__(
        self, server: HyperoruSimulator, session: _Session, rid: str | None, answer: bool
    ) -> None:
        self._server, self._session, self._rid, self._answer = server, session, rid, answer

    async def send(self, kind: str, data: Any, *, echo: bool = True) -> None:
        """Send a reply; ``echo=False`` leaves the request id out (a pushed event)."""
        if self._answer:
            await self._server._send(self._session, kind, data, self._rid if echo else None)

    async def error(self, code: str, text: str) -> None:
        """An ``error {code, message}`` echoing the request id."""
        await self.send("error", {"code": code, "message": text})

    async def pong(self, *, lenient: bool) -> None:
        """Strict: exactly ``{"type": "pong"}``, the document's example; lenient: with
        ``data: {}`` and the ping's request id."""
        if not self._answer:
            return
        if lenient:
            await self.send("pong", {})
        else:
            await self._server._send_text(self._session, "pong", _STRICT_PONG)


_STRICT_PONG = orjson.dumps({"type": "pong"}).decode()
