"""The playground: a web page, served by the gateway, where a person sees how far to trust each answer."""

from .api_router import router

__all__ = ["router"]
