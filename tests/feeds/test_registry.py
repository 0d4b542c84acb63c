"""The feed registry: every entry round-trips through replay, the command line takes its
feeds and simulators from it, and the command line, replay and the relay name no feed."""

from __future__ import annotations

import argparse
import ast
import dataclasses
import re
from collections.abc import Callable
from pathlib import Path
from types import MappingProxyType
from typing import Any

import orjson
import pytest

import streamwidgets
from streamwidgets.cli.main import build_parser
from streamwidgets.cli.record import feed_from_args, streams_from_args
from streamwidgets.connection.driver import State
from streamwidgets.dialects.generic import GenericDialect
from streamwidgets.exceptions import ConfigurationError
from streamwidgets.feeds import registry
from streamwidgets.feeds.entry import CommandLine, FeedEntry
from tests.support.waiting import seconds

SECRET = "secret-credential-0123"

#: One sample per feed: constructor arguments, then what the live session resolved.
SAMPLES: dict[str, tuple[tuple[Any, ...], dict[str, Any], Callable[[Any], None] | None]] = {
    "hydra": (("ws://h:1/stream",), {"token": SECRET, "time_unit": "s"}, None),
    "hydra-v1": (("ws://h:1/v1/stream",), {"api_key": SECRET, "snapshot": False}, None),
    "axol": (("ws://h:1/api/v1/ws/connect",), {"api_key": SECRET}, None),
    "axol-gas": (("ws://h:1",), {"api_key": SECRET, "chain": "polygon", "interval": 5}, None),
    "axol-mempool": (("ws://h:1",), {"api_key": SECRET, "chain": "arbitrum"}, None),
    "axol-liquidations": (
        ("ws://h:1",),
        {"api_key": SECRET, "protocol": "aave_v3", "min_profit": 5.0},
        None,
    ),
    "hyperoru": (
        ("ws://h:1/ws",),
        {"session_token": SECRET},
        lambda feed: feed.unsubscribe(["asset_curve"]),
    ),
    "pusher": (
        ("http://127.0.0.1:9",),
        {"token": SECRET, "streams": ["portfolio"]},
        lambda feed: setattr(feed, "_streams_of", {"presence-portfolio-u7": "portfolio"}),
    ),
    "pusher-app": (
        ("app-key",),
        {
            "cluster": "eu",
            "auth_endpoint": "https://example.com/auth",
            "auth_headers": {"Authorization": f"Bearer {SECRET}"},
        },
        None,
    ),
    "generic": (("ws://h:1/ws",), {"type_path": "e", "stream_path": "s"}, None),
}


def made(name: str) -> Any:
    args, kwargs, resolve = SAMPLES[name]
    feed = registry.FEEDS[name].make(*args, **kwargs)
    if resolve is not None:
        resolve(feed)
    return feed


def test_every_feed_has_a_sample():
    """A new entry needs a sample here, so its round trip is checked too."""
    assert set(SAMPLES) == set(registry.FEEDS)


@pytest.mark.parametrize("name", sorted(registry.FEEDS))
def test_every_entry_round_trips_through_its_replay_config(name):
    """constructor -> replay_config -> rebuild: the same kind of dialect with the same
    options and shown URL, under the entry's name, holding no credential."""
    original = made(name)
    assert original.name == name
    config = original.replay_config()
    assert config is not None and SECRET not in orjson.dumps(config).decode()
    rebuilt = registry.rebuild_dialect(name, orjson.loads(orjson.dumps(config)))
    assert type(rebuilt) is type(original) and rebuilt.name == name
    assert rebuilt.replay_config() == config
    assert rebuilt.describe()["url"] == original.describe()["url"]
    assert all(SECRET not in s.reveal() for s in rebuilt.secrets())
    # The copy's own options rebuild it again, unchanged.
    assert registry.rebuild_dialect(name, rebuilt.replay_config()).replay_config() == config


def test_a_user_named_generic_feed_and_an_unknown_dialect():
    """A generic feed records its own name: its options tell it apart; anything else is
    refused, naming the feeds known."""
    config = GenericDialect("ws://h:1/ws", stream_path="s", name="binance-ish").replay_config()
    assert registry.rebuild_dialect("binance-ish", config).name == "binance-ish"
    with pytest.raises(ConfigurationError, match=r"'telepathy' cannot .*\(known: axol, axol-gas"):
        registry.rebuild_dialect("telepathy", {"url": "ws://h:1/ws"})
    with pytest.raises(ConfigurationError, match="'hydra' options do not rebuild"):
        registry.rebuild_dialect("hydra", {"time_unit": "s"})


