"""The Hydra v1 API-key stream without sockets: scopes, snapshot order, stream names, masking."""

from __future__ import annotations

import pytest

from streamwidgets import feeds
from streamwidgets.dialects.hydra_v1 import HydraV1Dialect
from streamwidgets.events import Welcome
from streamwidgets.exceptions import ConfigurationError, StreamNotAvailable
from tests.support.feed_inputs import HYDRA_V1_KEY as KEY

# -- the dialect alone, no network ---------------------------------------------------------


def test_signals_split_by_category_into_their_scopes():
    """One signal message becomes one event per stream, each with its own signals."""
    d = HydraV1Dialect(api_key=KEY, snapshot=False)
    d.parse('{"type":"connected","data":{"scopes":["signals","cyber"],"ts":1}}', 0)
    frame = (
        '{"type":"signal","data":{"signals":[{"id":"a","category":"CYBER"},'
        '{"id":"b","category":"NAVAL"},{"id":"c","category":"CYBER"}]}}'
    )
    events = d.parse(frame, 0)
    assert [(e.stream, [s["id"] for s in e.data["signals"]]) for e in events] == [
        ("cyber", ["a", "c"]),
        ("signals", ["b"]),
    ]


def test_snapshot_ends_with_online_count_or_out_of_order_type():
    """Rows are snapshot rows until online_count, or until a type breaks the documented order."""
    d = HydraV1Dialect(api_key=KEY)
    welcome = d.parse('{"type":"connected","data":{"scopes":["aircraft"],"ts":1}}', 0)
    assert isinstance(welcome[0], Welcome) and d.in_snapshot
    flags = [
        d.parse(f'{{"type":"{t}","data":{{}}}}', 0)[0].snapshot
        for t in ("vessel", "vessel", "alert", "online_count", "vessel")
    ]
    assert flags == [True, True, True, True, False]
    d.parse('{"type":"connected","data":{"scopes":["aircraft"],"ts":1}}', 0)
    flags = [d.parse(f'{{"type":"{t}","data":{{}}}}', 0)[0].snapshot for t in ("alert", "vessel")]
    assert flags == [True, False]  # vessel comes before alert: the snapshot is over


def test_streams_are_scope_names_and_others_are_refused():
    """check_streams takes scope names (client-side filter) and refuses unknown names clearly."""
    d = HydraV1Dialect(api_key=KEY)
    assert d.supports_subscribe is False
    d.check_streams(["aircraft", "chat", "*"])
    with pytest.raises(StreamNotAvailable, match="nope"):
        d.check_streams(["nope"])
    d.parse('{"type":"connected","data":{"scopes":["aircraft"],"ts":1}}', 0)
    with pytest.raises(StreamNotAvailable, match="vessels"):
        d.check_streams(["vessels"])
    with pytest.raises(ConfigurationError):
        HydraV1Dialect("ws://h/v1/stream?apiKey=x", api_key=KEY)


def test_key_never_shows_in_repr_describe_or_display_url():
    """Whichever way the key travels, reprs and shown URLs hold only ***."""
    for key_in in ("header", "query"):
        d = feeds.hydra_v1("ws://127.0.0.1:9/v1/stream", api_key=KEY, key_in=key_in)
        target = d.target()
        shown = repr(d) + repr(target) + str(d.describe()) + target.display_url
        assert KEY not in shown
        assert (KEY in target.url) is (key_in == "query")
        assert (target.headers.get("x-api-key") == KEY) is (key_in == "header")
    assert d.target().display_url == "ws://127.0.0.1:9/v1/stream?apiKey=***"
