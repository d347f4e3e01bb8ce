"""Cancel upstream work when the client goes away, in one place: ``@with_cancellation`` on a route.

Starlette does not cancel a route when its client disconnects; a gateway that kept the
vLLM request running would waste GPU time on answers nobody reads. ``with_cancellation`` reads
the body, then runs the route while a watcher waits for the ASGI ``http.disconnect`` message
and cancels the route if it comes first, so that no serving function needs the request to be
cancellable. Once a route has returned a streamed response, Starlette itself cancels the
stream's generator when the client leaves.
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


#: How long a route runs before its client is watched: most answers (an intrinsic, a short
#: pass-through) come sooner, and then no watcher task is made at all; a client that leaves is
#: noticed at most this late.
WATCH_AFTER_S = 0.05


async def until_disconnect(request: Request, work: Awaitable[T]) -> T:
    """Await ``work``; if the client disconnects first, cancel it and raise ``ClientDisconnected``.

    Call only after the request body has been read (the next ASGI message is then the
    disconnect). ``work`` runs in the calling task; after ``WATCH_AFTER_S`` a watcher task waits
    for the disconnect and cancels that task. A task per request (or two, and ``asyncio.wait``)
    was a tenth of the gateway's own time on the hot path (docs/contributing/benchmarks.md)."""
    task = asyncio.current_task()
    loop = asyncio.get_running_loop()
    gone = finished = False
    watcher: asyncio.Task | None = None

    async def watch() -> None:
        nonlocal gone
        await _disconnected(request)
        if not finished:  # the work may have ended in this loop turn: then nothing to cancel
            gone = True
            task.cancel()

    def start_watching() -> None:
        nonlocal watcher
        watcher = loop.create_task(watch())

    timer = loop.call_later(WATCH_AFTER_S, start_watching)
    try:
        return await work
    except asyncio.CancelledError:
        if not gone:
            raise  # cancelled from outside (shutdown): not ours to turn into an answer
        task.uncancel()  # the cancellation was ours, and is answered here
        raise ClientDisconnected() from None
    finally:
        finished = True
        timer.cancel()
        if watcher is not None:
            watcher.cancel()


def with_cancellation(route: Callable[..., Awaitable[T]]) -> Callable[..., Awaitable[T]]:
    """Decorate a route whose first parameter is its ``request``: the body is read first (then the
    next ASGI message can only be the disconnect), and the route is cancelled if the client goes."""

    @functools.wraps(route)
    async def cancellable(request: Request, *args, **kwargs) -> T:
        await request.body()  # cached by Starlette: the route reads it again for free
        return await until_disconnect(request, route(request, *args, **kwargs))

    return cancellable
