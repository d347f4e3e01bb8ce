"""One Responses request's certainty work, shared by the JSON and the SSE answers: the request
for vLLM without the extension, and the scoring and guarding of its finished response with the
certainty package's call (scorer, guard, usage)."""

from __future__ import annotations

import orjson

from ..certainty import FIELD, CertaintyCall, CertaintyError, Options, strip_extension
from ..deps import Gateway
from . import convert

#: Where vLLM serves the Responses API.
PATH = "/v1/responses"


class ResponsesCall:
    """One Responses request's certainty work: the request for vLLM, and the chat call that scores
    and guards its answer (or why its input cannot be scored)."""

    def __init__(self, gw: Gateway, payload: dict, opts: Options):
        self.upstream = strip_extension(payload)
        try:
            chat, self.why = convert.chat_request(self.upstream, gw.served_name), None
        except convert.NotAConversation as exc:
            chat = {"model": gw.served_name, "messages": []}
            self.why = CertaintyError(code="unsupported_input", message=f"Not scored: {exc}")
        # Built before vLLM is asked: a server without the scoring intrinsic answers 400 at once.
        self.chat = CertaintyCall(gw, chat, opts)

    def body(self, *, stream: bool) -> bytes:
        """The request for vLLM's answer, without the extension."""
        return orjson.dumps({**self.upstream, "stream": stream})

    async def score(self, response: dict) -> dict:
        """Score and guard the finished ``response`` in place (its output message item, the
        top-level ``certainty``, ``usage``); returns the top-level ``certainty`` object."""
        index, choice, refused = convert.answer_choice(response)
        original = choice["message"]["content"]
        why = self.why or refused
        if why is not None:
            await self.chat.guard.apply(choice, {FIELD: None, "certainty_error": why.model_dump()})
        else:
            await self.chat.finish(choice)
        top = convert.apply(response, index, choice, original)
        if "usage" in response:
            response["usage"] = convert.usage(response["usage"], self.chat.usage)
        return top


async def answer_whole(gw: Gateway, call: ResponsesCall) -> dict:
    """vLLM's whole (non-streamed) response, scored and guarded."""
    response = await gw.upstream.post_json(PATH, {**call.upstream, "stream": False})
    await call.score(response)
    return response
