"""Dispatch a chat request on its ``model``: the base model, an intrinsic, or 404.

The body is read once and validated once. The base model's requests go to vLLM as they came
(pass-through) unless they ask for certainty; an intrinsic's name runs that intrinsic. A request
that selects an adapter by ``chat_template_kwargs.adapter_name`` (Granite Switch) is answered by
that adapter, or refused when the gateway does not serve it.
"""

from __future__ import annotations

import orjson
from fastapi import Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import Response
from pydantic import ValidationError

from .. import certainty, switch
from ..deps import Gateway
from ..errors import InvalidRequest, ModelNotFound
from ..intrinsic import run_intrinsic
from ..passthrough import forward
from .protocol import ChatCompletionRequest


async def chat_completion(request: Request, gw: Gateway) -> Response:
    """Answer one ``POST /v1/chat/completions``."""
    body = await request.body()
    payload = parse_body(body, gw.settings.limits.max_json_depth)
    try:
        chat = ChatCompletionRequest.model_validate(payload, context=gw.validation_context)
    except ValidationError as exc:
        raise RequestValidationError(exc.errors()) from None
    stream = bool(chat.stream)
    adapter = switch.requested_adapter(gw, payload)
    if adapter is not None:
        request.state.model = adapter
        return await switch.answer_adapter(gw, payload, adapter, stream=stream)
    if chat.model == gw.served_name:
        request.state.model = chat.model
        return await answer_base(gw, body, payload, chat)
    intrinsic = gw.intrinsics.get(chat.model)
    request.state.model = chat.model if intrinsic else "unknown"
    if intrinsic is None:
        raise ModelNotFound(f"The model '{chat.model}' does not exist; see GET /v1/models.", param="model")
    return await run_intrinsic(gw, intrinsic, payload, stream=stream)


async def answer_base(gw: Gateway, body: bytes, payload: dict, chat: ChatCompletionRequest) -> Response:
    """The base model's answer: passed through untouched, or with its certainty and the other
    intrinsics it asked for."""
    asked = certainty.asked_intrinsics(gw, chat.intrinsics, payload)
    opts = certainty.resolve_options(chat.certainty, gw.settings.certainty, gw.fallback is not None, asked)
    stream = bool(chat.stream)
    if opts is None:
        if any(field in payload for field in certainty.EXTENSIONS):
            body = orjson.dumps(certainty.strip_extension(payload))
        return await forward(gw.upstream, body, stream=stream, path=gw.upstream.chat_path, metrics=gw.metrics)
    max_n = gw.settings.limits.max_n
    if (chat.n or 1) > max_n:
        raise InvalidRequest(f"n: at most {max_n} choices are scored for certainty, got {chat.n}.", param="n")
    return await certainty.respond(gw, payload, opts, stream=stream)


def parse_body(body: bytes, max_depth: int) -> dict:
    """The request body as a JSON object no deeper than ``max_depth``, or a 400 saying what is wrong."""
    try:
        payload = orjson.loads(body)
    except orjson.JSONDecodeError as exc:
        raise InvalidRequest(f"The request body is not valid JSON: {exc}") from None
    if not isinstance(payload, dict):
        raise InvalidRequest("The request body must be a JSON object.")
    if too_deep(payload, max_depth):
        raise InvalidRequest(f"The request body is nested deeper than {max_depth} levels.")
    return payload


def too_deep(value: object, max_depth: int) -> bool:
    """Whether JSON ``value`` nests containers more than ``max_depth`` deep (iterative: a deep
    value must not exhaust the stack of the check meant to refuse it)."""
    stack = [(value, 1)]
    while stack:
        item, depth = stack.pop()
        if depth > max_depth:
            return True
        children = item.values() if isinstance(item, dict) else item
        stack.extend((c, depth + 1) for c in children if isinstance(c, (dict, list)))
    return False
