"""The feed registry: one entry per feed, where the command line and replay learn the feeds.

Each :class:`~streamwidgets.feeds.entry.FeedEntry` gives a feed's name (as recordings'
headers and the command line give it), its constructor, its parse-only rebuild (the
dialect's ``parse_only``, from a recording's replay options), how ``record`` and ``relay``
make it from a command line, and how ``sim`` serves its simulator: the simulator's own
options, how it is made from the parsed arguments and what it announces. The command line,
replay (:func:`streamwidgets.feeds.replay`) and the Redis reader
(:func:`streamwidgets.feeds.redis`) go through it, so a new feed is its dialect module (and
simulator), plus one entry in :data:`FEEDS`.

A simulator's own options live here, in its entry, rather than beside the simulator: the
simulators are a library taking keyword arguments, and their flags, help texts and
announcements are the command line's view of them, kept with the feed's other
command-line facts (its credential's variable, what ``--streams`` means for it).

Example:
    >>> sorted(on_command_line())
    ['axol', 'hydra', 'hydra-v1', 'hyperoru', 'pusher']
    >>> d = rebuild_dialect("hydra", {"url": "ws://127.0.0.1:9/stream"})
    >>> d.name, d.describe()["url"]
    ('hydra', 'ws://127.0.0.1:9/stream')
"""

from __future__ import annotations

import argparse
from collections.abc import Mapping
from types import MappingProxyType
from typing import TYPE_CHECKING, Any

from streamwidgets.connection.dialect import Dialect
from streamwidgets.dialects.axol.channels import AxolDialect
from streamwidgets.dialects.axol.endpoints import (
    AxolGasDialect,
    AxolLiquidationsDialect,
    AxolMempoolDialect,
)
from streamwidgets.dialects.generic import GenericDialect
from streamwidgets.dialects.hydra import HydraDialect
from streamwidgets.dialects.hydra_v1 import HYDRA_V1_SCOPES, HydraV1Dialect
from streamwidgets.dialects.hyperoru.dialect import HYPERORU_CHANNELS, HyperoruDialect
from streamwidgets.dialects.pusher.app import PusherAppDialect
from streamwidgets.dialects.pusher.session_feed import PusherDialect
from streamwidgets.exceptions import ConfigurationError
from streamwidgets.feeds import constructors
from streamwidgets.feeds.entry import CommandLine, FeedEntry, Simulated

if TYPE_CHECKING:
    from streamwidgets.simulators.axol import AxolSimulator
    from streamwidgets.simulators.hydra import HydraSimulator
    from streamwidgets.simulators.hydra_v1 import HydraV1Simulator
    from streamwidgets.simulators.hyperoru import HyperoruSimulator
    from streamwidgets.simulators.pusher import PusherSimulator

__all__ = ["DEMO_FEED", "FEEDS", "demo", "on_command_line", "rebuild_dialect", "simulated"]


# -- hydra -------------------------------------------------------------------------------------


def _hydra_options(args: argparse.Namespace) -> dict[str, Any]:
    return {
        "secret": args.secret,
        "limit": args.limit,
        "heartbeat_interval": args.heartbeat,
        "max_commands_per_second": args.max_commands,
        "drop_after": args.drop_after,
        "silent_after": args.silent_after,
        "close_after": args.close_after,
        "close_code": args.close_code,
        "close_reason": args.close_reason,
        "malformed_every": args.malformed_every,
        "huge_frame_after": args.huge_frame_after,
        "huge_size": args.huge_size,
    }


def _announce_hydra(sim: HydraSimulator, args: argparse.Namespace) -> None:
    token = sim.issue_token(expires_in=args.token_ttl)
    print(f"Hydra simulator listening on {sim.url}")
    print(
        f"Simulator token (all streams, valid {args.token_ttl:g} s, "
        f"signed with the simulator secret; not a real Hydra token):"
    )
    print(token)
    print(f"Connect to: {sim.url}?token={token}")


