"""feeds.pusher_app against a Pusher server written from Pusher's public documents only.

The server and the app's auth endpoints are in tests/pusher_doc_server.py; each test's
docstring names the document fact it relies on. Documents:

- [Protocol] "Pusher Channels Protocol", version 7
  (pusher.com/docs/channels/library_auth_reference/pusher-websockets-protocol).
- [Auth] "Authorizing users" / "Generating authentication and authorization strings"
  (pusher.com/docs/channels/server_api/authorizing-users,
  pusher.com/docs/channels/library_auth_reference/auth-signatures).
- [User] "User authentication" (pusher.com/docs/channels/using_channels/user-authentication).
- [Presence] "Presence channels" (pusher.com/docs/channels/using_channels/presence-channels).
- [Authorized] "Authorized connections" (4009).
- [Feed] the feed's own docstrings (help(streamwidgets.feeds.pusher_app),
  help(streamwidgets.dialects.pusher.app)), where the Pusher documents are silent.
"""

from __future__ import annotations

import asyncio
import base64
import contextlib
import json
import logging
import time
import urllib.parse
from typing import Any

import pytest

import streamwidgets
from streamwidgets import feeds
from streamwidgets.connection.backoff import Backoff
from tests.support.pusher_doc_server import KEY, AuthApp, PusherDocServer, Response, channel_auth
from tests.support.waiting import eventually

HEADER_SECRET = "Bearer hdr-5ecret-c0ffee-91a7b2e4"
COOKIE_SECRET = "session=ck-5ecret-77d1e0aa3b"

FAILED = streamwidgets.State.FAILED
CONNECTED = streamwidgets.State.CONNECTED


# --------------------------------------------------------------------------- helpers


@pytest.fixture
async def server():
    async with PusherDocServer() as srv:
        yield srv


@pytest.fixture
async def app():
    async with AuthApp() as endpoint:
        yield endpoint


class Records(logging.Handler):
    """Every log record of the client (the test server's own logger left out)."""

    def __init__(self) -> None:
        super().__init__(logging.DEBUG)
        self.lines: list[str] = []

    def emit(self, record: logging.LogRecord) -> None:
        if record.name.startswith("pusher_doc_server"):
            return
        try:
            text = record.getMessage()
        except Exception:  # pragma: no cover
            text = str(record.msg)
        if record.exc_info and record.exc_info[1] is not None:
            text += " | " + repr(record.exc_info[1])
        self.lines.append(f"{record.name}: {text}")


@pytest.fixture
def log_lines():
    handler = Records()
    root = logging.getLogger()
    old = root.level
    root.setLevel(logging.DEBUG)
    root.addHandler(handler)
    try:
        yield handler.lines
    finally:
        root.removeHandler(handler)
        root.setLevel(old)


def make_feed(srv: PusherDocServer, app: AuthApp | None = None, **options: Any):
    kw: dict[str, Any] = {"host": "127.0.0.1", "port": srv.port, "tls": False}
    if app is not None:
        kw["auth_endpoint"] = app.url
        kw["auth_headers"] = {"Authorization": HEADER_SECRET, "Cookie": COOKIE_SECRET}
    kw.update(options)
    return feeds.pusher_app(KEY, **kw)


def fast() -> Backoff:
    return Backoff(initial=0.05, maximum=0.2)


@contextlib.asynccontextmanager
async def opened(feed, streams, **options):
    """``streamwidgets.open`` that also yields the error ``async with`` raised, if any."""
    options.setdefault("connect_timeout", 3)
    options.setdefault("open_timeout", 3)
    stream = streamwidgets.open(feed, streams=streams, **options)
    error: BaseException | None = None
    try:
        await stream.__aenter__()
    except streamwidgets.StreamError as exc:
        error = exc
    states: list[Any] = []
    stream.connection.on_state(lambda change: states.append(change))
    stream.states = states  # type: ignore[attr-defined]
    stream.open_error = error  # type: ignore[attr-defined]
    events: list[Any] = []
    stream.connection.on_event(events.append)
    stream.events = events  # type: ignore[attr-defined]
    try:
        yield stream
    finally:
        with contextlib.suppress(Exception):
            await asyncio.wait_for(stream.close(), 3)


async def wait_failed(stream, timeout: float = 3.0) -> str:
    await eventually(
        lambda: stream.connection.state == FAILED,
        timeout,
        what=f"state failed (now {stream.connection.state}: {stream.connection.reason})",
    )
    return stream.connection.reason


def rows(stream, type_: str | None = None) -> list[Any]:
    return [e for e in stream.events if type_ is None or e.type == type_]


def secret_forms(*secrets: str) -> list[str]:
    forms: list[str] = []
    for s in secrets:
        forms += [
            s,
            urllib.parse.quote(s),
            urllib.parse.quote_plus(s),
            base64.b64encode(s.encode()).decode(),
        ]
    return forms


def visible_text(stream, feed, extra: list[str] = ()) -> str:
    """Everything the client shows: reprs, stats, notices, reason, states, rejects."""
    conn = stream.connection
    parts = [
        repr(feed),
        repr(conn),
        repr(stream),
        repr(conn.dialect),
        str(conn.reason),
        repr(stream.stats),
        json.dumps(stream.stats.as_dict(), default=str),
        repr(list(conn.notices)),
        repr(getattr(stream, "states", [])),
        repr(list(conn.rejected_frames)),
        repr(conn.subscriptions),
    ]
    parts += list(extra)
    return "\n".join(parts)


def assert_no_secret(text: str, secrets: list[str]) -> None:
    for s in secrets:
        assert s not in text, f"secret {s[:6]}... found in: {text[:2000]}"


# =========================================================================== arguments


@pytest.mark.parametrize("key", ["", None, 123])
def test_no_key_is_a_configuration_error(key):
    """[Protocol] the socket is /app/[key]: an app key is required. [Feed] ConfigurationError
    naming the argument."""
    with pytest.raises(streamwidgets.ConfigurationError) as info:
        feeds.pusher_app(key, cluster="mt1")
    assert "key" in str(info.value)


def test_both_cluster_and_host_is_a_configuration_error():
    """[Feed] "give cluster= ... or host= ..., not both"."""
    with pytest.raises(streamwidgets.ConfigurationError) as info:
        feeds.pusher_app("k", cluster="eu", host="127.0.0.1")
    assert "cluster" in str(info.value) and "host" in str(info.value)


def test_neither_cluster_nor_host_is_a_configuration_error():
    """[Protocol] ws-[cluster_name].pusher.com needs a cluster; [Feed] or a host."""
    with pytest.raises(streamwidgets.ConfigurationError) as info:
        feeds.pusher_app("k")
    assert "cluster" in str(info.value) or "host" in str(info.value)


@pytest.mark.parametrize("port", [0, 70000, -1, 65536, "6001", 1.5, True])
def test_port_out_of_range_is_a_configuration_error(port):
    """A TCP port is 1-65535 ([Feed] "port: TCP port, 1-65535")."""
    with pytest.raises(streamwidgets.ConfigurationError) as info:
        feeds.pusher_app("k", host="127.0.0.1", port=port, tls=False)
    assert "port" in str(info.value)


@pytest.mark.parametrize("tls", ["yes", 1, 0, None, "false"])
def test_tls_not_a_bool_is_a_configuration_error(tls):
    """[Protocol] scheme ws or wss: a choice of two; [Feed] tls is a bool."""
    with pytest.raises(streamwidgets.ConfigurationError) as info:
        feeds.pusher_app("k", host="127.0.0.1", port=6001, tls=tls)
    assert "tls" in str(info.value)


@pytest.mark.parametrize(
    "endpoint",
    [
        "ftp://example.com/pusher/auth",
        "example.com/pusher/auth",
        "/pusher/auth",
        "ws://example.com/auth",
        "http://",
        "http://:80/auth",
        "http://example.com:0/auth",
    ],
)
def test_auth_endpoint_not_http_is_a_configuration_error(endpoint):
    """[Auth] the endpoint receives an HTTP POST: it must be an http(s) URL with a host."""
    with pytest.raises(streamwidgets.ConfigurationError) as info:
        feeds.pusher_app("k", host="127.0.0.1", port=6001, tls=False, auth_endpoint=endpoint)
    assert "auth_endpoint" in str(info.value)


