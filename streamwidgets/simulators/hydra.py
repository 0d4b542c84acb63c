"""A local WebSocket server that speaks the Hydra JWT stream protocol, with fault injection.

The protocol follows the Hydra document (seed ``000``) and the further public facts in
``NOTES.md``. Where both are silent, the choices below are the simulator's own:

Handshake
    * Only the path ``/stream`` upgrades; any other path gets HTTP 404. With
      ``max_connections`` set, an upgrade beyond it gets HTTP 503.
    * The JWT comes in ``?token=``. It must be HS256-signed with the simulator's secret and
      carry ``sub``, ``exp`` (not past) and ``streams`` (a list of strings). A missing,
      malformed, badly signed or expired token is accepted at the HTTP level and then
      closed with **4001** "Invalid or expired JWT" before any message, because the
      document lists 4001 as a WebSocket close code, not as an HTTP status.
    * ``balance`` <= 0 closes with **4002** "Insufficient token balance" *instead of*
      ``connected``: every credential refusal happens before the greeting. A token
      without ``balance`` is not metered.
    * The scope is the token's ``streams`` that this simulator offers, in token order.
      The first message is ``{"type": "connected", "ts", "data": {"sessionId": "sess-…",
      "address": sub, "availableStreams": scope, "serverTime"}}``.

Commands (JSON text from the client; every message counts towards the rate limit)
    * ``subscribe {streams}``: ``"*"`` means the whole scope. The reply ``subscribed``
      lists in ``subscribed`` every requested stream now active (new or already active),
      in ``rejected`` the others with ``rejectedReason[stream] = "Stream not in token
      scope"`` (unknown names included), and ``active``. When *every* requested stream is
      rejected (``"*"`` with an empty scope included) the server closes with **4004**
      "Subscription not in JWT scope" instead.
    * ``unsubscribe {streams}``: ``"*"`` means every active stream; ``unsubscribed`` lists
      the streams that were active and no longer are; names not active are ignored.
    * ``list`` → ``subscriptions {active, available}``; ``ping`` → ``pong`` (data null).
    * Anything else (not JSON, binary, not an object, no or unknown ``action``,
      ``streams`` missing, empty or not a list of strings) → ``{"type": "error", "ts",
      "data": {"message"}}``; the connection stays open.
    * More than ``max_commands_per_second`` messages within one second closes with
      **4003** "Rate limit exceeded".
    * ``active`` lists are in scope order. Every reply carries ``ts`` (milliseconds).

Server messages
    * ``heartbeat`` every ``heartbeat_interval`` seconds, from connect on.
    * Events ``{"stream", "type", "ts", "data"}`` only for active streams, round robin
      across them, ``rate`` per second per connection (0 = as fast as the socket takes
      them, yielding every 64 events), at most ``limit`` per connection. Each ``data``
      starts with ``id`` (``"<prefix>-<seq:09d>"``, e.g. ``"sig-000000123"``) and ``seq``
      (an int): both are unique and increasing across the whole server, so gaps and
      duplicates across reconnects are visible. Payloads come from one shared
      :class:`~streamwidgets.simulators.synthetic.SyntheticWorld`: deterministic given
      ``seed`` for one connection (timestamps aside).
    * WebSocket compression is off and the server sends no protocol pings: a silenced
      server is then truly silent (the library still answers the client's pings).

Faults
    Construction options (``drop_after``, ``silent_after``, ``close_after``,
    ``malformed_every``, ``huge_frame_after``) apply to *every* connection, counted in
    events since its start. The runtime calls (:meth:`~HydraSimulator.drop_after`,
    :meth:`~HydraSimulator.send_malformed`, :meth:`~HydraSimulator.close_with`,
    :meth:`~HydraSimulator.send_huge_frame`) are one-shot: they apply to every connection
    open now (``drop_after(n)`` counts n events from now) or, if none is open, to the
    next connection (after its ``connected``). :meth:`~HydraSimulator.go_silent` is
    simulator-wide until :meth:`~HydraSimulator.resume`: open connections and new ones
    get nothing, not even ``connected`` or command replies (those are dropped, not
    delayed). Malformed and huge frames go out between events, so only while the
    connection has active streams. A drop flushes the events already sent to the socket,
    then aborts the TCP connection with no close frame; it is recorded in
    :attr:`~HydraSimulator.closes` as code 1006.

Example:
    >>> async def demo():
    ...     async with HydraSimulator(rate=100) as sim:
    ...         url = f"{sim.url}?token={sim.issue_token(streams=['signals'])}"
    ...         ...  # connect a client to url
"""

