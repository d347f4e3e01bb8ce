"""``POST /v1/chat/completions``: the route; ``serving`` decides what answers it."""

from __future__ import annotations

from fastapi import APIRouter, Depends, Request
from fastapi.responses import Response

from ..deps import GatewayDep, require_api_key
from ..disconnect import with_cancellation
from ..openapi import ERRORS, request_body
from . import serving
from .protocol import ChatCompletionRequest

router = APIRouter(dependencies=[Depends(require_api_key)])


@router.post(
    "/v1/chat/completions",
    openapi_extra=request_body(ChatCompletionRequest),
    responses=ERRORS,
    summary="Create a chat completion",
)
@with_cancellation
async def create_chat_completion(request: Request, gw: GatewayDep) -> Response:
    """A chat completion from the base model (with certainty if asked) or from an intrinsic."""
    return await serving.chat_completion(request, gw)
