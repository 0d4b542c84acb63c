"""The ``record`` command: recordings from the command line (``sim replay`` serves them,
see :mod:`streamwidgets.cli.serve`).

``streamwidgets record FEED --url URL --for 60s -o feed.jsonl.gz`` connects to a feed,
records every received frame (see :mod:`streamwidgets.recording.recorder`) and prints a progress
line every second to stderr (events, rate, bytes written, frames lost), then a summary.
The credential is read from an environment variable, never from the command line, where
other users of the machine could read it. The feeds, their ``--url`` and the variable
(``--credential-env`` names another):

- ``hydra``: the WebSocket URL (``ws://HOST:PORT/stream``); ``HYDRA_TOKEN``.
- ``hydra-v1``: the WebSocket URL; ``HYDRA_API_KEY``.
- ``axol``: the WebSocket URL (``--rest-url`` for the token exchange); ``AXOL_API_KEY``.
- ``pusher``: the REST base URL (``http://HOST:PORT``; the session bootstrap names the
  WebSocket); ``PUSHER_TOKEN``, the Bearer token. ``--streams`` are the streams the
  session asks for and subscribes to, presence ones included.
- ``hyperoru``: the WebSocket URL without the token (``ws://HOST:PORT/ws``);
  ``HYPERORU_SESSION_TOKEN``. Every channel is subscribed unless ``--streams`` says which.

``streamwidgets sim replay PATH`` serves a recording on ``ws://HOST:PORT/replay`` to any
WebSocket client (see :mod:`streamwidgets.replay.server`).

Example:
    $ HYDRA_TOKEN=... streamwidgets record hydra --url ws://127.0.0.1:8765/stream \\
          --streams signals,markets --for 60s -o feed.jsonl.gz
    $ PUSHER_TOKEN=... streamwidgets record pusher --url http://127.0.0.1:8080 \\
          --streams prices,portfolio --for 60s -o pusher.jsonl.gz
    $ HYPERORU_SESSION_TOKEN=... streamwidgets record hyperoru \\
          --url ws://127.0.0.1:8765/ws --for 60s -o hyperoru.jsonl.gz
    $ streamwidgets sim replay feed.jsonl.gz --speed 4 --port 8766
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import os
import signal
import sys
import time
from pathlib import Path
from typing import Any

from streamwidgets.cli.arguments import parse_duration, parse_size
from streamwidgets.exceptions import ConfigurationError
from streamwidgets.feeds import registry

__all__ = [
    "add_record_command",
    "feed_from_args",
    "parse_duration",
    "parse_size",
    "streams_from_args",
]

# -- record ------------------------------------------------------------------------------------


def add_record_command(commands: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    """Add ``record`` to the command line."""
    record = commands.add_parser("record", help="record a feed's frames to a file")
    record.add_argument(
        "feed", choices=sorted(registry.on_command_line()), help="the feed's dialect"
    )
    record.add_argument(
        "--url", required=True, help="the feed's WebSocket URL (pusher: its REST base URL)"
    )
    record.add_argument(
        "--credential-env",
        default=None,
        metavar="VAR",
        help="environment variable holding the token or key (default: per feed)",
    )
    record.add_argument("--streams", default="", help="comma-separated streams to subscribe to")
    record.add_argument("--rest-url", default=None, help="Axol: the token exchange's base URL")
    record.add_argument(
        "-o", "--output", type=Path, required=True, help="*.jsonl.gz, *.jsonl or *.parquet"
    )
    record.add_argument(
        "--for", dest="duration", type=parse_duration, default=None, help="e.g. 60s, 5m, 1h"
    )
    record.add_argument("--max-bytes", type=parse_size, default=None, help="e.g. 100M")
    record.add_argument("--include-sent", action="store_true", help="record sent frames too")
    record.set_defaults(func=run_record)


def run_record(args: argparse.Namespace) -> int:
    """Run ``record``; returns the exit code."""
    try:
        feed = feed_from_args(args, "record")
        result = asyncio.run(_record(args, feed))
    except ConfigurationError as exc:
        raise SystemExit(str(exc)) from None
    except KeyboardInterrupt:
        return 130
    return result


def feed_from_args(args: argparse.Namespace, verb: str) -> Any:
    """The feed a ``record`` or ``relay`` command line names (``feed``, ``--url``,
    ``--credential-env``, ``--rest-url``, ``--streams``), its credential read from the
    environment; what each feed needs is its registry entry's
    (:class:`~streamwidgets.feeds.entry.CommandLine`).

    Raises:
        SystemExit: the credential's variable is unset, or a feed that needs ``--streams``
            (Pusher) without them.
        ConfigurationError: what the feed's constructor refuses.
    """
    entry = registry.FEEDS[args.feed]
    line = entry.command_line
    assert line is not None  # the parser offers only feeds with a command line
    variable = args.credential_env or line.credential_env
    credential = os.environ.get(variable)
    if not credential:
        raise SystemExit(f"set the feed's credential in the environment variable {variable}")
    streams = streams_from_args(args)
    if line.streams_example and not streams:
        raise SystemExit(
            f"{args.feed}: name the streams to {verb} with --streams (e.g. {line.streams_example})"
        )
    return entry.from_command_line(args.url, credential, streams, args.rest_url)


def streams_from_args(args: argparse.Namespace) -> list[str]:
    """The streams a ``record`` or ``relay`` command line subscribes to: ``--streams``,
    else the feed's default ones (Hyperoru: every channel).

    Example:
        >>> streams_from_args(argparse.Namespace(feed="hyperoru", streams=""))
        ['trades', 'positions', 'model_chat', 'asset_curve']
    """
    line = registry.FEEDS[args.feed].command_line
    assert line is not None  # the parser offers only feeds with a command line
    return line.streams(args.streams)


async def _record(args: argparse.Namespace, feed: Any) -> int:
    from streamwidgets.buffer.event_buffer import EventBuffer
    from streamwidgets.connection.driver import Connection, State

    streams = streams_from_args(args)
    # The command keeps no rows: the file is what it is for.
    connection = Connection(feed, streams=streams, buffer=EventBuffer(max_rows=1))
    recorder = connection.record(
        args.output,
        include_sent=args.include_sent,
        max_bytes=args.max_bytes,
        max_duration=args.duration,
    )
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGTERM, signal.SIGINT):
        with contextlib.suppress(NotImplementedError, RuntimeError):
            loop.add_signal_handler(sig, stop.set)
    connection.start()
    started = last_at = time.monotonic()
    last_events = 0
    tty = sys.stderr.isatty()
    while not stop.is_set() and recorder.active and connection.state is not State.FAILED:
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(stop.wait(), 1.0)
        now, events = time.monotonic(), connection.stats.events
        rate = (events - last_events) / max(now - last_at, 1e-9)
        last_at, last_events = now, events
        summary = recorder.summary()
        line = (
            f"{now - started:6.1f} s  {events:,} events  {rate:,.0f} ev/s  "
            f"{summary.bytes / 1e6:.2f} MB  lost {summary.lost:,}  [{connection.state.value}]"
        )
        print(f"\r{line}" if tty else line, end="" if tty else "\n", file=sys.stderr, flush=True)
    failed = connection.state is State.FAILED
    reason = connection.reason
    await connection.close()
    summary = recorder.summary()
    if tty:
        print(file=sys.stderr)
    print(
        f"wrote {summary.path}: {summary.frames:,} frames, {summary.bytes:,} bytes, "
        f"lost {summary.lost:,}; {summary.stopped}"
    )
    if failed:
        print(f"the feed failed: {reason}", file=sys.stderr)
        return 1
    return 0
