"""The wire format's shared parts: the base of every protocol model, and the one error body.

Each feature keeps its own models beside it (``chat/protocol.py``, ``certainty/protocol.py``,
``models/protocol.py``), on ``OpenAIBase``: every OpenAI model allows extra fields, so any
OpenAI or vLLM request field the gateway does not know is kept and passed on untouched.
"""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict


class OpenAIBase(BaseModel):
    """Base of all protocol models: unknown fields are kept, not rejected."""

    model_config = ConfigDict(extra="allow")


class ErrorObject(BaseModel):
    """The ``error`` of every failed answer (OpenAI's shape)."""

    message: str
    type: str
    param: str | None = None
    code: str | None = None


class ErrorResponse(BaseModel):
    """The body of every failed answer: ``{"error": {...}}``."""

    error: ErrorObject
