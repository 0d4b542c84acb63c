"""A seed-only "Axol" channel stream server with its token exchange
(document 003_578fe69de39b6f1b.txt, plus NOTES.md).

Where each thing comes from (``003:N`` is line N of the seed):

- Token exchange (HTTP): ``POST /api/v1/auth/token``, header ``X-API-Key``, body
  ``{"grant_type": "client_credentials"}`` (003:17-20). The answer's shape is not documented;
  NOTES suggests, and the client's ``axol_auth`` docstring reads, an OAuth-style
  ``{"access_token", "token_type", "expires_in"}``. A wrong key gets HTTP 401.
- Stream ``/api/v1/ws/connect?token=JWT`` (003:9-15, 003:23). A token this server did not
  issue (or has since expired) is closed with **1008** "Invalid token" / "Token expired"
  (003:487-492).
- Welcome (003:25-39): ``{"type": "connected", "data": {"connection_id", "message",
  "available_channels": [...]}}``.
- ``{"type": "subscribe", "channels": [...]}`` -> ``{"type": "subscription_result", "data":
  {"subscribed_channels": [...], "message": "Subscribed to N channels"}}`` (003:52-67).
  ``subscribed_channels`` lists the channels of this request that were granted; a channel
  over the tier's limit (003:475-482, ``tier_limit``) or in ``refuse`` is left out (the
  client's docstring reads a left-out channel as refused).
- ``{"type": "unsubscribe", ...}`` (003:69-74): **no reply** (the document shows none).
- ``{"type": "ping", "data": {}}`` (or ``{"type": "ping"}``, 003:439) -> ``{"type": "pong",
  "data": {}}`` (003:76-84).
- ``{"type": "get_info"}`` -> ``connection_info`` (003:86-101).
- Data, ``rate`` per second, on subscribed channels only: ``gas_prices_{chain}`` gets the
  ``gas_update`` of 003:119-132 verbatim (``"channel": "gas_prices_ethereum"``);
  ``gas_prices`` the same message with ``"channel": "gas_prices"``; ``alerts`` gets
  ``{"type": "alert_triggered", "data": {"name", "message"}}`` (003:182-183, 003:358-359,
  no ``channel`` since the examples read none). Each ``data`` carries ``seq``.
- Mempool endpoint ``/api/v1/mempool/{chain}/stream?token=`` (003:138): ``pending_transaction``
  messages shaped as NOTES says, ``channel`` ``mempool_{chain}``, ISO ``timestamp``.

Hostile options: ``drop_after_welcome=N`` drops the first N stream connections (no close
frame) right after their welcome; ``close_1008`` = ``"before_welcome"`` or
``"after_welcome"`` closes every stream connection with 1008 "Token expired" however fresh
its token (a server that refuses every token); ``silent`` (settable at any time) makes the
server answer and send nothing, and :meth:`hang_open_connections` does that to the sockets
open now only (a half-open socket); ``echo_secrets_in_errors`` puts the JWT in close
reasons and the key in the 401 body.
"""

from __future__ import annotations

import asyncio
import itertools
import secrets
from datetime import UTC, datetime
from typing import Any

from websockets.asyncio.server import ServerConnection

from .base import Conn, HttpRequest, HttpServer, RestBackedServer, send_frame

__all__ = ["AxolServer"]

CHANNELS = ["gas_prices", "blockchain_events", "alerts", "system_status"]  # 003:32-37


