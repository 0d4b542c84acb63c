"""Where a feed's credential goes: a URL query parameter, an HTTP header, or a first message.

The credential is always a :class:`~streamwidgets._util.secret.Secret`, so it never shows in a
repr, a log or a display URL; a dialect reveals it only to build what goes on the wire.

Example:
    >>> HeaderAuth("Authorization", "tok", prefix="Bearer ").secret
    Secret('***')
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Any

from streamwidgets._util import checks
from streamwidgets._util.secret import Secret
from streamwidgets.dialects._config import Template
from streamwidgets.exceptions import ConfigurationError

__all__ = ["PARSE_ONLY_CREDENTIAL", "Auth", "HeaderAuth", "MessageAuth", "QueryAuth"]

#: Stands in for the credential a dialect's constructor requires in a parse-only copy (a
#: dialect's ``parse_only``, for replay): such a copy never sends it anywhere.
PARSE_ONLY_CREDENTIAL = "replay-without-credentials"


def _as_secret(value: str | Secret, what: str) -> Secret:
    return checks.credential(f"{what}: the secret", value)


@dataclass(frozen=True, slots=True)
class QueryAuth:
    """Put the credential in the URL's query, e.g. ``?apiKey=...``.

    Example:
        >>> QueryAuth("apiKey", "k-123")
        QueryAuth(param='apiKey', secret=Secret('***'))
    """

    param: str
    secret: Secret

    def __post_init__(self) -> None:
        if not isinstance(self.param, str) or not self.param.strip():
            raise ConfigurationError("QueryAuth: param must be a non-empty query parameter name")
        object.__setattr__(self, "secret", _as_secret(self.secret, "QueryAuth"))


@dataclass(frozen=True, slots=True)
class HeaderAuth:
    """Put the credential in an HTTP header of the upgrade request.

    Example:
        >>> HeaderAuth("Authorization", "tok", prefix="Bearer ")
        HeaderAuth(header='Authorization', secret=Secret('***'), prefix='Bearer ')
    """

    header: str
    secret: Secret
    prefix: str = ""

    def __post_init__(self) -> None:
        if not isinstance(self.header, str) or not re.fullmatch(
            r"[!#$%&'*+.^_`|~0-9A-Za-z-]+", self.header
        ):
            raise ConfigurationError(f"HeaderAuth: {self.header!r} is not a valid header name")
        object.__setattr__(self, "secret", _as_secret(self.secret, "HeaderAuth"))


@dataclass(frozen=True, slots=True)
class MessageAuth:
    """Send the credential as the first message; ``template`` holds ``"{secret}"``.

    Example:
        >>> MessageAuth({"method": "AUTH", "key": "{secret}"}, "k-123").secret
        Secret('***')
    """

    template: dict[str, Any] | str = field(repr=False)
    secret: Secret

    def __post_init__(self) -> None:
        object.__setattr__(self, "secret", _as_secret(self.secret, "MessageAuth"))
        tpl = Template("MessageAuth template", self.template, {"secret"})
        if "secret" not in tpl.names:
            raise ConfigurationError('MessageAuth template must contain "{secret}"')

    def render(self) -> str:
        """The first message, with the secret in it (for the wire only)."""
        return Template("MessageAuth template", self.template, {"secret"}).render(
            {"secret": self.secret.reveal()}
        )


Auth = QueryAuth | HeaderAuth | MessageAuth
"""Where a credential goes: one of :class:`QueryAuth`, :class:`HeaderAuth`, :class:`MessageAuth`."""
