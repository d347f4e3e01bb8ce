"""The OpenAPI document (``/openapi.json``): the request schemas the routes validate against.

The chat route reads its body itself (one parse, bounded, errors in the OpenAI shape), so
FastAPI cannot see its model; ``request_body`` declares it on the route and ``install``
publishes the models' JSON schemas as components, where clients and schema-driven tools
(code generators, fuzzers) find them. Every documented error answer has ``ErrorResponse``.
"""

from __future__ import annotations

from fastapi import FastAPI
from fastapi.openapi.utils import get_openapi
from pydantic import BaseModel

from .protocol import ErrorResponse

REF = "#/components/schemas/{model}"

#: The error answers every ``/v1`` route may give, documented with the one error body.
ERRORS = {
    status: {"model": ErrorResponse, "description": what}
    for status, what in {
        400: "Invalid request",
        401: "Missing or invalid API key",
        404: "Unknown model",
        408: "Body too slow",
        413: "Body too large",
        502: "Upstream answer unusable",
        503: "Overloaded or upstream unavailable (Retry-After)",
        504: "Upstream timeout",
    }.items()
}


def request_body(model: type[BaseModel]) -> dict:
    """The ``openapi_extra`` of a route whose JSON body is ``model``."""
    schema = {"$ref": REF.format(model=model.__name__)}
    return {"requestBody": {"required": True, "content": {"application/json": {"schema": schema}}}}


def install(app: FastAPI, models: list[type[BaseModel]]) -> None:
    """Make ``app.openapi()`` include ``models`` (and the models they use) as components."""

    def openapi() -> dict:
        if app.openapi_schema is None:
            doc = get_openapi(title=app.title, version=app.version, routes=app.routes)
            components = doc.setdefault("components", {}).setdefault("schemas", {})
            for model in models:
                schema = model.model_json_schema(ref_template=REF)
                components.update(schema.pop("$defs", {}))
                components[model.__name__] = schema
            app.openapi_schema = doc
        return app.openapi_schema

    app.openapi = openapi
