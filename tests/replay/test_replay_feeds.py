"""Record and replay the Pusher and Hyperoru feeds: same rows, no secrets, no REST in replay."""

from __future__ import annotations

import asyncio
import gzip
import os
import subprocess
import sys

import orjson
import pandas as pd
import pytest

import streamwidgets
from streamwidgets import feeds
from streamwidgets.dialects.hyperoru.dialect import HyperoruDialect
from streamwidgets.dialects.pusher.session_feed import PusherDialect
from streamwidgets.feeds.registry import rebuild_dialect
from streamwidgets.simulators.hyperoru import HyperoruSimulator
from streamwidgets.simulators.pusher import PusherSimulator
from tests.support.recordings import check_record_output, lines_of, replay_all, run_record, serving
from tests.support.waiting import seconds

PUSHER_TOKEN = "sk_sim_replaytoken0123456789ab"
HYPERORU_TOKEN = "hyo_sim_replay_token_0123456789abcdef"
HYPERORU_CHANNELS = ["trades", "positions", "model_chat", "asset_curve"]


async def record_for(stream: streamwidgets.Stream, at_least: float, done) -> None:
    """Keep the live session (being recorded) open ``at_least`` seconds and until ``done()``."""
    loop = asyncio.get_running_loop()
    started = loop.time()
    while loop.time() - started < seconds(at_least) or not done(stream.df):
        assert loop.time() - started < seconds(15), "the simulator sent too little"
        await asyncio.sleep(0.05)


async def test_pusher_public_and_presence_streams_replay_the_same_without_rest(tmp_path):
    """prices (public) and portfolio (presence-portfolio-u1, signed): the same rows again,
    no token or signature in the file, and the replay makes no REST call."""
    path = tmp_path / "pusher.jsonl.gz"
    async with PusherSimulator(tokens={PUSHER_TOKEN: "u1"}, rate=150.0, seed=3) as sim:
        feed = feeds.pusher(sim.base_url, token=PUSHER_TOKEN)
        async with streamwidgets.open(feed, streams=["prices", "portfolio"], record=path) as stream:

            def both(df: pd.DataFrame) -> bool:
                return not df.empty and {"member", "position_update", "price_update"} <= set(
                    df["type"]
                )

            await record_for(stream, 1.0, both)
            session = stream.connection.dialect  # what this connection learned
            secrets = [s.reveal() for s in session.secrets()]  # the token and the signature
        live = stream.df
        assert len(secrets) >= 2 and session.bootstraps == 1 and feed.bootstraps == 0
        assert set(live["stream"]) == {"prices", "portfolio"}
        assert live.loc[live["stream"] == "portfolio", "snapshot"].any()
        rest_calls = len(sim.rest_calls)

        # Replayed while the REST side still answers: a call would be counted.
        replayed = feeds.replay(path, speed=None)
        back, _, replay_stream = await replay_all(replayed)
        assert len(sim.rest_calls) == rest_calls
    pd.testing.assert_frame_equal(back, live)
    copy = replayed.inner
    assert isinstance(copy, PusherDialect) and copy.bootstraps == 0 and copy.session is None
    assert copy.replay_config() == session.replay_config()  # the resolved session's channels
    assert replay_stream.connection.dialect.end_reason == "end of the recording"

    data = gzip.decompress(path.read_bytes()).decode()
    for secret in secrets:
        assert secret not in data
    assert "presence-portfolio-u1" in data  # user ids are not secrets
    markers = [line for line in lines_of(path) if line.get("marker") == "replay-config"]
    assert len(markers) == 1  # the session's channels, resolved after the header
    assert orjson.loads(markers[0]["detail"])["channels"]["presence-portfolio-u1"] == "portfolio"


async def test_hyperoru_bootstrap_snapshot_and_model_chat_replay_the_same(tmp_path):
    """The connect ping's pong (the welcome), bootstrap snapshot rows and model_chat chunks:
    the same rows again, with nothing sent to the replay server, and no token in the file."""
    path = tmp_path / "hyperoru.jsonl.gz"
    async with HyperoruSimulator(
        session_tokens=[HYPERORU_TOKEN], rate=150.0, asset_curve_interval=0.2, seed=5
    ) as sim:
        feed = feeds.hyperoru(sim.url, session_token=HYPERORU_TOKEN)
        async with streamwidgets.open(feed, streams=HYPERORU_CHANNELS, record=path) as stream:

            def chat(df: pd.DataFrame) -> bool:
                return not df.empty and (df["type"] == "model_chat_update").sum() >= 8

            await record_for(stream, 1.0, chat)
        live = stream.df
    snapshot = live[live["snapshot"]]
    assert {"account", "position"} <= set(snapshot["type"])
    assert not live["snapshot"].all()
    assert feed.model_chat(live)["complete"].any()

    replayed = feeds.replay(path, speed=None)
    back, _, replay_stream = await replay_all(replayed)
    pd.testing.assert_frame_equal(back, live)
    pd.testing.assert_frame_equal(replayed.inner.model_chat(back), feed.model_chat(live))
    assert isinstance(replayed.inner, HyperoruDialect)
    assert replay_stream.connection.stats.connects == 1

    data = gzip.decompress(path.read_bytes())
    assert HYPERORU_TOKEN.encode() not in data
    # The first frame received is the pong to the connect ping (bare, as the document shows it).
    first = next(line for line in lines_of(path) if "text" in line and line.get("dir") != "out")
    assert orjson.loads(first["text"])["type"] == "pong"


