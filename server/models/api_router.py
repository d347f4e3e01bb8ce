"""``GET /v1/models``: the base model and every intrinsic the gateway serves."""

from __future__ import annotations

from fastapi import APIRouter, Depends

from ..deps import GatewayDep, require_api_key
from .protocol import ModelCard, ModelList

router = APIRouter(dependencies=[Depends(require_api_key)])


@router.get("/v1/models", response_model_exclude_none=True)
async def list_models(gw: GatewayDep) -> ModelList:
    """The served names, base model first; intrinsics are marked with their kind."""
    cards = [ModelCard(id=gw.served_name, kind="base")]
    cards += [ModelCard(id=name, kind="intrinsic", parent=gw.served_name) for name in gw.intrinsics]
    return ModelList(data=cards)
