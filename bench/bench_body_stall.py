"""How long one large request body stalls the gateway's event loop (issue: bounded work).

A heartbeat task on the gateway's loop wakes every millisecond and records how late it was;
while it runs, one request with a body just under ``limits.max_body_bytes`` is answered by the
app in-process (httpx.ASGITransport) against a zero-cost upstream (httpx.MockTransport). The
worst lateness is what every other stream on that loop waits while this body is read, parsed
and validated. Side by side: a small request (the floor of the probe) and the two body shapes.

Run: ``python bench/bench_body_stall.py`` (prints a Markdown table for docs/deployment/reliability.md).
"""

from __future__ import annotations

import asyncio
import statistics
import time

import httpx
import orjson

from server.app import create_app
from server.settings import Settings

LIMIT = 8 * 1024 * 1024
COMPLETION = orjson.dumps(
    {
        "id": "c",
        "object": "chat.completion",
        "created": 0,
        "model": "base",
        "choices": [{"index": 0, "message": {"role": "assistant", "content": "Paris."}, "finish_reason": "stop"}],
    }
)


def bodies() -> dict[str, bytes]:
    """The shapes measured, each (but the floor) just under the body limit."""
    user = lambda text: {"role": "user", "content": text}
    many = [user("x" * 8000) for _ in range(1000)]
    return {
        "small (floor)": orjson.dumps({"model": "base", "messages": [user("hi")]}),
        "1 message of ~8 MiB": orjson.dumps({"model": "base", "messages": [user("x" * (LIMIT - 200))]}),
        "1,000 messages of 8 KB": orjson.dumps({"model": "base", "messages": many}),
        "1,000 messages, text parts": orjson.dumps(
            {
                "model": "base",
                "messages": [{"role": "user", "content": [{"type": "text", "text": m["content"]}]} for m in many],
            }
        ),
    }


async def worst_stall(client: httpx.AsyncClient, body: bytes) -> float:
    """The heartbeat's worst lateness (ms) while ``body`` is answered."""
    late: list[float] = []
    stop = asyncio.Event()

    async def heartbeat():
        while not stop.is_set():
            due = time.perf_counter() + 0.001
            await asyncio.sleep(0.001)
            late.append(max(time.perf_counter() - due, 0.0))

    beat = asyncio.ensure_future(heartbeat())
    await asyncio.sleep(0.01)
    resp = await client.post("/v1/chat/completions", content=body, headers={"content-type": "application/json"})
    assert resp.status_code == 200, resp.text[:200]
    stop.set()
    await beat
    return max(late) * 1000


async def main(runs: int = 5) -> None:
    settings = Settings(model={"path": "/m", "served_name": "base"}, limits={"max_messages": 1024})
    upstream = httpx.MockTransport(
        lambda r: httpx.Response(200, content=COMPLETION, headers={"content-type": "application/json"})
    )
    app = create_app(settings, intrinsics={}, transport=upstream)
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app), base_url="http://gw") as client:
        print("| body | bytes | worst event-loop stall, median of", runs, "runs (ms) |")
        print("| --- | ---: | ---: |")
        for name, body in bodies().items():
            assert len(body) <= LIMIT
            stalls = [await worst_stall(client, body) for _ in range(runs)]
            print(f"| {name} | {len(body):,} | {statistics.median(stalls):.1f} |")


if __name__ == "__main__":
    asyncio.run(main())
