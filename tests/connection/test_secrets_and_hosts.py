"""Secrets stay secret when a server repeats them, and credentials go only to the host the
user named: echoes, cross-host redirects, and a Pusher session pointing elsewhere."""

from __future__ import annotations

import base64
import logging
from urllib.parse import quote

import orjson
import pytest
from websockets.asyncio.server import serve
from websockets.datastructures import Headers
from websockets.http11 import Response

import streamwidgets
from streamwidgets import StreamWidget, feeds
from streamwidgets.connection.backoff import Backoff
from streamwidgets.connection.driver import Connection, State
from streamwidgets.dialects.pusher.bootstrap import Session
from streamwidgets.dialects.pusher.session_feed import PusherDialect
from streamwidgets.exceptions import ConfigurationError, RequestError, SubscriptionRefused
from streamwidgets.simulators.pusher import PusherSimulator
from tests.support.waiting import eventually, seconds
from tests.support.widgets import assert_never_sent

JWT = "eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiJlY2hvLXRlc3QiLCJzY29wZSI6WyJzaWduYWxzIl19.c2lnbmF0dXJl"
FAST = {"backoff": Backoff(initial=0.02, maximum=0.1), "healthy_after": 0.05}


def text(value) -> str:
    """JSON text for a text frame (orjson gives bytes, which would go as a binary one)."""
    return orjson.dumps(value).decode()


def forms(secret: str) -> list[str]:
    """The ways a server may write a secret back: as is, URL-encoded, base64, a piece."""
    raw = secret.encode()
    return [
        secret,
        quote(secret, safe=""),
        base64.b64encode(raw).decode(),
        base64.urlsafe_b64encode(raw).decode().rstrip("="),
        secret[-20:],
    ]


async def echoing_hydra(ws):
    """A Hydra-like server that quotes the JWT back everywhere it can."""
    token = ws.request.path.split("token=", 1)[1]
    echoes = [token, quote(token, safe=""), base64.b64encode(token.encode()).decode()]
    await ws.send(text({"type": "connected", "data": {"availableStreams": ["signals"]}}))
    async for message in ws:
        command = orjson.loads(message)
        if command.get("action") == "subscribe":
            await ws.send(
                text(
                    {
                        "type": "subscribed",
                        "data": {
                            "subscribed": [s for s in command["streams"] if s == "signals"],
                            "rejected": [s for s in command["streams"] if s != "signals"],
                            "rejectedReason": {
                                s: f"token {echoes[0]} has no scope {s}"
                                for s in command["streams"]
                                if s != "signals"
                            },
                        },
                    }
                )
            )
            for said in echoes:
                error = {"message": f"token {said} expires soon", "token": said}
                await ws.send(text({"type": "error", "data": error}))
            await ws.send(text({"stream": "signals", "type": "x", "ts": 1, "data": {}}))


async def test_a_server_quoting_the_token_never_gets_it_shown(recorded, caplog):
    """The JWT echoed raw, URL-encoded and base64 in errors and refusal reasons: not in
    notices, stats (kept or sent to the browser), the error line, SubscriptionRefused,
    the reason, the repr or any log record."""
    caplog.set_level(logging.DEBUG)
    async with serve(echoing_hydra, "127.0.0.1", 0) as server:
        port = server.sockets[0].getsockname()[1]
        feed = feeds.hydra(f"ws://127.0.0.1:{port}/stream", token=JWT)
        w = StreamWidget(feed, streams=["signals"], **FAST)
        recorded.append(w)
        await w.wait_async(state="connected", timeout=seconds(5))
        await eventually(lambda: len(w.connection.notices) >= 3)
        w.connection.dialect.available_streams = ["signals", JWT[:20]]  # stale, on purpose
        with pytest.raises(SubscriptionRefused) as refused:
            await w.subscribe_async(JWT[:20])
        await eventually(lambda: len(w.df) > 0)
        conn = w.connection
        shown = [
            repr(list(conn.notices)),
            repr(conn.stats),
            str(w.stats),
            str(conn.stats.last_error),
            conn.reason,
            str(refused.value),
            repr(refused.value.result),
            w.error,
            # The client's own records (the test server logs the request line itself).
            "\n".join(r.getMessage() for r in caplog.records if r.name.startswith("streamwidgets")),
        ]
        for text in shown:
            for form in forms(JWT):
                assert form not in text, (form, text[:200])
        assert "***" in repr(list(conn.notices))
        assert_never_sent(w, *forms(JWT))


async def test_a_request_error_that_quotes_the_token_is_masked():
    """A Hyperoru error reply quoting the session token: the HyperoruRequestError (a
    RequestError) names the request and masks the token."""
    token = "hyo_echo_0123456789abcdef0123456789"

    async def quoting(ws):
        async for message in ws:
            command = orjson.loads(message)
            if command["type"] == "ping":
                await ws.send(text({"type": "pong"}))
            else:
                said = {"message": f"session {token} expired", "code": "expired"}
                rid = command.get("request_id")
                await ws.send(text({"type": "error", "request_id": rid, "data": said}))

    async with serve(quoting, "127.0.0.1", 0) as server:
        port = server.sockets[0].getsockname()[1]
        feed = feeds.hyperoru(
            f"ws://127.0.0.1:{port}/ws", session_token=token, bootstrap_on_connect=False
        )
        async with streamwidgets.open(feed) as stream:
            with pytest.raises(RequestError, match=r"get_snapshot failed.*\*\*\*") as error:
                await stream.connection.dialect.requests(stream).get_snapshot("acct_1")
            for form in forms(token):
                assert form not in str(error.value)


