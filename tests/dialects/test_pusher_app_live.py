"""A plain Pusher app (feeds.pusher_app) against the simulator's plain-app mode, on loopback.

Real sockets on 127.0.0.1 and no mocks: the simulator checks every HMAC-SHA256 signature
with the app secret; its auth endpoints (on its REST port, or alone as a
PusherAuthEndpoint that can go down and come back) sign with that secret; the real
pusher-js (Node) speaks to the same mode.
"""

from __future__ import annotations

import asyncio
import contextlib
import gzip
import json
import logging
import os
import time
from pathlib import Path

import comm
import pytest

import streamwidgets
from streamwidgets import AuthenticationFailed, Connection, StreamWidget, SubscriptionRefused, feeds
from streamwidgets.connection.backoff import Backoff
from streamwidgets.connection.driver import State
from streamwidgets.simulators.pusher import PusherSimulator
from streamwidgets.simulators.pusher_auth import PusherAuthEndpoint
from tests.support.attack_servers import HttpStub
from tests.support.comms import RecordingComm
from tests.support.feed_inputs import PUSHER_APP_HEADERS as HEADERS
from tests.support.feed_inputs import PUSHER_APP_KEY as KEY
from tests.support.feed_inputs import PUSHER_APP_TOKEN as TOKEN
from tests.support.node import NODE_MODULES, pusher_js_node
from tests.support.waiting import eventually, seconds, started
from tests.support.widgets import assert_never_sent

SECRET = "app-secret-5b9c0d1e2f3a4b5c"
OTHER = "sk_app_session_other_Hj2Kl4Zx6Cv8Bn0Mq1W"
CHANNELS = ["market", "private-orders", "presence-room"]
JS_CLIENT = Path(__file__).parents[1] / "support" / "pusher_js_app_client.cjs"


@pytest.fixture
async def sim(profile):
    async with PusherSimulator(
        mode="app",
        app_key=KEY,
        app_secret=SECRET,
        tokens={TOKEN: "u1", OTHER: "u2"},
        rate=100.0,
        seed=5,
        profile=profile,
    ) as simulator:
        yield simulator


def app_feed(sim, *, auth=None, user_auth=None, headers=HEADERS, **options):
    """The plain-app feed of ``sim``: its key, host and port, its auth endpoint by default."""
    return feeds.pusher_app(
        KEY,
        host="127.0.0.1",
        port=sim.port,
        tls=False,
        auth_endpoint=auth or sim.auth_url,
        auth_headers=headers,
        user_auth_endpoint=user_auth,
        **options,
    )


def connect(feed, streams=(), **options) -> Connection:
    options.setdefault("backoff", Backoff(initial=0.05, maximum=0.2))
    options.setdefault("healthy_after", 0.05)
    return Connection(feed, streams=list(streams), **options)


def streams_seen(conn: Connection) -> set[str]:
    df = conn.buffer.to_dataframe()
    return set(df["stream"]) if not df.empty else set()


def signatures_sent(sim: PusherSimulator) -> list[str]:
    """Every ``auth`` the clients sent (channel subscriptions and sign-ins)."""
    messages = [*sim.events_of("pusher:subscribe"), *sim.events_of("pusher:signin")]
    return [m["data"]["auth"] for m in messages if m["data"].get("auth")]


async def failed(conn: Connection) -> Exception:
    """Wait for the connection to fail; return what wait_connected raises then."""
    await conn.wait_for_state(State.FAILED, timeout=seconds(5))
    with pytest.raises(Exception) as info:
        await conn.wait_connected(timeout=1)
    return info.value


# -- channels against the simulator's plain-app mode -----------------------------------------


