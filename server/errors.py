"""One error shape for every failure: OpenAI's ``{"error": {"message", "type", "param", "code"}}``.

Exceptions the gateway raises on purpose::

    GatewayError                       (500 server_error)
     ├── InvalidRequest                400 invalid_request_error
     ├── Unauthorized                  401 authentication_error
     ├── ModelNotFound                 404 model_not_found
     ├── RequestTimeout                408 the body arrived too slowly
     ├── PayloadTooLarge               413 the body is over the limit
     ├── ServerOverloaded              503 too many requests in flight (Retry-After)
     ├── AdapterOutputError            502 bad adapter output (names the raw output)
     ├── UpstreamUnavailable           503 vLLM unreachable / connection lost
     │    └── UpstreamBusy             503 no free connection to vLLM in time (Retry-After)
     ├── UpstreamTimeout               504 vLLM too slow
     └── UpstreamStatus                vLLM's own 4xx/5xx, passed on with its message

The intrinsics library's own errors become these in one place, ``from_intrinsics``: a request
the intrinsic cannot take is a 400, adapter output it cannot use a 502. Anything else that
escapes a route becomes a 500 in the same shape, without a traceback in the body (the
traceback goes to the log).
"""

from __future__ import annotations

import logging

import orjson
from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import Response
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.requests import ClientDisconnect

import intrinsics

from .disconnect import ClientDisconnected

log = logging.getLogger("granite_certainty")


class GatewayError(Exception):
    """Base class: an HTTP status and the fields of an OpenAI error body."""

    status = 500
    type = "server_error"
    code: str | None = None
    #: Extra response headers (``Retry-After`` on load shedding, ``WWW-Authenticate`` on 401).
    headers: dict[str, str] | None = None

    def __init__(
        self,
        message: str,
        *,
        param: str | None = None,
        code: str | None = None,
        status: int | None = None,
        headers: dict[str, str] | None = None,
    ):
        super().__init__(message)
        self.message = message
        self.param = param
        if code is not None:
            self.code = code
        if status is not None:
            self.status = status
        if headers is not None:
            self.headers = headers

    def response(self) -> Response:
        """This error as the OpenAI-shaped HTTP response."""
        return error_response(
            self.status, self.message, self.type, param=self.param, code=self.code, headers=self.headers
        )


class InvalidRequest(GatewayError):
    """The request is malformed or asks for something this server cannot do."""

    status, type, code = 400, "invalid_request_error", "invalid_request"


class Unauthorized(GatewayError):
    """No valid API key was sent."""

    status, type, code = 401, "authentication_error", "invalid_api_key"
    headers = {"WWW-Authenticate": "Bearer"}


class RequestTimeout(GatewayError):
    """The request body did not arrive within the read timeout."""

    status, type, code = 408, "invalid_request_error", "request_timeout"


class PayloadTooLarge(GatewayError):
    """The request body is larger than the configured limit."""

    status, type, code = 413, "invalid_request_error", "request_too_large"


class ServerOverloaded(GatewayError):
    """The gateway is answering as many requests as it allows; the client should retry."""

    status, type, code = 503, "server_error", "server_overloaded"


class ModelNotFound(GatewayError):
    """The model is neither the base model nor an intrinsic."""

    status, type, code = 404, "invalid_request_error", "model_not_found"


class AdapterOutputError(GatewayError):
    """The adapter wrote something the intrinsic cannot use."""

    status, type, code = 502, "upstream_error", "bad_adapter_output"


class UpstreamUnavailable(GatewayError):
    """vLLM cannot be reached, or the connection broke."""

    status, type, code = 503, "upstream_error", "upstream_unavailable"


class UpstreamBusy(UpstreamUnavailable):
    """Every connection to vLLM is busy: shed load now rather than queue without bound."""

    code = "upstream_busy"


class UpstreamTimeout(GatewayError):
    """vLLM did not answer in time."""

    status, type, code = 504, "upstream_error", "upstream_timeout"


