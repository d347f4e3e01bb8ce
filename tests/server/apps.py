"""The gateway in front of a fake vLLM, built one way for every unit test.

``make_client(handler, **settings)`` is the gateway of ``Settings(model=BASE, **settings)`` whose
calls to vLLM (and to the fallback) go to ``handler`` (an ``httpx.MockTransport`` handler: a
``FakeVLLM``, a function of the request), as a ``TestClient`` to use in a ``with`` block (which
runs the app's lifespan). ``make_app`` is the same app without the client, for tests that drive
the ASGI app themselves. Without a handler the gateway calls the network (the TLS test's real
upstream)."""

from __future__ import annotations

import asyncio
import json

import httpx
from fastapi import FastAPI
from fastapi.testclient import TestClient

from server.app import create_app
from server.settings import Settings

#: The base model every unit test serves.
BASE = {"path": "/m", "served_name": "base"}
#: The uncertainty adapter, for ``adapters=``.
UNCERTAINTY = [{"name": "uncertainty", "path": "/a"}]
#: A fallback model, for ``certainty={"fallback": FALLBACK}``.
FALLBACK = {"url": "http://fallback/v1", "model": "fallback-model"}

JSON = {"content-type": "application/json"}
COMPLETION = (
    b'{"id":"c1","object":"chat.completion",'
    b'"choices":[{"index":0,"message":{"role":"assistant","content":"Paris"},"finish_reason":"stop"}]}'
)
BASIC = {"model": "base", "messages": [{"role": "user", "content": "hi"}]}


def make_app(handler=None, *, intrinsics: dict | None = None, io_yamls: dict | None = None, **settings) -> FastAPI:
    """The gateway app for ``Settings(model=BASE, **settings)`` in front of ``handler``."""
    transport = httpx.MockTransport(handler) if handler is not None else None
    s = Settings(**{"model": BASE, **settings})
    return create_app(s, intrinsics=intrinsics, io_yamls=io_yamls, transport=transport)


def make_client(handler=None, *, raise_server_exceptions: bool = True, **kwargs) -> TestClient:
    """``make_app(handler, **kwargs)`` as a ``TestClient``; ``raise_server_exceptions=False``
    answers an exception the app lets out with a 500 instead of raising it in the test."""
    return TestClient(make_app(handler, **kwargs), raise_server_exceptions=raise_server_exceptions)


def chat(client, body, **kw):
    """``POST /v1/chat/completions`` with ``body`` (bytes as they are, anything else as JSON)."""
    return client.post("/v1/chat/completions", content=body if isinstance(body, bytes) else json.dumps(body), **kw)


async def leave_once_started(app, body: dict, started: asyncio.Event, path: str = "/v1/chat/completions") -> list[dict]:
    """POST ``body`` to ``path`` of the ASGI ``app``, then disconnect as soon as ``started`` is set
    (the upstream call the test waits for has begun); the ASGI messages the app sent."""
    sent, messages = [], [{"type": "http.request", "body": json.dumps(body).encode(), "more_body": False}]

    async def receive():
        if messages:
            return messages.pop(0)
        await started.wait()
        return {"type": "http.disconnect"}

    async def send(message):
        sent.append(message)

    scope = {"type": "http", "method": "POST", "path": path, "headers": [], "query_string": b""}
    await app(scope, receive, send)
    return sent
