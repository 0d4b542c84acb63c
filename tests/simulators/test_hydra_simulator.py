"""The Hydra simulator against a plain websockets client on loopback."""

from __future__ import annotations

import asyncio
import itertools
import logging
import os
import subprocess
import sys
import time
from pathlib import Path

import orjson
import pytest
from websockets.asyncio.client import ClientConnection, connect
from websockets.exceptions import ConnectionClosed, InvalidStatus

from streamwidgets.cli.main import build_parser
from streamwidgets.simulators import ALL_STREAMS, EVENT_TYPES, SyntheticWorld
from streamwidgets.simulators.hydra import HydraSimulator
from streamwidgets.simulators.tokens import InvalidToken, issue_token, verify_token
from tests.support.waiting import eventually, seconds

SCOPE = ["signals", "alerts", "cyber"]


@pytest.fixture
async def sim():
    # Lenient: tests here check the simulator's own pong and error replies too.
    async with HydraSimulator(rate=200.0, heartbeat_interval=30.0, profile="lenient") as simulator:
        yield simulator


async def recv_json(ws: ClientConnection, timeout: float = 5.0) -> dict:
    message = await asyncio.wait_for(ws.recv(), seconds(timeout))
    return orjson.loads(message)


async def recv_type(ws: ClientConnection, kind: str, timeout: float = 5.0) -> dict:
    """Skip events until a control message of this type arrives."""
    while True:
        msg = await recv_json(ws, timeout)
        if msg.get("type") == kind and "stream" not in msg:
            return msg


async def closed_with(ws: ClientConnection, timeout: float = 5.0) -> tuple[int | None, str]:
    """Read until the server closes; return the close code and reason it sent."""
    with pytest.raises(ConnectionClosed) as closed:
        while True:
            await asyncio.wait_for(ws.recv(), seconds(timeout))
    rcvd = closed.value.rcvd
    return (rcvd.code, rcvd.reason) if rcvd else (None, "")


async def open_session(sim: HydraSimulator, scope=SCOPE, **token_options):
    token = sim.issue_token(streams=scope, **token_options)
    ws = await connect(f"{sim.url}?token={token}", max_size=None)
    welcome = await recv_json(ws)
    assert welcome["type"] == "connected"
    return ws, welcome


async def command(ws: ClientConnection, **body) -> None:
    await ws.send(orjson.dumps(body).decode())


def events(frames: list[dict]) -> list[dict]:
    return [f for f in frames if "stream" in f]


async def collect_events(ws: ClientConnection, n: int, timeout: float = 5.0) -> list[dict]:
    got: list[dict] = []
    while len(got) < n:
        msg = await recv_json(ws, timeout)
        if "stream" in msg:
            got.append(msg)
    return got


# -- handshake --------------------------------------------------------------------------------


async def test_valid_token_gets_connected_with_scope(sim):
    """A valid token is greeted with connected: session id, address and the token's scope."""
    ws, welcome = await open_session(sim, address="0xabc")
    data = welcome["data"]
    assert data["sessionId"].startswith("sess-")
    assert data["address"] == "0xabc"
    assert data["availableStreams"] == SCOPE
    assert isinstance(welcome["ts"], int) and isinstance(data["serverTime"], int)
    await ws.close()


@pytest.mark.parametrize("kind", ["missing", "garbage", "wrong_secret", "expired"])
async def test_bad_token_is_closed_with_4001(sim, kind):
    """A missing, malformed, foreign or expired JWT is upgraded, then closed with 4001."""
    token = {
        "missing": None,
        "garbage": "not-a-jwt",
        "wrong_secret": issue_token("other", address="0x1", streams=SCOPE),
        "expired": sim.issue_token(expires_in=-10),
    }[kind]
    url = sim.url if token is None else f"{sim.url}?token={token}"
    async with connect(url) as ws:
        assert await closed_with(ws) == (4001, "Invalid or expired JWT")
    assert sim.closes == [(1, 4001, "Invalid or expired JWT")]


async def test_zero_balance_is_closed_with_4002_instead_of_connected(sim):
    """balance <= 0 closes with 4002 before any connected message."""
    token = sim.issue_token(balance=0)
    async with connect(f"{sim.url}?token={token}") as ws:
        assert await closed_with(ws) == (4002, "Insufficient token balance")


