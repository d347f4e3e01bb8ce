"""until_disconnect: the work is cancelled when the client goes, and kept when it stays."""

import asyncio

import pytest
from starlette.requests import Request

from server.disconnect import ClientDisconnected, until_disconnect


def request_with(messages):
    queue = asyncio.Queue()
    for m in messages:
        queue.put_nowait(m)
    return Request({"type": "http", "method": "POST", "path": "/", "headers": []}, receive=queue.get)


def test_client_gone_cancels_the_work():
    cancelled = asyncio.Event()

    async def work():
        try:
            await asyncio.sleep(30)
        except asyncio.CancelledError:
            cancelled.set()
            raise

    async def main():
        with pytest.raises(ClientDisconnected):
            await until_disconnect(request_with([{"type": "http.disconnect"}]), work())
        await asyncio.sleep(0)
        return cancelled.is_set()

    assert asyncio.run(asyncio.wait_for(main(), 5))


def test_client_present_gets_the_result():
    async def work():
        await asyncio.sleep(0.01)
        return 42

    assert asyncio.run(until_disconnect(request_with([]), work())) == 42
