"""Relay one request to the same vLLM endpoint, bytes in and bytes out.

The body is forwarded unchanged with its content type (a JSON object, a multipart upload), the
path and query as the client sent them. The gateway reads only what it must: a JSON body's
``model`` (the base model passes; an intrinsic's name is a 400, since only chat serves
intrinsics; any other name a 404, as chat answers it), ``chat_template_kwargs.adapter_name``
(any is a 400: vLLM would answer with the base model) and ``stream``; on ``POST /v1/responses``
also ``certainty``, which hands the request to ``server/responses``. The answer is relayed as
it came: an SSE stream byte for byte and ended well-formed, anything else with its status and
content type, vLLM's errors in the OpenAI shape with vLLM's status.
"""

from __future__ import annotations

from contextlib import AsyncExitStack

from fastapi import Request
from fastapi.responses import Response

from ..chat import parse_body
from ..deps import Gateway
from ..errors import InvalidRequest, ModelNotFound
from ..passthrough import relay_stream
from ..relay import not_a_stream, not_an_answer, relay_response
from ..responses import ResponsesEnding, request_body, resolve, respond
from ..sse import MEDIA_TYPE as SSE
from ..switch import refuse_adapter
from .table import Endpoint

#: The endpoint that serves intrinsics, named in the 400 every other endpoint answers them with.
INTRINSICS_ENDPOINT = "POST /v1/chat/completions"


async def relay(request: Request, gw: Gateway, endpoint: Endpoint) -> Response:
    """Answer one request to a passed-through ``endpoint`` with vLLM's answer to it."""
    body = await request.body()
    stream = False
    if endpoint.body == "json":
        payload = parse_body(body, gw.settings.limits.max_json_depth)
        check_model(request, gw, payload.get("model"), endpoint)
        refuse_adapter(gw, payload, f"{endpoint.method} {endpoint.path}")
        stream = endpoint.streams and payload.get("stream") is True
        if endpoint.certainty:
            opts = resolve(gw, payload)
            if opts is not None:
                return await respond(gw, payload, opts, stream=stream)
            body = request_body(payload, body)
    elif endpoint.body == "multipart":
        check_model(request, gw, await _form_model(request), endpoint)
    return await exchange(gw, request, body, stream=stream, events=endpoint.events)


def check_model(request: Request, gw: Gateway, model: object, endpoint: Endpoint) -> None:
    """Let the base model's name (or none: vLLM's default) through; refuse an intrinsic's name
    (400: only chat serves intrinsics) and any other (404, as chat does)."""
    if model is None or model == gw.served_name:
        request.state.model = gw.served_name
        return
    if not isinstance(model, str):
        raise InvalidRequest("model: must be a string.", param="model")
    if model in gw.intrinsics:
        request.state.model = model
        raise InvalidRequest(
            f"'{model}' is an intrinsic: {endpoint.method} {endpoint.path} cannot serve it; "
            f"intrinsics are served by {INTRINSICS_ENDPOINT}.",
            param="model",
        )
    request.state.model = "unknown"
    raise ModelNotFound(f"The model '{model}' does not exist; see GET /v1/models.", param="model")


async def exchange(gw: Gateway, request: Request, body: bytes, *, stream: bool, events: bool = False) -> Response:
    """Send the request on to vLLM (same method, path, query, body and content type) and relay
    its answer; ``stream``: the client asked for SSE, so any other success is a 502; ``events``:
    a stream is the Responses API's (it ends with a terminal event, not ``[DONE]``)."""
    target = request.scope.get("raw_path", request.url.path.encode()).decode("latin-1")
    if request.url.query:
        target += "?" + request.url.query
    content_type = request.headers.get("content-type")
    headers = {"content-type": content_type} if content_type and body else None
    stack = AsyncExitStack()
    resp = await stack.enter_async_context(gw.upstream.exchange(request.method, target, body, headers))
    if resp.status_code < 400 and resp.headers.get("content-type", "").startswith(SSE):
        return relay_stream(resp, stack, gw.metrics, ResponsesEnding() if events else None)
    if stream:
        return await not_a_stream(resp, stack)
    async with stack:
        content = resp.content
    if resp.status_code < 400 and resp.headers.get("content-type", "").startswith("text/html"):
        return not_an_answer(resp).response()  # a proxy's page, not vLLM's answer
    return relay_response(resp, content)


async def _form_model(request: Request) -> object:
    # The upload is parsed once (its file spooled, bounded by the body limit) for its model field.
    async with request.form() as form:
        return form.get("model")
