"""A local WebSocket server that speaks the Hydra v1 API-key stream.

Payloads are built in :mod:`streamwidgets.simulators.hydra_v1_protocol`; this module runs
the connections: the key check (``?apiKey=`` or ``x-api-key``), the per-address connection
limit (HTTP 429 on the upgrade), ``connected``, the snapshot in the documented order
(skipped with ``snapshot=false``), live events of the key's scopes only, and protocol
pings every ``ping_interval`` seconds, which :meth:`~HydraV1Simulator.stop_pings` stops.

A bad key is closed with 1008 after an ``error`` message, as the document says, or, with
``answer_bad_key="http401"``, refused with HTTP 401 before the upgrade, as a public server
implementation does.

Profiles (:mod:`streamwidgets.simulators.profiles`)
    ``strict`` (default) and ``lenient`` are identical: the document leaves nothing to
    add. Everything this server sends is shown by the Hydra v1 document (seed ``001``)
    or NOTES.md: the ``error`` message and close 1008 for a bad key (or, by option, the
    HTTP 401 that NOTES.md reports), HTTP 429 over the per-address limit, ``connected
    {scopes, ts}``, the snapshot in the NOTES.md order (aircraft, vessel, signal, alert,
    x_post, market_correlation, chat_history, online_count; none with
    ``snapshot=false``), live events of the key's scopes only, and protocol pings. The
    stream has no client commands, so there is nothing to reply to, and no
    ``unanswered`` option. ``profile`` is accepted so that every simulator takes it.

Example:
    >>> async def demo():
    ...     async with HydraV1Simulator(rate=20) as sim:
    ...         ...  # connect feeds.hydra_v1(sim.url, api_key=sim.api_key)
"""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import logging
import re
from collections import deque
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Literal
from urllib.parse import parse_qs, urlsplit

from websockets.asyncio.server import ServerConnection
from websockets.exceptions import ConnectionClosed
from websockets.http11 import Request, Response

from streamwidgets._util.secret import redact_url
from streamwidgets.simulators.hydra_v1_protocol import (
    CLOSE_UNAUTHORIZED,
    HYDRA_V1_SCOPES,
    frame,
    generate_key,
    live_message,
    now_ms,
    snapshot_messages,
)
from streamwidgets.simulators.profiles import Profile, check_profile
from streamwidgets.simulators.server import LoopbackServer
from streamwidgets.simulators.synthetic import SyntheticWorld

__all__ = ["HYDRA_V1_SCOPES", "HydraV1Simulator", "SeenConnection"]

logger = logging.getLogger(__name__)

_HEADER_KEY = re.compile(r"(?i)(x-api-key:\s*)\S+")


class _RedactKeys(logging.Filter):
    """Mask API keys in the server's wire log: request lines and headers carry them."""

    def filter(self, record: logging.LogRecord) -> bool:
        message = record.getMessage()
        masked = _HEADER_KEY.sub(r"\1***", redact_url(message))
        if masked != message:
            record.msg, record.args = masked, None
        return True


_wire = logging.getLogger(f"{__name__}.websockets")
_wire.addFilter(_RedactKeys())


@dataclass
class SeenConnection:
    """One upgrade request the simulator saw, and what it made of it.

    ``key_in`` is ``"header"``, ``"query"`` or None (no key); ``outcome`` is one of
    ``"accepted"``, ``"http401"``, ``"http429"``, ``"closed 1008"``, ``"not found"``.
    """

    number: int
    address: str
    path: str
    key_in: str | None
    outcome: str
    snapshot: bool = True


