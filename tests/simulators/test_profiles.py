"""Every simulator's strict and lenient profiles, and its unanswered commands, seen on the wire.

A plain websockets client (not the streamwidgets client) drives each simulator over
loopback and checks exactly what comes back. "No reply" is checked by reading for
:data:`QUIET` seconds and seeing none of the reply types in question.
"""

from __future__ import annotations

import asyncio
import json
import subprocess
import sys
import time
from collections.abc import Callable
from typing import Any

import orjson
import pytest
from websockets.asyncio.client import ClientConnection, connect
from websockets.exceptions import ConnectionClosed

from streamwidgets.cli.main import build_parser
from streamwidgets.simulators.axol import AxolSimulator
from streamwidgets.simulators.hydra import HydraSimulator
from streamwidgets.simulators.hydra_v1 import HydraV1Simulator
from streamwidgets.simulators.hyperoru import HyperoruSimulator
from streamwidgets.simulators.pusher import PusherSimulator
from tests.support.waiting import seconds

#: How long "no reply" is waited for.
QUIET = 0.3
SIMULATORS = [HydraSimulator, HydraV1Simulator, AxolSimulator, PusherSimulator, HyperoruSimulator]
SIM_COMMANDS = ["hydra", "hydra-v1", "axol", "pusher", "hyperoru"]

Frame = dict[str, Any]


async def recv(ws: ClientConnection, timeout: float = 5.0) -> Frame:
    return orjson.loads(await asyncio.wait_for(ws.recv(), seconds(timeout)))


async def first(ws: ClientConnection, wanted: Callable[[Frame], bool]) -> Frame:
    """The next message ``wanted`` accepts, skipping others (data, heartbeats)."""
    while True:
        message = await recv(ws)
        if wanted(message):
            return message


async def read_for(ws: ClientConnection, duration: float = QUIET) -> list[Frame]:
    """Every message that arrives within ``duration`` seconds."""
    got: list[Frame] = []
    deadline = asyncio.get_running_loop().time() + duration
    while (left := deadline - asyncio.get_running_loop().time()) > 0:
        try:
            raw = await asyncio.wait_for(ws.recv(), left)
        except TimeoutError:
            break
        got.append(orjson.loads(raw))
    return got


async def send(ws: ClientConnection, **body: Any) -> None:
    await ws.send(orjson.dumps(body).decode())


def of_type(*kinds: str) -> Callable[[Frame], bool]:
    return lambda m: m.get("type") in kinds


# -- options shared by every simulator --------------------------------------------------------


@pytest.mark.parametrize("make", SIMULATORS)
def test_every_simulator_is_strict_by_default_and_checks_the_profile(make):
    """profile defaults to strict; anything but strict/lenient is a ValueError naming both."""
    assert make().profile == "strict"
    assert make(profile="lenient").profile == "lenient"
    with pytest.raises(ValueError, match="'strict', 'lenient', not 'loose'"):
        make(profile="loose")


@pytest.mark.parametrize(
    "make", [HydraSimulator, AxolSimulator, PusherSimulator, HyperoruSimulator]
)
def test_unanswered_names_only_commands_the_simulator_has(make):
    """unanswered takes the simulator's command kinds, and refuses others by name."""
    assert make().unanswered == frozenset()
    with pytest.raises(ValueError, match=r"no command of this simulator: \['dance'\]"):
        make(unanswered=["dance"])


# -- Hydra ------------------------------------------------------------------------------------


async def hydra_session(sim: HydraSimulator) -> ClientConnection:
    token = sim.issue_token(streams=["signals", "alerts", "cyber"])
    ws = await connect(f"{sim.url}?token={token}")
    assert (await recv(ws))["type"] == "connected"
    return ws


def hydra_reply(kind: str) -> Callable[[Frame], bool]:
    # Events carry a stream; replies do not.
    return lambda m: "stream" not in m and m.get("type") == kind


