"""A seed-only "Hyperoru" account stream server (document 004_e31ad29d993e3526.txt, plus NOTES.md).

Where each thing comes from (``004:N`` is line N of the seed):

- ``/ws?session_token=...`` (004:53-54). A missing or invalid token: "The server closes the
  connection immediately" (004:54); the code is not documented, so ``refusal`` picks how:
  ``"1000"`` (a plain close, the default), ``"1008"``, or ``"abort"`` (no close frame).
- Every message is a JSON object with ``type``; ``request_id`` from the client is echoed
  back on the reply (004:6-11); ``data`` is the payload.
- ``subscribe {"channels": [...]}`` (004:13-21; the data shape from NOTES): additive, **no
  reply** (none is documented). Channels ``trades``, ``positions``, ``model_chat``,
  ``asset_curve`` (004:17-21).
- ``bootstrap`` -> one ``bootstrap`` message ``{accounts: [{id, name}], positions: [],
  active_orders: []}`` with the request's ``request_id`` (004:22-25, NOTES).
- ``switch_account {account_id}`` (004:25-27, NOTES): later broadcasts are about that
  account; **no reply**.
- ``get_snapshot {account_id}`` -> ``snapshot {equity, positions: [{symbol, side, size,
  unrealized_pnl}]}`` (004:28-30, NOTES), ``request_id`` echoed.
- ``get_asset_curve {account_id, timeframe}`` (004:31-34, NOTES); the reply is not shown
  anywhere, so it is what the client's docstring reads: type ``asset_curve``, ``{account_id,
  timeframe, points: [{ts, equity, pnl}]}``, ``request_id`` echoed.
- ``place_order`` -> "The response is pushed as a trade_update event on the trades
  channel" (004:34-37): a broadcast, so **without** ``request_id``; status ``accepted``.
- ``ping`` -> exactly ``{"type": "pong"}`` (004:38-40).
- Broadcasts on subscribed channels, about the connection's account, ``rate`` per second:
  ``trade_update``, ``position_update``, ``model_chat_update``, ``asset_curve_update``
  (004:41-48). Their payloads are undocumented (NOTES); the shapes are the ones the client's
  docstring describes (``ts`` in ms), plus ``seq``.
- ``error`` (004:49-50) "when a client message fails to parse or the server cannot fulfil the
  request": ``{"type": "error", "request_id", "data": {"code", "message"}}`` (the shape the
  client's docstring reads), for a channel in ``refuse_channels`` or an unknown account.

Hostile options: ``drop_after_pong=N`` drops the first N connections right after answering
their first ping; ``silent`` (settable at any time) makes the server answer and send nothing,
and :meth:`hang_open_connections` does that to the sockets open now only (a half-open
socket); ``echo_token_in_errors`` quotes the session token in errors and close reasons.
"""

from __future__ import annotations

import asyncio
import itertools
import json
from typing import Any

from websockets.asyncio.server import ServerConnection

from .base import Conn, WsServer, now_ms, send_frame

__all__ = ["CHANNELS", "HyperoruServer"]

CHANNELS = ("trades", "positions", "model_chat", "asset_curve")  # 004:17-21
BROADCAST = {
    "trades": "trade_update",
    "positions": "position_update",
    "model_chat": "model_chat_update",
    "asset_curve": "asset_curve_update",
}


