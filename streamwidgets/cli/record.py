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
import re
import signal
import sys
import time
from pathlib import Path
from typing import Any

__all__ = [
    "add_record_command",
    "feed_from_args",
    "parse_duration",
    "parse_size",
]

#: feed -> (environment variable holding its credential, the option it goes to)
_FEEDS = {
    "hydra": ("HYDRA_TOKEN", "token"),
    "hydra-v1": ("HYDRA_API_KEY", "api_key"),
    "axol": ("AXOL_API_KEY", "api_key"),
    "pusher": ("PUSHER_TOKEN", "token"),
    "hyperoru": ("HYPERORU_SESSION_TOKEN", "session_token"),
}
_UNITS = {"": 1, "s": 1, "m": 60, "h": 3600}
_SIZES = {"": 1, "k": 1024, "m": 1024**2, "g": 1024**3}


def parse_duration(text: str) -> float:
    """``"90"``, ``"90s"``, ``"5m"``, ``"1.5h"`` -> seconds.

    Example:
        >>> parse_duration("5m"), parse_duration("2.5")
        (300.0, 2.5)
    """
    match = re.fullmatch(r"\s*([0-9]*\.?[0-9]+)\s*([smh]?)\s*", text.lower())
    if match is None or float(match.group(1)) <= 0:
        raise argparse.ArgumentTypeError(f"a duration like 60s, 5m or 1h, got {text!r}")
    return float(match.group(1)) * _UNITS[match.group(2)]


def parse_size(text: str) -> int:
    """``"500k"``, ``"100M"``, ``"1G"`` (binary units) -> bytes.

    Example:
        >>> parse_size("100M")
        104857600
    """
    match = re.fullmatch(r"\s*([0-9]*\.?[0-9]+)\s*([kmg]?)i?b?\s*", text.lower())
    if match is None:
        raise argparse.ArgumentTypeError(f"a size like 500k, 100M or 1G, got {text!r}")
    return int(float(match.group(1)) * _SIZES[match.group(2)])


# -- record ------------------------------------------------------------------------------------


def add_record_command(commands: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    """Add ``record`` to the command line."""
    record = commands.add_parser("record", help="record a feed's frames to a file")
    record.add_argument("feed", choices=sorted(_FEEDS), help="the feed's dialect")
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
    from streamwidgets.exceptions import ConfigurationError

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
    environment.

    Raises:
        SystemExit: the credential's variable is unset, or Pusher without ``--streams``.
        ConfigurationError: what the feed's constructor refuses.
    """
    variable, option = _FEEDS[args.feed]
    variable = args.credential_env or variable
    credential = os.environ.get(variable)
    if not credential:
        raise SystemExit(f"set the feed's credential in the environment variable {variable}")
    streams = _streams(args)
    if args.feed == "pusher" and not streams:
        raise SystemExit(
            f"pusher: name the streams to {verb} with --streams (e.g. prices,portfolio)"
        )
    return _make_feed(args.feed, args.url, {option: credential}, args.rest_url, streams)


def _streams(args: argparse.Namespace) -> list[str]:
    streams = [s for s in args.streams.split(",") if s]
    if not streams and args.feed == "hyperoru":
        from streamwidgets.dialects.hyperoru.dialect import HYPERORU_CHANNELS

        return list(HYPERORU_CHANNELS)  # an account stream: every channel unless told
    return streams


def _make_feed(
    name: str, url: str, credential: dict[str, str], rest_url: str | None, streams: list[str]
) -> Any:
    from streamwidgets import feeds

    if name == "hydra":
        return feeds.hydra(url, **credential)  # type: ignore[arg-type]
    if name == "hydra-v1":
        return feeds.hydra_v1(url, **credential)  # type: ignore[arg-type]
    if name == "pusher":
        # The session is asked for the recorded streams only (it resolves their channels).
        return feeds.pusher(url, streams=streams, **credential)  # type: ignore[arg-type]
    if name == "hyperoru":
        return feeds.hyperoru(url, **credential)  # type: ignore[arg-type]
    return feeds.axol(url, rest_url=rest_url, **credential)  # type: ignore[arg-type]


async def _record(args: argparse.Namespace, feed: Any) -> int:
    from streamwidgets.buffer.event_buffer import EventBuffer
    from streamwidgets.connection.driver import Connection, State

    streams = _streams(args)
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
