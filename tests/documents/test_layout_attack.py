"""The package layout checked from the outside: the README, the public docstrings and the
feeds' documents, never the implementation.

Each test states the claim it checks in its docstring (layers, the sans-I/O session, the
feed registry, the widget contract, public paths). Mutation checks work on copies under
``tmp_path`` and run the project's own guard tests there in a subprocess; the real package
is never edited.

The newcomer's feed, "Chirp", is written from this document alone (made up for the test):

    Chirp, a JSON-over-WebSocket feed.
    Connect: ws://HOST:PORT/chirp?key=KEY. A bad key is closed with 4401.
    Welcome:   {"kind": "hello", "topics": ["birds", "bees"]}
    Subscribe: {"op": "sub", "topics": [...]} -> {"kind": "subbed", "topics": [accepted]},
               and for each topic not offered {"kind": "nope", "topic": T, "why": "..."}
    Unsubscribe: {"op": "unsub", "topics": [...]} (no reply)
    Data:      {"kind": "chirp", "topic": T, "at": epoch ms, "body": {...}}
    Heartbeat: {"kind": "beat"}
"""

from __future__ import annotations

import ast
import asyncio
import inspect
import json
import logging
import os
import re
import shutil
import subprocess
import sys
import time
from pathlib import Path

import pytest

from streamwidgets import feeds
from streamwidgets.connection.session import (
    Connected,
    Fail,
    Reconnect,
    Resolve,
    Session,
    State,
    StreamsRefused,
)

MAIN = Path(__file__).resolve().parents[2]
PKG = MAIN / "streamwidgets"


# --- helpers ------------------------------------------------------------------------------


def _copy(tmp_path: Path) -> Path:
    """A scratch copy of the package, its tests, the browser sources and pyproject.toml."""
    dst = tmp_path / "repo"
    ignore = shutil.ignore_patterns("__pycache__", "*.pyc", "node_modules", ".pytest_cache")
    shutil.copytree(PKG, dst / "streamwidgets", ignore=ignore)
    shutil.copytree(MAIN / "tests", dst / "tests", ignore=ignore)
    shutil.copytree(MAIN / "js" / "src", dst / "js" / "src", ignore=ignore)
    shutil.copy(MAIN / "pyproject.toml", dst / "pyproject.toml")
    return dst


def _env(repo: Path) -> dict[str, str]:
    return {**os.environ, "PYTHONPATH": str(repo), "PYTHONDONTWRITEBYTECODE": "1"}


def _pytest(repo: Path, *args: str, timeout: float = 600) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", *args],
        cwd=repo,
        env=_env(repo),
        capture_output=True,
        text=True,
        timeout=timeout,
    )


def _append(path: Path, text: str) -> None:
    path.write_text(path.read_text() + "\n" + text + "\n")


def _replace(path: Path, old: str, new: str) -> None:
    text = path.read_text()
    assert old in text, f"{old!r} not in {path}"
    path.write_text(text.replace(old, new, 1))


def _guard_fails(result: subprocess.CompletedProcess[str], test_id: str) -> None:
    out = result.stdout + result.stderr
    assert result.returncode == 1 and f"FAILED {test_id}" in out, (
        f"the guard {test_id} did not fail on the mutation (rc={result.returncode}):\n"
        + out[-3000:]
    )


# --- 1. the newcomer's feed ---------------------------------------------------------------

CHIRP_DIALECT = '''"""Chirp: see tests/documents/test_layout_attack.py for its document."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any
from urllib.parse import quote

import orjson

from streamwidgets._util.secret import Secret
from streamwidgets.connection.dialect import (
    CloseAction, CloseDecision, ConnectTarget, Dialect, Keepalive, Outgoing,
)
from streamwidgets.events import Event, Heartbeat, Refused, Reply, Welcome
from streamwidgets.exceptions import FrameError


class ChirpDialect(Dialect):
    name = "chirp"

    def __init__(
        self, url: str = "ws://127.0.0.1:8799/chirp", *, key: str | Secret = "none"
    ) -> None:
        self.url = url
        self.key = key if isinstance(key, Secret) else Secret(key)
        super().__init__()

    @classmethod
    def parse_only(cls, config: Mapping[str, Any]) -> "ChirpDialect":
        return cls(config["url"], key="parse-only")

    def replay_config(self) -> dict[str, Any]:
        return {"url": self.url}

    def describe(self) -> dict[str, Any]:
        return {"dialect": self.name, "url": self.url}

    def secrets(self) -> list[Secret]:
        return [self.key]

    def target(self) -> ConnectTarget:
        return ConnectTarget(url=f"{self.url}?key={quote(self.key.reveal())}", display_url=self.url)

    @property
    def needs_welcome(self) -> bool:
        return True

    def keepalive(self) -> Keepalive:
        return Keepalive(idle_timeout=15.0)

    def subscribe(self, streams: Sequence[str]) -> list[Outgoing]:
        frame = orjson.dumps({"op": "sub", "topics": list(streams)}).decode()
        return [Outgoing(frame, reply_key="sub", streams=tuple(streams))]

    def unsubscribe(self, streams: Sequence[str]) -> list[Outgoing]:
        return [Outgoing(orjson.dumps({"op": "unsub", "topics": list(streams)}).decode())]

    def on_close(self, code: int | None, reason: str) -> CloseDecision:
        if code == 4401:
            return CloseDecision(CloseAction.STOP, "key refused (4401)", auth_failure=True)
        return CloseDecision(CloseAction.RECONNECT, f"closed ({code})")

    def parse(self, frame: str | bytes, received_ns: int) -> list[Any]:
        try:
            msg = orjson.loads(frame)
        except orjson.JSONDecodeError as exc:
            raise FrameError(f"not JSON: {exc}") from None
        if not isinstance(msg, dict):
            raise FrameError("not an object")
        kind = msg.get("kind")
        if kind == "hello":
            return [Welcome(available_streams=list(msg.get("topics") or []))]
        if kind == "subbed":
            return [Reply("sub", data=msg.get("topics"))]
        if kind == "nope":
            return [Refused({str(msg.get("topic")): str(msg.get("why"))})]
        if kind == "beat":
            return [Heartbeat()]
        if kind == "chirp":
            at = msg.get("at")
            return [Event(msg.get("topic"), "chirp", msg.get("body"), received_ns=received_ns,
                          event_ns=at * 1_000_000 if isinstance(at, int) else None)]
        raise FrameError(f"unknown kind {kind!r}")
'''

