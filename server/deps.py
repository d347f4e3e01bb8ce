"""Dependency aliases for routes: the gateway state built once in ``create_app``."""

from __future__ import annotations

import secrets
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Annotated

from fastapi import Depends, Request

from .errors import Unauthorized
from .metrics import Metrics
from .settings import Settings
from .upstream import Upstream

if TYPE_CHECKING:
    from intrinsics import Intrinsic


@dataclass
class Gateway:
    """What every request needs: settings, the vLLM client and the served intrinsics by name."""

    settings: Settings
    upstream: Upstream
    served_name: str
    intrinsics: dict[str, Intrinsic] = field(default_factory=dict)
    metrics: Metrics = field(default_factory=Metrics)
    #: The certainty guard's fallback model server, when one is configured.
    fallback: Upstream | None = None


async def get_gateway(request: Request) -> Gateway:
    """The app's ``Gateway`` (set by ``create_app``); async, so FastAPI does not run it in a thread."""
    return request.app.state.gateway


async def require_api_key(request: Request) -> None:
    """Enforce ``Authorization: Bearer <api_key>`` when the deployment sets an API key."""
    key = request.app.state.gateway.settings.api_key
    if not key:
        return
    scheme, _, given = request.headers.get("authorization", "").partition(" ")
    if scheme.lower() != "bearer" or not secrets.compare_digest(given.strip().encode(), key.encode()):
        raise Unauthorized("Missing or invalid API key: send 'Authorization: Bearer <key>'.")


GatewayDep = Annotated[Gateway, Depends(get_gateway)]