def test_bad_argument_errors_hold_no_secret():
    """[Feed] auth_headers are "never shown, logged or sent anywhere else": not even in the
    error about another argument."""
    with pytest.raises(streamwidgets.ConfigurationError) as info:
        feeds.pusher_app(
            "k",
            host="127.0.0.1",
            port=0,
            tls=False,
            auth_endpoint="http://127.0.0.1:9/pusher/auth",
            auth_headers={"Authorization": HEADER_SECRET},
        )
    assert_no_secret(str(info.value) + repr(info.value), [HEADER_SECRET])


def test_private_channel_without_auth_endpoint_is_refused_before_connecting():
    """[Auth] private- and presence- channels need a signature from the app's endpoint;
    without one they cannot work (checked before anything is sent)."""
    feed = feeds.pusher_app("k", host="127.0.0.1", port=6001, tls=False)
    with pytest.raises(streamwidgets.ConfigurationError) as info:
        feed.check_streams(["private-orders"])
    assert "private-orders" in str(info.value)


def test_repr_of_feed_holds_no_secret():
    """[Feed] auth_headers "never shown"."""
    feed = feeds.pusher_app(
        "k",
        host="127.0.0.1",
        port=6001,
        tls=False,
        auth_endpoint="http://127.0.0.1:9/pusher/auth",
        auth_headers={"Authorization": HEADER_SECRET, "Cookie": COOKIE_SECRET},
    )
    assert_no_secret(
        repr(feed) + str(feed) + json.dumps(feed.describe(), default=str),
        secret_forms(HEADER_SECRET, COOKIE_SECRET),
    )


def test_cluster_url_is_the_documented_one():
    """[Protocol] [scheme]://ws-[cluster_name].pusher.com:[port]/app/[key]; default ports 80
    (ws) or 443 (wss)."""
    assert (
        feeds.pusher_app("kk", cluster="eu").describe()["url"]
        == "wss://ws-eu.pusher.com:443/app/kk"
    )
    assert (
        feeds.pusher_app("kk", cluster="ap1", tls=False).describe()["url"]
        == "ws://ws-ap1.pusher.com:80/app/kk"
    )


# =========================================================================== connection


async def test_connect_query_and_subscribe_frame(server):
    """[Protocol] "The following query parameters should be supplied: protocol, client,
    version"; pusher:subscribe is {"event": "pusher:subscribe", "data": {"channel": ...}}
    with data an object."""
    feed = make_feed(server)
    async with opened(feed, ["ticker"]) as stream:
        assert stream.open_error is None
        sock = await server.wait_socket(1)
        await server.wait_subscribed(sock, "ticker")
        path, _, query = sock.path.partition("?")
        assert path == f"/app/{KEY}"
        params = dict(urllib.parse.parse_qsl(query))
        assert params.get("protocol") == "7"
        assert params.get("client") and params.get("version")
        sub = sock.frames("pusher:subscribe")[0]
        assert sub["data"] == {"channel": "ticker"}
        assert stream.connection.state == CONNECTED


async def test_connection_established_data_is_a_json_string_and_socket_id_used(server, app):
    """[Protocol] pusher:connection_established's data is a JSON string holding socket_id
    and activity_timeout; [Auth] the client POSTs that socket_id with channel_name."""
    feed = make_feed(server, app)
    async with opened(feed, ["private-orders"]) as stream:
        sock = await server.wait_socket(1)
        await server.wait_subscribed(sock, "private-orders")
        req = app.auth_requests()[0]
        assert req.method == "POST"
        assert req.headers.get("content-type", "").startswith("application/x-www-form-urlencoded")
        assert req.form == {"socket_id": sock.socket_id, "channel_name": "private-orders"}
        assert req.headers.get("authorization") == HEADER_SECRET
        assert req.headers.get("cookie") == COOKIE_SECRET
        sub = next(d for d in sock.subscribes() if d.get("channel") == "private-orders")
        assert sub["auth"] == channel_auth(sock.socket_id, "private-orders")
        assert not server.bad_signatures
        assert stream.connection.state == CONNECTED


async def test_auth_headers_never_reach_the_websocket_server(server, app):
    """[Feed] auth_headers go to the auth endpoints only; [Protocol] the socket needs only
    the key in its path."""
    feed = make_feed(server, app)
    async with opened(feed, ["private-orders"]):
        sock = await server.wait_socket(1)
        await server.wait_subscribed(sock, "private-orders")
        everything = json.dumps(sock.headers) + sock.path + "".join(sock.raw_received)
        assert_no_secret(everything, secret_forms(HEADER_SECRET, COOKIE_SECRET))


# =========================================================================== data


async def test_event_data_json_string_is_decoded(server):
    """[Protocol] channel events: data is a String, "the event data ... JSON encoded";
    decoding it gives the app's payload (nested objects flatten into columns)."""
    async with opened(make_feed(server), ["ticker"]) as stream:
        sock = await server.wait_socket(1)
        await server.wait_subscribed(sock, "ticker")
        await sock.event("ticker", "trade", {"price": 1.5, "pair": "BTC-EUR", "q": {"n": 3}})
        await eventually(lambda: rows(stream, "trade"), timeout=3.0)
        event = rows(stream, "trade")[0]
        assert event.stream == "ticker"
        assert event.data == {"price": 1.5, "pair": "BTC-EUR", "q": {"n": 3}}
        df = stream.df
        assert df.loc[df["type"] == "trade", "data.price"].iloc[0] == 1.5
        assert df.loc[df["type"] == "trade", "data.q.n"].iloc[0] == 3


async def test_event_data_plain_string_is_kept(server):
    """[Protocol] data is a String the app triggered: it need not be JSON ("hello world"
    stays that string; the connection carries on)."""
    async with opened(make_feed(server), ["ticker"]) as stream:
        sock = await server.wait_socket(1)
        await server.wait_subscribed(sock, "ticker")
        await sock.event("ticker", "note", "hello world")
        await sock.event("ticker", "note", "{not json")
        await sock.event("ticker", "after", {"ok": True})
        await eventually(lambda: rows(stream, "after"), timeout=3.0)
        assert [e.data for e in rows(stream, "note")] == ["hello world", "{not json"]
        assert stream.stats.parse_errors == 0
        assert stream.connection.state == CONNECTED


async def test_event_data_number_and_json_encoded_string(server):
    """[Protocol] data is JSON-encoded once: "42" is the number 42, '"42"' the string "42",
    and a JSON string holding JSON text is that text (decoded once, as pusher-js's
    decodeMessage does)."""
    async with opened(make_feed(server), ["ticker"]) as stream:
        sock = await server.wait_socket(1)
        await server.wait_subscribed(sock, "ticker")
        await sock.event("ticker", "n", "42")
        await sock.event("ticker", "s", json.dumps("42"))
        inner = json.dumps({"a": 1})
        await sock.event("ticker", "j", json.dumps(inner))
        await sock.event("ticker", "end", "{}")
        await eventually(lambda: rows(stream, "end"), timeout=3.0)
        assert rows(stream, "n")[0].data == 42
        assert rows(stream, "s")[0].data == "42"
        assert rows(stream, "j")[0].data == inner


async def test_event_without_channel_does_not_break_the_connection(server):
    """[Protocol] channel is optional in the message envelope ({event, channel?, data});
    an event without one must not stop the connection."""
    async with opened(make_feed(server), ["ticker"]) as stream:
        sock = await server.wait_socket(1)
        await server.wait_subscribed(sock, "ticker")
        await sock.event(None, "global-event", {"x": 1})
        await sock.event("ticker", "after", {"ok": 1})
        await eventually(lambda: rows(stream, "after"), timeout=3.0)
        assert stream.connection.state == CONNECTED
        assert len(server.sockets) == 1
        for e in rows(stream, "global-event"):
            assert e.stream != "ticker"


