"""The routes of the passed-through endpoints, built from ``table``; ``serving`` answers them all."""

from __future__ import annotations

import re

from fastapi import APIRouter, Depends, Request
from fastapi.responses import Response

from ..deps import GatewayDep, require_api_key
from ..disconnect import with_cancellation
from ..openapi import ERRORS, REF
from ..responses import ResponsesCertainty
from . import serving
from .auth import require_admin_key
from .table import ADMIN, PUBLIC, Endpoint

#: What the OpenAPI document says each kind of body is (the gateway reads only these fields).
BODIES = {
    "json": {"application/json": {"schema": {"type": "object", "properties": {"model": {"type": "string"}}}}},
    "multipart": {
        "multipart/form-data": {
            "schema": {
                "type": "object",
                "required": ["file"],
                "properties": {"file": {"type": "string", "format": "binary"}, "model": {"type": "string"}},
            }
        }
    },
}
#: The optional query of ``GET /v1/responses/{response_id}`` (relayed with every other query).
QUERIES = {"/v1/responses/{response_id}": {"stream": "boolean", "starting_after": "integer"}}


def openapi_extra(endpoint: Endpoint) -> dict:
    """The request body and parameters of ``endpoint`` for the OpenAPI document (the route reads
    its request itself, so FastAPI cannot see them)."""
    params = [
        {"name": name, "in": "path", "required": True, "schema": {"type": "string"}}
        for name in re.findall(r"{(\w+)}", endpoint.path)
    ]
    params += [
        {"name": name, "in": "query", "required": False, "schema": {"type": kind}}
        for name, kind in QUERIES.get(endpoint.path, {}).items()
    ]
    extra: dict = {"parameters": params} if params else {}
    if endpoint.body:
        extra["requestBody"] = {"required": True, "content": BODIES[endpoint.body]}
    if endpoint.certainty:
        # The one more field the gateway reads there (the chat request's CertaintyRequest is a component).
        field = ResponsesCertainty.model_json_schema(ref_template=REF)["properties"]["certainty"]
        schema = BODIES["json"]["application/json"]["schema"]
        body = {**schema, "properties": {**schema["properties"], "certainty": field}}
        extra["requestBody"] = {"required": True, "content": {"application/json": {"schema": body}}}
    return extra


def route_for(endpoint: Endpoint):
    """The route function of one endpoint: relay it, cancelled when the client leaves."""

    @with_cancellation
    async def relay(request: Request, gw: GatewayDep) -> Response:
        return await serving.relay(request, gw, endpoint)

    return relay


def build(endpoints: tuple[Endpoint, ...], auth, *, documented: bool) -> APIRouter:
    """One router for ``endpoints``, each checked by ``auth`` and relayed to vLLM."""
    router = APIRouter(dependencies=[Depends(auth)])
    for ep in endpoints:
        router.add_api_route(
            ep.path,
            route_for(ep),
            methods=[ep.method],
            name="relay_" + re.sub(r"\W+", "_", ep.path).strip("_"),
            summary=ep.summary,
            responses=ERRORS,
            openapi_extra=openapi_extra(ep),
            include_in_schema=documented,
        )
    return router


#: vLLM's OpenAI endpoints (and ``/tokenize``, ``/version``...), open to every API key.
router = build(PUBLIC, require_api_key, documented=True)
#: vLLM's admin endpoints; ``create_app`` includes them only when ``admin.api_key`` is set.
admin_router = build(ADMIN, require_admin_key, documented=False)