_HYDRA_SIMULATOR = Simulated(
    "streamwidgets.simulators.hydra:HydraSimulator",
    "the Hydra JWT stream (ws://HOST:PORT/stream)",
    rate=50.0,
    rate_help="events/s per connection; 0 = max",
    options=_hydra_options,
    announce=_announce_hydra,
    before_seed={
        "--limit": {"type": int, "default": None, "help": "events per connection"},
        "--heartbeat": {"type": float, "default": 30.0, "help": "heartbeat interval, s"},
    },
    own={
        "--secret": {"default": "sim-secret", "help": "HS256 key for tokens"},
        "--token-ttl": {"type": float, "default": 86400.0, "help": "printed token, s"},
        "--max-commands": {"type": int, "default": 10, "help": "commands/s before 4003"},
    },
    groups={
        "faults (applied to every connection)": {
            "--drop-after": {"type": int, "metavar": "N", "help": "abort TCP after N events"},
            "--silent-after": {"type": int, "metavar": "N", "help": "go silent after N events"},
            "--malformed-every": {
                "type": int,
                "metavar": "N",
                "help": "one malformed frame every N events",
            },
            "--close-after": {
                "type": int,
                "metavar": "N",
                "help": "close with --close-code after N events",
            },
            "--close-code": {"type": int, "default": 1001, "metavar": "C"},
            "--close-reason": {"default": "Server going away (maintenance)"},
            "--huge-frame-after": {
                "type": int,
                "metavar": "N",
                "help": "one event of --huge-size bytes after N events",
            },
            "--huge-size": {"type": int, "default": 2 * 1024 * 1024, "metavar": "BYTES"},
        },
    },
    client=lambda sim: constructors.hydra(sim.url, token=sim.issue_token()),
    demo_streams=("signals", "alerts", "markets", "aircraft", "cyber"),
    # Split by entity, or each chart is a comb through every symbol (or aircraft): the
    # change in percent puts all symbols on one scale, altitude each aircraft's climb.
    demo_charts=(
        ("markets", "market_update", "data.changePct", "data.symbol"),
        ("aircraft", "position_update", "data.altitude", "data.icaoHex"),
    ),
)


# -- hydra-v1 ----------------------------------------------------------------------------------


def _hydra_v1_options(args: argparse.Namespace) -> dict[str, Any]:
    if args.rate <= 0 or args.ping_interval <= 0:
        raise ValueError("--rate and --ping-interval must be > 0")
    return {
        "api_keys": None if args.api_key is None else {args.api_key: HYDRA_V1_SCOPES},
        "ping_interval": args.ping_interval,
        "snapshot_size": args.snapshot_size,
        "max_connections_per_ip": args.max_connections_per_ip,
        "answer_bad_key": args.answer_bad_key,
    }


def _announce_hydra_v1(sim: HydraV1Simulator, args: argparse.Namespace) -> None:
    print(f"Hydra v1 simulator listening on {sim.url}")
    # A simulator key, printed on purpose: it is no real Hydra credential.
    print("Simulator API key (every scope; not a real Hydra key):")
    print(sim.api_key)
    print(f"Connect with: feeds.hydra_v1({sim.url!r}, api_key=...)")


_HYDRA_V1_SIMULATOR = Simulated(
    "streamwidgets.simulators.hydra_v1:HydraV1Simulator",
    "the Hydra v1 API-key stream (ws://HOST:PORT/v1/stream)",
    rate=20.0,
    rate_help="live messages/s per connection",
    options=_hydra_v1_options,
    announce=_announce_hydra_v1,
    commands=False,  # the stream takes no client commands: nothing to leave unanswered
    own={
        "--ping-interval": {"type": float, "default": 15.0, "help": "protocol pings, s"},
        "--snapshot-size": {"type": int, "default": 5, "help": "items per kind in the snapshot"},
        "--max-connections-per-ip": {"type": int, "default": 10, "help": "then HTTP 429"},
        "--answer-bad-key": {
            "choices": ("close", "http401"),
            "default": "close",
            "help": "close 1008 after the upgrade, or HTTP 401 before it",
        },
        "--api-key": {"default": None, "help": "the key to accept (default: a new one)"},
    },
    client=lambda sim: constructors.hydra_v1(sim.url, api_key=sim.api_key),
)


# -- axol --------------------------------------------------------------------------------------


def _axol_options(args: argparse.Namespace) -> dict[str, Any]:
    # Deferred like the simulator itself: only serving it needs the simulators.
    from streamwidgets.simulators import axol_protocol

    return {
        "api_keys": {args.api_key or axol_protocol.generate_key(): args.tier},
        "token_ttl": args.token_ttl,
    }


