"""A local WebSocket server that speaks the Hydra JWT stream protocol, with fault injection.

What goes over the wire (handshake, commands, replies, events, close codes) is described
and built in :mod:`streamwidgets.simulators.hydra_protocol`; when faults are due is decided
in :mod:`streamwidgets.simulators.faults`. This module runs the connections.

Profiles (:mod:`streamwidgets.simulators.profiles`)
    ``strict`` (default) sends what the Hydra document (seed ``000``) and NOTES.md show:
    ``connected``, a ``heartbeat`` every ``heartbeat_interval`` s, events of the active
    streams, and the replies NOTES.md lists: ``subscribed {subscribed, rejected,
    rejectedReason, active}`` to ``subscribe``, ``unsubscribed {unsubscribed, active}`` to
    ``unsubscribe`` and ``subscriptions {active, available}`` to ``list``; and the
    document's close codes (4001-4004, 1001). NOTES.md names a ``ping`` action but shows
    no reply to it, and neither source shows an error message, so strict sends no
    ``pong`` and no ``error``: a bad or unknown command is ignored (still recorded in
    :attr:`~HydraSimulator.commands` when it decodes to a JSON object).
    ``lenient`` adds the simulator's own replies: ``pong`` (data null) to ``ping``, and
    ``error {message}`` to a command it cannot read.
    ``unanswered=["subscribe", ...]`` (actions) silences every reply to those commands,
    in both profiles, while they still act: an unanswered ``subscribe`` still starts the
    streams' events, and one whose every stream is refused still closes with 4004 (a
    close is the server acting, not a reply).

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
import time
from collections import deque
from collections.abc import Iterable, Sequence
from typing import Any
from urllib.parse import parse_qs, urlsplit

import orjson
from websockets.asyncio.server import ServerConnection
from websockets.exceptions import ConnectionClosed
from websockets.http11 import Request, Response

from streamwidgets.simulators.faults import ConnectionFaults, FaultInjectingServer, FaultPlan
from streamwidgets.simulators.hydra_protocol import (
    ALL_STREAMS,
    CLOSE_BALANCE,
    CLOSE_INVALID_JWT,
    CLOSE_RATE_LIMIT,
    CLOSE_SCOPE,
    EVENT_TYPES,
    HYDRA_COMMANDS,
    MALFORMED_KINDS,
    OUT_OF_SCOPE,
    command_error,
    decode_command,
    event_frame,
    event_generators,
    malformed_frame,
    now_ms,
    padded_frame,
    plan_subscribe,
    plan_unsubscribe,
    reply_frame,
)
from streamwidgets.simulators.profiles import Profile, Replying, reply_policy
from streamwidgets.simulators.synthetic import SyntheticWorld
from streamwidgets.simulators.tokens import InvalidToken, issue_token, verify_token

__all__ = ["ALL_STREAMS", "EVENT_TYPES", "MALFORMED_KINDS", "HydraSimulator"]

logger = logging.getLogger(__name__)

_BATCH = 64  # events between two yields to the loop when rate=0


class _Session:
    """State of one accepted, authenticated connection."""

    def __init__(
        self,
        number: int,
        ws: ServerConnection,
        address: str,
        scope: tuple[str, ...],
        faults: ConnectionFaults,
    ):
        self.number = number
        self.ws = ws
        self.address = address
        self.scope = scope
        self.active: list[str] = []
        self.active_changed = asyncio.Event()
        self.commands: deque[float] = deque()
        self.events_sent = 0
        self.rr = 0
        self.closing = False
        self.faults = faults


class HydraSimulator(Replying, FaultInjectingServer[_Session]):
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
        profile: ``"strict"`` (only the documented replies) or ``"lenient"`` (also
            ``pong`` and ``error``); see the module docstring.
        unanswered: actions (``"subscribe"``, ``"unsubscribe"``, ``"list"``, ``"ping"``)
            that get no reply at all, though they still take effect.

    Example:
        >>> HydraSimulator(profile="lenient", unanswered=["list"]).unanswered
        frozenset({'list'})
        >>> async def main():
        ...     async with HydraSimulator(rate=0, limit=1000) as sim:
        ...         token = sim.issue_token(streams=["markets"], balance=5.0)
        ...         print(sim.url)  # ws://127.0.0.1:PORT/stream
    """

    label = "Hydra simulator"
    path = "/stream"

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
        # Replies
        profile: Profile = "strict",
        unanswered: Iterable[str] = (),
    ) -> None:
        self._policy = reply_policy(profile, unanswered, known=HYDRA_COMMANDS)
        unknown = [s for s in streams if s not in EVENT_TYPES]
        if unknown:
            raise ValueError(f"unknown Hydra stream(s): {unknown}; known: {list(ALL_STREAMS)}")
        bad_kinds = [k for k in malformed_kinds if k not in MALFORMED_KINDS]
        if bad_kinds or not malformed_kinds:
            raise ValueError(f"malformed kinds must be among {list(MALFORMED_KINDS)}")
        if rate < 0:
            raise ValueError("rate must be >= 0")
        self.secret = secret
        self.rate = float(rate)
        self.limit = limit
        self.heartbeat_interval = heartbeat_interval
        self.max_commands_per_second = max_commands_per_second
        self.max_connections = max_connections
        self.seed = seed
        self.streams: tuple[str, ...] = tuple(streams)
        plan = FaultPlan(
            drop_after=drop_after,
            silent_after=silent_after,
            close_after=close_after,
            close_code=close_code,
            close_reason=close_reason,
            malformed_every=malformed_every,
            malformed_kinds=malformed_kinds,
            huge_frame_after=huge_frame_after,
            huge_size=huge_size,
        )
        super().__init__(plan, host=host, port=port)

        self.sent: deque[tuple[int, int, str, str]] = deque(maxlen=1_000_000)
        self.commands: list[tuple[int, dict[str, Any]]] = []
        self.connections_total = 0
        self.connections_open = 0

        self._world = SyntheticWorld(seed)
        self._generate = event_generators(self._world)
        self._seq = 0
        self._command_arrived = asyncio.Event()
        self._cursors: dict[str, int] = {}

    def _before_stop(self) -> None:
        for session in list(self._sessions.values()):
            if not session.closing:
                session.closing = True
                self.closes.append((session.number, 1001, ""))

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

    # -- connection handling -----------------------------------------------------------------

    def _process_request(self, connection: ServerConnection, request: Request) -> Response | None:
        if urlsplit(request.path).path != self.path:
            return connection.respond(404, "Not Found\n")
        if self.max_connections is not None and self.connections_open >= self.max_connections:
            return connection.respond(503, "Too many connections\n")
        return None

    async def _handle(self, ws: ServerConnection) -> None:
        self.connections_total += 1
        self.connections_open += 1
        number = self.connections_total
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
            faults = self._faults.for_connection()
            session = _Session(number, ws, claims.address, scope, faults)
            self._sessions[number] = session
            await self._reply(
                session,
                "connected",
                {
                    "sessionId": f"sess-{os.urandom(6).hex()}",
                    "address": claims.address,
                    "availableStreams": list(scope),
                    "serverTime": now_ms(),
                },
            )
            armed_close = self._faults.take_armed_close()
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
        if not self._muted(s):
            await s.ws.send(reply_frame(kind, data, now_ms()), text=True)

    async def _on_message(self, s: _Session, message: str | bytes) -> bool:
        """Handle one client message; True when the connection is being closed."""
        now = time.monotonic()
        window = s.commands
        window.append(now)
        while window and now - window[0] >= 1.0:
            window.popleft()
        command = decode_command(message)
        if isinstance(command, dict):
            self.commands.append((s.number, command))
            arrived, self._command_arrived = self._command_arrived, asyncio.Event()
            arrived.set()
        if len(window) > self.max_commands_per_second:
            await self._close(s, *CLOSE_RATE_LIMIT)
            return True
        action = command.get("action") if isinstance(command, dict) else None
        # Replies to this command at all (None for one that is no JSON object)?
        answer = self._policy.answers(action)
        error = command_error(command, binary=isinstance(message, bytes))
        if error is not None:
            # No document shows an error message: only the lenient profile sends one.
            if self._policy.lenient and answer:
                await self._reply(s, "error", {"message": error})
            return False
        if action == "ping":
            # NOTES.md names the ping action but shows no reply: pong is lenient only.
            if self._policy.lenient and answer:
                await self._reply(s, "pong", None)
        elif action == "list":
            if answer:
                await self._reply(
                    s, "subscriptions", {"active": list(s.active), "available": list(s.scope)}
                )
        elif action == "subscribe":
            return await self._subscribe(s, command["streams"], answer)
        else:
            await self._unsubscribe(s, command["streams"], answer)
        return False

    async def _subscribe(self, s: _Session, streams: list[str], answer: bool) -> bool:
        accepted, rejected, active = plan_subscribe(s.scope, s.active, streams)
        if not accepted:
            await self._close(s, *CLOSE_SCOPE)
            return True
        # A new list rather than in-place changes: the emitter may be iterating the old one.
        s.active = active
        s.active_changed.set()
        if not answer:
            return False
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

    async def _unsubscribe(self, s: _Session, streams: list[str], answer: bool) -> None:
        removed, s.active = plan_unsubscribe(s.active, streams)
        if answer:
            data = {"unsubscribed": removed, "active": list(s.active)}
            await self._reply(s, "unsubscribed", data)

    async def _heartbeat(self, s: _Session) -> None:
        frame = {"type": "heartbeat", "ts": 0, "data": None}
        try:
            while True:
                await asyncio.sleep(self.heartbeat_interval)
                if not self._muted(s):
                    frame["ts"] = now_ms()
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

    def _next_event(self, stream: str, ts: int) -> tuple[int, str, dict[str, Any]]:
        self._seq += 1
        seq = self._seq
        etype, data = self._generate[stream](ts)
        return seq, etype, event_frame(stream, etype, data, seq, ts)

    async def _emit_loop(self, s: _Session) -> None:
        loop = asyncio.get_running_loop()
        rate, limit = self.rate, self.limit
        send, dumps, sent, number = s.ws.send, orjson.dumps, self.sent, s.number
        faults = s.faults
        started: float | None = None  # start of the current pacing window
        paced = 0  # events sent in the current pacing window
        while limit is None or s.events_sent < limit:
            if not s.active:
                s.active_changed.clear()
                await s.active_changed.wait()
                started = None
                continue
            if self._silent or faults.silent:
                await self._resumed.wait()
                started = None
                continue
            if s.events_sent >= faults.checkpoint:
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
            batch = min(batch, faults.checkpoint - s.events_sent)
            if limit is not None:
                batch = min(batch, limit - s.events_sent)
            ts = now_ms()
            for _ in range(batch):
                active = s.active  # re-read: a command may have changed it during a send
                if not active:
                    break
                stream = active[s.rr % len(active)]
                s.rr += 1
                seq, etype, frame = self._next_event(stream, ts)
                await send(dumps(frame), text=True)
                sent.append((number, seq, stream, etype))
                s.events_sent += 1
                paced += 1
            await asyncio.sleep(0)

    async def _send_malformed_frame(self, s: _Session, kind: str) -> None:
        stream = s.active[0] if s.active else (s.scope[0] if s.scope else "signals")
        await s.ws.send(malformed_frame(kind, stream, now_ms()))

    async def _send_huge_event(self, s: _Session, size: int) -> None:
        stream = s.active[s.rr % len(s.active)]
        s.rr += 1
        seq, etype, frame = self._next_event(stream, now_ms())
        await s.ws.send(padded_frame(frame, size), text=True)
        self.sent.append((s.number, seq, stream, etype))
        s.events_sent += 1
