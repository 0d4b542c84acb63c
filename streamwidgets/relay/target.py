"""Where a relay writes and a Redis feed reads: a Redis URL, a stream key, entry ids, trimming.

A relay (:mod:`streamwidgets.relay.relay`) appends a recording's lines to one Redis Stream, one
entry per line (field ``r``), and keeps the recording's header, as JSON, in a string key
beside it (``KEY:header``). Entry ids are the frames' receive times in ms (``ms-seq``,
made strictly increasing by the relay), so a time is an entry id: ``start=datetime``
and ``--keep`` are both about when frames arrived.

Example:
    >>> t = redis_target("redis://127.0.0.1:6379/2", "hydra")
    >>> t.display, t.header_key
    ('redis://127.0.0.1:6379/2 key hydra', 'hydra:header')
    >>> redis_target("redis://127.0.0.1:6379/x", "hydra")
    Traceback (most recent call last):
    ...
    streamwidgets.exceptions.ConfigurationError: url: the path is the database number ...
"""

from __future__ import annotations

import datetime
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlsplit

from streamwidgets._util import checks
from streamwidgets._util.secret import Secret
from streamwidgets.exceptions import ConfigurationError

__all__ = [
    "DEFAULT_MAX_LEN",
    "FIELD",
    "RedisTarget",
    "Trim",
    "describe_error",
    "format_id",
    "id_before",
    "is_refusal",
    "parse_id",
    "redis_target",
    "start_after",
    "trim",
]

#: Entries a relay keeps when neither ``keep`` nor ``max_len`` is given (approximately).
DEFAULT_MAX_LEN = 1_000_000
#: The field of each entry holding the recording line.
FIELD = b"r"
_MAX_SEQ = 2**64 - 1
_MAX_DB = 1_000_000
_EPOCH = datetime.datetime(1970, 1, 1, tzinfo=datetime.UTC)
_TIMEOUT = 5.0  # seconds to connect, and for a reply (an XREAD BLOCK waits less)


@dataclass(frozen=True, slots=True)
class RedisTarget:
    """A Redis server, database and stream key. Made by :func:`redis_target`."""

    host: str
    port: int
    db: int
    key: str
    tls: bool = False
    password: Secret | None = field(default=None, repr=False)

    @property
    def url(self) -> str:
        """``redis://HOST:PORT/DB`` (never with a password)."""
        return f"{'rediss' if self.tls else 'redis'}://{self.host}:{self.port}/{self.db}"

    @property
    def display(self) -> str:
        """The URL and the key, for states, progress lines and the widget."""
        return f"{self.url} key {self.key}"

    @property
    def header_key(self) -> str:
        """The string key holding the recording's header as JSON."""
        return f"{self.key}:header"

    def _options(self, name: str, timeout: float | None) -> dict[str, Any]:
        return {
            "host": self.host,
            "port": self.port,
            "db": self.db,
            "password": None if self.password is None else self.password.reveal(),
            "ssl": self.tls,
            "socket_timeout": timeout,
            "socket_connect_timeout": _TIMEOUT,
            "client_name": name,
            "decode_responses": False,
            "protocol": 2,
        }

    def sync_client(self, name: str, *, timeout: float | None = _TIMEOUT) -> Any:
        """A ``redis.Redis`` that never retries on its own: the caller's backoff decides."""
        import redis
        from redis.backoff import NoBackoff
        from redis.retry import Retry

        return redis.Redis(retry=Retry(NoBackoff(), 0), **self._options(name, timeout))

    def async_client(self, name: str, *, timeout: float | None = _TIMEOUT) -> Any:
        """A ``redis.asyncio.Redis`` that never retries on its own."""
        import redis.asyncio
        from redis.asyncio.retry import Retry
        from redis.backoff import NoBackoff

        return redis.asyncio.Redis(retry=Retry(NoBackoff(), 0), **self._options(name, timeout))


