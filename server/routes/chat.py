"""``POST /v1/chat/completions``: the base model passes through; an intrinsic's name runs it."""

from __future__ import annotations

import orjson
from fastapi import APIRouter, Depends, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import Response
from pydantic import ValidationError

from .. import guard
from ..certainty_stream import stream_with_certainty
from ..deps import GatewayDep, require_api_key
from ..disconnect import until_disconnect
from ..errors import InvalidRequest, ModelNotFound
from ..intrinsic_call import run_intrinsic
from ..passthrough import forward
from ..protocol import ChatCompletionRequest

router = APIRouter(dependencies=[Depends(require_api_key)])


@router.post("/v1/chat/completions")
async def chat_completions(request: Request, gw: GatewayDep) -> Response:
    """Dispatch on ``model``: the base model, an intrinsic, or 404."""
    body = await request.body()
    payload = parse_body(body)
    try:
        chat = ChatCompletionRequest.model_validate(payload)
    except ValidationError as exc:
        raise RequestValidationError(exc.errors()) from None
    if chat.model == gw.served_name:
        request.state.model = chat.model
        return await answer_base(request, gw, body, payload, stream=bool(chat.stream))
    intrinsic = gw.intrinsics.get(chat.model)
    request.state.model = chat.model if intrinsic else "unknown"
    if intrinsic is None:
        raise ModelNotFound(f"The model '{chat.model}' does not exist; see GET /v1/models.", param="model")
    return await run_intrinsic(request, gw, chat.model, intrinsic, payload)


async def answer_base(request: Request, gw: GatewayDep, body: bytes, payload: dict, *, stream: bool) -> Response:
    """The base model's answer: passed through untouched, or scored when ``certainty`` asks."""
    opts = guard.options(payload.get("certainty"), gw.settings.certainty, gw.fallback is not None)
    if opts is None:
        body = body if "certainty" not in payload else orjson.dumps(guard.strip_extension(payload))
        return await forward(request, gw.upstream, body, stream=stream)
    if stream:
        return await stream_with_certainty(request, gw, payload, opts)
    completion = await until_disconnect(request, guard.answer_with_certainty(gw, payload, opts))
    return Response(orjson.dumps(completion), media_type="application/json")


def parse_body(body: bytes) -> dict:
    """The request body as a JSON object, or a 400 saying what is wrong with it."""
    try:
        payload = orjson.loads(body)
    except orjson.JSONDecodeError as exc:
        raise InvalidRequest(f"The request body is not valid JSON: {exc}") from None
    if not isinstance(payload, dict):
        raise InvalidRequest("The request body must be a JSON object.")
    return payload
