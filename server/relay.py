"""What the gateway answers in place of an upstream answer it cannot relay as it came.

Shared by every path that calls vLLM (pass-through, certainty): vLLM's own error becomes an
OpenAI error with vLLM's status; a success that is not what the endpoint answers with (an HTML
page, text, a non-SSE body to a stream) becomes a 502.
"""

from __future__ import annotations

from contextlib import AsyncExitStack

import httpx
from fastapi.responses import Response

from . import sse
from .errors import UpstreamStatus
from .upstream import upstream_status_error


async def not_a_stream(resp: httpx.Response, stack: AsyncExitStack) -> Response | None:
    """The answer to send instead of relaying a stream vLLM did not open (its error, or a 502 for
    a success that is not SSE), the upstream response read and closed; ``None``: relay it."""
    if resp.status_code < 400 and resp.headers.get("content-type", "").startswith(sse.MEDIA_TYPE):
        return None
    async with stack:
        content = await resp.aread()
    return relay_response(resp, content) if resp.status_code >= 400 else not_an_answer(resp).response()


def relay_response(resp: httpx.Response, content: bytes) -> Response:
    """vLLM's answer (already read) as our response: a success as it came, status and content
    type kept; an error in the OpenAI shape, with vLLM's status, message, type and param."""
    if resp.status_code >= 400:
        return upstream_status_error(resp.status_code, content).response()
    media_type = resp.headers.get("content-type", "application/json")
    return Response(content, status_code=resp.status_code, media_type=media_type)


def not_an_answer(resp: httpx.Response) -> UpstreamStatus:
    """The error for a success status whose body is not what the endpoint answers with."""
    kind = resp.headers.get("content-type") or "no content type"
    return UpstreamStatus(f"vLLM answered {resp.status_code} with {kind}, not an OpenAI answer.", status=502)
