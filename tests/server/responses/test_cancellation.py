"""A client that leaves a Responses request with certainty cancels the work it caused: the
answer still generating, and its scoring, streamed or not."""

import asyncio
import json

import httpx
import pytest

from ..apps import UNCERTAINTY, leave_once_started, make_app
from ..fake_vllm import adapter_output
from .fakes import HIGH, SSE, events, message_item, response

#: Seconds to wait for each step; short, so that a broken cancellation fails the test, not hangs it.
BOUND = 2.0
PARIS = response(message_item("Paris."))


class Hanging:
    """A vLLM whose call for ``model`` hangs until it is cancelled; every other call answers at once."""

    def __init__(self, model: str):
        self.model = model
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
            return httpx.Response(200, json=adapter_output(HIGH))
        if body.get("stream"):
            return httpx.Response(200, content=b"".join(events(PARIS)), headers=SSE)
        return httpx.Response(200, json=PARIS)


@pytest.mark.parametrize("stream", [False, True], ids=["json", "stream"])
@pytest.mark.parametrize("hanging", ["base", "uncertainty"], ids=["answer", "scoring"])
def test_a_client_that_leaves_cancels_the_call_under_way(hanging, stream):
    async def scenario():
        upstream = Hanging(hanging)
        app = make_app(upstream, adapters=UNCERTAINTY)
        body = {"model": "base", "input": "Capital of France?", "stream": stream, "certainty": True}
        client = asyncio.ensure_future(leave_once_started(app, body, upstream.started, path="/v1/responses"))
        try:
            await asyncio.wait_for(upstream.started.wait(), BOUND)
            await asyncio.wait_for(upstream.cancelled.wait(), BOUND)
            await asyncio.wait_for(client, BOUND)
        finally:
            client.cancel()

    asyncio.run(scenario())