async def test_hydra_strict_sends_the_notes_replies_and_no_pong_or_error():
    """Strict: subscribed/unsubscribed/subscriptions as NOTES.md shows; ping and bad
    commands get nothing, and bad commands that decode to an object are still recorded."""
    async with HydraSimulator(rate=20) as sim:
        ws = await hydra_session(sim)
        await send(ws, action="subscribe", streams=["signals", "markets"])
        subscribed = await first(ws, hydra_reply("subscribed"))
        assert subscribed["data"] == {
            "subscribed": ["signals"],
            "rejected": ["markets"],
            "rejectedReason": {"markets": "Stream not in token scope"},
            "active": ["signals"],
        }
        event = await first(ws, lambda m: "stream" in m)
        assert event["stream"] == "signals"
        await send(ws, action="list")
        listing = await first(ws, hydra_reply("subscriptions"))
        assert listing["data"] == {
            "active": ["signals"],
            "available": ["signals", "alerts", "cyber"],
        }
        await send(ws, action="ping")
        for raw in ("not json", b"\x00binary", '{"action": "dance"}', '{"action": "subscribe"}'):
            await ws.send(raw)
        replies = [m for m in await read_for(ws) if "stream" not in m]
        assert not [m for m in replies if m["type"] in ("pong", "error")], replies
        actions = [c.get("action") for _, c in sim.commands]
        assert actions == ["subscribe", "list", "ping", "dance", "subscribe"]
        await send(ws, action="unsubscribe", streams=["signals"])
        unsubscribed = await first(ws, hydra_reply("unsubscribed"))
        assert unsubscribed["data"] == {"unsubscribed": ["signals"], "active": []}
        await ws.close()


async def test_hydra_lenient_also_sends_pong_and_errors():
    """Lenient: ping gets pong (data null), a bad command an error with a message."""
    async with HydraSimulator(rate=20, profile="lenient") as sim:
        ws = await hydra_session(sim)
        await send(ws, action="ping")
        pong = await first(ws, hydra_reply("pong"))
        assert pong["data"] is None and isinstance(pong["ts"], int)
        await send(ws, action="dance")
        error = await first(ws, hydra_reply("error"))
        assert error["data"] == {"message": "unknown action 'dance'"}
        await ws.close()


@pytest.mark.parametrize("profile", ["strict", "lenient"])
async def test_hydra_unanswered_subscribe_still_starts_the_stream(profile):
    """An unanswered subscribe gets no subscribed reply, but its events flow; others answer."""
    async with HydraSimulator(rate=50, profile=profile, unanswered=["subscribe", "ping"]) as sim:
        ws = await hydra_session(sim)
        await send(ws, action="subscribe", streams=["cyber"])
        await send(ws, action="subscribe")  # malformed: in lenient, its error is silenced too
        await send(ws, action="ping")
        got = await read_for(ws)
        assert {m["stream"] for m in got if "stream" in m} == {"cyber"}
        assert [m for m in got if "stream" not in m] == []
        await send(ws, action="list")
        assert (await first(ws, hydra_reply("subscriptions")))["data"]["active"] == ["cyber"]
        await ws.close()


# -- Hydra v1 ---------------------------------------------------------------------------------

V1_ORDER = [
    "connected",
    "aircraft",
    "vessel",
    "signal",
    "alert",
    "x_post",
    "market_correlation",
    "chat_history",
    "online_count",
]


@pytest.mark.parametrize("profile", ["strict", "lenient"])
async def test_hydra_v1_profiles_send_the_same_documented_messages(profile):
    """Both profiles: connected, the snapshot in the NOTES.md order, then live events."""
    async with HydraV1Simulator(rate=100, snapshot_size=2, profile=profile) as sim:
        async with connect(f"{sim.url}?apiKey={sim.api_key}") as ws:
            kinds = [(await recv(ws))["type"] for _ in range(13)]
        assert kinds[:12] == [
            k for k in V1_ORDER for _ in range(2 if k in ("vessel", "alert", "x_post") else 1)
        ]
        assert kinds[12] in {
            "aircraft",
            "vessel",
            "signal",
            "alert",
            "market",
            "market_correlation",
            "x_post",
        }


