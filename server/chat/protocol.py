"""The chat request on the wire: OpenAI's, only as deep as the gateway needs to check before it
forwards it, with the gateway's extensions (``certainty``, ``intrinsics``, ``documents``, ``intrinsic_kwargs``)."""

from __future__ import annotations

from typing import Any, Literal

from pydantic import Field, StrictBool, StrictInt, StrictStr, ValidationInfo, field_validator, model_validator

from ..certainty import CertaintyRequest, IntrinsicAsk
from ..protocol import OpenAIBase
from ..switch import ChatTemplateKwargs

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
    #: Base model only: other intrinsics' results on the answer (``"certainty"`` among them).
    intrinsics: list[StrictStr | IntrinsicAsk] | None = Field(default=None, max_length=16)
    #: The chat template's arguments (passed on); ``adapter_name`` selects a served adapter (Granite Switch).
    chat_template_kwargs: ChatTemplateKwargs | None = None

    @field_validator("messages", "documents")
    @classmethod
    def _within_limits(cls, items: list | None, info: ValidationInfo) -> list | None:
        # The server's limits come in the validation context (``chat.serving.parse_request``).
        limit = ((info.context or {}).get("limits") or {}).get(f"max_{info.field_name}")
        if items is not None and limit is not None and len(items) > limit:
            raise ValueError(f"at most {limit} {info.field_name} are accepted, got {len(items)}")
        return items