async def test_event_on_a_channel_not_subscribed(server):
    """[Protocol] events come on the channels a client subscribed to; an event on another
    channel is not that channel's data: no crash, not filed under a subscribed stream."""
    async with opened(make_feed(server), ["ticker"]) as stream:
        sock = await server.wait_socket(1)
        await server.wait_subscribed(sock, "ticker")
        await sock.event("other-channel", "stray", {"x": 1})
        await sock.event("ticker", "after", {"ok": 1})
        await eventually(lambda: rows(stream, "after"), timeout=3.0)
        assert stream.connection.state == CONNECTED
        for e in rows(stream, "stray"):
            assert e.stream != "ticker"


async def test_non_json_frame_is_counted_and_connection_carries_on(server):
    """[Protocol] "Data is sent ... as text data containing UTF8 encoded JSON": a frame
    that is not JSON is a server fault; [Feed README] counted, kept, the connection goes on."""
    async with opened(make_feed(server), ["ticker"]) as stream:
        sock = await server.wait_socket(1)
        await server.wait_subscribed(sock, "ticker")
        await sock.send("this is not json")
        await sock.send("[1, 2, 3]")
        await sock.event("ticker", "after", {"ok": 1})
        await eventually(lambda: rows(stream, "after"), timeout=3.0)
        assert stream.stats.parse_errors >= 1
        assert stream.connection.state == CONNECTED
        assert len(server.sockets) == 1


async def test_very_large_frame_is_received_whole(server):
    """[Protocol] an event is one WebSocket text message; a 4 MB one (a self-hosted server
    may allow it) arrives whole."""
    async with opened(make_feed(server), ["ticker"]) as stream:
        sock = await server.wait_socket(1)
        await server.wait_subscribed(sock, "ticker")
        blob = "x" * (4 * 1024 * 1024)
        await sock.event("ticker", "big", {"blob": blob})
        await eventually(lambda: rows(stream, "big"), timeout=5)
        assert rows(stream, "big")[0].data["blob"] == blob
        assert stream.connection.state == CONNECTED


async def test_frame_above_max_frame_bytes_reconnects_and_resubscribes(server):
    """[Feed README] a frame above max_frame_bytes is counted and the connection reconnects;
    [Protocol] after a reconnect the client subscribes again."""
    async with opened(
        make_feed(server), ["ticker"], max_frame_bytes=64_000, backoff=fast()
    ) as stream:
        sock = await server.wait_socket(1)
        await server.wait_subscribed(sock, "ticker")
        await sock.event("ticker", "huge", {"blob": "y" * 200_000})
        sock2 = await server.wait_socket(2, timeout=4)
        await server.wait_subscribed(sock2, "ticker")
        await sock2.event("ticker", "after", {"ok": 1})
        await eventually(lambda: rows(stream, "after"), timeout=3.0)
        assert stream.stats.oversized_frames == 1


# =========================================================================== ping / pong


async def test_server_ping_is_answered_with_pong(server):
    """[Protocol] pusher:ping may be sent by the server; "the recipient must reply with
    pusher:pong"."""
    async with opened(make_feed(server), ["ticker"]):
        sock = await server.wait_socket(1)
        await server.wait_subscribed(sock, "ticker")
        await sock.send({"event": "pusher:ping", "data": {}})
        await server.wait_for(lambda: sock.frames("pusher:pong"), 2, "pusher:pong")
        assert sock.frames("pusher:pong")[0].get("event") == "pusher:pong"


async def test_client_pings_after_activity_timeout_silence():
    """[Protocol] activity_timeout in connection_established: "the client should send a
    pusher:ping" after that many seconds without a message; a pong keeps it up."""
    async with (
        PusherDocServer(activity_timeout=1) as srv,
        opened(make_feed(srv), ["ticker"]) as stream,
    ):
        sock = await srv.wait_socket(1)
        await srv.wait_subscribed(sock, "ticker")
        t0 = time.monotonic()
        await srv.wait_for(lambda: sock.frames("pusher:ping"), 3.5, "client pusher:ping")
        waited = time.monotonic() - t0
        assert 0.5 <= waited <= 3.0, waited
        await asyncio.sleep(0.8)
        assert len(srv.sockets) == 1
        assert stream.connection.state == CONNECTED


async def test_no_pong_means_dead_and_reconnects_and_resubscribes():
    """[Protocol] the client pings after activity_timeout of silence; with no pong within the
    pong timeout it should treat the connection as dead, close it and reconnect (then
    subscribe again)."""
    async with PusherDocServer(activity_timeout=1) as srv:
        srv.answer_pings = False
        feed = make_feed(srv, pong_timeout=0.5)
        async with opened(feed, ["ticker"], backoff=fast()):
            sock = await srv.wait_socket(1)
            await srv.wait_subscribed(sock, "ticker")
            await srv.wait_for(lambda: sock.frames("pusher:ping"), 3.5, "client pusher:ping")
            sock2 = await srv.wait_socket(2, timeout=3)
            assert sock.closed is not None
            await srv.wait_subscribed(sock2, "ticker")


async def test_data_frames_count_as_activity():
    """[Protocol] the client pings after activity_timeout "without receiving any messages":
    a server that keeps sending events is alive; no reconnect."""
    async with PusherDocServer(activity_timeout=1) as srv:
        srv.answer_pings = False
        feed = make_feed(srv, pong_timeout=0.5)
        async with opened(feed, ["ticker"], backoff=fast()) as stream:
            sock = await srv.wait_socket(1)
            await srv.wait_subscribed(sock, "ticker")
            for i in range(12):
                await sock.event("ticker", "tick", {"i": i})
                await asyncio.sleep(0.25)
            assert len(srv.sockets) == 1
            assert len(rows(stream, "tick")) == 12


# =========================================================================== close codes


@pytest.mark.parametrize("code", [4001, 4003, 4004, 4099])
async def test_close_4000_4099_stops_with_a_clear_error(server, code):
    """[Protocol] 4000-4099: "the connection SHOULD NOT be re-established unchanged"."""
    async with opened(make_feed(server), ["ticker"], backoff=fast()) as stream:
        sock = await server.wait_socket(1)
        await server.wait_subscribed(sock, "ticker")
        await sock.close(code, "Application does not exist")
        reason = await wait_failed(stream)
        assert str(code) in reason
        await asyncio.sleep(1.0)
        assert len(server.sockets) == 1
        assert stream.connection.close_code == code


async def test_close_4000_says_to_use_tls(server):
    """[Protocol] 4000: "Application only accepts SSL connections, reconnect using wss://"."""
    async with opened(make_feed(server), ["ticker"], backoff=fast()) as stream:
        sock = await server.wait_socket(1)
        await server.wait_subscribed(sock, "ticker")
        await sock.close(4000, "Application only accepts SSL connections, reconnect using wss://")
        reason = await wait_failed(stream)
        assert "4000" in reason and ("tls" in reason.lower() or "ssl" in reason.lower())
        await asyncio.sleep(0.6)
        assert len(server.sockets) == 1


async def test_close_4009_stops_and_says_why(server):
    """[Authorized] a connection neither signed in nor on a private channel is closed with
    4009 "Connection not authorized within timeout"; 4009 is in 4000-4099: do not
    reconnect."""
    async with opened(make_feed(server), ["ticker"], backoff=fast()) as stream:
        sock = await server.wait_socket(1)
        await server.wait_subscribed(sock, "ticker")
        await sock.close(4009, "Connection not authorized within timeout")
        reason = await wait_failed(stream)
        assert "4009" in reason
        await asyncio.sleep(0.6)
        assert len(server.sockets) == 1