@pytest.mark.parametrize("profile", ["strict", "lenient"])
async def test_hydra_v1_bad_key_gets_error_then_1008_in_both_profiles(profile):
    """The document's answer to a bad key: an error message, then close 1008."""
    async with HydraV1Simulator(profile=profile) as sim:
        async with connect(f"{sim.url}?apiKey=hydra_k1_wrong") as ws:
            error = await recv(ws)
            with pytest.raises(ConnectionClosed) as closed:
                await recv(ws)
        assert error["type"] == "error" and error["data"]["message"]
        assert closed.value.rcvd is not None and closed.value.rcvd.code == 1008


# -- Axol -------------------------------------------------------------------------------------

AXOL_KEY, AXOL_FREE = "axol_sim_profiles", "axol_sim_free"
ALL_AXOL = [
    "gas_prices",
    "blockchain_events",
    "alerts",
    "system_status",
    "gas_prices_ethereum",
    "gas_prices_polygon",
    "gas_prices_arbitrum",
]


def axol(**options: Any) -> AxolSimulator:
    return AxolSimulator(api_keys={AXOL_KEY: "starter", AXOL_FREE: "free"}, rate=20, **options)


async def axol_session(sim: AxolSimulator, key: str = AXOL_KEY) -> ClientConnection:
    ws = await connect(f"{sim.url}?token={sim.issue_token(key)}")
    welcome = await recv(ws)
    assert welcome["type"] == "connected"
    assert welcome["data"]["available_channels"] == ALL_AXOL[:4]
    return ws


def axol_reply(*kinds: str) -> Callable[[Frame], bool]:
    # Data messages carry a channel; replies do not.
    return lambda m: "channel" not in m and m.get("type") in kinds


async def test_axol_strict_answers_subscribe_with_the_channels_of_the_request():
    """Strict: one subscription_result per subscribe, listing this request's granted
    channels (already subscribed ones included, unknown ones missing)."""
    async with axol() as sim:
        ws = await axol_session(sim)
        await send(ws, type="subscribe", channels=["gas_prices", "alerts"])
        assert await first(ws, axol_reply("subscription_result")) == {
            "type": "subscription_result",
            "data": {
                "subscribed_channels": ["gas_prices", "alerts"],
                "message": "Subscribed to 2 channels",
            },
        }
        await send(ws, type="subscribe", channels=["alerts", "nope", "system_status", 7, "alerts"])
        result = await first(ws, axol_reply("subscription_result"))
        assert result["data"] == {
            "subscribed_channels": ["alerts", "system_status"],
            "message": "Subscribed to 2 channels",
        }
        await send(ws, type="subscribe", channels="gas_prices")  # no list: nothing granted
        result = await first(ws, axol_reply("subscription_result"))
        assert result["data"]["subscribed_channels"] == []
        await send(ws, type="get_info")
        info = await first(ws, axol_reply("connection_info"))
        assert info["data"]["channels"] == ["gas_prices", "alerts", "system_status"]
        await ws.close()


async def test_axol_strict_sends_no_unsubscribe_reply_and_no_errors():
    """Strict: unsubscribe, invalid JSON and unknown types get nothing; ping gets the
    document's pong exactly."""
    async with axol() as sim:
        ws = await axol_session(sim)
        await send(ws, type="subscribe", channels=["alerts"])
        await first(ws, axol_reply("subscription_result"))
        await send(ws, type="unsubscribe", channels=["alerts"])
        await ws.send("not json")
        await send(ws, type="dance")
        replies = [m for m in await read_for(ws) if "channel" not in m]
        assert replies == []
        await send(ws, type="ping", data={})
        assert await first(ws, axol_reply("pong")) == {"type": "pong", "data": {}}
        await send(ws, type="get_info")
        assert (await first(ws, axol_reply("connection_info")))["data"]["channels"] == []
        assert [c["type"] for _, c in sim.commands] == [
            "subscribe",
            "unsubscribe",
            "dance",
            "ping",
            "get_info",
        ]
        await ws.close()


