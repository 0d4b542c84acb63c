"""What the badge is made of, kernel side: a heartbeat when nothing else is said, the
events skipped while paused, the final picture close() leaves, and a replay's position,
length and per-recorded-second rates."""

from __future__ import annotations

import asyncio
import gzip
import itertools
from pathlib import Path

import orjson
import pytest

from streamwidgets import StreamWidget, feeds
from streamwidgets.widget import widget as widget_module
from streamwidgets.widget.protocol import Limit, ToBrowser, Trait
from tests.support.recordings import record_live
from tests.support.waiting import eventually, seconds
from tests.support.widgets import customs, make


async def test_a_widget_with_nothing_new_sends_a_heartbeat_every_second(recorded, sim):
    """Nothing to update: one small heartbeat a second, so a view can tell a silent kernel."""
    w = make(recorded, sim)
    await w.wait_async(events=20, timeout=seconds(5))
    assert not customs(w, ToBrowser.HEARTBEAT), "a widget that sends updates needs no heartbeat"
    w._updates.update = lambda *args, **kwargs: None  # from now on, nothing new to say
    began = asyncio.get_running_loop().time()
    await asyncio.sleep(3.5)
    beats = [at for at, _, _ in customs(w, ToBrowser.HEARTBEAT) if at >= began]
    assert 3 <= len(beats) <= 4, beats
    gaps = [b - a for a, b in itertools.pairwise(beats)]
    assert max(gaps) < Limit.HEARTBEAT_SECONDS + 0.5, gaps
    assert all(c == {"kind": ToBrowser.HEARTBEAT} for _, c, _ in customs(w, ToBrowser.HEARTBEAT))


async def test_paused_stats_count_the_events_skipped_in_this_pause(recorded, sim):
    """Paused: skipped_this_pause grows from 0 with the events not buffered; live, it is 0."""
    w = make(recorded, sim)
    await w.wait_async(events=20, timeout=seconds(5))
    assert w.stats["skipped_this_pause"] == 0
    w.pause()
    rows = len(w.df)
    await eventually(lambda: w.stats["skipped_this_pause"] > 50, timeout=seconds(5))
    assert len(w.df) == rows and w.paused and "paused" in repr(w)
    sent = [c["stats"] for _, c, _ in customs(w, ToBrowser.UPDATE) if c["stats"]]
    assert sent[-1]["skipped_this_pause"] > 0, "the views hear the count grow"
    w.resume()
    assert w.stats["skipped_this_pause"] == 0
    before = w.stats["skipped_while_paused"]
    w.pause()  # a second pause counts from zero again
    assert w.stats["skipped_this_pause"] == 0
    assert w.stats["skipped_while_paused"] == before


async def test_close_leaves_a_closed_picture_with_the_last_counters(recorded, sim, monkeypatch):
    """Shown once, closed: its output is updated to a static "closed" card with the
    counters; the comm is released, df stays readable, closing twice changes nothing."""
    shown: list[tuple[dict, str | None]] = []
    updated: list[tuple[dict, str]] = []
    monkeypatch.setattr(
        "IPython.display.display",
        lambda bundle, raw, display_id=None, **_: shown.append((bundle, display_id)),
    )
    monkeypatch.setattr(
        "IPython.display.update_display",
        lambda bundle, raw, display_id: updated.append((bundle, display_id)),
    )
    w = make(recorded, sim)
    w._ipython_display_()
    ((bundle, display_id),) = shown
    assert display_id and bundle["application/vnd.jupyter.widget-view+json"]["model_id"]
    await w.wait_async(events=50, timeout=seconds(5))
    w.close()
    assert w.state == "closed" and w.comm is None and len(w.df) >= 50
    ((picture, where),) = updated
    assert where == display_id
    events = w.stats["events"]
    html = picture["text/html"]
    assert 'data-state="closed"' in html and "closed by the user" in html
    assert f'data-stat="events">{events:,}<' in html and f"{len(w.df):,} rows" in html
    assert "closed" in picture["text/plain"]
    w.close()
    await w.aclose()
    assert len(updated) == 1, "closing twice leaves one picture"
    w._ipython_display_()  # shown again once closed: the picture, not a dead view
    assert 'data-state="closed"' in shown[-1][0]["text/html"] and shown[-1][1] is None


