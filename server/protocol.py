"""Pydantic models of the wire format: OpenAI's, only as deep as the gateway needs to check, and
the gateway's own extensions (the ``certainty`` request field and the per-choice fields it adds).

Every OpenAI model allows extra fields: any OpenAI or vLLM request field the gateway does not
know is kept and passed on untouched.
"""

from __future__ import annotations

from typing import Any, Literal

from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    StrictBool,
    StrictInt,
    StrictStr,
    ValidationInfo,
    field_validator,
    model_validator,
)


class OpenAIBase(BaseModel):
    """Base of all protocol models: unknown fields are kept, not rejected."""

    model_config = ConfigDict(extra="allow")


#: The roles OpenAI's API and the Granite chat template know (``function`` is OpenAI's legacy tool role).
Role = Literal["system", "developer", "user", "assistant", "tool", "function"]


class ContentPart(OpenAIBase):
    """One part of a message's content: text parts must carry a string (other kinds pass on)."""

    type: StrictStr
    text: StrictStr | None = None

    @model_validator(mode="after")
    def _text_part_has_text(self) -> ContentPart:
        # A text part without its text is as broken as one whose text is not a string.
        if self.type == "text" and self.text is None:
            raise ValueError("a 'text' content part needs a string 'text'")
        return self


class ChatMessage(OpenAIBase):
    """One message of a conversation; content is text, parts, or none (tool calls)."""

    role: Role
    content: StrictStr | list[ContentPart] | None = None


class StreamOptions(OpenAIBase):
    """``stream_options``: whether the stream ends with a usage chunk."""

    include_usage: StrictBool | None = None


GuardAction = Literal["flag", "abstain", "fallback"]


class CertaintyRequest(BaseModel):
    """The ``certainty`` extension as an object: a guard threshold and what to do below it."""

    model_config = ConfigDict(extra="forbid")
    #: A number (``"0.5"`` is refused, not read as one), so that comparing it cannot fail later.
    threshold: float | None = Field(default=None, ge=0.0, le=1.0, strict=True, allow_inf_nan=False)
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

    model: StrictStr
    messages: list[ChatMessage] = Field(min_length=1)
    stream: StrictBool | None = False
    stream_options: StreamOptions | None = None
    n: StrictInt | None = Field(default=None, ge=1)
    documents: list[dict[str, Any]] | None = None
    #: Arguments for an intrinsic's instruction template (e.g. ``{"requirement": "..."}``).
    intrinsic_kwargs: dict[str, Any] | None = None
    #: Base model only: score the answer (``true``) and optionally guard it (an object).
    certainty: StrictBool | CertaintyRequest | None = None

    @field_validator("messages", "documents")
    @classmethod
    def _within_limits(cls, items: list | None, info: ValidationInfo) -> list | None:
        # The server's limits come in the validation context (``chat.serving.parse_request``).
        limit = ((info.context or {}).get("limits") or {}).get(f"max_{info.field_name}")
        if items is not None and limit is not None and len(items) > limit:
            raise ValueError(f"at most {limit} {info.field_name} are accepted, got {len(items)}")
        return items


class ModelCard(OpenAIBase):
    """One entry of ``GET /v1/models``."""

    id: str
    object: Literal["model"] = "model"
    created: int = 0
    owned_by: str = "granite-certainty"
    #: What the name serves: the base model, or an intrinsic (an adapter on it).
    kind: Literal["base", "intrinsic"] | None = None
    #: An intrinsic's base model (absent on the base model itself).
    parent: str | None = None


class ModelList(OpenAIBase):
    """The body of ``GET /v1/models``."""

    object: Literal["list"] = "list"
    data: list[ModelCard]


class ErrorObject(BaseModel):
    """The ``error`` of every failed answer (OpenAI's shape)."""

    message: str
    type: str
    param: str | None = None
    code: str | None = None


class ErrorResponse(BaseModel):
    """The body of every failed answer: ``{"error": {...}}``."""

    error: ErrorObject
