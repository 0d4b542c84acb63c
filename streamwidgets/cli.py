"""The ``streamwidgets`` command line.

Subcommands register themselves in :func:`build_parser` through one ``_add_<name>``
function each, and set ``func`` (taking the parsed namespace, returning an exit code),
so new ones (``demo``, ``record``, ...) plug in without touching the others.

Example:
    $ streamwidgets sim hydra --port 8765 --rate 20
    $ python -m streamwidgets sim hydra --port 0 --ready-file /tmp/port --drop-after 500
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import logging
import os
import signal
import sys
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

__all__ = ["build_parser", "main"]

logger = logging.getLogger(__name__)


def build_parser() -> argparse.ArgumentParser:
    """Build the argument parser with every subcommand."""
    parser = argparse.ArgumentParser(
        prog="streamwidgets", description="Live WebSocket feeds, explorable in Jupyter."
    )
    parser.add_argument("-v", "--verbose", action="count", default=0, help="more logging")
    commands = parser.add_subparsers(dest="command", metavar="COMMAND")
    commands.required = True
    _add_sim(commands)
    _add_demo(commands)
    _add_lab(commands)
    _add_record(commands)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Run the command line; returns the process exit code.

    Example:
        >>> main(["sim", "hydra", "--help"])  # doctest: +SKIP
    """
    parser = build_parser()
    args = parser.parse_args(argv)
    logging.basicConfig(
        level=logging.WARNING - 10 * min(args.verbose, 2),
        format="%(asctime)s %(levelname)s %(name)s: %(message)s",
    )
    return int(args.func(args))


# -- record, sim replay (in cli_record) --------------------------------------------------------


