"""``POST /v1/chat/completions``: the route (``api_router``) and its dispatch (``serving``)."""

from .api_router import router
from .protocol import ChatCompletionRequest
from .serving import parse_body

__all__ = ["ChatCompletionRequest", "parse_body", "router"]