async def test_close_4001_at_handshake_makes_open_raise(server):
    """[Protocol] 4000-4099 do not reconnect: a socket refused at once leaves ``async with``
    with a clear ConnectionFailed, not a retry loop."""

    async def refuse(srv, sock):
        await sock.close(4001, "App key app-key-public does not exist")
        return True

    server.on_open = refuse
    async with opened(make_feed(server), ["ticker"], backoff=fast()) as stream:
        assert isinstance(stream.open_error, streamwidgets.ConnectionFailed)
        assert "4001" in str(stream.open_error)
        await asyncio.sleep(0.6)
        assert len(server.sockets) == 1


@pytest.mark.parametrize("code", [4100, 4199])
async def test_close_4100_4199_reconnects_after_a_pause(server, code):
    """[Protocol] 4100-4199: "The connection SHOULD be re-established after backing off. The
    back-off time SHOULD be at least 1 second"."""
    async with opened(make_feed(server), ["ticker"], backoff=fast()):
        sock = await server.wait_socket(1)
        await server.wait_subscribed(sock, "ticker")
        await sock.close(code, "Over capacity")
        sock2 = await server.wait_socket(2, timeout=4)
        gap = sock2.opened - sock.closed
        assert gap >= 0.95, gap
        assert gap <= 3.0, gap
        await server.wait_subscribed(sock2, "ticker")


@pytest.mark.parametrize("code", [4200, 4201, 4202])
async def test_close_4200_4299_reconnects_at_once(server, code):
    """[Protocol] 4200-4299: "The connection SHOULD be re-established immediately" (4201:
    pong reply not received, 4202: closed after inactivity). A healthy connection first, so
    no backoff is owed."""
    async with opened(make_feed(server), ["ticker"], healthy_after=0.3):
        sock = await server.wait_socket(1)
        await server.wait_subscribed(sock, "ticker")
        await asyncio.sleep(0.6)
        await sock.close(code, "Generic reconnect immediately")
        sock2 = await server.wait_socket(2, timeout=3)
        gap = sock2.opened - sock.closed
        assert gap < 0.3, gap
        await server.wait_subscribed(sock2, "ticker")


async def test_pusher_error_then_close_4100_reconnects(server):
    """[Protocol] pusher:error carries {message, code}; a 41xx code then a 41xx close:
    reconnect after at least 1 s (the error is not a data row)."""
    async with opened(make_feed(server), ["ticker"], backoff=fast()) as stream:
        sock = await server.wait_socket(1)
        await server.wait_subscribed(sock, "ticker")
        await sock.error("Over capacity", 4100)
        await sock.close(4100, "Over capacity")
        sock2 = await server.wait_socket(2, timeout=4)
        assert sock2.opened - sock.closed >= 0.95
        await server.wait_subscribed(sock2, "ticker")
        assert not [e for e in stream.events if "error" in e.type]


async def test_abrupt_drop_resubscribes_every_channel_signed_for_the_new_socket(server, app):
    """[Protocol] a connection lost (1006) is re-established; subscriptions do not survive a
    socket, so every channel is subscribed again. [Auth] the signature covers
    socket_id:channel_name (presence: :channel_data), so private and presence channels are
    signed again for the NEW socket_id."""
    channels = ["ticker", "private-orders", "presence-room"]
    async with opened(make_feed(server, app), channels, backoff=fast()) as stream:
        sock = await server.wait_socket(1)
        await server.wait_subscribed(sock, *channels)
        sock.drop()
        sock2 = await server.wait_socket(2, timeout=4)
        await server.wait_subscribed(sock2, *channels)
        assert sock2.socket_id != sock.socket_id
        assert not server.bad_signatures
        signed_for = {(r.form["socket_id"], r.form["channel_name"]) for r in app.auth_requests()}
        assert (sock2.socket_id, "private-orders") in signed_for
        assert (sock2.socket_id, "presence-room") in signed_for
        await sock2.event("private-orders", "order", {"id": 9})
        await eventually(lambda: rows(stream, "order"), timeout=3.0)
        assert stream.stats.reconnects >= 1


# =========================================================================== auth endpoint


async def test_auth_endpoint_500_then_200_retries_and_never_gives_up(server, app):
    """[Auth] the endpoint is the app's server; a 5xx is its fault, not a refusal: the
    client retries (with backoff) until it signs, never stopping."""
    app.script = [Response(500, "Internal error")] * 5 + [Response(503, "busy")]
    async with opened(make_feed(server, app), ["private-orders"], backoff=fast()) as stream:
        sock = await eventually(
            lambda: next((s for s in server.sockets if "private-orders" in s.channels), None),
            timeout=8,
            what="private-orders subscribed",
        )
        assert len(app.auth_requests()) >= 7
        assert all(c.state != FAILED for c in stream.states)
        assert stream.connection.state == CONNECTED
        await sock.event("private-orders", "order", {"id": 1})
        await eventually(lambda: rows(stream, "order"), timeout=3.0)


async def test_auth_endpoint_unreachable_retries(server, app):
    """[Auth] an endpoint that is down is transient: retried, never a refusal."""
    port = app.port
    dead = f"http://127.0.0.1:{port}/pusher/auth"
    await app.__aexit__()
    feed = make_feed(server, auth_endpoint=dead, auth_headers={"Authorization": HEADER_SECRET})
    async with opened(feed, ["private-orders"], backoff=fast()) as stream:
        await asyncio.sleep(1.2)
        assert stream.connection.state != FAILED, stream.connection.reason
        assert len(server.sockets) >= 2


async def test_auth_endpoint_403_is_a_clear_refusal(server, app):
    """[Auth] the app's endpoint answers 403 when the user may not join: a refusal; asking
    again would get the same (the client stops, saying so)."""
    app.script = [Response(403, "Forbidden")] * 20
    async with opened(make_feed(server, app), ["private-orders"], backoff=fast()) as stream:
        if stream.open_error is not None:
            assert isinstance(stream.open_error, streamwidgets.AuthenticationFailed)
        reason = await wait_failed(stream)
        assert "403" in reason or "refused" in reason.lower() or "forbidden" in reason.lower()
        n = len(app.auth_requests())
        await asyncio.sleep(0.8)
        assert len(app.auth_requests()) == n


async def test_auth_endpoint_401_is_a_clear_refusal(server, app):
    """[Auth] 401: the user is not authenticated with the app: a refusal."""
    app.script = [Response(401, "Unauthorized")] * 20
    async with opened(make_feed(server, app), ["private-orders"], backoff=fast()) as stream:
        reason = await wait_failed(stream)
        assert "401" in reason or "refused" in reason.lower()


@pytest.mark.parametrize("body", [{"token": "x"}, {"auth": 12345}, ["auth"], {"auth": None}])
async def test_auth_endpoint_wrong_json_shape_stops_clearly(server, app, body):
    """[Auth] the endpoint answers {"auth": "key:signature"}; another shape cannot sign
    anything. [Feed] a JSON answer without the fields is a ConfigurationError: stop, saying
    why."""
    app.script = [Response(200, json.dumps(body), {"Content-Type": "application/json"})] * 20
    async with opened(make_feed(server, app), ["private-orders"], backoff=fast()) as stream:
        reason = await wait_failed(stream)
        assert "auth" in reason.lower()


async def test_presence_answer_without_channel_data_stops_clearly(server, app):
    """[Auth] for a presence channel the endpoint answers auth AND channel_data (the
    signature covers socket_id:channel:channel_data); without it the subscribe cannot be
    made."""

    def answer(request):
        socket_id = request.form.get("socket_id", "")
        return Response(200, {"auth": channel_auth(socket_id, "presence-room")})

    app.respond = answer
    async with opened(make_feed(server, app), ["presence-room"], backoff=fast()) as stream:
        reason = await wait_failed(stream)
        assert "channel_data" in reason or "presence" in reason.lower()


async def test_auth_endpoint_html_error_page_is_transient(server, app):
    """[Auth] a 200 that is no JSON (a proxy's page) is not the app's answer: retried."""
    app.script = [Response(200, "<html>gateway</html>", {"Content-Type": "text/html"})] * 2
    async with opened(make_feed(server, app), ["private-orders"], backoff=fast()) as stream:
        await eventually(
            lambda: any("private-orders" in s.channels for s in server.sockets),
            timeout=5,
            what="private-orders subscribed",
        )
        assert stream.connection.state == CONNECTED


