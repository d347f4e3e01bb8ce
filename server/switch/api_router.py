"""``GET /switch-layout/...``: the Granite Switch layout of the served adapters, read-only, so that a
client on another machine (``granite-certainty switch-layout --url``) can fetch what mellea reads."""

from __future__ import annotations

from fastapi import APIRouter, Depends
from fastapi.responses import Response

from ..deps import GatewayDep, require_api_key
from ..errors import ModelNotFound
from ..openapi import ERRORS
from .layout import INDEX, adapter_index, io_yaml

router = APIRouter(prefix="/switch-layout", dependencies=[Depends(require_api_key)], tags=["switch-layout"])

#: The io.yaml's media type (RFC 9512).
YAML = "application/yaml"


@router.get(f"/{INDEX}", responses=ERRORS, summary="The served adapters' index (Granite Switch layout)")
async def get_adapter_index(gw: GatewayDep) -> Response:
    """``adapter_index.json``: one entry per served adapter, with the path of its io.yaml."""
    return Response(adapter_index(gw.intrinsics), media_type="application/json")


@router.get("/io_configs/{adapter:path}/io.yaml", responses=ERRORS, summary="One served adapter's io.yaml")
async def get_io_yaml(adapter: str, gw: GatewayDep) -> Response:
    """The io.yaml of the served ``adapter``; 404 for a name the gateway does not serve."""
    intrinsic = gw.intrinsics.get(adapter)
    if intrinsic is None:
        raise ModelNotFound(
            f"No served adapter is named '{adapter}'; see GET /switch-layout/{INDEX}.", code="not_found"
        )
    return Response(io_yaml(intrinsic), media_type=YAML)
