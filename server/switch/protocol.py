"""The request fields of the Granite Switch contract: ``chat_template_kwargs.adapter_name`` selects
an adapter of the base model, as a Granite Switch checkpoint's chat template reads it."""

from __future__ import annotations

from pydantic import StrictStr

from ..protocol import OpenAIBase


class ChatTemplateKwargs(OpenAIBase):
    """``chat_template_kwargs``: the chat template's arguments, passed on to vLLM; the gateway reads
    only ``adapter_name`` (an adapter it serves, named as in ``GET /switch-layout/adapter_index.json``)."""

    adapter_name: StrictStr | None = None


class SwitchFields(OpenAIBase):
    """What a request body must hold, well typed, for the gateway to read the adapter it names."""

    chat_template_kwargs: ChatTemplateKwargs | None = None
