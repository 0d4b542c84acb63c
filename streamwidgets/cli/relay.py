"""The ``relay`` command: one upstream connection into a Redis Stream (see streamwidgets.relay).

``streamwidgets relay FEED --url URL --to redis://HOST:PORT/DB [--key NAME] [--keep 24h |
--max-len N]`` keeps the feed connected, appends every received frame to the stream and
prints a progress line every second to stderr, as ``record`` does (events, rate, bytes
added, frames lost, the feed's state, then Redis's), then a summary. It runs until
stopped (Ctrl-C, SIGTERM) or ``--for``; feed and Redis outages are waited out.

The feeds, their ``--url`` and the credential's environment variable are ``record``'s
(:mod:`streamwidgets.cli.record`); a Redis password is read from ``REDIS_PASSWORD``. The
stream is trimmed by age (``--keep``, ``MINID ~``) or length (``--max-len``, ``MAXLEN ~``;
about 1,000,000 entries by default).

Example:
    $ HYDRA_TOKEN=... streamwidgets relay hydra --url wss://api.hydra.app/stream \\
          --streams signals,markets --to redis://127.0.0.1:6379/0 --keep 24h
    >>> import argparse
    >>> parser = argparse.ArgumentParser(prog="streamwidgets")
    >>> add_relay_command(parser.add_subparsers())
    >>> args = parser.parse_args(["relay", "hydra", "--url", "ws://h:1/s", "--to", "redis://h"])
    >>> args.key, args.keep, args.max_len
    (None, None, None)
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import os
import signal
import sys
import time
from typing import Any

from streamwidgets.cli.record import feed_from_args, parse_duration, streams_from_args
from streamwidgets.exceptions import ConfigurationError
from streamwidgets.feeds import registry

__all__ = ["add_relay_command", "run_relay"]


def _entries(text: str) -> int:
    try:
        value = int(text.replace(",", "").replace("_", ""))
    except ValueError:
        value = 0
    if value < 1:
        raise argparse.ArgumentTypeError(f"a number of entries >= 1, got {text!r}")
    return value


def add_relay_command(commands: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    """Add ``relay`` to the command line."""
    relay = commands.add_parser("relay", help="relay a feed's frames into a Redis Stream")
    relay.add_argument(
        "feed", choices=sorted(registry.on_command_line()), help="the feed's dialect"
    )
    relay.add_argument(
        "--url", required=True, help="the feed's WebSocket URL (pusher: its REST base URL)"
    )
    relay.add_argument("--to", required=True, metavar="REDIS_URL", help="redis://HOST:PORT/DB")
    relay.add_argument("--key", default=None, help="the stream's key (streamwidgets:FEED)")
    bound = relay.add_mutually_exclusive_group()
    bound.add_argument("--keep", type=parse_duration, default=None, help="e.g. 24h: trim by age")
    bound.add_argument(
        "--max-len", type=_entries, default=None, help="keep about N entries (1000000)"
    )
    relay.add_argument(
        "--credential-env",
        default=None,
        metavar="VAR",
        help="environment variable holding the token or key (default: per feed)",
    )
    relay.add_argument("--streams", default="", help="comma-separated streams to subscribe to")
    relay.add_argument("--rest-url", default=None, help="Axol: the token exchange's base URL")
    relay.add_argument(
        "--for", dest="duration", type=parse_duration, default=None, help="stop after, e.g. 1h"
    )
    relay.add_argument("--include-sent", action="store_true", help="relay sent frames too")
    relay.set_defaults(func=run_relay)


def run_relay(args: argparse.Namespace) -> int:
    """Run ``relay``; returns the exit code."""
    from streamwidgets.relay.relay import Relay

    try:
        feed = feed_from_args(args, "relay")
        relay = Relay(
            feed,
            args.to,
            key=args.key,
            streams=streams_from_args(args),
            keep=args.keep,
            max_len=args.max_len,
            password=os.environ.get("REDIS_PASSWORD") or None,
            include_sent=args.include_sent,
            duration=args.duration,
        )
        return asyncio.run(_relay(relay))
    except ConfigurationError as exc:
        raise SystemExit(str(exc)) from None
    except KeyboardInterrupt:
        return 130


async def _relay(relay: Any) -> int:
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGTERM, signal.SIGINT):
        with contextlib.suppress(NotImplementedError, RuntimeError):
            loop.add_signal_handler(sig, stop.set)
    await relay.start()
    started = last_at = time.monotonic()
    last_events = 0
    tty = sys.stderr.isatty()
    while not stop.is_set() and relay.running:
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(stop.wait(), 1.0)
        now, events = time.monotonic(), relay.connection.stats.events
        rate = (events - last_events) / max(now - last_at, 1e-9)
        last_at, last_events = now, events
        print(
            _progress(relay, now - started, events, rate, tty),
            end="" if tty else "\n",
            file=sys.stderr,
            flush=True,
        )
    summary = await relay.close()
    if tty:
        print(file=sys.stderr)
    print(
        f"relayed to {summary.target}: {summary.frames:,} frames, {summary.bytes:,} bytes, "
        f"lost {summary.lost:,}; {summary.stopped}"
    )
    if summary.stopped and (
        summary.stopped.startswith("the feed failed") or "refused" in summary.stopped
    ):
        print(summary.stopped, file=sys.stderr)
        return 1
    return 0


def _progress(relay: Any, elapsed: float, events: int, rate: float, tty: bool) -> str:
    sink = relay.sink
    redis = sink.state if sink.state == "connected" else f"{sink.state}: {sink.reason}"
    line = (
        f"{elapsed:6.1f} s  {events:,} events  {rate:,.0f} ev/s  {sink.size / 1e6:.2f} MB  "
        f"lost {relay.summary().lost:,}  [{relay.connection.state.value}]  redis {redis}"
    )
    return f"\r{line}" if tty else line