@pytest.mark.parametrize("name", sorted(registry.on_command_line()))
def test_every_command_line_feed_is_made_from_a_command_line(name, monkeypatch):
    """`record NAME --url URL` with the entry's credential variable makes the entry's feed."""
    entry = registry.FEEDS[name]
    assert entry.command_line is not None
    url = SAMPLES[name][0][0]
    monkeypatch.setenv(entry.command_line.credential_env, SECRET)
    args = build_parser().parse_args(
        ["record", name, "--url", url, "--streams", "portfolio", "-o", "x.jsonl"]
    )
    feed = feed_from_args(args, "record")
    assert feed.name == name and [s.reveal() for s in feed.secrets()][:1] == [SECRET]


def _choices(parser: argparse.ArgumentParser, *path: str) -> list[str]:
    for name in path:
        sub = next(a for a in parser._actions if isinstance(a, argparse._SubParsersAction))
        parser = sub.choices[name]
    feed = next(a for a in parser._actions if a.dest == "feed")
    return list(feed.choices)


def _simulators(parser: argparse.ArgumentParser) -> list[str]:
    sub = next(a for a in parser._actions if isinstance(a, argparse._SubParsersAction))
    sim = sub.choices["sim"]
    kinds = next(a for a in sim._actions if isinstance(a, argparse._SubParsersAction))
    return list(kinds.choices)


def test_the_command_line_lists_the_registry_feeds_and_simulators():
    parser = build_parser()
    assert _choices(parser, "record") == sorted(registry.on_command_line())
    assert _choices(parser, "relay") == sorted(registry.on_command_line())
    assert _simulators(parser) == [*registry.simulated(), "replay"]


def test_a_new_registry_entry_is_on_the_command_line_with_nothing_else(monkeypatch):
    """One entry more (a feed with a credential variable, default streams and a simulator):
    record and relay offer it and make it, sim serves it; nothing else is touched."""
    made_with: dict[str, Any] = {}

    def make(url: str, *, passphrase: str) -> GenericDialect:
        made_with.update(url=url, passphrase=passphrase)
        return GenericDialect(url, stream_path="s", name="parrot")

    hydra = registry.FEEDS["hydra"]
    parrot = FeedEntry(
        "parrot",
        "Parrot",
        make,
        GenericDialect.parse_only,
        CommandLine("PARROT_PASSPHRASE", "passphrase", default_streams=("squawks",)),
        dataclasses.replace(hydra.simulator, help="a parrot"),  # type: ignore[type-var]
    )
    monkeypatch.setattr(registry, "FEEDS", MappingProxyType({**registry.FEEDS, "parrot": parrot}))
    monkeypatch.setenv("PARROT_PASSPHRASE", SECRET)
    parser = build_parser()
    assert "parrot" in _choices(parser, "record") and "parrot" in _choices(parser, "relay")
    assert "parrot" in _simulators(parser)

    args = parser.parse_args(["relay", "parrot", "--url", "ws://h:1/ws", "--to", "redis://h"])
    assert feed_from_args(args, "relay").name == "parrot"
    assert made_with == {"url": "ws://h:1/ws", "passphrase": SECRET}
    assert streams_from_args(args) == ["squawks"]
    sim = parser.parse_args(["sim", "parrot", "--port", "0", "--drop-after", "3"])
    assert (sim.drop_after, sim.rate, callable(sim.func)) == (3, 50.0, True)
    assert registry.rebuild_dialect("parrot", {"url": "ws://h:1/ws", "name": "parrot"}).name == (
        "parrot"
    )


# -- no feed named outside the registry -----------------------------------------------------

ROOT = Path(streamwidgets.__file__).parent
#: Packages and modules that reach the feeds through the registry only: every layer but
#: the dialects, the simulators and the feeds package that lists them.
FEED_FREE = (
    "_util",
    "buffer",
    "recording",
    "connection",
    "replay",
    "relay",
    "widget",
    "cli",
    "headless.py",
    "events.py",
    "exceptions.py",
)


def _words(identifier: str) -> set[str]:
    """``_add_sim_hydra_v1`` -> {add, sim, hydra, v1}; ``HydraV1Simulator`` -> {hydra, v1, ...}."""
    spaced = re.sub(r"(?<=[a-z0-9])(?=[A-Z])", "_", identifier)
    return {w for w in re.split(r"[^A-Za-z0-9]+", spaced.lower()) if w}


def _spelling(text: str) -> str:
    return re.sub(r"[-_\s]+", "-", text.strip().lower())