def _announce_axol(sim: AxolSimulator, args: argparse.Namespace) -> None:
    print(f"Axol simulator: stream {sim.url}, token exchange {sim.rest_url}")
    # A simulator key, printed on purpose: it is no real Axol credential.
    print(f"Simulator API key ({args.tier} tier; not a real Axol key):")
    print(sim.api_key)
    print(f"Connect with: feeds.axol({sim.url!r}, api_key=..., rest_url={sim.rest_url!r})")


_AXOL_SIMULATOR = Simulated(
    "streamwidgets.simulators.axol:AxolSimulator",
    "Axol: REST token exchange + WebSocket stream (/api/v1/ws/connect)",
    rate=10.0,
    rate_help="data messages/s per connection",
    options=_axol_options,
    announce=_announce_axol,
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
    client=lambda sim: constructors.axol(sim.url, api_key=sim.api_key, rest_url=sim.rest_url),
)


# -- hyperoru ----------------------------------------------------------------------------------


def _hyperoru_options(args: argparse.Namespace) -> dict[str, Any]:
    return {
        "session_tokens": None if args.session_token is None else [args.session_token],
        "asset_curve_interval": args.asset_curve_interval,
    }


def _announce_hyperoru(sim: HyperoruSimulator, args: argparse.Namespace) -> None:
    print(f"Hyperoru simulator listening on {sim.url}")
    # A simulator token, printed on purpose: it is no real Hyperoru credential.
    print("Simulator session token (not a real Hyperoru token):")
    print(sim.session_token)
    print(f"Connect with: feeds.hyperoru({sim.url!r}, session_token=...)")


_HYPERORU_SIMULATOR = Simulated(
    "streamwidgets.simulators.hyperoru:HyperoruSimulator",
    "the Hyperoru account stream (ws://HOST:PORT/ws)",
    rate=10.0,
    rate_help="broadcasts/s per connection",
    options=_hyperoru_options,
    announce=_announce_hyperoru,
    before_seed={
        "--asset-curve-interval": {
            "type": float,
            "default": 60.0,
            "help": "s between asset_curve_update",
        },
    },
    own={"--session-token": {"default": None, "help": "the token to accept (default: new)"}},
    client=lambda sim: constructors.hyperoru(sim.url, session_token=sim.session_token),
)


# -- pusher ------------------------------------------------------------------------------------


def _pusher_options(args: argparse.Namespace) -> dict[str, Any]:
    # Deferred like the simulator itself: only serving it needs the simulators.
    from streamwidgets.simulators import pusher_protocol

    return {
        "tokens": {args.token or pusher_protocol.generate_token(): "user_1"},
        "activity_timeout": args.activity_timeout,
        "mode": args.mode,
    }


def _announce_pusher(sim: PusherSimulator, args: argparse.Namespace) -> None:
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


_PUSHER_SIMULATOR = Simulated(
    "streamwidgets.simulators.pusher:PusherSimulator",
    "Pusher-compatible stream: REST session bootstrap + Pusher protocol 7",
    rate=10.0,
    rate_help="data events/s per connection",
    options=_pusher_options,
    announce=_announce_pusher,
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
    client=lambda sim: constructors.pusher(sim.base_url, token=sim.token),
)


# -- the registry ------------------------------------------------------------------------------


def _generic_config(config: Mapping[str, Any]) -> bool:
    # A generic feed records the name its user gave it; its options tell it apart.
    return "stream_path" in config