async def test_server_logs_never_show_the_token(sim, caplog):
    """The server's DEBUG wire log masks the JWT in the request line."""
    caplog.set_level(logging.DEBUG)
    token = sim.issue_token()
    async with connect(f"{sim.url}?token={token}") as ws:
        await recv_type(ws, "connected")
    # Only the server's records: the plain websockets client logs its own URL unmasked.
    messages = [r.getMessage() for r in caplog.records if r.name.startswith("streamwidgets")]
    assert any("GET /stream?token=***" in m for m in messages)
    assert not any(token.split(".")[2] in m for m in messages)


async def test_other_paths_get_http_404(sim):
    """Only /stream upgrades."""
    url = sim.url.replace("/stream", "/other") + f"?token={sim.issue_token()}"
    with pytest.raises(InvalidStatus) as refused:
        await connect(url)
    assert refused.value.response.status_code == 404


async def test_max_connections_refuses_with_http_503():
    """Beyond max_connections, the upgrade is refused with 503."""
    async with HydraSimulator(max_connections=1) as sim:
        ws, _ = await open_session(sim)
        with pytest.raises(InvalidStatus) as refused:
            await connect(f"{sim.url}?token={sim.issue_token()}")
        assert refused.value.response.status_code == 503
        await ws.close()


# -- commands ---------------------------------------------------------------------------------


async def test_mixed_subscribe_rejects_out_of_scope_streams(sim):
    """A subscribe mixing scope and non-scope streams is answered, with reasons for rejects."""
    ws, _ = await open_session(sim)
    await command(ws, action="subscribe", streams=["alerts", "markets", "signals", "nope"])
    reply = await recv_type(ws, "subscribed")
    assert reply["data"] == {
        "subscribed": ["alerts", "signals"],
        "rejected": ["markets", "nope"],
        "rejectedReason": {
            "markets": "Stream not in token scope",
            "nope": "Stream not in token scope",
        },
        "active": ["signals", "alerts"],
    }
    await ws.close()


async def test_subscribe_all_out_of_scope_closes_4004(sim):
    """When every requested stream is out of scope the server closes with 4004."""
    ws, _ = await open_session(sim)
    await command(ws, action="subscribe", streams=["markets", "aircraft"])
    assert await closed_with(ws) == (4004, "Subscription not in JWT scope")


async def test_star_subscribes_whole_scope_and_repeats_are_idempotent(sim):
    """'*' means every stream in scope; subscribing again lists already active streams too."""
    ws, _ = await open_session(sim)
    await command(ws, action="subscribe", streams=["*"])
    first = await recv_type(ws, "subscribed")
    assert first["data"]["subscribed"] == SCOPE and first["data"]["active"] == SCOPE
    await command(ws, action="subscribe", streams=["cyber"])
    again = await recv_type(ws, "subscribed")
    assert again["data"]["subscribed"] == ["cyber"] and again["data"]["active"] == SCOPE
    await ws.close()


async def test_unsubscribe_list_and_ping(sim):
    """unsubscribe, list and ping get unsubscribed, subscriptions and pong."""
    ws, _ = await open_session(sim)
    await command(ws, action="subscribe", streams=["signals", "cyber"])
    await recv_type(ws, "subscribed")
    await command(ws, action="unsubscribe", streams=["cyber", "alerts"])
    reply = await recv_type(ws, "unsubscribed")
    assert reply["data"] == {"unsubscribed": ["cyber"], "active": ["signals"]}
    await command(ws, action="list")
    listing = await recv_type(ws, "subscriptions")
    assert listing["data"] == {"active": ["signals"], "available": SCOPE}
    await command(ws, action="ping")
    pong = await recv_type(ws, "pong")
    assert pong["data"] is None and isinstance(pong["ts"], int)
    await command(ws, action="unsubscribe", streams=["*"])
    assert (await recv_type(ws, "unsubscribed"))["data"]["active"] == []
    await ws.close()


@pytest.mark.parametrize(
    "raw",
    [
        "not json",
        b"\x00binary",
        "[1, 2]",
        '{"streams": ["signals"]}',
        '{"action": "dance"}',
        '{"action": "subscribe", "streams": "signals"}',
        '{"action": "subscribe", "streams": [1]}',
        '{"action": "subscribe"}',
    ],
)
async def test_malformed_commands_get_error_and_stay_open(sim, raw):
    """Malformed commands are answered with an error message; the connection stays usable."""
    ws, _ = await open_session(sim)
    await ws.send(raw)
    error = await recv_type(ws, "error")
    assert isinstance(error["data"]["message"], str) and error["data"]["message"]
    await command(ws, action="ping")
    await recv_type(ws, "pong")
    await ws.close()