async def test_axol_strict_grants_only_what_fits_the_tier():
    """Strict, free tier (5): a subscribe over the limit gets what fits, the rest missing."""
    async with axol() as sim:
        ws = await axol_session(sim, AXOL_FREE)
        await send(ws, type="subscribe", channels=ALL_AXOL)
        result = await first(ws, axol_reply("subscription_result"))
        assert result["data"] == {
            "subscribed_channels": ALL_AXOL[:5],
            "message": "Subscribed to 5 channels",
        }
        await send(ws, type="subscribe", channels=["gas_prices_polygon", "alerts"])
        result = await first(ws, axol_reply("subscription_result"))
        assert result["data"] == {
            "subscribed_channels": ["alerts"],
            "message": "Subscribed to 1 channels",
        }
        assert not [m for m in await read_for(ws) if m["type"] == "error"]
        await ws.close()


async def test_axol_lenient_answers_unsubscribe_and_sends_errors():
    """Lenient: unsubscribe answered with the whole set; unknown channels, the tier limit
    and unreadable messages get errors."""
    async with axol(profile="lenient") as sim:
        ws = await axol_session(sim, AXOL_FREE)
        await send(ws, type="subscribe", channels=["gas_prices", "alerts"])
        result = await first(ws, axol_reply("subscription_result"))
        assert result["data"]["subscribed_channels"] == ["gas_prices", "alerts"]
        await send(ws, type="unsubscribe", channels=["alerts"])
        result = await first(ws, axol_reply("subscription_result"))
        assert result["data"] == {
            "subscribed_channels": ["gas_prices"],
            "message": "Unsubscribed from 1 channels",
        }
        await send(ws, type="subscribe", channels=["nope"])
        error = await first(ws, axol_reply("error"))
        assert error["data"] == {"message": "Unknown channels: nope", "request": "subscribe"}
        await send(ws, type="subscribe", channels=ALL_AXOL)
        error = await first(ws, axol_reply("error"))
        assert error["data"]["code"] == "subscription_limit" and error["data"]["limit"] == 5
        await ws.send("not json")
        error = await first(ws, axol_reply("error"))
        assert error["data"] == {"message": "Invalid JSON message"}
        await ws.close()


@pytest.mark.parametrize("profile", ["strict", "lenient"])
async def test_axol_unanswered_subscribe_still_subscribes(profile):
    """An unanswered subscribe gets no reply, but the channel's data flows."""
    async with axol(profile=profile, unanswered=["subscribe", "get_info"]) as sim:
        ws = await axol_session(sim)
        await send(ws, type="subscribe", channels=["system_status"])
        await send(ws, type="get_info")
        got = await read_for(ws, 0.5)
        assert [m for m in got if "channel" not in m] == []
        assert {m["channel"] for m in got} == {"system_status"}
        await send(ws, type="ping")
        assert (await first(ws, axol_reply("pong")))["data"] == {}
        await ws.close()


# -- Pusher -----------------------------------------------------------------------------------


def pusher(rate: float = 20, **options: Any) -> PusherSimulator:
    return PusherSimulator(tokens={"sk_sim_a": "u1", "sk_sim_b": "u2"}, rate=rate, **options)


async def pusher_session(sim: PusherSimulator) -> tuple[ClientConnection, str]:
    # An unbounded queue: a socket left unread while data flows must still close at once.
    url = f"ws://127.0.0.1:{sim.port}/app/{sim.app_key}?protocol=7"
    ws = await connect(url, max_queue=None)
    established = await recv(ws)
    assert established["event"] == "pusher:connection_established"
    return ws, json.loads(established["data"])["socket_id"]


def pusher_event(*events: str) -> Callable[[Frame], bool]:
    return lambda m: m.get("event") in events


async def subscribe(ws: ClientConnection, channel: str, **extra: Any) -> None:
    await send(ws, event="pusher:subscribe", data={"channel": channel, **extra})


def presence_auth(sim: PusherSimulator, socket_id: str, user: str) -> dict[str, str]:
    channel_data = json.dumps({"user_id": user, "user_info": {"name": user}})
    return {
        "auth": sim.sign(socket_id, sim.channel("portfolio"), channel_data),
        "channel_data": channel_data,
    }