def redis_target(url: Any, key: Any, password: Any = None) -> RedisTarget:
    """Check a Redis URL, a stream key and an optional password.

    Args:
        url: ``redis://HOST:PORT/DB`` (``rediss://`` for TLS); port 6379 and db 0 if left out.
        key: the stream's key, a non-empty string without spaces or control characters.
        password: the Redis password (``AUTH``), kept as a :class:`Secret`; never in the URL.

    Raises:
        ConfigurationError: a bad URL, database, key or password, naming what is allowed.

    Example:
        >>> redis_target("redis://localhost", "k").url
        'redis://localhost:6379/0'
        >>> redis_target("redis://:pw@localhost/0", "k")
        Traceback (most recent call last):
        ...
        streamwidgets.exceptions.ConfigurationError: url holds a user name or password ...
    """
    if isinstance(url, str):
        parts = urlsplit(url) if "://" in url else None
        if parts is not None and "@" in parts.netloc:
            raise ConfigurationError(
                f"url holds a user name or password ({parts.scheme}://***@...): pass the "
                "Redis password as password= (or REDIS_PASSWORD for the command line)"
            )
    checks.endpoint("url", url, schemes=("redis", "rediss"))
    parts = urlsplit(url)
    if parts.query or parts.fragment:
        raise ConfigurationError(f"url takes no query or fragment, got {url!r}")
    path = parts.path.strip("/")
    if path and (not path.isdigit() or int(path) > _MAX_DB):
        raise ConfigurationError(
            f"url: the path is the database number (redis://HOST:PORT/0), got {parts.path!r}"
        )
    check_key(key)
    secret = None if password is None else checks.credential("password", password)
    return RedisTarget(
        host=str(parts.hostname),
        port=parts.port or 6379,
        db=int(path or 0),
        key=key,
        tls=parts.scheme == "rediss",
        password=secret,
    )


def check_key(key: Any) -> str:
    """A stream key: a non-empty string of at most 512 characters, no spaces or controls."""
    if not isinstance(key, str):
        raise checks.ArgumentTypeError(f"key must be a string, got {key!r}")
    if not key or len(key) > 512 or any(c.isspace() or ord(c) < 32 for c in key):
        raise ConfigurationError(
            f"key must be 1-512 characters without spaces or control characters, got {key!r}"
        )
    return key


# Trimming -----------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Trim:
    """How a relay bounds its stream: about ``max_len`` entries, or ``keep`` seconds."""

    max_len: int | None = None
    keep: float | None = None

    def xadd_options(self, now_ms: int) -> dict[str, Any]:
        """``maxlen``/``minid`` options of ``XADD``, approximate (``~``: cheap trimming)."""
        if self.keep is not None:
            return {"minid": f"{max(0, now_ms - int(self.keep * 1000))}-0", "approximate": True}
        return {"maxlen": self.max_len, "approximate": True}

    def describe(self) -> str:
        """In words, e.g. ``about 1,000,000 entries`` or ``the last 86400 s``."""
        if self.keep is not None:
            return f"the last {self.keep:g} s"
        return f"about {self.max_len:,} entries"


def trim(keep: Any = None, max_len: Any = None) -> Trim:
    """Check a relay's bound: ``keep`` (seconds or a timedelta) or ``max_len`` (entries), not both.

    Neither: about :data:`DEFAULT_MAX_LEN` entries, so Redis never grows without bound.

    Example:
        >>> trim(keep=3600).describe(), trim().describe()
        ('the last 3600 s', 'about 1,000,000 entries')
        >>> trim(keep=60, max_len=10)
        Traceback (most recent call last):
        ...
        streamwidgets.exceptions.ConfigurationError: keep and max_len both given: ...
        >>> trim(max_len=-5)
        Traceback (most recent call last):
        ...
        streamwidgets.exceptions.ConfigurationError: max_len must be >= 1 and <= ...
    """
    if keep is not None and max_len is not None:
        raise ConfigurationError(
            "keep and max_len both given: a stream is trimmed by age (--keep) or by length "
            "(--max-len), choose one"
        )
    if isinstance(keep, datetime.timedelta):
        keep = keep.total_seconds()
    if keep is not None:
        return Trim(keep=checks.seconds("keep", keep, maximum=checks.YEAR))
    if max_len is None:
        return Trim(max_len=DEFAULT_MAX_LEN)
    return Trim(max_len=checks.count("max_len", max_len, maximum=10**10))