async def test_rate_limit_closes_4003():
    """More than max_commands_per_second commands within a second closes with 4003."""
    async with HydraSimulator(max_commands_per_second=5) as sim:
        ws, _ = await open_session(sim)
        for _ in range(6):
            await command(ws, action="ping")
        assert await closed_with(ws) == (4003, "Rate limit exceeded")
        assert len([c for _, c in sim.commands if c["action"] == "ping"]) == 6


async def test_commands_at_the_limit_are_served():
    """Exactly max_commands_per_second commands in a second are all answered."""
    async with HydraSimulator(max_commands_per_second=5, profile="lenient") as sim:
        ws, _ = await open_session(sim)
        for _ in range(5):
            await command(ws, action="ping")
        for _ in range(5):
            await recv_type(ws, "pong")
        await ws.close()


async def test_wait_for_command_uses_a_cursor_per_action(sim):
    """wait_for_command returns commands already received, each once, then waits for new ones."""
    ws, _ = await open_session(sim)
    await command(ws, action="ping", n=1)
    await command(ws, action="list")
    assert (await sim.wait_for_command("ping"))["n"] == 1
    assert (await sim.wait_for_command("list"))["action"] == "list"
    with pytest.raises(TimeoutError):
        await sim.wait_for_command("ping", timeout=0.1)
    await command(ws, action="ping", n=2)
    assert (await sim.wait_for_command("ping"))["n"] == 2
    assert sim.commands[0] == (1, {"action": "ping", "n": 1})
    await ws.close()


# -- server messages --------------------------------------------------------------------------


async def test_heartbeats_arrive_at_the_interval():
    """Heartbeats come every heartbeat_interval seconds, with data null."""
    async with HydraSimulator(heartbeat_interval=0.2) as sim:
        ws, _ = await open_session(sim)
        start = time.monotonic()
        beats = [await recv_type(ws, "heartbeat", timeout=1) for _ in range(3)]
        took = time.monotonic() - start
        assert all(b["data"] is None and isinstance(b["ts"], int) for b in beats)
        assert 0.5 <= took <= seconds(1.2)
        await ws.close()


async def test_events_only_for_subscribed_streams_with_increasing_seq():
    """Events follow the subscription, carry the envelope, and seq/id increase server-wide."""
    async with HydraSimulator(rate=0, limit=300) as sim:
        ws, _ = await open_session(sim)
        await command(ws, action="subscribe", streams=["signals", "alerts"])
        got = await collect_events(ws, 300)
        assert {e["stream"] for e in got} == {"signals", "alerts"}
        for e in got:
            assert set(e) == {"stream", "type", "ts", "data"}
            assert e["type"] in EVENT_TYPES[e["stream"]]
        seqs = [e["data"]["seq"] for e in got]
        assert seqs == sorted(set(seqs))
        ids = [e["data"]["id"] for e in got]
        assert len(set(ids)) == len(ids)
        assert [(n, q, s, t) for n, q, s, t in sim.sent] == [
            (1, e["data"]["seq"], e["stream"], e["type"]) for e in got
        ]
        signal = next(e["data"] for e in got if e["type"] == "signal_new")
        assert {
            "id",
            "title",
            "description",
            "category",
            "severity",
            "lat",
            "lng",
            "tags",
            "createdAt",
        } <= set(signal)
        assert 1 <= signal["severity"] <= 5
        await ws.close()


async def test_unsubscribe_stops_a_stream():
    """After the unsubscribed reply no event of that stream arrives."""
    async with HydraSimulator(rate=500) as sim:
        ws, _ = await open_session(sim)
        await command(ws, action="subscribe", streams=["signals", "cyber"])
        await collect_events(ws, 10)
        await command(ws, action="unsubscribe", streams=["cyber"])
        await recv_type(ws, "unsubscribed")
        after = await collect_events(ws, 20)
        assert {e["stream"] for e in after} == {"signals"}
        await ws.close()


async def test_rate_paces_events():
    """rate=100 gives about 100 events per second."""
    async with HydraSimulator(rate=100) as sim:
        ws, _ = await open_session(sim)
        await command(ws, action="subscribe", streams=["signals"])
        await collect_events(ws, 1)
        start = time.monotonic()
        await collect_events(ws, 30)
        took = time.monotonic() - start
        assert 0.25 <= took <= seconds(0.6)
        await ws.close()


