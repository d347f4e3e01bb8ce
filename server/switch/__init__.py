"""The Granite Switch contract, served by vLLM LoRAs: a base-model chat request whose
``chat_template_kwargs.adapter_name`` names a served adapter is answered by that adapter
(``serving``), an adapter name the gateway does not serve is refused on every endpoint
(``selection``), and the folder a Granite Switch client (mellea) reads to find the adapters is
served (``layout``, ``api_router``) and written by ``granite-certainty switch-layout`` (``client``)."""

from .api_router import router
from .client import add_switch_layout_parser
from .protocol import ChatTemplateKwargs
from .selection import refuse_adapter, requested_adapter
from .serving import answer_adapter

__all__ = [
    "ChatTemplateKwargs",
    "add_switch_layout_parser",
    "answer_adapter",
    "refuse_adapter",
    "requested_adapter",
    "router",
]