CHIRP_SIMULATOR = '''"""A Chirp simulator (hello, subbed, nope, chirp)."""

from __future__ import annotations

import asyncio
import random
import time
from collections.abc import Iterable

import orjson
from websockets.asyncio.server import ServerConnection

from streamwidgets.simulators.server import LoopbackServer

TOPICS = ("birds", "bees")


class ChirpSimulator(LoopbackServer):
    label = "chirp simulator"
    path = "/chirp"

    def __init__(self, *, host: str = "127.0.0.1", port: int = 0, rate: float = 20.0,
                 seed: int | None = None, profile: str = "strict",
                 unanswered: Iterable[str] = (), key: str = "chirp-key") -> None:
        super().__init__(host=host, port=port)
        self.rate, self.key, self.rng = rate, key, random.Random(seed)

    async def _handle(self, ws: ServerConnection) -> None:
        if f"key={self.key}" not in (ws.request.path if ws.request else ""):
            await ws.close(4401, "bad key")
            return
        await ws.send(orjson.dumps({"kind": "hello", "topics": list(TOPICS)}).decode())
        wanted: set[str] = set()

        async def reader() -> None:
            async for raw in ws:
                msg = orjson.loads(raw)
                if msg.get("op") == "sub":
                    for t in msg["topics"]:
                        if t not in TOPICS:
                            await ws.send(orjson.dumps(
                                {"kind": "nope", "topic": t, "why": "no such topic"}).decode())
                    ok = [t for t in msg["topics"] if t in TOPICS]
                    wanted.update(ok)
                    await ws.send(orjson.dumps({"kind": "subbed", "topics": ok}).decode())
                elif msg.get("op") == "unsub":
                    wanted.difference_update(msg["topics"])

        task = asyncio.create_task(reader())
        try:
            n = 0
            while not task.done():
                await asyncio.sleep(1 / self.rate if self.rate > 0 else 0)
                for t in sorted(wanted):
                    n += 1
                    body = {"n": n, "pitch": self.rng.random()}
                    at = int(time.time() * 1000)
                    frame = {"kind": "chirp", "topic": t, "at": at, "body": body}
                    await ws.send(orjson.dumps(frame).decode())
        finally:
            task.cancel()
'''

CHIRP_ENTRY = """            FeedEntry(
                "chirp",
                "Chirp",
                ChirpDialect,
                ChirpDialect.parse_only,
                CommandLine("CHIRP_KEY", "key", default_streams=("birds",)),
                Simulated(
                    "streamwidgets.simulators.chirp:ChirpSimulator",
                    "the Chirp stream (ws://HOST:PORT/chirp)",
                    rate=20.0,
                    rate_help="chirps/s",
                    options=lambda args: {},
                    announce=lambda sim, args: print(f"Chirp simulator on {sim.url}"),
                    client=lambda sim: ChirpDialect(sim.url, key="chirp-key"),
                    demo_streams=("birds", "bees"),
                ),
            ),
"""


def _add_chirp(repo: Path) -> list[str]:
    """The README's recipe: the dialect module, its simulator, one registry entry.
    Returns the files touched."""
    pkg = repo / "streamwidgets"
    (pkg / "dialects" / "chirp.py").write_text(CHIRP_DIALECT)
    (pkg / "simulators" / "chirp.py").write_text(CHIRP_SIMULATOR)
    registry = pkg / "feeds" / "registry.py"
    _replace(
        registry,
        "from streamwidgets.dialects.generic import GenericDialect\n",
        "from streamwidgets.dialects.chirp import ChirpDialect\n"
        "from streamwidgets.dialects.generic import GenericDialect\n",
    )
    _replace(
        registry,
        '            FeedEntry(\n                "generic",',
        CHIRP_ENTRY + '            FeedEntry(\n                "generic",',
    )
    return [
        "streamwidgets/dialects/chirp.py",
        "streamwidgets/simulators/chirp.py",
        "streamwidgets/feeds/registry.py",
    ]


