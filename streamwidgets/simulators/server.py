"""Running a simulator's WebSocket server: on the caller's loop, or in a thread of its own.

:class:`LoopbackServer` owns the socket, the websockets server, the background thread and
the tasks it starts; a simulator subclasses it and supplies the per-connection handler
(:meth:`~LoopbackServer._handle`) and, if it wants one, an HTTP gate
(:meth:`~LoopbackServer._process_request`).

Example:
    >>> from streamwidgets.simulators.hydra import HydraSimulator
    >>> sim = HydraSimulator()
    >>> isinstance(sim, LoopbackServer)
    True
"""

from __future__ import annotations

import asyncio
import logging
import socket
import threading
from collections.abc import Callable
from typing import Any, Self

from websockets.asyncio.server import Server, ServerConnection, serve
from websockets.http11 import Request, Response

from streamwidgets._util.secret import redact_url

__all__ = ["LoopbackServer"]

# The name of the task start_background() schedules, so stop() can wait for it.
_START = "simulator start"


class _RedactTokens(logging.Filter):
    """Mask ``token=`` values in the server's wire log: request lines carry the JWT."""

    def filter(self, record: logging.LogRecord) -> bool:
        message = record.getMessage()
        if "token=" in message:
            record.msg, record.args = redact_url(message), None
        return True


def _wire_logger(module: str) -> logging.Logger:
    wire = logging.getLogger(f"{module}.websockets")
    if not any(isinstance(f, _RedactTokens) for f in wire.filters):
        wire.addFilter(_RedactTokens())
    return wire


class LoopbackServer:
    """A WebSocket server on one interface, started and stopped from async or sync code.

    Subclasses set :attr:`label` and :attr:`path` and implement :meth:`_handle`; they log
    under their own module's name. A feed's simulator served by ``streamwidgets sim`` (see
    :class:`streamwidgets.feeds.entry.Simulated`) also takes ``rate``, ``seed`` and
    ``profile`` as keywords, and ``unanswered`` if its clients send commands.

    Args:
        host: interface to bind.
        port: TCP port; 0 picks a free one (read it back from :attr:`port`).
    """

    #: Names the server in logs and its thread.
    label = "simulator"
    #: The path that upgrades, shown in :attr:`url`.
    path = "/"

    def __init__(self, *, host: str = "127.0.0.1", port: int = 0) -> None:
        self.host = host
        self._requested_port = port
        self._logger = logging.getLogger(type(self).__module__)
        self._sock: socket.socket | None = None
        self._server: Server | None = None
        self._loop: asyncio.AbstractEventLoop | None = None
        self._loop_thread: int | None = None
        self._thread: threading.Thread | None = None
        self._tasks: set[asyncio.Task[Any]] = set()

    # -- what subclasses provide -------------------------------------------------------------

    async def _handle(self, ws: ServerConnection) -> None:
        """Serve one client, from its upgrade until it or the server closes.

        Called once per accepted connection, on the server's loop, with the websockets
        ``ServerConnection`` (``await ws.send(text)``, ``async for frame in ws``); return to
        close the connection (1000), or ``await ws.close(code, reason)`` first. Exceptions
        are logged and close it with 1011.
        """
        raise NotImplementedError

    def _process_request(self, connection: ServerConnection, request: Request) -> Response | None:
        """Answer before the upgrade (an HTTP error, e.g. 401 for a bad key), or None to
        upgrade. Called for every upgrade request, whatever its path."""
        return None

    def _before_stop(self) -> None:
        """Called by :meth:`stop` before the open connections are closed with 1001."""

    # -- lifecycle ---------------------------------------------------------------------------

    @property
    def port(self) -> int:
        """The TCP port the server listens on (known as soon as the socket is bound)."""
        if self._sock is None:
            raise RuntimeError("the simulator is not started")
        return int(self._sock.getsockname()[1])

    @property
    def url(self) -> str:
        """The URL of :attr:`path`, e.g. ``ws://127.0.0.1:54321/stream``."""
        return f"ws://{self.host}:{self.port}{self.path}"

    def _bind(self) -> socket.socket:
        # Binding synchronously makes the port known before the loop gets to run, which
        # start_background() needs inside a Jupyter cell.
        if self._sock is None:
            self._sock = socket.create_server((self.host, self._requested_port))
        return self._sock

    async def start(self) -> None:
        """Start listening on the running event loop; returns once connections are accepted.

        Example:
            >>> from streamwidgets.simulators.hydra import HydraSimulator
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
            logger=_wire_logger(type(self).__module__),
        )
        self._logger.info("%s listening on %s", self.label, self.url)

    async def stop(self) -> None:
        """Close every connection with 1001 and stop listening."""
        # A start scheduled by start_background() may not have run yet (a constructor that
        # fails right after it stops us at once): let it finish, so there is a server to stop.
        starting = [
            t for t in self._tasks if t.get_name() == _START and t is not asyncio.current_task()
        ]
        await asyncio.gather(*starting, return_exceptions=True)
        server, self._server = self._server, None
        if server is None:
            sock, self._sock = self._sock, None
            if sock is not None:  # bound, never served
                sock.close()
            return
        self._before_stop()
        server.close()
        await server.wait_closed()
        # stop() may itself run in one of our tasks (stop_background): do not cancel it.
        others = [t for t in self._tasks if t is not asyncio.current_task()]
        for task in others:
            task.cancel()
        await asyncio.gather(*others, return_exceptions=True)
        self._sock = None
        self._logger.info("%s stopped", self.label)

    def start_background(self) -> asyncio.Task[None] | None:
        """Start without awaiting: on the running loop if there is one, else in a thread.

        In a Jupyter cell the kernel's loop is running, so the server is scheduled on it
        and :attr:`url` is usable at once. Without a running loop, a daemon thread runs
        its own loop; stop it with :meth:`stop_background`.

        Returns:
            The start task when scheduled on the running loop, else None.

        Example:
            >>> from streamwidgets.simulators.hydra import HydraSimulator
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
            task = loop.create_task(self.start(), name=_START)
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

        name = self.label.lower().replace(" ", "-")
        self._thread = threading.Thread(target=run, name=name, daemon=True)
        self._thread.start()
        ready.wait()
        if failure:
            raise failure[0]
        return None

    def stop_background(self) -> asyncio.Task[None] | None:
        """Stop a server started with :meth:`start_background`.

        Returns:
            The stop task when the server runs on the caller's loop, else None (the
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

    async def __aenter__(self) -> Self:
        await self.start()
        return self

    async def __aexit__(self, *exc_info: object) -> None:
        await self.stop()

    # -- helpers for subclasses --------------------------------------------------------------

    def _keep(self, task: asyncio.Task[Any]) -> None:
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    def _dispatch(self, fn: Callable[..., None], *args: Any) -> None:
        # Calls may come from another thread (server in a background thread).
        loop = self._loop
        if loop is not None and self._loop_thread != threading.get_ident() and loop.is_running():
            loop.call_soon_threadsafe(fn, *args)
        else:
            fn(*args)