async def test_auth_endpoint_slow_answer_within_timeout(server, app):
    """[Auth] the endpoint is an ordinary HTTP request: a slow answer (0.8 s) within
    auth_timeout is waited for."""

    def slow_ok(request):
        resp = app.default(request)
        resp.delay = 0.8
        return resp

    app.respond = slow_ok
    async with opened(make_feed(server, app, auth_timeout=3), ["private-orders"]) as stream:
        sock = await server.wait_socket(1)
        await server.wait_subscribed(sock, "private-orders", timeout=4)
        assert len(server.sockets) == 1
        assert stream.connection.state == CONNECTED


async def test_auth_endpoint_too_slow_is_retried(server, app):
    """[Auth] no answer in auth_timeout: transient; the next attempt signs for its own
    socket."""
    calls = []

    def first_hangs(request):
        calls.append(request)
        if len(calls) == 1:
            resp = app.default(request)
            resp.delay = 2.0
            return resp
        return None

    app.respond = first_hangs
    feed = make_feed(server, app, auth_timeout=0.4)
    async with opened(feed, ["private-orders"], backoff=fast()) as stream:
        sock = await eventually(
            lambda: next((s for s in server.sockets if "private-orders" in s.channels), None),
            timeout=5,
            what="private-orders subscribed",
        )
        assert stream.connection.state == CONNECTED
        assert not server.bad_signatures
        assert sock.socket_id == calls[-1].form["socket_id"]


async def test_redirect_to_another_host_never_gets_the_headers(server, app):
    """[Feed] "auth_headers: ... never shown, logged or sent anywhere else": a 302 to
    another host must not carry them there (the client stops, saying why)."""
    async with AuthApp(host="127.0.0.2") as other:
        app.script = [Response(302, "", {"Location": other.url})] * 20
        async with opened(make_feed(server, app), ["private-orders"], backoff=fast()) as stream:
            reason = await wait_failed(stream)
            assert "redirect" in reason.lower()
            await asyncio.sleep(0.3)
            for req in other.requests:
                assert_no_secret(
                    json.dumps(req.headers), secret_forms(HEADER_SECRET, COOKIE_SECRET)
                )
            assert not other.requests
            assert_no_secret(
                visible_text(stream, make_feed(server, app)), [HEADER_SECRET, COOKIE_SECRET]
            )


async def test_redirect_307_to_same_host_other_port_never_gets_the_headers(server, app):
    """[Feed] the headers go only to the auth endpoint's URL as named: another port of
    the same host is another origin."""
    async with AuthApp() as other:
        app.script = [Response(307, "", {"Location": other.url})] * 20
        async with opened(make_feed(server, app), ["private-orders"], backoff=fast()) as stream:
            await wait_failed(stream)
            assert not other.requests


async def test_http_auth_endpoint_beside_tls_socket_needs_allow_insecure():
    """[Feed] "http:// beside a TLS socket needs allow_insecure=True" (the headers and
    signatures would travel in clear)."""
    with pytest.raises(streamwidgets.ConfigurationError) as info:
        feeds.pusher_app(
            "k", host="example.com", tls=True, auth_endpoint="http://example.com/pusher/auth"
        )
    assert "allow_insecure" in str(info.value)
    feeds.pusher_app(
        "k",
        host="example.com",
        tls=True,
        auth_endpoint="http://example.com/pusher/auth",
        allow_insecure=True,
    )


# =========================================================================== presence


async def test_presence_channel_with_channel_data_and_members(server, app):
    """[Presence]/[Protocol] pusher:subscribe for presence carries auth and channel_data
    exactly as the endpoint gave it; subscription_succeeded's data is a JSON string
    {"presence": {"ids", "hash", "count"}}; pusher_internal:member_added {user_id,
    user_info} and member_removed {user_id} follow."""
    server.presence["presence-room"] = {"u-2": {"name": "Bob"}}
    async with opened(make_feed(server, app), ["presence-room"]) as stream:
        sock = await server.wait_socket(1)
        await server.wait_subscribed(sock, "presence-room")
        sub = sock.subscribes()[0]
        assert sub["channel_data"] == app.channel_data()
        assert sub["auth"] == channel_auth(sock.socket_id, "presence-room", app.channel_data())
        await eventually(lambda: len([e for e in stream.events if e.snapshot]) >= 2, timeout=3.0)
        members = {e.data["user_id"]: e.data.get("user_info") for e in stream.events if e.snapshot}
        assert members == {"u-2": {"name": "Bob"}, "member-1": {"name": "Ada"}}
        await sock.event(
            "presence-room",
            "pusher_internal:member_added",
            {"user_id": "u-3", "user_info": {"name": "Cy"}},
        )
        await sock.event("presence-room", "pusher_internal:member_removed", {"user_id": "u-2"})
        await sock.event("presence-room", "end", {})
        await eventually(lambda: rows(stream, "end"), timeout=3.0)
        now = stream.connection.dialect.members["presence-room"]
        assert set(now) == {"member-1", "u-3"}


async def test_presence_member_ids_as_numbers(server, app):
    """[Presence] user_id may be a number in channel_data ("user_id": 42); the hash keys are
    strings in JSON. Members still come through."""
    app.channel_data = lambda: json.dumps({"user_id": 42, "user_info": {"n": 1}})
    async with opened(make_feed(server, app), ["presence-room"]) as stream:
        sock = await server.wait_socket(1)
        await server.wait_subscribed(sock, "presence-room")
        await sock.event(
            "presence-room", "pusher_internal:member_added", {"user_id": 43, "user_info": None}
        )
        await sock.event("presence-room", "end", {})
        await eventually(lambda: rows(stream, "end"), timeout=3.0)
        assert stream.connection.state == CONNECTED
        assert len(server.sockets) == 1


# =========================================================================== sign-in


async def test_user_signin_flow(server, app):
    """[User] the client POSTs socket_id to the user-auth endpoint, sends pusher:signin
    {auth, user_data} as received; the server answers pusher:signin_success {user_data};
    the user's events come on #server-to-user-{id}."""
    feed = make_feed(server, app, user_auth_endpoint=app.user_url)
    async with opened(feed, ["ticker"]) as stream:
        sock = await server.wait_socket(1)
        await server.wait_for(lambda: sock.frames("pusher:signin"), 3, "pusher:signin")
        signin = sock.frames("pusher:signin")[0]["data"]
        assert signin["user_data"] == app.user_data()
        assert app.user_auth_requests()[0].form == {"socket_id": sock.socket_id}
        assert app.user_auth_requests()[0].headers.get("authorization") == HEADER_SECRET
        await server.wait_subscribed(sock, "ticker", "#server-to-user-user-7")
        assert sock.user_id == "user-7"
        await sock.event("#server-to-user-user-7", "notify", {"msg": "hi"})
        await eventually(lambda: rows(stream, "notify"), timeout=3.0)
        assert rows(stream, "notify")[0].data == {"msg": "hi"}


async def test_signin_is_redone_on_every_new_socket(server, app):
    """[User] a sign-in belongs to one socket (the signature covers its socket_id): after
    a reconnect the client signs in again, for the new socket_id."""
    feed = make_feed(server, app, user_auth_endpoint=app.user_url)
    async with opened(feed, ["ticker"], backoff=fast()):
        sock = await server.wait_socket(1)
        await server.wait_subscribed(sock, "ticker", "#server-to-user-user-7")
        sock.drop()
        sock2 = await server.wait_socket(2, timeout=4)
        await server.wait_subscribed(sock2, "ticker", "#server-to-user-user-7")
        assert sock2.user_id == "user-7"
        assert {r.form["socket_id"] for r in app.user_auth_requests()} >= {
            sock.socket_id,
            sock2.socket_id,
        }