# -- credentials go only where the user said ----------------------------------------------


async def test_a_redirect_to_another_host_is_not_followed_with_the_key():
    """Hydra v1 with the key in x-api-key, redirected (302) to another host: the attempt
    stops with a clear reason and the other host never sees the key; a redirect on the
    same host is followed."""
    seen: list[Headers] = []

    async def elsewhere(ws):
        seen.append(ws.request.headers)
        await ws.close()

    def record(connection, request):
        seen.append(request.headers)

    async with serve(elsewhere, "localhost", 0, process_request=record) as other:
        other_port = other.sockets[0].getsockname()[1]

        def redirect(connection, request):
            if request.path.startswith("/v1/moved"):
                return None
            location = (
                "/v1/moved" if "same" in request.path else f"ws://localhost:{other_port}/v1/stream"
            )
            return Response(302, "Found", Headers({"Location": location}), b"")

        async def welcome(ws):
            data = {"scopes": ["signals"], "ts": 1}
            await ws.send(text({"type": "connected", "data": data}))
            await ws.wait_closed()

        async with serve(welcome, "127.0.0.1", 0, process_request=redirect) as server:
            port = server.sockets[0].getsockname()[1]
            key = "hydra_k1_redirect_0123456789abcdef"
            feed = feeds.hydra_v1(f"ws://127.0.0.1:{port}/v1/stream", api_key=key)
            conn = Connection(feed, **FAST)
            conn.start()
            await conn.wait_for_state(State.FAILED, timeout=seconds(5))
            assert "redirects to another host" in conn.reason and key not in conn.reason
            assert all(key not in str(headers) for headers in seen)
            await conn.close()

            same = feeds.hydra_v1(f"ws://127.0.0.1:{port}/v1/same", api_key=key)
            async with streamwidgets.open(same, **FAST) as stream:
                assert stream.state is State.CONNECTED


class _ElsewhereSocket(PusherSimulator):
    """A Pusher bootstrap whose session puts the socket on another host name."""

    def _session(self, request, token):
        status, answer = super()._session(request, token)
        if status == 200:
            answer["connection"]["wsHost"] = "localhost"
        return status, answer


async def test_a_pusher_session_pointing_the_socket_elsewhere_needs_the_users_word():
    """wsHost outside the REST base's host stops the connection with what to pass; with
    ws_hosts=[that host] it connects. forceTls: false after https is refused likewise."""
    async with _ElsewhereSocket(tokens={"sk_sim_elsewhere_0123": "u1"}, host="0.0.0.0") as sim:
        base = sim.rest_url.replace("0.0.0.0", "127.0.0.1")
        conn = Connection(feeds.pusher(base, token="sk_sim_elsewhere_0123"), **FAST)
        conn.start()
        await conn.wait_for_state(State.FAILED, timeout=seconds(5))
        assert "ws_hosts=['localhost']" in conn.reason and sim.events_of("pusher:subscribe") == []
        await conn.close()
        trusted = feeds.pusher(base, token="sk_sim_elsewhere_0123", ws_hosts=["localhost"])
        async with streamwidgets.open(trusted, **FAST) as stream:
            assert stream.state is State.CONNECTED

    https = PusherDialect("https://api.example.com", token="t").for_connection()
    https.session = Session("api.example.com", 443, "key", force_tls=False, user_id=None)
    with pytest.raises(ConfigurationError, match="allow_insecure=True"):
        https.target()
    lenient = PusherDialect("https://api.example.com", token="t", allow_insecure=True)
    lenient = lenient.for_connection()
    lenient.session = https.session
    assert lenient.target().url.startswith("ws://api.example.com:443/app/key")


@pytest.mark.asyncio
@pytest.mark.parametrize(
    "form",
    [
        lambda t: t,
        lambda t: quote(t, safe=""),
        lambda t: base64.b64encode(t.encode()).decode(),
    ],
    ids=["raw", "url-encoded", "base64"],
)
async def test_a_token_echoed_in_events_never_reaches_the_buffer(form):
    """README: whatever a server says back is masked before it is kept. A Hydra server
    (written from the document alone) echoes the token in an event's fields."""
    from tests.support.ux_attack_server import HydraAttackServer

    token = "eyJhbGciOiJIUzI1NiJ9.ECHOSECRET0123456789.c2lnbmF0dXJlX2Vj"
    echoed = form(token)
    async with (
        HydraAttackServer(token=token) as server,
        streamwidgets.open(feeds.hydra(server.url, token=token), streams=["markets"]) as s,
    ):
        await server.wait_subscribed("markets", seconds(10))
        await server.push(
            "markets", "tick", {"price": 1.5, "token": echoed, "note": f"as {echoed}"}
        )
        await eventually(lambda: len(s.df) >= 1)
        row = s.df.iloc[-1]
        assert row["data.price"] == 1.5
        assert row["data.token"] == "***" and row["data.note"] == "as ***"
        assert echoed not in s.df.to_csv()
