"""What the feed registry holds for one feed (see :mod:`streamwidgets.feeds.registry`).

A :class:`FeedEntry` names a feed as recordings' headers and the command line do, makes it
(its ``feeds`` constructor), rebuilds a parse-only copy from a recording's replay options,
and optionally says how the ``record`` and ``relay`` commands make it
(:class:`CommandLine`) and how ``sim`` serves its simulator (:class:`Simulated`).

Example:
    >>> line = CommandLine("HYDRA_TOKEN", "token", default_streams=("signals",))
    >>> line.streams("markets,,alerts"), line.streams("")
    (['markets', 'alerts'], ['signals'])
"""

from __future__ import annotations

import argparse
import importlib
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

from streamwidgets.connection.dialect import Dialect
from streamwidgets.exceptions import ConfigurationError

__all__ = ["CommandLine", "FeedEntry", "Options", "Simulated"]

#: Command-line options: flag -> ``ArgumentParser.add_argument`` keywords, in help order.
Options = Mapping[str, Mapping[str, Any]]


@dataclass(frozen=True)
class CommandLine:
    """How ``record`` and ``relay`` make the feed from ``--url``, a credential and ``--streams``.

    Args:
        credential_env: the environment variable read for the credential by default
            (``--credential-env`` names another); the credential never goes on a command line.
        credential: the constructor's keyword the credential goes to (``token``...).
        rest_url: the constructor takes ``--rest-url`` as ``rest_url`` (a token exchange).
        session_streams: the constructor takes the streams (a session asked for them).
        streams_example: set when ``--streams`` is required: the feed subscribes to nothing
            unless told; the refusal shows this example (``"prices,portfolio"``).
        default_streams: the streams when ``--streams`` names none (empty: none).
    """

    credential_env: str
    credential: str
    rest_url: bool = False
    session_streams: bool = False
    streams_example: str | None = None
    default_streams: tuple[str, ...] = ()

    def streams(self, text: str) -> list[str]:
        """``--streams`` (comma-separated; empty names skipped), else the default streams."""
        return [s for s in text.split(",") if s] or list(self.default_streams)


@dataclass(frozen=True)
class Simulated:
    """How ``streamwidgets sim NAME`` serves the feed's simulator.

    Every simulator gets the shared options (``--host``, ``--port``, ``--rate``, ``--seed``,
    ``--profile``, ``--ready-file``, and as flagged ``--rest-port``, ``--unanswered``); the
    fields below add its own and make it from the parsed arguments.

    Args:
        server: where the simulator class is, ``"module:Class"``; it is imported only when
            served (:attr:`cls`), so parsing a recording never loads the simulators. The
            class is a :class:`~streamwidgets.simulators.server.LoopbackServer` (which
            calls its ``_handle(ws)`` once per client connection) taking the shared options
            as keywords (``host``, ``port``, ``rate``, ``seed``, ``profile``, and as flagged
            ``rest_port``, ``unanswered``).
        help: the subcommand's one-line help.
        rate: the default ``--rate``; ``rate_help`` says what it counts.
        options: the simulator's own keywords from the parsed arguments; a ValueError
            (as from ``cls``) stops the command with its message.
        announce: prints what a client needs once it listens: ``announce(sim, args)``.
        rest: it has a REST listener of its own (``--rest-port``; a second ready-file line).
        commands: its clients send commands (``--unanswered``).
        before_seed: its own options listed before ``--seed``; ``own``: after it.
        groups: further option groups, title -> options (e.g. fault injection).
        client: a feed connected to a running simulator with a credential it accepts.
        demo_streams: the streams the demo (``streamwidgets demo``, ``StreamWidget.demo()``)
            subscribes to.
        demo_charts: what ``StreamWidget.demo()`` charts from the start: ``(stream, type,
            field, by)`` each, ``by`` the column splitting it into one line per entity
            (None: one line).
    """

    server: str
    help: str
    rate: float
    rate_help: str
    options: Callable[[argparse.Namespace], dict[str, Any]]
    announce: Callable[[Any, argparse.Namespace], None]
    rest: bool = False
    commands: bool = True
    before_seed: Options = field(default_factory=dict)
    own: Options = field(default_factory=dict)
    groups: Mapping[str, Options] = field(default_factory=dict)
    client: Callable[[Any], Dialect] | None = None
    demo_streams: tuple[str, ...] = ()
    demo_charts: tuple[tuple[str, str, str, str | None], ...] = ()

    @property
    def cls(self) -> type[Any]:
        """The simulator class named by :attr:`server`, imported now."""
        module, _, name = self.server.partition(":")
        return getattr(importlib.import_module(module), name)  # type: ignore[no-any-return]


@dataclass(frozen=True)
class FeedEntry:
    """One feed: its name, constructor, parse-only rebuild, command line and simulator.

    Args:
        name: the dialect's name, as recordings' headers and the command line give it.
        title: what messages call it (``"Hydra v1"``).
        make: its constructor in :mod:`streamwidgets.feeds` (``feeds.hydra``...).
        parse_only: a parse-only copy from a recording's replay options (the dialect's
            ``parse_only``); raises KeyError, TypeError, ValueError or ConfigurationError
            for options that no longer fit.
        command_line: how ``record`` and ``relay`` make it (None: not on the command line).
        simulator: how ``sim`` serves its simulator (None: it has none).
        recognises: for a feed whose recordings carry a name its user chose: whether a
            recording's replay options (under a name no entry has) are this feed's.

    Example:
        >>> from streamwidgets.feeds.registry import FEEDS
        >>> entry = FEEDS["hydra-v1"]
        >>> entry.command_line.credential_env, entry.simulator.commands
        ('HYDRA_API_KEY', False)
    """

    name: str
    title: str
    make: Callable[..., Dialect]
    parse_only: Callable[[Mapping[str, Any]], Dialect]
    command_line: CommandLine | None = None
    simulator: Simulated | None = None
    recognises: Callable[[Mapping[str, Any]], bool] | None = None

    def from_command_line(
        self, url: str, credential: str, streams: list[str], rest_url: str | None
    ) -> Dialect:
        """The feed a ``record`` or ``relay`` command line names.

        Raises:
            ConfigurationError: the feed has no :attr:`command_line`, or what its
                constructor refuses.

        Example:
            >>> from streamwidgets.feeds.registry import FEEDS
            >>> FEEDS["hydra"].from_command_line("ws://h:1/stream", "eyJ.x.y", [], None)
            <HydraDialect url='ws://h:1/stream'>
        """
        line = self.command_line
        if line is None:
            raise ConfigurationError(f"the {self.name} feed is not made from a command line")
        options: dict[str, Any] = {line.credential: credential}
        if line.rest_url:
            options["rest_url"] = rest_url
        if line.session_streams:
            # The session is asked for the recorded streams only (it resolves their channels).
            options["streams"] = streams
        return self.make(url, **options)
