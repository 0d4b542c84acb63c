"""The Pusher simulator against real Pusher clients: pusher-js (Node) and pysher (Python).

Each client bootstraps a session over REST, connects with the session's host, port (the
WebSocket listener's, not the REST one's) and app key, subscribes to a public and a
presence channel (signed by the simulator's auth endpoint on the REST port) and must
receive data events and a member_added.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import queue
import time
from pathlib import Path

import httpx

from streamwidgets.simulators.pusher import PusherSimulator
from tests.support.node import NODE_MODULES, pusher_js_node
from tests.support.waiting import seconds

CLIENT = Path(__file__).parents[1] / "support" / "pusher_js_client.cjs"
TOKEN = "sk_sim_interop0123456789abcdef"


async def test_pusher_js_subscribes_public_and_presence_and_gets_events():
    """pusher-js connects, answers server pings, joins both channels, sees data and members."""
    node = pusher_js_node()
    async with PusherSimulator(tokens={TOKEN: "u1"}, rate=40.0, activity_timeout=0.5) as sim:
        env = {**os.environ, "NODE_PATH": str(NODE_MODULES)}
        process = await asyncio.create_subprocess_exec(
            node,
            str(CLIENT),
            sim.base_url,
            TOKEN,
            "prices",
            "portfolio",
            stdout=asyncio.subprocess.PIPE,
            stderr=asyncio.subprocess.PIPE,
            env=env,
        )
        lines: list[dict] = []
        try:
            async with asyncio.timeout(seconds(15)):
                assert process.stdout is not None
                joined = False
                while True:
                    raw = await process.stdout.readline()
                    if not raw:
                        break
                    lines.append(json.loads(raw))
                    subscribed = {x["channel"] for x in lines if x["kind"] == "subscribed"}
                    if len(subscribed) == 2 and not joined:
                        joined = True
                        sim.add_member(sim.channel("portfolio"), "bot-1", {"name": "Bot"})
                    if joined and sim.events_of("pusher:pong") and _has_events(lines):
                        break
        finally:
            process.terminate()
            _, err = await process.communicate()
        kinds = [x["kind"] for x in lines]
        assert {"state", "subscribed", "member_added", "event"} <= set(kinds), err.decode()
        presence = next(x for x in lines if x.get("channel") == sim.channel("portfolio"))
        assert presence["kind"] == "subscribed" and presence["members"] == 1
        assert not [x for x in lines if x["kind"] in ("error", "subscription_error")]
        # pusher-js sends the auth endpoint's channel_data verbatim, as Pusher requires.
        sub = [c["data"] for c in sim.events_of("pusher:subscribe")]
        assert any(s.get("channel_data") == json.dumps(sim.user_data()) for s in sub)
        assert sim.events_of("pusher:pong"), "pusher-js should answer the server's ping"


def _has_events(lines: list[dict]) -> bool:
    channels = {x["channel"] for x in lines if x["kind"] == "event"}
    return len(channels) == 2


def test_pysher_subscribes_public_and_presence_and_gets_events():
    """pysher (protocol 6, its own channel_data) joins both channels and sees data and members."""
    import pysher

    sim = PusherSimulator(tokens={TOKEN: "u1"}, rate=40.0)
    sim.start_background()
    client = None
    try:
        auth = {"Authorization": f"Bearer {TOKEN}"}
        session = httpx.post(
            f"{sim.base_url}/api/v2/ws/session",
            headers=auth,
            json={"streams": ["prices", "portfolio"]},
            timeout=5,
        ).json()
        conn = session["connection"]
        assert conn["wsPort"] == sim.port and not sim.base_url.endswith(f":{sim.port}")
        got: queue.Queue[tuple[str, str]] = queue.Queue()
        client = pysher.Pusher(
            conn["appKey"],
            custom_host=conn["wsHost"],
            port=conn["wsPort"],
            secure=conn["forceTls"],
            auth_endpoint=f"{sim.base_url}/api/v2/ws/auth",
            auth_endpoint_headers=auth,
            # pysher signs what it sends: the member the auth endpoint signs for this token.
            user_data=sim.user_data(TOKEN),
        )
        names = (
            "price_update",
            "position_update",
            "pusher_internal:subscription_succeeded",
            "pusher_internal:member_added",
        )

        def subscribe(_data: object) -> None:
            for item in session["channels"]:
                channel = client.subscribe(item["channel"])
                for name in names:
                    channel.bind(name, lambda _d, c=item["channel"], n=name: got.put((c, n)))

        client.connection.bind("pusher:connection_established", subscribe)
        client.connect()
        seen: set[tuple[str, str]] = set()
        deadline = time.monotonic() + seconds(10)
        presence = sim.channel("portfolio")
        wanted = {
            ("market-prices", "price_update"),
            (presence, "position_update"),
            (presence, "pusher_internal:subscription_succeeded"),
            (presence, "pusher_internal:member_added"),
        }
        added = False
        while not wanted <= seen and time.monotonic() < deadline:
            with contextlib.suppress(queue.Empty):
                seen.add(got.get(timeout=0.1))
            if not added and (presence, "pusher_internal:subscription_succeeded") in seen:
                added = True
                sim.add_member(presence, "bot-1", {"name": "Bot"})
        assert wanted <= seen, f"missing: {wanted - seen}"
        assert sim.connections[0][2] == "accepted"
    finally:
        if client is not None:
            client.disconnect(timeout=2)
        sim.stop_background()
