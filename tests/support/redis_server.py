"""A real redis-server for the tests: on 127.0.0.1, a free port, no persistence.

Debian's ``redis-server`` (the README's test command and ``.ci/run`` install it). Tests get
one from their ``redis_server`` fixture, which stops it afterwards; ``kill()`` and
``start()`` restart it on the same port, as an outage would.
"""

from __future__ import annotations

import shutil
import socket
import subprocess
import time

import pytest
import redis

from tests.support.waiting import seconds


def free_port() -> int:
    """A TCP port nobody listens on now."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


class RedisServer:
    """One ``redis-server --port PORT --save '' --appendonly no`` process.

    Attributes:
        port: its port, kept across restarts.
        url: ``redis://127.0.0.1:PORT/0``.
    """

    def __init__(self, port: int | None = None, *, options: tuple[str, ...] = ()) -> None:
        binary = shutil.which("redis-server") or "/usr/bin/redis-server"
        if not shutil.which(binary):
            pytest.fail("redis-server is not installed: apt-get install -y redis-server")
        self.binary = binary
        self.port = port or free_port()
        self.options = options
        self.url = f"redis://127.0.0.1:{self.port}/0"
        self._process: subprocess.Popen[bytes] | None = None

    def start(self) -> None:
        """Start it and wait until it answers PING."""
        self._process = subprocess.Popen(
            [
                *(self.binary, "--port", str(self.port), "--bind", "127.0.0.1"),
                *("--save", "", "--appendonly", "no"),
                *self.options,
            ],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        deadline = time.monotonic() + seconds(10)
        while not self.answers():
            assert self._process.poll() is None, "redis-server exited at start"
            assert time.monotonic() < deadline, "redis-server did not answer PING"
            time.sleep(0.02)

    def client(self) -> redis.Redis:
        """A redis-py client of it (3 s socket timeout) for reading what a test wrote; it
        logs in with the ``--requirepass`` among the options, if any.

        Example: ``assert server.client().xlen("k") > 0``.
        """
        password = None
        if "--requirepass" in self.options:
            password = self.options[self.options.index("--requirepass") + 1]
        return redis.Redis(port=self.port, password=password, socket_timeout=3)

    def answers(self) -> bool:
        """True when it replies +PONG to PING."""
        try:
            with socket.create_connection(("127.0.0.1", self.port), timeout=0.5) as sock:
                sock.sendall(b"PING\r\n")
                reply = sock.recv(64)
                return reply.startswith(b"+PONG") or reply.startswith(b"-NOAUTH")
        except OSError:
            return False

    def kill(self) -> None:
        """SIGKILL, as a crash: nothing is kept (no persistence)."""
        process, self._process = self._process, None
        if process is not None:
            process.kill()
            process.wait(10)

    def stop(self) -> None:
        """Terminate it, if it runs."""
        process, self._process = self._process, None
        if process is not None:
            process.terminate()
            try:
                process.wait(10)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait(10)
