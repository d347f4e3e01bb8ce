"""until_disconnect and @with_cancellation: the work is cancelled when the client goes, and kept
when it stays."""

import asyncio

import pytest
from starlette.requests import Request

from server.disconnect import ClientDisconnected, until_disconnect, with_cancellation


def request_with(messages):
    queue = asyncio.Queue()
    for m in messages:
        queue.put_nowait(m)
    return Request({"type": "http", "method": "POST", "path": "/", "headers": []}, receive=queue.get)


async def hang(cancelled: asyncio.Event) -> None:
    """Work that never ends by itself; ``cancelled`` is set when it is cancelled."""
    try:
        await asyncio.sleep(30)
    except asyncio.CancelledError:
        cancelled.set()
        raise


def test_client_gone_cancels_the_work():
    cancelled = asyncio.Event()

    async def main():
        with pytest.raises(ClientDisconnected):
            await until_disconnect(request_with([{"type": "http.disconnect"}]), hang(cancelled))
        await asyncio.sleep(0)
        return cancelled.is_set()

    assert asyncio.run(asyncio.wait_for(main(), 5))


def test_client_present_gets_the_result():
    async def work():
        await asyncio.sleep(0.01)
        return 42

    assert asyncio.run(until_disconnect(request_with([]), work())) == 42


BODY = {"type": "http.request", "body": b'{"q": 1}', "more_body": False}


def test_a_cancellable_route_reads_the_body_first_and_is_cancelled_when_the_client_goes():
    seen, cancelled = [], asyncio.Event()

    @with_cancellation
    async def route(request, label):
        seen.append((label, await request.body()))  # the body, read before the race, is still there
        await hang(cancelled)

    async def main():
        with pytest.raises(ClientDisconnected):
            await route(request_with([BODY, {"type": "http.disconnect"}]), "x")
        await asyncio.wait_for(cancelled.wait(), 2)

    asyncio.run(asyncio.wait_for(main(), 5))
    assert seen == [("x", b'{"q": 1}')]


def test_a_cancellable_route_whose_client_stays_gets_its_result():
    @with_cancellation
    async def route(request):
        return await request.body()

    assert asyncio.run(asyncio.wait_for(route(request_with([BODY])), 5)) == b'{"q": 1}'
