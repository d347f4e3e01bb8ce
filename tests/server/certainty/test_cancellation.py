"""A client that leaves cancels all the work it caused, on the streamed certainty paths too:
scoring still running when the answer's stream has ended, and a guarded (abstain, fallback)
answer that is generated whole before it is streamed."""

import asyncio
import json

import httpx
import pytest

from server.app import create_app
from server.settings import Settings

from ..fake_vllm import completion

Q = [{"role": "user", "content": "Capital of France?"}]
STREAM = (
    b'data: {"id":"c","object":"chat.completion.chunk","created":1,"model":"m","choices":[{"index":0,'
    b'"delta":{"role":"assistant","content":"Paris."},"finish_reason":"stop"}]}\n\ndata: [DONE]\n\n'
)


async def leave_after(app, body: dict, seconds: float) -> list[dict]:
    """Send ``body``, then disconnect after ``seconds``; the ASGI messages the app sent."""
    sent, messages = [], [{"type": "http.request", "body": json.dumps(body).encode(), "more_body": False}]

    async def receive():
        if messages:
            return messages.pop(0)
        await asyncio.sleep(seconds)
        return {"type": "http.disconnect"}

    async def send(message):
        sent.append(message)

    scope = {"type": "http", "method": "POST", "path": "/v1/chat/completions", "headers": [], "query_string": b""}
    await app(scope, receive, send)
    return sent


def app_with_hanging(model: str, cancelled: asyncio.Event):
    async def handler(request):
        body = json.loads(request.content)
        if body["model"] == model:
            try:
                await asyncio.sleep(60)
            except asyncio.CancelledError:
                cancelled.set()
                raise
        if body.get("stream"):
            return httpx.Response(200, content=STREAM, headers={"content-type": "text/event-stream"})
        return httpx.Response(200, json=completion("Paris."))

    s = Settings(
        model={"path": "/m", "served_name": "base"},
        adapters=[{"name": "uncertainty", "path": "/a"}],
        certainty={"fallback": {"url": "http://fallback/v1", "model": "fallback-model"}},
    )
    return create_app(s, transport=httpx.MockTransport(handler))


@pytest.mark.parametrize(
    "hanging, certainty",
    [
        ("uncertainty", True),  # the answer has streamed; its scoring is still running
        ("base", {"threshold": 0.5, "action": "abstain"}),  # the whole answer is awaited first
        ("base", {"threshold": 0.5, "action": "fallback"}),
    ],
)
def test_a_client_that_leaves_a_stream_cancels_the_work_it_caused(hanging, certainty):
    async def scenario():
        cancelled = asyncio.Event()
        app = app_with_hanging(hanging, cancelled)
        body = {"model": "base", "messages": Q, "stream": True, "certainty": certainty}
        await asyncio.wait_for(leave_after(app, body, 0.2), 10)
        await asyncio.wait_for(cancelled.wait(), 5)
        return cancelled.is_set()

    assert asyncio.run(scenario())