async def test_public_private_and_presence_channels_carry_decoded_events(sim):
    """Every kind of channel gets its rows, its JSON-string data decoded; only the private
    and presence subscribes carry a signature, fetched with the auth headers."""
    conn = await started(connect(app_feed(sim), CHANNELS))
    try:
        await eventually(lambda: set(CHANNELS) <= streams_seen(conn))
        df = conn.buffer.to_dataframe()
        market = df[df.stream == "market"]
        assert set(market.type) == {"price_update"} and market["data.price"].notna().all()
        orders = df[(df.stream == "private-orders") & (df.type != "member")]
        assert set(orders.type) <= {"position_update", "balance_update"}
        room = df[(df.stream == "presence-room") & (df.type != "member")]
        assert len(room) and (room["data.user_id"] == "u1").all()  # the member's own updates
        assert conn.dialect.members["presence-room"] == {"u1": {"name": "User u1"}}
        member = df[(df.stream == "presence-room") & (df.type == "member")]
        assert list(member["data.user_id"]) == ["u1"] and member.snapshot.all()
        sent = {c["data"]["channel"]: c["data"] for c in sim.events_of("pusher:subscribe")}
        assert "auth" not in sent["market"]
        assert sent["private-orders"]["auth"].startswith(f"{KEY}:")
        assert json.loads(sent["presence-room"]["channel_data"])["user_id"] == "u1"
        asked = [(path, status) for path, status, _ in sim.auth_answers.calls]
        assert asked == [("/pusher/auth", 200), ("/pusher/auth", 200)]
        assert all("authorization" in names for _, _, names in sim.auth_answers.calls)
        await conn.unsubscribe(["private-orders"])
        await eventually(lambda: sim.events_of("pusher:unsubscribe"))
    finally:
        await conn.close()


async def test_a_wrong_signature_is_refused_with_a_clear_error_and_the_rest_goes_on(sim):
    """An auth endpoint signing with another secret: the server refuses that channel
    (Pusher's pusher:error, strict; a subscription_error, lenient); the refusal names it,
    says 'Invalid signature', holds no signature, and the public channel carries on."""
    wrong = PusherAuthEndpoint(app_key=KEY, app_secret="not-the-app-secret", tokens={TOKEN: "u1"})
    async with wrong:
        conn = await started(connect(app_feed(sim, auth=wrong.url), ["market"]))
        try:
            with pytest.raises(SubscriptionRefused) as refused:
                await conn.subscribe(["private-orders"])
            why = refused.value.rejected["private-orders"]
            assert "Invalid signature" in why
            sent = sim.events_of("pusher:subscribe")[-1]["data"]["auth"]
            assert sent.split(":")[1] not in str(refused.value) + str(list(conn.notices))
            assert "private-orders" not in conn.subscriptions
            assert conn.state is State.CONNECTED
            before = len(conn.buffer.to_dataframe())
            await eventually(lambda: len(conn.buffer.to_dataframe()) > before)
        finally:
            await conn.close()


@pytest.mark.parametrize("refusal", ["403 for the channel", "401 for the headers"])
async def test_an_auth_endpoint_refusal_ends_the_connection_saying_why(sim, refusal):
    """401/403 from the auth endpoint: the connection fails with AuthenticationFailed,
    naming the channel and the status, and does not retry."""
    headers = HEADERS
    if refusal.startswith("403"):
        sim.auth_answers.denied.add("private-orders")
    else:
        headers = {"Authorization": "Bearer not-a-session"}
    conn = connect(app_feed(sim, headers=headers), ["market", "private-orders"])
    conn.start()
    error = await failed(conn)
    status = refusal[:3]
    assert isinstance(error, AuthenticationFailed)
    assert f"channel auth for 'private-orders': refused by the endpoint (HTTP {status})" in (
        str(error)
    )
    await asyncio.sleep(0.3)
    assert len(sim.connections) == 1 and len(sim.auth_answers.calls) == 1
    await conn.close()


async def test_auth_endpoint_down_then_back_reconnects_and_restores_the_subscriptions(sim):
    """The auth endpoint unreachable: each socket ends and the connection reconnects with its
    backoff, never failing, the channels kept; once it is back, every channel is
    subscribed and signed again and data flow on all of them."""
    async with PusherAuthEndpoint(app_key=KEY, app_secret=SECRET, tokens={TOKEN: "u1"}) as auth:
        conn = await started(connect(app_feed(sim, auth=auth.url), CHANNELS))
        try:
            await eventually(lambda: set(CHANNELS) <= streams_seen(conn))
            await auth.stop()
            sockets = len(sim.connections)
            sim.close_connections(4200, "Restarting")
            await eventually(lambda: len(sim.connections) >= sockets + 3, timeout=5)
            reasons = [c.reason for c in conn.history if c.state is State.RECONNECTING]
            assert any("channel auth for " in r and "cannot reach 127.0.0.1" in r for r in reasons)
            assert conn.state is not State.FAILED and conn.subscriptions == CHANNELS
            seen: set[str] = set()
            back_at = time.time_ns()
            conn.on_event(lambda e: seen.add(e.stream) if e.received_ns > back_at else None)
            await auth.start()
            await eventually(lambda: set(CHANNELS) <= seen, timeout=5)
            assert conn.state is State.CONNECTED and conn.subscriptions == CHANNELS
            assert State.FAILED not in {c.state for c in conn.history}
        finally:
            await conn.close()


