"""An answer with several intrinsics in one call vs the separate calls it replaces.

    python bench/bench_intrinsics.py [--requests 30] [--config configs/tiny.yaml]

Starts the stack of the config (the tiny model on CPU by default; it must serve uncertainty,
answerability and citations) and, interleaved in one run, times a RAG question answered with
certainty, answerability and citations:
(a) one call: base-model chat with "intrinsics": ["certainty", "answerability", "citations"];
(b) separate calls, one after another: the answer, then each intrinsic as a model;
(c) separate calls, the client's best: answerability beside the answer, then certainty and
    citations side by side once the answer is there.
Every variant's results are checked equal (the adapters decode greedily), so the figures compare
the same work.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import tempfile
from pathlib import Path

import httpx

# _common sits beside this script, so `python bench/<script>.py` finds it; the project is installed.
from _common import latencies, pct, summary

from devstack import Stack

ROOT = Path(__file__).resolve().parents[1]
QUESTION = [{"role": "user", "content": "What is the capital of France?"}]
DOCUMENTS = [{"doc_id": "1", "text": "France is in Europe. The capital of France is Paris."}]
ASKED = ["certainty", "answerability", "citations"]


async def run(stack: Stack, n: int, base_model: str) -> None:
    url = f"{stack.url}/v1/chat/completions"
    rag = {"messages": QUESTION, "documents": DOCUMENTS}
    base = {"model": base_model, **rag, "max_tokens": 32, "temperature": 0}

    async with httpx.AsyncClient(timeout=300) as client:

        async def post(body):
            resp = await client.post(url, json=body)
            resp.raise_for_status()
            return resp.json()

        async def intrinsic(name, answer=None):
            messages = QUESTION if answer is None else [*QUESTION, {"role": "assistant", "content": answer}]
            content = (await post({"model": name, "messages": messages, "documents": DOCUMENTS}))["choices"][0]
            return json.loads(content["message"]["content"])

        async def one_call():
            choice = (await post({**base, "intrinsics": ASKED}))["choices"][0]
            i = choice["intrinsics"]
            return choice["message"]["content"], i["certainty"], i["answerability"], i["citations"]

        async def sequential():
            answer = (await post(base))["choices"][0]["message"]["content"]
            certainty = (await intrinsic("uncertainty", answer))["certainty"]
            return answer, certainty, await intrinsic("answerability"), await intrinsic("citations", answer)

        async def concurrent():
            answering = asyncio.ensure_future(post(base))
            answerable = asyncio.ensure_future(intrinsic("answerability"))
            answer = (await answering)["choices"][0]["message"]["content"]
            scored, cited = await asyncio.gather(intrinsic("uncertainty", answer), intrinsic("citations", answer))
            return answer, scored["certainty"], await answerable, cited

        calls = {
            "one call (intrinsics: 3)": one_call,
            "separate calls, one after another": sequential,
            "separate calls, concurrent": concurrent,
        }
        results = {name: await call() for name, call in calls.items()}  # warm-up, and the check
        first = next(iter(results.values()))
        for name, result in results.items():
            if result != first:
                raise SystemExit(f"{name} answered {result!r}, not {first!r}: the variants do not do the same work")
        lat = await latencies(calls, n)
    print(f"\n## {n} sequential requests each, interleaved (answer + certainty + answerability + citations)")
    for name, values in lat.items():
        print(summary(name, values))
    one = pct(lat["one call (intrinsics: 3)"], 50)
    for name in ("separate calls, one after another", "separate calls, concurrent"):
        print(f"one call / {name}: p50 {one / pct(lat[name], 50):.3f}x")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--requests", type=int, default=30)
    ap.add_argument("--config", default=str(ROOT / "configs/tiny.yaml"))
    ap.add_argument("--model", default="tiny-granite", help="the base model's served name")
    args = ap.parse_args()
    logs = Path(tempfile.mkdtemp(prefix="bench-intrinsics-"))
    with Stack(args.config, log_path=logs / "stack.log", env={"GRANITE_CERTAINTY_LOG_LEVEL": "warning"}) as stack:
        asyncio.run(run(stack, args.requests, args.model))


if __name__ == "__main__":
    main()