def _add_record(commands: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    from .cli_record import add_record_command

    add_record_command(commands)


def _add_sim_replay(kinds: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    from .cli_record import add_sim_replay

    add_sim_replay(kinds)


# -- demo --------------------------------------------------------------------------------------


def _add_demo(commands: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    demo = commands.add_parser(
        "demo", help="the simulated Hydra feed, in this process, with a live buffer summary"
    )
    demo.add_argument("--seconds", type=float, default=None, help="stop after this long")
    demo.add_argument("--rate", type=float, default=50.0, help="events/s the simulator sends")
    demo.set_defaults(func=_run_demo)


def _run_demo(args: argparse.Namespace) -> int:
    from .demo import run_demo

    if args.seconds is not None and args.seconds <= 0:
        raise SystemExit("--seconds must be > 0")
    if args.rate < 0:
        raise SystemExit("--rate must be >= 0")
    with contextlib.suppress(KeyboardInterrupt):
        asyncio.run(run_demo(seconds=args.seconds, rate=args.rate))
    return 0


# -- lab ---------------------------------------------------------------------------------------


def quickstart_notebook() -> Path:
    """The quickstart notebook: the repository's copy, else the one inside the package."""
    package = Path(__file__).resolve().parent
    for candidate in (
        package.parent / "notebooks" / "quickstart.ipynb",
        package / "notebooks" / "quickstart.ipynb",
    ):
        if candidate.exists():
            return candidate
    raise SystemExit("the quickstart notebook is not installed with this copy of streamwidgets")


def _add_lab(commands: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    lab = commands.add_parser("lab", help="open the quickstart notebook in JupyterLab")
    lab.add_argument("--ip", default="127.0.0.1", help="address JupyterLab listens on")
    lab.add_argument("--port", type=int, default=8888, help="port JupyterLab listens on")
    lab.add_argument("--no-browser", action="store_true", help="do not open a web browser")
    lab.add_argument("--dry-run", action="store_true", help="print the command, run nothing")
    lab.set_defaults(func=_run_lab)


def _run_lab(args: argparse.Namespace) -> int:
    import shlex
    import subprocess

    notebook = quickstart_notebook()
    command = [
        sys.executable,
        "-m",
        "jupyter",
        "lab",
        f"--ServerApp.root_dir={notebook.parent}",
        f"--ServerApp.ip={args.ip}",
        f"--ServerApp.port={args.port}",
        notebook.name,
    ]
    if args.no_browser:
        command.append("--no-browser")
    if hasattr(os, "geteuid") and os.geteuid() == 0:
        # JupyterLab refuses root without this; containers and CI machines run as root.
        command.append("--allow-root")
    if args.dry_run:
        print(shlex.join(command))
        return 0
    if os.name == "posix":
        # Become JupyterLab: signals then reach the server itself, which shuts its
        # kernels down, and no orphan server outlives this command.
        os.chdir(notebook.parent)
        os.execv(sys.executable, command)
    with contextlib.suppress(KeyboardInterrupt):
        return subprocess.call(command, cwd=notebook.parent)
    return 0


# -- sim ---------------------------------------------------------------------------------------


def _add_sim(commands: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    sim = commands.add_parser("sim", help="run a local feed simulator")
    kinds = sim.add_subparsers(dest="simulator", metavar="SIMULATOR")
    kinds.required = True

    hydra = kinds.add_parser("hydra", help="the Hydra JWT stream (ws://HOST:PORT/stream)")
    hydra.add_argument("--host", default="127.0.0.1")
    hydra.add_argument("--port", type=int, default=8765, help="0 picks a free port")
    hydra.add_argument("--rate", type=float, default=50.0, help="events/s per connection; 0 = max")
    hydra.add_argument("--limit", type=int, default=None, help="events per connection")
    hydra.add_argument("--heartbeat", type=float, default=30.0, help="heartbeat interval, s")
    hydra.add_argument("--seed", type=int, default=0)
    hydra.add_argument("--secret", default="sim-secret", help="HS256 key for tokens")
    hydra.add_argument("--token-ttl", type=float, default=86400.0, help="printed token, s")
    hydra.add_argument("--max-commands", type=int, default=10, help="commands/s before 4003")
    hydra.add_argument(
        "--ready-file", type=Path, default=None, help="write the port to this file once listening"
    )
    faults = hydra.add_argument_group("faults (applied to every connection)")
    faults.add_argument("--drop-after", type=int, metavar="N", help="abort TCP after N events")
    faults.add_argument("--silent-after", type=int, metavar="N", help="go silent after N events")
    faults.add_argument(
        "--malformed-every", type=int, metavar="N", help="one malformed frame every N events"
    )
    faults.add_argument(
        "--close-after", type=int, metavar="N", help="close with --close-code after N events"
    )
    faults.add_argument("--close-code", type=int, default=1001, metavar="C")
    faults.add_argument("--close-reason", default="Server going away (maintenance)")
    faults.add_argument(
        "--huge-frame-after",
        type=int,
        metavar="N",
        help="one event of --huge-size bytes after N events",
    )
    faults.add_argument("--huge-size", type=int, default=2 * 1024 * 1024, metavar="BYTES")
    hydra.set_defaults(func=_run_hydra)
    _add_sim_hydra_v1(kinds)
    _add_sim_axol(kinds)
    _add_sim_replay(kinds)
    _add_sim_hyperoru(kinds)
    _add_sim_pusher(kinds)


def _add_sim_pusher(kinds: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    sim = kinds.add_parser(
        "pusher", help="Pusher-compatible stream: REST session bootstrap + Pusher protocol 7"
    )
    sim.add_argument("--host", default="127.0.0.1")
    sim.add_argument("--port", type=int, default=8765, help="WebSocket port; 0 picks a free one")
    sim.add_argument("--rest-port", type=int, default=0, help="REST port; 0 picks a free one")
    sim.add_argument("--rate", type=float, default=10.0, help="data events/s per connection")
    sim.add_argument("--seed", type=int, default=0)
    sim.add_argument("--activity-timeout", type=float, default=120.0, help="seconds")
    sim.add_argument("--token", default=None, help="the Bearer token to accept (default: new)")
    sim.add_argument(
        "--ready-file",
        type=Path,
        default=None,
        help="once listening, write the WebSocket port (line 1) and the REST port (line 2)",
    )
    sim.set_defaults(func=_run_pusher)


def _run_pusher(args: argparse.Namespace) -> int:
    from streamwidgets.simulators.pusher import PusherSimulator
    from streamwidgets.simulators.pusher_protocol import generate_token

    try:
        sim = PusherSimulator(
            host=args.host,
            port=args.port,
            rest_port=args.rest_port,
            tokens={args.token or generate_token(): "user_1"},
            activity_timeout=args.activity_timeout,
            rate=args.rate,
            seed=args.seed,
        )
    except ValueError as exc:
        raise SystemExit(str(exc)) from None

    def announce() -> None:
        # Clients need only the REST base URL: the session answer names the WebSocket.
        print(f"Pusher simulator: REST {sim.base_url}, WebSocket {sim.url}{sim.app_key}")
        # A simulator token, printed on purpose: it is no real credential.
        print("Simulator Bearer token (not a real credential):")
        print(sim.token)
        print(f"Connect with: feeds.pusher({sim.base_url!r}, token=...)")

    def ready() -> str:
        return f"{sim.port}\n{int(sim.base_url.rsplit(':', 1)[1])}\n"

    return _serve_until_stopped(sim, "Pusher simulator", announce, ready, args.ready_file)


def _add_sim_axol(kinds: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    axol = kinds.add_parser(
        "axol", help="Axol: REST token exchange + WebSocket stream (/api/v1/ws/connect)"
    )
    axol.add_argument("--host", default="127.0.0.1")
    axol.add_argument("--port", type=int, default=8765, help="WebSocket port; 0 picks a free one")
    axol.add_argument("--rest-port", type=int, default=0, help="REST port; 0 picks a free one")
    axol.add_argument("--rate", type=float, default=10.0, help="data messages/s per connection")
    axol.add_argument("--seed", type=int, default=0)
    axol.add_argument("--token-ttl", type=float, default=3600.0, help="JWT lifetime, s")
    axol.add_argument(
        "--tier",
        choices=("free", "starter", "professional", "business", "enterprise"),
        default="starter",
        help="the key's tier (its subscription limit)",
    )
    axol.add_argument("--api-key", default=None, help="the key to accept (default: a new one)")
    axol.add_argument(
        "--ready-file",
        type=Path,
        default=None,
        help="once listening, write the WebSocket port (line 1) and the REST port (line 2)",
    )
    axol.set_defaults(func=_run_axol)


def _run_axol(args: argparse.Namespace) -> int:
    from streamwidgets.simulators.axol import AxolSimulator
    from streamwidgets.simulators.axol_protocol import generate_key

    try:
        sim = AxolSimulator(
            host=args.host,
            port=args.port,
            rest_port=args.rest_port,
            api_keys={args.api_key or generate_key(): args.tier},
            token_ttl=args.token_ttl,
            rate=args.rate,
            seed=args.seed,
        )
    except ValueError as exc:
        raise SystemExit(str(exc)) from None

    def announce() -> None:
        print(f"Axol simulator: stream {sim.url}, token exchange {sim.rest_url}")
        # A simulator key, printed on purpose: it is no real Axol credential.
        print(f"Simulator API key ({args.tier} tier; not a real Axol key):")
        print(sim.api_key)
        print(f"Connect with: feeds.axol({sim.url!r}, api_key=..., rest_url={sim.rest_url!r})")

    def ready() -> str:
        return f"{sim.port}\n{int(sim.rest_url.rsplit(':', 1)[1])}\n"

    return _serve_until_stopped(sim, "Axol simulator", announce, ready, args.ready_file)


def _add_sim_hyperoru(kinds: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    hyo = kinds.add_parser("hyperoru", help="the Hyperoru account stream (ws://HOST:PORT/ws)")
    hyo.add_argument("--host", default="127.0.0.1")
    hyo.add_argument("--port", type=int, default=8765, help="0 picks a free port")
    hyo.add_argument("--rate", type=float, default=10.0, help="broadcasts/s per connection")
    hyo.add_argument(
        "--asset-curve-interval", type=float, default=60.0, help="s between asset_curve_update"
    )
    hyo.add_argument("--seed", type=int, default=0)
    hyo.add_argument("--session-token", default=None, help="the token to accept (default: new)")
    hyo.add_argument(
        "--ready-file", type=Path, default=None, help="write the port to this file once listening"
    )
    hyo.set_defaults(func=_run_hyperoru)


def _run_hyperoru(args: argparse.Namespace) -> int:
    from streamwidgets.simulators.hyperoru import HyperoruSimulator

    try:
        sim = HyperoruSimulator(
            host=args.host,
            port=args.port,
            session_tokens=None if args.session_token is None else [args.session_token],
            rate=args.rate,
            asset_curve_interval=args.asset_curve_interval,
            seed=args.seed,
        )
    except ValueError as exc:
        raise SystemExit(str(exc)) from None

    def announce() -> None:
        print(f"Hyperoru simulator listening on {sim.url}")
        # A simulator token, printed on purpose: it is no real Hyperoru credential.
        print("Simulator session token (not a real Hyperoru token):")
        print(sim.session_token)
        print(f"Connect with: feeds.hyperoru({sim.url!r}, session_token=...)")

    return _serve_until_stopped(
        sim, "Hyperoru simulator", announce, lambda: f"{sim.port}\n", args.ready_file
    )


def _add_sim_hydra_v1(kinds: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    v1 = kinds.add_parser("hydra-v1", help="the Hydra v1 API-key stream (ws://HOST:PORT/v1/stream)")
    v1.add_argument("--host", default="127.0.0.1")
    v1.add_argument("--port", type=int, default=8765, help="0 picks a free port")
    v1.add_argument("--rate", type=float, default=20.0, help="live messages/s per connection")
    v1.add_argument("--seed", type=int, default=0)
    v1.add_argument("--ping-interval", type=float, default=15.0, help="protocol pings, s")
    v1.add_argument("--snapshot-size", type=int, default=5, help="items per kind in the snapshot")
    v1.add_argument("--max-connections-per-ip", type=int, default=10, help="then HTTP 429")
    v1.add_argument(
        "--answer-bad-key",
        choices=("close", "http401"),
        default="close",
        help="close 1008 after the upgrade, or HTTP 401 before it",
    )
    v1.add_argument("--api-key", default=None, help="the key to accept (default: a new one)")
    v1.add_argument(
        "--ready-file", type=Path, default=None, help="write the port to this file once listening"
    )
    v1.set_defaults(func=_run_hydra_v1)


def _run_hydra_v1(args: argparse.Namespace) -> int:
    from streamwidgets.simulators.hydra_v1 import HYDRA_V1_SCOPES, HydraV1Simulator

    if args.rate <= 0 or args.ping_interval <= 0:
        raise SystemExit("--rate and --ping-interval must be > 0")
    try:
        sim = HydraV1Simulator(
            host=args.host,
            port=args.port,
            api_keys=None if args.api_key is None else {args.api_key: HYDRA_V1_SCOPES},
            rate=args.rate,
            seed=args.seed,
            ping_interval=args.ping_interval,
            snapshot_size=args.snapshot_size,
            max_connections_per_ip=args.max_connections_per_ip,
            answer_bad_key=args.answer_bad_key,
        )
    except ValueError as exc:
        raise SystemExit(str(exc)) from None

    def announce() -> None:
        print(f"Hydra v1 simulator listening on {sim.url}")
        # A simulator key, printed on purpose: it is no real Hydra credential.
        print("Simulator API key (every scope; not a real Hydra key):")
        print(sim.api_key)

    return _serve_until_stopped(
        sim, "Hydra v1 simulator", announce, lambda: f"{sim.port}\n", args.ready_file
    )


def _run_hydra(args: argparse.Namespace) -> int:
    from streamwidgets.simulators.hydra import HydraSimulator

    sim = HydraSimulator(
        host=args.host,
        port=args.port,
        secret=args.secret,
        rate=args.rate,
        limit=args.limit,
        heartbeat_interval=args.heartbeat,
        max_commands_per_second=args.max_commands,
        seed=args.seed,
        drop_after=args.drop_after,
        silent_after=args.silent_after,
        close_after=args.close_after,
        close_code=args.close_code,
        close_reason=args.close_reason,
        malformed_every=args.malformed_every,
        huge_frame_after=args.huge_frame_after,
        huge_size=args.huge_size,
    )

    def announce() -> None:
        token = sim.issue_token(expires_in=args.token_ttl)
        print(f"Hydra simulator listening on {sim.url}")
        print(
            f"Simulator token (all streams, valid {args.token_ttl:g} s, "
            f"signed with the simulator secret; not a real Hydra token):"
        )
        print(token)
        print(f"Connect to: {sim.url}?token={token}")

    return _serve_until_stopped(
        sim, "Hydra simulator", announce, lambda: f"{sim.port}\n", args.ready_file
    )


def _serve_until_stopped(
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
                _write_atomically(ready_file, ready_text())
            await stop.wait()
        print(f"{label} stopped.", file=sys.stderr, flush=True)

    with contextlib.suppress(KeyboardInterrupt):
        asyncio.run(serve())
    return 0


def _write_atomically(path: Path, text: str) -> None:
    # A reader polling for the file must never see it half written.
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    tmp.write_text(text)
    os.replace(tmp, path)