async def test_signin_success_with_object_data(server, app):
    """[User] pusher:signin_success {user_data}; some servers send data as an object rather
    than a JSON string (pusher-js accepts both: its decodeMessage parses only strings)."""

    async def signin_object(srv, sock, frame):
        if frame.get("event") != "pusher:signin":
            return False
        user_data = frame["data"]["user_data"]
        sock.user_id = json.loads(user_data)["id"]
        await sock.send({"event": "pusher:signin_success", "data": {"user_data": user_data}})
        return True

    server.on_frame = signin_object
    feed = make_feed(server, app, user_auth_endpoint=app.user_url)
    async with opened(feed, ["ticker"]):
        sock = await server.wait_socket(1)
        await server.wait_subscribed(sock, "ticker", "#server-to-user-user-7")


async def test_user_auth_endpoint_403_stops(server, app):
    """[User] the user-authentication endpoint refusing (403) means this user may not sign
    in; [Feed] a refused sign-in stops the connection, saying why."""

    def refuse(request):
        if request.path.startswith("/pusher/user-auth"):
            return Response(403, "no")
        return None

    app.respond = refuse
    feed = make_feed(server, app, user_auth_endpoint=app.user_url)
    async with opened(feed, ["ticker"], backoff=fast()) as stream:
        reason = await wait_failed(stream)
        assert "403" in reason or "refused" in reason.lower()


# =========================================================================== refusals


async def test_subscription_error_refuses_that_channel_only(server):
    """[open-source servers] pusher:subscription_error names the channel refused; [Feed
    README] that stream only is refused, a notice says so, it is not re-sent after a
    reconnect, and the other channels go on."""

    def answer(sock, channel):
        if channel == "forbidden":
            return {
                "event": "pusher:subscription_error",
                "channel": "forbidden",
                "data": json.dumps({"type": "AuthError", "error": "not allowed", "status": 403}),
            }
        return None

    server.subscription_answer = answer
    async with opened(make_feed(server), ["ticker", "forbidden"], backoff=fast()) as stream:
        sock = await server.wait_socket(1)
        await server.wait_subscribed(sock, "ticker")
        await eventually(
            lambda: "forbidden" not in stream.connection.subscriptions,
            what="forbidden refused",
            timeout=3.0,
        )
        assert any("forbidden" in str(n) for n in stream.connection.notices)
        sock.drop()
        sock2 = await server.wait_socket(2, timeout=4)
        await server.wait_subscribed(sock2, "ticker")
        await asyncio.sleep(0.3)
        assert "forbidden" not in sock2.subscribed_channels()
        with pytest.raises(streamwidgets.SubscriptionRefused):
            await stream.subscribe("forbidden")


async def test_invalid_signature_pusher_error_refuses_the_quoted_channel(server, app):
    """[Protocol] a bad signature is answered by pusher:error "Invalid signature: Expected
    HMAC SHA256 hex digest of socket_id:channel ..."; only that channel is affected."""

    def wrong(request):
        if request.form.get("channel_name") == "private-bad":
            return Response(200, {"auth": f"{KEY}:{'0' * 64}"})
        return None

    app.respond = wrong
    async with opened(
        make_feed(server, app), ["ticker", "private-bad", "private-good"], backoff=fast()
    ) as stream:
        sock = await server.wait_socket(1)
        await server.wait_subscribed(sock, "ticker", "private-good")
        await eventually(
            lambda: "private-bad" not in stream.connection.subscriptions,
            what="private-bad refused",
            timeout=3.0,
        )
        assert "private-good" in stream.connection.subscriptions
        assert stream.connection.state == CONNECTED


# =========================================================================== secrets


async def test_secrets_never_shown_when_the_server_echoes_them(server, app, log_lines, caplog):
    """[Feed] auth_headers and signatures "never shown, logged or sent anywhere else";
    [Protocol] the server's pusher:error for a bad signature quotes the signature it got
    ("... but got key:signature"): masked before it is kept, as is a header echoed back."""
    caplog.set_level(logging.DEBUG)
    signatures: list[str] = []

    def wrong(request):
        if request.form.get("channel_name") == "private-bad":
            sig = "ab" * 32
            signatures.append(sig)
            return Response(200, {"auth": f"{KEY}:{sig}"})
        resp = app.default(request)
        signatures.append(resp.body["auth"].split(":", 1)[1])
        return resp

    app.respond = wrong

    async def echo(srv, sock, frame):
        if frame.get("event") == "pusher:subscribe":
            data = frame.get("data") or {}
            if data.get("channel") == "private-good":
                await sock.error(
                    f"debug: you sent {json.dumps(data)} with header "
                    f"{HEADER_SECRET} cookie {COOKIE_SECRET}",
                    None,
                )
        return False

    server.on_frame = echo
    feed = make_feed(server, app)
    async with opened(feed, ["ticker", "private-bad", "private-good"], backoff=fast()) as stream:
        sock = await server.wait_socket(1)
        await server.wait_subscribed(sock, "ticker", "private-good")
        await eventually(
            lambda: "private-bad" not in stream.connection.subscriptions,
            what="private-bad refused",
            timeout=3.0,
        )
        await sock.event("ticker", "leak", {"text": f"header {HEADER_SECRET}"})
        await sock.send(
            {
                "event": "pusher:error",
                "data": {"message": f"your auth was {signatures[-1]}", "code": None},
            }
        )
        await asyncio.sleep(0.3)
        exc_text = ""
        try:
            await stream.subscribe("private-bad")
        except streamwidgets.StreamError as exc:
            exc_text = repr(exc) + str(exc) + repr(getattr(exc, "result", ""))
        secrets = [
            HEADER_SECRET,
            COOKIE_SECRET,
            "hdr-5ecret-c0ffee-91a7b2e4",
            "ck-5ecret-77d1e0aa3b",
            *signatures,
        ]
        text = visible_text(stream, feed, [exc_text])
        assert_no_secret(text, secrets)
        assert_no_secret("\n".join(log_lines), secrets)
        assert_no_secret(
            "\n".join(
                r.getMessage() for r in caplog.records if not r.name.startswith("pusher_doc_server")
            ),
            secrets,
        )


async def test_refusal_exception_holds_no_echoed_secret(server, app, log_lines):
    """[Feed] a 403 whose body quotes the request's headers: the refusal says 403, never the
    header values (exceptions, reason, notices, logs)."""
    body = (
        f"denied: Authorization={HEADER_SECRET}; Cookie={COOKIE_SECRET}; "
        f"b64={base64.b64encode(HEADER_SECRET.encode()).decode()}"
    )
    app.script = [Response(403, body)] * 20
    feed = make_feed(server, app)
    async with opened(feed, ["private-orders"], backoff=fast()) as stream:
        await wait_failed(stream)
        exc_text = repr(stream.open_error) + str(stream.open_error)
        try:
            async for _ in stream:
                break
        except streamwidgets.StreamError as exc:
            exc_text += repr(exc) + str(exc)
        secrets = secret_forms(HEADER_SECRET, COOKIE_SECRET)
        assert_no_secret(visible_text(stream, feed, [exc_text]), secrets)
        assert_no_secret("\n".join(log_lines), secrets)


async def test_wire_log_masks_signatures(server, app, log_lines):
    """[Auth] the channel signature is a credential for that socket; [Feed README] "never
    ... a log record (the wire log included)": the subscribe frame's auth is masked."""
    feed = make_feed(server, app, user_auth_endpoint=app.user_url)
    async with opened(feed, ["private-orders", "presence-room"]):
        sock = await server.wait_socket(1)
        await server.wait_subscribed(sock, "private-orders", "presence-room")
        sigs = [d["auth"].split(":", 1)[1] for d in sock.subscribes() if d.get("auth")]
        sigs += [f["data"]["auth"].split(":", 1)[1] for f in sock.frames("pusher:signin")]
        assert len(sigs) == 3
        await asyncio.sleep(0.2)
        assert_no_secret("\n".join(log_lines), [*sigs, HEADER_SECRET, COOKIE_SECRET])


# =========================================================================== hostile servers