class AxolServer(RestBackedServer):
    def __init__(
        self,
        *,
        api_key: str = "axol_seed_key_0123456789",
        rate: float | None = 20.0,
        tier_limit: int | None = None,
        refuse: tuple[str, ...] = (),
        close_1008: str | None = None,
        echo_secrets_in_errors: bool = False,
        expires_in: int = 3600,
        drop_after_welcome: int = 0,
    ) -> None:
        super().__init__()
        self.api_key = api_key
        self.rate = rate
        self.tier_limit = tier_limit
        self.refuse = set(refuse)
        self.close_1008 = close_1008
        self.echo = echo_secrets_in_errors
        self.expires_in = expires_in
        self.drop_after_welcome = drop_after_welcome
        self.tokens: list[str] = []  # issued, in order
        self.valid: set[str] = set()
        self.http = HttpServer()
        self.http.routes[("POST", "/api/v1/auth/token")] = self._token
        self.seq = 0
        self._ids = itertools.count(1)
        self.sent: list[dict[str, Any]] = []
        self.silent = False  # True: record what arrives, answer and send nothing (a hung server)

    @property
    def exchanges(self) -> int:
        return self.http.count("POST", "/api/v1/auth/token")

    def url(self, path: str = "/api/v1/ws/connect") -> str:
        return super().url(path)

    @property
    def rest_url(self) -> str:
        return self.http.base_url

    def expire_tokens(self) -> None:
        self.valid.clear()

    # --- REST: 003:17-20 ------------------------------------------------------------------

    async def _token(self, req: HttpRequest) -> tuple[int, Any]:
        if req.headers.get("x-api-key") != self.api_key:
            detail = "Invalid API key"
            if self.echo:
                detail += f": {req.headers.get('x-api-key')}"
            return 401, {"detail": detail}
        token = "eyJhbGciOiJIUzI1NiJ9." + secrets.token_urlsafe(12) + ".sig"
        self.tokens.append(token)
        self.valid.add(token)
        return 200, {"access_token": token, "token_type": "Bearer", "expires_in": self.expires_in}

    # --- stream --------------------------------------------------------------------------

    def reason(self, text: str, token: str | None) -> str:
        return f"{text}: {token}" if self.echo and token else text

    def gas_update(self, channel: str) -> dict[str, Any]:
        """003:119-132 (the channel is the one subscribed)."""
        self.seq += 1
        return {
            "type": "gas_update",
            "data": {
                "chain": "ethereum",
                "gas_data": {"slow": 20, "standard": 25, "fast": 30, "instant": 40, "base_fee": 18},
                "seq": self.seq,
            },
            "channel": channel,
        }

    def alert(self) -> dict[str, Any]:
        """003:182-183, 003:358-359."""
        self.seq += 1
        return {
            "type": "alert_triggered",
            "data": {"name": f"alert-{self.seq}", "message": "gas above 30", "seq": self.seq},
        }

    async def session(self, ws: ServerConnection, conn: Conn) -> None:
        token = conn.query.get("token")
        conn.state["subs"] = []
        if token not in self.valid:
            text = "Token expired" if token in self.tokens else "Invalid token"
            await ws.close(1008, self.reason(text, token))  # 003:490-492
            return
        if self.close_1008 == "before_welcome":
            await ws.close(1008, self.reason("Token expired", token))  # 003:492
            return
        if conn.path.startswith("/api/v1/mempool/"):
            await self._mempool(ws, conn)
            return
        conn.state["id"] = f"conn_{next(self._ids)}"
        conn.state["connected_at"] = datetime.now(UTC).isoformat()
        await send_frame(
            ws,
            {  # 003:27-39
                "type": "connected",
                "data": {
                    "connection_id": conn.state["id"],
                    "message": "Connected to Axol API WebSocket",
                    "available_channels": list(CHANNELS),
                },
            },
        )
        if conn.index < self.drop_after_welcome:
            ws.transport.abort()
            return
        if self.close_1008 == "after_welcome":
            await asyncio.sleep(0.05)
            await ws.close(1008, self.reason("Token expired", token))  # 003:492
            return
        await self.serve_commands(ws, conn)

    def _grantable(self, channel: str) -> bool:
        if channel in self.refuse:
            return False
        return channel in CHANNELS or channel.startswith("gas_prices_")  # 003:45

    async def _command(self, ws: ServerConnection, conn: Conn, msg: dict[str, Any]) -> None:
        kind = msg.get("type")
        if kind == "subscribe":  # 003:52-67
            granted = []
            for ch in msg.get("channels") or []:
                if not isinstance(ch, str) or not self._grantable(ch):
                    continue
                if ch in conn.state["subs"]:
                    granted.append(ch)
                    continue
                if self.tier_limit is not None and len(conn.state["subs"]) >= self.tier_limit:
                    continue
                conn.state["subs"].append(ch)
                granted.append(ch)
            await send_frame(
                ws,
                {
                    "type": "subscription_result",
                    "data": {
                        "subscribed_channels": granted,
                        "message": f"Subscribed to {len(granted)} channels",
                    },
                },
            )
        elif kind == "unsubscribe":  # 003:69-74: no reply shown
            chans = msg.get("channels") or []
            conn.state["subs"] = [c for c in conn.state["subs"] if c not in chans]
        elif kind == "ping":  # 003:76-84
            await send_frame(ws, {"type": "pong", "data": {}})
        elif kind == "get_info":  # 003:86-101
            now = datetime.now(UTC).isoformat()
            await send_frame(
                ws,
                {
                    "type": "connection_info",
                    "data": {
                        "connection_id": conn.state["id"],
                        "user_id": "user_xyz",
                        "channels": list(conn.state["subs"]),
                        "connected_at": conn.state["connected_at"],
                        "last_ping": now,
                        "state": "active",
                    },
                },
            )

    async def _pump(self, ws: ServerConnection, conn: Conn) -> None:
        assert self.rate
        n = 0
        while True:
            await asyncio.sleep(1 / self.rate)
            subs = [c for c in conn.state["subs"] if c.startswith("gas_prices") or c == "alerts"]
            if not subs or self.silent or conn.state.get("silent"):
                continue
            ch = subs[n % len(subs)]
            message = self.alert() if ch == "alerts" else self.gas_update(ch)
            await send_frame(ws, message)
            self.sent.append(message)
            n += 1

    async def _mempool(self, ws: ServerConnection, conn: Conn) -> None:
        """003:138 and NOTES: pending_transaction messages; no welcome is documented."""
        chain = conn.path.split("/")[4]
        pump_rate = self.rate or 20.0

        async def pump() -> None:
            while True:
                await asyncio.sleep(1 / pump_rate)
                self.seq += 1
                message = {
                    "type": "pending_transaction",
                    "data": {
                        "hash": f"0x{self.seq:064x}",
                        "from": "0x" + "1" * 40,
                        "to": "0x" + "2" * 40,
                        "value": "1000000000000000000",
                        "gas_price": "30000000000",
                        "gas_limit": 210000,
                        "nonce": self.seq,
                        "input": "0x",
                        "classification": {
                            "type": "swap",
                            "protocol": "uniswap_v3",
                            "tokens": ["WETH", "USDC"],
                            "amount_in": "1000000000000000000",
                            "amount_out_min": "3000000000",
                        },
                        "mev_potential": {
                            "type": "sandwich",
                            "estimated_profit_usd": 12.5,
                            "confidence": 0.4,
                        },
                        "seq": self.seq,
                    },
                    "timestamp": datetime.now(UTC).isoformat(),
                    "channel": f"mempool_{chain}",
                }
                await send_frame(ws, message)
                self.sent.append(message)

        task = asyncio.ensure_future(pump())
        try:
            async for message in ws:
                msg = self.decode(message)
                conn.received.append(msg)
                if isinstance(msg, dict) and msg.get("type") == "ping":
                    await send_frame(ws, {"type": "pong", "data": {}})  # 003:76-84
        finally:
            task.cancel()
