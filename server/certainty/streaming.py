"""Streamed answers with certainty: chunks pass through as they arrive, certainty follows.

The base model's SSE events are relayed as they come. Each is also read, only to collect
every choice's text and notice when a choice finishes; scoring of that choice starts at once,
concurrently with the rest of the stream. When vLLM's stream ends, one more chunk per choice
carries its ``certainty`` (and guard fields), then the usage chunk (if the client asked for
usage; it then counts the scoring calls too), then ``[DONE]``.

``abstain`` and ``fallback`` must replace an answer before the client sees it, so with a
threshold and one of those actions the answer is generated whole first and then sent as
one chunk per choice (the same events a stream has).
"""

from __future__ import annotations

import asyncio
from contextlib import AsyncExitStack

import httpx
import orjson
from fastapi.responses import Response, StreamingResponse
from httpx_sse import SSEError

from .. import sse
from ..deps import Gateway
from ..errors import GatewayError
from ..relay import not_a_stream
from .call import CertaintyCall, answer_with_certainty
from .headers import certainty_headers
from .options import Options

#: Choice fields the certainty chunk does not repeat (the content chunks carried them).
ANSWER_FIELDS = ("index", "message", "finish_reason")


async def answer_sse(gw: Gateway, payload: dict, opts: Options) -> Response:
    """The SSE answer to a streamed base-model request that asks for certainty."""
    with_usage = sse.include_usage(payload)
    if opts.threshold is not None and opts.action in ("abstain", "fallback"):
        completion = await answer_with_certainty(gw, payload, opts)
        events = iter(sse.completion_events(completion, with_usage))
        # Scored before the first byte: the only stream whose headers can carry the certainties.
        return StreamingResponse(events, media_type=sse.MEDIA_TYPE, headers=certainty_headers(completion, opts))

    call = CertaintyCall(gw, payload, opts)
    call.start()
    stack = AsyncExitStack()
    try:
        resp = await stack.enter_async_context(gw.upstream.stream(gw.upstream.chat_path, orjson.dumps(call.payload)))
        refused = await not_a_stream(resp, stack)
    except BaseException:
        call.cancel()
        raise
    if refused is not None:
        call.cancel()
        return refused
    events = _relay_and_score(stack, resp, call, with_usage)
    return StreamingResponse(events, status_code=resp.status_code, media_type=sse.MEDIA_TYPE)


class _Choices:
    """What the stream has said so far of each choice, and the scoring started for the finished ones."""

    def __init__(self, call: CertaintyCall):
        self.call = call
        self.texts: dict[int, list[str]] = {}
        self.tool_calls: set[int] = set()
        self.tasks: dict[int, asyncio.Task] = {}

    def read(self, chunk: dict) -> None:
        """Take in one chunk's deltas; start scoring each choice that it finishes. Parts that
        are not what a chat chunk holds are ignored here (they are relayed all the same)."""
        choices = chunk.get("choices")
        for c in choices if isinstance(choices, list) else ():
            if not isinstance(c, dict):
                continue
            i, delta = c.get("index", 0), c.get("delta")
            if not isinstance(i, int) or not isinstance(delta, dict | None):
                continue
            delta = delta or {}
            content = delta.get("content")
            self.texts.setdefault(i, []).append(content if isinstance(content, str) else "")
            if delta.get("tool_calls"):
                self.tool_calls.add(i)
            if c.get("finish_reason") and i not in self.tasks:
                self.tasks[i] = asyncio.create_task(self._score(i, str(c["finish_reason"])))

    @property
    def unfinished(self) -> bool:
        """Whether some choice the stream began has not finished."""
        return any(i not in self.tasks for i in self.texts)

    async def _score(self, index: int, finish_reason: str) -> tuple[int, dict]:
        message = {"role": "assistant", "content": "".join(self.texts[index])}
        if index in self.tool_calls:
            message["tool_calls"] = [{}]
        choice = await self.call.finish({"index": index, "message": message, "finish_reason": finish_reason})
        return index, {k: v for k, v in choice.items() if k not in ANSWER_FIELDS}  # only flag: fields added

    def cancel(self) -> None:
        """Stop every scoring call (the stream failed, or the client is gone)."""
        for task in self.tasks.values():
            task.cancel()
        self.call.cancel()


async def _relay_and_score(stack: AsyncExitStack, resp: httpx.Response, call: CertaintyCall, with_usage: bool):
    choices = _Choices(call)
    usage_chunk = template = None
    ended = False
    try:
        async with stack:
            try:
                async for event in sse.aiter_events(resp):
                    if event.data == sse.DONE_DATA:
                        ended = True
                        continue  # sent by us, after the certainty chunks
                    chunk = _parsed(event.data)
                    if chunk is not None and not chunk.get("choices") and chunk.get("usage"):
                        usage_chunk = chunk  # held back: it must count the scoring calls too
                        continue
                    if chunk is not None:
                        template = template or chunk
                        choices.read(chunk)
                    yield sse.encode(event)  # an event that does not parse is relayed, not fatal
            except (httpx.TransportError, GatewayError, SSEError) as exc:
                ended, lost = False, exc
            else:
                lost = None
        if not ended or choices.unfinished:
            # Cut off (or ended without [DONE]): the answer is incomplete, so nothing is scored.
            call.gw.metrics.upstream_errors.labels("upstream_unavailable").inc()
            for event in sse.upstream_lost(lost):
                yield event
            return
        for done in asyncio.as_completed(choices.tasks.values()):
            index, fields = await done
            yield sse.event(_certainty_chunk(template, index, fields))
        if usage_chunk is not None and with_usage:
            usage_chunk["usage"] = call.usage.total(usage_chunk.get("usage"))
            yield sse.event(usage_chunk)
        yield sse.DONE
    finally:
        choices.cancel()  # done, failed, or the client is gone: no scoring runs on for nobody


def _parsed(data: str) -> dict | None:
    try:
        chunk = orjson.loads(data)
    except orjson.JSONDecodeError:
        return None
    return chunk if isinstance(chunk, dict) else None


def _certainty_chunk(template: dict | None, index: int, fields: dict) -> dict:
    base = {k: (template or {}).get(k) for k in ("id", "created", "model")}
    choice = {"index": index, "delta": {}, "logprobs": None, "finish_reason": None, **fields}
    return {**base, "object": "chat.completion.chunk", "choices": [choice]}
