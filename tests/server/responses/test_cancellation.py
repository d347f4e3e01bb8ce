"""A client that leaves a Responses request with certainty cancels the work it caused: the
answer still generating, and its scoring, streamed or not."""

import asyncio

import pytest

from ..apps import UNCERTAINTY, leave_once_started, make_app
from ..fake_vllm import Hanging
from .fakes import HIGH, events, message_item, response

#: Seconds to wait for each step; short, so that a broken cancellation fails the test, not hangs it.
BOUND = 2.0
PARIS = response(message_item("Paris."))


@pytest.mark.parametrize("stream", [False, True], ids=["json", "stream"])
@pytest.mark.parametrize("hanging", ["base", "uncertainty"], ids=["answer", "scoring"])
def test_a_client_that_leaves_cancels_the_call_under_way(hanging, stream):
    async def scenario():
        upstream = Hanging(hanging, adapter=HIGH, answer=PARIS, stream=b"".join(events(PARIS)))
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