from __future__ import annotations

import asyncio
import logging
import os
import socket
import threading
import time
from collections import deque
from collections.abc import Callable, Iterable, Sequence
from typing import Any
from urllib.parse import parse_qs, urlsplit

import orjson
from websockets.asyncio.server import Server, ServerConnection, serve
from websockets.exceptions import ConnectionClosed
from websockets.http11 import Request, Response

from streamwidgets.secret import redact_url
from streamwidgets.simulators.synthetic import SyntheticWorld
from streamwidgets.simulators.tokens import InvalidToken, issue_token, verify_token

__all__ = ["ALL_STREAMS", "EVENT_TYPES", "MALFORMED_KINDS", "HydraSimulator"]

logger = logging.getLogger(__name__)

EVENT_TYPES: dict[str, tuple[str, ...]] = {
    "aircraft": ("position_update", "pattern_detected"),
    "vessels": ("position_update", "status_change"),
    "alerts": ("alert_issued", "alert_cleared"),
    "cyber": ("threat_pulse",),
    "airspace": ("restriction_active", "restriction_expired"),
    "signals": ("signal_new",),
    "markets": ("market_update", "price_spike"),
    "social": ("osint_signal",),
    "earthquakes": ("seismic_event",),
}
ALL_STREAMS: tuple[str, ...] = tuple(EVENT_TYPES)
MALFORMED_KINDS: tuple[str, ...] = (
    "not_json",
    "binary",
    "non_object",
    "unknown_type",
    "missing_fields",
)

CLOSE_INVALID_JWT = (4001, "Invalid or expired JWT")
CLOSE_BALANCE = (4002, "Insufficient token balance")
CLOSE_RATE_LIMIT = (4003, "Rate limit exceeded")
CLOSE_SCOPE = (4004, "Subscription not in JWT scope")
OUT_OF_SCOPE = "Stream not in token scope"

_ID_PREFIX = {
    "aircraft": "ac",
    "vessels": "vs",
    "alerts": "al",
    "cyber": "cy",
    "airspace": "as",
    "signals": "sig",
    "markets": "mk",
    "social": "osint",
    "earthquakes": "eq",
}
_BATCH = 64  # events between two yields to the loop when rate=0
_NEVER = 1 << 62
_Generator = Callable[[int], tuple[str, dict[str, Any]]]


class _RedactTokens(logging.Filter):
    """Mask ``token=`` values in the server's wire log: request lines carry the JWT."""

    def filter(self, record: logging.LogRecord) -> bool:
        message = record.getMessage()
        if "token=" in message:
            record.msg, record.args = redact_url(message), None
        return True


def _wire_logger() -> logging.Logger:
    wire = logging.getLogger(f"{__name__}.websockets")
    if not any(isinstance(f, _RedactTokens) for f in wire.filters):
        wire.addFilter(_RedactTokens())
    return wire


def _now_ms() -> int:
    return time.time_ns() // 1_000_000


def _generators(world: SyntheticWorld) -> dict[str, _Generator]:
    rng = world.rng

    def aircraft(now: int) -> tuple[str, dict[str, Any]]:
        if rng.random() < 0.04:
            return "pattern_detected", world.aircraft_pattern(now)
        return "position_update", world.aircraft_position(now)

    def vessels(now: int) -> tuple[str, dict[str, Any]]:
        if rng.random() < 0.08:
            return "status_change", world.vessel_status(now)
        return "position_update", world.vessel_position(now)

    def alerts(now: int) -> tuple[str, dict[str, Any]]:
        kind, data = world.alert(now)
        return f"alert_{kind}", data

    def airspace(now: int) -> tuple[str, dict[str, Any]]:
        kind, data = world.restriction(now)
        return f"restriction_{kind}", data

    def markets(now: int) -> tuple[str, dict[str, Any]]:
        if rng.random() < 0.03:
            return "price_spike", world.price_spike(now)
        return "market_update", world.market_update(now)

    return {
        "aircraft": aircraft,
        "vessels": vessels,
        "alerts": alerts,
        "cyber": lambda now: ("threat_pulse", world.threat_pulse(now)),
        "airspace": airspace,
        "signals": lambda now: ("signal_new", world.signal(now)),
        "markets": markets,
        "social": lambda now: ("osint_signal", world.osint_post(now)),
        "earthquakes": lambda now: ("seismic_event", world.seismic_event(now)),
    }


