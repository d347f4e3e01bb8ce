"""What the certainty cache saves on repeated conversations.

    python bench/bench_cache.py [--requests 30] [--questions 5]

Starts the real stack on the tiny model (its gateway without the cache) and a second gateway
attached to the same vLLM with ``certainty.cache_entries`` set, then, interleaved in one run,
asks both the same few questions over and over with ``"certainty": true`` (greedy, so each
question gets the same answer and the same scoring request every time). Reported: p50 per
variant, the cached/uncached ratio, and the cache's hit rate from ``/metrics``. The first round
fills the cache and is not timed.
"""

from __future__ import annotations

import argparse
import asyncio
import re
import tempfile
from pathlib import Path

import httpx

# _common sits beside this script, so `python bench/<script>.py` finds it; the project is installed.
from _common import latencies, pct, summary

from devstack import Stack

ROOT = Path(__file__).resolve().parents[1]
CONFIG = ROOT / "configs/tiny.yaml"
QUESTIONS = [
    "What is the capital of France?",
    "Who wrote Hamlet?",
    "What is 2 + 2?",
    "What colour is the sky?",
    "How many days are in a week?",
    "What is the largest ocean?",
    "Who painted the Mona Lisa?",
    "What is water made of?",
]


def hits_and_misses(url: str) -> tuple[float, float]:
    """The cache's hit and miss counts from the gateway's ``/metrics``."""
    text = httpx.get(f"{url}/metrics", timeout=30).text
    counts = {}
    for result in ("hit", "miss"):
        found = re.search(rf'granite_certainty_certainty_cache_total{{result="{result}"}} (\S+)', text)
        counts[result] = float(found.group(1)) if found else 0.0
    return counts["hit"], counts["miss"]


async def run(urls: dict[str, str], n: int, questions: list[str]) -> dict[str, list[float]]:
    async with httpx.AsyncClient(timeout=300) as client:

        def asker(url: str):
            turn = iter(range(10**9))

            async def call():
                question = questions[next(turn) % len(questions)]
                body = {
                    "model": "tiny-granite",
                    "messages": [{"role": "user", "content": question}],
                    "max_tokens": 32,
                    "temperature": 0,
                    "certainty": True,
                }
                resp = await client.post(f"{url}/v1/chat/completions", json=body)
                resp.raise_for_status()

            return call

        calls = {name: asker(url) for name, url in urls.items()}
        for call in calls.values():
            for _ in questions:  # the first round fills the cache: not timed
                await call()
        return await latencies(calls, n)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--requests", type=int, default=30)
    ap.add_argument("--questions", type=int, default=5, help=f"distinct questions asked in turn (≤ {len(QUESTIONS)})")
    args = ap.parse_args()
    logs = Path(tempfile.mkdtemp(prefix="bench-cache-"))
    quiet = {"GRANITE_CERTAINTY_LOG_LEVEL": "warning"}
    with Stack(CONFIG, log_path=logs / "stack.log", env=quiet) as stack:
        attached = {
            **quiet,
            "GRANITE_CERTAINTY_VLLM__URL": stack.vllm_url,
            "GRANITE_CERTAINTY_VLLM__API_KEY": stack.vllm_key,
            "GRANITE_CERTAINTY_CERTAINTY__CACHE_ENTRIES": "1024",
        }
        with Stack(CONFIG, log_path=logs / "cached.log", env=attached, timeout_s=120) as cached:
            urls = {"no cache": stack.url, "cache": cached.url}
            lat = asyncio.run(run(urls, args.requests, QUESTIONS[: args.questions]))
            hits, misses = hits_and_misses(cached.url)
    print(f"## Repeated conversations: {args.questions} questions in turn, {args.requests} timed requests each")
    for name, values in lat.items():
        print(summary(name, values))
    ratio = pct(lat["cache"], 50) / pct(lat["no cache"], 50)
    print(
        f"cache / no cache: p50 {ratio:.3f}x; hit rate {hits / (hits + misses):.2f} ({hits:.0f} of {hits + misses:.0f})"
    )


if __name__ == "__main__":
    main()
