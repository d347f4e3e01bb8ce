"""The gateway at two revisions, side by side in one run, in front of one zero-cost upstream.

    python bench/bench_revisions.py BASELINE [--requests 2000] [--floor]

For a refactor that must not slow the hot path: a git worktree of BASELINE (any revision) and
this checkout each run a gateway (``serve --vllm-url``) attached to the same zero-cost upstream
(bench/zero_upstream.py); requests to the upstream directly and to each gateway, pass-through
and the ``uncertainty`` intrinsic, are interleaved (A, B, C, ...) so that machine noise hits
every variant alike. Reported: p50/p99 per variant, each gateway's added p50 per request, and
this checkout's added latency over the baseline's, and each gateway process's CPU per request
(``/proc``). ``--floor`` adds the floor relay
(bench/floor_relay.py: a raw ASGI relay through the same httpx transport) as a third "gateway":
issue 17's floor, what a gateway that receives one request and sends one cannot go below.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import httpx

# _common sits beside this script, so `python bench/<script>.py` finds it; the project is installed.
from _common import latencies, pct, poster, summary

from devstack import free_port

ROOT = Path(__file__).resolve().parents[1]
MESSAGES = [
    {"role": "user", "content": "What is the capital of France?"},
    {"role": "assistant", "content": "The capital of France is Paris."},
]


def start_gateway(tree: Path, upstream: str, log: Path) -> tuple[subprocess.Popen, str]:
    """``serve --vllm-url`` from the source in ``tree`` (its own ``server`` package first on the path)."""
    port = free_port()
    env = {
        **os.environ,
        "PYTHONPATH": str(tree),
        "GRANITE_CERTAINTY_VLLM__URL": upstream,
        "GRANITE_CERTAINTY_LOG_LEVEL": "warning",
    }
    config = str(tree / "configs/tiny.yaml")
    cmd = [sys.executable, "-m", "server.cli", "serve", "--config", config, "--port", str(port)]
    proc = subprocess.Popen(cmd, cwd=tree, env=env, stdout=log.open("w"), stderr=subprocess.STDOUT)
    url = f"http://127.0.0.1:{port}"
    if wait_live(url):
        return proc, url
    proc.kill()
    raise SystemExit(f"the gateway of {tree} did not start: {log.read_text()[-2000:]}")


def start_floor(upstream: str) -> tuple[subprocess.Popen, str]:
    """The floor relay (bench/floor_relay.py) in front of ``upstream``."""
    port = free_port()
    proc = subprocess.Popen([sys.executable, str(ROOT / "bench/floor_relay.py"), str(port), upstream])
    url = f"http://127.0.0.1:{port}"
    if not wait_live(url):
        proc.kill()
        raise SystemExit("the floor relay did not start")
    return proc, url


def cpu_seconds(pid: int) -> float:
    """CPU time (user + system) of process ``pid`` and its waited-for children, from /proc."""
    fields = Path(f"/proc/{pid}/stat").read_text().rpartition(")")[2].split()
    return sum(int(f) for f in fields[11:15]) / os.sysconf("SC_CLK_TCK")


def wait_live(url: str, timeout_s: float = 60) -> bool:
    """Whether ``url``/livez answers 200 within ``timeout_s``."""
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        try:
            if httpx.get(f"{url}/livez", timeout=1).status_code == 200:
                return True
        except httpx.TransportError:
            time.sleep(0.2)
    return False


async def compare(upstream: str, gateways: dict[str, str], n: int) -> dict[str, list[float]]:
    base = {"model": "tiny-granite", "messages": MESSAGES}
    adapter = {"model": "uncertainty", "messages": MESSAGES}
    async with httpx.AsyncClient(timeout=30) as client:
        calls = {"upstream direct (base)": poster(client, f"{upstream}/v1/chat/completions", base)}
        for name, url in gateways.items():
            calls[f"{name} pass-through"] = poster(client, f"{url}/v1/chat/completions", base)
        calls["upstream direct (adapter)"] = poster(client, f"{upstream}/v1/chat/completions", adapter)
        for name, url in gateways.items():
            calls[f"{name} intrinsic"] = poster(client, f"{url}/v1/chat/completions", adapter)
        for call in calls.values():
            for _ in range(50):
                await call()
        return await latencies(calls, n)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("baseline", help="a git revision to compare this checkout with")
    ap.add_argument("--requests", type=int, default=2000)
    ap.add_argument("--floor", action="store_true", help="time the floor relay beside the gateways")
    args = ap.parse_args()
    logs = Path(tempfile.mkdtemp(prefix="bench-revisions-"))
    worktree = logs / "baseline"
    subprocess.run(["git", "-C", str(ROOT), "worktree", "add", "--detach", str(worktree), args.baseline], check=True)
    port = free_port()
    upstream_url = f"http://127.0.0.1:{port}"
    procs = [subprocess.Popen([sys.executable, str(ROOT / "bench/zero_upstream.py"), str(port)])]
    try:
        time.sleep(2)
        gateways = {}
        for name, tree in ((f"baseline {args.baseline}", worktree), ("this checkout", ROOT)):
            proc, url = start_gateway(tree, upstream_url, logs / f"{name.split()[0]}.log")
            procs.append(proc)
            gateways[name] = url
        if args.floor:
            proc, gateways["floor relay"] = start_floor(upstream_url)
            procs.append(proc)
        pids = dict(zip(gateways, (p.pid for p in procs[1:]), strict=True))
        cpu_before = {g: cpu_seconds(pid) for g, pid in pids.items()}
        lat = asyncio.run(compare(upstream_url, gateways, args.requests))
        sent = 2 * (args.requests + 50)  # pass-through and intrinsic, warm-up included
        cpu = {g: (cpu_seconds(pid) - cpu_before[g]) / sent * 1e6 for g, pid in pids.items()}
    finally:
        for proc in procs:
            proc.terminate()
        subprocess.run(["git", "-C", str(ROOT), "worktree", "remove", "--force", str(worktree)], check=False)
    print(f"## Zero-cost upstream: {args.requests} sequential requests each, interleaved")
    for name, values in lat.items():
        print(summary(name, values))
    for kind, direct in (("pass-through", "upstream direct (base)"), ("intrinsic", "upstream direct (adapter)")):
        direct_p50 = pct(lat[direct], 50)
        added = {g: pct(lat[f"{g} {kind}"], 50) - direct_p50 for g in gateways}
        old, new = added[f"baseline {args.baseline}"], added["this checkout"]
        print(
            f"added p50, {kind}: "
            + ", ".join(f"{g} {ms * 1000:.3f} ms ({ms / direct_p50:.3f}x direct)" for g, ms in added.items())
            + f"; this checkout / baseline {new / old:.3f}x"
        )
    print(
        "CPU per request (/proc, pass-through and intrinsic together): "
        + ", ".join(f"{g} {us:.0f} µs" for g, us in cpu.items())
    )


if __name__ == "__main__":
    main()