class HydraV1Simulator(LoopbackServer):
    """A Hydra v1 stream server on the loopback interface, for tests, demos and notebooks.

    Args:
        host: interface to bind.
        port: TCP port; 0 picks a free one (read it back from :attr:`port`).
        api_keys: key -> its scopes. None: one generated key with every scope
            (:attr:`api_key`).
        rate: live messages per second per connection (> 0).
        seed: seeds the synthetic world.
        ping_interval: seconds between protocol pings (15 in production).
        max_connections_per_ip: open connections allowed from one address.
        answer_bad_key: ``"close"`` (1008 after the upgrade) or ``"http401"``.
        snapshot_size: items per kind in the snapshot.
        online_count: what ``online_count`` reports.
        profile: ``"strict"`` or ``"lenient"``; the same here (see the module docstring).

    Example:
        >>> sim = HydraV1Simulator(api_keys={"hydra_k1_test": ["aircraft"]})
        >>> sim.api_key, sim.path
        ('hydra_k1_test', '/v1/stream')
    """

    label = "Hydra v1 simulator"
    path = "/v1/stream"

    def __init__(
        self,
        *,
        host: str = "127.0.0.1",
        port: int = 0,
        api_keys: Mapping[str, Sequence[str]] | None = None,
        # Emission
        rate: float = 20.0,
        seed: int = 0,
        ping_interval: float = 15.0,
        snapshot_size: int = 5,
        online_count: int = 42,
        # Limits
        max_connections_per_ip: int = 10,
        answer_bad_key: Literal["close", "http401"] = "close",
        # Replies: both profiles send the same here
        profile: Profile = "strict",
    ) -> None:
        self.profile = check_profile(profile)
        if api_keys is None:
            api_keys = {generate_key(): HYDRA_V1_SCOPES}
        if not api_keys:
            raise ValueError("api_keys must hold at least one key")
        for key, scopes in api_keys.items():
            unknown = [s for s in scopes if s not in HYDRA_V1_SCOPES]
            if not key or unknown or isinstance(scopes, str):
                raise ValueError(f"bad scopes {list(scopes)!r}; known: {list(HYDRA_V1_SCOPES)}")
        if not rate > 0 or not ping_interval > 0:
            raise ValueError("rate and ping_interval must be > 0")
        if answer_bad_key not in ("close", "http401"):
            raise ValueError("answer_bad_key must be 'close' or 'http401'")
        if max_connections_per_ip < 1 or not 0 <= snapshot_size <= 1000:
            raise ValueError("max_connections_per_ip >= 1 and 0 <= snapshot_size <= 1000")
        super().__init__(host=host, port=port)
        self.api_keys = {k: tuple(dict.fromkeys(v)) for k, v in api_keys.items()}
        self.rate = float(rate)
        self.ping_interval = float(ping_interval)
        self.snapshot_size = snapshot_size
        self.online_count = online_count
        self.max_connections_per_ip = max_connections_per_ip
        self.answer_bad_key = answer_bad_key

        #: (connection number, message type) of every message sent, in order.
        self.sent: deque[tuple[int, str]] = deque(maxlen=100_000)
        #: every upgrade request seen, in order.
        self.connections: deque[SeenConnection] = deque(maxlen=10_000)
        #: (connection number, close code, reason) of every close the server made.
        self.closes: list[tuple[int, int, str]] = []
        #: protocol pings sent, all connections together.
        self.pings_sent = 0
        self.connections_open = 0

        self._world = SyntheticWorld(seed)
        self._ids = itertools.count(1)
        self._numbers = itertools.count(1)
        self._pinging = True
        self._open_by_ip: dict[str, int] = {}
        self._open: dict[int, ServerConnection] = {}
        self._seen: dict[int, tuple[SeenConnection, str | None]] = {}

    @property
    def api_key(self) -> str:
        """The first (by default the only) key this simulator accepts."""
        return next(iter(self.api_keys))

    def stop_pings(self) -> None:
        """Stop sending protocol pings on every connection (open and future) until resumed.

        Example:
            >>> sim = HydraV1Simulator(); sim.stop_pings(); sim.pinging
            False
        """
        self._pinging = False

    def resume_pings(self) -> None:
        """Send protocol pings again after :meth:`stop_pings`."""
        self._pinging = True

    @property
    def pinging(self) -> bool:
        """True while protocol pings are being sent."""
        return self._pinging

    def close_connections(self, code: int = 1001, reason: str = "Server going away") -> None:
        """Close every open connection with ``code`` (1000 normal, 1001 maintenance, ...).

        Example:
            >>> HydraV1Simulator().close_connections(1000)  # none open: nothing happens
        """
        self._dispatch(self._close_all, code, reason)

    def _close_all(self, code: int, reason: str) -> None:
        for number, ws in list(self._open.items()):
            self.closes.append((number, code, reason))
            self._keep(asyncio.get_running_loop().create_task(ws.close(code, reason)))

    def sent_to(self, number: int) -> list[str]:
        """The message types sent to connection ``number``, in order."""
        return [kind for n, kind in self.sent if n == number]

    # -- connection handling -----------------------------------------------------------------

    def _next_id(self) -> str:
        return f"h1-{next(self._ids):08d}"

    def _process_request(self, connection: ServerConnection, request: Request) -> Response | None:
        number = next(self._numbers)
        parts = urlsplit(request.path)
        query = parse_qs(parts.query)
        header_key = request.headers.get("x-api-key")
        query_key = query.get("apiKey", [None])[0]
        seen = SeenConnection(
            number,
            str(connection.remote_address[0]) if connection.remote_address else "",
            redact_url(request.path),
            "header" if header_key else "query" if query_key else None,
            "accepted",
            snapshot=query.get("snapshot", ["true"])[0].lower() != "false",
        )
        self.connections.append(seen)
        if parts.path != self.path:
            seen.outcome = "not found"
            return connection.respond(404, "Not Found\n")
        if self._open_by_ip.get(seen.address, 0) >= self.max_connections_per_ip:
            seen.outcome = "http429"
            return connection.respond(429, "Too Many Connections\n")
        key = header_key or query_key
        if key not in self.api_keys and self.answer_bad_key == "http401":
            seen.outcome = "http401"
            return connection.respond(401, "Unauthorized\n")
        # The handler finds its request's record and key through the connection object.
        self._seen[id(connection)] = (seen, key)
        if len(self._seen) > 1000:  # handshakes that failed after this point leave entries
            del self._seen[next(iter(self._seen))]
        return None

    async def _handle(self, ws: ServerConnection) -> None:
        seen, key = self._seen.pop(id(ws), (None, None))
        if seen is None:
            return
        self.connections_open += 1
        self._open_by_ip[seen.address] = self._open_by_ip.get(seen.address, 0) + 1
        pinger: asyncio.Task[None] | None = None
        try:
            scopes = self.api_keys.get(key or "")
            if scopes is None:
                seen.outcome = "closed 1008"
                await self._send(seen.number, ws, "error", {"message": CLOSE_UNAUTHORIZED[1]})
                self.closes.append((seen.number, *CLOSE_UNAUTHORIZED))
                await ws.close(*CLOSE_UNAUTHORIZED)
                return
            self._open[seen.number] = ws
            pinger = asyncio.create_task(self._ping(ws))
            await self._send(seen.number, ws, "connected", {"scopes": list(scopes), "ts": now_ms()})
            if seen.snapshot:
                for kind, data in snapshot_messages(
                    self._world, scopes, self.snapshot_size, self.online_count, self._next_id
                ):
                    await self._send(seen.number, ws, kind, data)
            await self._emit(seen.number, ws, scopes)
        except ConnectionClosed:
            pass
        finally:
            if pinger is not None:
                pinger.cancel()
                with contextlib.suppress(asyncio.CancelledError):
                    await pinger
            self._open.pop(seen.number, None)
            self.connections_open -= 1
            self._open_by_ip[seen.address] -= 1
            logger.debug("connection %d finished", seen.number)

    async def _send(self, number: int, ws: ServerConnection, kind: str, data: Any) -> None:
        await ws.send(frame(kind, data))
        self.sent.append((number, kind))

    async def _emit(self, number: int, ws: ServerConnection, scopes: tuple[str, ...]) -> None:
        if not scopes:
            await ws.wait_closed()
            return
        # Wait on the close rather than sleep: at a low rate, a sleeping handler would hold
        # up stop() until its next message.
        closed = asyncio.ensure_future(ws.wait_closed())
        try:
            while True:
                done, _ = await asyncio.wait({closed}, timeout=1.0 / self.rate)
                if done:
                    return
                message = live_message(self._world, scopes, now_ms(), self._next_id)
                if message is not None:
                    await self._send(number, ws, *message)
        finally:
            closed.cancel()

    async def _ping(self, ws: ServerConnection) -> None:
        while True:
            await asyncio.sleep(self.ping_interval)
            if self._pinging:
                with contextlib.suppress(ConnectionClosed):
                    # No wait for the pong: the document only promises the pings.
                    await ws.ping()
                    self.pings_sent += 1
