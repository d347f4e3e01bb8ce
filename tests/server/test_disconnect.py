"""until_disconnect and @with_cancellation: the work is cancelled when the client goes, and kept
when it stays."""

import asyncio

import pytest
from starlette.requests import Request

from server.disconnect import WATCH_AFTER_S, ClientDisconnected, until_disconnect, with_cancellation


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


def test_work_that_ends_before_the_watch_delay_starts_no_watcher_task():
    async def main():
        before = len(asyncio.all_tasks())

        async def work():
            await asyncio.sleep(WATCH_AFTER_S / 10)  # long enough for a watcher started at once
            return len(asyncio.all_tasks())

        during = await until_disconnect(request_with([{"type": "http.disconnect"}]), work())
        return before, during

    before, during = asyncio.run(main())
    assert during == before


def test_a_client_that_leaves_is_noticed_once_the_watch_delay_has_passed():
    cancelled = asyncio.Event()

    async def main():
        loop = asyncio.get_running_loop()
        start = loop.time()
        with pytest.raises(ClientDisconnected):
            await until_disconnect(request_with([{"type": "http.disconnect"}]), hang(cancelled))
        return loop.time() - start

    took = asyncio.run(asyncio.wait_for(main(), 5))
    assert WATCH_AFTER_S <= took < WATCH_AFTER_S + 1


def test_a_cancellation_from_outside_is_not_taken_for_a_disconnect():
    cancelled = asyncio.Event()

    async def main():
        inner = asyncio.ensure_future(until_disconnect(request_with([]), hang(cancelled)))
        await asyncio.sleep(WATCH_AFTER_S * 2)  # the watcher is running, the client still there
        inner.cancel()
        with pytest.raises(asyncio.CancelledError):
            await inner
        return cancelled.is_set()

    assert asyncio.run(asyncio.wait_for(main(), 5))
