"""Serve an intrinsic: rewrite the chat for its adapter, call vLLM, transform the answer.

The client's conversation is rewritten by the intrinsics core (instruction turn, guided JSON
schema, greedy decoding, logprobs), sent to the adapter non-streamed, and the adapter's raw
JSON is turned into the intrinsic's result (for uncertainty ``{"certainty": 0.xx}``), which is
answered as an ordinary chat completion. A streaming client gets that completion as one
content chunk, then ``[DONE]``. The certainty feature scores answers through ``adapter_call``.
"""

from __future__ import annotations

import orjson
from fastapi.responses import Response, StreamingResponse

import intrinsics

from .. import sse
from ..deps import Gateway
from ..errors import AdapterOutputError, InvalidRequest, from_intrinsics

#: Gateway-only request field: arguments for an intrinsic's instruction, never sent to vLLM.
KWARGS_FIELD = "intrinsic_kwargs"
#: Message fields OpenAI requires even when null.
REQUIRED = ("content", "refusal")
#: Fields an adapter call never forwards: it is never streamed (the result exists only once it
#: is complete), and the gateway's own extensions are not vLLM's.
NOT_FORWARDED = ("stream", "stream_options", "certainty", "intrinsics", KWARGS_FIELD)


def adapter_request(
    intrinsic: intrinsics.Intrinsic, payload: dict, kwargs: dict | None = None, kwargs_param: str = KWARGS_FIELD
) -> dict:
    """The chat request ``payload`` rewritten for ``intrinsic``'s adapter; ``InvalidRequest``
    (400) for a request the intrinsic cannot take. The instruction's arguments are ``kwargs``,
    else the request's ``intrinsic_kwargs``; ``kwargs_param`` names where they came from."""
    if kwargs is None:
        kwargs = payload.get(KWARGS_FIELD) or {}  # an object: the request model has checked it
    payload = {k: v for k, v in payload.items() if k not in NOT_FORWARDED}
    try:
        return intrinsic.rewrite(payload, **kwargs)
    except intrinsics.RequestError as exc:
        if exc.field == "instruction_kwargs":  # the library's name for what the request calls otherwise
            raise InvalidRequest(f"{kwargs_param}: {exc.what}", param=kwargs_param) from None
        raise from_intrinsics(intrinsic.name, exc) from None
    except intrinsics.IntrinsicError as exc:
        raise from_intrinsics(intrinsic.name, exc) from None


async def adapter_call(gw: Gateway, intrinsic: intrinsics.Intrinsic, payload: dict) -> tuple[dict, dict]:
    """Rewrite a chat request ``payload`` for ``intrinsic`` and send it to its adapter.

    Returns (the rewritten request, vLLM's raw response). Raises ``InvalidRequest`` (400)
    for requests the intrinsic cannot take; vLLM failures raise the upstream errors."""
    rewritten = adapter_request(intrinsic, payload)
    return rewritten, await gw.upstream.post_json(gw.upstream.chat_path, rewritten)


async def call_intrinsic(gw: Gateway, intrinsic: intrinsics.Intrinsic, payload: dict) -> tuple[dict, list]:
    """Run ``intrinsic`` on a chat request ``payload``: vLLM's completion and the intrinsic's
    result of each of its choices, structured (e.g. ``{"certainty": 0.46}``)."""
    name = intrinsic.name
    rewritten, response = await adapter_call(gw, intrinsic, payload)
    try:
        return response, intrinsic.results(response, rewritten)
    except intrinsics.IntrinsicError as exc:
        raise from_intrinsics(name, exc) from None
    except (TypeError, AttributeError, KeyError, IndexError, ValueError, RecursionError) as exc:
        # vLLM's answer is not shaped as a chat completion at all (e.g. ``choices`` not a list).
        raise AdapterOutputError(
            f"The '{name}' adapter's answer is not a chat completion ({type(exc).__name__}).", param="model"
        ) from None


def served_completion(response: dict, results: list) -> dict:
    """The gateway's own chat completion of an intrinsic: each choice's content the JSON of its
    result, in OpenAI's shape (``logprobs`` present and null, no null-valued message fields such
    as vLLM's ``function_call: null``, no null usage details: an object or absent)."""
    choices = intrinsics.served_choices(response["choices"], results)
    for choice in choices:
        choice.setdefault("logprobs", None)
        choice["message"] = {k: v for k, v in choice["message"].items() if v is not None or k in REQUIRED}
    completion = {**response, "choices": choices}
    if isinstance(response.get("usage"), dict):
        completion["usage"] = {k: v for k, v in response["usage"].items() if v is not None}
    return completion


async def run_intrinsic(gw: Gateway, intrinsic: intrinsics.Intrinsic, payload: dict, *, stream: bool) -> Response:
    """The HTTP answer for an intrinsic request, streamed (one chunk + ``[DONE]``) or not."""
    response, results = await call_intrinsic(gw, intrinsic, payload)
    for value in results:
        if isinstance(value, dict) and isinstance(value.get("certainty"), float):
            gw.metrics.certainty.labels(intrinsic.name).observe(value["certainty"])
    result = served_completion(response, results)
    if not stream:
        return Response(orjson.dumps(result), media_type="application/json")
    events = sse.completion_events(result, sse.include_usage(payload))
    return StreamingResponse(iter(events), media_type=sse.MEDIA_TYPE)
