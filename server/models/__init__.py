"""``GET /v1/models``: the served model names."""

from .api_router import router

__all__ = ["router"]
