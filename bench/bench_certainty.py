"""Answer + certainty in one call vs the two calls it replaces, and n=4 vs n=1 scored.

    python bench/bench_certainty.py [--requests 30]

Starts the real stack on the tiny model and, interleaved in one run:
(a) one call: base-model chat with "certainty": true;
(b) two calls: the same chat without it, then the uncertainty intrinsic on (question, answer);
(c) one call with n=4 and certainty, twice: four identical answers (greedy: choices with the same
text share one scoring call) and four distinct ones (sampled hot, at the temperature given; the
distinct count is reported, so the figure says what it measured), vs (d) the same with n=1.
"""

from __future__ import annotations

import argparse
import asyncio
import tempfile
from pathlib import Path

import httpx

# _common sits beside this script, so `python bench/<script>.py` finds it; the project is installed.
from _common import latencies, pct, summary

from devstack import Stack

ROOT = Path(__file__).resolve().parents[1]
QUESTION = [{"role": "user", "content": "What is the capital of France?"}]


async def run(stack: Stack, n: int, hot: float) -> None:
    url = f"{stack.url}/v1/chat/completions"
    base = {"model": "tiny-granite", "messages": QUESTION, "max_tokens": 32, "temperature": 0}

    async with httpx.AsyncClient(timeout=300) as client:

        async def post(body):
            resp = await client.post(url, json=body)
            resp.raise_for_status()
            return resp.json()

        async def one_call():
            await post({**base, "certainty": True})

        async def two_calls():
            answer = (await post(base))["choices"][0]["message"]["content"]
            await post({"model": "uncertainty", "messages": [*QUESTION, {"role": "assistant", "content": answer}]})

        distinct: dict[str, list[int]] = {"same": [], "distinct": []}

        def n4(kind: str, sampling: dict):
            async def call():
                resp = await post({**base, "n": 4, **sampling, "certainty": True})
                # Choices with the same text share one scoring call, and a cut-off one gets none:
                # count the scoring calls the request took (distinct texts that were scored).
                scored = {c["message"]["content"] for c in resp["choices"] if c.get("certainty") is not None}
                distinct[kind].append(len(scored))

            return call

        async def n1():
            await post({**base, "n": 1, "temperature": hot, "certainty": True})

        calls = {
            "one call (certainty: true)": one_call,
            "two calls (answer, then intrinsic)": two_calls,
            # vLLM refuses n > 1 at temperature 0; top_k 1 samples the greedy answer four times.
            "n=4 scored, identical answers": n4("same", {"temperature": 1.0, "top_k": 1}),
            "n=4 scored, distinct answers": n4("distinct", {"temperature": hot}),
            "n=1 scored": n1,
        }
        for call in calls.values():
            await call()
        for counts in distinct.values():  # the warm-up does not count
            counts.clear()
        lat = await latencies(calls, n)
    print(f"\n## Real vLLM on the tiny model (CPU): {n} sequential requests each, interleaved")
    for name, values in lat.items():
        print(summary(name, values))
    one, two = lat["one call (certainty: true)"], lat["two calls (answer, then intrinsic)"]
    print(f"one call / two calls: p50 {pct(one, 50) / pct(two, 50):.3f}x")
    for kind, name in (("same", "n=4 scored, identical answers"), ("distinct", "n=4 scored, distinct answers")):
        counts = distinct[kind]
        print(
            f"{name} / n=1: p50 {pct(lat[name], 50) / pct(lat['n=1 scored'], 50):.3f}x "
            f"(distinct scored answers among the 4: mean {sum(counts) / len(counts):.2f})"
        )


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--requests", type=int, default=30)
    ap.add_argument("--temperature", type=float, default=2.0, help="of the sampled n=4 and n=1 requests")
    args = ap.parse_args()
    logs = Path(tempfile.mkdtemp(prefix="bench-certainty-"))
    with Stack(
        ROOT / "configs/tiny.yaml", log_path=logs / "stack.log", env={"GRANITE_CERTAINTY_LOG_LEVEL": "warning"}
    ) as stack:
        asyncio.run(run(stack, args.requests, args.temperature))


if __name__ == "__main__":
    main()
