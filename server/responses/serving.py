"""A Responses API answer with its certainty: what the request asks (``resolve``), the body of one
that asks nothing (``request_body``), and the one entry (``respond``), streamed or not."""

from __future__ import annotations

import orjson
from fastapi.exceptions import RequestValidationError
from fastapi.responses import Response
from pydantic import ValidationError

from ..certainty import FIELD, Options, certainty_headers, resolve_options, strip_extension
from ..deps import Gateway
from .call import ResponsesCall, answer_whole
from .protocol import ResponsesCertainty
from .streaming import answer_sse


def resolve(gw: Gateway, payload: dict) -> Options | None:
    """What the request asks of the certainty feature (``None``: nothing, pass it through), over the
    server's defaults as on chat; a malformed ``certainty`` is a 400 naming it."""
    if FIELD not in payload and not gw.settings.certainty.always:
        return None  # the common case: no validation, the request stays a pass-through
    try:
        asked = ResponsesCertainty.model_validate({FIELD: payload.get(FIELD)})
    except ValidationError as exc:
        raise RequestValidationError(exc.errors()) from None
    return resolve_options(asked.certainty, gw.settings.certainty, gw.fallback is not None)


def request_body(payload: dict, body: bytes) -> bytes:
    """The body to pass through for a request that does not ask for certainty: as it came, or
    without the field when it says ``"certainty": false`` (vLLM does not know it)."""
    return orjson.dumps(strip_extension(payload)) if FIELD in payload else body


async def respond(gw: Gateway, payload: dict, opts: Options, *, stream: bool) -> Response:
    """The answer to a Responses request that asks for certainty: SSE when ``stream``, else JSON."""
    call = ResponsesCall(gw, payload, opts)
    if stream:
        return await answer_sse(gw, call)
    response = await answer_whole(gw, call)
    # The certainty also in headers (``x-certainty``...), as on chat, for clients that drop unknown fields.
    headers = certainty_headers({"choices": [response.get(FIELD) or {}]}, opts)
    return Response(orjson.dumps(response), media_type="application/json", headers=headers)
