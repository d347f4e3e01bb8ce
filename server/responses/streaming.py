"""Streamed Responses API answers with certainty: vLLM's events pass through as they come, the
certainty follows.

Every event is relayed as it arrives (read with httpx-sse, written back with its name) except
the terminal ``response.completed`` / ``response.incomplete``: that one carries the finished
response, which is scored and guarded; then ``response.certainty.done`` (the top-level
``certainty`` object, with ``type`` and ``sequence_number``) and the terminal event, whose
``response`` now has the certainty fields and the usage of every call. A stream that breaks or
stops short ends with the ``error`` event of ``ending``; ``response.failed`` and ``error`` are
relayed as they are (there is no answer to score).

``abstain`` and ``fallback`` must replace an answer before the client sees it, so with a
threshold and one of those actions the response is generated whole first and then sent as the
events a stream of it has.
"""

from __future__ import annotations

from contextlib import AsyncExitStack

import httpx
import orjson
from fastapi.responses import Response, StreamingResponse
from httpx_sse import ServerSentEvent, SSEError

from .. import sse
from ..deps import Gateway
from ..errors import GatewayError
from ..relay import not_a_stream
from .call import PATH, ResponsesCall, answer_whole
from .ending import TERMINAL, lost_event

#: The extension's event: the certainty, after the answer's events and before the terminal one.
CERTAINTY_EVENT = "response.certainty.done"
#: Terminal events that carry a finished response to score.
SCORED = frozenset({"response.completed", "response.incomplete"})


def encode(name: str, data: dict | str) -> bytes:
    """One named event (``data`` as JSON, or a string relayed as it came)."""
    text = data if isinstance(data, str) else orjson.dumps(data).decode()
    lines = "".join(f"data: {line}\n" for line in text.split("\n"))
    return f"event: {name}\n{lines}\n".encode() if name else f"{lines}\n".encode()


async def answer_sse(gw: Gateway, call: ResponsesCall) -> Response:
    """The SSE answer to a streamed Responses request that asks for certainty."""
    if call.chat.opts.threshold is not None and call.chat.opts.action in ("abstain", "fallback"):
        response = await answer_whole(gw, call)
        return StreamingResponse(iter(response_events(response)), media_type=sse.MEDIA_TYPE)
    stack = AsyncExitStack()
    resp = await stack.enter_async_context(gw.upstream.stream(PATH, call.body(stream=True)))
    refused = await not_a_stream(resp, stack)
    if refused is not None:
        return refused
    return StreamingResponse(_relay_and_score(gw, stack, resp, call), media_type=sse.MEDIA_TYPE)


async def _relay_and_score(gw: Gateway, stack: AsyncExitStack, resp: httpx.Response, call: ResponsesCall):
    final: ServerSentEvent | None = None
    last, lost = "", None
    async with stack:  # leaving it (done, failed, the client gone) closes vLLM's response
        try:
            async for event in sse.aiter_events(resp):
                last = event.event
                if event.event in SCORED and final is None:
                    final = event  # held back: it must carry the certainty
                    continue
                yield encode(event.event if event.event != "message" else "", event.data)
        except (httpx.TransportError, GatewayError, SSEError) as exc:
            lost = exc
    if lost is not None or (final is None and last.encode() not in TERMINAL):
        gw.metrics.upstream_errors.labels("upstream_unavailable").inc()
        yield lost_event(lost)  # cut off: no answer to score, and the stream must end
        return
    if final is None:
        return  # ended by response.failed or error, relayed: there is no answer to score
    for event in await _scored_end(call, final):
        yield event


async def _scored_end(call: ResponsesCall, final: ServerSentEvent) -> list[bytes]:
    try:
        data = orjson.loads(final.data)
    except orjson.JSONDecodeError:
        data = None
    response = data.get("response") if isinstance(data, dict) else None
    if not isinstance(response, dict):
        return [encode(final.event, final.data)]  # not what vLLM writes; relayed, not scored
    top = await call.score(response)
    seq = data.get("sequence_number")
    seq = seq if isinstance(seq, int) else 0
    data["sequence_number"] = seq + 1
    return [
        encode(CERTAINTY_EVENT, {"type": CERTAINTY_EVENT, "sequence_number": seq, **top}),
        encode(final.event, data),
    ]


def response_events(response: dict) -> list[bytes]:
    """A finished (scored) response as the events of its stream: created, in progress, each output
    item with its text, the certainty, and the terminal event of its status."""
    events: list[tuple[str, dict]] = []
    opening = {**response, "status": "in_progress", "output": []}
    opening.pop("certainty", None)
    events += [("response.created", {"response": opening}), ("response.in_progress", {"response": opening})]
    for i, item in enumerate(response.get("output") or ()):
        events += _item_events(i, item)
    events.append((CERTAINTY_EVENT, response.get("certainty") or {}))
    status = response.get("status")
    events.append(
        (
            f"response.{status}" if status in ("completed", "incomplete", "failed") else "response.completed",
            {"response": response},
        )
    )
    return [encode(name, {"type": name, "sequence_number": n, **data}) for n, (name, data) in enumerate(events)]


def _item_events(index: int, item: dict) -> list[tuple[str, dict]]:
    where = {"output_index": index}
    started = {**item, "status": "in_progress"}
    events = []
    if item.get("type") == "message":
        started["content"] = []
        where["item_id"] = item.get("id")
    events.append(("response.output_item.added", {**where, "item": started}))
    for j, part in enumerate(item.get("content") or () if item.get("type") == "message" else ()):
        at = {**where, "content_index": j}
        events.append(("response.content_part.added", {**at, "part": {**part, "text": ""} if "text" in part else part}))
        if part.get("type") == "output_text":
            events.append(("response.output_text.delta", {**at, "delta": part.get("text", ""), "logprobs": []}))
            events.append(("response.output_text.done", {**at, "text": part.get("text", ""), "logprobs": []}))
        events.append(("response.content_part.done", {**at, "part": part}))
    events.append(("response.output_item.done", {**where, "item": item}))
    return events
