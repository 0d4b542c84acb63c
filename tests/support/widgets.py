"""A Hydra simulator fixture for widget tests, and readers of what a widget sent."""

from __future__ import annotations

import numpy as np
import orjson

from streamwidgets import StreamWidget, feeds

STREAMS = ["signals", "markets", "aircraft"]
PRICE = ("markets", "market_update", "data.price")
PRICE_ID = "markets|market_update|data.price"


def make(recorded, sim, **kwargs) -> StreamWidget:
    kwargs.setdefault("streams", STREAMS)
    w = StreamWidget(feeds.hydra(sim.url, token=sim.issue_token()), **kwargs)
    recorded.append(w)
    return w


def customs(w: StreamWidget, kind: str | None = None) -> list[tuple[float, dict, list[bytes]]]:
    out = []
    for at, msg_type, data, buffers in w.comm.sent:
        if msg_type == "comm_msg" and data.get("method") == "custom":
            content = data["content"]
            if kind is None or content["kind"] == kind:
                out.append((at, content, buffers))
    return out


def from_browser(w: StreamWidget, **content) -> None:
    message = {"content": {"data": {"method": "custom", "content": content}}, "buffers": []}
    w.comm.handle_msg(message)


def assert_never_sent(w: StreamWidget, *secrets: str) -> None:
    """None of ``secrets`` is in any comm message (data or binary buffer), trait or the repr."""
    state, shown = str(w.get_state()), repr(w)
    for secret in secrets:
        encoded = secret.encode()
        for _, _, data, buffers in w.comm.sent:
            assert encoded not in orjson.dumps(data, default=str)
            assert all(encoded not in bytes(b) for b in buffers)
        assert secret not in state and secret not in shown


def series_from(messages, series_id: str) -> tuple[np.ndarray, np.ndarray]:
    xs, ys = [], []
    for _, content, buffers in messages:
        for i, entry in enumerate(content.get("series", [])):
            if entry["id"] == series_id:
                xs.append(np.frombuffer(buffers[2 * i], dtype="<f8"))
                ys.append(np.frombuffer(buffers[2 * i + 1], dtype="<f8"))
                assert len(xs[-1]) == entry["n"] == len(ys[-1])
    if not xs:
        return np.empty(0), np.empty(0)
    return np.concatenate(xs), np.concatenate(ys)
