"""The request mellea 0.8.0's OpenAI backend sends for ``check_certainty``: a base-model chat that
it has already rewritten from the io.yaml, selecting the adapter by ``chat_template_kwargs``."""

SCHEMA = {"type": "object", "properties": {"score": {"type": "string"}}, "required": ["score"]}
#: The conversation as mellea sends it: the ``<certainty>`` turn already appended.
REWRITTEN = [
    {"role": "user", "content": "What is the capital of France?"},
    {"role": "assistant", "content": "The capital of France is Paris."},
    {"role": "user", "content": "<certainty>"},
]
MELLEA = {
    "model": "base",
    "messages": REWRITTEN,
    "chat_template_kwargs": {"adapter_name": "uncertainty"},
    "structured_outputs": {"json": SCHEMA},
    "logprobs": True,
    "top_logprobs": 10,
    "max_completion_tokens": 15,
    "temperature": 0.0,
    "documents": [],
    "tools": None,
}


def never(request):
    """A vLLM that must not be called."""
    raise AssertionError(f"must not reach vLLM: {request.content!r}")