async def test_pusher_strict_accepts_any_public_channel_and_answers_bad_signatures_as_pusher():
    """Strict: unknown public channels succeed; a bad or missing signature gets Pusher's
    own pusher:error (no channel, code null); never a pusher:subscription_error."""
    async with pusher() as sim:
        ws, socket_id = await pusher_session(sim)
        for channel in ("market-prices", "no-such-channel"):
            await subscribe(ws, channel)
            ok = await first(ws, pusher_event("pusher_internal:subscription_succeeded"))
            assert (ok["channel"], json.loads(ok["data"])) == (channel, {})
        presence = sim.channel("portfolio")
        for sent in ("sim-app-key:00ff", None):
            await subscribe(ws, presence, **({} if sent is None else {"auth": sent}))
            error = await first(ws, pusher_event("pusher:error"))
            assert error == {
                "event": "pusher:error",
                "data": {
                    "message": "Invalid signature: Expected HMAC SHA256 hex digest of "
                    f"{socket_id}:{presence}, but got {sent or ''}",
                    "code": None,
                },
            }
        await ws.send("not json")
        await send(ws, event="client-hello", channel="market-prices", data={})
        got = await read_for(ws)
        assert not [m for m in got if m["event"].startswith("pusher")], got
        await subscribe(ws, presence, **presence_auth(sim, socket_id, "u1"))
        ok = await first(ws, pusher_event("pusher_internal:subscription_succeeded"))
        assert json.loads(ok["data"])["presence"] == {
            "ids": ["u1"],
            "hash": {"u1": {"name": "User u1"}},
            "count": 1,
        }
        await send(ws, event="pusher:ping", data={})
        assert (await first(ws, pusher_event("pusher:pong")))["data"] == "{}"
        await ws.close()


async def test_pusher_lenient_sends_subscription_errors():
    """Lenient: a bad signature and an unknown channel get pusher:subscription_error with
    the channel; an unreadable message gets pusher:error."""
    async with pusher(profile="lenient") as sim:
        ws, _ = await pusher_session(sim)
        presence = sim.channel("portfolio")
        await subscribe(ws, presence, auth="sim-app-key:00ff")
        refused = await first(ws, pusher_event("pusher:subscription_error"))
        assert refused["channel"] == presence
        assert json.loads(refused["data"]) == {
            "type": "AuthError",
            "error": "Invalid signature",
            "status": 401,
        }
        await subscribe(ws, "no-such-channel")
        refused = await first(ws, pusher_event("pusher:subscription_error"))
        assert refused["channel"] == "no-such-channel"
        assert json.loads(refused["data"])["status"] == 404
        await ws.send("not json")
        error = await first(ws, pusher_event("pusher:error"))
        assert error["data"] == {"message": "Invalid message", "code": None}
        await ws.close()


@pytest.mark.parametrize("profile", ["strict", "lenient"])
async def test_pusher_unanswered_subscribe_still_joins(profile):
    """Unanswered subscribes join silently: data flows, and other members still hear of
    a join; an unanswered ping gets no pong."""
    unanswered = ["pusher:subscribe", "pusher:ping"]
    async with pusher(rate=100, profile=profile, unanswered=unanswered) as sim:
        first_ws, first_id = await pusher_session(sim)
        second_ws, second_id = await pusher_session(sim)
        presence = sim.channel("portfolio")
        await subscribe(first_ws, presence, **presence_auth(sim, first_id, "u1"))
        await subscribe(first_ws, "market-prices")
        await subscribe(second_ws, presence, **presence_auth(sim, second_id, "u2"))
        added = await first(first_ws, pusher_event("pusher_internal:member_added"))
        assert json.loads(added["data"])["user_id"] == "u2"
        await send(first_ws, event="pusher:ping", data={})
        got = await read_for(first_ws, 0.5)
        assert {m["event"] for m in got} <= {"price_update", "position_update", "balance_update"}
        assert {m["channel"] for m in got} == {presence, "market-prices"}
        assert set(sim.members(presence)) == {"u1", "u2"}
        await first_ws.close()
        await second_ws.close()


