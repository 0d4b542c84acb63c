"""The Pusher-compatible stream with session bootstrap (Pusher Channels protocol 7).

Protocol (from the stream's public document and the public Pusher protocol):

- A Bearer token; no static URL. ``POST /api/v2/ws/session`` answers ``connection
  {wsHost, wsPort, appKey, forceTls}`` and the resolved channels; the socket is
  ``ws[s]://{wsHost}:{wsPort}/app/{appKey}?protocol=7&client=streamwidgets&version=...``.
- Frames ``{event, channel?, data?}``. Server data is a JSON *string* (decoded twice),
  except ``pusher:error``'s ``{message, code}`` object. ``pusher:connection_established``
  gives ``socket_id`` and ``activity_timeout``.
- ``pusher:subscribe {channel, auth?, channel_data?}`` -> ``pusher_internal:
  subscription_succeeded`` (presence: ``{"presence": {ids, hash, count}}``);
  ``pusher:unsubscribe {channel}``; ``pusher_internal:member_added`` / ``member_removed``.
- Presence (user-specific) streams need a channel signature from the auth endpoint.
- ``pusher:ping`` / ``pusher:pong`` either way; close codes 4000-4099 do not reconnect
  (4009 unauthorized), 4100-4199 reconnect after at least 1 s, 4200-4299 at once.
- States shown as Disconnected, Connecting, Connected, Reconnecting, Failed.

Choices where the documents are silent (REST shapes in
:mod:`streamwidgets.dialects.pusher.bootstrap`):

- The catalog is ``GET /api/v2/ws/streams``; each stream names its channel, where
  ``{userId}`` is replaced by the session's ``userId``. The catalog's names are
  :attr:`~PusherDialect.available_streams` (the widget's toggles). The channel auth
  endpoint is ``POST /api/v2/ws/auth`` (Pusher's form ``socket_id=&channel_name=``, with the
  Bearer token); its answer's ``channel_data`` is sent as is, since the signature covers
  that exact string.
- The bootstrap asks for the feed's ``streams=`` (all catalog streams if none are
  given); a stream the session did not resolve takes its channel from the catalog.
  Catalog and bootstrap run again before every connection attempt, so a new host,
  port or app key is followed; a token they refuse (401/403) stops the connection with
  a clear message, with no retry.
- Stream events become :class:`~streamwidgets.events.Event` with ``stream`` = the
  catalog stream of the channel (the channel name itself if unknown) and ``type`` = the
  event name; a ``timestamp`` (epoch ms) in the payload is the event time. Data that is
  a string but not JSON stays a string.
- Presence: ``subscription_succeeded`` gives one ``member`` event per member present
  (``snapshot=True``), then ``member_added`` / ``member_removed`` events; the current
  members are in :attr:`~PusherDialect.members` (at most ``max_members`` per stream).
- Subscriptions: every stream is its own ``pusher:subscribe``, all sent at once, each
  answered by its channel's ``subscription_succeeded`` (or confirmed by its data). A
  refusal refuses that stream only (:class:`~streamwidgets.events.Refused`: a notice, and
  the stream leaves the wanted set); the others go on. Refusals come as
  ``pusher:subscription_error`` or ``pusher_internal:subscription_error`` naming the
  channel (open-source servers), or as ``pusher:error`` (the Pusher service). A
  ``pusher:error`` is always a server notice, never a data row; it refuses the waiting
  subscription whose channel it carries or quotes (Pusher's "Invalid signature: Expected
  HMAC SHA256 hex digest of socket_id:channel..."), else, when it speaks of a signature
  or auth, the oldest waiting signed subscription. A channel-auth refusal rejects the
  stream before anything is sent. A stream the catalog does not offer is refused at
  connect with the catalog's names. Server texts are stripped of the token and
  signatures before they are kept.
- Keepalive: after ``activity_timeout`` seconds without any frame (the lower of the
  server's and ours, 120 s by default), one ``pusher:ping``; if nothing arrives within
  ``pong_timeout`` (30 s) more, the connection is dead and reconnects (like 4201).
  The server's ``pusher:ping`` is answered with ``pusher:pong``.
- Close codes: 4000-4099 stop (4009 as an auth failure); 4100-4199 reconnect waiting at
  least ``reconnect_delay`` (1 s) plus backoff; 4200-4299 reconnect at once (the
  connection's ``max_attempts`` still bounds a server that keeps closing); 4300-4399,
  which Pusher leaves open ("any other error"), reconnect like 4100-4199, where
  pusher-js gives up: a rate limit (4301) passes, the feed is still wanted.
- The ``closed`` state (the user closed the widget) is shown as Disconnected.
- Where the socket goes: the session names ``wsHost``, and channel signatures travel over
  that socket. A ``wsHost`` other than the REST base's host is refused (the connection
  stops, saying so) unless it is among ``ws_hosts``; ``forceTls: false`` after an
  ``https`` bootstrap (a socket in clear) is refused unless ``allow_insecure=True``.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any
from urllib.parse import urlsplit

from streamwidgets._util import checks
from streamwidgets._util.secret import Secret
from streamwidgets.connection.dialect import ConnectTarget, require_names
from streamwidgets.dialects._config import require_seconds
from streamwidgets.dialects.auth import PARSE_ONLY_CREDENTIAL
from streamwidgets.dialects.pusher.bootstrap import (
    Session,
    StreamInfo,
    authorize_channel,
    fetch_catalog,
    open_session,
)
from streamwidgets.dialects.pusher.channels import (
    PUSHER_STATE_LABELS,
    ChannelAuth,
    PusherProtocol,
    close_decision,
    socket_url,
)
from streamwidgets.exceptions import (
    AuthenticationFailed,
    ConfigurationError,
    StreamError,
    StreamNotAvailable,
)

__all__ = ["PUSHER_STATE_LABELS", "PusherDialect", "close_decision"]


class PusherDialect(PusherProtocol):
    """Speak the Pusher-compatible stream: bootstrap over REST, then Pusher protocol 7.

    The protocol itself (frames, subscriptions, presence, keepalive, close codes) is
    :class:`~streamwidgets.dialects.pusher.channels.PusherProtocol`, shared with
    :mod:`streamwidgets.dialects.pusher.app`.

    Args:
        base_url: the REST base (``https://...``) of the catalog, session and auth calls.
        token: the Bearer token, kept in a :class:`~streamwidgets._util.secret.Secret`.
        streams: the streams the session bootstrap asks for (None: every catalog stream).
        activity_timeout: seconds of silence before the client pings (the server's value
            wins when lower).
        pong_timeout: seconds after that ping before the connection is declared dead.
        rest_timeout: seconds for one REST call.
        reconnect_delay: the least wait after a 4100-4399 close.
        max_members: presence members kept per stream.
        ws_hosts: hosts besides the REST base's that the session may send the socket to.
        allow_insecure: accept ``forceTls: false`` (``ws://``) after an ``https`` bootstrap.

    Example:
        >>> d = PusherDialect("http://127.0.0.1:9", token="tok", streams=["prices"])
        >>> d.describe()
        {'dialect': 'pusher', 'url': 'http://127.0.0.1:9', 'streams': ['prices']}
        >>> frame = '{"event":"price_update","channel":"market-prices","data":"{\\\\"p\\\\":1}"}'
        >>> event = d.parse(frame, 0)[0]
        >>> event.stream, event.type, event.data
        ('market-prices', 'price_update', {'p': 1})
    """

    name = "pusher"

    def __init__(
        self,
        base_url: str,
        *,
        token: str | Secret,
        streams: Sequence[str] | None = None,
        # Timeouts
        activity_timeout: float = 120.0,
        pong_timeout: float = 30.0,
        rest_timeout: float = 10.0,
        reconnect_delay: float = 1.0,
        # Limits
        max_members: int = 1000,
        # Where the socket may go
        ws_hosts: Sequence[str] = (),
        allow_insecure: bool = False,
    ) -> None:
        checks.endpoint("base_url", base_url, schemes=("http", "https"))
        if not isinstance(base_url, str) or urlsplit(base_url).scheme not in ("http", "https"):
            raise ConfigurationError(f"base_url starts with http:// or https://, got {base_url!r}")
        if streams is not None and (
            isinstance(streams, str) or not all(isinstance(s, str) and s for s in streams)
        ):
            raise ConfigurationError(f"streams must be a list of names, got {streams!r}")
        require_seconds(
            activity_timeout=activity_timeout,
            pong_timeout=pong_timeout,
            rest_timeout=rest_timeout,
            reconnect_delay=reconnect_delay,
        )
        super().__init__(
            activity_timeout=activity_timeout,
            pong_timeout=pong_timeout,
            reconnect_delay=reconnect_delay,
            max_members=max_members,
        )
        if isinstance(ws_hosts, str) or not all(isinstance(h, str) and h for h in ws_hosts):
            raise ConfigurationError(f"ws_hosts must be a list of host names, got {ws_hosts!r}")
        if not isinstance(allow_insecure, bool):
            raise ConfigurationError(
                f"allow_insecure must be True or False, got {allow_insecure!r}"
            )
        self.ws_hosts = tuple(h.lower() for h in ws_hosts)
        self.allow_insecure = allow_insecure
        self.token = checks.credential("token", token)
        self.base_url = base_url.rstrip("/")
        self.streams = list(dict.fromkeys(streams)) if streams is not None else None
        self.rest_timeout = float(rest_timeout)
        self._parse_only = False  # a copy made by parse_only(): no REST call, ever
        self.new_session()

    def new_session(self) -> None:
        super().new_session()
        if not self._parse_only:  # a parse-only copy's catalog is its configuration
            #: The stream catalog, by name (read before every connection attempt).
            self.catalog: dict[str, StreamInfo] = {}
        #: The current session (None before the first bootstrap).
        self.session: Session | None = None
        #: How many session bootstraps this connection made.
        self.bootstraps = 0

    @classmethod
    def parse_only(
        cls, config: Mapping[str, Any], *, token: str = PARSE_ONLY_CREDENTIAL
    ) -> PusherDialect:
        """A copy that parses what a live session received, from its :meth:`replay_config`.

        It knows the catalog and the channel -> stream mapping the live session resolved,
        so it needs no REST call: its :meth:`prepare` and :meth:`authorize` do nothing.
        ``token`` is a placeholder the copy never sends anywhere (a fixed one by default).

        Example:
            >>> live = PusherDialect("http://127.0.0.1:9", token="tok", streams=["portfolio"])
            >>> live.catalog = {"portfolio": StreamInfo("portfolio", "presence",
            ...                                          "presence-portfolio-{userId}")}
            >>> live._streams_of = {"presence-portfolio-u1": "portfolio"}
            >>> copy = PusherDialect.parse_only(live.replay_config(), token="unused")
            >>> frame = '{"event":"balance_update","channel":"presence-portfolio-u1","data":"{}"}'
            >>> copy.parse(frame, 0)[0].stream, copy.replay_config() == live.replay_config()
            ('portfolio', True)
        """
        copy = cls(
            config["base_url"],
            token=token,
            streams=config.get("streams"),
            max_members=int(config.get("max_members", 1000)),
        )
        copy._parse_only = True
        copy.catalog = {
            str(name): StreamInfo(str(name), str(info["type"]), str(info["channel"]))
            for name, info in dict(config.get("catalog") or {}).items()
        }
        copy._streams_of = {
            str(channel): str(stream)
            for channel, stream in dict(config.get("channels") or {}).items()
        }
        return copy

    # Session ------------------------------------------------------------------

    def secrets(self) -> list[Secret]:
        return [self.token, *self.signature_secrets()]

    async def prepare(self) -> None:
        """Read the catalog and bootstrap a session (again before every attempt).

        A :meth:`parse_only` copy does nothing here: it calls no REST endpoint.
        """
        if self._parse_only:
            return
        catalog = await fetch_catalog(self.token, self.base_url, timeout=self.rest_timeout)
        self.catalog = {s.name: s for s in catalog}
        wanted = self.streams if self.streams is not None else list(self.catalog)
        self.bootstraps += 1
        self.session = await open_session(
            self.token, self.base_url, wanted, timeout=self.rest_timeout
        )
        self._streams_of = {self.channel_of(s): s for s in self.catalog}
        self._streams_of.update({c: s for s, c in self.session.channels.items()})

    def target(self) -> ConnectTarget:
        session = self.session
        if session is None:
            raise ConfigurationError("no session yet: the connection calls prepare() first")
        self._check_destination(session)
        url = socket_url(
            tls=session.force_tls, host=session.ws_host, port=session.ws_port, key=session.app_key
        )
        # The app key is public in Pusher (every browser client holds it).
        return ConnectTarget(url=url, display_url=url)

    def _check_destination(self, session: Session) -> None:
        rest = urlsplit(self.base_url)
        host = session.ws_host.lower()
        if host != (rest.hostname or "") and host not in self.ws_hosts:
            raise ConfigurationError(
                f"the session sends the socket to {host!r}, not to the REST host "
                f"{rest.hostname!r}; channel signatures would go there: if you trust it, "
                f"pass ws_hosts=[{host!r}]"
            )
        if rest.scheme == "https" and not session.force_tls and not self.allow_insecure:
            raise ConfigurationError(
                "the session asks for an unencrypted socket (forceTls: false) after an https "
                "bootstrap; channel signatures would travel in clear: pass "
                "allow_insecure=True to accept it"
            )

    def channel_of(self, stream: str) -> str:
        """The channel of a stream: the session's, else the catalog's template, else its name.

        Example:
            >>> PusherDialect("http://h", token="t").channel_of("prices")
            'prices'
        """
        session = self.session
        if session is not None and stream in session.channels:
            return session.channels[stream]
        info = self.catalog.get(stream)
        if info is None:
            return stream
        user = session.user_id if session is not None and session.user_id else "me"
        return info.channel.replace("{userId}", user)

    def offered(self) -> list[str] | None:
        return list(self.catalog)

    # Subscriptions ------------------------------------------------------------

    def check_streams(self, streams: Sequence[str]) -> None:
        require_names(streams)
        if self.available_streams is not None:
            missing = [s for s in streams if s not in self.available_streams]
            if missing:
                raise StreamNotAvailable(missing, list(self.available_streams))

    def needs_auth(self, stream: str, channel: str) -> bool:
        """Presence (and private) streams of the catalog need a channel signature."""
        info = self.catalog.get(stream)
        return info is not None and info.needs_auth

    async def sign(self, channel: str) -> ChannelAuth:
        assert self.socket_id is not None  # authorize() asks only once connected
        return await authorize_channel(
            self.token, self.base_url, self.socket_id, channel, timeout=self.rest_timeout
        )

    def auth_failed(self, stream: str, error: StreamError) -> str | None:
        """A channel-auth refusal or failure refuses that stream only (the others go on)."""
        if isinstance(error, AuthenticationFailed):
            return f"channel auth refused (HTTP {error.code})"
        return getattr(error, "reason", str(error))

    # Liveness and closing -----------------------------------------------------

    def describe(self) -> dict[str, Any]:
        facts: dict[str, Any] = {"dialect": self.name, "url": self.base_url}
        if self.streams is not None:
            facts["streams"] = list(self.streams)
        return facts

    def replay_config(self) -> dict[str, Any] | None:
        """What a :meth:`parse_only` copy needs to turn the recorded frames into the same events.

        Kept: the REST base URL and the asked-for streams (as :meth:`describe` shows them),
        ``max_members`` (it bounds the presence snapshot rows), the catalog's stream names
        with their kind and channel template, and the channel -> stream mapping the session
        resolved (a presence channel names the user, e.g. ``presence-portfolio-<userId>``).
        None of it is secret: user ids and channel names travel in every frame of the feed,
        and the app key is public in Pusher. Left out: the Bearer token, the channel
        signatures and the socket id (the copy reads it from the recorded welcome). Before
        the first bootstrap the catalog and mapping are empty; a recording made from the
        start picks them up once the session is resolved (see
        :mod:`streamwidgets.recording.recorder`).
        """
        return {
            "base_url": self.base_url,
            "streams": None if self.streams is None else list(self.streams),
            "max_members": self.max_members,
            "catalog": {
                name: {"type": info.type, "channel": info.channel}
                for name, info in self.catalog.items()
            },
            "channels": dict(self._streams_of),
        }
