"""The gateway app's own CPU per request, without uvicorn or sockets, beside the floor.

    python bench/bench_app_cpu.py [--requests 2000] [--config configs/tiny.yaml]

End-to-end latency on these 2-core VMs moves by a tenth of a millisecond from run to run;
this measures what the code itself costs, steadily enough to compare one change: ASGI calls
made in process against an upstream that answers at once (an ``httpx.MockTransport`` with the
zero-cost upstream's canned answers), best of 5 rounds. Printed beside it, with the same
transport and the same harness: the floor relay (bench/floor_relay.py: receive, relay, send)
and a minimal FastAPI app with one route that does the same (FastAPI's own share).
"""

from __future__ import annotations

import argparse
import asyncio
import time

import httpx
import orjson
from fastapi import FastAPI, Request
from fastapi.responses import Response

# floor_relay and zero_upstream sit beside this script; the project is installed.
from floor_relay import relay_app
from zero_upstream import ADAPTER, BASE

from server.app import create_app
from server.settings import Settings

UPSTREAM = "http://upstream"
MESSAGES = [
    {"role": "user", "content": "What is the capital of France?"},
    {"role": "assistant", "content": "The capital of France is Paris."},
]


def answer(request: httpx.Request) -> httpx.Response:
    """The zero-cost upstream's answer: the adapter's canned output, or the base model's."""
    content = ADAPTER if b'"uncertainty"' in request.content else BASE
    return httpx.Response(200, content=content, headers={"content-type": "application/json"})


def fastapi_min(transport: httpx.AsyncBaseTransport) -> FastAPI:
    """FastAPI with the relay as its one route: what FastAPI adds to the floor."""
    app = FastAPI()
    url = httpx.URL(UPSTREAM + "/v1/chat/completions")

    @app.post("/v1/chat/completions")
    async def relay(request: Request) -> Response:
        body = await request.body()
        req = httpx.Request("POST", url, content=body, headers={"content-type": "application/json"})
        resp = await transport.handle_async_request(req)
        content = b"".join([chunk async for chunk in resp.stream])
        await resp.stream.aclose()
        return Response(content, status_code=resp.status_code, media_type="application/json")

    return app


async def per_request_us(app, model: str, n: int) -> float:
    """Microseconds per ``POST /v1/chat/completions`` for ``model`` through ``app``: best of 5 rounds."""
    body = orjson.dumps({"model": model, "messages": MESSAGES})
    headers = [(b"host", b"gateway"), (b"content-type", b"application/json"), (b"content-length", b"%d" % len(body))]
    scope = {
        "type": "http",
        "asgi": {"version": "3.0"},
        "http_version": "1.1",
        "method": "POST",
        "scheme": "http",
        "path": "/v1/chat/completions",
        "raw_path": b"/v1/chat/completions",
        "query_string": b"",
        "root_path": "",
        "headers": headers,
        "client": ("127.0.0.1", 1),
        "server": ("127.0.0.1", 2),
    }

    async def one() -> None:
        pending = [{"type": "http.request", "body": body, "more_body": False}]
        sent = []

        async def receive():
            if pending:
                return pending.pop()
            await asyncio.Event().wait()  # the client stays: no disconnect

        async def send(message):
            sent.append(message)

        await app({**scope, "state": {}}, receive, send)
        if sent[0]["status"] != 200:
            raise RuntimeError(f"{model}: {sent}")

    for _ in range(300):
        await one()
    rounds = []
    for _ in range(5):
        t0 = time.perf_counter()
        for _ in range(n):
            await one()
        rounds.append((time.perf_counter() - t0) / n * 1e6)
    return min(rounds)


async def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--requests", type=int, default=2000)
    ap.add_argument("--config", default="configs/tiny.yaml")
    args = ap.parse_args()
    transport = httpx.MockTransport(answer)
    settings = Settings.load(args.config, vllm={"url": UPSTREAM})
    gateway = create_app(settings, transport=transport)
    floor, minimal = relay_app(UPSTREAM, transport), fastapi_min(transport)
    async with gateway.router.lifespan_context(gateway):
        rows = {
            "floor relay (raw ASGI)": await per_request_us(floor, settings.served_name, args.requests),
            "FastAPI, one relay route": await per_request_us(minimal, settings.served_name, args.requests),
            "gateway pass-through": await per_request_us(gateway, settings.served_name, args.requests),
            "gateway uncertainty intrinsic": await per_request_us(gateway, "uncertainty", args.requests),
        }
    print(f"## The app's CPU per request, in process ({args.requests} requests, best of 5 rounds)")
    for name, us in rows.items():
        print(f"{name:<32} {us:8.1f} us")


if __name__ == "__main__":
    asyncio.run(main())
