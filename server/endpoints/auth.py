"""Who may call vLLM's admin endpoints: the holder of ``admin.api_key``, and nobody else."""

from __future__ import annotations

from fastapi import Request

from ..deps import bearer_token, matches
from ..errors import GatewayError, Unauthorized


class Forbidden(GatewayError):
    """A valid key that may not do this (an API key on an admin endpoint)."""

    status, type, code = 403, "permission_error", "admin_key_required"


async def require_admin_key(request: Request) -> None:
    """Enforce ``Authorization: Bearer <admin.api_key>``: another of the gateway's keys gets 403,
    no key or a wrong one 401. Routed only when ``admin.api_key`` is set (fail closed)."""
    gw, token = request.app.state.gateway, bearer_token(request)
    if matches(token, gw.admin_keys):
        return
    if matches(token, gw.api_keys):
        raise Forbidden("This endpoint is vLLM's admin endpoint: send 'Authorization: Bearer <admin key>'.")
    raise Unauthorized("Missing or invalid admin key: send 'Authorization: Bearer <admin key>'.")
