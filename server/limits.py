"""Bounds on what one request, and all requests together, may cost, as pure ASGI middleware.

- ``InFlightLimit``: at most ``limits.max_in_flight`` requests are answered at once; one more
  gets 503 ``server_overloaded`` with ``Retry-After`` at once instead of queueing behind them.
  Health, readiness and metrics are never refused, so that probes see a busy gateway as alive.
- ``BodyLimit``: a body larger than ``limits.max_body_bytes`` gets 413 — on its
  ``Content-Length`` before a byte is read, or when the bytes read pass the limit (chunked
  bodies); a body that does not arrive whole within ``limits.body_read_timeout_s`` gets 408.
  Both before the body is parsed: a large body is never parsed, a slow one never holds a slot.

A response that is cut short leaves as an OpenAI error (``errors.PayloadTooLarge``,
``errors.RequestTimeout``); the route's handler turns those raised while it reads the body.
"""

from __future__ import annotations

import asyncio

from .errors import PayloadTooLarge, RequestTimeout, ServerOverloaded
from .settings import LimitSettings

#: Paths that stay answered however loaded the gateway is (probes and monitoring).
ALWAYS_SERVED = frozenset({"/health", "/livez", "/readyz", "/metrics"})


class InFlightLimit:
    """Refuses requests beyond ``max_in_flight`` with 503 and ``Retry-After``."""

    def __init__(self, app, limits: LimitSettings):
        self.app, self.limit, self.retry_after = app, limits.max_in_flight, limits.retry_after_s
        self.in_flight = 0

    async def __call__(self, scope, receive, send):
        if scope["type"] != "http" or scope["path"] in ALWAYS_SERVED:
            return await self.app(scope, receive, send)
        if self.in_flight >= self.limit:
            exc = ServerOverloaded(
                f"The server is answering {self.limit} requests already; retry shortly.",
                headers={"Retry-After": str(self.retry_after)},
            )
            return await exc.response()(scope, receive, send)
        self.in_flight += 1
        try:
            await self.app(scope, receive, send)
        finally:
            self.in_flight -= 1


class BodyLimit:
    """413 for a body over ``max_body_bytes``; 408 for one slower than ``body_read_timeout_s``."""

    def __init__(self, app, limits: LimitSettings):
        self.app, self.max_bytes, self.timeout_s = app, limits.max_body_bytes, limits.body_read_timeout_s

    async def __call__(self, scope, receive, send):
        if scope["type"] != "http":
            return await self.app(scope, receive, send)
        declared = _content_length(scope)
        if declared is not None and declared > self.max_bytes:
            return await self._too_large().response()(scope, receive, send)
        await self.app(scope, self._bounded(receive), send)

    def _too_large(self) -> PayloadTooLarge:
        return PayloadTooLarge(f"The request body is larger than the server's limit of {self.max_bytes} bytes.")

    def _bounded(self, receive):
        """``receive``, counting body bytes and timing the body until its last chunk."""
        seen, deadline, body_done = 0, None, False

        async def bounded_receive():
            nonlocal seen, deadline, body_done
            if body_done:
                return await receive()  # after the body: disconnect watching, unbounded
            # asyncio.timeout, not wait_for: no task per message, nothing scheduled when the body
            # is already there (the usual case: uvicorn has read it with the headers).
            deadline = deadline or asyncio.get_running_loop().time() + self.timeout_s
            try:
                async with asyncio.timeout_at(deadline):
                    message = await receive()
            except TimeoutError:
                raise RequestTimeout(
                    f"The request body did not arrive within {self.timeout_s:g} s; send it faster or in one piece."
                ) from None
            if message["type"] == "http.request":
                seen += len(message.get("body", b""))
                if seen > self.max_bytes:
                    raise self._too_large()
                body_done = not message.get("more_body", False)
            return message

        return bounded_receive


def _content_length(scope) -> int | None:
    for name, value in scope.get("headers", ()):
        if name == b"content-length":
            try:
                return int(value)
            except ValueError:
                return None  # the server (h11/httptools) rejects a bad Content-Length itself
    return None
