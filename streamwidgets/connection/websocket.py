"""The socket the connection reads: websockets' client, with two changes.

- :class:`ClientSocket` receives text frames without letting bad UTF-8 end the
  connection (a bad one is a :class:`BadText` the connection counts), and notes when the
  server's last protocol ping arrived (for feeds whose pings prove life).
- :class:`SameHostOnly` refuses a redirect to another origin
  (:class:`CrossHostRedirect`): credentials go only to the host the user named.

Example:
    >>> issubclass(ClientSocket, ClientConnection)
    True
"""

from __future__ import annotations

import time
from collections import deque
from typing import Any
from urllib.parse import urlsplit

from websockets.asyncio.client import ClientConnection, connect
from websockets.frames import Frame, Opcode

from streamwidgets._util.secret import redact_url

__all__ = ["BadText", "ClientSocket", "CrossHostRedirect", "SameHostOnly"]


class ClientSocket(ClientConnection):
    """A client connection that reads text frames without letting bad UTF-8 end it, and
    notes when the server's last protocol ping arrived.

    websockets fails the whole connection (1007) on a text frame that is not UTF-8, as RFC
    6455 asks; one bad frame from a server must not cost every event after it, so text is
    received as bytes and decoded here (:meth:`receive`), and a bad one is a
    :class:`BadText` the connection counts. ``process_event`` sees every frame in order,
    which is how each message's kind (text or binary) and the pings are known; websockets
    answers pings itself, so they never reach ``recv``.
    """

    last_ping_ns = 0

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        # One entry per message queued by websockets, in order: True for text.
        self._is_text: deque[bool] = deque()

    def process_event(self, event: Any) -> None:
        if isinstance(event, Frame):
            opcode = event.opcode
            if opcode is Opcode.TEXT:
                self._is_text.append(True)
            elif opcode is Opcode.BINARY:
                self._is_text.append(False)
            elif opcode is Opcode.PING:
                self.last_ping_ns = time.time_ns()
        super().process_event(event)

    async def receive(self) -> str | bytes:
        """The next message: str for text, bytes for binary.

        Raises:
            BadText: a text message that is not UTF-8 (the connection carries on).
            ConnectionClosed: the connection ended.
        """
        data = await self.recv(decode=False)
        if not self._is_text.popleft():
            return data
        try:
            return data.decode()
        except UnicodeDecodeError as exc:
            raise BadText(
                data, f"a text frame that is not UTF-8 ({exc.reason} at byte {exc.start})"
            ) from None


class SameHostOnly(connect):
    """websockets' connect, refusing a redirect to another host, port or scheme.

    websockets strips only ``Authorization`` and cookies when it follows a redirect to
    another origin; a feed's own credential header (Hydra v1's ``x-api-key``) would go
    along. Credentials go only to the host the user named, so such a redirect ends the
    attempt with :class:`CrossHostRedirect` instead.
    """

    def process_redirect(self, exc: Exception) -> Exception | str:
        target = super().process_redirect(exc)
        if isinstance(target, str):
            old, new = urlsplit(self.uri), urlsplit(target)
            if (old.scheme, old.hostname, old.port) != (new.scheme, new.hostname, new.port):
                return CrossHostRedirect(
                    f"the server redirects to another host ({redact_url(target)}); credentials "
                    "go only to the host you named, so it is not followed: use that URL "
                    "yourself if you trust it"
                )
        return target


class CrossHostRedirect(Exception):
    """The upgrade was redirected to another origin (not followed)."""


class BadText(Exception):
    """A text frame that is not UTF-8: counted and kept like any malformed frame."""

    def __init__(self, data: bytes, reason: str) -> None:
        super().__init__(reason)
        self.data = data
        self.reason = reason