@pytest.mark.parametrize("channel", ["ticker", "limit", "rate"])
async def test_unrelated_pusher_error_does_not_refuse_a_public_subscription(server, channel):
    """[Protocol] pusher:error {message, code} names no channel; 4301 is "Client event
    rejected due to rate limit" (about client events, not subscriptions), and the server
    then confirms the channel with pusher_internal:subscription_succeeded. A public
    channel is not signed, so nothing here refuses it, whatever its name ("limit" and
    "rate" are valid channel names that happen to be words of that message)."""

    async def error_first(srv, sock, frame):
        if frame.get("event") == "pusher:subscribe":
            await sock.error("Client event rejected due to rate limit", 4301)
        return False

    server.on_frame = error_first
    async with opened(make_feed(server), [channel], backoff=fast()) as stream:
        sock = await server.wait_socket(1)
        await server.wait_subscribed(sock, channel)
        await asyncio.sleep(0.3)
        assert channel in stream.connection.subscriptions, [
            n.message for n in stream.connection.notices
        ]
        await sock.event(channel, "after", {"ok": 1})
        await eventually(lambda: rows(stream, "after"), timeout=3.0)


async def test_generic_pusher_error_does_not_refuse_a_public_subscription(server):
    """[Protocol] a pusher:error with a message that quotes no channel and says nothing of a
    signature, then subscription_succeeded for the channel: the channel is subscribed."""

    async def error_first(srv, sock, frame):
        if frame.get("event") == "pusher:subscribe":
            await sock.error("Something went wrong", None)
        return False

    server.on_frame = error_first
    async with opened(make_feed(server), ["ticker"], backoff=fast()) as stream:
        sock = await server.wait_socket(1)
        await server.wait_subscribed(sock, "ticker")
        await asyncio.sleep(0.3)
        assert "ticker" in stream.connection.subscriptions, list(stream.connection.notices)


def _reject_signin(quote_user: bool):
    async def on_frame(srv, sock, frame):
        if frame.get("event") != "pusher:signin":
            return False
        data = frame.get("data") or {}
        if quote_user:
            message = (
                f"Invalid signature: Expected HMAC SHA256 hex digest of "
                f"{sock.socket_id}::user::{data.get('user_data')}, but got "
                f"{data.get('auth')}"
            )
        else:
            message = "Invalid signature"
        await sock.error(message, None)
        return True

    return on_frame


@pytest.mark.parametrize("quote_user", [True, False])
async def test_refused_signin_does_not_refuse_a_public_channel(server, app, quote_user):
    """[User] the sign-in signature covers socket_id::user::user_data; a bad one is
    answered by pusher:error ("Invalid signature: Expected HMAC SHA256 hex digest of
    ...::user::..."). [Protocol] a public channel's subscribe carries no signature, and the
    server confirmed it with subscription_succeeded: the error is not about it."""
    server.on_frame = _reject_signin(quote_user)
    feed = make_feed(server, app, user_auth_endpoint=app.user_url)
    async with opened(feed, ["ticker"], backoff=fast()) as stream:
        sock = await server.wait_socket(1)
        await server.wait_subscribed(sock, "ticker")
        await asyncio.sleep(0.4)
        refused = [n.message for n in stream.connection.notices if "ticker" in n.message]
        assert not refused, refused


async def test_refused_signin_stops_the_connection(server, app):
    """[User] a sign-in refused by the server ("...::user::..." quoted); [Feed] "A refused
    sign-in ends the connection (AuthenticationFailed): the same user authentication would
    be refused again"."""
    server.on_frame = _reject_signin(True)
    feed = make_feed(server, app, user_auth_endpoint=app.user_url)
    async with opened(feed, ["ticker"], backoff=fast()) as stream:
        reason = await wait_failed(stream)
        assert "sign" in reason.lower()


async def test_socket_lost_while_signing_never_sends_a_stale_signature(server, app):
    """[Auth] the signature covers socket_id:channel_name: one fetched for a socket that
    was lost is worthless on the next one. [Protocol] after the reconnect the channel is
    subscribed with the new socket's signature, and stays wanted."""
    calls: list[Any] = []

    def first_slow(request):
        calls.append(request)
        if len(calls) == 1:
            resp = app.default(request)
            resp.delay = 0.8
            return resp
        return None

    app.respond = first_slow
    async with opened(
        make_feed(server, app), ["ticker", "private-orders"], backoff=fast()
    ) as stream:
        sock = await server.wait_socket(1)
        await eventually(lambda: calls, what="auth request", timeout=3.0)
        await asyncio.sleep(0.1)
        sock.drop()
        sock2 = await server.wait_socket(2, timeout=4)
        await server.wait_subscribed(sock2, "ticker", "private-orders")
        await asyncio.sleep(1.2)  # the first (slow) answer has come back by now
        for s in server.sockets:
            for sub in s.subscribes():
                if sub.get("channel") == "private-orders":
                    assert sub.get("auth") == channel_auth(s.socket_id, "private-orders"), (
                        f"socket {s.socket_id} got a signature made for another socket"
                    )
        assert not server.bad_signatures
        assert "private-orders" in stream.connection.subscriptions, [
            n.message for n in stream.connection.notices
        ]


async def test_socket_lost_while_signing_a_later_subscribe(server, app):
    """[Auth] as above, for a channel asked for with subscribe() on a live socket that is
    then lost while its signature is being fetched."""
    async with opened(make_feed(server, app), ["ticker"], backoff=fast()) as stream:
        sock = await server.wait_socket(1)
        await server.wait_subscribed(sock, "ticker")
        calls: list[Any] = []

        def first_slow(request):
            calls.append(request)
            if len(calls) == 1:
                resp = app.default(request)
                resp.delay = 0.8
                return resp
            return None

        app.respond = first_slow
        task = asyncio.ensure_future(stream.subscribe("private-late"))
        await eventually(lambda: calls, what="auth request", timeout=3.0)
        sock.drop()
        sock2 = await server.wait_socket(2, timeout=4)
        await server.wait_subscribed(sock2, "ticker", "private-late")
        with contextlib.suppress(Exception):
            await asyncio.wait_for(task, 3)
        await asyncio.sleep(1.0)
        assert not server.bad_signatures
        assert "private-late" in stream.connection.subscriptions


async def test_close_reason_echoing_a_secret_is_masked(server, app, log_lines):
    """[Protocol] a close frame carries a code and a reason text chosen by the server; one
    that quotes the auth header is shown masked ([Feed] headers never shown or logged)."""
    feed = make_feed(server, app)
    async with opened(feed, ["private-orders"], backoff=fast()) as stream:
        sock = await server.wait_socket(1)
        await server.wait_subscribed(sock, "private-orders")
        sig = sock.subscribes()[0]["auth"].split(":", 1)[1]
        await sock.send(f"not json {HEADER_SECRET} {sig}")
        await sock.error(f"partial {sig[3:40]} {HEADER_SECRET[7:30]}", None)
        await sock.close(4001, f"bad {HEADER_SECRET}"[:100])
        await wait_failed(stream)
        secrets = [HEADER_SECRET, sig, sig[3:40], HEADER_SECRET[7:30]]
        assert_no_secret(visible_text(stream, feed), secrets)
        assert_no_secret("\n".join(log_lines), secrets)


@pytest.mark.parametrize("code", [1000, 1001, 1011])
async def test_standard_close_codes_reconnect_and_resubscribe(server, code):
    """[Protocol] only 4000-4099 forbid reconnecting; a server (or a proxy before it) going
    away (1000, 1001, 1011) leaves the client to reconnect and subscribe again."""
    async with opened(make_feed(server), ["ticker"], backoff=fast()):
        sock = await server.wait_socket(1)
        await server.wait_subscribed(sock, "ticker")
        await sock.close(code, "going away")
        sock2 = await server.wait_socket(2, timeout=3)
        await server.wait_subscribed(sock2, "ticker")