async def test_auth_endpoint_server_errors_are_retried_with_the_backoff(sim):
    """5xx from the auth endpoint: reconnect (saying so) until it answers, then subscribed."""
    sim.fail_rest(3, 503)
    conn = connect(app_feed(sim), ["presence-room"], backoff=Backoff(initial=0.05, maximum=0.1))
    conn.start()
    try:
        await eventually(lambda: "presence-room" in conn.dialect.members, timeout=5)
        reasons = [c.reason for c in conn.history if c.state is State.RECONNECTING]
        assert len(reasons) == 3 and all("failed (HTTP 503)" in r for r in reasons)
        assert State.FAILED not in {c.state for c in conn.history}
    finally:
        await conn.close()


async def test_auth_headers_go_only_to_the_host_named(sim):
    """An auth endpoint redirecting elsewhere: not followed (the other host never gets the
    headers); the connection stops saying why."""
    async with HttpStub("127.0.0.2") as other, HttpStub("127.0.0.1") as named:

        async def redirect(method, target, headers, body):
            return 307, {"location": f"{other.base_url}/pusher/auth"}, b""

        named.routes[("POST", "/pusher/auth")] = redirect
        feed = app_feed(sim, auth=f"{named.base_url}/pusher/auth")
        conn = connect(feed, ["private-orders"])
        conn.start()
        error = await failed(conn)
        assert "redirects (HTTP 307)" in str(error) and "not followed" in str(error)
        assert other.requests == []
        (request,) = named.requests
        assert request[2]["authorization"] == f"Bearer {TOKEN}"
        assert b"socket_id=" in request[3] and b"channel_name=private-orders" in request[3]
        await conn.close()


# -- close codes -----------------------------------------------------------------------------


@pytest.mark.parametrize(
    "code,expect",
    [
        (4000, "stop: pass tls=True"),
        (4004, "stop"),
        (4009, "stop: user_auth_endpoint="),
        (4100, "after 0.4 s"),
        (4200, "at once"),
        (4202, "at once"),
        (4301, "after 0.4 s"),
    ],
)
async def test_close_codes_of_each_range(sim, code, expect):
    """4000-4099 end the connection with the reason; 4100-4199 and 4300-4399 reconnect
    after reconnect_delay or more; 4200-4299 at once, resubscribed."""
    conn = await started(connect(app_feed(sim, reconnect_delay=0.4), ["market"]))
    try:
        await eventually(lambda: "market" in streams_seen(conn))
        closed = time.monotonic()
        sim.close_connections(code, "Closed by the test")
        if expect.startswith("stop"):
            error = await failed(conn)
            assert str(code) in str(error) and expect.partition(": ")[2] in str(error)
            await asyncio.sleep(0.3)
            assert len(sim.connections) == 1
            return
        await eventually(lambda: len(sim.connections) == 2, timeout=4)
        waited = time.monotonic() - closed
        assert waited >= 0.4 if expect.startswith("after") else waited < 0.35
        await eventually(lambda: len(sim.events_of("pusher:subscribe")) == 2)
        assert str(code) in conn.history[-2].reason
    finally:
        await conn.close()


# -- sign-in ---------------------------------------------------------------------------------


async def test_a_server_that_wants_authorized_connections_gets_a_signin():
    """authorize_within (Pusher's authorized connections): without user_auth_endpoint the
    4009 close stops the connection saying how to sign in; with it, the client signs in at
    once, stays connected, and gets the user's own channel."""
    async with PusherSimulator(
        mode="app", app_key=KEY, app_secret=SECRET, tokens={TOKEN: "u1"}, authorize_within=0.3
    ) as sim:
        anonymous = await started(connect(app_feed(sim), ["market"]))
        error = await failed(anonymous)
        assert isinstance(error, AuthenticationFailed)
        assert "4009" in str(error) and "user_auth_endpoint=" in str(error)
        await anonymous.close()

        signed = await started(connect(app_feed(sim, user_auth=sim.user_auth_url), ["market"]))
        try:
            await eventually(lambda: "#server-to-user-u1" in streams_seen(signed))
            await asyncio.sleep(0.5)
            assert signed.state is State.CONNECTED and len(sim.closes) == 1
            assert list(sim.signed_in().values()) == ["u1"]
            assert signed.dialect.user_data == {"id": "u1", "name": "User u1"}
            assert any(n.message == "signed in as user u1" for n in signed.notices)
            (signin,) = sim.events_of("pusher:signin")
            assert json.loads(signin["data"]["user_data"])["id"] == "u1"
        finally:
            await signed.close()