async def test_limit_stops_emission_but_keeps_the_connection():
    """After limit events nothing more is emitted, and commands still work."""
    async with HydraSimulator(rate=0, limit=50, profile="lenient") as sim:
        ws, _ = await open_session(sim)
        await command(ws, action="subscribe", streams=["*"])
        await collect_events(ws, 50)
        await command(ws, action="ping")
        assert (await recv_json(ws))["type"] == "pong"
        assert len(sim.sent) == 50
        await ws.close()


async def test_fast_emission_is_complete_and_in_order():
    """rate=0 streams many events quickly, none lost or reordered."""
    async with HydraSimulator(rate=0, limit=20_000) as sim:
        ws, _ = await open_session(sim, scope=None)
        await command(ws, action="subscribe", streams=["*"])
        start = time.monotonic()
        got = await collect_events(ws, 20_000)
        assert time.monotonic() - start < seconds(5)
        assert [e["data"]["seq"] for e in got] == list(range(1, 20_001))
        assert {e["stream"] for e in got} == set(ALL_STREAMS)
        await ws.close()


def test_synthetic_world_is_deterministic_given_seed():
    """Same seed, same payloads (timestamps passed in)."""
    a, b = SyntheticWorld(seed=3), SyntheticWorld(seed=3)
    for method in ("aircraft_position", "signal", "market_update", "seismic_event", "alert"):
        assert [getattr(a, method)(0) for _ in range(20)] == [
            getattr(b, method)(0) for _ in range(20)
        ]
    assert SyntheticWorld(seed=4).signal(0) != SyntheticWorld(seed=3).signal(0)


def test_aircraft_move_plausibly():
    """Consecutive reports of one aircraft are a few km apart at a plausible speed."""
    world = SyntheticWorld(seed=0, aircraft=1)
    reports = [world.aircraft_position(0) for _ in range(50)]
    for prev, cur in itertools.pairwise(reports):
        assert abs(cur["lat"] - prev["lat"]) < 0.05 and abs(cur["lng"] - prev["lng"]) < 0.1
        assert 100 <= cur["groundSpeed"] <= 700 and 0 <= cur["track"] < 360


def test_tokens_round_trip_and_refuse_tampering():
    """verify_token accepts what issue_token signs, and refuses other secrets and expiry."""
    token = issue_token("k", address="0x1", streams=["signals"], balance=3)
    assert verify_token(token, "k").balance == 3.0
    with pytest.raises(InvalidToken):
        verify_token(token, "other")
    with pytest.raises(InvalidToken):
        verify_token(issue_token("k", address="0x1", streams=[], expires_in=-5), "k")


# -- faults -----------------------------------------------------------------------------------


async def test_drop_after_aborts_without_close_frame_after_exactly_n_events(sim):
    """drop_after(n) delivers n more events, then the TCP connection dies with no close frame."""
    ws, _ = await open_session(sim)
    await command(ws, action="subscribe", streams=["signals"])
    await collect_events(ws, 3)
    before = len(sim.sent)
    sim.drop_after(5)
    got = []
    with pytest.raises(ConnectionClosed) as closed:
        while True:
            msg = await recv_json(ws)
            if "stream" in msg:
                got.append(msg)
    assert closed.value.rcvd is None
    assert len(sim.sent) == before + 5
    assert got[-1]["data"]["seq"] == sim.sent[-1][1]
    assert sim.closes[-1][:2] == (1, 1006)


async def test_runtime_faults_with_no_connection_arm_the_next_one(sim):
    """A one-shot fault called while nothing is connected applies to the next connection."""
    sim.close_with(4002, "Insufficient token balance")
    ws, _ = await open_session(sim)
    assert await closed_with(ws) == (4002, "Insufficient token balance")
    ws, _ = await open_session(sim)  # one-shot: the following connection is normal
    await command(ws, action="ping")
    await recv_type(ws, "pong")
    await ws.close()


async def test_drop_after_at_construction_applies_to_every_connection():
    """drop_after=N given to the constructor drops each connection after N events."""
    async with HydraSimulator(rate=0, drop_after=7) as sim:
        for number in (1, 2):
            ws, _ = await open_session(sim)
            await command(ws, action="subscribe", streams=["*"])
            with pytest.raises(ConnectionClosed):
                while True:
                    await recv_json(ws)
            assert sum(1 for n, *_ in sim.sent if n == number) == 7


