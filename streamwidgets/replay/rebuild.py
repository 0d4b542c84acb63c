"""Rebuilding a recorded feed's dialect, for parsing only, from a recording's header.

A recording's header names the dialect and holds its
:meth:`~streamwidgets.connection.dialect.Dialect.replay_config`: the non-secret options that
decide how frames are parsed. Replay needs the parsing and nothing else (no credential,
no token exchange, no subscribe step), so each dialect is rebuilt here with a
placeholder credential that never goes on any wire. Pusher's copy gets the recorded
session's catalog and channel -> stream mapping and calls no REST endpoint; Hyperoru's
keeps the channels the live client filtered out. Options a dialect resolves only when it
connects come from the recording's ``replay-config`` marker (see
:mod:`streamwidgets.replay.dialect`).

Example:
    >>> d = rebuild_dialect("hydra", {"url": "ws://127.0.0.1:9/stream"})
    >>> d.name, d.describe()["url"]
    ('hydra', 'ws://127.0.0.1:9/stream')
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

from streamwidgets.connection.dialect import Dialect
from streamwidgets.exceptions import ConfigurationError

__all__ = ["REPLAYABLE_DIALECTS", "rebuild_dialect"]

#: Stands in for the credential a dialect's constructor requires; replay never sends it.
_PLACEHOLDER = "replay-without-credentials"


def _hydra(config: Mapping[str, Any]) -> Dialect:
    from streamwidgets.dialects.hydra import HydraDialect

    return HydraDialect(config["url"], token=_PLACEHOLDER, time_unit=config.get("time_unit"))


def _hydra_v1(config: Mapping[str, Any]) -> Dialect:
    from streamwidgets.dialects.hydra_v1 import HydraV1Dialect

    return HydraV1Dialect(
        config["url"], api_key=_PLACEHOLDER, snapshot=bool(config.get("snapshot", True))
    )


def _axol(config: Mapping[str, Any]) -> Dialect:
    from streamwidgets.dialects.axol.channels import AXOL_CHAINS, AxolDialect

    return AxolDialect(
        config["url"], api_key=_PLACEHOLDER, chains=config.get("chains") or AXOL_CHAINS
    )


def _axol_endpoint(kind: str) -> Callable[[Mapping[str, Any]], Dialect]:
    def build(config: Mapping[str, Any]) -> Dialect:
        from streamwidgets.dialects.axol import endpoints as axol_endpoints

        cls = {
            "axol-gas": axol_endpoints.AxolGasDialect,
            "axol-mempool": axol_endpoints.AxolMempoolDialect,
            "axol-liquidations": axol_endpoints.AxolLiquidationsDialect,
        }[kind]
        options = {k: v for k, v in config.items() if v is not None}
        return cls(api_key=_PLACEHOLDER, **options)  # type: ignore[arg-type]

    return build


def _pusher(config: Mapping[str, Any]) -> Dialect:
    from streamwidgets.dialects.pusher.session_feed import PusherDialect

    # No REST call: the recorded session's catalog and channels come with the config.
    return PusherDialect.parse_only(config, token=_PLACEHOLDER)


def _pusher_app(config: Mapping[str, Any]) -> Dialect:
    from streamwidgets.dialects.pusher.app import PusherAppDialect

    # Parsing needs no auth endpoint: what was signed is in the recorded frames.
    return PusherAppDialect(**dict(config))


def _hyperoru(config: Mapping[str, Any]) -> Dialect:
    from streamwidgets.dialects.hyperoru.dialect import HyperoruDialect

    dialect = HyperoruDialect(config["url"], session_token=_PLACEHOLDER)
    # The channels the live client filtered out stay filtered (unsubscribe sends nothing).
    dialect.unsubscribe([str(c) for c in config.get("muted") or ()])
    return dialect


def _generic(config: Mapping[str, Any]) -> Dialect:
    from streamwidgets.dialects.generic import GenericDialect

    return GenericDialect(**dict(config))


#: Dialect name (as in a recording's header) -> builder of a parse-only copy.
REPLAYABLE_DIALECTS: dict[str, Callable[[Mapping[str, Any]], Dialect]] = {
    "hydra": _hydra,
    "hydra-v1": _hydra_v1,
    "axol": _axol,
    "axol-gas": _axol_endpoint("axol-gas"),
    "axol-mempool": _axol_endpoint("axol-mempool"),
    "axol-liquidations": _axol_endpoint("axol-liquidations"),
    "pusher": _pusher,
    "pusher-app": _pusher_app,
    "hyperoru": _hyperoru,
    "generic": _generic,
}


def rebuild_dialect(name: str, config: Mapping[str, Any] | None) -> Dialect:
    """A parse-only dialect for a recording made with dialect ``name``.

    Generic feeds record their own name; ``config["name"]`` then tells them apart.

    Raises:
        ConfigurationError: the dialect is unknown here, or its options no longer fit.

    Example:
        >>> rebuild_dialect("telepathy", {})
        Traceback (most recent call last):
        ...
        streamwidgets.exceptions.ConfigurationError: the recording's dialect 'telepathy' cannot ...
    """
    if config is not None and "stream_path" in config and name not in REPLAYABLE_DIALECTS:
        name = "generic"  # a generic feed configured with its own name
    build = REPLAYABLE_DIALECTS.get(name)
    if build is None or config is None:
        raise ConfigurationError(
            f"the recording's dialect {name!r} cannot be rebuilt for replay "
            f"(known: {', '.join(sorted(REPLAYABLE_DIALECTS))}); pass the dialect to parse "
            "with: feeds.replay(path, dialect=...)"
        )
    try:
        return build(config)
    except (KeyError, TypeError, ValueError, ConfigurationError) as exc:
        raise ConfigurationError(
            f"the recording's {name!r} options do not rebuild the dialect: {exc}"
        ) from None