# -- Hyperoru ---------------------------------------------------------------------------------

HYO_TOKEN = "hyo_sim_profiles"


def hyperoru(**options: Any) -> HyperoruSimulator:
    return HyperoruSimulator(session_tokens=[HYO_TOKEN], rate=2, fill_delay=0.05, **options)


async def hyperoru_session(sim: HyperoruSimulator) -> ClientConnection:
    return await connect(f"{sim.url}?session_token={HYO_TOKEN}")


async def request(ws: ClientConnection, kind: str, rid: str | None = None, **data: Any) -> None:
    body: dict[str, Any] = {"type": kind, "data": data}
    if rid is not None:
        body["request_id"] = rid
    await send(ws, **body)


ORDER = {"account_id": "acct_1", "symbol": "BTC", "side": "buy", "size": 0.5}


async def test_hyperoru_strict_pong_is_the_documents_and_subscribe_and_switch_are_silent():
    """Strict: ping -> exactly {"type": "pong"}; subscribe and switch_account get no reply
    unless they fail, and then an error echoing the request id."""
    async with hyperoru() as sim:
        ws = await hyperoru_session(sim)
        await request(ws, "ping", "r1")
        assert await recv(ws) == {"type": "pong"}
        await request(ws, "subscribe", "r2", channels=["positions"])
        await request(ws, "switch_account", "r3", account_id="acct_2")
        got = await read_for(ws)
        assert not [m for m in got if m["type"] not in ("position_update",)], got
        assert sim.sessions()[1] == {"account": "acct_2", "channels": ["positions"]}
        await request(ws, "subscribe", "r4", channels=["nope"])
        error = await first(ws, of_type("error"))
        assert (error["request_id"], error["data"]["code"]) == ("r4", "unknown_channel")
        await request(ws, "switch_account", "r5", account_id="acct_9")
        error = await first(ws, of_type("error"))
        assert (error["request_id"], error["data"]["code"]) == ("r5", "unknown_account")
        await ws.send("not json")
        error = await first(ws, of_type("error"))
        assert "request_id" not in error and error["data"]["code"] == "bad_request"
        await ws.close()


async def test_hyperoru_strict_requests_echo_their_id_and_orders_are_pushed_events():
    """Strict: bootstrap, get_snapshot, get_asset_curve echo the request id; place_order's
    accepted trade_update comes without it, and the filled one follows on trades."""
    async with hyperoru() as sim:
        ws = await hyperoru_session(sim)
        await request(ws, "bootstrap", "b1")
        await request(ws, "get_snapshot", "s1", account_id="acct_1")
        await request(ws, "get_asset_curve", "c1", account_id="acct_1", timeframe="1d")
        replies = [await recv(ws) for _ in range(3)]
        assert [(m["type"], m["request_id"]) for m in replies] == [
            ("bootstrap", "b1"),
            ("snapshot", "s1"),
            ("asset_curve", "c1"),
        ]
        # Placed before subscribing to trades: no broadcast can come before its answer.
        await request(ws, "place_order", "o1", **ORDER)
        await request(ws, "subscribe", channels=["trades"])
        accepted = await recv(ws)
        assert accepted["type"] == "trade_update" and "request_id" not in accepted
        assert accepted["data"]["status"] == "accepted"
        order_id = accepted["data"]["order_id"]
        assert order_id == sim.orders[0]["order_id"]
        filled = await first(
            ws, lambda m: m.get("type") == "trade_update" and m["data"]["order_id"] == order_id
        )
        assert "request_id" not in filled and filled["data"]["status"] == "filled"
        await ws.close()