async def test_pusher_error_then_close_at_handshake(server):
    """[Protocol] instead of connection_established a server may answer pusher:error
    {message, code: 4001} and close with 4001 ("Application does not exist"): do not
    reconnect; ``async with`` fails with the reason."""

    async def refuse(srv, sock):
        await sock.error("Application does not exist", 4001)
        await sock.close(4001, "Application does not exist")
        return True

    server.on_open = refuse
    async with opened(make_feed(server), ["ticker"], backoff=fast()) as stream:
        assert isinstance(stream.open_error, streamwidgets.ConnectionFailed)
        assert "4001" in str(stream.open_error)
        await asyncio.sleep(0.6)
        assert len(server.sockets) == 1


async def test_iteration_raises_after_4001(server):
    """[Protocol] 4000-4099: do not reconnect; [Stream docstring] iteration raises
    ConnectionFailed when the connection gives up."""
    async with opened(make_feed(server), ["ticker"]) as stream:
        sock = await server.wait_socket(1)
        await server.wait_subscribed(sock, "ticker")

        async def later():
            await asyncio.sleep(0.2)
            await sock.close(4001, "Application does not exist")

        closer = asyncio.ensure_future(later())
        with pytest.raises(streamwidgets.ConnectionFailed):
            async with asyncio.timeout(3):
                async for _ in stream:
                    pass
        await closer


async def test_client_activity_timeout_lower_than_servers():
    """[Protocol] activity_timeout is the server's; a client may ping sooner ([Feed]
    "the server's value wins when lower", so the lower of the two)."""
    async with (
        PusherDocServer(activity_timeout=120) as srv,
        opened(make_feed(srv, activity_timeout=0.5), ["ticker"]),
    ):
        sock = await srv.wait_socket(1)
        await srv.wait_subscribed(sock, "ticker")
        await srv.wait_for(lambda: sock.frames("pusher:ping"), 2.5, "client pusher:ping")


async def test_unsubscribe_sends_pusher_unsubscribe_and_is_not_resubscribed(server):
    """[Protocol] pusher:unsubscribe {channel}; a channel left is not subscribed again after
    a reconnect."""
    async with opened(make_feed(server), ["ticker", "news"], backoff=fast()) as stream:
        sock = await server.wait_socket(1)
        await server.wait_subscribed(sock, "ticker", "news")
        await stream.unsubscribe("news")
        await server.wait_for(lambda: sock.frames("pusher:unsubscribe"), 2, "unsubscribe")
        assert sock.frames("pusher:unsubscribe")[0]["data"] == {"channel": "news"}
        sock.drop()
        sock2 = await server.wait_socket(2, timeout=3)
        await server.wait_subscribed(sock2, "ticker")
        await asyncio.sleep(0.3)
        assert "news" not in sock2.subscribed_channels()


async def test_later_private_subscribe_signed_for_current_socket(server, app):
    """[Auth] a channel asked for later is signed for the socket it goes out on."""
    async with opened(make_feed(server, app), ["ticker"], backoff=fast()) as stream:
        sock = await server.wait_socket(1)
        await server.wait_subscribed(sock, "ticker")
        sock.drop()
        sock2 = await server.wait_socket(2, timeout=3)
        await server.wait_subscribed(sock2, "ticker")
        result = await stream.subscribe("private-late")
        assert "private-late" in result.active
        await server.wait_subscribed(sock2, "private-late")
        assert app.auth_requests()[-1].form["socket_id"] == sock2.socket_id
        assert not server.bad_signatures


@pytest.mark.parametrize("status", [408, 429, 502, 503, 504])
async def test_auth_endpoint_transient_statuses_are_retried(server, app, status):
    """[Auth] the endpoint is an HTTP service: timeouts (408), rate limits (429) and
    gateway errors are transient, retried until it signs."""
    app.script = [Response(status, "try later")] * 2
    async with opened(make_feed(server, app), ["private-orders"], backoff=fast()) as stream:
        await eventually(
            lambda: any("private-orders" in s.channels for s in server.sockets),
            timeout=5,
            what="private-orders subscribed",
        )
        assert stream.connection.state == CONNECTED


async def test_presence_members_capped_and_malformed_member_events_survived(server, app):
    """[Presence] member_added {user_id, user_info} / member_removed {user_id}; a flood of
    members is held to max_members ([Feed]); malformed member events do not break the
    connection."""
    async with opened(make_feed(server, app, max_members=10), ["presence-room"]) as stream:
        sock = await server.wait_socket(1)
        await server.wait_subscribed(sock, "presence-room")
        for i in range(50):
            await sock.event(
                "presence-room",
                "pusher_internal:member_added",
                {"user_id": f"m{i}", "user_info": {"i": i}},
            )
        await sock.event("presence-room", "pusher_internal:member_added", "garbage")
        await sock.event("presence-room", "pusher_internal:member_removed", {"nope": 1})
        await sock.event("presence-room", "pusher_internal:member_removed", "[]")
        await sock.event("presence-room", "end", {})
        await eventually(lambda: rows(stream, "end"), timeout=3.0)
        assert len(stream.connection.dialect.members["presence-room"]) <= 10
        assert stream.connection.state == CONNECTED
        assert len(server.sockets) == 1


async def test_channel_name_with_every_allowed_character_is_form_encoded(server, app):
    """[Auth] the endpoint gets a form POST socket_id=..&channel_name=..; Pusher channel
    names may hold _ - = @ , . ; ("Channel naming conventions"): '=' and ';' must be
    form-encoded so the endpoint reads the exact name, and the signature then holds."""
    channel = "private-a=b,c;d@e.f_g-h"
    async with opened(make_feed(server, app), [channel]) as stream:
        sock = await server.wait_socket(1)
        await server.wait_subscribed(sock, channel)
        assert app.auth_requests()[0].form["channel_name"] == channel
        assert not server.bad_signatures
        await sock.event(channel, "x", {"ok": 1})
        await eventually(lambda: rows(stream, "x"), timeout=3.0)
        assert rows(stream, "x")[0].stream == channel


async def test_recording_masks_signatures_and_headers(server, app, tmp_path):
    """[Auth]/[User] channel and sign-in signatures are credentials of their socket; [Feed
    README] a recording's lines are masked, sent frames included, even where the server
    echoes them."""
    path = tmp_path / "rec.jsonl"
    feed = make_feed(server, app, user_auth_endpoint=app.user_url)
    async with opened(
        feed,
        ["private-orders", "presence-room"],
        record=str(path),
        record_options={"include_sent": True},
    ):
        sock = await server.wait_socket(1)
        await server.wait_subscribed(sock, "private-orders", "presence-room")
        sigs = [d["auth"].split(":", 1)[1] for d in sock.subscribes() if d.get("auth")]
        sigs += [f["data"]["auth"].split(":", 1)[1] for f in sock.frames("pusher:signin")]
        await sock.error(f"echo {sigs[0]} {HEADER_SECRET}", None)
        await asyncio.sleep(0.3)
    text = path.read_text()
    assert "pusher:subscribe" in text
    assert_no_secret(text, [*sigs, HEADER_SECRET, COOKIE_SECRET])


async def test_auth_endpoint_query_token_never_logged(server, app, log_lines):
    """[Feed] the feed treats a ``token=`` in auth_endpoint's query as a credential (its
    repr shows ``?token=***``); [Feed README] no credential in any log record: the
    request to the endpoint must not be logged with it either."""
    url = app.url + "?token=qsecret-abcdef123456"
    feed = feeds.pusher_app(KEY, host="127.0.0.1", port=server.port, tls=False, auth_endpoint=url)
    assert "qsecret" not in repr(feed)
    async with opened(feed, ["private-orders"]) as stream:
        sock = await server.wait_socket(1)
        await server.wait_subscribed(sock, "private-orders")
        assert app.auth_requests()[0].path.endswith("token=qsecret-abcdef123456")
        assert_no_secret(visible_text(stream, feed), ["qsecret-abcdef123456"])
        leaked = [line for line in log_lines if "qsecret-abcdef123456" in line]
        assert not leaked, leaked
