"""The ``streamwidgets sim ...`` subcommands: run one local feed simulator until stopped.

Each simulator (``hydra``, ``hydra-v1``, ``axol``, ``pusher``, ``hyperoru``) gets the
options they all share from :func:`add_simulator_parser` and adds only its own;
:func:`_serve_simulator` makes it from them and
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
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any, TypeAlias, TypeVar

from streamwidgets.cli.serve import add_sim_replay, serve_until_stopped

__all__ = ["add_sim_command", "add_simulator_parser"]

if TYPE_CHECKING:
    from streamwidgets.simulators.server import LoopbackServer

    Kinds: TypeAlias = argparse._SubParsersAction[argparse.ArgumentParser]

S = TypeVar("S", bound="LoopbackServer")
#: Options a simulator adds: flag -> ``add_argument`` keywords, in help order.
Options = Mapping[str, Mapping[str, Any]]


def add_sim_command(commands: Kinds) -> None:
    """Add ``sim`` and its simulators to the top-level subcommands."""

    sim = commands.add_parser("sim", help="run a local feed simulator")
    kinds = sim.add_subparsers(dest="simulator", metavar="SIMULATOR")
    kinds.required = True
    _add_sim_hydra(kinds)
    _add_sim_hydra_v1(kinds)
    _add_sim_axol(kinds)
    add_sim_replay(kinds)
    _add_sim_hyperoru(kinds)
    _add_sim_pusher(kinds)


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
    from streamwidgets.simulators.profiles import PROFILES

    sim = kinds.add_parser(name, help=help)
    sim.add_argument("--host", default="127.0.0.1")
    if rest:
        sim.add_argument(
            "--port", type=int, default=8765, help="WebSocket port; 0 picks a free one"
        )
        sim.add_argument("--rest-port", type=int, default=0, help="REST port; 0 picks a free one")
    else:
        sim.add_argument("--port", type=int, default=8765, help="0 picks a free port")
    sim.add_argument("--rate", type=float, default=rate, help=rate_help)
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


def _add_sim_hydra(kinds: Kinds) -> None:
    hydra = add_simulator_parser(
        kinds,
        "hydra",
        "the Hydra JWT stream (ws://HOST:PORT/stream)",
        rate=50.0,
        rate_help="events/s per connection; 0 = max",
        before_seed={
            "--limit": {"type": int, "default": None, "help": "events per connection"},
            "--heartbeat": {"type": float, "default": 30.0, "help": "heartbeat interval, s"},
        },
        own={
            "--secret": {"default": "sim-secret", "help": "HS256 key for tokens"},
            "--token-ttl": {"type": float, "default": 86400.0, "help": "printed token, s"},
            "--max-commands": {"type": int, "default": 10, "help": "commands/s before 4003"},
        },
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


def _run_hydra(args: argparse.Namespace) -> int:
    from streamwidgets.simulators.hydra import HydraSimulator

    try:
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
            profile=args.profile,
            unanswered=args.unanswered,
        )
    except ValueError as exc:  # e.g. an --unanswered kind Hydra has no command for
        raise SystemExit(str(exc)) from None

    def announce() -> None:
        token = sim.issue_token(expires_in=args.token_ttl)
        print(f"Hydra simulator listening on {sim.url}")
        print(
            f"Simulator token (all streams, valid {args.token_ttl:g} s, "
            f"signed with the simulator secret; not a real Hydra token):"
        )
        print(token)
        print(f"Connect to: {sim.url}?token={token}")

    return serve_until_stopped(
        sim, "Hydra simulator", announce, lambda: f"{sim.port}\n", args.ready_file
    )


def _add_sim_hydra_v1(kinds: Kinds) -> None:
    v1 = add_simulator_parser(
        kinds,
        "hydra-v1",
        "the Hydra v1 API-key stream (ws://HOST:PORT/v1/stream)",
        rate=20.0,
        rate_help="live messages/s per connection",
        commands=False,  # the stream takes no client commands: nothing to leave unanswered
        own={
            "--ping-interval": {"type": float, "default": 15.0, "help": "protocol pings, s"},
            "--snapshot-size": {
                "type": int,
                "default": 5,
                "help": "items per kind in the snapshot",
            },
            "--max-connections-per-ip": {"type": int, "default": 10, "help": "then HTTP 429"},
            "--answer-bad-key": {
                "choices": ("close", "http401"),
                "default": "close",
                "help": "close 1008 after the upgrade, or HTTP 401 before it",
            },
            "--api-key": {"default": None, "help": "the key to accept (default: a new one)"},
        },
    )
    v1.set_defaults(func=_run_hydra_v1)


def _run_hydra_v1(args: argparse.Namespace) -> int:
    from streamwidgets.simulators.hydra_v1 import HYDRA_V1_SCOPES, HydraV1Simulator

    if args.rate <= 0 or args.ping_interval <= 0:
        raise SystemExit("--rate and --ping-interval must be > 0")

    def announce(sim: HydraV1Simulator) -> None:
        print(f"Hydra v1 simulator listening on {sim.url}")
        # A simulator key, printed on purpose: it is no real Hydra credential.
        print("Simulator API key (every scope; not a real Hydra key):")
        print(sim.api_key)
        print(f"Connect with: feeds.hydra_v1({sim.url!r}, api_key=...)")

    return _serve_simulator(
        args,
        "Hydra v1 simulator",
        HydraV1Simulator,
        announce,
        api_keys=None if args.api_key is None else {args.api_key: HYDRA_V1_SCOPES},
        ping_interval=args.ping_interval,
        snapshot_size=args.snapshot_size,
        max_connections_per_ip=args.max_connections_per_ip,
        answer_bad_key=args.answer_bad_key,
    )


def _add_sim_axol(kinds: Kinds) -> None:
    axol = add_simulator_parser(
        kinds,
        "axol",
        "Axol: REST token exchange + WebSocket stream (/api/v1/ws/connect)",
        rate=10.0,
        rate_help="data messages/s per connection",
        rest=True,
        own={
            "--token-ttl": {"type": float, "default": 3600.0, "help": "JWT lifetime, s"},
            "--tier": {
                "choices": ("free", "starter", "professional", "business", "enterprise"),
                "default": "starter",
                "help": "the key's tier (its subscription limit)",
            },
            "--api-key": {"default": None, "help": "the key to accept (default: a new one)"},
        },
    )
    axol.set_defaults(func=_run_axol)


def _run_axol(args: argparse.Namespace) -> int:
    from streamwidgets.simulators.axol import AxolSimulator
    from streamwidgets.simulators.axol_protocol import generate_key

    def announce(sim: AxolSimulator) -> None:
        print(f"Axol simulator: stream {sim.url}, token exchange {sim.rest_url}")
        # A simulator key, printed on purpose: it is no real Axol credential.
        print(f"Simulator API key ({args.tier} tier; not a real Axol key):")
        print(sim.api_key)
        print(f"Connect with: feeds.axol({sim.url!r}, api_key=..., rest_url={sim.rest_url!r})")

    return _serve_simulator(
        args,
        "Axol simulator",
        AxolSimulator,
        announce,
        rest=True,
        api_keys={args.api_key or generate_key(): args.tier},
        token_ttl=args.token_ttl,
    )


def _add_sim_pusher(kinds: Kinds) -> None:
    sim = add_simulator_parser(
        kinds,
        "pusher",
        "Pusher-compatible stream: REST session bootstrap + Pusher protocol 7",
        rate=10.0,
        rate_help="data events/s per connection",
        rest=True,
        own={
            "--activity-timeout": {"type": float, "default": 120.0, "help": "seconds"},
            "--token": {"default": None, "help": "the Bearer token to accept (default: new)"},
            "--mode": {
                "choices": ["session", "app"],
                "default": "session",
                "help": "session: the REST bootstrap of feeds.pusher; app: a plain Pusher app "
                "(feeds.pusher_app) with its auth endpoints on the REST port",
            },
        },
    )
    sim.set_defaults(func=_run_pusher)


def _run_pusher(args: argparse.Namespace) -> int:
    from streamwidgets.simulators.pusher import PusherSimulator
    from streamwidgets.simulators.pusher_protocol import generate_token

    def announce(sim: PusherSimulator) -> None:
        if sim.mode == "app":
            print(f"Pusher simulator (plain app {sim.app_key!r}): WebSocket {sim.url}{sim.app_key}")
            print("Simulator Bearer token for the auth endpoints (not a real credential):")
            print(sim.token)
            print(
                f"Connect with: feeds.pusher_app({sim.app_key!r}, host={sim.host!r}, "
                f"port={sim.port}, "
                f"tls=False, auth_endpoint={sim.auth_url!r}, "
                "auth_headers={'Authorization': 'Bearer ...'})"
            )
            return
        # Clients need only the REST base URL: the session answer names the WebSocket.
        print(f"Pusher simulator: REST {sim.base_url}, WebSocket {sim.url}{sim.app_key}")
        # A simulator token, printed on purpose: it is no real credential.
        print("Simulator Bearer token (not a real credential):")
        print(sim.token)
        print(f"Connect with: feeds.pusher({sim.base_url!r}, token=...)")

    return _serve_simulator(
        args,
        "Pusher simulator",
        PusherSimulator,
        announce,
        rest=True,
        tokens={args.token or generate_token(): "user_1"},
        activity_timeout=args.activity_timeout,
        mode=args.mode,
    )


def _add_sim_hyperoru(kinds: Kinds) -> None:
    hyo = add_simulator_parser(
        kinds,
        "hyperoru",
        "the Hyperoru account stream (ws://HOST:PORT/ws)",
        rate=10.0,
        rate_help="broadcasts/s per connection",
        before_seed={
            "--asset-curve-interval": {
                "type": float,
                "default": 60.0,
                "help": "s between asset_curve_update",
            },
        },
        own={
            "--session-token": {"default": None, "help": "the token to accept (default: new)"},
        },
    )
    hyo.set_defaults(func=_run_hyperoru)


def _run_hyperoru(args: argparse.Namespace) -> int:
    from streamwidgets.simulators.hyperoru import HyperoruSimulator

    def announce(sim: HyperoruSimulator) -> None:
        print(f"Hyperoru simulator listening on {sim.url}")
        # A simulator token, printed on purpose: it is no real Hyperoru credential.
        print("Simulator session token (not a real Hyperoru token):")
        print(sim.session_token)
        print(f"Connect with: feeds.hyperoru({sim.url!r}, session_token=...)")

    return _serve_simulator(
        args,
        "Hyperoru simulator",
        HyperoruSimulator,
        announce,
        session_tokens=None if args.session_token is None else [args.session_token],
        asset_curve_interval=args.asset_curve_interval,
    )


def _serve_simulator(
    args: argparse.Namespace,
    label: str,
    make: Callable[..., S],
    announce: Callable[[S], None],
    *,
    rest: bool = False,
    **options: Any,
) -> int:
    """Make a simulator from the options of :func:`add_simulator_parser` and its own
    ``options`` (a ValueError exits with its message), then serve it until stopped.

    The ready file holds the WebSocket port, and with ``rest`` the REST port on line 2.
    """
    shared = {
        "host": args.host,
        "port": args.port,
        "rate": args.rate,
        "seed": args.seed,
        "profile": args.profile,
    }
    if rest:
        shared["rest_port"] = args.rest_port
    if "unanswered" in args:  # not for a simulator without client commands
        shared["unanswered"] = args.unanswered
    try:
        sim = make(**shared, **options)
    except ValueError as exc:
        raise SystemExit(str(exc)) from None

    def ready() -> str:
        from streamwidgets.simulators.http import RestSideServer

        if isinstance(sim, RestSideServer):
            return f"{sim.port}\n{int(sim.rest_url.rsplit(':', 1)[1])}\n"
        return f"{sim.port}\n"

    return serve_until_stopped(sim, label, lambda: announce(sim), ready, args.ready_file)
