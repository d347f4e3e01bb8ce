"""Dependency aliases for routes: the gateway state built once in ``create_app``."""

from __future__ import annotations

import asyncio
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

    from .certainty import CertaintyCache


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
    #: Load bounds shared by every request (scoring slots); built from ``settings.limits``.
    scoring_slots: asyncio.Semaphore | None = None
    #: Certainties of identical scoring requests (``certainty.cache_entries``); ``None``: off.
    certainty_cache: CertaintyCache | None = None

    #: Set on shutdown: readiness fails at once so that no new traffic is routed here.
    draining: bool = False

    def __post_init__(self) -> None:
        #: The intrinsic that scores answers (``certainty.intrinsic``), looked up once; ``None``
        #: where the deployment serves no intrinsic at all (certainty is then a 400).
        self.scoring_intrinsic = self.intrinsics.get(self.settings.certainty.intrinsic)
        self.api_keys = tuple(k.encode() for k in self.settings.keys)
        admin = self.settings.admin.api_key
        self.admin_keys = (admin.encode(),) if admin else ()
        #: The request models' validation context (their limits), built once, not per request.
        self.validation_context = {"limits": self.settings.limits.model_dump()}
        #: What vLLM must list before the gateway is ready: the base model and every adapter.
        self.required_models = (self.served_name, *(a.name for a in self.settings.adapters))
        if self.scoring_slots is None:
            self.scoring_slots = asyncio.Semaphore(self.settings.limits.scoring_total)


async def get_gateway(request: Request) -> Gateway:
    """The app's ``Gateway`` (set by ``create_app``); async, so FastAPI does not run it in a thread."""
    return request.app.state.gateway


def bearer_token(request: Request) -> bytes | None:
    """The token of ``Authorization: Bearer <token>``, or ``None`` when there is none."""
    scheme, _, given = request.headers.get("authorization", "").partition(" ")
    token = given.strip().encode()
    return token if scheme.lower() == "bearer" and token else None


def matches(token: bytes | None, keys: tuple[bytes, ...]) -> bool:
    """Whether ``token`` is one of ``keys``, compared with every key (no early exit), so that the
    time taken says nothing about which matched."""
    return token is not None and any([secrets.compare_digest(token, key) for key in keys])


async def require_api_key(request: Request) -> None:
    """Enforce ``Authorization: Bearer <key>`` when the deployment sets API keys (any one of them)."""
    keys = request.app.state.gateway.api_keys
    if keys and not matches(bearer_token(request), keys):
        raise Unauthorized("Missing or invalid API key: send 'Authorization: Bearer <key>'.")


GatewayDep = Annotated[Gateway, Depends(get_gateway)]