class HyperoruServer(WsServer):
    def __init__(
        self,
        *,
        tokens: tuple[str, ...] = ("hyo_session_seed_token",),
        accounts: tuple[tuple[str, str], ...] = (
            ("acct_1", "Alpha"),
            ("acct_2", "Beta"),
            ("acct_3", "Gamma"),
        ),
        rate: float | None = 20.0,
        refusal: str = "1000",
        refuse_channels: dict[str, str] | None = None,
        drop_after_pong: int = 0,
        echo_token_in_errors: bool = False,
    ) -> None:
        super().__init__()
        self.tokens = set(tokens)
        self.accounts = [{"id": i, "name": n} for i, n in accounts]
        self.rate = rate
        self.refusal = refusal
        self.refuse_channels = dict(refuse_channels or {})
        self.drop_after_pong = drop_after_pong
        self.echo = echo_token_in_errors
        self.seq = 0
        self._orders = itertools.count(1)
        self.sent: list[dict[str, Any]] = []  # broadcasts sent
        self.silent = False  # True: record what arrives, answer and send nothing (a hung server)

    def url(self, path: str = "/ws") -> str:
        return super().url(path)

    def account_ids(self) -> list[str]:
        return [a["id"] for a in self.accounts]

    # --- session -------------------------------------------------------------------------

    async def session(self, ws: ServerConnection, conn: Conn) -> None:
        token = conn.query.get("session_token")
        if token not in self.tokens:  # 004:54 "closes the connection immediately"
            reason = f"invalid session token {token}" if self.echo else ""
            if self.refusal == "abort":
                ws.transport.abort()
            elif self.refusal == "1008":
                await ws.close(1008, reason)
            else:
                await ws.close(1000, reason)
            return
        conn.state.update(subs=[], account=self.accounts[0]["id"], token=token, pongs=0)
        pump = asyncio.ensure_future(self._pump(ws, conn)) if self.rate else None
        try:
            async for message in ws:
                try:
                    msg = json.loads(message)
                except ValueError:
                    msg = None
                conn.received.append(msg if msg is not None else message)
                if self.silent or conn.state.get("silent"):
                    continue
                if not isinstance(msg, dict) or not isinstance(msg.get("type"), str):
                    await send_frame(
                        ws,
                        {
                            "type": "error",
                            "data": {  # 004:49-50
                                "code": "bad_request",
                                "message": "message could not be parsed",
                            },
                        },
                    )
                    continue
                await self._command(ws, conn, msg)
        finally:
            if pump is not None:
                pump.cancel()

    def _reply(self, kind: str, msg: dict[str, Any], data: Any) -> dict[str, Any]:
        out: dict[str, Any] = {"type": kind}
        if "request_id" in msg:  # 004:10 "Echoed back by the server"
            out["request_id"] = msg["request_id"]
        out["data"] = data
        return out

    async def _error(self, ws: ServerConnection, msg: dict[str, Any], code: str, text: str) -> None:
        await send_frame(ws, self._reply("error", msg, {"code": code, "message": text}))

    async def _command(self, ws: ServerConnection, conn: Conn, msg: dict[str, Any]) -> None:
        kind = msg["type"]
        data = msg.get("data") if isinstance(msg.get("data"), dict) else {}
        if kind == "ping":  # 004:38-40: exactly {"type": "pong"}
            await send_frame(ws, {"type": "pong"})
            conn.state["pongs"] += 1
            if conn.state["pongs"] == 1 and conn.index < self.drop_after_pong:
                ws.transport.abort()
        elif kind == "subscribe":  # 004:13-21: additive, no reply
            for ch in data.get("channels") or []:
                if ch in self.refuse_channels:
                    text = self.refuse_channels[ch]
                    if self.echo:
                        text += f" (session {conn.state['token']})"
                    await self._error(ws, msg, "forbidden", text)
                elif ch in CHANNELS and ch not in conn.state["subs"]:
                    conn.state["subs"].append(ch)
        elif kind == "bootstrap":  # 004:22-25, NOTES
            await send_frame(
                ws,
                self._reply(
                    "bootstrap",
                    msg,
                    {"accounts": list(self.accounts), "positions": [], "active_orders": []},
                ),
            )
        elif kind == "switch_account":  # 004:25-27: no reply
            account = data.get("account_id")
            if account in self.account_ids():
                conn.state["account"] = account
            else:
                await self._error(ws, msg, "not_found", f"unknown account {account}")
        elif kind == "get_snapshot":  # 004:28-30, NOTES
            account = data.get("account_id")
            if account not in self.account_ids():
                await self._error(ws, msg, "not_found", f"unknown account {account}")
                return
            await send_frame(
                ws,
                self._reply(
                    "snapshot",
                    msg,
                    {
                        "equity": 10000.0 + self.account_ids().index(account),
                        "positions": [
                            {"symbol": "BTC", "side": "long", "size": 0.5, "unrealized_pnl": 12.5}
                        ],
                    },
                ),
            )
        elif kind == "get_asset_curve":  # 004:31-34; reply shape from the client docstring
            await send_frame(
                ws,
                self._reply(
                    "asset_curve",
                    msg,
                    {
                        "account_id": data.get("account_id"),
                        "timeframe": data.get("timeframe"),
                        "points": [
                            {"ts": now_ms() - 60000 * i, "equity": 10000.0 + i, "pnl": float(i)}
                            for i in range(5)
                        ],
                    },
                ),
            )
        elif kind == "place_order":  # 004:34-37: a trade_update on trades, no request_id
            self.seq += 1
            await send_frame(
                ws,
                {
                    "type": "trade_update",
                    "data": {
                        "order_id": f"ord_{next(self._orders):06d}",
                        "account_id": data.get("account_id"),
                        "symbol": data.get("symbol"),
                        "side": data.get("side"),
                        "order_type": data.get("order_type", "market"),
                        "status": "accepted",
                        "size": data.get("size"),
                        "filled_size": 0.0,
                        "price": data.get("price"),
                        "fee": 0.0,
                        "ts": now_ms(),
                        "seq": self.seq,
                    },
                },
            )
        else:
            await self._error(ws, msg, "unknown_type", f"unknown message type {kind}")

    def broadcast(self, channel: str, account: str) -> dict[str, Any]:
        self.seq += 1
        t = now_ms()
        n = self.seq
        if channel == "trades":
            data: dict[str, Any] = {
                "order_id": f"ord_b{n}",
                "account_id": account,
                "symbol": "ETH",
                "side": "buy",
                "order_type": "market",
                "status": "filled",
                "size": 1.0,
                "filled_size": 1.0,
                "price": 3000.0,
                "fee": 0.3,
            }
        elif channel == "positions":
            data = {
                "account_id": account,
                "symbol": "ETH",
                "side": "long",
                "size": 1.0,
                "entry_price": 3000.0,
                "mark_price": 3001.0,
                "unrealized_pnl": 1.0,
                "status": "updated",
            }
        elif channel == "model_chat":
            data = {
                "decision_id": f"d{n // 3}",
                "account_id": account,
                "model": "seed",
                "seq": n % 3,
                "chunk": f"thinking {n} ",
                "done": n % 3 == 2,
            }
        else:
            data = {
                "account_id": account,
                "equity": 10000.0 + n,
                "daily_pnl": 1.0,
                "daily_pnl_pct": 0.01,
            }
        data["ts"] = t
        data["n"] = n
        return {"type": BROADCAST[channel], "data": data}

    async def _pump(self, ws: ServerConnection, conn: Conn) -> None:
        assert self.rate
        i = 0
        while True:
            await asyncio.sleep(1 / self.rate)
            subs = conn.state["subs"]
            if not subs or self.silent or conn.state.get("silent"):
                continue
            message = self.broadcast(subs[i % len(subs)], conn.state["account"])
            await send_frame(ws, message)
            self.sent.append(message)
            i += 1