class UpstreamStatus(GatewayError):
    """vLLM answered with an error of its own; its status and message are kept."""

    type, code = "upstream_error", "upstream_error"


def from_intrinsics(name: str, exc: intrinsics.IntrinsicError) -> GatewayError:
    """The HTTP error for an intrinsics-library error raised while serving intrinsic ``name``:
    ``RequestError`` is the client's (400, naming the field), ``OutputError`` the adapter's
    (502, quoting its raw output); anything else is the server's own (a 500 that names no file)."""
    if isinstance(exc, intrinsics.RequestError):
        return InvalidRequest(str(exc), param=exc.field)
    if isinstance(exc, intrinsics.OutputError):
        return AdapterOutputError(f"The '{name}' adapter's output cannot be used: {exc}", param="model")
    return GatewayError(f"The '{name}' intrinsic failed: {type(exc).__name__}", code="internal_error")


def error_body(message: str, type: str, *, param: str | None = None, code: str | None = None) -> dict:
    """The OpenAI error object as a dict."""
    return {"error": {"message": message, "type": type, "param": param, "code": code}}


def error_response(status: int, message: str, type: str, *, param=None, code=None, headers=None) -> Response:
    """An OpenAI-shaped JSON error response."""
    body = orjson.dumps(error_body(message, type, param=param, code=code))
    return Response(body, status_code=status, media_type="application/json", headers=headers)


def describe_validation(errors: list[dict]) -> tuple[str | None, str]:
    """The parameter path (``messages.2.role``) and message of the most specific validation
    error: of a value that matches no member of a union, the member it came closest to."""
    if not errors:
        return None, "invalid request"
    best = max(errors, key=lambda e: len(_field_path(e.get("loc", ()))))
    msg = best["msg"].removeprefix("Value error, ")
    return ".".join(_field_path(best.get("loc", ()))) or None, msg


def _field_path(loc) -> list[str]:
    # pydantic names a union's member in the location ("str", "list[ContentPart]",
    # "CertaintyRequest"); a client knows only field names and indices.
    return [str(p) for p in loc if p != "body" and not (isinstance(p, str) and _is_type_tag(p))]


def _is_type_tag(part: str) -> bool:
    return "[" in part or part in ("str", "int", "float", "bool", "dict", "list", "none") or part[:1].isupper()


def install_handlers(app: FastAPI) -> None:
    """Make every error leave the app in the OpenAI shape."""

    @app.exception_handler(GatewayError)
    async def _gateway(request: Request, exc: GatewayError) -> Response:
        if exc.status >= 500:
            request.app.state.gateway.metrics.upstream_errors.labels(exc.code).inc()
        return exc.response()

    @app.exception_handler(RequestValidationError)
    async def _invalid(request: Request, exc: RequestValidationError) -> Response:
        param, msg = describe_validation(exc.errors())
        return error_response(
            400, f"{param or 'body'}: {msg}", "invalid_request_error", param=param, code="invalid_request"
        )

    @app.exception_handler(StarletteHTTPException)
    async def _http(request: Request, exc: StarletteHTTPException) -> Response:
        kind = "invalid_request_error" if exc.status_code < 500 else "server_error"
        code = "not_found" if exc.status_code == 404 else None
        return error_response(exc.status_code, str(exc.detail), kind, code=code)

    @app.exception_handler(ClientDisconnected)
    @app.exception_handler(ClientDisconnect)
    async def _gone(request: Request, exc: Exception) -> Response:
        # Nobody reads this answer; 499 (nginx's "client closed request") keeps the metrics honest.
        return Response(status_code=499)

    @app.exception_handler(Exception)
    async def _unexpected(request: Request, exc: Exception) -> Response:
        log.exception("unhandled error on %s %s", request.method, request.url.path)
        return error_response(500, f"internal error: {type(exc).__name__}", "server_error", code="internal_error")
