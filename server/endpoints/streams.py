"""The end of a relayed Responses API stream, which has no ``[DONE]``.

vLLM writes a Responses stream as named events (``event: response.output_text.delta``...) that
end with a terminal one (``response.completed``, ``response.incomplete``, ``response.failed`` or
``error``). A stream that breaks, or stops before a terminal event, gets one more: an ``error``
event in the Responses shape (``type``, ``code``, ``message``, ``param``) that also carries the
OpenAI error object under ``error``, which is what makes the OpenAI SDK raise it. The relay is
byte for byte; only the event names are looked at, on each chunk and a short carry-over.
"""

from __future__ import annotations

import re
from contextlib import AsyncExitStack

import httpx
import orjson
from fastapi.responses import StreamingResponse

from ..errors import GatewayError, error_body
from ..metrics import Metrics
from ..sse import MEDIA_TYPE

#: The events that end a Responses stream.
TERMINAL = frozenset({b"response.completed", b"response.incomplete", b"response.failed", b"error"})
EVENT_NAME = re.compile(rb"(?:^|\n)event: ?([^\r\n]*)\r?\n")
#: Bytes of one chunk kept to find an event line that the next chunk completes.
CARRY = 128


def lost_event(exc: BaseException | None) -> bytes:
    """The ``error`` event that ends a Responses stream whose upstream broke (``exc``) or stopped short."""
    why = f"connection lost mid-stream: {type(exc).__name__}" if exc else "stream ended without a final event"
    body = error_body(f"vLLM {why}", "upstream_error", code="upstream_unavailable")
    data = {"type": "error", "code": "upstream_unavailable", "message": body["error"]["message"], "param": None}
    return b"event: error\ndata: " + orjson.dumps({**data, **body}) + b"\n\n"


def relay_events(resp: httpx.Response, stack: AsyncExitStack, metrics: Metrics) -> StreamingResponse:
    """vLLM's open Responses stream relayed byte for byte, ended with an ``error`` event when it
    breaks or stops before a terminal event; ``stack`` closes the upstream response at the end."""

    async def chunks():
        last, carry = None, b""
        async with stack:
            try:
                async for chunk in resp.aiter_bytes():
                    window = carry + chunk
                    names = EVENT_NAME.findall(window)
                    last = names[-1].strip() if names else last
                    carry = window[-CARRY:]
                    yield chunk
            except (httpx.TransportError, GatewayError) as exc:
                metrics.upstream_errors.labels("upstream_unavailable").inc()
                yield lost_event(exc)
                return
        if last not in TERMINAL:
            metrics.upstream_errors.labels("upstream_unavailable").inc()
            yield lost_event(None)

    media_type = resp.headers.get("content-type", MEDIA_TYPE)
    return StreamingResponse(chunks(), status_code=resp.status_code, media_type=media_type)
