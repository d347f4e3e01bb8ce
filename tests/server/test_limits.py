"""The bounds on one request's work and on all requests together: body size and read time,
requests in flight, and a client that leaves while sending its body. (A busy connection pool to
vLLM: test_upstream.py.)"""

import asyncio
import json

import httpx
import orjson
import pytest

from .apps import BASIC, COMPLETION, JSON, chat, make_app, make_client


def app_with(handler, **limits):
    return make_app(handler, limits=limits)


def ok(request):
    return httpx.Response(200, content=COMPLETION, headers=JSON)


def test_a_body_over_the_limit_by_its_content_length_is_a_413_before_any_call():
    calls = []
    with make_client(lambda r: calls.append(r) or ok(r), limits={"max_body_bytes": 2048}) as client:
        resp = chat(client, {**BASIC, "pad": "x" * 4096})
        assert chat(client, BASIC).status_code == 200  # a body under the limit still passes
    assert resp.status_code == 413 and resp.json()["error"]["code"] == "request_too_large"
    assert len(calls) == 1


def test_a_chunked_body_is_refused_once_its_bytes_pass_the_limit():
    def body():
        yield orjson.dumps(BASIC)[:-1]
        for _ in range(10):
            yield b', "pad": "' + b"x" * 500 + b'"'
        yield b"}"

    with make_client(ok, limits={"max_body_bytes": 2048}) as client:
        resp = client.post("/v1/chat/completions", content=body())  # no Content-Length: chunked
    assert resp.status_code == 413 and resp.json()["error"]["type"] == "invalid_request_error"


async def call_asgi(app, messages, path="/v1/chat/completions"):
    """Drive ``app`` with scripted ``receive`` messages (``None``: wait forever); the status and body."""
    sent = []

    async def receive():
        if not messages:
            await asyncio.Event().wait()
        message = messages.pop(0)
        if message is None:
            await asyncio.Event().wait()
        return message

    async def send(message):
        sent.append(message)

    scope = {"type": "http", "method": "POST", "path": path, "headers": [], "query_string": b"", "app": app}
    await app(scope, receive, send)
    start = next(m for m in sent if m["type"] == "http.response.start")
    body = b"".join(m.get("body", b"") for m in sent if m["type"] == "http.response.body")
    return start["status"], body


def test_a_body_that_trickles_in_slower_than_the_read_timeout_is_a_408():
    app = app_with(ok, body_read_timeout_s=0.2)
    first = {"type": "http.request", "body": orjson.dumps(BASIC)[:10], "more_body": True}
    status, body = asyncio.run(asyncio.wait_for(call_asgi(app, [first, None]), 10))
    assert status == 408 and json.loads(body)["error"]["code"] == "request_timeout"


def test_a_client_that_leaves_while_sending_its_body_is_a_499_not_an_error():
    app = app_with(ok)
    first = {"type": "http.request", "body": b'{"model"', "more_body": True}
    status, _ = asyncio.run(call_asgi(app, [first, {"type": "http.disconnect"}]))
    assert status == 499


def test_requests_beyond_the_in_flight_limit_are_shed_at_once_but_health_and_metrics_answer():
    release, both_waiting, waiting = asyncio.Event(), asyncio.Event(), []

    async def slow(request):
        if request.url.path == "/v1/chat/completions":
            waiting.append(request)
            if len(waiting) == 2:
                both_waiting.set()
            await release.wait()
        return httpx.Response(200, content=COMPLETION, headers=JSON)

    async def scenario():
        app = app_with(slow, max_in_flight=2, retry_after_s=3)
        transport = httpx.ASGITransport(app)
        async with httpx.AsyncClient(transport=transport, base_url="http://gw") as client:
            held = [asyncio.ensure_future(client.post("/v1/chat/completions", json=BASIC)) for _ in range(2)]
            # The third request must come while both are in flight, i.e. waiting on the upstream.
            try:
                await asyncio.wait_for(both_waiting.wait(), 5)
            except TimeoutError:
                pytest.fail(f"only {len(waiting)} of the 2 held requests reached the upstream within 5 s")
            shed = await client.post("/v1/chat/completions", json=BASIC)
            health, metrics = await client.get("/health"), await client.get("/metrics")
            release.set()
            done = await asyncio.gather(*held)
            after = await client.post("/v1/chat/completions", json=BASIC)
        return shed, health, metrics, done, after

    shed, health, metrics, done, after = asyncio.run(asyncio.wait_for(scenario(), 10))
    assert shed.status_code == 503 and shed.headers["retry-after"] == "3"
    assert shed.json()["error"]["code"] == "server_overloaded"
    assert health.status_code == 200 and metrics.status_code == 200
    assert [r.status_code for r in done] == [200, 200] and after.status_code == 200
