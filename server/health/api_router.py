"""Health, as people and as Kubernetes ask for it.

- ``GET /health`` (for humans): the gateway is up, and whether vLLM answers its own check;
- ``GET /livez`` (liveness): the gateway's event loop answers; never depends on vLLM, so an
  engine outage does not get a healthy gateway restarted;
- ``GET /readyz`` (readiness): vLLM's ``/health`` answers 200 *and* its ``/v1/models`` lists the
  base model and every configured adapter; 503 with the reason otherwise, and at once when
  the gateway is draining for shutdown.
"""

from __future__ import annotations

import asyncio

from fastapi import APIRouter
from fastapi.responses import JSONResponse

from ..deps import GatewayDep
from ..errors import GatewayError
from ..upstream import public_url

router = APIRouter()


@router.get("/health")
async def health(gw: GatewayDep) -> JSONResponse:
    """200 when vLLM is healthy, 503 (same body shape) when it is not."""
    try:
        resp = await gw.upstream.get("/health", timeout_s=5.0, probe=True)
        upstream = "ok" if resp.status_code == 200 else f"status {resp.status_code}"
    except GatewayError as exc:
        upstream = exc.message
    ok = upstream == "ok"
    shown = public_url(gw.upstream.base_url)
    body = {"status": "ok" if ok else "degraded", "upstream": {"url": shown, "status": upstream}}
    return JSONResponse(body, status_code=200 if ok else 503)


@router.get("/livez", include_in_schema=False)
async def livez() -> JSONResponse:
    """200 while the gateway's event loop runs; nothing else is checked."""
    return JSONResponse({"status": "alive"})


@router.get("/readyz", include_in_schema=False)
async def readyz(gw: GatewayDep) -> JSONResponse:
    """200 when requests can be served: vLLM healthy and serving every model the gateway names."""
    if gw.draining:
        return _not_ready("draining: the gateway is shutting down")
    try:
        health, models = await asyncio.gather(
            gw.upstream.get("/health", timeout_s=PROBE_TIMEOUT_S, probe=True),
            gw.upstream.get("/v1/models", timeout_s=PROBE_TIMEOUT_S, probe=True),
        )
    except GatewayError as exc:
        return _not_ready(exc.message)
    if health.status_code != 200:
        return _not_ready(f"vLLM /health answered {health.status_code}")
    missing = sorted(set(gw.required_models) - _listed(models))
    if missing:
        return _not_ready(f"vLLM does not serve {', '.join(missing)} yet")
    return JSONResponse({"status": "ready"})


#: Seconds each readiness check may take (a probe's own timeout is typically 1-5 s).
PROBE_TIMEOUT_S = 2.0


def _listed(resp) -> set[str]:
    try:
        data = resp.json().get("data") if resp.status_code == 200 else None
    except ValueError:
        return set()
    return {m.get("id") for m in data if isinstance(m, dict)} if isinstance(data, list) else set()


def _not_ready(reason: str) -> JSONResponse:
    return JSONResponse({"status": "not_ready", "reason": reason}, status_code=503)
