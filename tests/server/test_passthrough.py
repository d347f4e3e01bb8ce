"""Pass-through: a request for the base model goes to vLLM as the client sent it, and vLLM's
answer, streamed or not, comes back as it came; a stream cut off ends with an error event."""

import json

import httpx

from .apps import BASIC, COMPLETION, JSON, chat, make_client

SSE = [
    b'data: {"choices":[{"delta":{"content":"Pa"}}]}\n\n',
    b'data: {"choices":[{"delta":{"content":"ris"}}]}\n\n',
    b"data: [DONE]\n\n",
]


async def chunks(parts):
    for part in parts:  # an async body, so httpx streams it instead of reading it eagerly
        yield part


def test_base_model_body_passes_through_byte_for_byte():
    seen = {}

    def handler(request):
        seen["body"] = request.content
        return httpx.Response(200, content=COMPLETION, headers=JSON)

    body = b'{"model": "base", "messages": [{"role": "user", "content": "hi"}], "top_k": 3, "weird_field": [1, 2]}'
    with make_client(handler) as client:
        resp = chat(client, body)
    assert seen["body"] == body
    assert resp.status_code == 200 and resp.content == COMPLETION


def test_base_model_stream_is_relayed_unchanged():
    with make_client(
        lambda r: httpx.Response(200, content=chunks(SSE), headers={"content-type": "text/event-stream"})
    ) as client:
        resp = chat(client, {**BASIC, "stream": True})
    assert resp.status_code == 200 and resp.headers["content-type"].startswith("text/event-stream")
    assert resp.content == b"".join(SSE)


def test_connection_lost_mid_stream_ends_with_an_error_event():
    async def broken():
        yield SSE[0]
        raise httpx.ReadError("vLLM died")

    with make_client(
        lambda r: httpx.Response(200, content=broken(), headers={"content-type": "text/event-stream"})
    ) as client:
        resp = chat(client, {**BASIC, "stream": True})
        metrics = client.get("/metrics").text
    first, last = resp.content.split(b"\n\n")[:2]
    assert first + b"\n\n" == SSE[0]
    assert json.loads(last.removeprefix(b"data: "))["error"]["code"] == "upstream_unavailable"
    assert 'granite_certainty_upstream_errors_total{code="upstream_unavailable"} 1.0' in metrics
