"""A plain Pusher app: an app key and a cluster or host (Pusher Channels, soketi, Laravel Reverb).

The protocol is :class:`~streamwidgets.dialects.pusher.channels.PusherProtocol`, shared
with the session-bootstrap feed (:mod:`streamwidgets.dialects.pusher.session_feed`); this
module adds where the socket is, the app's own auth endpoints and the sign-in.

Facts, from Pusher's public documentation (pusher.com/docs/channels):

- "Pusher Channels Protocol": the socket is ``ws[s]://ws-{cluster}.pusher.com:
  {port}/app/{key}?protocol=7&client=...&version=...``; ports 443 (``wss``) or 80
  (``ws``). Self-hosted servers (soketi, Laravel Reverb) serve the same path on their
  own host and port (pusher-js's ``wsHost``, ``wsPort``, ``forceTLS``).
- "Private channels", "Presence channels", "Authorizing users": a ``private-`` or
  ``presence-`` channel needs a signature from the app's own endpoint (see
  :mod:`streamwidgets.dialects.pusher.endpoints`); ``private-encrypted-`` channels are
  also end-to-end encrypted, which this feed does not decrypt, so it refuses them.
- "Authorized connections": an app may require every connection to sign in or join a
  private or presence channel; the server closes one that does not, after a timeout,
  with 4009 (its reason: "Connection not authorized within timeout"). The protocol has
  no message asking for a sign-in: that close is how a server asks for it.
- "User authentication": a sign-in is ``pusher:signin {auth, user_data}``, signed by the
  app's user-authentication endpoint.
- "Channel naming conventions" (Pusher's support pages): at most 164 characters of
  letters, digits and ``_ - = @ , . ;``.

Choices where the documents are silent:

- Streams are channel names; the server lists none, so any valid name may be asked for.
- With ``user_auth_endpoint=``, every connection signs in, before its first
  subscriptions go out (a connection without any stream subscribes to nothing, so it
  does not sign in either). Without it, a 4009 says how to give one.
- The auth endpoints: a transient failure (unreachable, timeout, 5xx) ends the socket and
  the connection reconnects with its backoff, the subscriptions kept: the signature is
  fetched again for the next socket (a signature holds only for its own socket id). A
  refusal (401, 403), a redirect, another 4xx, or a refused sign-in stops the connection,
  saying why. (The session feed instead refuses only the stream whose channel auth
  failed; there the catalog says which streams need one.)
- The auth headers go only to the auth endpoints' URLs as named; an ``http://``
  endpoint beside a TLS socket is refused unless ``allow_insecure=True``: the headers
  (and the signatures) would travel in clear while the socket is protected.
- 4000 ("the app accepts only TLS connections") stops and says to pass ``tls=True``.

Example:
    >>> feed = PusherAppDialect("app-key", cluster="eu")
    >>> feed.target().display_url.split("?")[0]
    'wss://ws-eu.pusher.com:443/app/app-key'
    >>> PusherAppDialect("app-key", host="127.0.0.1", port=6001, tls=False).describe()["url"]
    'ws://127.0.0.1:6001/app/app-key'
"""

from __future__ import annotations

import ipaddress
import re
from collections.abc import Mapping, Sequence
from typing import Any
from urllib.parse import urlsplit

from streamwidgets._util import checks
from streamwidgets._util.jsonutil import dumps
from streamwidgets._util.secret import Secret, redact_url
from streamwidgets.connection.dialect import (
    CloseAction,
    CloseDecision,
    ConnectTarget,
    Outgoing,
    require_names,
)
from streamwidgets.dialects._config import require_seconds
from streamwidgets.dialects.pusher.channels import (
    ChannelAuth,
    PusherProtocol,
    bare_signature,
    socket_url,
)
from streamwidgets.dialects.pusher.endpoints import (
    AuthEndpoint,
    UserAuth,
    authenticate_user,
    authorize_channel,
)
from streamwidgets.exceptions import ConfigurationError, ConnectionFailed, StreamError

