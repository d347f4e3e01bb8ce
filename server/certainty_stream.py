"""Streamed answers with certainty: chunks pass through as they arrive, certainty follows.

The base model's SSE events are relayed byte for byte. Each event is also read, only to
collect every choice's text and notice when a choice finishes; scoring of that choice starts
at once, concurrently with the rest of the stream. When vLLM's stream ends, one more chunk
per choice carries its ``certainty`` (and guard fields), then the usage chunk (if the client
asked for usage; it then counts the scoring calls too), then ``[DONE]``.

``abstain`` and ``fallback`` must replace an answer before the client sees it, so with a
threshold and one of those actions the answer is generated whole first and then sent as
one chunk per choice (the same events a stream has).
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from contextlib import AsyncExitStack

import httpx
import orjson
from fastapi import Request
from fastapi.responses import Response, StreamingResponse

from .deps import Gateway
from .errors import GatewayError, error_body
from .guard import Options, Scorer, answer_with_certainty
from .intrinsic_call import as_sse
from .passthrough import CHAT_PATH, relay_response

DONE = b"[DONE]"


async def stream_with_certainty(request: Request, gw: Gateway, payload: dict, opts: Options) -> Response:
    """The SSE answer to a streamed base-model request that asks for certainty."""
    include_usage = bool((payload.get("stream_options") or {}).get("include_usage"))
    if opts.threshold is not None and opts.action in ("abstain", "fallback"):
        completion = await answer_with_certainty(gw, payload, opts)
        return StreamingResponse(iter(as_sse(completion, include_usage)), media_type="text/event-stream")

    scorer = Scorer(gw, payload, opts)
    stack = AsyncExitStack()
    resp = await stack.enter_async_context(gw.upstream.stream(CHAT_PATH, orjson.dumps(scorer.payload)))
    if resp.status_code >= 400:
        async with stack:
            return relay_response(resp, await resp.aread())
    return StreamingResponse(_relay_and_score(stack, resp, scorer, include_usage), status_code=resp.status_code,
                             media_type="text/event-stream")  # fmt: skip


async def _relay_and_score(stack: AsyncExitStack, resp: httpx.Response, scorer: Scorer, include_usage: bool):
    texts: dict[int, list[str]] = {}
    tool_calls: set[int] = set()
    tasks: dict[int, asyncio.Task] = {}
    usage_chunk = template = None
    async with stack:
        try:
            async for raw, data in _sse_events(resp):
                if not data:
                    yield raw  # an SSE comment or keep-alive
                    continue
                if data == DONE:
                    continue  # sent by us, after the certainty chunks
                chunk = orjson.loads(data)
                if not chunk.get("choices") and chunk.get("usage"):
                    usage_chunk = chunk  # held back: it must count the scoring calls too
                    continue
                template = template or chunk
                for c in chunk.get("choices") or []:
                    i, delta = c.get("index", 0), c.get("delta") or {}
                    texts.setdefault(i, []).append(delta.get("content") or "")
                    if delta.get("tool_calls"):
                        tool_calls.add(i)
                    if c.get("finish_reason") and i not in tasks:
                        tasks[i] = asyncio.create_task(_score(scorer, i, texts[i], i in tool_calls, c["finish_reason"]))
                yield raw
        except (httpx.TransportError, GatewayError) as exc:
            scorer.gw.metrics.upstream_errors.labels("upstream_unavailable").inc()
            for task in tasks.values():
                task.cancel()
            err = error_body(f"vLLM connection lost mid-stream: {type(exc).__name__}", "upstream_error",
                             code="upstream_unavailable")  # fmt: skip
            yield _event(err)
            return
        except BaseException:
            for task in tasks.values():  # client gone: stop scoring for nobody
                task.cancel()
            raise
    for done in asyncio.as_completed(tasks.values()):
        index, fields = await done
        yield _event(_certainty_chunk(template, index, fields))
    if usage_chunk is not None and include_usage:
        usage_chunk["usage"] = scorer.total_usage(usage_chunk.get("usage"))
        yield _event(usage_chunk)
    yield b"data: [DONE]\n\n"


async def _score(scorer: Scorer, index: int, parts: list[str], tool_call: bool, finish_reason: str):
    message = {"role": "assistant", "content": "".join(parts)}
    if tool_call:
        message["tool_calls"] = [{}]
    choice = {"index": index, "message": message, "finish_reason": finish_reason}
    fields = await scorer.score(choice)
    await scorer.guard(choice, fields)  # only flag is possible here: it only adds fields
    return index, {k: v for k, v in choice.items() if k not in ("index", "message", "finish_reason")}


def _certainty_chunk(template: dict | None, index: int, fields: dict) -> dict:
    base = {k: (template or {}).get(k) for k in ("id", "created", "model")}
    choice = {"index": index, "delta": {}, "logprobs": None, "finish_reason": None, **fields}
    return {**base, "object": "chat.completion.chunk", "choices": [choice]}


def _event(obj: dict) -> bytes:
    return b"data: " + orjson.dumps(obj) + b"\n\n"


async def _sse_events(resp: httpx.Response) -> AsyncIterator[tuple[bytes, bytes]]:
    """Each SSE event as (its raw bytes, its ``data:`` payload), split on blank lines."""
    buffer = b""
    async for piece in resp.aiter_raw():
        buffer += piece
        while True:
            end = buffer.find(b"\n\n")
            if end < 0:
                break
            raw, buffer = buffer[: end + 2], buffer[end + 2 :]
            yield raw, b"\n".join(line[5:].strip() for line in raw.splitlines() if line.startswith(b"data:"))
    if buffer.strip():
        yield buffer, b""