async def test_go_silent_and_resume(sim):
    """go_silent stops events and heartbeats without closing; resume restarts them."""
    sim.heartbeat_interval = 0.1
    ws, _ = await open_session(sim)
    await command(ws, action="subscribe", streams=["signals"])
    await collect_events(ws, 3)
    sim.go_silent()
    await asyncio.sleep(0.05)
    while True:  # drain what was in flight
        try:
            await asyncio.wait_for(ws.recv(), 0.05)
        except TimeoutError:
            break
    with pytest.raises(TimeoutError):
        await asyncio.wait_for(ws.recv(), 0.4)
    assert sim.connections_open == 1
    sim.resume()
    await collect_events(ws, 3)
    await recv_type(ws, "heartbeat")
    await ws.close()


async def test_silent_after_at_construction():
    """silent_after=N stops a connection after N events until resume()."""
    async with HydraSimulator(rate=0, limit=15, silent_after=10) as sim:
        ws, _ = await open_session(sim)
        await command(ws, action="subscribe", streams=["*"])
        await collect_events(ws, 10)
        with pytest.raises(TimeoutError):
            await asyncio.wait_for(ws.recv(), 0.2)
        sim.resume()
        await collect_events(ws, 5)
        await ws.close()


async def test_send_malformed_frames_between_events(sim):
    """Each malformed kind arrives as asked, then events continue."""
    ws, _ = await open_session(sim)
    await command(ws, action="subscribe", streams=["signals"])
    await collect_events(ws, 2)
    sim.send_malformed(count=1)
    odd = []
    while len(odd) < 5:
        message = await asyncio.wait_for(ws.recv(), seconds(5))
        if isinstance(message, bytes):
            odd.append("binary")
            continue
        try:
            frame = orjson.loads(message)
        except orjson.JSONDecodeError:
            odd.append("not_json")
            continue
        if not isinstance(frame, dict):
            odd.append("non_object")
        elif "type" not in frame:
            odd.append("missing_fields")
        elif frame["type"] == "mystery_message" and "stream" not in frame:
            odd.append("unknown_type")
    assert odd == ["not_json", "binary", "non_object", "unknown_type", "missing_fields"]
    await collect_events(ws, 2)
    await ws.close()


async def test_malformed_every_at_construction():
    """malformed_every=N interleaves one bad frame every N events."""
    async with HydraSimulator(
        rate=0, limit=40, malformed_every=10, malformed_kinds=["not_json"]
    ) as sim:
        ws, _ = await open_session(sim)
        await command(ws, action="subscribe", streams=["signals"])
        bad = good = 0
        while good < 40:
            message = await recv_json_or_text(ws)
            if message is None:
                bad += 1
            elif "stream" in message:
                good += 1
        assert bad == 3  # after events 10, 20 and 30; the limit stops the loop at 40
        await ws.close()


async def recv_json_or_text(ws: ClientConnection) -> dict | None:
    message = await asyncio.wait_for(ws.recv(), seconds(5))
    try:
        return orjson.loads(message)
    except orjson.JSONDecodeError:
        return None


async def test_close_with_closes_open_connections(sim):
    """close_with(code, reason) closes what is open with exactly that code and reason."""
    ws, _ = await open_session(sim)
    sim.close_with(1001, "maintenance")
    assert await closed_with(ws) == (1001, "maintenance")
    assert sim.closes == [(1, 1001, "maintenance")]
    await eventually(lambda: sim.connections_open == 0)


async def test_close_after_at_construction():
    """close_after=N closes each connection with close_code after N events."""
    async with HydraSimulator(rate=0, close_after=12, close_code=4003, close_reason="slow") as sim:
        ws, _ = await open_session(sim)
        await command(ws, action="subscribe", streams=["*"])
        assert await closed_with(ws) == (4003, "slow")
        assert len(sim.sent) == 12


async def test_send_huge_frame_is_a_valid_event_of_that_size(sim):
    """send_huge_frame(size) sends one valid event frame of that many bytes, with a seq."""
    ws, _ = await open_session(sim)
    await command(ws, action="subscribe", streams=["signals"])
    await collect_events(ws, 1)
    sim.send_huge_frame(300_000)
    while True:
        message = await asyncio.wait_for(ws.recv(), seconds(5))
        if len(message) > 1000:
            break
    assert len(message) == 300_000
    frame = orjson.loads(message)
    assert frame["stream"] == "signals" and isinstance(frame["data"]["seq"], int)
    assert any(seq == frame["data"]["seq"] for _, seq, _, _ in sim.sent)
    await ws.close()


