"""Requests for the base model go to vLLM as the client sent them, bytes in and bytes out.

The body is forwarded unchanged (every OpenAI and vLLM field kept, no re-serialisation),
and the answer, streamed or not, is relayed without parsing it.
"""

from __future__ import annotations

from contextlib import AsyncExitStack

import httpx
from fastapi import Request
from fastapi.responses import Response, StreamingResponse

from . import sse
from .disconnect import until_disconnect
from .errors import GatewayError
from .upstream import Upstream


async def forward(request: Request, upstream: Upstream, body: bytes, *, stream: bool, path: str) -> Response:
    """Relay ``body`` to vLLM's ``path`` and its answer back; vLLM's own errors pass on as they are."""
    if not stream:
        resp = await until_disconnect(request, upstream.post(path, body))
        return relay_response(resp, resp.content)

    stack = AsyncExitStack()
    resp = await stack.enter_async_context(upstream.stream(path, body))
    if resp.status_code >= 400:
        async with stack:
            return relay_response(resp, await resp.aread())

    async def relay_chunks():
        # Leaving this generator (done, client gone, or failure) closes the upstream response,
        # which is how a client that disconnects cancels its vLLM request.
        async with stack:
            try:
                async for chunk in resp.aiter_raw():
                    yield chunk
            except (httpx.TransportError, GatewayError) as exc:
                request.app.state.gateway.metrics.upstream_errors.labels("upstream_unavailable").inc()
                # The status line is already sent: report the failure as the stream's last events.
                for event in sse.upstream_lost(exc):
                    yield event

    media_type = resp.headers.get("content-type", sse.MEDIA_TYPE)
    return StreamingResponse(relay_chunks(), status_code=resp.status_code, media_type=media_type)


def relay_response(resp: httpx.Response, content: bytes) -> Response:
    """vLLM's answer (already read) as our response, status and content type kept."""
    media_type = resp.headers.get("content-type", "application/json")
    return Response(content, status_code=resp.status_code, media_type=media_type)
