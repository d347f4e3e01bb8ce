"""Cancel upstream work when the client goes away, in one place: ``@with_cancellation`` on a route.

Starlette does not cancel a route when its client disconnects; a gateway that kept the
vLLM request running would waste GPU time on answers nobody reads. ``with_cancellation`` reads
the body, then races the whole route against the ASGI ``http.disconnect`` message and cancels the
loser, so that no serving function needs the request to be cancellable. Once a route has returned
a streamed response, Starlette itself cancels the stream's generator when the client leaves.
"""

from __future__ import annotations

import asyncio
import functools
from collections.abc import Awaitable, Callable
from typing import TypeVar

from fastapi import Request

T = TypeVar("T")


class ClientDisconnected(Exception):
    """The client closed the connection before the answer was ready."""


async def _disconnected(request: Request) -> None:
    while (await request.receive())["type"] != "http.disconnect":
        pass


async def until_disconnect(request: Request, work: Awaitable[T]) -> T:
    """Await ``work``; if the client disconnects first, cancel it and raise ``ClientDisconnected``.

    Call only after the request body has been read (the next ASGI message is then the
    disconnect)."""
    task = asyncio.ensure_future(work)
    watcher = asyncio.ensure_future(_disconnected(request))
    try:
        await asyncio.wait((task, watcher), return_when=asyncio.FIRST_COMPLETED)
    finally:
        watcher.cancel()
    if task.done():
        return task.result()
    task.cancel()
    raise ClientDisconnected()


def with_cancellation(route: Callable[..., Awaitable[T]]) -> Callable[..., Awaitable[T]]:
    """Decorate a route whose first parameter is its ``request``: the body is read first (then the
    next ASGI message can only be the disconnect), and the route is cancelled if the client goes."""

    @functools.wraps(route)
    async def cancellable(request: Request, *args, **kwargs) -> T:
        await request.body()  # cached by Starlette: the route reads it again for free
        return await until_disconnect(request, route(request, *args, **kwargs))

    return cancellable
