"""The load and fault soak: many clients against the real tiny stack, vLLM killed mid-run, then a
rolling restart with streams open. A benchmark script, not a timed test.

    python bench/soak.py [--clients 200] [--seconds 60] [--kill-at 20] [--restart-streams 50] [--cpu-hog]

Run 1: ``--clients`` concurrent clients for at least ``--seconds`` (and until 15 s after
recovery), each sending one kind of request over and over: base non-stream, base stream,
the ``uncertainty`` intrinsic, and base with ``certainty: true``. At ``--kill-at`` seconds
vLLM's whole process group is killed with SIGKILL; ``serve`` restarts it. Reported per kind and
phase (before the kill, the outage until the first good answer, after recovery): completed,
OpenAI errors by status, hung (no answer in 120 s), garbled (a 200 that does not parse, a
stream without ``[DONE]``), 500s, p50/p99 latency; the gateway's RSS at start and end; the
time from the kill to the first good answer.

After run 1, the gateway's own account of what went wrong with vLLM: its
``granite_certainty_upstream_failures_total`` by cause and outcome. ``--cpu-hog`` keeps one core
busy with a spinning process for both runs (a loaded machine: the event loop sees a closed
connection later).

Run 2: ``--restart-streams`` long streams are opened, then ``serve`` gets SIGTERM (a rolling
restart): each stream must complete, or end with an error event and ``[DONE]``.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import signal
import subprocess
import sys
import tempfile
import time
from collections import Counter, defaultdict
from pathlib import Path

import httpx
from _common import pct

from devstack import Stack

ROOT = Path(__file__).resolve().parents[1]
CONFIG = ROOT / "configs" / "tiny.yaml"
BASE = "tiny-granite"
QUESTION = [{"role": "user", "content": "What is the capital of France?"}]
KINDS = {
    "base": {"model": BASE, "messages": QUESTION, "max_tokens": 16},
    "base_stream": {"model": BASE, "messages": QUESTION, "max_tokens": 16, "stream": True},
    "intrinsic": {"model": "uncertainty", "messages": [*QUESTION, {"role": "assistant", "content": "Paris."}]},
    "certainty": {"model": BASE, "messages": QUESTION, "max_tokens": 16, "certainty": True},
}
HUNG_S = 120.0


def rss_mb(pid: int) -> float:
    """Resident memory of ``pid`` in MB, from /proc."""
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return float("nan")


def engine_group(serve_pid: int) -> int:
    """The process group vLLM leads below ``serve`` (its own session)."""
    own = os.getpgid(serve_pid)
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                stat = (entry / "stat").read_text().rsplit(")", 1)[1].split()
            except OSError:
                continue
            if int(stat[1]) == serve_pid and int(stat[3]) != own:
                return int(stat[3])
    raise RuntimeError("no vLLM process group below serve")


async def one(client: httpx.AsyncClient, url: str, body: dict) -> str:
    """Send one request; its outcome: ``ok``, ``error <status>``, ``garbled`` or ``500``."""
    if not body.get("stream"):
        resp = await client.post(url, json=body)
        if resp.status_code == 500:
            return "500"
        try:
            data = resp.json()
        except ValueError:
            return "garbled"
        if resp.status_code == 200:
            return "ok" if isinstance(data.get("choices"), list) else "garbled"
        return f"error {resp.status_code}" if isinstance(data.get("error"), dict) else "garbled"
    async with client.stream("POST", url, json=body) as resp:
        if resp.status_code != 200:
            await resp.aread()
            return "500" if resp.status_code == 500 else f"error {resp.status_code}"
        lines = [line async for line in resp.aiter_lines() if line.startswith("data: ")]
    if not lines or lines[-1] != "data: [DONE]":
        return "garbled"
    try:
        events = [json.loads(line[6:]) for line in lines[:-1]]
    except ValueError:
        return "garbled"
    return "error stream" if any("error" in e for e in events) else "ok"


async def client_loop(i, client, url, until, records):
    kind = list(KINDS)[i % len(KINDS)]
    while time.monotonic() < until[0]:
        start = time.monotonic()
        try:
            outcome = await asyncio.wait_for(one(client, url, KINDS[kind]), HUNG_S)
        except TimeoutError:
            outcome = "hung"
        except httpx.HTTPError as exc:
            outcome = f"transport {type(exc).__name__}"
        records.append((kind, start, time.monotonic(), outcome))
        if outcome != "ok":
            await asyncio.sleep(0.2)  # a client backs off a little after an error, as SDKs do


async def kill_run(stack: Stack, clients: int, seconds: float, kill_at: float) -> dict:
    url = f"{stack.url}/v1/chat/completions"
    records: list = []
    t0 = time.monotonic()
    until = [t0 + seconds]
    rss_start = rss_mb(stack.proc.pid)
    limits = httpx.Limits(max_connections=clients + 10, max_keepalive_connections=clients + 10)
    async with httpx.AsyncClient(timeout=HUNG_S + 10, limits=limits) as client:
        tasks = [asyncio.ensure_future(client_loop(i, client, url, until, records)) for i in range(clients)]
        await asyncio.sleep(kill_at)
        killed = time.monotonic()
        os.killpg(engine_group(stack.proc.pid), signal.SIGKILL)
        until[0] = float("inf")  # the clients go on through the outage, however long the restart takes
        recovered = None
        while recovered is None and time.monotonic() - killed < 900:
            await asyncio.sleep(0.5)
            good = [r for r in records if r[3] == "ok" and r[1] > killed]
            recovered = min((r[2] for r in good), default=None)
        until[0] = max(t0 + seconds, (recovered or time.monotonic()) + 15)
        await asyncio.gather(*tasks)
    return {
        "records": records,
        "killed": killed,
        "recovered": recovered,
        "rss": (rss_start, rss_mb(stack.proc.pid)),
    }


def report(run: dict) -> None:
    killed, recovered = run["killed"], run["recovered"] or float("inf")

    def phase(r):
        return "before" if r[2] < killed else ("outage" if r[1] < recovered else "after")

    table: dict = defaultdict(Counter)
    lat: dict = defaultdict(list)
    for r in run["records"]:
        key = (r[0], phase(r))
        table[key][r[3]] += 1
        if r[3] == "ok":
            lat[key].append(r[2] - r[1])
    print("| kind | phase | requests | ok | outcomes other than ok | p50 ok (ms) | p99 ok (ms) |")
    print("| --- | --- | ---: | ---: | --- | ---: | ---: |")
    for kind in KINDS:
        for ph in ("before", "outage", "after"):
            c = table[(kind, ph)]
            other = ", ".join(f"{k}: {v}" for k, v in sorted(c.items()) if k != "ok") or "—"
            ls = lat[(kind, ph)]
            p50 = f"{pct(ls, 50) * 1000:.0f}" if ls else "—"
            p99 = f"{pct(ls, 99) * 1000:.0f}" if ls else "—"
            print(f"| {kind} | {ph} | {sum(c.values())} | {c['ok']} | {other} | {p50} | {p99} |")
    total = Counter(r[3] for r in run["records"])
    print(f"\nall outcomes: {dict(total)}")
    print(f"kill -> first good answer: {recovered - killed:.1f} s")
    print(f"gateway RSS: {run['rss'][0]:.0f} MB at start, {run['rss'][1]:.0f} MB at end")


def upstream_failures(gateway: str) -> list[str]:
    """The gateway's counts of failed calls to vLLM, by cause and outcome (its /metrics)."""
    text = httpx.get(f"{gateway}/metrics", timeout=10).text
    return [line for line in text.splitlines() if line.startswith("granite_certainty_upstream_failures_total")]