async def test_a_channel_muted_mid_session_stays_muted_in_the_replay(tmp_path):
    """Hyperoru has no unsubscribe: muting filters on the client, and the recording says
    when, so broadcasts of the muted channel do not come back in the replay."""
    path = tmp_path / "hyperoru-muted.jsonl.gz"
    async with HyperoruSimulator(session_tokens=[HYPERORU_TOKEN], rate=150.0, seed=6) as sim:
        feed = feeds.hyperoru(sim.url, session_token=HYPERORU_TOKEN)
        async with streamwidgets.open(feed, streams=HYPERORU_CHANNELS, record=path) as stream:

            def positions(df: pd.DataFrame) -> bool:
                return not df.empty and (df["type"] == "position_update").sum() >= 3

            await record_for(stream, 0.5, positions)
            await stream.unsubscribe("positions")
            muted_at = len(stream.df)
            await record_for(stream, 0.7, lambda df: len(df) > muted_at + 20)
        live = stream.df
    # The server goes on sending positions: only the client's mute keeps them out.
    sent = [line for line in lines_of(path) if '"position_update"' in line.get("text", "")]
    assert sent[-1]["t_ns"] > live["received_at"].iloc[muted_at - 1].value
    assert (live.iloc[muted_at:]["type"] != "position_update").all()

    back, _, _ = await replay_all(feeds.replay(path, speed=None))
    pd.testing.assert_frame_equal(back, live)


def test_both_dialects_rebuild_from_their_replay_config_without_secrets():
    """The parse-only copies come back with the same options; the Pusher copy's prepare and
    authorize call nothing (its REST base is a closed port); muted Hyperoru channels stay muted."""
    pusher = feeds.pusher("http://127.0.0.1:9", token="secret-token", streams=["portfolio"])
    pusher._streams_of = {"presence-portfolio-u7": "portfolio"}
    hyperoru = feeds.hyperoru("ws://127.0.0.1:9/ws", session_token="secret-session")
    hyperoru.unsubscribe(["asset_curve"])
    for original in (pusher, hyperoru):
        config = original.replay_config()
        assert "secret" not in orjson.dumps(config).decode(), original.name
        rebuilt = rebuild_dialect(original.name, config)
        assert type(rebuilt) is type(original) and rebuilt.name == original.name
        assert rebuilt.replay_config() == config
        assert rebuilt.describe() == original.describe()

    copy = rebuild_dialect("pusher", pusher.replay_config())
    asyncio.run(copy.prepare())
    assert copy.bootstraps == 0 and asyncio.run(copy.authorize(["portfolio"])) == {}
    frame = '{"event":"balance_update","channel":"presence-portfolio-u7","data":"{}"}'
    assert copy.parse(frame, 1)[0].stream == "portfolio"

    copy = rebuild_dialect("hyperoru", hyperoru.replay_config())
    curve = '{"type":"asset_curve_update","data":{"equity":1,"ts":1}}'
    assert copy.parse(curve, 1) == [] and copy.filtered == 1


def test_record_hyperoru_command_prints_progress_and_writes_a_replayable_file(tmp_path):
    """`streamwidgets record hyperoru` with HYPERORU_SESSION_TOKEN: progress, then a file that
    holds no token and replays."""
    with serving(
        *("sim", "hyperoru", "--port", "0", "--rate", "100", "--session-token", HYPERORU_TOKEN),
        ready=tmp_path / "port",
    ) as port:
        out = tmp_path / "cli.jsonl.gz"
        result = run_record(
            *("hyperoru", "--url", f"ws://127.0.0.1:{port}/ws", "--for", "1.5s", "-o", str(out)),
            env={"HYPERORU_SESSION_TOKEN": HYPERORU_TOKEN},
        )
    check_record_output(result, out, "1.5 s")
    lines = lines_of(out)
    assert lines[0]["dialect"] == "hyperoru"
    assert sum(line.get("dir") == "in" for line in lines) > 50
    assert HYPERORU_TOKEN.encode() not in gzip.decompress(out.read_bytes())

    async def replayed() -> pd.DataFrame:
        back, _, _ = await replay_all(feeds.replay(out, speed=None))
        return back

    back = asyncio.run(replayed())
    assert set(back["stream"]) >= {"accounts", "trades", "model_chat"}


@pytest.mark.parametrize("feed", ["pusher", "hyperoru"])
def test_record_command_needs_the_feeds_credential_variable(tmp_path, feed):
    """No PUSHER_TOKEN / HYPERORU_SESSION_TOKEN: a clear message naming it, nothing written."""
    variable = {"pusher": "PUSHER_TOKEN", "hyperoru": "HYPERORU_SESSION_TOKEN"}[feed]
    env = {k: v for k, v in os.environ.items() if k != variable}
    out = tmp_path / "never.jsonl.gz"
    result = subprocess.run(
        [
            *(sys.executable, "-m", "streamwidgets", "record", feed),
            *("--url", "http://127.0.0.1:9", "--streams", "prices", "-o", str(out)),
        ],
        env=env,
        capture_output=True,
        text=True,
        timeout=seconds(30),
    )
    assert result.returncode != 0 and variable in result.stderr
    assert not out.exists()