# Entry ids ----------------------------------------------------------------------------------


def parse_id(entry_id: bytes | str) -> tuple[int, int]:
    """``b"1700000000000-3"`` -> ``(1700000000000, 3)``.

    Example:
        >>> parse_id(b"1700000000000-3")
        (1700000000000, 3)
    """
    text = entry_id.decode() if isinstance(entry_id, bytes) else entry_id
    ms, _, seq = text.partition("-")
    return int(ms), int(seq or 0)


def format_id(ms: int, seq: int) -> str:
    """``(ms, seq)`` -> ``"ms-seq"``."""
    return f"{ms}-{seq}"


def id_before(t_ns: int) -> str:
    """The largest id before any entry of time ``t_ns`` (XREAD reads after the id it gets).

    Example:
        >>> id_before(1_700_000_000_000_000_000)
        '1699999999999-18446744073709551615'
    """
    ms = t_ns // 1_000_000
    return "0-0" if ms <= 0 else format_id(ms - 1, _MAX_SEQ)


def start_after(start: Any) -> str | None:
    """Where a reader starts: the id it reads after, or None for ``"now"`` (resolved when it
    connects: the newest entry then).

    Args:
        start: ``"now"``, ``"begin"`` (the oldest entry kept) or a timezone-aware datetime
            (the first entry received at or after it).

    Raises:
        ConfigurationError: anything else, a naive datetime included.

    Example:
        >>> start_after("begin"), start_after("now")
        ('0-0', None)
        >>> start_after(datetime.datetime(2024, 1, 1, tzinfo=datetime.UTC))
        '1704067199999-18446744073709551615'
    """
    if start == "now":
        return None
    if start == "begin":
        return "0-0"
    if isinstance(start, datetime.datetime):
        if start.tzinfo is None or start.utcoffset() is None:
            raise ConfigurationError(
                f"start must be timezone-aware (e.g. tzinfo=datetime.UTC), got {start!r}"
            )
        since = start - _EPOCH  # exact, where a float timestamp would round the us
        return id_before((since // datetime.timedelta(microseconds=1)) * 1000)
    raise ConfigurationError(
        f"start must be 'now', 'begin' or a timezone-aware datetime, got {start!r}"
    )


# Errors -------------------------------------------------------------------------------------

#: Replies that say the server is busy or changing role: retry, as for a lost connection.
_TRANSIENT_REPLIES = ("LOADING", "BUSY", "MASTERDOWN", "READONLY", "TRYAGAIN", "CLUSTERDOWN")


def is_refusal(exc: BaseException) -> bool:
    """True when retrying cannot help: a refused password or permission, a key that is not a
    stream. False for what passes (Redis down, restarting, loading, a timeout).

    Example:
        >>> is_refusal(ConnectionRefusedError(111, "Connection refused"))
        False
    """
    import redis.exceptions as errors

    if isinstance(exc, (errors.AuthenticationError, errors.NoPermissionError)):
        return True
    if isinstance(exc, errors.ResponseError):
        return not str(exc).startswith(_TRANSIENT_REPLIES)
    return not isinstance(exc, (errors.ConnectionError, errors.TimeoutError, OSError, TimeoutError))


def describe_error(exc: BaseException) -> str:
    """A Redis error in plain words (its own message, else its type).

    Example:
        >>> describe_error(ConnectionRefusedError(111, "Connection refused"))
        '[Errno 111] Connection refused'
    """
    text = str(exc).strip()
    return text or type(exc).__name__