def cpu_hog() -> subprocess.Popen:
    """A process that keeps the first core busy until it is killed."""
    hog = subprocess.Popen([sys.executable, "-c", "while True: pass"])
    os.sched_setaffinity(hog.pid, {min(os.sched_getaffinity(0))})
    return hog


async def rolling_restart(stack: Stack, streams: int) -> Counter:
    """Open ``streams`` long streams, SIGTERM ``serve`` once all have begun, classify each."""
    body = {"model": BASE, "messages": [{"role": "user", "content": "Tell me a long story."}], "stream": True}
    body.update(max_tokens=200, min_tokens=200, temperature=1.0)
    began = asyncio.Semaphore(0)

    async def stream(client):
        try:
            async with client.stream("POST", f"{stack.url}/v1/chat/completions", json=body) as resp:
                lines = []
                async for line in resp.aiter_lines():
                    if line.startswith("data: "):
                        if not lines:
                            began.release()
                        lines.append(line)
        except httpx.HTTPError as exc:
            began.release()
            return f"cut ({type(exc).__name__})"
        if lines and lines[-1] == "data: [DONE]":
            return "ended with an error event" if any('"error"' in x for x in lines) else "completed"
        return "cut (no [DONE])"

    limits = httpx.Limits(max_connections=streams + 5)
    async with httpx.AsyncClient(timeout=300, limits=limits) as client:
        tasks = [asyncio.ensure_future(stream(client)) for _ in range(streams)]
        for _ in range(streams):
            await began.acquire()
        stack.proc.send_signal(signal.SIGTERM)
        return Counter(await asyncio.gather(*tasks))


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--clients", type=int, default=200)
    ap.add_argument("--seconds", type=float, default=60)
    ap.add_argument("--kill-at", type=float, default=20)
    ap.add_argument("--restart-streams", type=int, default=50)
    ap.add_argument("--cpu-hog", action="store_true", help="keep one core busy for the whole soak")
    args = ap.parse_args()
    logs = Path(tempfile.mkdtemp(prefix="soak-"))
    env = {"GRANITE_CERTAINTY_VLLM__RESTART_BACKOFF_S": "0.5"}
    hog = cpu_hog() if args.cpu_hog else None
    try:
        with Stack(CONFIG, log_path=logs / "kill.log", env=env) as stack:
            print(f"## Run 1: {args.clients} clients, vLLM killed at {args.kill_at:g} s (logs: {logs})\n")
            report(asyncio.run(kill_run(stack, args.clients, args.seconds, args.kill_at)))
            print("\n".join(["upstream failures (the gateway's metrics):", *upstream_failures(stack.url)]))
        with Stack(CONFIG, log_path=logs / "restart.log") as stack:
            print(f"\n## Run 2: SIGTERM to serve with {args.restart_streams} streams open\n")
            outcome = asyncio.run(rolling_restart(stack, args.restart_streams))
            print(dict(outcome))
            print(f"serve exited with {stack.proc.wait(120)}")
    finally:
        if hog is not None:
            hog.kill()


if __name__ == "__main__":
    main()
