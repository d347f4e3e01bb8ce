"""Shared pieces of the HTTP benchmarks: timing loops, percentiles, a zero-cost upstream."""

from __future__ import annotations

import asyncio
import statistics
import time
from collections.abc import Awaitable, Callable

import httpx


def pct(values: list[float], q: float) -> float:
    """The q-th percentile (0-100) of ``values`` (nearest rank)."""
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, max(0, round(q / 100 * len(ordered)) - 1))]


async def latencies(calls: dict[str, Callable[[], Awaitable[None]]], n: int) -> dict[str, list[float]]:
    """Time ``n`` sequential calls of each variant, interleaved (A, B, A, B, ...) so that
    machine noise hits every variant alike."""
    out: dict[str, list[float]] = {name: [] for name in calls}
    for _ in range(n):
        for name, call in calls.items():
            t0 = time.perf_counter()
            await call()
            out[name].append(time.perf_counter() - t0)
    return out


async def throughput(call: Callable[[], Awaitable[None]], total: int, concurrency: int) -> float:
    """Requests per second for ``total`` calls with ``concurrency`` in flight."""
    sem = asyncio.Semaphore(concurrency)

    async def one():
        async with sem:
            await call()

    t0 = time.perf_counter()
    await asyncio.gather(*(one() for _ in range(total)))
    return total / (time.perf_counter() - t0)


def poster(
    client: httpx.AsyncClient, url: str, body: dict, headers: dict | None = None
) -> Callable[[], Awaitable[None]]:
    """A call that POSTs ``body`` (with ``headers``) and fails loudly on a non-200 answer."""

    async def call():
        resp = await client.post(url, json=body, headers=headers)
        if resp.status_code != 200:
            raise RuntimeError(f"{url}: {resp.status_code} {resp.text[:300]}")

    return call


def summary(name: str, values: list[float]) -> str:
    """One table row: p50, p99 and mean in milliseconds."""
    ms = [v * 1000 for v in values]
    return f"{name:<34} p50 {pct(ms, 50):8.2f} ms   p99 {pct(ms, 99):8.2f} ms   mean {statistics.fmean(ms):8.2f} ms"