#: Every feed, by name, in the order the command line lists them.
FEEDS: Mapping[str, FeedEntry] = MappingProxyType(
    {
        entry.name: entry
        for entry in (
            FeedEntry(
                "hydra",
                "Hydra",
                constructors.hydra,
                HydraDialect.parse_only,
                CommandLine("HYDRA_TOKEN", "token"),
                _HYDRA_SIMULATOR,
            ),
            FeedEntry(
                "hydra-v1",
                "Hydra v1",
                constructors.hydra_v1,
                HydraV1Dialect.parse_only,
                CommandLine("HYDRA_API_KEY", "api_key"),
                _HYDRA_V1_SIMULATOR,
            ),
            FeedEntry(
                "axol",
                "Axol",
                constructors.axol,
                AxolDialect.parse_only,
                CommandLine("AXOL_API_KEY", "api_key", rest_url=True),
                _AXOL_SIMULATOR,
            ),
            FeedEntry("axol-gas", "Axol gas", constructors.axol_gas, AxolGasDialect.parse_only),
            FeedEntry(
                "axol-mempool",
                "Axol mempool",
                constructors.axol_mempool,
                AxolMempoolDialect.parse_only,
            ),
            FeedEntry(
                "axol-liquidations",
                "Axol liquidations",
                constructors.axol_liquidations,
                AxolLiquidationsDialect.parse_only,
            ),
            FeedEntry(
                "hyperoru",
                "Hyperoru",
                constructors.hyperoru,
                HyperoruDialect.parse_only,
                # An account stream: every channel unless told.
                CommandLine(
                    "HYPERORU_SESSION_TOKEN", "session_token", default_streams=HYPERORU_CHANNELS
                ),
                _HYPERORU_SIMULATOR,
            ),
            FeedEntry(
                "pusher",
                "Pusher",
                constructors.pusher,
                # No REST call: the recorded session's catalog and channels come with the config.
                PusherDialect.parse_only,
                CommandLine(
                    "PUSHER_TOKEN",
                    "token",
                    session_streams=True,
                    streams_example="prices,portfolio",
                ),
                _PUSHER_SIMULATOR,
            ),
            FeedEntry(
                "pusher-app", "Pusher app", constructors.pusher_app, PusherAppDialect.parse_only
            ),
            FeedEntry(
                "generic",
                "Generic",
                constructors.generic,
                GenericDialect.parse_only,
                recognises=_generic_config,
            ),
        )
    }
)

#: The feed the ``demo`` command serves and shows, through its simulator.
DEMO_FEED = "hydra"


def demo() -> tuple[FeedEntry, Simulated]:
    """The demo feed's entry and its simulator: what ``streamwidgets demo`` and
    ``StreamWidget.demo()`` serve, connect to (``client``), subscribe to and chart.

    Example:
        >>> entry, simulated = demo()
        >>> entry.title, simulated.demo_streams[:2]
        ('Hydra', ('signals', 'alerts'))
    """
    entry = FEEDS[DEMO_FEED]
    # The demo feed is chosen for having both; a registry without them is a bug here.
    assert entry.simulator is not None and entry.simulator.client is not None
    return entry, entry.simulator


def on_command_line() -> dict[str, FeedEntry]:
    """The feeds ``record`` and ``relay`` make, by name (those with a command line).

    Example:
        >>> on_command_line()["hydra"].command_line.credential_env
        'HYDRA_TOKEN'
    """
    return {name: entry for name, entry in FEEDS.items() if entry.command_line is not None}


def simulated() -> dict[str, FeedEntry]:
    """The feeds ``sim`` serves a simulator of, by name, in registry order.

    Example:
        >>> list(simulated())
        ['hydra', 'hydra-v1', 'axol', 'hyperoru', 'pusher']
    """
    return {name: entry for name, entry in FEEDS.items() if entry.simulator is not None}


def rebuild_dialect(name: str, config: Any) -> Dialect:
    """A parse-only dialect for a recording made with dialect ``name``, from the recording's
    replay options ``config`` (a mapping; None: the dialect recorded none).

    No credential, no token exchange, no subscribe step: replay needs the parsing only.
    Generic feeds record their own name; their options then tell them apart.

    Raises:
        ConfigurationError: the dialect is unknown here, or its options no longer fit.

    Example:
        >>> rebuild_dialect("telepathy", {})
        Traceback (most recent call last):
        ...
        streamwidgets.exceptions.ConfigurationError: the recording's dialect 'telepathy' cannot ...
    """
    entry = FEEDS.get(name)
    if entry is None and isinstance(config, Mapping):
        entry = next((e for e in FEEDS.values() if e.recognises and e.recognises(config)), None)
    if entry is None or config is None:
        raise ConfigurationError(
            f"the recording's dialect {name!r} cannot be rebuilt for replay "
            f"(known: {', '.join(sorted(FEEDS))}); pass the dialect to parse "
            "with: feeds.replay(path, dialect=...)"
        )
    try:
        return entry.parse_only(config)
    except (KeyError, TypeError, ValueError, ConfigurationError) as exc:
        raise ConfigurationError(
            f"the recording's {entry.name!r} options do not rebuild the dialect: {exc}"
        ) from None