async def test_a_refused_signin_ends_the_connection(sim):
    """A user-auth endpoint signing with another secret: the server's pusher:error ends
    the connection with AuthenticationFailed, the signature masked."""
    wrong = PusherAuthEndpoint(app_key=KEY, app_secret="not-the-app-secret", tokens={TOKEN: "u1"})
    async with wrong:
        conn = connect(app_feed(sim, user_auth=wrong.user_auth_url), ["market"])
        conn.start()
        error = await failed(conn)
        assert isinstance(error, AuthenticationFailed)
        assert "the server refused the sign-in: Invalid signature" in str(error)
        sent = sim.events_of("pusher:signin")[0]["data"]["auth"]
        assert sent.split(":")[1] not in str(error)
        await conn.close()


# -- secrets ---------------------------------------------------------------------------------


async def test_no_secret_in_reprs_stats_logs_exceptions_recordings_or_the_widget(
    sim, caplog, monkeypatch, tmp_path
):
    """The auth header and every signature (channel and sign-in, whole or bare hex) stay out
    of reprs, stats, history, notices, log lines, a recording of sent frames, exceptions and
    whatever the widget sends to the browser."""
    caplog.set_level(logging.DEBUG)
    monkeypatch.setattr(comm, "create_comm", RecordingComm)
    feed = app_feed(sim, user_auth=sim.user_auth_url)
    conn = await started(connect(feed, CHANNELS))
    widget = StreamWidget(
        app_feed(sim, user_auth=sim.user_auth_url),
        streams=CHANNELS,
        backoff=Backoff(initial=0.05, maximum=0.2),
    )
    try:
        await widget.wait_async(state="connected", timeout=seconds(5))
        await eventually(lambda: len(sim.events_of("pusher:signin")) == 2)
        path = tmp_path / "app.jsonl.gz"
        conn.record(path, include_sent=True)
        sim.close_connections(4200, "Restarting")  # signed again, and recorded
        await eventually(lambda: len(sim.events_of("pusher:signin")) == 4)
        await conn.wait_connected(timeout=seconds(5))
        await eventually(lambda: set(CHANNELS) <= streams_seen(conn))
        await widget.wait_async(state="connected", timeout=seconds(5))
        await asyncio.sleep(0.3)  # a few widget updates
        await conn.stop_recording()
        # A refusal to quote: the same feed with a channel the app denies.
        sim.auth_answers.denied.add("private-denied")
        refused = connect(app_feed(sim), ["private-denied"])
        refused.start()
        error = await failed(refused)
        await refused.close()
        sent = signatures_sent(sim)
        secrets = [TOKEN, *sent, *(s.split(":")[1] for s in sent)]
        assert len(sent) >= 6
        texts = {
            "log": caplog.text,
            "repr": repr(conn) + repr(conn.dialect) + repr(feed) + repr(feed.auth),
            "describe": str(feed.describe()) + str(conn.dialect.replay_config()),
            "stats": str(conn.stats.as_dict()) + str(widget.connection.stats.as_dict()),
            "history": str(list(conn.history)) + str(list(conn.notices)),
            "exception": repr(error) + str(error),
            "recording": gzip.decompress(path.read_bytes()).decode(),
        }
        for where, text in texts.items():
            for secret in secrets:
                assert secret not in text, f"a secret in the {where}"
        assert "pusher:signin" in texts["recording"]  # sent frames are there
        assert_never_sent(widget, *secrets)
    finally:
        widget.close()
        await conn.close()


