"""``GET /health``: the gateway and its vLLM, for humans and health checks."""

from .api_router import router

__all__ = ["router"]
