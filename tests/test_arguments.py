"""Absurd arguments get a clear error at once: it names the argument, the value and what
is allowed, before anything connects (no 30 s wait for a TimeoutError with no message)."""

from __future__ import annotations

import math
import time

import pytest

import streamwidgets
from streamwidgets import ConfigurationError, StreamWidget, feeds
from tests.support.comms import RecordingComm  # noqa: F401 (the recorded fixture's comm)

NAN, INF = float("nan"), float("inf")
URL = "ws://127.0.0.1:9/stream"
HYDRA = {"token": "t.t.t"}


def hydra():
    return feeds.hydra(URL, **HYDRA)


# (what is called, keyword arguments, words the message must hold)
CONNECTION = [
    ({"open_timeout": NAN}, ["open_timeout", "nan"]),
    ({"open_timeout": INF}, ["open_timeout", "inf"]),
    ({"open_timeout": 0}, ["open_timeout", "0"]),
    ({"open_timeout": -1}, ["open_timeout", "-1"]),
    ({"open_timeout": 1e12}, ["open_timeout", "1000000000000.0", "at most 86400"]),
    ({"open_timeout": "5"}, ["open_timeout", "'5'"]),
    ({"request_timeout": NAN}, ["request_timeout", "nan"]),
    ({"request_timeout": 1e12}, ["request_timeout"]),
    ({"healthy_after": -0.5}, ["healthy_after", "-0.5"]),
    ({"give_up_after": NAN}, ["give_up_after", "nan"]),
    ({"give_up_after": 0}, ["give_up_after"]),
    ({"give_up_after": 1e12}, ["give_up_after"]),
    ({"max_attempts": 0}, ["max_attempts", "0"]),
    ({"max_attempts": 2.5}, ["max_attempts", "2.5"]),
    ({"max_attempts": True}, ["max_attempts", "True"]),
    ({"max_frame_bytes": 10**12}, ["max_frame_bytes", "1000000000000"]),
    ({"max_frame_bytes": 10}, ["max_frame_bytes", "10"]),
    ({"read_bytes": 10**9}, ["read_bytes"]),
    ({"yield_every": 0}, ["yield_every"]),
    ({"keep_rejected": -1}, ["keep_rejected"]),
    ({"streams": None}, ["streams", "None"]),
    ({"streams": "signals"}, ["streams", "one string"]),
    ({"streams": ["signals", ""]}, ["names", "''"]),
    ({"streams": [1]}, ["names", "1"]),
]

OPEN_ONLY = [
    ({"connect_timeout": 0}, ["connect_timeout", "0"]),
    ({"connect_timeout": -1}, ["connect_timeout", "-1"]),
    ({"connect_timeout": NAN}, ["connect_timeout", "nan"]),
    ({"queue_size": 0}, ["queue_size", "0"]),
    ({"queue_size": 10**12}, ["queue_size"]),
    ({"on_overflow": "ignore"}, ["on_overflow", "'ignore'", "drop_oldest"]),
    ({"max_rows": 10**12}, ["max_rows", "50,000,000"]),
    ({"max_rows": 0}, ["max_rows", "0"]),
    ({"max_rows": NAN}, ["max_rows", "nan"]),
    ({"window": 1e12}, ["window"]),
    ({"window": NAN}, ["window", "nan"]),
]

WIDGET_ONLY = [
    ({"max_rows": 10**12}, ["max_rows"]),
    ({"update_hz": NAN}, ["update_hz"]),
    ({"update_hz": 0}, ["update_hz"]),
    ({"max_points": 10**9}, ["max_points"]),
    ({"recent": -1}, ["recent"]),
]

