"""Pydantic models of the OpenAI wire format, only as deep as the gateway needs to check.

Every model allows extra fields: any OpenAI or vLLM request field the gateway does not
know is kept and passed on untouched.
"""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, StrictBool


class OpenAIBase(BaseModel):
    """Base of all protocol models: unknown fields are kept, not rejected."""

    model_config = ConfigDict(extra="allow")


class ChatMessage(OpenAIBase):
    role: str
    content: str | list[Any] | None = None


class StreamOptions(OpenAIBase):
    include_usage: bool | None = None


class CertaintyRequest(BaseModel):
    """The ``certainty`` extension as an object: a guard threshold and what to do below it."""

    model_config = ConfigDict(extra="forbid")
    threshold: float | None = Field(default=None, ge=0.0, le=1.0)
    action: Literal["flag", "abstain", "fallback"] | None = None


class ChatCompletionRequest(OpenAIBase):
    """``POST /v1/chat/completions``: what must be there and well-typed before we forward it."""

    model: str
    messages: list[ChatMessage] = Field(min_length=1)
    stream: bool | None = False
    stream_options: StreamOptions | None = None
    n: int | None = Field(default=None, ge=1)
    documents: list[dict[str, Any]] | None = None
    #: Arguments for an intrinsic's instruction template (e.g. ``{"requirement": "..."}``).
    intrinsic_kwargs: dict[str, Any] | None = None
    #: Base model only: score the answer (``true``) and optionally guard it (an object).
    certainty: StrictBool | CertaintyRequest | None = None


class ModelCard(OpenAIBase):
    id: str
    object: Literal["model"] = "model"
    created: int = 0
    owned_by: str = "granite-certainty"


class ModelList(OpenAIBase):
    object: Literal["list"] = "list"
    data: list[ModelCard]
