"""Kernel-side checks of the README's claims, through the public Python API only.

Feeds come from tests/support/ux_attack_server.py (a strict Hydra server written from
the seed document). A failing case is a finding and stays as it is.
"""

from __future__ import annotations

import asyncio
import gzip
import json

import pytest

from streamwidgets import StreamWidget, feeds
from tests.support.ux_attack_server import HydraAttackServer

TOKEN = "eyJhbGciOiJIUzI1NiJ9.UXATTACKSECRET123.c2lnbmF0dXJlX3V4"
PIECE = "UXATTACKSECRET123"

pytestmark = pytest.mark.asyncio


def _echo(i: int) -> dict:
    return {"symbol": ["A", "B"][i % 2], "price": 1.5 + i, "note": f"you sent {TOKEN}",
            "token": TOKEN, "url": f"wss://x/stream?token={TOKEN}"}  # fmt: skip


def _capture(w: StreamWidget) -> list[str]:
    """Everything that leaves the kernel on the widget's comm (messages and state), as text."""
    out: list[str] = []

    def text(content, buffers) -> str:
        parts = [json.dumps(content, default=str)]
        parts += [bytes(b).decode("latin-1") for b in (buffers or [])]
        return "\n".join(parts)

    comm_send = w.comm.send

    def csend(data=None, metadata=None, buffers=None, **kw):
        out.append(text(data, buffers))
        return comm_send(data=data, metadata=metadata, buffers=buffers, **kw)

    w.comm.send = csend
    return out


async def test_echoed_token_never_sent_to_browser_nor_in_state():
    """README: no token is ever in a synced trait, a message to the browser or a repr, even
    when the server says it back in an event."""
    async with HydraAttackServer(token=TOKEN) as server:
        w = StreamWidget(feeds.hydra(server.url, token=TOKEN), streams=["markets"])
        try:
            out = _capture(w)
            await server.wait_subscribed("markets", 10)
            for i in range(30):
                await server.push("markets", "market_update", _echo(i))
                await asyncio.sleep(0.01)
            await asyncio.sleep(2)
            state = json.dumps(w.get_state(), default=str)
            assert len(w.df) == 30
            assert PIECE not in state, "token in the synced state"
            assert PIECE not in repr(w)
            leaked = [m[:300] for m in out if PIECE in m]
            assert out, "nothing sent to the browser"
            assert not leaked, leaked
        finally:
            w.close()


async def test_recording_masks_token(tmp_path):
    """README: a recording's credentials are masked in every line (the echoed one too)."""
    path = tmp_path / "rec.jsonl.gz"
    async with HydraAttackServer(token=TOKEN) as server:
        w = StreamWidget(feeds.hydra(server.url, token=TOKEN), streams=["markets"])
        try:
            await server.wait_subscribed("markets", 10)
            w.record(str(path))
            for i in range(5):
                await server.push("markets", "market_update", _echo(i))
            await asyncio.sleep(1)
            w.stop_recording()
        finally:
            w.close()
    with gzip.open(path, "rt") as file:
        text = file.read()
    assert "market_update" in text
    assert PIECE not in text


async def test_split_by_missing_column_names_columns_seen():
    """chart(by=) on a column no row had raises ConfigurationError naming the columns seen."""
    from streamwidgets.exceptions import ConfigurationError

    async with HydraAttackServer(token=TOKEN) as server:
        w = StreamWidget(feeds.hydra(server.url, token=TOKEN), streams=["markets"])
        try:
            await server.wait_subscribed("markets", 10)
            for i in range(5):
                await server.push(
                    "markets", "market_update", {"symbol": "AB"[i % 2], "price": 1.0 + i}
                )
            await asyncio.sleep(1)
            with pytest.raises(ConfigurationError) as info:
                w.chart("price", stream="markets", by="isin")
            assert "data.symbol" in str(info.value) or "symbol" in str(info.value)
            assert w.chart("price", stream="markets", by="symbol").endswith("|data.symbol")
            keys = [k for f in w.fields for k in f.get("keys", [])]
            assert "data.symbol" in keys, w.fields
        finally:
            w.close()