def _wait_for_file(path: Path, proc: subprocess.Popen[str], timeout: float = 30) -> str:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if path.exists() and path.read_text().strip():
            return path.read_text().split()[0]
        if proc.poll() is not None:
            raise AssertionError(f"the simulator exited: {proc.communicate()}")
        time.sleep(0.1)
    raise AssertionError("the simulator never wrote its ready file")


def test_newcomer_feed_is_simulated_recorded_and_replayed_with_only_the_recipe(tmp_path):
    """Claim: "adding a feed is one dialect module (and simulator) plus one registry entry";
    `sim NAME`, `record NAME ...` and `feeds.replay(path)` then work with no other edit."""
    repo = _copy(tmp_path)
    touched = _add_chirp(repo)
    assert len(touched) == 3
    env = _env(repo)
    help_out = subprocess.run(
        [sys.executable, "-m", "streamwidgets", "record", "--help"],
        cwd=tmp_path,
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert "chirp" in help_out.stdout
    ready = tmp_path / "ready"
    sim = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "streamwidgets",
            "sim",
            "chirp",
            "--port",
            "0",
            "--ready-file",
            str(ready),
        ],
        cwd=tmp_path,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    try:
        port = _wait_for_file(ready, sim)
        out = tmp_path / "chirp.jsonl.gz"
        rec = subprocess.run(
            [
                sys.executable,
                "-m",
                "streamwidgets",
                "record",
                "chirp",
                "--url",
                f"ws://127.0.0.1:{port}/chirp",
                "--streams",
                "birds,bees,wasps",
                "--for",
                "2s",
                "-o",
                str(out),
            ],
            cwd=tmp_path,
            env={**env, "CHIRP_KEY": "chirp-key"},
            capture_output=True,
            text=True,
            timeout=120,
        )
        assert rec.returncode == 0, rec.stdout + rec.stderr
        assert out.exists() and out.stat().st_size > 0
        assert "chirp-key" not in rec.stdout + rec.stderr
    finally:
        sim.terminate()
        sim.wait(timeout=30)
    script = (
        "import asyncio, streamwidgets\n"
        "from streamwidgets import feeds\n"
        "async def main():\n"
        f"    async with streamwidgets.open(feeds.replay({str(out)!r}, speed=None),"
        " streams=['birds', 'bees']) as s:\n"
        "        for _ in range(100):\n"
        "            await asyncio.sleep(0.1)\n"
        "            if s.stats.events >= 10: break\n"
        "        df = s.df\n"
        "        print(len(df), sorted(set(df['stream'])), 'data.pitch' in df.columns)\n"
        "asyncio.run(main())\n"
    )
    replay = subprocess.run(
        [sys.executable, "-c", script],
        cwd=tmp_path,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert replay.returncode == 0, replay.stderr[-2000:]
    last = replay.stdout.strip().split("\n")[-1]
    assert last.endswith("True") and int(last.split()[0]) >= 10, last


def test_newcomer_feed_leaves_the_projects_own_checks_green(tmp_path):
    """Claim: "adding a feed is one dialect module (and simulator) plus one registry entry".
    After that and the README's recipe (which names the feed's sample for the registry's
    round-trip test), the registry and import-graph tests must still pass in CI."""
    repo = _copy(tmp_path)
    _add_chirp(repo)
    _replace(
        repo / "tests/feeds/test_registry.py",
        '    "generic": (',
        '    "chirp": (("ws://h:1/chirp",), {"key": SECRET}, None),\n    "generic": (',
    )
    result = _pytest(repo, "tests/feeds/test_registry.py", "tests/test_import_graph.py")
    assert result.returncode == 0, (
        "the README's recipe leaves CI red; it also needs an edit to: "
        + ", ".join(sorted(set(re.findall(r"FAILED (\S+?)::", result.stdout))))
        + "\n"
        + result.stdout[-2500:]
    )


def test_a_dialect_author_gets_secret_without_a_private_or_upward_import():
    """Claim: a feed is a dialect module written from the README and dialect.py's docstrings,
    importing only the layers below it. A dialect holding a credential needs ``Secret``
    (``Dialect.secrets() -> list[Secret]``); the public ``streamwidgets.Secret`` is the top
    layer (an upward import from dialects/), so it must be reachable from a public module at
    or below the dialect layer."""
    import streamwidgets.connection.dialect as dialect_module
    import streamwidgets.dialects as dialects_package

    public_homes = [
        name
        for name, module in (
            ("streamwidgets.connection.dialect", dialect_module),
            ("streamwidgets.dialects", dialects_package),
        )
        if getattr(module, "Secret", None) is not None
        and "Secret" in getattr(module, "__all__", ())
    ]
    in_private = sorted(
        str(p.relative_to(PKG))
        for p in (PKG / "dialects").rglob("*.py")
        if "from streamwidgets._util.secret import Secret" in p.read_text()
    )
    assert public_homes, (
        "Secret has no public home below the top layer; every dialect imports the private "
        f"module instead: {in_private}"
    )


def test_the_simulator_hook_a_newcomer_implements_is_documented():
    """Claim: the newcomer's simulator is written from public docs. ``LoopbackServer``'s
    docstring says subclasses implement ``_handle``; that hook must say what it receives and
    when it is called, and the shared keywords ``Simulated`` passes (rate, seed, profile) must
    be named where the base is documented. (The base also serves recordings, which have no
    rate or profile, so it documents them rather than taking them.)"""
    from streamwidgets.simulators.server import LoopbackServer

    assert LoopbackServer._handle.__doc__, "LoopbackServer._handle has no docstring"
    documented = LoopbackServer.__doc__ or ""
    missing = [word for word in ("rate", "seed", "profile") if f"``{word}``" not in documented]
    assert not missing, (
        "Simulated.cls must take host, port, rate, seed, profile (entry.py), but the base "
        f"the docs point to does not say so: {missing}"
    )


# --- 2. the sans-I/O session, from the Hydra document ---------------------------------------


#: The Hydra stream document's welcome and heartbeat frames, as it shows them.
HYDRA_WELCOME = {
    "type": "connected",
    "ts": 1710000000000,
    "data": {
        "sessionId": "sess-abc123",
        "address": "0xYourWalletAddress",
        "availableStreams": ["signals", "alerts", "cyber"],
        "serverTime": 1710000000000,
    },
}
HYDRA_HEARTBEAT = {"type": "heartbeat", "ts": 1710000000000, "data": None}


def _no_loop() -> None:
    with pytest.raises(RuntimeError):
        asyncio.get_running_loop()


def _hydra_session(streams: list[str]) -> tuple[Session, object]:
    dialect = feeds.hydra("wss://api.hydra.app/stream", token="eyJhbGci.x.y").for_connection()
    return Session(dialect, streams, now_ns=1), dialect


def _open(session: Session, dialect, now_ns: int, welcome: dict) -> None:
    session.attempt_begins()
    dialect.reset()
    session.socket_opened(now_ns, dialect.keepalive())
    assert session.receive_frame(json.dumps(welcome), now_ns + 1) == []
    assert session.welcomed


def test_session_follows_the_hydra_document_without_a_socket_or_loop():
    """Claim: Session is sans-I/O (frames and commands in; events, frames to send and
    decisions out; no await). Driven from the Hydra stream document alone, in a plain function: the
    welcome, the document's subscribe command, data, heartbeats, three missed heartbeats,
    1001 and a reconnect with resubscription, and close 4004."""
    _no_loop()
    welcome, heartbeat = HYDRA_WELCOME, HYDRA_HEARTBEAT

    session, dialect = _hydra_session(["signals", "alerts", "cyber", "markets"])
    target = dialect.target()
    assert target.url.startswith("wss://api.hydra.app/stream?token=")
    assert "eyJ" not in target.display_url

    _open(session, dialect, 10, welcome)
    outputs = session.take()
    # The welcome connects (the session decides it) and says what to resubscribe to: "You
    # can only subscribe to streams listed here", so markets is refused locally.
    (up,) = [o for o in outputs if isinstance(o, Connected)]
    streams = up.streams
    assert streams == ["signals", "alerts", "cyber"]
    assert [type(o) for o in outputs if isinstance(o, StreamsRefused)] == [StreamsRefused]
    batch = session.begin_subscribe(streams)
    frames = session.subscribe_frames(batch, streams)
    assert [json.loads(o.frame) for o in frames] == [
        {"action": "subscribe", "streams": ["signals", "alerts", "cyber"]}
    ]
    requests = [session.request(o, batch) for o in frames if o.reply_key]
    for r in requests:
        session.request_sent(r)
    # The document's data frame shape ({stream, type, ts, data}).
    for i, stream in enumerate(streams):
        events = session.receive_frame(
            json.dumps({"stream": stream, "type": "x", "ts": 1710000000000 + i, "data": {"i": i}}),
            30 + i,
        )
        assert [(e.stream, e.event_ns) for e in events] == [
            (stream, (1710000000000 + i) * 1_000_000)
        ]
    assert any(isinstance(o, Resolve) for o in session.take())
    assert session.end_subscribe(batch).pending == []

    assert session.receive_frame(json.dumps(heartbeat), 10**9) == []
    assert session.stats.heartbeats == 1
    # "If you miss three consecutive heartbeats, assume the connection is dead."
    now, dead_at = 10**9, None
    while dead_at is None and now < 10**9 + 200 * 10**9:
        now = session.next_timer_ns() or now + 10**9
        session.timer_due(now)
        if any(type(o).__name__ == "Abort" for o in session.take()):
            dead_at = now
    assert dead_at is not None and 90 * 10**9 <= dead_at - 10**9 <= 100 * 10**9

    decision = session.socket_closed(1001, "Server going away (maintenance)", now_ns=now)
    session.attempt_ended(decision, started=0.0, mono=100.0, now_ns=now)
    out = session.take()
    assert session.state is State.RECONNECTING and isinstance(out[-1], Reconnect)

    _open(session, dialect, now + 10, welcome)
    assert session.resubscription() == ["signals", "alerts", "cyber"]

    decision = session.socket_closed(4004, "Subscription not in JWT scope", now_ns=now + 30)
    session.attempt_ended(decision, started=101.0, mono=102.0, now_ns=now + 30)
    assert session.state is State.FAILED and isinstance(session.take()[-1], Fail)
    _no_loop()


def test_session_takes_the_documents_subscribed_refusal():
    """Claim: a refusal is a decision out of the session. NOTES.md's Hydra ``subscribed``
    reply with ``rejected``/``rejectedReason`` resolves the subscribe and refuses exactly
    the rejected streams, which are not re-sent after a reconnect."""
    session, dialect = _hydra_session(["signals", "cyber"])
    welcome = {"type": "connected", "ts": 1, "data": {"availableStreams": ["signals", "cyber"]}}
    _open(session, dialect, 10, welcome)
    streams = session.resubscription()
    batch = session.begin_subscribe(streams)
    (out,) = session.subscribe_frames(batch, streams)
    request = session.request(out, batch)
    session.request_sent(request)
    reply = {
        "type": "subscribed",
        "data": {
            "subscribed": ["signals"],
            "rejected": ["cyber"],
            "rejectedReason": {"cyber": "Stream not in token scope"},
            "active": ["signals"],
        },
    }
    session.receive_frame(json.dumps(reply), 30)
    outputs = session.take()
    assert StreamsRefused({"cyber": "Stream not in token scope"}) in outputs
    assert any(isinstance(o, Resolve) and o.request == request for o in outputs)
    result = session.end_subscribe(batch)
    assert result.rejected == {"cyber": "Stream not in token scope"}
    assert session.resubscription() == ["signals"]


def test_session_has_no_clock_of_its_own(caplog):
    """Claim (session.py): "The Session has no socket, no event loop and no clock of its own".
    Given server errors 20 s apart in the times it is handed, what it logs must depend on
    those times only; it reads time.monotonic instead (FailureReport's default clock), so a
    replayed or simulated timeline logs differently from a live one."""
    session, _dialect = _hydra_session(["signals"])
    error = json.dumps({"type": "error", "data": {"message": "bad"}})
    with caplog.at_level(logging.WARNING, logger="streamwidgets.connection.session"):
        for i in range(3):
            session.receive_frame(error, 1 + i * 20 * 10**9)
    said = [r for r in caplog.records if "server error" in r.getMessage()]
    assert len(said) == 3, (
        f"{len(said)} of 3 errors 20 s apart (session time) were logged: the session rate-"
        "limits on the wall clock, not on the times it is given"
    )


def test_session_decides_that_a_welcome_completes_the_connection():
    """Claim: "Connection is split into a sans-I/O Session (frames and commands in; events,
    frames to send and decisions out) and a thin asyncio driver". The feed's welcome is a
    frame; what it means (the connection is up: state connected, resubscribe, keepalive rules
    re-read) should come out of the session. Today the driver decides it: it polls
    ``session.welcomed``, re-reads ``dialect.keepalive()``, calls ``connected()`` and
    ``after_connect()`` itself, so a second driver would have to re-implement that."""
    session, dialect = _hydra_session(["signals"])
    welcome = {"type": "connected", "ts": 1, "data": {"availableStreams": ["signals"]}}
    _open(session, dialect, 10, welcome)
    outputs = session.take()
    assert session.state is State.CONNECTED or outputs, (
        "after the welcome frame the session is still "
        f"{session.state.value!r} and asks nothing of its driver ({outputs})"
    )


# --- 3. can the guards fail? ---------------------------------------------------------------

LAYERS_TEST = "tests/test_import_graph.py::test_layers_import_only_downwards"
CYCLES_TEST = "tests/test_import_graph.py::test_no_import_cycles"


def test_import_guard_fails_on_a_module_level_upward_import(tmp_path):
    """Claim: tests/test_import_graph.py fails on an upward import at module level."""
    repo = _copy(tmp_path)
    # simulators/ is first imported after the package, so the package still imports (the
    # mutation must not break the run before the guard reads the source).
    _append(repo / "streamwidgets/simulators/tokens.py", "import streamwidgets.headless  # noqa")
    check = subprocess.run(
        [sys.executable, "-c", "import streamwidgets, tests.conftest"],
        cwd=repo,
        env=_env(repo),
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert check.returncode == 0, check.stderr[-1500:]
    _guard_fails(_pytest(repo, "tests/test_import_graph.py"), LAYERS_TEST)


def test_import_guard_fails_on_a_function_level_upward_import(tmp_path):
    """Claim: the guard counts imports inside functions."""
    repo = _copy(tmp_path)
    _append(
        repo / "streamwidgets/buffer/rows.py",
        "def _attack():\n    from streamwidgets.widget import protocol\n    return protocol",
    )
    _guard_fails(_pytest(repo, "tests/test_import_graph.py"), LAYERS_TEST)


def test_import_guard_fails_on_an_upward_import_under_type_checking(tmp_path):
    """Claim: the guard counts imports under TYPE_CHECKING."""
    repo = _copy(tmp_path)
    _append(
        repo / "streamwidgets/buffer/rows.py",
        "from typing import TYPE_CHECKING as _TC\nif _TC:\n"
        "    from streamwidgets.widget.protocol import Limit  # noqa",
    )
    _guard_fails(_pytest(repo, "tests/test_import_graph.py"), LAYERS_TEST)


def test_import_guard_fails_on_a_two_module_cycle_in_one_package(tmp_path):
    """Claim: zero import cycles, a cycle inside one package included."""
    repo = _copy(tmp_path)
    (repo / "streamwidgets/buffer/attack_a.py").write_text(
        "from streamwidgets.buffer import attack_b\n"
    )
    (repo / "streamwidgets/buffer/attack_b.py").write_text(
        "def f():\n    from streamwidgets.buffer import attack_a\n    return attack_a\n"
    )
    _guard_fails(_pytest(repo, "tests/test_import_graph.py"), CYCLES_TEST)


def test_import_guard_fails_on_an_importlib_upward_import(tmp_path):
    """Claim: "no function-level import that exists to dodge one", and the guard's own
    docstring: "Every import counts". ``importlib.import_module("streamwidgets.widget...")``
    inside a function is an import the AST walk does not see."""
    repo = _copy(tmp_path)
    _append(
        repo / "streamwidgets/buffer/rows.py",
        "def _attack():\n    import importlib\n"
        "    return importlib.import_module('streamwidgets.widget.protocol')",
    )
    _guard_fails(_pytest(repo, "tests/test_import_graph.py"), LAYERS_TEST)


def _function_level_package_imports() -> list[tuple[Path, int, str]]:
    found = []
    for path in sorted(PKG.rglob("*.py")):
        tree = ast.parse(path.read_text())
        for fn in ast.walk(tree):
            if not isinstance(fn, (ast.FunctionDef, ast.AsyncFunctionDef)):
                continue
            for node in ast.walk(fn):
                if isinstance(node, ast.ImportFrom) and (node.module or "").startswith(
                    "streamwidgets"
                ):
                    found.append((path, node.lineno, ast.unparse(node)))
    return found


def test_no_function_level_import_dodges_a_cycle(tmp_path):
    """Claim: no function-level import exists to dodge a cycle. Each function-level
    ``from streamwidgets...`` import, hoisted alone to module level, must still let the
    package, the command line and the widget import."""
    imports = _function_level_package_imports()
    assert imports, "no function-level imports found (the scan is broken)"
    broken = []
    for path, _line, statement in imports:
        repo = tmp_path / f"hoist{len(broken)}_{path.stem}_{_line}"
        shutil.copytree(
            PKG, repo / "streamwidgets", ignore=shutil.ignore_patterns("__pycache__", "static")
        )
        target = repo / "streamwidgets" / path.relative_to(PKG)
        text = target.read_text()
        marker = "from __future__ import annotations\n"
        hoisted = (
            text.replace(marker, marker + statement + "\n", 1)
            if marker in text
            else (statement + "\n" + text)
        )
        target.write_text(hoisted)
        module = ".".join(("streamwidgets", *path.relative_to(PKG).with_suffix("").parts))
        module = module.removesuffix(".__init__")
        run = subprocess.run(
            [
                sys.executable,
                "-c",
                f"import {module}; import streamwidgets; import streamwidgets.cli.main; "
                "from streamwidgets import feeds; feeds.hydra('ws://h:1/s', token='eyJ.x.y')",
            ],
            env=_env(repo),
            cwd=tmp_path,
            capture_output=True,
            text=True,
            timeout=120,
        )
        if run.returncode != 0:
            broken.append(
                f"{path.relative_to(PKG)}:{_line} {statement}: "
                + run.stderr.strip().splitlines()[-1]
            )
    assert not broken, "function-level imports that hide a cycle: " + "; ".join(broken)


def test_contract_guard_fails_on_a_limit_changed_in_javascript_only(tmp_path):
    """Claim: the widget contract has a test that fails when the two sides disagree
    (a limit changed in js/src/protocol.js only)."""
    repo = _copy(tmp_path)
    _replace(repo / "js/src/protocol.js", "RECENT_MAX: 1000,", "RECENT_MAX: 999,")
    _guard_fails(
        _pytest(repo, "tests/widget/test_contract.py"),
        "tests/widget/test_contract.py::test_each_group_has_the_same_names_and_values[Limit]",
    )


def test_contract_guard_fails_on_a_kind_changed_in_python_only(tmp_path):
    """Claim: the contract test fails when a message kind changes on the Python side only."""
    repo = _copy(tmp_path)
    _replace(
        repo / "streamwidgets/widget/protocol.py", 'PAUSE: Final = "pause"', 'PAUSE: Final = "halt"'
    )
    _guard_fails(
        _pytest(repo, "tests/widget/test_contract.py"),
        "tests/widget/test_contract.py::test_each_group_has_the_same_names_and_values[ToKernel]",
    )


FEED_FREE_TEST = "tests/feeds/test_registry.py::test_the_command_line_replay_and_relay_name_no_feed"


def test_registry_guard_fails_on_a_feed_name_branch_in_the_cli(tmp_path):
    """Claim: no per-feed branches in the CLI (tests/feeds/test_registry.py checks it)."""
    repo = _copy(tmp_path)
    _append(
        repo / "streamwidgets/cli/record.py",
        "def _attack(args):\n    if args.feed == 'pusher':\n        return 1\n    return 0",
    )
    _guard_fails(_pytest(repo, "tests/feeds/test_registry.py"), FEED_FREE_TEST)


def test_registry_guard_fails_on_a_normalised_feed_name_branch_in_the_cli(tmp_path):
    """Claim: no per-feed branches in the CLI. The check matches whole strings equal to a
    feed's name; a branch on a spelling of it (``hydra_v1`` for ``hydra-v1``) is still a
    per-feed branch."""
    repo = _copy(tmp_path)
    _append(
        repo / "streamwidgets/cli/record.py",
        "def _attack(args):\n    if args.feed.replace('-', '_') == 'hydra_v1':\n"
        "        return 1\n    return 0",
    )
    _guard_fails(_pytest(repo, "tests/feeds/test_registry.py"), FEED_FREE_TEST)


def test_registry_guard_covers_record(tmp_path):
    """Claim: "no per-feed branches in the CLI, replay or record". The guard scans cli/,
    replay/ and relay/ only; a feed-name branch in recording/ (where record writes and
    reads recordings) must fail it too."""
    repo = _copy(tmp_path)
    _append(
        repo / "streamwidgets/recording/reader.py",
        "def _attack(header):\n    if header.get('dialect') == 'pusher':\n"
        "        return 1\n    return 0",
    )
    _guard_fails(_pytest(repo, "tests/feeds/test_registry.py"), FEED_FREE_TEST)


def test_the_widget_demo_comes_from_the_one_registry():
    """Claim: ONE registry of feeds (feeds/registry.py, with DEMO_FEED and each simulator's
    client), which the demo reads. ``streamwidgets demo`` goes through it; StreamWidget.demo()
    names the Hydra simulator and feeds.hydra itself, a second place that picks the demo
    feed."""
    import tests.feeds.test_registry as registry_tests
    from streamwidgets.widget import widget as widget_module

    source = inspect.getsource(widget_module._start_demo_feed)
    hits = registry_tests.feed_names_in_code(source)
    assert hits == [], f"StreamWidget.demo picks its feed itself: {hits}"


# --- 4. public paths -----------------------------------------------------------------------

_DOTTED = re.compile(r"\bstreamwidgets(?:\.[A-Za-z_][A-Za-z0-9_]*)+")
_FROM = re.compile(
    r"^[ \t]*from (streamwidgets(?:\.\w+)*) import (?:\(([^)]*)\)|([\w, \t]+?))[ \t]*(?:#.*)?$",
    re.MULTILINE,
)


def _resolve(name: str) -> bool:
    import importlib

    parts = name.split(".")
    for i in range(len(parts), 0, -1):
        try:
            obj = importlib.import_module(".".join(parts[:i]))
        except ImportError:
            continue
        for attr in parts[i:]:
            if not hasattr(obj, attr):
                return False
            obj = getattr(obj, attr)
        return True
    return False


def _user_texts() -> dict[str, str]:
    texts = {"README.md": (MAIN / "README.md").read_text()}
    for nb in sorted((MAIN / "notebooks").glob("*.ipynb")):
        cells = json.loads(nb.read_text())["cells"]
        texts[str(nb.relative_to(MAIN))] = "\n".join(
            "".join(c["source"]) for c in cells if c["cell_type"] in ("code", "markdown")
        )
    for py in sorted((MAIN / "benchmarks").glob("*.py")):
        texts[str(py.relative_to(MAIN))] = py.read_text()
    return texts


def test_every_public_name_in_readme_notebooks_and_benchmarks_resolves():
    """Claim: public import paths are kept (everything the README, notebooks/ and
    benchmarks/ use): every ``from streamwidgets... import X``, dotted ``streamwidgets.x.y``
    and ``feeds.x`` resolves."""
    missing = []
    for where, text in _user_texts().items():
        for module, grouped, plain in _FROM.findall(text):
            names = re.sub(r"#.*", "", grouped or plain)
            for name in (n.strip() for n in names.replace("\n", ",").split(",")):
                if name and not _resolve(f"{module}.{name.split(' as ')[0].strip()}"):
                    missing.append(f"{where}: from {module} import {name}")
        for dotted in _DOTTED.findall(text):
            if not dotted.endswith(("py", "ipynb")) and not _resolve(dotted):
                missing.append(f"{where}: {dotted}")
        for attr in re.findall(r"\bfeeds\.([a-z_]\w*)\(", text):
            if not hasattr(feeds, attr):
                missing.append(f"{where}: feeds.{attr}")
    from streamwidgets import StreamWidget, open  # noqa: F401  (the claim's own line)

    assert not missing, missing


def test_every_path_the_readme_and_docstrings_name_exists():
    """Claim: nothing is left of the old flat layout in the docs. Every repository path the
    README, the package's docstrings and the browser sources name must exist (the README
    still sends readers to tests/test_fidelity.py and tests/test_fidelity_table.py, which
    moved to tests/buffer/)."""
    files = [
        MAIN / "README.md",
        *sorted(PKG.rglob("*.py")),
        *sorted((MAIN / "js/src").glob("*.js")),
    ]
    missing = []
    path_re = re.compile(
        r"\b((?:tests|benchmarks|notebooks|js|streamwidgets)/[\w/.-]+\.(?:py|js|mjs|ipynb))"
    )
    for f in files:
        for m in path_re.finditer(f.read_text()):
            if not (MAIN / m.group(1)).exists():
                missing.append(f"{f.relative_to(MAIN)}: {m.group(1)}")
    assert not missing, sorted(set(missing))


def _cli(*args: str, timeout: float = 90, env: dict[str, str] | None = None):
    return subprocess.run(
        [sys.executable, "-m", "streamwidgets", *args],
        cwd=MAIN,
        capture_output=True,
        text=True,
        timeout=timeout,
        env={**os.environ, **(env or {})},
    )


def test_every_command_and_subcommand_has_help():
    """Claim: behaviour unchanged; ``--help`` works for the program, each command the README
    lists (sim, record, relay, lab, demo) and each simulator."""
    top = _cli("--help")
    assert top.returncode == 0
    for command in ("sim", "record", "relay", "lab", "demo"):
        assert command in top.stdout
        assert _cli(command, "--help").returncode == 0, command
    from streamwidgets.feeds.registry import simulated

    for name in [*simulated(), "replay"]:
        result = _cli("sim", name, "--help")
        assert result.returncode == 0 and "usage" in result.stdout, name


def test_demo_runs_for_a_given_time():
    """``streamwidgets demo --for 3s``: ``record`` and ``relay`` take ``--for
    DURATION`` ("60s"), the README documents no demo flag; ``demo`` should take the same
    spelling (it took ``--seconds`` only)."""
    seconds = _cli("demo", "--seconds", "2", timeout=120)
    assert seconds.returncode == 0 and "[connected]" in seconds.stdout, seconds.stderr[-1500:]
    spelled = _cli("demo", "--for", "2s", timeout=120)
    assert spelled.returncode == 0, spelled.stderr[-500:]


def test_no_error_a_user_sees_names_a_private_module_or_is_a_traceback():
    """Claim: error messages a user sees never name a private module (``_util``), and bad
    arguments get a clear message (README: "Clear errors at once"), not a traceback."""
    cases = [
        ("record", "hydra", "--url", "ws://h:1/s", "-o", "/tmp/x.jsonl", "--for", "abc"),
        ("record", "pusher", "--url", "http://h:1", "-o", "/tmp/x.jsonl"),
        ("sim", "replay", "/nonexistent/rec.jsonl.gz"),
        ("sim", "hydra", "--port", "70000"),
    ]
    problems = []
    for args in cases:
        result = _cli(*args, env={"PUSHER_TOKEN": "t", "HYDRA_TOKEN": "eyJ.x.y"})
        said = result.stdout + result.stderr
        if "_util" in said or "Traceback" in said:
            problems.append(f"{' '.join(args)}: {said.strip().splitlines()[-1]}")
    for make in (
        lambda: feeds.hydra("ws://h:1/s", token=5),
        lambda: feeds.replay("/nonexistent.jsonl.gz"),
        lambda: feeds.hydra("ws://h:1/s", token=""),
    ):
        try:
            make()
        except Exception as exc:
            if "_util" in f"{type(exc).__module__} {exc}":
                problems.append(f"{type(exc).__module__}.{type(exc).__name__}: {exc}")
    assert not problems, problems


# --- 5. layout ------------------------------------------------------------------------------


def test_replaying_a_recording_does_not_load_the_simulators(tmp_path):
    """Claim: one package per layer, one job per module. feeds/registry.py is the feeds'
    registry *and* every simulator's command line (options, announcements), so a library
    user replaying a recording (``feeds.replay(path)``, which rebuilds the dialect through
    the registry) loads all five test servers and their protocol modules."""
    script = (
        "import sys\n"
        "from streamwidgets import feeds\n"
        "before = {m for m in sys.modules if m.startswith('streamwidgets.simulators.')}\n"
        "assert not before, before\n"
        "# what feeds.replay(path) and feeds.redis(...) call to parse a recording:\n"
        "from streamwidgets.feeds.registry import rebuild_dialect\n"
        "rebuild_dialect('hydra', {'url': 'ws://127.0.0.1:9/stream'})\n"
        "print(sorted(m for m in sys.modules if m.startswith('streamwidgets.simulators.')))\n"
    )
    run = subprocess.run(
        [sys.executable, "-c", script], cwd=tmp_path, capture_output=True, text=True, timeout=120
    )
    assert run.returncode == 0, run.stderr[-1500:]
    loaded = run.stdout.strip().splitlines()[-1]
    assert loaded == "[]", f"parsing a recording loaded the simulators: {loaded}"