class _Session:
    """State of one accepted, authenticated connection."""

    def __init__(self, number: int, ws: ServerConnection, address: str, scope: tuple[str, ...]):
        self.number = number
        self.ws = ws
        self.address = address
        self.scope = scope
        self.active: list[str] = []
        self.active_changed = asyncio.Event()
        self.commands: deque[float] = deque()
        self.events_sent = 0
        self.rr = 0
        self.silent = False
        self.closing = False
        # Fault points, in events since the connection started.
        self.drop_at: int | None = None
        self.silent_at: int | None = None
        self.close_at: int | None = None
        self.huge_at: int | None = None
        self.next_malformed: int | None = None
        self.malformed_pending: list[str] = []
        self.huge_pending: list[int] = []
        self.checkpoint = _NEVER

    def recompute(self) -> None:
        points = [self.drop_at, self.silent_at, self.close_at, self.huge_at, self.next_malformed]
        due = [p for p in points if p is not None]
        if self.malformed_pending or self.huge_pending:
            due.append(self.events_sent)
        self.checkpoint = min(due, default=_NEVER)


class HydraSimulator:
    """A Hydra stream server on the loopback interface, for tests, demos and benchmarks.

    Args:
        host: interface to bind.
        port: TCP port; 0 picks a free one (read it back from :attr:`port`).
        secret: HMAC key that tokens must be signed with.
        rate: events per second per connection across its active streams; 0 = unthrottled.
        limit: events per connection before emission stops (None = forever).
        heartbeat_interval: seconds between heartbeats.
        max_commands_per_second: commands allowed per connection within one second.
        seed: seeds the synthetic world.
        streams: the streams this server offers.
        max_connections: open connections allowed at once (None = no limit).
        drop_after: abort every connection, without a close frame, after that many events.
        silent_after: make every connection silent after that many events.
        close_after: close every connection with ``close_code`` after that many events.
        close_code: code for ``close_after``.
        close_reason: reason for ``close_after``.
        malformed_every: send one malformed frame every that many events, cycling kinds.
        malformed_kinds: the kinds ``malformed_every`` cycles through.
        huge_frame_after: after that many events, send one event of ``huge_size`` bytes.
        huge_size: size in bytes of that frame.

    Example:
        >>> async def main():
        ...     async with HydraSimulator(rate=0, limit=1000) as sim:
        ...         token = sim.issue_token(streams=["markets"], balance=5.0)
        ...         print(sim.url)  # ws://127.0.0.1:PORT/stream
    """

    def __init__(
        self,
        *,
        host: str = "127.0.0.1",
        port: int = 0,
        secret: str = "sim-secret",
        # Emission
        rate: float = 50.0,
        limit: int | None = None,
        heartbeat_interval: float = 30.0,
        seed: int = 0,
        streams: Sequence[str] = ALL_STREAMS,
        # Limits
        max_commands_per_second: int = 10,
        max_connections: int | None = None,
        # Faults, applied to every connection
        drop_after: int | None = None,
        silent_after: int | None = None,
        close_after: int | None = None,
        close_code: int = 1001,
        close_reason: str = "Server going away (maintenance)",
        malformed_every: int | None = None,
        malformed_kinds: Sequence[str] = MALFORMED_KINDS,
        huge_frame_after: int | None = None,
        huge_size: int = 2 * 1024 * 1024,
    ) -> None:
        unknown = [s for s in streams if s not in EVENT_TYPES]
        if unknown:
            raise ValueError(f"unknown Hydra stream(s): {unknown}; known: {list(ALL_STREAMS)}")
        bad_kinds = [k for k in malformed_kinds if k not in MALFORMED_KINDS]
        if bad_kinds or not malformed_kinds:
            raise ValueError(f"malformed kinds must be among {list(MALFORMED_KINDS)}")
        if rate < 0:
            raise ValueError("rate must be >= 0")
        self.host = host
        self.secret = secret
        self.rate = float(rate)
        self.limit = limit
        self.heartbeat_interval = heartbeat_interval
        self.max_commands_per_second = max_commands_per_second
        self.max_connections = max_connections
        self.seed = seed
        self.streams: tuple[str, ...] = tuple(streams)
        self._requested_port = port
        self._fault_config = {
            "drop_after": drop_after,
            "silent_after": silent_after,
            "close_after": close_after,
            "huge_frame_after": huge_frame_after,
            "malformed_every": malformed_every,
        }
        self._close_after_code = (close_code, close_reason)
        self._malformed_kinds = tuple(malformed_kinds)
        self._huge_size = huge_size

        self.sent: deque[tuple[int, int, str, str]] = deque(maxlen=1_000_000)
        self.commands: list[tuple[int, dict[str, Any]]] = []
        self.closes: list[tuple[int, int, str]] = []
        self.connections_total = 0
        self.connections_open = 0

        self._world = SyntheticWorld(seed)
        self._generate = _generators(self._world)
        self._seq = 0
        self._malformed_cycle = 0
        self._sessions: dict[int, _Session] = {}
        self._silent = False
        self._resumed = asyncio.Event()
        self._command_arrived = asyncio.Event()
        self._cursors: dict[str, int] = {}
        # One-shot faults waiting for the next connection because none was open.
        self._armed: dict[str, Any] = {}
        self._sock: socket.socket | None = None
        self._server: Server | None = None
        self._loop: asyncio.AbstractEventLoop | None = None
        self._loop_thread: int | None = None
        self._thread: threading.Thread | None = None
        self._tasks: set[asyncio.Task[Any]] = set()

    # -- lifecycle ---------------------------------------------------------------------------

    @property
    def port(self) -> int:
        """The TCP port the server listens on (known as soon as the socket is bound)."""
        if self._sock is None:
            raise RuntimeError("the simulator is not started")
        return int(self._sock.getsockname()[1])

    @property
    def url(self) -> str:
        """The stream URL without a token, e.g. ``ws://127.0.0.1:54321/stream``."""
        return f"ws://{self.host}:{self.port}/stream"

    def _bind(self) -> socket.socket:
        # Binding synchronously makes the port known before the loop gets to run, which
        # start_background() needs inside a Jupyter cell.
        if self._sock is None:
            self._sock = socket.create_server((self.host, self._requested_port))
        return self._sock

    async def start(self) -> None:
        """Start listening on the running event loop; returns once connections are accepted.

        Example:
            >>> async def main():
            ...     sim = HydraSimulator()
            ...     await sim.start()
            ...     await sim.stop()
        """
        if self._server is not None:
            return
        sock = self._bind()
        self._loop = asyncio.get_running_loop()
        self._loop_thread = threading.get_ident()
        self._server = await serve(
            self._handle,
            sock=sock,
            process_request=self._process_request,
            compression=None,
            ping_interval=None,
            max_size=2**20,
            logger=_wire_logger(),
        )
        logger.info("Hydra simulator listening on %s", self.url)

    async def stop(self) -> None:
        """Close every connection with 1001 and stop listening."""
        server, self._server = self._server, None
        if server is None:
            return
        for session in list(self._sessions.values()):
            if not session.closing:
                session.closing = True
                self.closes.append((session.number, 1001, ""))
        server.close()
        await server.wait_closed()
        # stop() may itself run in one of our tasks (stop_background): do not cancel it.
        others = [t for t in self._tasks if t is not asyncio.current_task()]
        for task in others:
            task.cancel()
        await asyncio.gather(*others, return_exceptions=True)
        self._sock = None
        logger.info("Hydra simulator stopped")

    def start_background(self) -> asyncio.Task[None] | None:
        """Start without awaiting: on the running loop if there is one, else in a thread.

        In a Jupyter cell the kernel's loop is running, so the server is scheduled on it
        and :attr:`url` is usable at once. Without a running loop, a daemon thread runs
        its own loop; stop it with :meth:`stop_background`.

        Returns:
            The start task when scheduled on the running loop, else None.

        Example:
            >>> sim = HydraSimulator()
            >>> _ = sim.start_background()
            >>> sim.url.startswith("ws://127.0.0.1:")
            True
            >>> sim.stop_background()
        """
        self._bind()
        try:
            loop = asyncio.get_running_loop()
        except RuntimeError:
            loop = None
        if loop is not None:
            task = loop.create_task(self.start())
            self._keep(task)
            return task
        ready = threading.Event()
        failure: list[BaseException] = []

        def run() -> None:
            thread_loop = asyncio.new_event_loop()
            try:
                thread_loop.run_until_complete(self.start())
            except BaseException as exc:  # reported to the starting thread below
                failure.append(exc)
                ready.set()
                thread_loop.close()
                return
            ready.set()
            try:
                thread_loop.run_forever()
            finally:
                thread_loop.close()

        self._thread = threading.Thread(target=run, name="hydra-simulator", daemon=True)
        self._thread.start()
        ready.wait()
        if failure:
            raise failure[0]
        return None

    def stop_background(self) -> asyncio.Task[None] | None:
        """Stop a simulator started with :meth:`start_background`.

        Returns:
            The stop task when the simulator runs on the caller's loop, else None (the
            background thread has then been stopped and joined).
        """
        loop, thread = self._loop, self._thread
        if thread is None or loop is None:
            task = asyncio.get_running_loop().create_task(self.stop())
            self._keep(task)
            return task
        asyncio.run_coroutine_threadsafe(self.stop(), loop).result(timeout=10)
        loop.call_soon_threadsafe(loop.stop)
        thread.join(timeout=10)
        self._thread = None
        return None

    async def __aenter__(self) -> HydraSimulator:
        await self.start()
        return self

    async def __aexit__(self, *exc_info: object) -> None:
        await self.stop()

    def _keep(self, task: asyncio.Task[Any]) -> None:
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    # -- tokens and observation --------------------------------------------------------------

    def issue_token(
        self,
        *,
        streams: Iterable[str] | None = None,
        address: str = "0x5im0000000000000000000000000000000000001",
        expires_in: float = 3600,
        balance: float = 100.0,
    ) -> str:
        """Issue a token this simulator accepts.

        Args:
            streams: the scope; None means every stream this simulator offers.
            address: the wallet address (``sub``), echoed in ``connected``.
            expires_in: seconds of validity; negative gives an expired token.
            balance: the balance claim; <= 0 makes the server close with 4002.

        Returns:
            An HS256 JWT signed with :attr:`secret`.

        Example:
            >>> HydraSimulator().issue_token(streams=["signals"]).count(".")
            2
        """
        scope = self.streams if streams is None else list(streams)
        return issue_token(
            self.secret, address=address, streams=scope, expires_in=expires_in, balance=balance
        )

    async def wait_for_command(self, action: str, timeout: float = 5.0) -> dict[str, Any]:
        """Wait for a client command with this ``action``.

        Each action has its own cursor: the call returns the first such command received
        after the one the previous call for that action returned (from the start for the
        first call), waiting if there is none yet. So commands received before the call
        are not missed, and none is returned twice.

        Raises:
            asyncio.TimeoutError: none arrived within ``timeout`` seconds.

        Example:
            >>> async def check(sim):
            ...     command = await sim.wait_for_command("subscribe")
            ...     assert command["streams"] == ["signals"]
        """
        return await asyncio.wait_for(self._next_command(action), timeout)

    async def _next_command(self, action: str) -> dict[str, Any]:
        while True:
            start = self._cursors.get(action, 0)
            for index in range(start, len(self.commands)):
                command = self.commands[index][1]
                if command.get("action") == action:
                    self._cursors[action] = index + 1
                    return command
            self._cursors[action] = len(self.commands)
            arrived = self._command_arrived
            await arrived.wait()

    # -- runtime faults ----------------------------------------------------------------------

    def _dispatch(self, fn: Callable[..., None], *args: Any) -> None:
        # Faults may be injected from another thread (simulator in a background thread).
        loop = self._loop
        if loop is not None and self._loop_thread != threading.get_ident() and loop.is_running():
            loop.call_soon_threadsafe(fn, *args)
        else:
            fn(*args)

    def drop_after(self, n: int) -> None:
        """Abort open connections, with no close frame, after ``n`` more events each.

        One-shot; with no connection open it applies to the next one.
        """
        self._dispatch(self._drop_after, n)

    def _drop_after(self, n: int) -> None:
        if not self._sessions:
            self._armed["drop_after"] = n
        for s in self._sessions.values():
            s.drop_at = s.events_sent + n
            s.recompute()

    def go_silent(self) -> None:
        """Stop sending anything on every connection, open or new, until :meth:`resume`."""
        self._dispatch(self._set_silent)

    def _set_silent(self) -> None:
        self._silent = True

    def resume(self) -> None:
        """Undo :meth:`go_silent` (and any ``silent_after``); emission restarts at once."""
        self._dispatch(self._resume)

    def _resume(self) -> None:
        self._silent = False
        for s in self._sessions.values():
            s.silent = False
        resumed, self._resumed = self._resumed, asyncio.Event()
        resumed.set()

    def send_malformed(self, kinds: Sequence[str] = MALFORMED_KINDS, count: int = 1) -> None:
        """Send malformed frames between events: each kind, ``count`` times, in order.

        Kinds: ``not_json`` (text that is not JSON), ``binary`` (a binary frame),
        ``non_object`` (a JSON array), ``unknown_type`` (``{"type": "mystery_message", "ts",
        "data"}``: no stream, and a type no server message has), ``missing_fields`` (an
        event envelope ``{"stream", "ts"}`` without ``type`` and ``data``).
        None of them carries a ``seq`` or shows in :attr:`sent`. One-shot; with no
        connection open they go to the next one.
        """
        if isinstance(kinds, str):
            kinds = (kinds,)
        bad = [k for k in kinds if k not in MALFORMED_KINDS]
        if bad:
            raise ValueError(f"unknown malformed kind(s) {bad}; known: {list(MALFORMED_KINDS)}")
        self._dispatch(self._send_malformed, list(kinds) * count)

    def _send_malformed(self, frames: list[str]) -> None:
        if not self._sessions:
            self._armed.setdefault("malformed", []).extend(frames)
        for s in self._sessions.values():
            s.malformed_pending.extend(frames)
            s.recompute()

    def close_with(self, code: int, reason: str = "") -> None:
        """Close open connections with this code and reason (else the next one, on connect)."""
        self._dispatch(self._close_with, code, reason)

    def _close_with(self, code: int, reason: str) -> None:
        if not self._sessions:
            self._armed["close"] = (code, reason)
        for s in list(self._sessions.values()):
            self._keep(asyncio.ensure_future(self._close(s, code, reason)))

    def send_huge_frame(self, size_bytes: int) -> None:
        """Send one event (a real one, with ``seq``) padded to ``size_bytes`` bytes of JSON.

        One-shot; with no connection open it goes to the next one.
        """
        self._dispatch(self._send_huge, size_bytes)

    def _send_huge(self, size: int) -> None:
        if not self._sessions:
            self._armed.setdefault("huge", []).append(size)
        for s in self._sessions.values():
            s.huge_pending.append(size)
            s.recompute()

    # -- connection handling -----------------------------------------------------------------

    def _process_request(self, connection: ServerConnection, request: Request) -> Response | None:
        if urlsplit(request.path).path != "/stream":
            return connection.respond(404, "Not Found\n")
        if self.max_connections is not None and self.connections_open >= self.max_connections:
            return connection.respond(503, "Too many connections\n")
        return None

    async def _handle(self, ws: ServerConnection) -> None:
        self.connections_total += 1
        self.connections_open += 1
        number = self.connections_total
        session: _Session | None = None
        tasks: list[asyncio.Task[None]] = []
        try:
            query = parse_qs(urlsplit(ws.request.path if ws.request else "").query)
            try:
                claims = verify_token(query.get("token", [None])[0], self.secret)
            except InvalidToken as exc:
                logger.debug("connection %d: token refused (%s)", number, exc)
                await self._close_ws(number, ws, *CLOSE_INVALID_JWT)
                return
            if claims.balance <= 0:
                await self._close_ws(number, ws, *CLOSE_BALANCE)
                return
            offered = set(self.streams)
            scope = tuple(s for s in dict.fromkeys(claims.streams) if s in offered)
            session = _Session(number, ws, claims.address, scope)
            self._sessions[number] = session
            self._arm(session)
            now = _now_ms()
            await self._reply(
                session,
                "connected",
                {
                    "sessionId": f"sess-{os.urandom(6).hex()}",
                    "address": claims.address,
                    "availableStreams": list(scope),
                    "serverTime": now,
                },
            )
            armed_close = self._armed.pop("close", None)
            if armed_close is not None:
                await self._close(session, *armed_close)
                return
            tasks = [
                asyncio.create_task(self._emit(session)),
                asyncio.create_task(self._heartbeat(session)),
            ]
            async for message in ws:
                if await self._on_message(session, message):
                    return
        except ConnectionClosed:
            pass
        finally:
            for task in tasks:
                task.cancel()
            await asyncio.gather(*tasks, return_exceptions=True)
            self._sessions.pop(number, None)
            self.connections_open -= 1
            logger.debug("connection %d finished", number)

    def _arm(self, s: _Session) -> None:
        cfg = self._fault_config
        s.drop_at = self._armed.pop("drop_after", cfg["drop_after"])
        s.silent_at = cfg["silent_after"]
        s.close_at = cfg["close_after"]
        s.huge_at = cfg["huge_frame_after"]
        s.next_malformed = cfg["malformed_every"]
        s.malformed_pending = self._armed.pop("malformed", [])
        s.huge_pending = self._armed.pop("huge", [])
        s.recompute()

    async def _close_ws(self, number: int, ws: ServerConnection, code: int, reason: str) -> None:
        self.closes.append((number, code, reason))
        logger.debug("connection %d: closing with %d %s", number, code, reason)
        await ws.close(code, reason)

    async def _close(self, s: _Session, code: int, reason: str) -> None:
        if s.closing:
            return
        s.closing = True
        await self._close_ws(s.number, s.ws, code, reason)

    async def _reply(self, s: _Session, kind: str, data: Any) -> None:
        if self._silent or s.silent:
            return
        await s.ws.send(orjson.dumps({"type": kind, "ts": _now_ms(), "data": data}), text=True)

    def _error(self, s: _Session, message: str) -> Any:
        return self._reply(s, "error", {"message": message})

    async def _on_message(self, s: _Session, message: str | bytes) -> bool:
        """Handle one client message; True when the connection is being closed."""
        now = time.monotonic()
        window = s.commands
        window.append(now)
        while window and now - window[0] >= 1.0:
            window.popleft()
        command: Any = None
        if isinstance(message, str):
            try:
                command = orjson.loads(message)
            except orjson.JSONDecodeError:
                command = None
        if isinstance(command, dict):
            self.commands.append((s.number, command))
            arrived, self._command_arrived = self._command_arrived, asyncio.Event()
            arrived.set()
        if len(window) > self.max_commands_per_second:
            await self._close(s, *CLOSE_RATE_LIMIT)
            return True
        if isinstance(message, bytes):
            await self._error(s, "commands must be JSON text frames, not binary")
            return False
        if not isinstance(command, dict):
            what = "not valid JSON" if command is None else "not a JSON object"
            await self._error(s, f"command is {what}")
            return False
        action = command.get("action")
        if action == "ping":
            await self._reply(s, "pong", None)
        elif action == "list":
            await self._reply(
                s,
                "subscriptions",
                {
                    "active": list(s.active),
                    "available": list(s.scope),
                },
            )
        elif action in ("subscribe", "unsubscribe"):
            streams = command.get("streams")
            if (
                not isinstance(streams, list)
                or not streams
                or not all(isinstance(x, str) for x in streams)
            ):
                await self._error(s, f"{action}: streams must be a non-empty list of strings")
                return False
            if action == "subscribe":
                return await self._subscribe(s, streams)
            await self._unsubscribe(s, streams)
        elif action is None:
            await self._error(s, "command has no action")
        else:
            await self._error(s, f"unknown action {action!r}")
        return False

    async def _subscribe(self, s: _Session, streams: list[str]) -> bool:
        requested = list(
            dict.fromkeys(x for name in streams for x in (s.scope if name == "*" else (name,)))
        )
        accepted = [x for x in requested if x in s.scope]
        rejected = [x for x in requested if x not in s.scope]
        if not accepted:
            await self._close(s, *CLOSE_SCOPE)
            return True
        wanted = set(s.active) | set(accepted)
        # A new list rather than in-place changes: the emitter may be iterating the old one.
        s.active = [x for x in s.scope if x in wanted]
        s.active_changed.set()
        await self._reply(
            s,
            "subscribed",
            {
                "subscribed": accepted,
                "rejected": rejected,
                "rejectedReason": dict.fromkeys(rejected, OUT_OF_SCOPE),
                "active": list(s.active),
            },
        )
        return False

    async def _unsubscribe(self, s: _Session, streams: list[str]) -> None:
        names = set(s.active) if "*" in streams else set(streams)
        removed = [x for x in s.active if x in names]
        s.active = [x for x in s.active if x not in names]
        await self._reply(s, "unsubscribed", {"unsubscribed": removed, "active": list(s.active)})

    async def _heartbeat(self, s: _Session) -> None:
        frame = {"type": "heartbeat", "ts": 0, "data": None}
        try:
            while True:
                await asyncio.sleep(self.heartbeat_interval)
                if not (self._silent or s.silent):
                    frame["ts"] = _now_ms()
                    await s.ws.send(orjson.dumps(frame), text=True)
        except ConnectionClosed:
            pass

    # -- emission ----------------------------------------------------------------------------

    async def _emit(self, s: _Session) -> None:
        try:
            await self._emit_loop(s)
        except ConnectionClosed:
            pass
        except Exception:
            # A bug here must not leave a half-dead connection that looks merely quiet.
            logger.error("connection %d: emitter failed", s.number, exc_info=True)
            s.ws.transport.abort()

    def _event_frame(self, s: _Session, stream: str, now_ms: int) -> tuple[int, str, Any]:
        self._seq += 1
        seq = self._seq
        etype, data = self._generate[stream](now_ms)
        payload = {"id": f"{_ID_PREFIX[stream]}-{seq:09d}", "seq": seq, **data}
        return seq, etype, {"stream": stream, "type": etype, "ts": now_ms, "data": payload}

    async def _emit_loop(self, s: _Session) -> None:
        loop = asyncio.get_running_loop()
        rate, limit = self.rate, self.limit
        send, dumps, sent, number = s.ws.send, orjson.dumps, self.sent, s.number
        started: float | None = None  # start of the current pacing window
        paced = 0  # events sent in the current pacing window
        while limit is None or s.events_sent < limit:
            if not s.active:
                s.active_changed.clear()
                await s.active_changed.wait()
                started = None
                continue
            if self._silent or s.silent:
                await self._resumed.wait()
                started = None
                continue
            if s.events_sent >= s.checkpoint:
                if await self._apply_faults(s):
                    return
                continue
            batch = _BATCH
            if rate > 0:
                now = loop.time()
                if started is None:
                    started, paced = now, 0
                due = int((now - started) * rate) + 1 - paced
                if due <= 0:
                    await asyncio.sleep(paced / rate - (now - started))
                    continue
                if due > rate:
                    # More than a second behind (a stalled loop): restart the pace, no burst.
                    started, paced, due = now, 0, 1
                batch = min(due, _BATCH)
            batch = min(batch, s.checkpoint - s.events_sent)
            if limit is not None:
                batch = min(batch, limit - s.events_sent)
            now_ms = _now_ms()
            for _ in range(batch):
                active = s.active  # re-read: a command may have changed it during a send
                if not active:
                    break
                stream = active[s.rr % len(active)]
                s.rr += 1
                seq, etype, frame = self._event_frame(s, stream, now_ms)
                await send(dumps(frame), text=True)
                sent.append((number, seq, stream, etype))
                s.events_sent += 1
                paced += 1
            await asyncio.sleep(0)

    async def _apply_faults(self, s: _Session) -> bool:
        """Run the faults due at this point; True when the connection is gone."""
        k = s.events_sent
        if s.drop_at is not None and k >= s.drop_at:
            await self._drop(s)
            return True
        if s.close_at is not None and k >= s.close_at:
            await self._close(s, *self._close_after_code)
            return True
        if s.silent_at is not None and k >= s.silent_at:
            s.silent_at = None
            s.silent = True
        if s.huge_at is not None and k >= s.huge_at:
            s.huge_at = None
            s.huge_pending.append(self._huge_size)
        every = self._fault_config["malformed_every"]
        if s.next_malformed is not None and every and k >= s.next_malformed:
            s.next_malformed = k + every
            kind = self._malformed_kinds[self._malformed_cycle % len(self._malformed_kinds)]
            self._malformed_cycle += 1
            s.malformed_pending.append(kind)
        while s.malformed_pending and not (self._silent or s.silent):
            await self._send_malformed_frame(s, s.malformed_pending.pop(0))
        while s.huge_pending and s.active and not (self._silent or s.silent):
            await self._send_huge_event(s, s.huge_pending.pop(0))
        s.recompute()
        if s.checkpoint <= s.events_sent and (self._silent or s.silent):
            # Held back by silence; look again after resume() rather than spinning.
            await self._resumed.wait()
        return False

    async def _drop(self, s: _Session) -> None:
        transport = s.ws.transport
        # Let what was already sent reach the socket, so the client gets exactly n events.
        for _ in range(200):
            if transport.get_write_buffer_size() == 0:
                break
            await asyncio.sleep(0.005)
        s.closing = True
        self.closes.append((s.number, 1006, "dropped (TCP abort, no close frame)"))
        logger.debug("connection %d: dropping after %d events", s.number, s.events_sent)
        transport.abort()

    async def _send_malformed_frame(self, s: _Session, kind: str) -> None:
        stream = s.active[0] if s.active else (s.scope[0] if s.scope else "signals")
        now = _now_ms()
        if kind == "not_json":
            await s.ws.send('{"stream": "' + stream + '", "type": oops', text=True)
        elif kind == "binary":
            await s.ws.send(b"\x00\xffHYDRA\x01binary-frame")
        elif kind == "non_object":
            await s.ws.send(orjson.dumps([stream, "position_update", now]), text=True)
        elif kind == "unknown_type":
            # No stream, so it is no event; and no server message has this type.
            frame = {
                "type": "mystery_message",
                "ts": now,
                "data": {"note": "a message type the protocol does not define"},
            }
            await s.ws.send(orjson.dumps(frame), text=True)
        else:  # missing_fields
            await s.ws.send(orjson.dumps({"stream": stream, "ts": now}), text=True)

    async def _send_huge_event(self, s: _Session, size: int) -> None:
        stream = s.active[s.rr % len(s.active)]
        s.rr += 1
        seq, etype, frame = self._event_frame(s, stream, _now_ms())
        frame["data"]["padding"] = ""
        base = len(orjson.dumps(frame))
        frame["data"]["padding"] = "x" * max(0, size - base)
        await s.ws.send(orjson.dumps(frame), text=True)
        self.sent.append((s.number, seq, stream, etype))
        s.events_sent += 1
