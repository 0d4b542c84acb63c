"""A seed-only "Hydra v1" API-key stream server (document 001_5fe717d64ffa396f.txt, plus NOTES.md).

Where each thing comes from (``001:N`` is line N of the seed, ``NOTES`` its NOTES section):

- Endpoint ``/v1/stream`` (001:5-6); the key as ``?apiKey=`` or the ``x-api-key`` header
  (001:8-12). ``snapshot=false`` skips the snapshot (001:54-55).
- A missing or wrong key: close **1008** (001:13, 001:65 "Unauthorized — invalid, expired,
  or revoked API key"). With ``http_401=True`` the upgrade is refused with HTTP 401 instead,
  as NOTES says a public implementation does.
- Welcome (001:43-50): ``{"type": "connected", "data": {"scopes": [...], "ts": ms}}``.
- Then the snapshot (001:52-53; order and shapes from NOTES): ``aircraft`` ``{positions:
  [...], count, timestamp}`` and ``signal`` ``{signals: [...]}``, for the scopes that have
  them. No other snapshot type has a documented shape, so none is sent (the client's
  docstring says a snapshot without ``online_count`` still ends).
- Live events, no subscription step (001:51): ``aircraft`` and ``signal`` messages ``{type,
  data}`` (NOTES envelope), ``rate`` per second. Each carries ``seq`` in ``data`` (in each
  position / signal) so a test can count rows.
- Keep-alive: WebSocket protocol pings every ``ping_interval`` s (001:56-57; 15 s in
  production; None: no pings, a server gone silent).

Hostile options: ``drop_after_welcome=N`` drops the first N connections (no close frame)
right after the welcome; ``big_snapshot_bytes`` pads the aircraft snapshot to that many bytes (a
real "last 2 h" of aircraft is large); ``echo_key_in_errors`` puts the key in the 1008 close
reason / the 401 body.
"""

from __future__ import annotations

import asyncio
from typing import Any

from websockets.asyncio.server import ServerConnection
from websockets.http11 import Request

from .base import Conn, WsServer, now_ms, send_frame

__all__ = ["HydraV1Server"]


class HydraV1Server(WsServer):
    def __init__(
        self,
        *,
        api_key: str = "hydra_k1_seedkey0123456789",
        scopes: tuple[str, ...] = ("signals", "aircraft", "alerts", "cyber"),  # 001:47
        ping_interval: float | None = 15.0,
        rate: float | None = 20.0,
        snapshot_positions: int = 3,
        http_401: bool = False,
        echo_key_in_errors: bool = False,
        big_snapshot_bytes: int = 0,
        live_after_welcome: bool = True,
        drop_after_welcome: int = 0,
    ) -> None:
        super().__init__(ping_interval=ping_interval)
        self.api_key = api_key
        self.scopes = list(scopes)
        self.rate = rate
        self.snapshot_positions = snapshot_positions
        self.http_401 = http_401
        self.echo_key_in_errors = echo_key_in_errors
        self.big_snapshot_bytes = big_snapshot_bytes
        self.live_after_welcome = live_after_welcome
        self.drop_after_welcome = drop_after_welcome
        self.seq = 0
        self.sent: list[dict[str, Any]] = []  # every live message sent

    def url(self, path: str = "/v1/stream") -> str:
        return super().url(path)

    def key_of(self, query: dict[str, str], headers: dict[str, str]) -> str | None:
        return headers.get("x-api-key") or query.get("apiKey")  # 001:8-12

    def refuse_http(self, request: Request) -> tuple[int, str] | None:
        if not self.http_401:
            return None
        from urllib.parse import parse_qs, urlsplit

        query = {k: v[-1] for k, v in parse_qs(urlsplit(request.path).query).items()}
        headers = {k.lower(): v for k, v in request.headers.raw_items()}
        if self.key_of(query, headers) != self.api_key:
            body = "Unauthorized"
            if self.echo_key_in_errors:
                body += f": invalid API key {self.key_of(query, headers)}"
            return 401, body  # NOTES: a public implementation answers 401
        return None

    # --- messages (shapes from NOTES) --------------------------------------------------

    def position(self, n: int) -> dict[str, Any]:
        return {
            "icaoHex": f"{n:06x}",
            "callsign": f"SEED{n}",
            "lat": 50.0 + n * 0.001,
            "lng": 8.0,
            "altitudeBaro": 35000,
            "groundSpeed": 450.0,
            "track": 90.0,
            "verticalRate": 0,
            "category": "A3",
            "isMilitary": False,
            "registration": "D-SEED",
            "icaoType": "A320",
            "model": "A320",
            "operator": "Seed Air",
            "squawk": "1000",
            "emergency": None,
            "timestamp": now_ms(),
            "flightId": f"f{n}",
            "country": "Germany",
            "flagCode": "DE",
            "seq": n,
        }

    def aircraft(self, positions: list[dict[str, Any]]) -> dict[str, Any]:
        return {
            "type": "aircraft",
            "data": {"positions": positions, "count": len(positions), "timestamp": now_ms()},
        }

    def signal(self, n: int, category: str = "NAVAL") -> dict[str, Any]:
        return {
            "type": "signal",
            "data": {
                "signals": [
                    {
                        "id": f"sig-{n}",
                        "title": "seed",
                        "category": category,
                        "severity": 3,
                        "seq": n,
                    }
                ]
            },
        }

    # --- session -------------------------------------------------------------------------

    async def session(self, ws: ServerConnection, conn: Conn) -> None:
        if self.key_of(conn.query, conn.headers) != self.api_key:
            reason = "Unauthorized"
            if self.echo_key_in_errors:
                reason += f": invalid API key {self.key_of(conn.query, conn.headers)}"
            await ws.close(1008, reason)  # 001:13, 001:65
            return
        await send_frame(
            ws, {"type": "connected", "data": {"scopes": list(self.scopes), "ts": now_ms()}}
        )  # 001:44-50
        if conn.index < self.drop_after_welcome:
            ws.transport.abort()
            return
        if conn.query.get("snapshot") != "false":  # 001:52-55
            if "aircraft" in self.scopes:
                positions = [self.position(-1 - i) for i in range(self.snapshot_positions)]
                message = self.aircraft(positions)
                if self.big_snapshot_bytes:
                    filler = "x" * 1000
                    per = len(str(self.position(0))) + 1000
                    count = self.big_snapshot_bytes // per + 1
                    message = self.aircraft(
                        [dict(self.position(-1 - i), model=filler) for i in range(count)]
                    )
                await send_frame(ws, message)
            if "signals" in self.scopes:
                await send_frame(
                    ws,
                    {
                        "type": "signal",
                        "data": {
                            "signals": [
                                {
                                    "id": "snap-1",
                                    "title": "snapshot",
                                    "category": "NAVAL",
                                    "severity": 2,
                                }
                            ]
                        },
                    },
                )
        live = self.rate and self.live_after_welcome
        pump = asyncio.ensure_future(self._pump(ws)) if live else None
        try:
            async for message in ws:
                conn.received.append(self.decode(message))  # nothing is documented as input
        finally:
            if pump is not None:
                pump.cancel()

    async def _pump(self, ws: ServerConnection) -> None:
        assert self.rate
        n = 0
        while True:
            await asyncio.sleep(1 / self.rate)
            self.seq += 1
            if n % 2 == 0 and "aircraft" in self.scopes:
                message = self.aircraft([self.position(self.seq)])
            else:
                message = self.signal(self.seq)
            await send_frame(ws, message)
            self.sent.append(message)
            n += 1
