"""Serving on the command line: a simulator or a recording until Ctrl-C or SIGTERM.

``sim replay PATH`` lives here, beside the loop every ``sim`` command runs in; the ready
file (``--ready-file``) is written atomically once the server listens, for scripts and
benchmarks that wait for it.

Example:
    $ streamwidgets sim replay hydra.jsonl.gz --speed 4 --ready-file /tmp/port
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import os
import signal
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

from streamwidgets.cli.arguments import port_number

__all__ = ["add_sim_replay", "serve_until_stopped", "write_atomically"]


def serve_until_stopped(
    sim: Any,
    label: str,
    announce: Callable[[], None],
    ready_text: Callable[[], str],
    ready_file: Path | None,
) -> int:
    """Run a simulator until Ctrl-C or SIGTERM; announce it, then write the ready file."""

    async def serve() -> None:
        stop = asyncio.Event()
        loop = asyncio.get_running_loop()
        # SIGTERM (what a benchmark harness sends) should stop as cleanly as Ctrl-C.
        for sig in (signal.SIGTERM, signal.SIGINT):
            with contextlib.suppress(NotImplementedError, RuntimeError):
                loop.add_signal_handler(sig, stop.set)
        async with sim:
            announce()
            print("Press Ctrl-C to stop.", flush=True)
            if ready_file is not None:
                write_atomically(ready_file, ready_text())
            await stop.wait()
        print(f"{label} stopped.", file=sys.stderr, flush=True)

    with contextlib.suppress(KeyboardInterrupt):
        asyncio.run(serve())
    return 0


def write_atomically(path: Path, text: str) -> None:
    # A reader polling for the file must never see it half written.
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    tmp.write_text(text)
    os.replace(tmp, path)


# -- sim replay --------------------------------------------------------------------------------


def add_sim_replay(kinds: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    """Add ``sim replay PATH`` to the command line."""
    sim = kinds.add_parser("replay", help="serve a recording (ws://HOST:PORT/replay)")
    sim.add_argument("path", type=Path, help="a recording")
    sim.add_argument("--host", default="127.0.0.1")
    sim.add_argument("--port", type=port_number, default=8765, help="0 picks a free port")
    sim.add_argument(
        "--speed", default="1", help="times real time (0.01-1000), or 'max' for full speed"
    )
    sim.add_argument(
        "--start", type=float, default=0.0, help="seconds from the start of the recording"
    )
    sim.add_argument(
        "--ready-file", type=Path, default=None, help="write the port to this file once listening"
    )
    sim.set_defaults(func=run_sim_replay)


def run_sim_replay(args: argparse.Namespace) -> int:
    """Run ``sim replay``; returns the exit code."""
    from streamwidgets.exceptions import ConfigurationError
    from streamwidgets.replay.server import ReplayServer

    try:
        speed = None if args.speed == "max" else float(args.speed)
    except ValueError:
        raise SystemExit(f"--speed is a number or 'max', got {args.speed!r}") from None
    try:
        server = ReplayServer(args.path, speed=speed, host=args.host, port=args.port)
        if args.start:
            server.seek(args.start)
    except ConfigurationError as exc:
        raise SystemExit(str(exc)) from None

    def announce() -> None:
        header = server.reader.header
        pace = "full speed" if server.speed is None else f"{server.speed:g}x"
        print(f"Replaying {args.path.name} (a {header['dialect']} feed) at {pace} on {server.url}")
        print("Each connection gets the recording from the start; the end closes with 1000.")

    return serve_until_stopped(
        server, "Replay server", announce, lambda: f"{server.port}\n", args.ready_file
    )
