"""Requests for the base model go to vLLM as the client sent them, bytes in and bytes out.

The body is forwarded unchanged (every OpenAI and vLLM field kept, no re-serialisation),
and a good answer, streamed or not, is relayed without parsing it. What is checked costs
next to nothing: a success must say it is JSON (or SSE, streamed) and look like a JSON object; an error answer (rare) is
parsed and rewritten in the OpenAI shape, whatever a proxy in between made of it (HTML, text);
and a stream that ends without ``[DONE]`` gets an error event and ``[DONE]`` (checked on the
last bytes only).
"""

from __future__ import annotations

from contextlib import AsyncExitStack

import httpx
from fastapi.responses import Response, StreamingResponse

from . import sse
from .errors import GatewayError
from .metrics import Metrics
from .relay import not_a_stream, not_an_answer, relay_response
from .upstream import Upstream


async def forward(upstream: Upstream, body: bytes, *, stream: bool, path: str, metrics: Metrics) -> Response:
    """Relay ``body`` to vLLM's ``path`` and its answer back; vLLM's own errors pass on as they are."""
    if not stream:
        resp = await upstream.post(path, body)
        if resp.status_code < 400 and not _is_json_object(resp):
            return not_an_answer(resp).response()
        return relay_response(resp, resp.content)

    stack = AsyncExitStack()
    resp = await stack.enter_async_context(upstream.stream(path, body))
    refused = await not_a_stream(resp, stack)
    if refused is not None:
        return refused
    return relay_stream(resp, stack, metrics)


class DoneEnding:
    """How a chat or completions stream ends: with ``data: [DONE]``, seen in its last bytes; one
    that breaks or stops short gets an OpenAI error event and ``[DONE]``."""

    def __init__(self) -> None:
        self.tail = b""

    def see(self, chunk: bytes) -> None:
        """Take in one relayed chunk."""
        self.tail = (self.tail + chunk)[-32:]

    def ended(self) -> bool:
        """Whether the stream relayed so far is complete."""
        return sse.ends_done(self.tail)

    def lost(self, exc: BaseException | None) -> list[bytes]:
        """The events that end a stream whose upstream broke (``exc``) or stopped short."""
        return sse.upstream_lost(exc)


def relay_stream(
    resp: httpx.Response, stack: AsyncExitStack, metrics: Metrics, ending: DoneEnding | None = None
) -> StreamingResponse:
    """vLLM's open SSE answer relayed byte for byte and ended well-formed by ``ending`` (how this
    kind of stream ends; default ``[DONE]``); ``stack`` closes the upstream response when the relay
    ends (done, failed, or the client gone)."""
    ending = ending or DoneEnding()

    async def relay_chunks():
        # Leaving this generator (done, client gone, or failure) closes the upstream response,
        # which is how a client that disconnects cancels its vLLM request.
        async with stack:
            try:
                # Decoded bytes: the response to the client carries no content-encoding of vLLM's.
                async for chunk in resp.aiter_bytes():
                    ending.see(chunk)
                    yield chunk
            except (httpx.TransportError, GatewayError) as exc:
                metrics.upstream_errors.labels("upstream_unavailable").inc()
                # The status line is already sent: report the failure as the stream's last events.
                for event in ending.lost(exc):
                    yield event
                return
        if not ending.ended():
            metrics.upstream_errors.labels("upstream_unavailable").inc()
            for event in ending.lost(None):
                yield event

    media_type = resp.headers.get("content-type", sse.MEDIA_TYPE)
    return StreamingResponse(relay_chunks(), status_code=resp.status_code, media_type=media_type)


def _is_json_object(resp: httpx.Response) -> bool:
    # Constant-time: the content type and the first and last bytes (a body cut short, or a text
    # or HTML page, fails it), not a parse of what is relayed unparsed.
    content = resp.content.strip()
    return (
        resp.headers.get("content-type", "").startswith("application/json")
        and content[:1] == b"{"
        and content[-1:] == b"}"
    )
