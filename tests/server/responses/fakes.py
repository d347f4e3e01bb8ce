"""vLLM's Responses API answers, as the fake vLLM gives them: a whole response, and its stream."""

from __future__ import annotations

import json

import httpx

from ..apps import FALLBACK, UNCERTAINTY, make_client
from ..fake_vllm import adapter_output

SSE = {"content-type": "text/event-stream"}
#: The scores the fake adapter gives: low (0.25) and high (0.83).
LOW, HIGH = {"2": 0.7, "3": 0.3}, {"8": 0.8, "9": 0.2}


def message_item(text: str, kind: str = "output_text", item_id: str = "msg_1") -> dict:
    """An output message item with one content part."""
    part = {"type": "output_text", "text": text, "annotations": [], "logprobs": None}
    if kind == "refusal":
        part = {"type": "refusal", "refusal": text}
    return {"id": item_id, "type": "message", "role": "assistant", "status": "completed", "content": [part]}


def response(*output: dict, status: str = "completed", usage=(10, 5)) -> dict:
    """A Responses API response with ``output`` items."""
    return {
        "id": "resp_1",
        "object": "response",
        "created_at": 1,
        "model": "base",
        "status": status,
        "incomplete_details": {"reason": "max_output_tokens"} if status == "incomplete" else None,
        "output": list(output),
        "usage": {
            "input_tokens": usage[0],
            "output_tokens": usage[1],
            "total_tokens": sum(usage),
            "input_tokens_details": {"cached_tokens": 0},
            "output_tokens_details": {"reasoning_tokens": 0},
        },
    }


def events(answer: dict, *, end: str | None = "response.completed") -> list[bytes]:
    """The events vLLM streams for ``answer`` (one text delta), ending with ``end`` (``None``: cut off)."""
    item, opening = answer["output"][0], {**answer, "status": "in_progress", "output": []}
    text = item["content"][0]["text"]
    named = [
        ("response.created", {"response": opening}),
        ("response.output_item.added", {"output_index": 0, "item": {**item, "content": []}}),
        ("response.output_text.delta", {"item_id": "msg_1", "output_index": 0, "content_index": 0, "delta": text}),
        ("response.output_text.done", {"item_id": "msg_1", "output_index": 0, "content_index": 0, "text": text}),
        ("response.output_item.done", {"output_index": 0, "item": item}),
    ]
    if end is not None:
        named.append((end, {"response": answer}))
    return [
        f"event: {name}\ndata: {json.dumps({'type': name, 'sequence_number': n, **data})}\n\n".encode()
        for n, (name, data) in enumerate(named)
    ]


def streamed(parts: list[bytes], fail: Exception | None = None) -> httpx.Response:
    """A streamed answer of ``parts``, broken by ``fail`` after them if given."""

    async def gen():
        for part in parts:
            yield part
        if fail is not None:
            raise fail

    return httpx.Response(200, content=gen(), headers=SSE)


def parse(raw: bytes) -> list[tuple[str, dict]]:
    """A Responses stream as (event name, data) pairs."""
    out = []
    for block in raw.decode().split("\n\n"):
        if block.strip():
            lines = dict(line.split(": ", 1) for line in block.split("\n"))
            out.append((lines.get("event", ""), json.loads(lines["data"])))
    return out


def by_answer(mapping: dict):
    """Adapter outputs chosen by the answer being scored (the last assistant turn)."""
    return lambda body: adapter_output(
        mapping[[m for m in body["messages"] if m["role"] == "assistant"][-1]["content"]]
    )


def client_for(fake, **certainty):
    """The gateway (with the uncertainty adapter and a fallback model) in front of ``fake``."""
    return make_client(fake, adapters=UNCERTAINTY, certainty={"fallback": FALLBACK, **certainty})
