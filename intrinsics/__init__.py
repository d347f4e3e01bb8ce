"""Granite intrinsics: io.yaml -> request rewrite -> result transformations.

A pure library with plain OpenAI wire-format dicts in and out, no web framework and no
vLLM import.  It reproduces the semantics of IBM's reference implementation
(granite-common 0.4.1, with what newer io.yaml files need from mellea's copy of it:
``all_but_last_message`` sentence tags, a ``drop_duplicates`` that drops), except where
the reference silently makes up a number: there it raises a typed error (see
:mod:`intrinsics.errors`)::

    import intrinsics

    certainty = intrinsics.load("configs/intrinsics/uncertainty/io.yaml")
    body = certainty.rewrite(client_request)          # POST this to vLLM
    served = certainty.process(vllm_response, body)   # {"certainty": 0.4597...} as content
    value = certainty.process_choice(vllm_response["choices"][0], body)["certainty"]
    results = certainty.results(vllm_response, body)  # [{"certainty": 0.4597...}], one per choice

    everything = intrinsics.load_all("configs/intrinsics")   # {"answerability": Intrinsic, ...}
"""

from . import errors
from .config import IntrinsicConfig
from .errors import *  # the error tree is part of the public API
from .intrinsic import Intrinsic, from_dict, load, served_choices
from .registry import DEFAULT_CONFIG_DIR, load_all

__all__ = [
    "load",
    "load_all",
    "from_dict",
    "served_choices",
    "Intrinsic",
    "IntrinsicConfig",
    "DEFAULT_CONFIG_DIR",
    *errors.__all__,
]