def _docstrings(tree: ast.AST) -> set[int]:
    found = set()
    for node in ast.walk(tree):
        if isinstance(node, (ast.Module, ast.ClassDef, ast.FunctionDef, ast.AsyncFunctionDef)):
            body = node.body
            if body and isinstance(body[0], ast.Expr) and isinstance(body[0].value, ast.Constant):
                found.add(id(body[0].value))
    return found


def feed_names_in_code(source: str) -> list[str]:
    """Where code (not a docstring, not a comment, not prose in a help text) names a feed of
    the registry: a string that is a feed's name (``"pusher"``), or an identifier, imported
    module or attribute with a feed's word in it (``_add_sim_hydra``, ``feeds.axol``,
    ``streamwidgets.dialects.hyperoru``)."""
    # A name in any spelling: "hydra-v1", "hydra_v1", "HYDRA V1".
    names = {_spelling(name) for name in registry.FEEDS}
    # A feed's own word (hydra, axol, ...); "generic" is the configurable dialect, no feed.
    words = {name.split("-")[0] for name in registry.FEEDS} - {"generic"}
    tree = ast.parse(source)
    skip = _docstrings(tree)
    hits = []
    for node in ast.walk(tree):
        identifiers: list[str] = []
        if isinstance(node, ast.Constant) and isinstance(node.value, str) and id(node) not in skip:
            if _spelling(node.value) in names:
                hits.append(repr(node.value))
        elif isinstance(node, ast.Name):
            identifiers.append(node.id)
        elif isinstance(node, ast.Attribute):
            identifiers.append(node.attr)
        elif isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)):
            identifiers.append(node.name)
        elif isinstance(node, (ast.arg, ast.keyword)):
            identifiers.append(node.arg or "")
        elif isinstance(node, (ast.Import, ast.ImportFrom)):
            identifiers += [getattr(node, "module", None) or "", *(a.name for a in node.names)]
            identifiers += [a.asname for a in node.names if a.asname]
        hits += [i for i in identifiers if _words(i) & words]
    return hits


def test_the_check_finds_feed_names_in_code_and_not_in_prose():
    """The check below can fail: the per-feed code it replaced is caught, docs are not."""
    old = '''
from streamwidgets.simulators.hydra import HydraSimulator

def _add_sim_hydra(kinds):
    """Add the Hydra simulator."""
    kinds.add_argument("--rest-url", help="Axol: the token exchange's base URL")

def feed_from_args(args):
    if args.feed == "pusher":
        return feeds.hyperoru(args.url)
    return _FEEDS["hydra-v1"]
'''
    assert sorted(feed_names_in_code(old)) == sorted(
        [
            "streamwidgets.simulators.hydra",
            "HydraSimulator",
            "_add_sim_hydra",
            "'pusher'",
            "hyperoru",
            "'hydra-v1'",
        ]
    )
    prose = '''
"""Feeds: Hydra, Axol, pusher and hyperoru."""
def f(parser, key="streamwidgets:hydra"):
    """e.g. feeds.hydra(url, token=...)"""
    parser.add_argument("--url", help="the feed's WebSocket URL (pusher: its REST base URL)")
'''
    assert feed_names_in_code(prose) == []


def _modules() -> list[Path]:
    return sorted(
        p
        for package in FEED_FREE
        for p in ((ROOT / package).rglob("*.py") if (ROOT / package).is_dir() else [ROOT / package])
    )


def test_the_command_line_replay_and_relay_name_no_feed():
    """Only the registry (and the dialects, simulators and constructors it lists) knows the
    feeds: the command line, replay and the relay go through it."""
    modules = _modules()
    assert {"record.py", "sim.py", "relay.py", "session.py", "feed.py"} <= {p.name for p in modules}
    named = {
        str(p.relative_to(ROOT)): hits
        for p in modules
        if (hits := feed_names_in_code(p.read_text()))
    }
    assert named == {}


def test_the_check_reads_real_files():
    """The registry itself names every feed: the check sees them in a real module."""
    hits = feed_names_in_code((ROOT / "feeds" / "registry.py").read_text())
    assert {f"{name!r}" for name in registry.FEEDS} - {"'generic'"} <= set(hits)


@pytest.mark.parametrize("name", list(registry.simulated()))
async def test_every_simulator_serves_the_feed_its_entry_makes_for_it(name):
    """The entry's simulator and its client agree: the feed connects with the credential
    the simulator accepts."""
    simulated = registry.FEEDS[name].simulator
    assert simulated is not None and simulated.client is not None
    async with simulated.cls(port=0) as sim:
        feed = simulated.client(sim)
        assert feed.name == name
        async with streamwidgets.open(feed, connect_timeout=seconds(15)) as stream:
            assert stream.state is State.CONNECTED
