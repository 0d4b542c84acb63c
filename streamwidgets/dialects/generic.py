"""Any other JSON WebSocket feed, described by configuration instead of a class.

The configuration model has four parts, each a plain value a notebook user can type:

- **Where the credential goes** (``auth``): :class:`QueryAuth` (a URL query parameter),
  :class:`HeaderAuth` (an HTTP header on the upgrade request) or :class:`MessageAuth`
  (the first message after the socket opens). The credential is always a
  :class:`~streamwidgets._util.secret.Secret` and never appears in a repr or a display URL.
- **What the client sends** (``subscribe``, ``unsubscribe``, ``ping``): message
  templates, either a dict (sent as JSON) or a string (sent as is). Placeholders are
  ``{streams}`` (the list of names), ``{stream}`` (one message per name) and ``{id}``
  (a fresh integer request id). In a dict, a value that is exactly one placeholder is
  replaced with its typed value (``"{streams}"`` becomes a JSON list, ``"{id}"`` a
  number); a placeholder inside a longer string is replaced by text (a list joins with
  commas). In a string template a placeholder is replaced by text, and ``{streams}`` by
  its JSON list, since a string template is usually JSON text itself.
- **Where things live in a message** (``*_path``): dotted paths such as ``"s"`` or
  ``"arg.channel"``; a segment that is a number indexes a list (``"data.0.ts"``).
- **Which messages are not events** (``welcome``, ``heartbeat``, ``ignore``): matches,
  dicts of dotted path to expected value, e.g. ``{"type": "heartbeat"}``. The value
  ``...`` (Ellipsis) matches any value, as long as the path is present.

A message is classified in this order: welcome, heartbeat, a reply to a request this
dialect sent (its ``reply_id_path`` holds an id we issued), ignored, else an event.
Everything is checked when the dialect is made, so a typo fails in the notebook cell
that made it, not minutes later on the wire.
"""

from __future__ import annotations

from collections import OrderedDict
from collections.abc import Mapping, Sequence
from itertools import count
from typing import Any
from urllib.parse import parse_qsl, urlsplit

from streamwidgets._util import checks
from streamwidgets._util.jsonutil import dumps, loads_object
from streamwidgets._util.secret import Secret, redact_url, url_shown, url_with_secret
from streamwidgets.connection.dialect import (
    CloseAction,
    CloseDecision,
    ConnectTarget,
    Dialect,
    Keepalive,
    Outgoing,
    require_names,
)
from streamwidgets.dialects._config import (
    MISSING,
    TIME_UNITS,
    Template,
    close_codes,
    lookup,
    matches,
    parse_match,
    parse_path,
    positive_or_none,
    to_ns,
)
from streamwidgets.dialects.auth import Auth, HeaderAuth, MessageAuth, QueryAuth
from streamwidgets.events import Control, Event, Heartbeat, Reply, Welcome
from streamwidgets.exceptions import ConfigurationError, StreamNotAvailable

__all__ = [
    "Auth",
    "GenericDialect",
    "HeaderAuth",
    "MessageAuth",
    "QueryAuth",
    "binance_style",
]

# Ids we issued and still wait for; bounded so unanswered requests cannot grow it forever.
_MAX_OPEN_IDS = 1024