async def test_a_widget_replaced_by_its_cell_leaves_no_picture(recorded, sim, monkeypatch):
    updated: list[str] = []
    monkeypatch.setattr("IPython.display.display", lambda *a, **k: None)
    monkeypatch.setattr(
        "IPython.display.update_display", lambda *a, display_id: updated.append(display_id)
    )
    monkeypatch.setattr(widget_module, "current_cell_id", lambda: "cell-3")
    first = make(recorded, sim)
    first._ipython_display_()
    make(recorded, sim)
    assert first.state == "closed" and first.comm is None and updated == []


def _flat_recording(source: Path, path: Path, *, per_second: int) -> float:
    """``source``'s entries re-timed ``1/per_second`` s apart from a whole second + 0.05 s,
    so the recording ran flat; returns its length in seconds."""
    lines = gzip.decompress(source.read_bytes()).splitlines()
    header, entries = lines[0], [orjson.loads(line) for line in lines[1:]]
    base = (entries[0]["t_ns"] // 10**9 - 3600) * 10**9 + 50_000_000  # an hour before
    step = 10**9 // per_second
    for i, entry in enumerate(entries):
        entry["t_ns"] = base + i * step
    body = b"\n".join([header, *(orjson.dumps(e) for e in entries)]) + b"\n"
    path.write_bytes(gzip.compress(body))
    return (len(entries) - 1) * step / 1e9


@pytest.fixture(scope="module")
def flat(tmp_path_factory):
    """A recording that ran flat at 10 frames per recorded second for about 14 s."""
    folder = tmp_path_factory.mktemp("flat")
    source = folder / "source.jsonl.gz"
    asyncio.run(record_live(source, events=130, rate=400))
    path = folder / "flat.jsonl.gz"
    length = _flat_recording(source, path, per_second=10)
    return path, length


async def test_a_replay_says_where_it_is_and_its_rates_follow_the_recorded_seconds(recorded, flat):
    """At 4x: the playback trait gives speed, position and length in recorded seconds, then
    finished; the events/s entries are per recorded second, flat as the recording ran."""
    path, length = flat
    w = StreamWidget(feeds.replay(path, speed=4.0))
    recorded.append(w)
    seen: list[dict] = []
    w.observe(lambda change: seen.append(dict(change["new"])), names=Trait.PLAYBACK)
    await eventually(lambda: w.playback.get("finished"), timeout=seconds(15))
    await asyncio.sleep(0.3)
    assert w.playback == {
        "speed": 4.0,
        "position": float(int(length)),
        "length": round(length, 1),
        "paused": False,
        "finished": True,
    }
    playing = [s for s in seen if not s["finished"]]
    assert len(playing) >= 2, seen
    positions = [s["position"] for s in playing]
    assert positions == sorted(positions) and 0 <= positions[0] < positions[-1] <= length
    # At most one change a second (4 recorded seconds each at 4x), not one per update.
    assert len(seen) <= length / 4 + 4, seen

    rates = [r for _, c, _ in customs(w, ToBrowser.UPDATE) for r in c["rates"]]
    seconds_seen = [r["t"] / 1000 for r in rates]
    assert seconds_seen == list(range(int(seconds_seen[0]), int(seconds_seen[0]) + len(rates)))
    first_event = w.df["received_at"].iloc[0].timestamp()
    assert int(first_event) == seconds_seen[0], "seconds of the recording, not of the wall clock"
    counts = [sum(r.get("counts", {}).values()) for r in rates]
    # Whole recorded seconds in the middle hold 10 frames' events each: flat, no sawtooth.
    events_per_frame = len(w.df.drop_duplicates("seq")) / max(1, sum(counts))
    assert events_per_frame == 1
    inner = counts[2:-1]
    assert inner and all(n == 10 for n in inner), counts
    assert sum(counts) == len(w.df.drop_duplicates("seq")), "every event counted once"
    # The header's figure is per recorded second too: about 10, not the 40 a second the
    # socket delivered at 4x (a mean over the last seconds of the playback).
    rates_said = [c["stats"]["events_per_second"] for _, c, _ in customs(w, ToBrowser.UPDATE)]
    assert 5 <= max(rates_said) <= 13, rates_said
