"""The ``streamwidgets`` command line.

Subcommands register themselves in :func:`build_parser` through one ``_add_<name>``
function each, and set ``func`` (taking the parsed namespace, returning an exit code),
so new ones (``demo``, ``record``, ...) plug in without touching the others. The ``sim``
simulators live in :mod:`streamwidgets.cli.sim`, ``record`` and ``sim replay`` in
:mod:`streamwidgets.cli.record`, ``relay`` in :mod:`streamwidgets.cli.relay`.

Example:
    $ streamwidgets sim hydra --port 8765 --rate 20
    $ python -m streamwidgets sim hydra --port 0 --ready-file port.txt --drop-after 500
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import logging
import os
import sys
from collections.abc import Sequence
from pathlib import Path

from streamwidgets.cli.arguments import events_rate, parse_duration

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
    _add_relay(commands)
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


# -- sim (in cli/sim.py), record (in cli/record.py) ------------------------------------------


def _add_sim(commands: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    from streamwidgets.cli.sim import add_sim_command

    add_sim_command(commands)


def _add_record(commands: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    from streamwidgets.cli.record import add_record_command

    add_record_command(commands)


def _add_relay(commands: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    from streamwidgets.cli.relay import add_relay_command

    add_relay_command(commands)


# -- demo --------------------------------------------------------------------------------------


def _add_demo(commands: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    demo = commands.add_parser(
        "demo", help="a simulated feed, in this process, with a live buffer summary"
    )
    demo.add_argument(
        "--for",
        "--seconds",
        dest="seconds",
        type=parse_duration,
        default=None,
        help="stop after this long (e.g. 30s, 5m; plain seconds too)",
    )
    demo.add_argument("--rate", type=events_rate, default=50.0, help="events/s the simulator sends")
    demo.set_defaults(func=_run_demo)


def _run_demo(args: argparse.Namespace) -> int:
    from streamwidgets.cli.demo import run_demo

    with contextlib.suppress(KeyboardInterrupt):
        asyncio.run(run_demo(seconds=args.seconds, rate=args.rate))
    return 0


# -- lab ---------------------------------------------------------------------------------------


def quickstart_notebook() -> Path:
    """The quickstart notebook: the repository's copy, else the one inside the package."""
    package = Path(__file__).resolve().parent.parent  # cli/ is one level down
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
