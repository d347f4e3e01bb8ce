"""Server-sent events, as OpenAI streams them: ``data: <json>`` events, then ``data: [DONE]``.

Every streamed answer the gateway writes is framed here: the events of a finished completion
(an intrinsic's result, a guarded answer), the extra certainty chunks, and the error event
that ends a stream whose upstream failed after the status line was sent (then ``[DONE]``, as
vLLM ends its own failed streams, so that every stream ends well-formed). Reading vLLM's
events is httpx-sse's job; pass-through streams are relayed as raw bytes and never parsed.
"""

from __future__ import annotations

from collections.abc import AsyncIterator

import httpx
import orjson
from httpx_sse import EventSource, ServerSentEvent

from .errors import error_body

MEDIA_TYPE = "text/event-stream"
#: The data of the event that ends a stream.
DONE_DATA = "[DONE]"
DONE = b"data: [DONE]\n\n"


def event(obj: dict) -> bytes:
    """One ``data:`` event carrying ``obj`` as JSON."""
    return b"data: " + orjson.dumps(obj) + b"\n\n"


def encode(sse: ServerSentEvent) -> bytes:
    """An event read from upstream, written back as it came (its data lines; no event name,
    id or retry: OpenAI streams have none)."""
    return b"".join(b"data: " + line.encode() + b"\n" for line in sse.data.split("\n")) + b"\n"


def include_usage(payload: dict) -> bool:
    """Whether a chat request asks for the final usage chunk (``stream_options.include_usage``)."""
    options = payload.get("stream_options")
    return isinstance(options, dict) and bool(options.get("include_usage"))


def upstream_lost(exc: BaseException | None) -> list[bytes]:
    """The end of a stream whose upstream broke mid-way (``exc``; ``None``: it stopped without
    ``[DONE]``): an OpenAI error event, then ``[DONE]``."""
    why = f"connection lost mid-stream: {type(exc).__name__}" if exc else "stream ended without [DONE]"
    return [event(error_body(f"vLLM {why}", "upstream_error", code="upstream_unavailable")), DONE]


def ends_done(tail: bytes) -> bool:
    """Whether the last bytes of a raw SSE stream are its ``[DONE]`` event (any line ending)."""
    return tail.rstrip(b"\r\n").endswith(b"data: [DONE]") or tail.rstrip(b"\r\n").endswith(b"data:[DONE]")


def completion_events(completion: dict, with_usage: bool = False) -> list[bytes]:
    """A finished chat completion as the events of a stream: one chunk, usage if asked, ``[DONE]``."""
    base = {
        "id": completion.get("id"),
        "object": "chat.completion.chunk",
        "created": completion.get("created"),
        "model": completion.get("model"),
    }
    choices = [_as_delta(i, c) for i, c in enumerate(completion.get("choices", []))]
    events = [{**base, "choices": choices}]
    if with_usage:
        events.append({**base, "choices": [], "usage": completion.get("usage")})
    return [*(event(e) for e in events), DONE]


def _as_delta(i: int, choice: dict) -> dict:
    message = choice.get("message") or {}
    # vLLM writes unset message fields as null (``function_call``, ``annotations``), which
    # OpenAI's chunk schema does not allow; a delta simply leaves them out.
    fields = {k: v for k, v in message.items() if k != "role" and (v is not None or k == "content")}
    delta = {"role": "assistant", **fields}
    fields = {k: v for k, v in choice.items() if k != "message"}
    return {**fields, "index": choice.get("index", i), "logprobs": None, "delta": delta}


async def aiter_events(resp: httpx.Response) -> AsyncIterator[ServerSentEvent]:
    """The events of an upstream SSE response (comments and keep-alives are skipped)."""
    async for sse in EventSource(resp).aiter_sse():
        yield sse
