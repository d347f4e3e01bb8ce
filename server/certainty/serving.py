"""The base model's answer with its certainty: the one entry point (``respond``), and the
non-streamed answer (the streamed one is ``streaming``)."""

from __future__ import annotations

import orjson
from fastapi.responses import Response

from ..deps import Gateway
from .call import answer_with_certainty
from .headers import certainty_headers
from .options import Options
from .streaming import answer_sse


async def respond(gw: Gateway, payload: dict, opts: Options, *, stream: bool) -> Response:
    """The answer to a base-model request that asks for certainty: SSE when ``stream``, else JSON."""
    if stream:
        return await answer_sse(gw, payload, opts)
    return await answer_json(gw, payload, opts)


async def answer_json(gw: Gateway, payload: dict, opts: Options) -> Response:
    """The JSON answer to a non-streamed base-model request that asks for certainty."""
    completion = await answer_with_certainty(gw, payload, opts)
    headers = certainty_headers(completion, opts)  # the same values, for clients that drop unknown fields
    return Response(orjson.dumps(completion), media_type="application/json", headers=headers)
