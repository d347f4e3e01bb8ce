"""One request's certainty work: the answer, then each choice scored and guarded (the core that
the JSON and the SSE answers share)."""

from __future__ import annotations

import asyncio

from ..deps import Gateway
from ..errors import UpstreamStatus
from . import judge
from .guard import Guard
from .judge import Judge
from .options import Options, strip_extension
from .scorer import Scorer
from .usage import Usage


class CertaintyCall:
    """One request's scoring state: the request as vLLM sees it, its scorer, judge, guard and usage."""

    def __init__(self, gw: Gateway, payload: dict, opts: Options):
        self.gw, self.opts = gw, opts
        self.payload = strip_extension(payload)
        self.usage = Usage(judge.USAGE_PART) if opts.asked.asks else Usage()
        mine = asyncio.Semaphore(gw.settings.limits.scoring_per_request)  # shared by all its calls
        self.scorer = Scorer(gw, self.payload, self.usage, mine) if opts.score else None
        self.judge = Judge(gw, self.payload, opts.asked, self.usage, mine) if opts.asked.names else None
        self.guard = Guard(gw, self.payload, opts, self.usage)

    def start(self) -> None:
        """Start what needs no answer (intrinsics that judge the question), before the answer."""
        if self.judge is not None:
            self.judge.start()

    async def finish(self, choice: dict) -> dict:
        """Score and judge one finished choice (concurrently) and guard it in place; returns it."""
        judging = asyncio.ensure_future(self.judge.judge(choice)) if self.judge is not None else None
        try:
            scored = await self.scorer.score(choice) if self.scorer is not None else None
            judged = await judging if judging is not None else None
        finally:
            if judging is not None:
                judging.cancel()  # the scorer failed past its own handling: nothing runs on
        if judged is not None:
            choice.update(judge.choice_fields(judged, scored if self.opts.asked.certainty else None))
        if scored is not None:
            await self.guard.apply(choice, scored)
        return choice

    def cancel(self) -> None:
        """Stop the judge's calls still running (the answer failed, or the client is gone)."""
        if self.judge is not None:
            self.judge.cancel()

    def answer_body(self) -> dict:
        """The request for the answer itself, non-streamed."""
        body = {**self.payload, "stream": False}
        body.pop("stream_options", None)
        return body


async def answer_with_certainty(gw: Gateway, payload: dict, opts: Options) -> dict:
    """Generate the answer (non-streamed), score and guard every choice concurrently; the completion."""
    call = CertaintyCall(gw, payload, opts)
    call.start()
    try:
        completion = await gw.upstream.post_json(gw.upstream.chat_path, call.answer_body())
        await asyncio.gather(*(call.finish(c) for c in checked_choices(completion)))
    finally:
        call.cancel()  # nothing left running for an answer that failed
    completion["usage"] = call.usage.total(completion.get("usage"))
    return completion


def checked_choices(completion: dict) -> list[dict]:
    """The choices of vLLM's chat completion, each with a ``message`` object; a 502 for an answer
    that is not one (there is nothing to score, and nothing safe to pass on)."""
    choices = completion.get("choices")
    if isinstance(choices, list) and all(isinstance(c, dict) and isinstance(c.get("message"), dict) for c in choices):
        return choices
    raise UpstreamStatus("vLLM's answer is not a chat completion (its choices are malformed).", status=502)
