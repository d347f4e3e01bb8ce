"""One upstream call alone, through each candidate transport, side by side in one run.

    python bench/bench_transport.py [--calls 1000] [--rounds 5] [--baseline REV]

Each transport (an ``httpx.AsyncBaseTransport``) sends the gateway's pass-through request —
``POST /v1/chat/completions`` with a small JSON body — to the zero-cost upstream
(bench/zero_upstream.py, a uvicorn process of its own) ``--calls`` times in a loop and reads each
answer whole, on uvloop as uvicorn runs the gateway. Reported: the CPU of the calling process
per call (``time.process_time``, best of ``--rounds``, the rounds of all transports interleaved
so that machine noise hits each alike) and its ratio to the gateway's transport:

- ``server.network`` — the gateway's: aiohttp's client under httpx's interface;
- ``aiohttp alone`` — ``aiohttp.ClientSession.post`` in the same loop: what the adapter adds;
- ``httpx's own`` — ``httpx.AsyncHTTPTransport`` (httpcore + h11);
- ``--baseline REV`` — ``server/network.py`` as it was at REV (e.g. the hand-written pool).
"""

from __future__ import annotations

import argparse
import importlib.util
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import aiohttp
import httpx
import uvloop

from devstack import free_port
from server.network import READ_WHOLE, pooled_transport

ROOT = Path(__file__).resolve().parents[1]
BODY = b'{"model": "tiny-granite", "messages": [{"role": "user", "content": "What is the capital of France?"}]}'
HEADERS = [(b"content-type", b"application/json")]
LIMITS = httpx.Limits(max_connections=1024, max_keepalive_connections=256, keepalive_expiry=4)


def transport_at(rev: str) -> httpx.AsyncBaseTransport:
    """``server/network.py`` at git revision ``rev``, loaded as a module of its own."""
    source = subprocess.run(["git", "show", f"{rev}:server/network.py"], cwd=ROOT, capture_output=True, check=True)
    path = Path(tempfile.mkdtemp()) / "network_at_rev.py"
    path.write_bytes(source.stdout)
    spec = importlib.util.spec_from_file_location("network_at_rev", path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module.pooled_transport(verify=True, limits=LIMITS, proxy=None)


def candidates(baseline: str | None) -> dict[str, object]:
    found: dict[str, object] = {
        "server.network": pooled_transport(verify=True, limits=LIMITS, proxy=None),
        "aiohttp alone": "aiohttp",
        "httpx's own": httpx.AsyncHTTPTransport(limits=LIMITS),
    }
    if baseline:
        found[f"server/network.py at {baseline}"] = transport_at(baseline)
    return found


async def calls_through(transport: httpx.AsyncBaseTransport, url: httpx.URL, n: int) -> None:
    # As the gateway's ``Upstream.post`` sends them: the answer asked for whole (other transports ignore it).
    timeout = {"timeout": httpx.Timeout(600, connect=5, pool=1).as_dict(), READ_WHOLE: True}
    for _ in range(n):
        request = httpx.Request("POST", url, content=BODY, headers=HEADERS, extensions=timeout)
        response = await transport.handle_async_request(request)
        await response.aread()
        await response.aclose()


async def calls_alone(session: aiohttp.ClientSession, url: str, n: int) -> None:
    for _ in range(n):
        async with session.post(url, data=BODY, headers={"content-type": "application/json"}) as response:
            await response.read()


async def measure(upstream: str, baseline: str | None, calls: int, rounds: int) -> dict[str, float]:
    url = f"{upstream}/v1/chat/completions"
    best: dict[str, float] = {}
    transports = candidates(baseline)
    async with aiohttp.ClientSession() as session:
        for _ in range(rounds):
            for name, transport in transports.items():
                start = time.process_time()
                if transport == "aiohttp":
                    await calls_alone(session, url, calls)
                else:
                    await calls_through(transport, httpx.URL(url), calls)
                per_call = (time.process_time() - start) / calls * 1e6
                best[name] = min(best.get(name, per_call), per_call)
    for transport in transports.values():
        if transport != "aiohttp":
            await transport.aclose()
    return best


def wait_live(url: str) -> None:
    for _ in range(200):
        try:
            if httpx.get(url + "/livez", timeout=1).status_code < 500:
                return
        except httpx.TransportError:
            time.sleep(0.1)
    raise SystemExit("the zero-cost upstream did not start")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--calls", type=int, default=1000)
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--baseline", help="a git revision whose server/network.py is measured too")
    args = parser.parse_args()
    port = free_port()
    upstream = subprocess.Popen([sys.executable, str(ROOT / "bench/zero_upstream.py"), str(port)])
    try:
        wait_live(f"http://127.0.0.1:{port}")
        best = uvloop.run(measure(f"http://127.0.0.1:{port}", args.baseline, args.calls, args.rounds))
    finally:
        upstream.terminate()
        upstream.wait()
    ours = best["server.network"]
    print(f"| transport | CPU per call (best of {args.rounds} × {args.calls}) | / server.network |")
    print("| --- | ---: | ---: |")
    for name, us in best.items():
        print(f"| {name} | {us:.0f} µs | {us / ours:.2f}× |")


if __name__ == "__main__":
    main()
