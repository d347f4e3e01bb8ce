"""Gateway workers: pass-through throughput with 1 and 2 gateway processes, in one run.

    python bench/bench_workers.py [--requests 3000] [--concurrency 64] [--rounds 3]

A zero-cost upstream (bench/zero_upstream.py) stands in for vLLM, so the gateway's own CPU is
what is measured. Two gateways attach to it — ``serve --workers 1`` and ``serve --workers 2`` —
and are driven in alternating rounds (1, 2, 1, 2, ...) at the same concurrency, so that machine
noise hits both alike; the best round of each is reported, with the direct upstream alongside.
"""

from __future__ import annotations

import argparse
import asyncio
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import httpx
from _common import poster, throughput

from devstack import Stack, free_port

ROOT = Path(__file__).resolve().parents[1]
CONFIG = ROOT / "configs" / "tiny.yaml"
BODY = {"model": "tiny-granite", "messages": [{"role": "user", "content": "What is the capital of France?"}]}


async def rounds(urls: dict[str, str], total: int, concurrency: int, n_rounds: int) -> dict[str, list[float]]:
    out: dict[str, list[float]] = {name: [] for name in urls}
    for i in range(n_rounds + 1):
        for name, url in urls.items():
            # A fresh pool per round: connections idle longer than the servers' keep-alive (5 s,
            # while the other variants run) would be closed under a client that reuses them.
            limits = httpx.Limits(max_connections=concurrency, max_keepalive_connections=concurrency)
            async with httpx.AsyncClient(timeout=60, limits=limits) as client:
                call = poster(client, f"{url}/v1/chat/completions", BODY)
                await throughput(call, concurrency * 2, concurrency)  # warm-up: connections
                rate = await throughput(call, total, concurrency)
            if i:  # round 0 warms up the servers themselves
                out[name].append(rate)
    return out


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--requests", type=int, default=3000)
    ap.add_argument("--concurrency", type=int, default=64)
    ap.add_argument("--rounds", type=int, default=3)
    args = ap.parse_args()
    logs = Path(tempfile.mkdtemp(prefix="bench-workers-"))
    nproc = subprocess.run(["nproc"], capture_output=True, text=True).stdout.strip()
    port = free_port()
    upstream = subprocess.Popen([sys.executable, str(ROOT / "bench/zero_upstream.py"), str(port)])
    try:
        time.sleep(2)
        env = {"GRANITE_CERTAINTY_VLLM__URL": f"http://127.0.0.1:{port}", "GRANITE_CERTAINTY_LOG_LEVEL": "warning"}
        one = Stack(CONFIG, log_path=logs / "w1.log", env={**env, "GRANITE_CERTAINTY_WORKERS": "1"}, timeout_s=60)
        two = Stack(CONFIG, log_path=logs / "w2.log", env={**env, "GRANITE_CERTAINTY_WORKERS": "2"}, timeout_s=60)
        with one, two:
            urls = {"upstream direct": f"http://127.0.0.1:{port}", "1 worker": one.url, "2 workers": two.url}
            result = asyncio.run(rounds(urls, args.requests, args.concurrency, args.rounds))
    finally:
        upstream.terminate()
    print(f"machine: {nproc} CPUs; {args.requests} pass-through requests per round at concurrency {args.concurrency}")
    print("| variant | best round (req/s) | all rounds (req/s) |")
    print("| --- | ---: | --- |")
    for name, values in result.items():
        print(f"| {name} | {max(values):.0f} | {', '.join(f'{v:.0f}' for v in values)} |")
    print(f"\n2 workers / 1 worker: {max(result['2 workers']) / max(result['1 worker']):.2f}x")


if __name__ == "__main__":
    main()