class GenericDialect(Dialect):
    """Speak any JSON WebSocket feed, configured by templates, paths and matches.

    See the module docstring for the configuration model; :func:`binance_style` is a
    complete example.

    Args:
        url: the ``ws://`` or ``wss://`` endpoint, without the credential.
        auth: where the credential goes (None: the feed is open).
        subscribe: the subscribe message template (None: the server decides what is
            sent, and streams only filter on the client).
        unsubscribe: the unsubscribe message template (None: nothing is sent).
        stream_path: where the stream name is in an event (None: events have no stream).
        type_path: where the event type is; events without it get type ``"message"``.
        time_path: where the event time is (None: only the receive time is kept).
        time_unit: ``"s"``, ``"ms"``, ``"us"``, ``"ns"``, or ``"iso"`` for ISO-8601 strings.
        data_path: where the payload is (None, or absent in a message: the whole message).
        reply_id_path: where replies echo the request id; needed when a template has ``{id}``.
        reply_error_path: where an error reply says what went wrong, e.g. ``"error.msg"``.
        welcome: the match of the server's greeting; None means connected on open.
        available_path: in the greeting, the list of streams the feed offers.
        heartbeat: the match of server keepalive messages.
        ignore: matches of messages to drop silently (acks, pongs).
        ping: the client's app-level ping frame; ping_interval: its period in seconds.
        idle_timeout: seconds of silence after which the connection is presumed dead.
        stop_codes: close codes after which reconnecting cannot help, with plain words.
        slow_codes: close codes that mean "back off longer" (rate limits), with words.
        explode: event type -> dotted path of a list whose records become one row each.
        name: a short name for logs and the widget.

    Raises:
        ConfigurationError: a template, path, match, unit or interval is invalid.

    Example:
        >>> d = GenericDialect(
        ...     "wss://feed.example/ws",
        ...     auth=QueryAuth("apiKey", "k-123"),
        ...     subscribe={"op": "subscribe", "args": "{streams}", "id": "{id}"},
        ...     reply_id_path="id",
        ...     stream_path="arg.channel",
        ...     time_path="ts",
        ... )
        >>> d.target().display_url
        'wss://feed.example/ws?apiKey=***'
        >>> d.subscribe(["trades"])[0]  # doctest: +NORMALIZE_WHITESPACE
        Outgoing(frame='{"op":"subscribe","args":["trades"],"id":1}', reply_key='1',
                 streams=('trades',))
        >>> d.parse('{"arg": {"channel": "trades"}, "type": "t", "ts": 2}', 0)[0].event_ns
        2000000
    """

    def __init__(
        self,
        url: str,
        *,
        auth: Auth | None = None,
        # What the client sends
        subscribe: dict[str, Any] | str | None = None,
        unsubscribe: dict[str, Any] | str | None = None,
        # Where things live in a message
        stream_path: str | None = None,
        type_path: str | None = "type",
        time_path: str | None = None,
        time_unit: str = "ms",
        data_path: str | None = None,
        reply_id_path: str | None = None,
        reply_error_path: str | None = None,
        # Messages that are not events
        welcome: dict[str, Any] | None = None,
        available_path: str | None = None,
        heartbeat: dict[str, Any] | None = None,
        ignore: Sequence[dict[str, Any]] = (),
        # Liveness
        ping: dict[str, Any] | str | None = None,
        ping_interval: float | None = None,
        idle_timeout: float | None = None,
        # Close codes
        stop_codes: Mapping[int, str] | None = None,
        slow_codes: Mapping[int, str] | None = None,
        explode: Mapping[str, str] | None = None,
        name: str = "generic",
    ) -> None:
        super().__init__()
        # endpoint() has checked the type, the ws/wss scheme and the host.
        parts = urlsplit(checks.endpoint("url", url, schemes=("ws", "wss")))
        if auth is not None and not isinstance(auth, (QueryAuth, HeaderAuth, MessageAuth)):
            raise ConfigurationError(
                f"auth must be QueryAuth, HeaderAuth or MessageAuth, got {type(auth).__name__}"
            )
        if isinstance(auth, QueryAuth) and auth.param in dict(parse_qsl(parts.query)):
            raise ConfigurationError(
                f"the URL already has {auth.param!r}; pass the credential only through auth"
            )
        if not isinstance(name, str) or not name:
            raise ConfigurationError("name must be a non-empty string")
        self.url = url
        self.auth = auth
        self.name = name

        streams_names = {"streams", "stream", "id"}
        self._subscribe = (
            None if subscribe is None else Template("subscribe template", subscribe, streams_names)
        )
        self._unsubscribe = (
            None
            if unsubscribe is None
            else Template("unsubscribe template", unsubscribe, streams_names)
        )
        for tpl in (self._subscribe, self._unsubscribe):
            if tpl is None:
                continue
            if ("stream" in tpl.names) == ("streams" in tpl.names):
                raise ConfigurationError(
                    f"{tpl.what} must contain exactly one of {{streams}} (one message for "
                    "all) or {stream} (one message each)"
                )
            if "id" in tpl.names and reply_id_path is None:
                raise ConfigurationError(
                    f"{tpl.what} uses {{id}}: set reply_id_path (e.g. 'id') so replies "
                    "are matched to requests instead of being taken for events"
                )
        if self._unsubscribe is not None and self._subscribe is None:
            raise ConfigurationError("an unsubscribe template needs a subscribe template")

        self._stream_path = parse_path("stream_path", stream_path)
        self._type_path = parse_path("type_path", type_path)
        self._time_path = parse_path("time_path", time_path)
        self._data_path = parse_path("data_path", data_path)
        self._reply_id_path = parse_path("reply_id_path", reply_id_path)
        self._reply_error_path = parse_path("reply_error_path", reply_error_path)
        self._available_path = parse_path("available_path", available_path)
        if time_unit not in TIME_UNITS:
            raise ConfigurationError(f"time_unit must be one of {TIME_UNITS}, got {time_unit!r}")
        self.time_unit = time_unit

        self._welcome = None if welcome is None else parse_match("welcome", welcome)
        if self._available_path is not None and self._welcome is None:
            raise ConfigurationError("available_path is read from the welcome: set welcome too")
        self._heartbeat = None if heartbeat is None else parse_match("heartbeat", heartbeat)
        if isinstance(ignore, Mapping):
            raise ConfigurationError("ignore is a list of matches, e.g. [{'result': None}]")
        if isinstance(ignore, (str, Mapping)) or not isinstance(ignore, Sequence):
            raise checks.ArgumentTypeError(f"ignore must be a list of matches, got {ignore!r}")
        self._ignore = tuple(parse_match(f"ignore[{i}]", m) for i, m in enumerate(ignore))

        self.ping_interval = positive_or_none("ping_interval", ping_interval)
        self.idle_timeout = positive_or_none("idle_timeout", idle_timeout)
        if (ping is None) != (self.ping_interval is None):
            raise ConfigurationError("ping and ping_interval go together: set both or neither")
        self._ping = None if ping is None else Template("ping", ping, set()).render({})

        self.stop_codes = close_codes("stop_codes", stop_codes or {})
        self.slow_codes = close_codes("slow_codes", slow_codes or {})
        both = set(self.stop_codes) & set(self.slow_codes)
        if both:
            raise ConfigurationError(f"close code(s) {sorted(both)} are both stop and slow codes")
        if explode is not None and not isinstance(explode, Mapping):
            raise checks.ArgumentTypeError(
                f"explode must map event types to dotted paths, got {explode!r}"
            )
        self.explode = {
            str(kind): ".".join(parse_path(f"explode[{kind!r}]", p) or ())
            for kind, p in dict(explode or {}).items()
        }

        # What parsing depends on, kept as given (no credential), so a recording can
        # rebuild a parse-only copy of this dialect (see replay_config).
        self._parse_options: dict[str, Any] = {
            "url": redact_url(url),
            "stream_path": stream_path,
            "type_path": type_path,
            "time_path": time_path,
            "time_unit": time_unit,
            "data_path": data_path,
            "reply_id_path": reply_id_path,
            "reply_error_path": reply_error_path,
            "welcome": welcome,
            "available_path": available_path,
            "heartbeat": heartbeat,
            "ignore": list(ignore),
            "explode": dict(explode or {}),
            "name": name,
        }

        # Request ids never restart, so a late reply from an earlier session cannot
        # be taken for the answer to a new request.
        self._ids = count(1)
        self.new_session()

    # Session ------------------------------------------------------------------

    def new_session(self) -> None:
        super().new_session()
        self._open_ids: OrderedDict[str, None] = OrderedDict()

    def forget(self, reply_key: str) -> None:
        self._open_ids.pop(reply_key, None)

    def reset(self) -> None:
        super().reset()
        self._open_ids.clear()

    def secrets(self) -> list[Secret]:
        return [self.auth.secret] if self.auth is not None else []

    def target(self) -> ConnectTarget:
        shown = redact_url(self.url)
        headers: dict[str, str] = {}
        first: list[str] = []
        url = self.url
        if isinstance(self.auth, QueryAuth):
            url = url_with_secret(self.url, self.auth.param, self.auth.secret)
            shown = redact_url(url_shown(self.url, self.auth.param))
        elif isinstance(self.auth, HeaderAuth):
            headers[self.auth.header] = self.auth.prefix + self.auth.secret.reveal()
        elif isinstance(self.auth, MessageAuth):
            first.append(self.auth.render())
        return ConnectTarget(url=url, display_url=shown, headers=headers, first_messages=first)

    @property
    def needs_welcome(self) -> bool:
        return self._welcome is not None

    # Frames -------------------------------------------------------------------

    def parse(self, frame: str | bytes, received_ns: int) -> list[Event | Control]:
        message = loads_object(frame)
        if self._welcome is not None and matches(message, self._welcome):
            return [self._read_welcome(message)]
        if self._heartbeat is not None and matches(message, self._heartbeat):
            return [Heartbeat(self._time(message))]
        # Replies come before `ignore`: an ignore match that swallowed the answer to a
        # request would leave the caller waiting for its timeout.
        if self._reply_id_path is not None and self._open_ids:
            rid = lookup(message, self._reply_id_path)
            if rid is not MISSING and not isinstance(rid, (bool, dict, list)):
                key = str(rid)
                if key in self._open_ids:
                    del self._open_ids[key]
                    return [Reply(key, message, self._reply_error(message))]
        for match in self._ignore:
            if matches(message, match):
                return []
        return [self._event(message, received_ns)]

    def _read_welcome(self, message: dict[str, Any]) -> Welcome:
        available = None
        if self._available_path is not None:
            found = lookup(message, self._available_path)
            # A greeting without the list still completes the handshake: the feed
            # then simply does not say what it offers.
            if isinstance(found, list):
                available = [str(s) for s in found]
        self.available_streams = available
        return Welcome(list(available) if available is not None else None, dict(message))

    def _reply_error(self, message: dict[str, Any]) -> str | None:
        if self._reply_error_path is None:
            return None
        error = lookup(message, self._reply_error_path)
        if error is MISSING or error is None or error == "":
            return None
        return error if isinstance(error, str) else dumps(error)

    def _time(self, message: dict[str, Any]) -> int | None:
        if self._time_path is None:
            return None
        value = lookup(message, self._time_path)
        return None if value is MISSING else to_ns(value, self.time_unit)

    def _event(self, message: dict[str, Any], received_ns: int) -> Event:
        stream = None
        if self._stream_path is not None:
            found = lookup(message, self._stream_path)
            if found is not MISSING and found is not None and not isinstance(found, (dict, list)):
                stream = str(found)
        kind = "message"
        if self._type_path is not None:
            found = lookup(message, self._type_path)
            if found is not MISSING and found is not None and not isinstance(found, (dict, list)):
                kind = str(found)
        data: Any = message
        if self._data_path is not None:
            found = lookup(message, self._data_path)
            if found is not MISSING:
                data = found
        return Event(stream, kind, data, received_ns, self._time(message))

    # Subscriptions ------------------------------------------------------------

    @property
    def supports_subscribe(self) -> bool:
        return self._subscribe is not None

    def check_streams(self, streams: Sequence[str]) -> None:
        require_names(streams)
        known = self.available_streams
        if known is None:
            return
        missing = [s for s in streams if s not in known]
        if missing:
            raise StreamNotAvailable(missing, known)

    def subscribe(self, streams: Sequence[str]) -> list[Outgoing]:
        self.check_streams(streams)
        return self._requests(self._subscribe, streams)

    def unsubscribe(self, streams: Sequence[str]) -> list[Outgoing]:
        return self._requests(self._unsubscribe, streams)

    def _requests(self, tpl: Template | None, streams: Sequence[str]) -> list[Outgoing]:
        if tpl is None or not streams:
            return []
        batches = [[s] for s in streams] if "stream" in tpl.names else [list(streams)]
        out = []
        for batch in batches:
            values: dict[str, Any] = {"streams": batch, "stream": batch[0]}
            key = None
            if "id" in tpl.names:
                values["id"] = next(self._ids)
                key = str(values["id"])
                self._open_ids[key] = None
                while len(self._open_ids) > _MAX_OPEN_IDS:
                    self._open_ids.popitem(last=False)
            out.append(Outgoing(tpl.render(values), key, tuple(batch)))
        return out

    # Liveness and closing -----------------------------------------------------

    def keepalive(self) -> Keepalive:
        return Keepalive(
            idle_timeout=self.idle_timeout,
            ping_interval=self.ping_interval,
            ping_frame=self._ping,
            protocol_ping_interval=20.0,
        )

    def on_close(self, code: int | None, reason: str) -> CloseDecision:
        detail = f": {reason}" if reason else ""
        if code in self.stop_codes:
            # 1008 is the usual "credentials refused"; other codes only the feed knows.
            return CloseDecision(
                CloseAction.STOP,
                f"{self.stop_codes[code]} ({code}){detail}",
                auth_failure=code == 1008,
            )
        if code in self.slow_codes:
            return CloseDecision(
                CloseAction.RECONNECT_SLOW,
                f"{self.slow_codes[code]} ({code}){detail}; backing off longer",
            )
        return super().on_close(code, reason)

    def describe(self) -> dict[str, Any]:
        info: dict[str, Any] = {"dialect": self.name, "url": redact_url(self.url)}
        if isinstance(self.auth, QueryAuth):
            info["auth"] = f"query parameter {self.auth.param!r}"
        elif isinstance(self.auth, HeaderAuth):
            info["auth"] = f"header {self.auth.header!r}"
        elif isinstance(self.auth, MessageAuth):
            info["auth"] = "first message"
        return info

    def replay_config(self) -> dict[str, Any] | None:
        return dict(self._parse_options)

    @classmethod
    def parse_only(cls, config: Mapping[str, Any]) -> GenericDialect:
        """A copy that parses a recording of this feed, from its :meth:`replay_config`
        (which holds no credential: parsing needs none).

        Example:
            >>> GenericDialect.parse_only({"url": "ws://h:9/ws", "name": "mine"}).name
            'mine'
        """
        return cls(**dict(config))

    def __repr__(self) -> str:
        info = self.describe()
        auth = f" auth={info['auth']}" if "auth" in info else ""
        return f"<GenericDialect {self.name} {info['url']}{auth}>"


