"""Pydantic models of the wire format: OpenAI's, only as deep as the gateway needs to check, and
the gateway's own extensions (the ``certainty`` request field and the per-choice fields it adds).

Every OpenAI model allows extra fields: any OpenAI or vLLM request field the gateway does not
know is kept and passed on untouched.
"""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, StrictBool


class OpenAIBase(BaseModel):
    """Base of all protocol models: unknown fields are kept, not rejected."""

    model_config = ConfigDict(extra="allow")


class ChatMessage(OpenAIBase):
    """One message of a conversation; content is text, parts, or none (tool calls)."""

    role: str
    content: str | list[Any] | None = None


class StreamOptions(OpenAIBase):
    """``stream_options``: whether the stream ends with a usage chunk."""

    include_usage: bool | None = None


GuardAction = Literal["flag", "abstain", "fallback"]


class CertaintyRequest(BaseModel):
    """The ``certainty`` extension as an object: a guard threshold and what to do below it."""

    model_config = ConfigDict(extra="forbid")
    threshold: float | None = Field(default=None, ge=0.0, le=1.0)
    action: GuardAction | None = None


class CertaintyError(BaseModel):
    """``choices[i].certainty_error``: why a choice has ``certainty: null``.

    ``code`` is ``tool_calls``, ``empty_content`` or ``truncated`` for answers that cannot be
    scored, or the failed scoring call's error code (e.g. ``upstream_unavailable``)."""

    code: str
    message: str


class FallbackError(BaseModel):
    """``choices[i].fallback_error``: the fallback model failed; the first answer is kept."""

    message: str


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
    """One entry of ``GET /v1/models``."""

    id: str
    object: Literal["model"] = "model"
    created: int = 0
    owned_by: str = "granite-certainty"


class ModelList(OpenAIBase):
    """The body of ``GET /v1/models``."""

    object: Literal["list"] = "list"
    data: list[ModelCard]
