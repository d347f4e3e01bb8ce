"""``GET /health``: the gateway is up, and whether vLLM answers its own health check."""

from __future__ import annotations

from urllib.parse import urlsplit, urlunsplit

from fastapi import APIRouter
from fastapi.responses import JSONResponse

from ..deps import GatewayDep
from ..errors import GatewayError

router = APIRouter()


def public_url(url: str) -> str:
    """``url`` without credentials (``http://user:key@host`` → ``http://host``), fit to show anyone."""
    parts = urlsplit(url)
    return urlunsplit(parts._replace(netloc=parts.netloc.rpartition("@")[2]))


@router.get("/health")
async def health(gw: GatewayDep) -> JSONResponse:
    """200 when vLLM is healthy, 503 (same body shape) when it is not."""
    try:
        resp = await gw.upstream.get("/health", timeout_s=5.0)
        upstream = "ok" if resp.status_code == 200 else f"status {resp.status_code}"
    except GatewayError as exc:
        upstream = exc.message
    ok = upstream == "ok"
    shown = public_url(gw.upstream.base_url)
    body = {"status": "ok" if ok else "degraded", "upstream": {"url": shown, "status": upstream}}
    return JSONResponse(body, status_code=200 if ok else 503)