# A ready-made example ---------------------------------------------------------------


def binance_style(
    url: str,
    *,
    auth: Auth | None = None,
    ping_interval: float | None = None,
    idle_timeout: float | None = None,
    name: str = "binance-style",
) -> GenericDialect:
    """A :class:`GenericDialect` for a Binance-style combined market stream.

    The protocol: the client sends ``{"method": "SUBSCRIBE", "params": ["btcusdt@trade"],
    "id": 1}`` and gets ``{"result": null, "id": 1}`` (or ``{"error": {"code": 2, "msg":
    ...}, "id": 1}``); events look like ``{"e": "trade", "E": 1710000000000, "s": "BTCUSDT",
    "p": "67000.10", ...}``. The event's stream is its symbol (``"s"``), so a subscription
    to ``btcusdt@trade`` fills stream ``BTCUSDT``; type is ``"e"`` and time ``"E"`` (ms).
    With ``ping_interval``, ``{"method": "PING"}`` is sent and ``{"result": "PONG"}``
    dropped. Close code 1008 (key refused) stops.

    Example:
        >>> d = binance_style("wss://stream.example/ws", auth=HeaderAuth("X-MBX-APIKEY", "k"))
        >>> d.subscribe(["btcusdt@trade"])[0].frame
        '{"method":"SUBSCRIBE","params":["btcusdt@trade"],"id":1}'
        >>> e = d.parse('{"e": "trade", "E": 1710000000000, "s": "BTCUSDT", "p": "1"}', 0)[0]
        >>> e.stream, e.type, e.event_ns
        ('BTCUSDT', 'trade', 1710000000000000000)
    """
    return GenericDialect(
        url,
        auth=auth,
        subscribe={"method": "SUBSCRIBE", "params": "{streams}", "id": "{id}"},
        unsubscribe={"method": "UNSUBSCRIBE", "params": "{streams}", "id": "{id}"},
        stream_path="s",
        type_path="e",
        time_path="E",
        time_unit="ms",
        reply_id_path="id",
        reply_error_path="error.msg",
        ignore=[{"result": "PONG"}] if ping_interval else (),
        ping={"method": "PING"} if ping_interval else None,
        ping_interval=ping_interval,
        idle_timeout=idle_timeout,
        stop_codes={1008: "API key refused"},
        name=name,
    )
