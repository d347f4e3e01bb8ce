"""Every request's id: the client's ``X-Request-Id`` when it sends a usable one, a new one
otherwise (a random prefix per app and a count: unique across a deployment's processes, and
cheaper than a UUID per request). It is echoed on the answer and named by the log lines about the
request, so that a client's report and the server's log meet."""

from __future__ import annotations

import itertools
import re
import secrets
from contextvars import ContextVar

__all__ = ["REQUEST_ID", "RequestIdMiddleware", "current"]

#: The id of the request being served in this task (``-`` outside any request).
REQUEST_ID: ContextVar[str] = ContextVar("granite_certainty_request_id", default="-")
HEADER = b"x-request-id"
#: A client's id is used as sent when it is 1-128 visible ASCII characters (nothing a log or a
#: header could be confused by); anything else is replaced.
_USABLE = re.compile(rb"[!-~]{1,128}")


def current() -> str:
    """The id of the request being served (``-`` outside any request)."""
    return REQUEST_ID.get()


def _given(headers) -> bytes | None:
    for name, value in headers:
        if name == HEADER:
            return value if _USABLE.fullmatch(value) else None
    return None


class RequestIdMiddleware:
    """Sets ``REQUEST_ID`` for the request and adds ``x-request-id`` to its answer."""

    def __init__(self, app):
        self.app = app
        self._prefix = secrets.token_hex(8)
        self._count = itertools.count(1)

    async def __call__(self, scope, receive, send):
        if scope["type"] != "http":
            return await self.app(scope, receive, send)
        raw = _given(scope["headers"]) or f"{self._prefix}-{next(self._count):x}".encode()
        token = REQUEST_ID.set(raw.decode())

        async def send_with_id(message):
            if message["type"] == "http.response.start":
                message["headers"] = [*message.get("headers", ()), (HEADER, raw)]
            await send(message)

        try:
            await self.app(scope, receive, send_with_id)
        finally:
            REQUEST_ID.reset(token)