async def test_a_recording_replays_by_its_dialect_name(sim, tmp_path):
    """A recording of a plain app's public, private and presence channels replays through
    feeds.replay(path) (the dialect rebuilt from its name) to the same rows."""
    path = tmp_path / "app.jsonl.gz"
    async with streamwidgets.open(
        app_feed(sim), streams=CHANNELS, record=path, backoff=Backoff(initial=0.05)
    ) as stream:
        await eventually(lambda: set(CHANNELS) <= streams_seen(stream.connection))
        await eventually(lambda: stream.stats.events >= 30)
    live = stream.df
    async with streamwidgets.open(feeds.replay(path, speed=None)) as replayed:
        await eventually(lambda: len(replayed.df) >= len(live))
        back = replayed.df
    columns = [c for c in live.columns if c not in ("seq", "received_at")]
    assert back[columns].astype(str).equals(live[columns].astype(str))


# -- the real pusher-js ----------------------------------------------------------------------


async def test_pusher_js_signs_in_and_joins_public_private_and_presence_channels():
    """pusher-js, configured as a browser app configures it (its own auth transport to the
    app's endpoints, with headers), signs in, joins every kind of channel, gets data and
    the user's own events, and is never closed as unauthorized."""
    node = pusher_js_node()
    async with PusherSimulator(
        mode="app",
        app_key=KEY,
        app_secret=SECRET,
        tokens={TOKEN: "u1"},
        rate=60.0,
        activity_timeout=0.5,
        authorize_within=1.0,
    ) as sim:
        env = {**os.environ, "NODE_PATH": str(NODE_MODULES)}
        args = [KEY, str(sim.port), sim.auth_url, sim.user_auth_url, TOKEN, *CHANNELS]
        process = await asyncio.create_subprocess_exec(
            node,
            str(JS_CLIENT),
            *args,
            stdout=asyncio.subprocess.PIPE,
            stderr=asyncio.subprocess.PIPE,
            env=env,
        )
        lines: list[dict] = []
        try:
            async with asyncio.timeout(seconds(15)):
                assert process.stdout is not None
                while not _pusher_js_done(lines, sim):
                    raw = await process.stdout.readline()
                    if not raw:
                        break
                    lines.append(json.loads(raw))
        finally:
            with contextlib.suppress(ProcessLookupError):
                process.terminate()
            _, err = await process.communicate()
        assert _pusher_js_done(lines, sim), (lines[-5:], err.decode())
        subscribed = {x["channel"]: x["members"] for x in lines if x["kind"] == "subscribed"}
        assert subscribed == {"market": None, "private-orders": None, "presence-room": 1}
        assert {"kind": "signed_in", "user": "u1"} in lines
        assert not [x for x in lines if x["kind"] in ("error", "subscription_error")]
        assert not sim.closes  # signed in within authorize_within
        presence = next(
            c["data"]
            for c in sim.events_of("pusher:subscribe")
            if c["data"]["channel"] == "presence-room"
        )
        assert presence["channel_data"] == sim.auth_answers.channel_data("u1")


def _pusher_js_done(lines: list[dict], sim: PusherSimulator) -> bool:
    channels = {x["channel"] for x in lines if x["kind"] == "event"}
    return (
        set(CHANNELS) <= channels
        and any(x["kind"] == "user_event" for x in lines)
        and bool(sim.events_of("pusher:pong"))
    )


async def test_cli_runs_the_plain_app_simulator_and_prints_a_working_feed():
    """`python -m streamwidgets sim pusher --mode app` prints the feeds.pusher_app call and
    the Bearer token for its auth endpoint; that feed, so configured, joins a private
    channel."""
    import re
    import subprocess
    import sys

    command = [sys.executable, "-m", "streamwidgets", "sim", "pusher", "--mode", "app"]
    process = subprocess.Popen([*command, "--port", "0"], stdout=subprocess.PIPE, text=True)
    try:
        assert process.stdout is not None
        lines = [process.stdout.readline() for _ in range(4)]
        token = lines[2].strip()
        found = re.search(
            r"feeds\.pusher_app\('([^']+)', host='([^']+)', port=(\d+), tls=False, "
            r"auth_endpoint='([^']+)'",
            lines[3],
        )
        assert found is not None and token.startswith("sk_sim_") and token not in lines[3]
        key, host, port, auth = found.groups()
        feed = feeds.pusher_app(
            key,
            host=host,
            port=int(port),
            tls=False,
            auth_endpoint=auth,
            auth_headers={"Authorization": f"Bearer {token}"},
        )
        async with streamwidgets.open(feed, streams=["private-orders"]) as stream:
            await eventually(lambda: stream.stats.events >= 3, timeout=10)
            assert set(stream.df["stream"]) == {"private-orders"}
    finally:
        process.terminate()
        process.wait(timeout=10)
