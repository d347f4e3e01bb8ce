"""A client that leaves cancels all the work it caused, on the streamed certainty paths too:
scoring still running when the answer's stream has ended, and a guarded (abstain, fallback)
answer that is generated whole before it is streamed."""

import asyncio

import pytest

from ..apps import FALLBACK, UNCERTAINTY, leave_once_started, make_app
from ..fake_vllm import Hanging, completion

Q = [{"role": "user", "content": "Capital of France?"}]
STREAM = (
    b'data: {"id":"c","object":"chat.completion.chunk","created":1,"model":"m","choices":[{"index":0,'
    b'"delta":{"role":"assistant","content":"Paris."},"finish_reason":"stop"}]}\n\ndata: [DONE]\n\n'
)
#: The adapter's score when it does not hang: low (0.15), so that a fallback guard calls the fallback.
LOW = {"1": 1.0}
#: Seconds to wait for each step; short, so that a broken cancellation fails the test, not hangs it.
BOUND = 2.0


def hanging_vllm(model: str) -> Hanging:
    """A vLLM whose call for ``model`` hangs: the adapter scores LOW, answers are "Paris."."""
    return Hanging(model, adapter=LOW, answer=completion("Paris."), stream=STREAM)


def app_for(upstream: Hanging):
    return make_app(upstream, adapters=UNCERTAINTY, certainty={"fallback": FALLBACK})


async def within(aw, why: str):
    """Await ``aw`` for at most ``BOUND`` seconds; the test fails with ``why`` if it takes longer."""
    try:
        return await asyncio.wait_for(aw, BOUND)
    except TimeoutError:
        pytest.fail(f"{why} (waited {BOUND} s)")


async def started_or_ended(client: asyncio.Future, started: asyncio.Event) -> None:
    """Wait (at most ``BOUND`` seconds) until ``started`` is set or the request has ended without it."""
    waiter = asyncio.ensure_future(started.wait())
    await asyncio.wait((client, waiter), timeout=BOUND, return_when=asyncio.FIRST_COMPLETED)
    waiter.cancel()


@pytest.mark.parametrize(
    "hanging, certainty",
    [
        # the answer has streamed; its scoring is still running
        pytest.param("uncertainty", True, id="scoring-after-the-stream"),
        # the whole answer is awaited first, then its scoring
        pytest.param("base", {"threshold": 0.5, "action": "abstain"}, id="abstain-answer"),
        pytest.param("uncertainty", {"threshold": 0.5, "action": "abstain"}, id="abstain-scoring"),
        # the answer scored low: the fallback model is answering in its place
        pytest.param("fallback-model", {"threshold": 0.5, "action": "fallback"}, id="fallback-call"),
    ],
)
def test_a_client_that_leaves_a_stream_cancels_the_work_it_caused(hanging, certainty):
    async def scenario():
        upstream = hanging_vllm(hanging)
        body = {"model": "base", "messages": Q, "stream": True, "certainty": certainty}
        client = asyncio.ensure_future(leave_once_started(app_for(upstream), body, upstream.started))
        try:
            # The client leaves only once the call it should cancel is running: a request that
            # never makes that call (or answers without it) proves nothing about cancelling it.
            await started_or_ended(client, upstream.started)
            assert upstream.started.is_set(), f"the call to {hanging} never started"
            await within(upstream.cancelled.wait(), f"the call to {hanging} ran on after the client left")
            await within(client, "the gateway did not end the request after the client left")
        finally:
            client.cancel()

    asyncio.run(scenario())