FEEDS = [
    (lambda: feeds.hydra(URL, token=""), ["token", "empty"]),
    (lambda: feeds.hydra(URL, token=None), ["token", "NoneType"]),
    (lambda: feeds.hydra(URL, token="t", heartbeat_interval=NAN), ["heartbeat_interval", "nan"]),
    (lambda: feeds.hydra(URL, token="t", heartbeat_interval=INF), ["heartbeat_interval", "inf"]),
    (lambda: feeds.hydra(URL, token="t", missed_heartbeats=0), ["missed_heartbeats", "0"]),
    (lambda: feeds.hydra(URL, token="t", rate_limit_backoff=-1), ["rate_limit_backoff", "-1"]),
    (lambda: feeds.hydra(URL, token="t", time_unit="days"), ["time_unit", "'days'"]),
    (lambda: feeds.hydra("ws://127.0.0.1:0/stream", token="t"), ["port", ":0/"]),
    (lambda: feeds.hydra("ws://127.0.0.1:99999/stream", token="t"), ["port", "99999"]),
    (lambda: feeds.hydra("ws:///stream", token="t"), ["no host"]),
    (lambda: feeds.hydra("http://h/stream", token="t"), ["ws://", "http://h/stream"]),
    (lambda: feeds.hydra(12, token="t"), ["URL", "12"]),
    (lambda: feeds.hydra_v1(URL, api_key=""), ["api_key", "empty"]),
    (lambda: feeds.hydra_v1(URL, api_key="k", ping_timeout=NAN), ["ping_timeout", "nan"]),
    (lambda: feeds.hydra_v1(URL, api_key="k", snapshot="no"), ["snapshot", "'no'"]),
    (lambda: feeds.hydra_v1("ws://h:99999/v1", api_key="k"), ["port", "99999"]),
    (lambda: feeds.axol(URL, api_key=""), ["api_key", "empty"]),
    (lambda: feeds.axol(URL, api_key="k", ping_interval=NAN), ["ping_interval", "nan"]),
    (lambda: feeds.axol(URL, api_key="k", missed_pongs=2.5), ["missed_pongs", "2.5"]),
    (lambda: feeds.axol(URL, api_key="k", rest_url="http://h:0"), ["rest_url", "port"]),
    (lambda: feeds.pusher("http://h", token=""), ["token", "empty"]),
    (lambda: feeds.pusher("http://h", token="t", rest_timeout=1e12), ["rest_timeout"]),
    (lambda: feeds.pusher("http://h:99999", token="t"), ["base_url", "port"]),
    (lambda: feeds.pusher("http://h", token="t", ws_hosts="h"), ["ws_hosts", "'h'"]),
    (lambda: feeds.hyperoru(URL, session_token=""), ["session_token", "empty"]),
    (lambda: feeds.hyperoru(URL, session_token="t", ping_interval=INF), ["ping_interval"]),
    (lambda: feeds.hyperoru(URL, session_token="t", max_pending=0), ["max_pending", "0"]),
    (lambda: feeds.generic("ws://h:0/x"), ["port"]),
]


def check(error: Exception, words: list[str]) -> None:
    assert isinstance(error, ConfigurationError), repr(error)
    text = str(error)
    for word in words:
        assert word in text, (word, text)


@pytest.mark.parametrize(("options", "words"), CONNECTION + OPEN_ONLY)
def test_open_refuses_absurd_arguments_at_once(options, words):
    """streamwidgets.open(...) and Connection(...) options."""
    began = time.monotonic()
    with pytest.raises(ConfigurationError) as error:
        streamwidgets.open(hydra(), **options)
    assert time.monotonic() - began < 0.5
    check(error.value, words)


@pytest.mark.parametrize(("options", "words"), CONNECTION + WIDGET_ONLY)
async def test_the_widget_refuses_absurd_arguments_at_once(recorded, options, words):
    """StreamWidget(feed, ...) options, before any socket or comm exists."""
    with pytest.raises(ConfigurationError) as error:
        recorded.append(StreamWidget(hydra(), **options))
    check(error.value, words)


@pytest.mark.parametrize(("make", "words"), FEEDS)
def test_feeds_refuse_absurd_arguments_at_once(make, words):
    """feeds.*(...): durations, counts, flags, URLs (host, port 1-65535), credentials."""
    with pytest.raises(ConfigurationError) as error:
        make()
    check(error.value, words)


def test_credentials_are_never_echoed_in_argument_errors():
    """A credential of the wrong kind is named by its type, never shown."""
    with pytest.raises(ConfigurationError) as error:
        feeds.hydra(URL, token=b"s3cr3t-bytes-token")
    assert "s3cr3t" not in str(error.value) and "bytes" in str(error.value)


def test_bounds_are_generous_for_real_use():
    """Real settings pass: a day-long timeout, 50 million rows, a 1 GiB frame, a year."""
    stream = streamwidgets.open(
        hydra(),
        open_timeout=86_400,
        max_rows=50_000_000,
        max_frame_bytes=2**30,
        give_up_after=365 * 86_400,
        connect_timeout=math.pi,
    )
    assert stream.connection.give_up_after == 365 * 86_400
