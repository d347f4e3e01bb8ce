"""A scriptable fake vLLM for unit tests (httpx.MockTransport): base answers and adapter
outputs with logprobs, plus fault injection. Never the proof that a feature works: that is
tests/integration, against the real vLLM."""

from __future__ import annotations

import asyncio
import json
import math

import httpx


def adapter_output(digit_probs: dict[str, float], content: str | None = None, finish_reason: str = "stop") -> dict:
    """A vLLM chat completion as the uncertainty adapter writes it: ``{"score": "N"}`` tokenised
    as ``{"``, ``score``, ``":``, `` "``, ``N``, ``"}`` with ``digit_probs`` at the digit token."""
    chosen = max(digit_probs, key=digit_probs.get)
    content = content if content is not None else f'{{"score": "{chosen}"}}'
    tokens = ['{"', "score", '":', ' "', chosen, '"}']

    def entry(tok, lp, top=None):
        return {
            "token": tok,
            "logprob": lp,
            "bytes": list(tok.encode()),
            "top_logprobs": top or [{"token": tok, "logprob": lp}],
        }

    content_lp = [entry(t, 0.0) for t in tokens]
    top = [{"token": d, "logprob": math.log(p)} for d, p in sorted(digit_probs.items(), key=lambda kv: -kv[1])]
    content_lp[4] = entry(chosen, math.log(digit_probs[chosen]), top)
    return completion(content, finish_reason=finish_reason, logprobs={"content": content_lp}, usage=(50, 6))


def completion(*contents, finish_reason="stop", logprobs=None, usage=(10, 5), tool_calls=None) -> dict:
    """A chat completion with one choice per content."""
    choices = []
    for i, content in enumerate(contents):
        message = {"role": "assistant", "content": content}
        if tool_calls:
            message["tool_calls"] = tool_calls
        choices.append({"index": i, "message": message, "finish_reason": finish_reason, "logprobs": logprobs})
    return {
        "id": "chatcmpl-1",
        "object": "chat.completion",
        "created": 1,
        "model": "m",
        "choices": choices,
        "usage": {"prompt_tokens": usage[0], "completion_tokens": usage[1], "total_tokens": sum(usage)},
    }


def expected_certainty(digit_probs: dict[str, float]) -> float:
    """What the likelihood rule gives for ``digit_probs`` (all present in the top list)."""
    total = sum(digit_probs.values())
    return sum(p * (0.1 * int(d) + 0.05) for d, p in digit_probs.items()) / total


class FakeVLLM:
    """Routes requests by model name to scripted answers; records every request body."""

    def __init__(self, base=None, adapter=None, fallback=None):
        self.base, self.adapter, self.fallback = base, adapter, fallback
        self.requests: list[dict] = []

    def __call__(self, request: httpx.Request) -> httpx.Response:
        body = json.loads(request.content) if request.content else {}
        self.requests.append(body)
        answer = {"uncertainty": self.adapter, "fallback-model": self.fallback}.get(body.get("model"), self.base)
        if callable(answer):
            answer = answer(body)
        if isinstance(answer, Exception):
            raise answer
        if isinstance(answer, httpx.Response):
            return answer
        return httpx.Response(200, json=answer)

    def bodies(self, model: str) -> list[dict]:
        """The requests sent for ``model``."""
        return [b for b in self.requests if b.get("model") == model]


class Hanging:
    """A vLLM (and fallback) whose call for ``model`` hangs until it is cancelled; every other call
    answers at once: the adapter with ``adapter`` (digit probabilities), a streamed request with
    ``stream`` (SSE bytes), anything else with ``answer``. ``started`` is set when the hanging
    call begins, ``cancelled`` when it is cancelled."""

    def __init__(self, model: str, *, adapter: dict[str, float], answer: dict, stream: bytes):
        self.model, self.adapter, self.answer, self.stream = model, adapter, answer, stream
        self.started, self.cancelled = asyncio.Event(), asyncio.Event()

    async def __call__(self, request: httpx.Request) -> httpx.Response:
        body = json.loads(request.content)
        if body["model"] == self.model:
            self.started.set()
            try:
                await asyncio.sleep(60)
            except asyncio.CancelledError:
                self.cancelled.set()
                raise
        if body["model"] == "uncertainty":
            return httpx.Response(200, json=adapter_output(self.adapter))
        if body.get("stream"):
            return httpx.Response(200, content=self.stream, headers={"content-type": "text/event-stream"})
        return httpx.Response(200, json=self.answer)