async def test_huge_frame_after_at_construction():
    """huge_frame_after=N sends one frame of huge_size after N events."""
    async with HydraSimulator(rate=0, limit=20, huge_frame_after=5, huge_size=100_000) as sim:
        ws, _ = await open_session(sim)
        await command(ws, action="subscribe", streams=["cyber"])
        sizes = []
        while len(sizes) < 20:
            message = await asyncio.wait_for(ws.recv(), seconds(5))
            if '"stream"' in message:
                sizes.append(len(message))
        assert sizes[5] == 100_000 and max(sizes[:5] + sizes[6:]) < 5_000
        await ws.close()


# -- embedding and CLI ------------------------------------------------------------------------


async def test_start_background_on_the_running_loop():
    """start_background schedules on the running loop; the URL is known at once."""
    sim = HydraSimulator()
    task = sim.start_background()
    assert sim.url.startswith("ws://127.0.0.1:")
    await task
    ws, _ = await open_session(sim)
    await ws.close()
    await sim.stop_background()


async def test_a_stop_right_after_a_background_start_closes_the_port():
    """A widget whose construction fails stops its demo simulator before the scheduled start
    ran: the start then finishes and is stopped, and nothing listens on the port after."""
    sim = HydraSimulator()
    sim.start_background()
    port = sim.port
    await sim.stop_background()
    with pytest.raises(OSError):
        _, writer = await asyncio.open_connection("127.0.0.1", port)
        writer.close()


def test_start_background_in_a_thread_without_a_loop():
    """Without a running loop, start_background runs the server in a thread."""
    sim = HydraSimulator()
    assert sim.start_background() is None

    async def client() -> str:
        ws, welcome = await open_session(sim)
        sim.close_with(1000, "bye")  # from another thread than the server's
        code = await closed_with(ws)
        return f"{welcome['type']} {code[0]}"

    try:
        assert asyncio.run(client()) == "connected 1000"
    finally:
        sim.stop_background()


def test_cli_parses_fault_flags():
    """The sim hydra subcommand takes the documented fault flags."""
    args = build_parser().parse_args(
        [
            *("sim", "hydra", "--port", "0", "--rate", "0", "--limit", "5"),
            *("--drop-after", "3", "--silent-after", "4", "--malformed-every", "5"),
            *("--close-after", "6", "--close-code", "4003"),
            *("--huge-frame-after", "7", "--huge-size", "1000"),
        ]
    )
    assert (args.drop_after, args.close_code, args.huge_size, args.limit) == (3, 4003, 1000, 5)


async def test_cli_starts_and_serves(tmp_path: Path):
    """`python -m streamwidgets sim hydra` writes the ready file, prints a token, and serves."""
    ready = tmp_path / "port"
    root = Path(__file__).resolve().parents[2]
    env = {**os.environ, "PYTHONPATH": f"{root}{os.pathsep}{os.environ.get('PYTHONPATH', '')}"}
    proc = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "streamwidgets",
            "sim",
            "hydra",
            "--port",
            "0",
            "--ready-file",
            str(ready),
            "--heartbeat",
            "0.2",
        ],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env=env,
    )
    try:
        await eventually(lambda: ready.exists() or proc.poll() is not None, timeout=10)
        assert proc.poll() is None, proc.stderr.read() if proc.stderr else ""
        port = int(ready.read_text())
        lines = [proc.stdout.readline().strip() for _ in range(3)] if proc.stdout else []
        assert lines[0] == f"Hydra simulator listening on ws://127.0.0.1:{port}/stream"
        token = lines[2]
        async with connect(f"ws://127.0.0.1:{port}/stream?token={token}") as ws:
            welcome = await recv_json(ws)
            assert welcome["type"] == "connected"
            assert welcome["data"]["availableStreams"] == list(ALL_STREAMS)
            await recv_type(ws, "heartbeat")
    finally:
        proc.terminate()
        assert proc.wait(timeout=10) == 0
        if proc.stdout:
            proc.stdout.close()
        if proc.stderr:
            proc.stderr.close()
