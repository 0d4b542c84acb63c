"""A plain Pusher app (feeds.pusher_app) without sockets: socket URLs, arguments, close codes."""

from __future__ import annotations

import pytest

from streamwidgets import ConfigurationError, Connection, feeds
from streamwidgets.connection.dialect import CloseAction
from tests.support.feed_inputs import PUSHER_APP_HEADERS as HEADERS
from tests.support.feed_inputs import PUSHER_APP_KEY as KEY
from tests.support.feed_inputs import PUSHER_APP_TOKEN as TOKEN

# -- the feed alone, no network -------------------------------------------------------------


def test_the_socket_url_comes_from_the_cluster_or_the_host_port_and_tls():
    """Pusher's documented URL: ws-{cluster}.pusher.com, 443 with TLS, 80 without."""
    assert (
        feeds.pusher_app(KEY, cluster="mt1")
        .target()
        .url.startswith(
            f"wss://ws-mt1.pusher.com:443/app/{KEY}?protocol=7&client=streamwidgets&version="
        )
    )
    assert feeds.pusher_app(KEY, cluster="eu", tls=False).describe()["url"] == (
        f"ws://ws-eu.pusher.com:80/app/{KEY}"
    )
    reverb = feeds.pusher_app(KEY, host="Reverb.Example.com", port=8080)
    assert reverb.describe()["url"] == f"wss://reverb.example.com:8080/app/{KEY}"
    assert (
        feeds.pusher_app(KEY, host="::1", port=6001, tls=False)
        .target()
        .url.startswith(f"ws://[::1]:6001/app/{KEY}?")
    )
    assert reverb.target().headers == {}  # the auth headers never go to the socket


BAD_ARGUMENTS = [
    ("no key", lambda: feeds.pusher_app("", cluster="eu"), "key"),
    ("key of another type", lambda: feeds.pusher_app(None, cluster="eu"), "key"),
    ("key with a slash", lambda: feeds.pusher_app("a/b", cluster="eu"), "key"),
    ("cluster and host", lambda: feeds.pusher_app(KEY, cluster="eu", host="h"), "not both"),
    ("neither cluster nor host", lambda: feeds.pusher_app(KEY), "got neither"),
    ("a cluster that is no name", lambda: feeds.pusher_app(KEY, cluster="eu 1"), "cluster"),
    ("a URL as host", lambda: feeds.pusher_app(KEY, host="wss://h.example.com"), "host"),
    ("a port in the host", lambda: feeds.pusher_app(KEY, host="h.example.com:6001"), "port="),
    ("port 0", lambda: feeds.pusher_app(KEY, host="h", port=0), "port"),
    ("port 65536", lambda: feeds.pusher_app(KEY, host="h", port=65536), "port"),
    ("port True", lambda: feeds.pusher_app(KEY, host="h", port=True), "port"),
    ("tls 'yes'", lambda: feeds.pusher_app(KEY, host="h", tls="yes"), "tls"),
    (
        "an auth endpoint that is no http URL",
        lambda: feeds.pusher_app(KEY, host="h", auth_endpoint="ftp://h/auth"),
        "auth_endpoint",
    ),
    (
        "an http auth endpoint beside a TLS socket",
        lambda: feeds.pusher_app(KEY, host="h", auth_endpoint="http://h/pusher/auth"),
        "allow_insecure=True",
    ),
    (
        "an http user-auth endpoint beside a TLS socket",
        lambda: feeds.pusher_app(KEY, host="h", user_auth_endpoint="http://h/pusher/user-auth"),
        "user_auth_endpoint",
    ),
    (
        "auth headers without an endpoint",
        lambda: feeds.pusher_app(KEY, host="h", auth_headers=HEADERS),
        "auth_headers",
    ),
    (
        "a header name with a space",
        lambda: feeds.pusher_app(
            KEY, host="h", auth_endpoint="https://h/a", auth_headers={"X Token": TOKEN}
        ),
        "auth_headers",
    ),
    (
        "a header value with a line break",
        lambda: feeds.pusher_app(
            KEY, host="h", auth_endpoint="https://h/a", auth_headers={"Cookie": TOKEN + "\n"}
        ),
        "auth_headers",
    ),
    (
        "auth_timeout NaN",
        lambda: feeds.pusher_app(KEY, host="h", auth_timeout=float("nan")),
        "auth_timeout",
    ),
    (
        "a private channel without an auth endpoint",
        lambda: Connection(feeds.pusher_app(KEY, host="h"), streams=["private-orders"]),
        "auth_endpoint=",
    ),
    (
        "an end-to-end encrypted channel",
        lambda: Connection(
            feeds.pusher_app(KEY, host="h", auth_endpoint="https://h/a"),
            streams=["private-encrypted-orders"],
        ),
        "encrypted",
    ),
    (
        "a channel name Pusher does not allow",
        lambda: Connection(feeds.pusher_app(KEY, host="h"), streams=["market prices"]),
        "channel name",
    ),
]


@pytest.mark.parametrize(
    "call,words", [c[1:] for c in BAD_ARGUMENTS], ids=[c[0] for c in BAD_ARGUMENTS]
)
def test_bad_arguments_raise_configuration_error_at_once(call, words):
    """A bad argument raises ConfigurationError naming it, before anything connects, and
    never echoes an auth header."""
    with pytest.raises(ConfigurationError) as info:
        call()
    assert words in str(info.value), str(info.value)
    assert TOKEN not in str(info.value)


def test_an_http_auth_endpoint_beside_tls_needs_the_users_word():
    """allow_insecure=True accepts an http:// endpoint beside wss://; ws:// needs no word."""
    feed = feeds.pusher_app(
        KEY, host="h", auth_endpoint="http://h/pusher/auth", allow_insecure=True
    )
    assert feed.describe()["auth_endpoint"] == "http://h/pusher/auth"
    assert feeds.pusher_app(KEY, host="h", tls=False, auth_endpoint="http://h/a").auth


def test_close_codes_of_every_range_decide_the_same_as_for_the_session_feed():
    """4000-4099 stop (4000: 'pass tls=True'; 4009 says how to authorize), 4100-4199 wait,
    4200-4299 at once, 4300-4399 wait; other codes follow the base rules."""
    plain = feeds.pusher_app(KEY, host="h", tls=False, reconnect_delay=0.5)
    tls_only = plain.on_close(4000, "Application only accepts SSL connections")
    assert tls_only.action is CloseAction.STOP and "pass tls=True" in tls_only.reason
    assert plain.on_close(4001, "App key not in this cluster").action is CloseAction.STOP
    unauthorized = plain.on_close(4009, "Connection not authorized within timeout")
    assert unauthorized.auth_failure and "user_auth_endpoint=" in unauthorized.reason
    slow = plain.on_close(4100, "Over capacity")
    assert slow.action is CloseAction.RECONNECT_SLOW and slow.min_delay == 0.5
    now = plain.on_close(4201, "Pong reply not received")
    assert now.action is CloseAction.RECONNECT and now.max_delay == 0.0
    assert plain.on_close(4301, "").action is CloseAction.RECONNECT_SLOW
    assert plain.on_close(1006, "").action is CloseAction.RECONNECT