async def test_hyperoru_lenient_acknowledges_and_echoes_everything():
    """Lenient: subscribed, account_switched, a pong with data and id, an order update
    with the id."""
    async with hyperoru(profile="lenient") as sim:
        ws = await hyperoru_session(sim)
        await request(ws, "ping", "r1")
        assert await recv(ws) == {"type": "pong", "data": {}, "request_id": "r1"}
        await request(ws, "subscribe", "r2", channels=["trades"])
        subscribed = await first(ws, of_type("subscribed"))
        assert subscribed == {
            "type": "subscribed",
            "data": {"channels": ["trades"]},
            "request_id": "r2",
        }
        await request(ws, "switch_account", "r3", account_id="acct_2")
        switched = await first(ws, of_type("account_switched"))
        assert switched["request_id"] == "r3" and switched["data"]["account_id"] == "acct_2"
        await request(ws, "place_order", "o1", **ORDER)
        accepted = await first(ws, lambda m: m.get("request_id") == "o1")
        assert accepted["type"] == "trade_update" and accepted["data"]["status"] == "accepted"
        await ws.close()


@pytest.mark.parametrize("profile", ["strict", "lenient"])
async def test_hyperoru_unanswered_requests_still_act(profile):
    """Unanswered bootstrap, subscribe and place_order get no reply, errors included; the
    subscription and the order still happen, and the order still fills."""
    unanswered = ["bootstrap", "subscribe", "place_order"]
    async with hyperoru(profile=profile, unanswered=unanswered) as sim:
        ws = await hyperoru_session(sim)
        await request(ws, "bootstrap", "b1")
        await request(ws, "subscribe", "r1", channels=["nope"])
        await request(ws, "subscribe", "r2", channels=["trades"])
        await request(ws, "place_order", "o1", **ORDER)
        await asyncio.sleep(0.1)
        order_id = sim.orders[0]["order_id"]
        got = await read_for(ws)
        assert not [m for m in got if m["type"] != "trade_update"], got
        mine = [m for m in got if m["data"]["order_id"] == order_id]
        assert [(m["data"]["status"], "request_id" in m) for m in mine] == [("filled", False)]
        await request(ws, "get_snapshot", "s1", account_id="acct_1")
        assert (await first(ws, of_type("snapshot")))["request_id"] == "s1"
        await ws.close()


# -- the command line -------------------------------------------------------------------------


@pytest.mark.parametrize("name", SIM_COMMANDS)
def test_every_sim_subcommand_takes_profile(name):
    """--profile strict|lenient (default strict) on every sim; --unanswered where there
    are client commands."""
    parser = build_parser()
    assert parser.parse_args(["sim", name]).profile == "strict"
    args = parser.parse_args(["sim", name, "--profile", "lenient"])
    assert args.profile == "lenient"
    assert ("unanswered" in args) == (name != "hydra-v1")
    with pytest.raises(SystemExit):
        parser.parse_args(["sim", name, "--profile", "loose"])


def test_an_unknown_unanswered_kind_stops_the_command_with_its_name():
    """The simulator checks --unanswered kinds; a bad one exits before serving."""
    args = build_parser().parse_args(["sim", "axol", "--port", "0", "--unanswered", "dance"])
    with pytest.raises(SystemExit, match=r"no command of this simulator: \['dance'\]"):
        args.func(args)


async def test_the_command_line_serves_the_lenient_profile_and_unanswered(tmp_path):
    """`sim hyperoru --profile lenient --unanswered bootstrap` echoes the ping's id, and
    leaves bootstrap unanswered."""
    ready = tmp_path / "port"
    proc = subprocess.Popen(
        [sys.executable, "-m", "streamwidgets", "sim", "hyperoru", "--port", "0",
         "--profile", "lenient", "--unanswered", "bootstrap", "--session-token", HYO_TOKEN,
         "--ready-file", str(ready)],
        stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True,
    )  # fmt: skip
    try:
        deadline = time.monotonic() + seconds(20)
        while not ready.exists():
            assert time.monotonic() < deadline and proc.poll() is None
            await asyncio.sleep(0.05)
        port = int(ready.read_text())
        async with connect(f"ws://127.0.0.1:{port}/ws?session_token={HYO_TOKEN}") as ws:
            await request(ws, "bootstrap", "b1")
            await request(ws, "ping", "p1")
            assert await recv(ws) == {"type": "pong", "data": {}, "request_id": "p1"}
            assert await read_for(ws) == []
    finally:
        proc.terminate()
        assert proc.wait(timeout=10) == 0
