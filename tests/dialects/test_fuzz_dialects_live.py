"""Hostile frames through every dialect, each between two canary events, over real sockets.

For every feed style a small server greets the client as its document says, then sends
canary events (valid data carrying ``canary: n``) with hypothesis-made hostile frames
between them: invalid UTF-8, binary, nesting 10,000 deep, ``1e400``, 40-digit ints,
``NaN``/``Infinity`` literals, duplicate keys, arbitrary JSON, the feed's own messages
with wrong types in known fields, and large frames. What must hold: no canary is lost,
reading ``stream.df`` never raises, the connection never reconnects, and every frame is
counted, the rejected ones with a reason.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from websockets.asyncio.server import ServerConnection, serve

import streamwidgets
from streamwidgets import feeds
from streamwidgets.connection.backoff import Backoff
from tests.support.frames import text
from tests.support.seed_servers.base import HttpServer
from tests.support.strategies import json_values

FAST = Backoff(initial=0.01, maximum=0.05)
KEYS = st.sampled_from(["a", "b", "stream", "type", "data", "ts", "event", "channel", "x"])


@dataclass(frozen=True)
class Style:
    """How one feed style greets, what a canary looks like, and its known fields."""

    name: str
    welcome: Callable[[], list[str]]
    canary: Callable[[int], dict[str, Any]]
    fields: tuple[str, ...]
    rest: bool = False
    answers_pings: bool = False


def _pusher_canary(n: int) -> dict[str, Any]:
    return {"event": "price_update", "channel": "market-prices", "data": text({"canary": n})}


STYLES = {
    "hydra": Style(
        "hydra",
        lambda: [text({"type": "connected", "data": {"availableStreams": ["signals"]}})],
        lambda n: {"stream": "signals", "type": "signal_new", "ts": 1, "data": {"canary": n}},
        ("stream", "type", "ts", "data"),
    ),
    "hydra-v1": Style(
        "hydra-v1",
        lambda: [text({"type": "connected", "data": {"scopes": ["alerts"], "ts": 1}})],
        lambda n: {"type": "alert", "data": {"canary": n, "timestamp": 1}},
        ("type", "data"),
    ),
    "axol": Style(
        "axol",
        lambda: [text({"type": "connected", "data": {"available_channels": ["alerts"]}})],
        lambda n: {"type": "alert_triggered", "channel": "alerts", "data": {"canary": n}},
        ("type", "channel", "data", "timestamp"),
        rest=True,
    ),
    "pusher": Style(
        "pusher",
        lambda: [
            text(
                {
                    "event": "pusher:connection_established",
                    "data": text({"socket_id": "1.2", "activity_timeout": 120}),
                }
            )
        ],
        _pusher_canary,
        ("event", "channel", "data"),
        rest=True,
    ),
    "hyperoru": Style(
        "hyperoru",
        lambda: [],
        lambda n: {"type": "trade_update", "data": {"canary": n, "ts": 1}},
        ("type", "data", "request_id"),
        answers_pings=True,
    ),
    "generic": Style(
        "generic",
        lambda: [],
        lambda n: {"stream": "s", "type": "t", "ts": 1, "data": {"canary": n}},
        ("stream", "type", "ts", "data"),
    ),
}


def feed_for(style: Style, url: str, rest: str) -> Any:
    if style.name == "hydra":
        return feeds.hydra(url, token="fuzz.jwt.token")
    if style.name == "hydra-v1":
        return feeds.hydra_v1(url, api_key="hydra_k1_fuzz", snapshot=False)
    if style.name == "axol":
        return feeds.axol(url, api_key="axol_fuzz", rest_url=rest)
    if style.name == "pusher":
        return feeds.pusher(rest, token="sk_fuzz_token")
    if style.name == "hyperoru":
        return feeds.hyperoru(url, session_token="hyo_fuzz_token", bootstrap_on_connect=False)
    return feeds.generic(
        url, stream_path="stream", type_path="type", time_path="ts", data_path="data"
    )


class FuzzServer:
    """Greets every connection, then sends what the test queues, as text or binary."""

    def __init__(self, style: Style) -> None:
        self.style = style
        self.script: asyncio.Queue[tuple[str | bytes, bool]] = asyncio.Queue()
        self.http = HttpServer()
        self.connections = 0

    async def __aenter__(self) -> FuzzServer:
        self._ws = await serve(self._handle, "127.0.0.1", 0, max_size=None)
        self.port = self._ws.sockets[0].getsockname()[1]
        self.http.routes[("POST", "/api/v1/auth/token")] = self._token
        self.http.routes[("GET", "/api/v2/ws/streams")] = self._catalog
        self.http.routes[("POST", "/api/v2/ws/session")] = self._session
        await self.http.start()
        return self

    async def __aexit__(self, *exc: object) -> None:
        self._ws.close()
        await self._ws.wait_closed()
        await self.http.stop()

    @property
    def url(self) -> str:
        return f"ws://127.0.0.1:{self.port}/ws"

    async def _token(self, request: Any) -> tuple[int, Any]:
        return 200, {"access_token": "fuzz.jwt", "token_type": "bearer", "expires_in": 3600}

    async def _catalog(self, request: Any) -> tuple[int, Any]:
        streams = [{"name": "prices", "type": "public", "channel": "market-prices"}]
        return 200, {"streams": streams}

    async def _session(self, request: Any) -> tuple[int, Any]:
        connection = {"wsHost": "127.0.0.1", "wsPort": self.port, "appKey": "k"}
        channels = [{"stream": "prices", "channel": "market-prices", "type": "public"}]
        return 200, {"connection": {**connection, "forceTls": False}, "channels": channels}

    async def _handle(self, ws: ServerConnection) -> None:
        self.connections += 1
        for frame in self.style.welcome():
            await ws.send(frame)
        replies = asyncio.ensure_future(self._answer(ws))
        closed = asyncio.ensure_future(ws.wait_closed())
        try:
            while True:
                queued = asyncio.ensure_future(self.script.get())
                await asyncio.wait({queued, closed}, return_when=asyncio.FIRST_COMPLETED)
                if not queued.done():
                    queued.cancel()
                    return
                frame, as_text = queued.result()
                await ws.send(frame, text=as_text)
        finally:
            replies.cancel()
            closed.cancel()

    async def _answer(self, ws: ServerConnection) -> None:
        async for message in ws:
            if self.style.answers_pings and b'"ping"' in message.encode():
                await ws.send(text({"type": "pong"}))


def hostile(style: Style) -> st.SearchStrategy[tuple[str | bytes, bool]]:
    """One hostile frame for ``style``, and whether it goes as a text frame."""
    deep = st.integers(min_value=1_000, max_value=10_000).map(lambda d: "[" * d + "]" * d)
    odd_numbers = st.sampled_from(["1e400", "-1e400", "1" * 40, "-" + "9" * 40, "1.5e-400"])
    literals = st.sampled_from(["NaN", "Infinity", "-Infinity", "nan", "undefined"])
    value = json_values(KEYS, max_leaves=12)
    canary_ish = st.builds(
        lambda field, v: {**style.canary(-1), field: v}, st.sampled_from(style.fields), value
    )
    frames = st.one_of(
        st.binary(max_size=64).map(lambda b: (b"\xff\xfe" + b, True)),  # not UTF-8
        st.binary(min_size=1, max_size=64).map(lambda b: (b, False)),  # binary
        deep.map(lambda t: (t, True)),
        odd_numbers.map(lambda n: (f'{{"type": "x", "data": {{"v": {n}}}}}', True)),
        literals.map(lambda n: (f'{{"type": "x", "stream": "s", "data": {{"v": {n}}}}}', True)),
        st.just(('{"type": "a", "type": "b", "data": {}, "data": 1}', True)),  # duplicate keys
        value.map(lambda v: (text(v), True)),
        canary_ish.map(lambda d: (text(d), True)),
        st.sampled_from(["", " ", "{", "}", "null", "[]", '"x"', "0"]).map(lambda t: (t, True)),
        st.just((text({"type": "x", "data": {"pad": "y" * 1_500_000}}), True)),  # 1.5 MB
    )
    return frames


async def scenario(style: Style, frames: list[tuple[str | bytes, bool]]) -> None:
    async with FuzzServer(style) as server:
        feed = feed_for(style, server.url, server.http.base_url)
        async with streamwidgets.open(
            feed, backoff=FAST, connect_timeout=5, request_timeout=0.5
        ) as stream:
            script: list[tuple[str | bytes, bool]] = []
            for n, frame in enumerate(frames):
                script.append((text(style.canary(n)), True))
                script.append(frame)
            script.append((text(style.canary(len(frames))), True))
            for item in script:
                server.script.put_nowait(item)
            loop = asyncio.get_running_loop()
            deadline = loop.time() + 10
            expected = set(range(len(frames) + 1))

            def canaries() -> set[int]:
                df = stream.df  # must never raise
                if "data.canary" not in df:
                    return set()
                values = df["data.canary"].dropna().tolist()
                return {v for v in values if isinstance(v, int) and not isinstance(v, bool)}

            while not expected <= canaries():
                assert loop.time() < deadline, f"canaries lost: {expected - canaries()}"
                await asyncio.sleep(0.02)
            stats = stream.stats
            assert stats.connects == 1 and stats.reconnects == 0 and server.connections == 1
            welcome = len(style.welcome()) + (1 if style.answers_pings else 0)
            await asyncio.sleep(0.05)
            assert stats.frames == welcome + len(script)
            rejected = list(stream.connection.rejected_frames)
            assert stats.parse_errors >= len(rejected) > 0 or stats.parse_errors == 0
            assert all(r.error for r in rejected)
            assert stream.buffer.rejected_count == 0 or all(
                r.reason for r in stream.buffer.rejected
            )


@pytest.mark.parametrize("name", list(STYLES))
def test_hostile_frames_never_cost_a_canary(name):
    """Hypothesis-made hostile frames between canaries, through the real client."""
    style = STYLES[name]

    @settings(
        max_examples=8,
        deadline=None,
        derandomize=True,
        database=None,
        suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
    )
    @given(frames=st.lists(hostile(style), min_size=1, max_size=12))
    def run(frames):
        asyncio.run(scenario(style, frames))

    run()


@pytest.mark.parametrize("name", list(STYLES))
def test_every_kind_of_hostile_frame_at_once(name):
    """One fixed script with every kind, so each kind is certain to be tried per dialect."""
    style = STYLES[name]
    frames: list[tuple[str | bytes, bool]] = [
        (b"\xff\xfe not utf-8", True),
        (b"\x00\x01binary", False),
        ("[" * 10_000 + "]" * 10_000, True),
        ('{"type": "x", "data": {"v": 1e400}}', True),
        ('{"type": "x", "data": {"v": ' + "1" * 40 + "}}", True),
        ('{"type": "x", "stream": "s", "data": {"v": NaN}}', True),
        ('{"type": "a", "type": "b", "data": {}, "data": 1}', True),
        (text({**style.canary(-1), style.fields[0]: [1, {"x": None}]}), True),
        (text({**style.canary(-1), "ts": 10_000_000_000_000, "data": {"ts": 10**13}}), True),
        (text({"type": "x", "data": {"pad": "y" * 5_000_000}}), True),
        ("", True),
    ]
    asyncio.run(scenario(style, frames))