__all__ = ["PusherAppDialect"]

_KEY = re.compile(r"[A-Za-z0-9._~-]{1,200}")
_CLUSTER = re.compile(r"[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?")
_CHANNEL = re.compile(r"[A-Za-z0-9_\-=@,.;]{1,164}")
_LABEL = r"[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?"
_HOST_NAME = re.compile(rf"(?=.{{1,253}}\Z){_LABEL}(?:\.{_LABEL})*")


class PusherAppDialect(PusherProtocol):
    """Speak to a plain Pusher app: public, private and presence channels, and sign-in.

    Args:
        key: the app key (public: every browser client holds it).
        cluster: the Pusher cluster (``"mt1"``, ``"eu"``...): the socket goes to
            ``ws-{cluster}.pusher.com``. Give it or ``host``, not both.
        host: the server's host name or IP address (soketi, Laravel Reverb...).
        port: the TCP port, 1-65535 (default 443 with TLS, 80 without).
        tls: ``wss://`` (default) or ``ws://``.
        auth_endpoint: the app's channel-authorization URL (``http(s)://``), needed for
            ``private-`` and ``presence-`` channels.
        auth_headers: header name -> value sent to the auth endpoints only (a cookie, a
            Bearer token); kept secret.
        user_auth_endpoint: the app's user-authentication URL; given, every connection
            signs in (``pusher:signin``).
        activity_timeout: seconds of silence before the client pings (the server's value
            wins when lower).
        pong_timeout: seconds after that ping before the connection is declared dead.
        auth_timeout: seconds for one auth endpoint request.
        reconnect_delay: the least wait after a 4100-4199 or 4300-4399 close, in seconds.
        max_members: presence members kept per channel.
        allow_insecure: accept an ``http://`` auth endpoint beside a TLS socket.

    Raises:
        ConfigurationError: a bad argument (no key, both or neither of cluster and host,
            a port out of range, an auth endpoint that is no URL...), naming it.

    Example:
        >>> feed = PusherAppDialect("k", host="ws.example.com", auth_endpoint=
        ...     "https://example.com/pusher/auth", auth_headers={"Cookie": "session=abc"})
        >>> feed.describe()["url"], feed.describe()["auth_endpoint"]
        ('wss://ws.example.com:443/app/k', 'https://example.com/pusher/auth')
        >>> feed.secrets()
        [Secret('***')]
    """

    name = "pusher-app"

    def __init__(
        self,
        key: str,
        *,
        cluster: str | None = None,
        host: str | None = None,
        port: int | None = None,
        tls: bool = True,
        auth_endpoint: str | None = None,
        auth_headers: Mapping[str, str | Secret] | None = None,
        user_auth_endpoint: str | None = None,
        # Timeouts
        activity_timeout: float = 120.0,
        pong_timeout: float = 30.0,
        auth_timeout: float = 10.0,
        reconnect_delay: float = 1.0,
        # Limits
        max_members: int = 1000,
        # Where secrets may go
        allow_insecure: bool = False,
    ) -> None:
        super().__init__(
            activity_timeout=activity_timeout,
            pong_timeout=pong_timeout,
            reconnect_delay=reconnect_delay,
            max_members=max_members,
        )
        require_seconds(auth_timeout=auth_timeout)
        self.key = _check_key(key)
        self.tls = checks.flag("tls", tls)
        self.host = _check_place(cluster, host)
        default_port = 443 if self.tls else 80
        self.port = _check_port(default_port if port is None else port)
        self.allow_insecure = checks.flag("allow_insecure", allow_insecure)
        self.auth_timeout = float(auth_timeout)
        headers = auth_headers
        if headers and auth_endpoint is None and user_auth_endpoint is None:
            raise ConfigurationError(
                "auth_headers go only to auth_endpoint and user_auth_endpoint: give one of them"
            )
        self.auth = self._endpoint("auth_endpoint", auth_endpoint, headers)
        self.user_auth = self._endpoint("user_auth_endpoint", user_auth_endpoint, headers)
        self.new_session()

    def _endpoint(
        self, what: str, url: str | None, headers: Mapping[str, str | Secret] | None
    ) -> AuthEndpoint | None:
        if url is None:
            return None
        checks.endpoint(what, url, schemes=("http", "https"))
        if self.tls and urlsplit(url).scheme == "http" and not self.allow_insecure:
            raise ConfigurationError(
                f"{what} is http:// ({redact_url(url)!r}) while the socket uses TLS: the auth "
                "headers and signatures would travel in clear; use https://, or pass "
                "allow_insecure=True to accept it"
            )
        return AuthEndpoint(url, headers, self.auth_timeout)

    def reset(self) -> None:
        if self._user_auth is not None:  # still masked after this socket (see _spent)
            self._spent.append(self._user_auth.auth)
        super().reset()

    def _protocol_state(self) -> None:
        super()._protocol_state()
        self._user_auth: UserAuth | None = None
        self._signin_sent = False

    # Session ------------------------------------------------------------------

    def secrets(self) -> list[Secret]:
        out: list[Secret] = []
        for endpoint in (self.auth, self.user_auth):
            if endpoint is not None:
                out.extend(endpoint.secrets())
        out.extend(self.signature_secrets())
        if self._user_auth is not None:
            out.append(self._user_auth.auth)
            out.extend(bare_signature(self._user_auth.auth))
        return out

    def target(self) -> ConnectTarget:
        url = socket_url(tls=self.tls, host=self.host, port=self.port, key=self.key)
        # The app key is public in Pusher (every browser client holds it).
        return ConnectTarget(url=url, display_url=url)

    @property
    def unauthorized_hint(self) -> str:  # type: ignore[override]
        if self.user_auth is not None:
            return "the server refused this connection's authorization; check user_auth_endpoint"
        return (
            "the app may require authorized connections: give user_auth_endpoint= (a "
            "sign-in), or subscribe to a private or presence channel"
        )

    # Subscriptions ------------------------------------------------------------

    def check_streams(self, streams: Sequence[str]) -> None:
        """Channel names as Pusher allows them; private and presence need ``auth_endpoint``.

        Example:
            >>> PusherAppDialect("k", cluster="eu").check_streams(["private-orders"])
            Traceback (most recent call last):
            ...
            streamwidgets.exceptions.ConfigurationError: channel 'private-orders' needs ...
        """
        require_names(streams, noun="channel")
        for channel in streams:
            if not _CHANNEL.fullmatch(channel):
                raise ConfigurationError(
                    f"{channel!r} is not a Pusher channel name: at most 164 letters, digits "
                    "and _ - = @ , . ;"
                )
            if channel.startswith("private-encrypted-"):
                raise ConfigurationError(
                    f"channel {channel!r} is end-to-end encrypted, which this feed does not decrypt"
                )
            if self.needs_auth(channel, channel) and self.auth is None:
                raise ConfigurationError(
                    f"channel {channel!r} needs channel authorization: pass auth_endpoint= "
                    "(the app's URL that signs subscriptions, e.g. https://your.app/pusher/auth)"
                )

    async def authorize(self, streams: Sequence[str]) -> dict[str, str]:
        """Sign in (with ``user_auth_endpoint``), then sign the private and presence channels.

        A failure ends the socket, to reconnect (transient) or stop (refused), as the
        module docstring says; nothing is refused stream by stream.
        """
        if (
            self.user_auth is not None
            and self._user_auth is None
            and self.socket_id is not None
            and self._ending is None
        ):
            try:
                self._user_auth = await authenticate_user(self.user_auth, self.socket_id)
            except (ConnectionFailed, ConfigurationError) as exc:
                self.end_socket(exc)
                return {}
        return await super().authorize(streams)

    async def sign(self, channel: str) -> ChannelAuth:
        assert self.auth is not None and self.socket_id is not None  # check_streams, authorize
        return await authorize_channel(self.auth, self.socket_id, channel)

    def auth_failed(self, stream: str, error: StreamError) -> str | None:
        self.end_socket(error)
        return None

    def before_subscribe(self) -> list[Outgoing]:
        signed = self._user_auth
        if signed is None or self._signin_sent:
            return []
        self._signin_sent = True
        self._signin_waiting = True
        data = {"auth": signed.auth.reveal(), "user_data": signed.user_data}
        return [Outgoing(dumps({"event": "pusher:signin", "data": data}))]

    # Liveness and closing -----------------------------------------------------

    def on_close(self, code: int | None, reason: str) -> CloseDecision:
        if code == 4000 and not self.tls:
            said = f" (4000{': ' + reason if reason else ''})"
            return CloseDecision(
                CloseAction.STOP, f"the app accepts only TLS connections{said}; pass tls=True"
            )
        return super().on_close(code, reason)

    def describe(self) -> dict[str, Any]:
        facts: dict[str, Any] = {"dialect": self.name, "url": self._shown_url()}
        for what, endpoint in (
            ("auth_endpoint", self.auth),
            ("user_auth_endpoint", self.user_auth),
        ):
            if endpoint is not None:
                facts[what] = redact_url(endpoint.url)
        return facts

    def replay_config(self) -> dict[str, Any] | None:
        """The options that rebuild a copy to parse a recording: where the socket was and
        ``max_members``. None of it is secret (the app key is public in Pusher); the auth
        endpoints, headers and signatures are left out: parsing needs none of them."""
        return {
            "key": self.key,
            "host": self.host,
            "port": self.port,
            "tls": self.tls,
            "max_members": self.max_members,
        }

    @classmethod
    def parse_only(cls, config: Mapping[str, Any]) -> PusherAppDialect:
        """A copy that parses a recording of this app, from its :meth:`replay_config`: it
        needs no auth endpoint, since what was signed is in the recorded frames.

        Example:
            >>> PusherAppDialect.parse_only({"key": "app-key", "cluster": "eu"}).key
            'app-key'
        """
        return cls(**dict(config))

    def _shown_url(self) -> str:
        return socket_url(tls=self.tls, host=self.host, port=self.port, key=self.key).split("?")[0]


