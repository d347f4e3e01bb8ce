"""Gateway overhead: the gateway vs calling vLLM directly with the same rewritten request, and
the gateway in front of a zero-cost upstream (its own added latency per request).

    python bench/bench_gateway.py [--requests 100] [--throughput-requests 160] [--concurrency 16]

Part 1 starts the real stack on the tiny model (vLLM + gateway, as `make demo` does) and, in
one run, interleaves: (a) POST the client request {"model": "uncertainty", messages} to the
gateway, which rewrites it, calls the adapter and computes the certainty; (b) POST the
rewritten request straight to vLLM. Then throughput of each at the given concurrency.
Part 2 starts a zero-cost upstream (bench/zero_upstream.py) and a gateway attached to it,
and compares calling the upstream directly with calling it through the gateway.
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

# _common sits beside this script, so `python bench/<script>.py` finds it; the project is installed.
from _common import latencies, pct, poster, summary, throughput

import intrinsics
from devstack import Stack, free_port

ROOT = Path(__file__).resolve().parents[1]
CONFIG = ROOT / "configs" / "tiny.yaml"
MESSAGES = [
    {"role": "user", "content": "What is the capital of France?"},
    {"role": "assistant", "content": "The capital of France is Paris."},
]


async def real_stack(stack: Stack, n: int, total: int, concurrency: int) -> None:
    core = intrinsics.load(ROOT / "configs/intrinsics/uncertainty/io.yaml", name="uncertainty", model="uncertainty")
    client_request = {"model": "uncertainty", "messages": MESSAGES}
    rewritten = core.rewrite(client_request)
    limits = httpx.Limits(max_connections=64, max_keepalive_connections=64)
    async with httpx.AsyncClient(timeout=300, limits=limits) as client:
        gateway = poster(client, f"{stack.url}/v1/chat/completions", client_request)
        key = {"authorization": f"Bearer {stack.vllm_key}"}
        direct = poster(client, f"{stack.vllm_url}/v1/chat/completions", rewritten, key)
        for call in (gateway, direct):  # warm-up: connections, vLLM's prefix cache
            for _ in range(5):
                await call()
        lat = await latencies(
            {"gateway (uncertainty intrinsic)": gateway, "vLLM direct (rewritten request)": direct}, n
        )
        tput = {}
        for name, call in (("gateway", gateway), ("direct", direct), ("gateway ", gateway), ("direct ", direct)):
            tput.setdefault(name.strip(), []).append(await throughput(call, total, concurrency))
    g, d = lat["gateway (uncertainty intrinsic)"], lat["vLLM direct (rewritten request)"]
    print(f"\n## Real vLLM on the tiny model (CPU): {n} sequential requests each, interleaved")
    for name, values in lat.items():
        print(summary(name, values))
    print(f"latency ratio gateway/direct: p50 {pct(g, 50) / pct(d, 50):.3f}x   p99 {pct(g, 99) / pct(d, 99):.3f}x")
    gt, dt = max(tput["gateway"]), max(tput["direct"])
    print(
        f"throughput at concurrency {concurrency} ({total} requests, best of 2): gateway {gt:.1f} req/s, "
        f"direct {dt:.1f} req/s, ratio {gt / dt:.3f}x"
    )


async def zero_cost(gateway_url: str, upstream_url: str, n: int) -> None:
    async with httpx.AsyncClient(timeout=30) as client:
        calls = {
            "upstream direct (base)": poster(
                client, f"{upstream_url}/v1/chat/completions", {"model": "tiny-granite", "messages": MESSAGES}
            ),
            "gateway pass-through (base)": poster(
                client, f"{gateway_url}/v1/chat/completions", {"model": "tiny-granite", "messages": MESSAGES}
            ),
            "upstream direct (adapter)": poster(
                client, f"{upstream_url}/v1/chat/completions", {"model": "uncertainty", "messages": MESSAGES}
            ),
            "gateway intrinsic (uncertainty)": poster(
                client, f"{gateway_url}/v1/chat/completions", {"model": "uncertainty", "messages": MESSAGES}
            ),
        }
        for call in calls.values():
            for _ in range(50):
                await call()
        lat = await latencies(calls, n)
    print(f"\n## Zero-cost upstream: {n} sequential requests each, interleaved")
    for name, values in lat.items():
        print(summary(name, values))
    for kind, direct, through in (
        ("pass-through", "upstream direct (base)", "gateway pass-through (base)"),
        ("intrinsic", "upstream direct (adapter)", "gateway intrinsic (uncertainty)"),
    ):
        added = (pct(lat[through], 50) - pct(lat[direct], 50)) * 1000
        print(f"added latency, {kind}: p50 {added:.3f} ms per request")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--requests", type=int, default=100)
    ap.add_argument("--throughput-requests", type=int, default=160)
    ap.add_argument("--concurrency", type=int, default=16)
    ap.add_argument("--zero-requests", type=int, default=2000)
    ap.add_argument("--only", choices=["zero", "real"], help="run one part only")
    args = ap.parse_args()
    logs = Path(tempfile.mkdtemp(prefix="bench-gateway-"))
    print(f"machine: {subprocess.run(['nproc'], capture_output=True, text=True).stdout.strip()} CPUs; logs in {logs}")

    if args.only != "real":
        zero_part(logs, args.zero_requests)
    if args.only != "zero":
        with Stack(CONFIG, log_path=logs / "stack.log", env={"GRANITE_CERTAINTY_LOG_LEVEL": "warning"}) as stack:
            asyncio.run(real_stack(stack, args.requests, args.throughput_requests, args.concurrency))


def zero_part(logs: Path, n: int) -> None:
    port = free_port()
    upstream = subprocess.Popen([sys.executable, str(ROOT / "bench/zero_upstream.py"), str(port)])
    try:
        time.sleep(2)
        env = {"GRANITE_CERTAINTY_VLLM__URL": f"http://127.0.0.1:{port}", "GRANITE_CERTAINTY_LOG_LEVEL": "warning"}
        with Stack(CONFIG, log_path=logs / "gateway-zero.log", env=env, timeout_s=60) as gw:
            asyncio.run(zero_cost(gw.url, f"http://127.0.0.1:{port}", n))
    finally:
        upstream.terminate()


if __name__ == "__main__":
    main()
