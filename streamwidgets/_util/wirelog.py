"""A logger adapter that masks credentials before a record is made."""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterable, MutableMapping
from typing import Any

from streamwidgets._util.secret import Secret, redact, redact_url, redact_value

__all__ = ["RedactingLogger"]


class RedactingLogger(logging.LoggerAdapter):  # type: ignore[type-arg]
    """Format each message, mask every secret in it, then log it.

    websockets logs the request line (with the query string) and every header at
    debug level; formatting first lets the mask see the arguments too.

    Example:
        >>> log = RedactingLogger(logging.getLogger("demo"), lambda: [Secret("abc")])
        >>> log.mask("GET /stream?token=abc")
        'GET /stream?token=***'
    """

    def __init__(self, logger: logging.Logger, secrets: Callable[[], Iterable[Secret]]) -> None:
        super().__init__(logger, {})
        self._secrets = secrets

    def mask(self, text: str) -> str:
        """Return ``text`` with every known secret, and every piece of one long enough to
        tell (a truncated preview), replaced by ``***``."""
        return redact_url(redact(text, self._secrets(), fragments=True))

    def mask_value(self, value: Any) -> Any:
        """JSON-like ``value`` (a server's payload) with every string masked as :meth:`mask`."""
        return redact_value(value, self._secrets())

    def log(self, level: int, msg: object, *args: Any, **kwargs: Any) -> None:
        if not self.isEnabledFor(level):
            return
        text = str(msg) % args if args else str(msg)
        exc_info = kwargs.pop("exc_info", None)
        if exc_info:
            # A traceback's text could hold a URL; log its masked form instead.
            import traceback

            if exc_info is True:
                import sys

                exc_info = sys.exc_info()
            if isinstance(exc_info, BaseException):
                exc_info = (type(exc_info), exc_info, exc_info.__traceback__)
            text += "\n" + "".join(traceback.format_exception(*exc_info))
        self.logger.log(level, self.mask(text), **kwargs)

    def process(
        self, msg: Any, kwargs: MutableMapping[str, Any]
    ) -> tuple[Any, MutableMapping[str, Any]]:
        return msg, kwargs
