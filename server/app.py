"""The app factory: one ``Settings`` in, one FastAPI app out, no import-time state."""

from __future__ import annotations

import logging
from contextlib import asynccontextmanager
from pathlib import Path

import httpx
from fastapi import FastAPI

from . import chat, endpoints, health, models, openapi, playground, switch
from .certainty import CertaintyCache, fallback_client
from .deps import Gateway
from .errors import install_handlers
from .intrinsic import load_intrinsics
from .limits import BodyLimit, InFlightLimit
from .metrics import Metrics, MetricsMiddleware
from .metrics import router as metrics_router
from .requestid import RequestIdMiddleware
from .settings import DeploymentError, Settings
from .upstream import vllm_client

log = logging.getLogger("granite_certainty")


def check_scoring_intrinsic(settings: Settings, table: dict) -> None:
    """Refuse a deployment whose ``certainty.intrinsic`` names none of the intrinsics it serves:
    it would start, then answer 400 to every request for certainty. A deployment that serves no
    intrinsic at all (a plain front for vLLM) is allowed, unless it scores every answer."""
    name = settings.certainty.intrinsic
    if name in table or (not table and not settings.certainty.always):
        return
    served = ", ".join(sorted(table)) or "none"
    raise DeploymentError(
        f"certainty.intrinsic names {name!r}, which this deployment does not serve (served: {served})"
    )


def warn_if_unauthenticated(settings: Settings) -> None:
    """Say loudly, at start, that a deployment reachable beyond this machine has no API key."""
    if settings.unauthenticated_exposure:
        log.warning(
            "SERVING WITHOUT AUTHENTICATION on %s: anyone who can reach this address can use the models. "
            "Set api_key (or api_keys), or allow_unauthenticated: true if that is intended.",
            settings.host,
        )


def create_app(
    settings: Settings,
    *,
    intrinsics: dict | None = None,
    io_yamls: dict[str, Path] | None = None,
    transport: httpx.AsyncBaseTransport | None = None,
) -> FastAPI:
    """Build the gateway for ``settings``.

    ``intrinsics`` (name → Intrinsic) replaces the table built from the settings;
    ``io_yamls`` (adapter name → io.yaml) passes the files adapters ship with;
    ``transport`` replaces the network under the vLLM and fallback clients (tests inject faults with it)."""
    metrics = Metrics()
    upstream = vllm_client(settings, transport, metrics)
    table = intrinsics if intrinsics is not None else load_intrinsics(settings, io_yamls or {})
    check_scoring_intrinsic(settings, table)
    fallback = fallback_client(settings, transport, metrics)
    cache_entries = settings.certainty.cache_entries
    gateway = Gateway(
        settings=settings,
        upstream=upstream,
        metrics=metrics,
        served_name=settings.served_name,
        intrinsics=table,
        fallback=fallback,
        certainty_cache=CertaintyCache(cache_entries) if cache_entries else None,
    )

    @asynccontextmanager
    async def lifespan(app: FastAPI):
        warn_if_unauthenticated(settings)
        yield
        for client in (upstream, gateway.fallback):
            if client is not None:
                await client.aclose()

    app = FastAPI(title="granite-certainty", version="0.1.0", lifespan=lifespan)
    app.state.gateway = gateway
    install_handlers(app)
    # The last added is the outermost: metrics see every answer, shed or not.
    app.add_middleware(BodyLimit, limits=settings.limits)
    app.add_middleware(InFlightLimit, limits=settings.limits)
    app.add_middleware(MetricsMiddleware, metrics=gateway.metrics)
    app.add_middleware(RequestIdMiddleware)
    # Chat first: the router tries routes in order, and chat is the hot path.
    routers = (chat.router, health.router, metrics_router, models.router, endpoints.router, switch.router)
    for router in (*routers, playground.router):
        app.include_router(router)
    if settings.admin.api_key:  # vLLM's admin endpoints: closed (404) without their own key
        app.include_router(endpoints.admin_router)
    openapi.install(app, [chat.ChatCompletionRequest])
    return app
