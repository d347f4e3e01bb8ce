"""The vLLM endpoints the gateway passes through, one row each (checked against vLLM 0.32's routers).

``body`` is what the endpoint takes: ``"json"`` (an object whose ``model`` and ``stream`` the gateway
reads), ``"multipart"`` (an upload whose ``model`` field it reads) or ``None`` (no body, or one
relayed unread). ``streams``: whether ``"stream": true`` asks for an SSE answer. ``events``: its
streams are the Responses API's named events, which end with a terminal event, not ``[DONE]``.
``certainty``: a request with the ``certainty`` extension is answered by ``server/responses``.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal


@dataclass(frozen=True)
class Endpoint:
    """One vLLM endpoint, relayed as it is."""

    method: Literal["GET", "POST"]
    path: str
    summary: str
    body: Literal["json", "multipart"] | None = "json"
    streams: bool = False
    events: bool = False
    certainty: bool = False


#: vLLM's OpenAI (and vLLM-specific) endpoints, open to every API key.
PUBLIC = (
    Endpoint("POST", "/v1/completions", "Create a completion", streams=True),
    Endpoint("POST", "/v1/responses", "Create a response", streams=True, events=True, certainty=True),
    Endpoint("GET", "/v1/responses/{response_id}", "Retrieve a response", body=None, events=True),
    Endpoint("POST", "/v1/responses/{response_id}/cancel", "Cancel a response", body=None),
    Endpoint("POST", "/v1/embeddings", "Create embeddings"),
    Endpoint("POST", "/v1/audio/transcriptions", "Transcribe audio", body="multipart"),
    Endpoint("POST", "/v1/audio/translations", "Translate audio", body="multipart"),
    Endpoint("POST", "/tokenize", "Tokenize a prompt or messages"),
    Endpoint("POST", "/detokenize", "Detokenize token ids"),
    Endpoint("POST", "/v1/score", "Score text pairs"),
    Endpoint("POST", "/score", "Score text pairs (vLLM's path)"),
    Endpoint("POST", "/v1/rerank", "Rerank documents"),
    Endpoint("POST", "/rerank", "Rerank documents (vLLM's path)"),
    Endpoint("POST", "/v2/rerank", "Rerank documents (Cohere's v2 shape)"),
    Endpoint("POST", "/pooling", "Pooled hidden states"),
    Endpoint("POST", "/classify", "Classify"),
    Endpoint("GET", "/version", "vLLM's version", body=None),
)

#: vLLM's admin endpoints: closed (not routed, 404) unless ``admin.api_key`` is set, then open to
#: that key only. Their bodies are relayed unread.
ADMIN = (
    Endpoint("POST", "/v1/load_lora_adapter", "Load a LoRA adapter", body=None),
    Endpoint("POST", "/v1/unload_lora_adapter", "Unload a LoRA adapter", body=None),
    Endpoint("POST", "/sleep", "Put the engine to sleep", body=None),
    Endpoint("POST", "/wake_up", "Wake the engine up", body=None),
    Endpoint("GET", "/is_sleeping", "Whether the engine sleeps", body=None),
    Endpoint("POST", "/start_profile", "Start the profiler", body=None),
    Endpoint("POST", "/stop_profile", "Stop the profiler", body=None),
    Endpoint("POST", "/reset_prefix_cache", "Reset the prefix cache", body=None),
    Endpoint("POST", "/collective_rpc", "Call every worker", body=None),
    Endpoint("POST", "/scale_elastic_ep", "Scale expert parallelism", body=None),
    Endpoint("POST", "/is_scaling_elastic_ep", "Whether scaling is under way", body=None),
)