def _check_key(key: Any) -> str:
    if not isinstance(key, str):
        raise checks.ArgumentTypeError(f"key must be the app key, a string, got {key!r}")
    if not _KEY.fullmatch(key):
        raise ConfigurationError(
            "key must be the app key: 1-200 letters, digits and . _ ~ - (it goes in the "
            f"socket's path), got {key!r}"
        )
    return key


def _check_port(port: Any) -> int:
    checked = checks.count("port", port, maximum=65535)
    assert checked is not None
    return checked


def _check_place(cluster: Any, host: Any) -> str:
    """The socket's host: ``ws-{cluster}.pusher.com``, or ``host`` as given."""
    if (cluster is None) == (host is None):
        raise ConfigurationError(
            "give cluster= (Pusher Channels, e.g. 'mt1') or host= (a self-hosted server), "
            + ("not both" if cluster is not None else "got neither")
        )
    if cluster is not None:
        if not isinstance(cluster, str) or not _CLUSTER.fullmatch(cluster):
            raise ConfigurationError(
                f"cluster must be a Pusher cluster name such as 'mt1' or 'eu', got {cluster!r}"
            )
        return f"ws-{cluster}.pusher.com"
    if not isinstance(host, str):
        raise checks.ArgumentTypeError(f"host must be a host name or IP address, got {host!r}")
    bare = host[1:-1] if host.startswith("[") and host.endswith("]") else host
    try:
        return str(ipaddress.ip_address(bare))
    except ValueError:
        pass
    if not _HOST_NAME.fullmatch(host):
        raise ConfigurationError(
            f"host must be a host name or IP address alone (no scheme, port or path: give "
            f"the port as port= and TLS as tls=), got {redact_url(host)!r}"
        )
    return host.lower()
