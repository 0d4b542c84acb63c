"""The ``streamwidgets sim ...`` subcommands: run one local feed simulator until stopped.

Each simulator (``hydra``, ``hydra-v1``, ``axol``, ``pusher``, ``hyperoru``: the feed
registry's entries with one, see :mod:`streamwidgets.feeds.registry`) gets the options they
all share from :func:`add_simulator_parser` and adds only its own, from its entry;
:func:`_run_simulator` makes it from them and
:func:`~streamwidgets.cli.serve.serve_until_stopped` runs it (as it runs ``sim replay``).

Shared options include ``--profile strict|lenient`` (strict, the default, sends only the
replies the feed's documents show; lenient adds the simulators' own, see
:mod:`streamwidgets.simulators.profiles`) and, for the simulators whose clients send
commands, ``--unanswered KIND`` (repeatable): commands of that kind get no reply at all.

Example:
    $ streamwidgets sim hydra --port 8765 --rate 20
    $ python -m streamwidgets sim hydra --port 0 --ready-file port.txt --drop-after 500
    $ streamwidgets sim hyperoru --profile lenient --unanswered bootstrap
"""

from __future__ import annotations

import argparse
import functools
from pathlib import Path
from typing import TYPE_CHECKING, TypeAlias

from streamwidgets.cli.arguments import events_rate, port_number
from streamwidgets.cli.serve import add_sim_replay, serve_until_stopped
from streamwidgets.feeds import registry
from streamwidgets.feeds.entry import FeedEntry, Options
from streamwidgets.simulators.http import RestSideServer
from streamwidgets.simulators.profiles import PROFILES

__all__ = ["add_sim_command", "add_simulator_parser"]

if TYPE_CHECKING:
    Kinds: TypeAlias = argparse._SubParsersAction[argparse.ArgumentParser]


def add_sim_command(commands: Kinds) -> None:
    """Add ``sim`` and its simulators to the top-level subcommands."""

    sim = commands.add_parser("sim", help="run a local feed simulator")
    kinds = sim.add_subparsers(dest="simulator", metavar="SIMULATOR")
    kinds.required = True
    for entry in registry.simulated().values():
        _add_simulator(kinds, entry)
    add_sim_replay(kinds)


def add_simulator_parser(
    kinds: Kinds,
    name: str,
    help: str,
    *,
    rate: float,
    rate_help: str,
    rest: bool = False,
    commands: bool = True,
    before_seed: Options | None = None,
    own: Options | None = None,
) -> argparse.ArgumentParser:
    """Add one simulator's subcommand with the options every simulator has.

    In help order: ``--host``, ``--port``, ``--rest-port`` (with ``rest``, for a simulator
    with a REST listener of its own), ``--rate``, the ``before_seed`` options, ``--seed``,
    the ``own`` options, ``--profile``, ``--unanswered`` (with ``commands``, for a
    simulator whose clients send commands), ``--ready-file`` (the WebSocket port; with
    ``rest``, the REST port on a second line).

    Example:
        >>> kinds = argparse.ArgumentParser().add_subparsers()
        >>> sim = add_simulator_parser(
        ...     kinds, "x", "a simulator", rate=5.0, rate_help="events/s",
        ...     own={"--token": {"default": None}},
        ... )
        >>> vars(sim.parse_args(["--port", "0", "--token", "t", "--unanswered", "ping"]))
        {'host': '127.0.0.1', 'port': 0, 'rate': 5.0, 'seed': 0, 'token': 't',
         'profile': 'strict', 'unanswered': ['ping'], 'ready_file': None}
    """
    sim = kinds.add_parser(name, help=help)
    sim.add_argument("--host", default="127.0.0.1")
    if rest:
        sim.add_argument(
            "--port", type=port_number, default=8765, help="WebSocket port; 0 picks a free one"
        )
        sim.add_argument(
            "--rest-port", type=port_number, default=0, help="REST port; 0 picks a free one"
        )
    else:
        sim.add_argument("--port", type=port_number, default=8765, help="0 picks a free port")
    sim.add_argument("--rate", type=events_rate, default=rate, help=rate_help)
    for flag, options in (before_seed or {}).items():
        sim.add_argument(flag, **options)
    sim.add_argument("--seed", type=int, default=0)
    for flag, options in (own or {}).items():
        sim.add_argument(flag, **options)
    sim.add_argument(
        "--profile",
        choices=PROFILES,
        default=PROFILES[0],
        help="strict: only the replies the feed's documents show; lenient: also the "
        "simulator's own (pongs, errors, acknowledgements)",
    )
    if commands:
        # The simulator checks the kinds: it knows its commands, the parser does not.
        sim.add_argument(
            "--unanswered",
            action="append",
            default=[],
            metavar="KIND",
            help="commands of this kind get no reply at all, though they take effect (repeatable)",
        )
    if rest:
        ready = "once listening, write the WebSocket port (line 1) and the REST port (line 2)"
    else:
        ready = "write the port to this file once listening"
    sim.add_argument("--ready-file", type=Path, default=None, help=ready)
    return sim


def _add_simulator(kinds: Kinds, entry: FeedEntry) -> None:
    """Add ``sim NAME`` for a registry entry's simulator: the shared options and its own."""
    simulated = entry.simulator
    assert simulated is not None  # only entries with a simulator get here
    sim = add_simulator_parser(
        kinds,
        entry.name,
        simulated.help,
        rate=simulated.rate,
        rate_help=simulated.rate_help,
        rest=simulated.rest,
        commands=simulated.commands,
        before_seed=simulated.before_seed,
        own=simulated.own,
    )
    for title, options in simulated.groups.items():
        group = sim.add_argument_group(title)
        for flag, keywords in options.items():
            group.add_argument(flag, **keywords)
    sim.set_defaults(func=functools.partial(_run_simulator, entry))


def _run_simulator(entry: FeedEntry, args: argparse.Namespace) -> int:
    """Make the entry's simulator from the options of :func:`add_simulator_parser` and its
    own (a ValueError exits with its message), then serve it until stopped.

    The ready file holds the WebSocket port, and with ``rest`` the REST port on line 2.
    """
    simulated = entry.simulator
    assert simulated is not None  # only entries with a simulator get here
    shared = {
        "host": args.host,
        "port": args.port,
        "rate": args.rate,
        "seed": args.seed,
        "profile": args.profile,
    }
    if simulated.rest:
        shared["rest_port"] = args.rest_port
    if "unanswered" in args:  # not for a simulator without client commands
        shared["unanswered"] = args.unanswered
    try:
        sim = simulated.cls(**shared, **simulated.options(args))
    except ValueError as exc:  # e.g. an --unanswered kind the simulator has no command for
        raise SystemExit(str(exc)) from None

    def ready() -> str:
        if isinstance(sim, RestSideServer):
            return f"{sim.port}\n{int(sim.rest_url.rsplit(':', 1)[1])}\n"
        return f"{sim.port}\n"

    return serve_until_stopped(
        sim,
        f"{entry.title} simulator",
        lambda: simulated.announce(sim, args),
        ready,
        args.ready_file,
    )
