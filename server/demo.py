"""``make demo``: the full stack on the embedded tiny model, one question, its certainty."""

from __future__ import annotations

import json
import time
from pathlib import Path

import httpx

from .settings import Settings
from .stack import Stack


def run_demo(config: str, question: str) -> int:
    """Start the stack for ``config``, ask ``question``, print the answer and its certainty."""
    settings = Settings.load(config)
    log_path = Path(settings.cache_dir).expanduser() / "logs" / "demo.log"
    print(f"Starting vLLM and the gateway for {config} (first run builds the tiny model; log: {log_path}) ...",
          flush=True)  # fmt: skip
    t0 = time.monotonic()
    with Stack(config, log_path=log_path) as stack:
        print(f"Stack up in {time.monotonic() - t0:.0f} s at {stack.url}\n", flush=True)
        with httpx.Client(base_url=stack.url, timeout=120) as client:
            messages = [{"role": "user", "content": question}]
            answer = _content(client.post("/v1/chat/completions", json={
                "model": settings.served_name, "messages": messages, "max_tokens": 64, "temperature": 0}))  # fmt: skip
            messages.append({"role": "assistant", "content": answer})
            result = _content(client.post("/v1/chat/completions", json={"model": "uncertainty", "messages": messages}))
    certainty = json.loads(result)["certainty"]
    print(f"Question:  {question}\nAnswer:    {answer}\nCertainty: {certainty:.3f}")
    return 0


def _content(resp: httpx.Response) -> str:
    resp.raise_for_status()
    return resp.json()["choices"][0]["message"]["content"]
