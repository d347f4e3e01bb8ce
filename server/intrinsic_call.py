"""Serve an intrinsic: rewrite the chat for its adapter, call vLLM, transform the answer.

The client's conversation is rewritten by the intrinsics core (instruction turn, guided JSON
schema, greedy decoding, logprobs), sent to the adapter non-streamed, and the adapter's raw
JSON is turned into the intrinsic's result (for uncertainty ``{"certainty": 0.xx}``) which is
answered as an ordinary chat completion. A streaming client gets that completion as one
content chunk, then ``[DONE]``.
"""

from __future__ import annotations

import orjson
from fastapi import Request
from fastapi.responses import Response, StreamingResponse

import intrinsics

from .deps import Gateway
from .disconnect import until_disconnect
from .errors import AdapterOutputError, InvalidRequest
from .passthrough import CHAT_PATH

#: Gateway-only request fields: read here, never sent to vLLM.
KWARGS_FIELD = "intrinsic_kwargs"


async def adapter_call(gw: Gateway, intrinsic: "intrinsics.Intrinsic", payload: dict, request: Request | None = None) -> tuple[dict, dict]:
    """Rewrite a chat request ``payload`` for ``intrinsic`` and send it to its adapter.

    Returns (the rewritten request, vLLM's raw response). Raises ``InvalidRequest`` (400)
    for requests the intrinsic cannot take; vLLM failures raise the upstream errors."""
    kwargs = payload.get(KWARGS_FIELD) or {}
    if not isinstance(kwargs, dict):
        raise InvalidRequest(f"'{KWARGS_FIELD}' must be an object of instruction arguments.", param=KWARGS_FIELD)
    # The adapter call itself is never streamed: the result exists only once it is complete.
    payload = {k: v for k, v in payload.items() if k not in ("stream", "stream_options", "certainty", KWARGS_FIELD)}
    try:
        rewritten = intrinsic.rewrite(payload, **kwargs)
    except intrinsics.RequestError as exc:
        raise InvalidRequest(str(exc), param=exc.field) from None
    work = gw.upstream.post_json(CHAT_PATH, rewritten)
    return rewritten, await (until_disconnect(request, work) if request is not None else work)


def output_error(name: str, exc: "intrinsics.OutputError") -> AdapterOutputError:
    """The 502 for adapter output the intrinsic cannot use; the message quotes the raw output."""
    return AdapterOutputError(f"The '{name}' adapter's output cannot be used: {exc}", param="model")


async def call_intrinsic(gw: Gateway, name: str, intrinsic: "intrinsics.Intrinsic", payload: dict, request: Request | None = None) -> dict:
    """Run intrinsic ``name`` on a chat request ``payload``; return the processed completion
    (each choice's content is the JSON of its result, e.g. ``{"certainty": 0.46}``)."""
    rewritten, response = await adapter_call(gw, intrinsic, payload, request)
    try:
        return intrinsic.process(response, rewritten)
    except intrinsics.OutputError as exc:
        raise output_error(name, exc) from None


async def run_intrinsic(request: Request, gw: Gateway, name: str, intrinsic, payload: dict) -> Response:
    """The HTTP answer for an intrinsic request, streamed (one chunk + ``[DONE]``) or not."""
    result = await call_intrinsic(gw, name, intrinsic, payload, request)
    for choice in result.get("choices", []):
        value = orjson.loads(choice["message"]["content"])
        if isinstance(value, dict) and isinstance(value.get("certainty"), float):
            gw.metrics.certainty.labels(name).observe(value["certainty"])
    if not payload.get("stream"):
        return Response(orjson.dumps(result), media_type="application/json")
    usage = bool((payload.get("stream_options") or {}).get("include_usage"))
    return StreamingResponse(iter(as_sse(result, usage)), media_type="text/event-stream")


def as_sse(completion: dict, include_usage: bool = False) -> list[bytes]:
    """A finished chat completion as the SSE events of a stream: one chunk, usage, ``[DONE]``."""
    base = {"id": completion.get("id"), "object": "chat.completion.chunk", "created": completion.get("created"),
            "model": completion.get("model")}  # fmt: skip
    choices = [
        {**{k: v for k, v in c.items() if k != "message"}, "index": c.get("index", i), "logprobs": None,
         "delta": {"role": "assistant", **{k: v for k, v in (c.get("message") or {}).items() if k != "role"}}}
        for i, c in enumerate(completion.get("choices", []))
    ]  # fmt: skip
    events = [{**base, "choices": choices}]
    if include_usage:
        events.append({**base, "choices": [], "usage": completion.get("usage")})
    return [b"data: " + orjson.dumps(e) + b"\n\n" for e in events] + [b"data: [DONE]\n\n"]
