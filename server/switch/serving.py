"""Answer a base-model chat request that selects an adapter, as Granite Switch on vLLM answers it.

The client (mellea's OpenAI backend) has already rewritten the conversation from the adapter's
io.yaml and applies its transformations itself, so the gateway does neither: the request goes to
the adapter as it came, with ``model`` := the adapter's name in vLLM and ``adapter_name`` taken
out of ``chat_template_kwargs``, and vLLM's raw completion (content and logprobs, every choice,
streamed or not) comes back under the model name the client sent.
"""

from __future__ import annotations

import logging
from contextlib import aclosing

import httpx
import orjson
from fastapi.responses import Response, StreamingResponse

from ..certainty import FIELD as CERTAINTY
from ..deps import Gateway
from ..errors import InvalidRequest
from ..passthrough import forward
from ..relay import not_an_answer, relay_response
from .selection import FIELD, NAME, PARAM

log = logging.getLogger("granite_certainty")

#: Gateway extensions that ask for the gateway's own work on the answer, which a request that
#: selects an adapter has done itself (or cannot have): refused rather than silently dropped.
NOT_WITH_ADAPTER = ("intrinsic_kwargs", CERTAINTY, "intrinsics")


async def answer_adapter(gw: Gateway, payload: dict, adapter: str, *, stream: bool) -> Response:
    """vLLM's answer from ``adapter`` to ``payload`` (a base-model chat request that selects it),
    under the client's model name; a 400 for a request that cannot be answered this way."""
    model = payload.get("model")
    check_request(gw, payload, adapter)
    body = orjson.dumps(adapter_payload(payload, adapter))
    log.info("chat request for the adapter %r (selected by %s)", adapter, PARAM)
    if not stream:
        return renamed_answer(await gw.upstream.post(gw.upstream.chat_path, body), model)
    response = await forward(gw.upstream, body, stream=True, path=gw.upstream.chat_path, metrics=gw.metrics)
    if isinstance(response, StreamingResponse):
        response.body_iterator = renamed_events(response.body_iterator, model)
    return response


def check_request(gw: Gateway, payload: dict, adapter: str) -> None:
    """Refuse what an adapter selected by name cannot answer: another model than the base model
    (an intrinsic's name already selects its adapter), or a gateway extension that asks for work
    on the answer (``certainty``, ``intrinsics``, ``intrinsic_kwargs``)."""
    if payload.get("model") != gw.served_name:
        raise InvalidRequest(
            f"model: {PARAM} selects an adapter of the base model '{gw.served_name}'; send that model name "
            f"(or the model '{adapter}' without {PARAM}, to have the gateway rewrite the request).",
            param="model",
        )
    for field in NOT_WITH_ADAPTER:
        if payload.get(field) not in (None, False):
            raise InvalidRequest(
                f"{field}: not accepted with {PARAM}: the adapter's raw answer is returned as vLLM gives it.",
                param=field,
            )


def adapter_payload(payload: dict, adapter: str) -> dict:
    """The request vLLM gets: ``model`` := the adapter, no ``adapter_name`` (vLLM would pass it to
    the chat template), no gateway extension; every other field as the client sent it."""
    out = {k: v for k, v in payload.items() if k not in NOT_WITH_ADAPTER}
    kwargs = {k: v for k, v in payload[FIELD].items() if k != NAME}
    out["model"] = adapter
    if kwargs:
        out[FIELD] = kwargs
    else:
        del out[FIELD]
    return out


def renamed_answer(resp: httpx.Response, model: str) -> Response:
    """vLLM's non-streamed answer with the client's ``model`` name; its errors in the OpenAI shape,
    a success that is not a JSON object a 502."""
    if resp.status_code >= 400:
        return relay_response(resp, resp.content)
    try:
        completion = orjson.loads(resp.content)
    except orjson.JSONDecodeError:
        completion = None
    if not isinstance(completion, dict):
        return not_an_answer(resp).response()
    completion["model"] = model
    return Response(orjson.dumps(completion), status_code=resp.status_code, media_type="application/json")


async def renamed_events(chunks, model: str):
    """The relayed SSE stream ``chunks`` with the client's ``model`` name in every event that has
    one; events are rewritten whole (a chunk may end mid-event), the rest passes as it came.
    Closing this closes ``chunks`` (which is how a client that leaves cancels vLLM's work)."""
    pending = b""
    async with aclosing(chunks):
        async for chunk in chunks:
            complete, sep, pending = (pending + chunk).rpartition(b"\n\n")
            if sep:
                yield renamed_block(complete + sep, model)
    if pending:
        yield pending


def renamed_block(block: bytes, model: str) -> bytes:
    """Whole SSE events with ``"model"`` set to ``model`` in each JSON object event that has one."""
    lines = block.split(b"\n")
    for i, line in enumerate(lines):
        if not line.startswith(b"data:"):
            continue
        try:
            event = orjson.loads(line[5:])
        except orjson.JSONDecodeError:
            continue  # [DONE], or not JSON: as it came
        if isinstance(event, dict) and "model" in event:
            event["model"] = model
            lines[i] = b"data: " + orjson.dumps(event)
    return b"\n".join(lines)
