"""One request's certainty work: the answer, then each choice scored and guarded (the core that
the JSON and the SSE answers share)."""

from __future__ import annotations

import asyncio

from ..deps import Gateway
from ..errors import UpstreamStatus
from .guard import Guard
from .options import Options, strip_extension
from .scorer import Scorer
from .usage import Usage


class CertaintyCall:
    """One request's scoring state: the request as vLLM sees it, its scorer, guard and usage."""

    def __init__(self, gw: Gateway, payload: dict, opts: Options):
        self.gw, self.opts = gw, opts
        self.payload = strip_extension(payload)
        self.usage = Usage()
        self.scorer = Scorer(gw, self.payload, self.usage)
        self.guard = Guard(gw, self.payload, opts, self.usage)

    async def finish(self, choice: dict) -> dict:
        """Score one finished choice and guard it in place; returns the choice."""
        await self.guard.apply(choice, await self.scorer.score(choice))
        return choice

    def answer_body(self) -> dict:
        """The request for the answer itself, non-streamed."""
        body = {**self.payload, "stream": False}
        body.pop("stream_options", None)
        return body


async def answer_with_certainty(gw: Gateway, payload: dict, opts: Options) -> dict:
    """Generate the answer (non-streamed), score and guard every choice concurrently; the completion."""
    call = CertaintyCall(gw, payload, opts)
    completion = await gw.upstream.post_json(gw.upstream.chat_path, call.answer_body())
    await asyncio.gather(*(call.finish(c) for c in checked_choices(completion)))
    completion["usage"] = call.usage.total(completion.get("usage"))
    return completion


def checked_choices(completion: dict) -> list[dict]:
    """The choices of vLLM's chat completion, each with a ``message`` object; a 502 for an answer
    that is not one (there is nothing to score, and nothing safe to pass on)."""
    choices = completion.get("choices")
    if isinstance(choices, list) and all(isinstance(c, dict) and isinstance(c.get("message"), dict) for c in choices):
        return choices
    raise UpstreamStatus("vLLM's answer is not a chat completion (its choices are malformed).", status=502)
