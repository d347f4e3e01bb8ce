"""vLLM's other endpoints (completions, responses, embeddings, tokenize, audio...), passed
through: the table (``table``), the routes built from it (``api_router``) and the relay
(``serving``); vLLM's admin endpoints only with ``admin.api_key``."""

from .api_router import admin_router, router
from .table import ADMIN, PUBLIC

__all__ = ["ADMIN", "PUBLIC", "admin_router", "router"]
