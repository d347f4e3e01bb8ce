"""``make demo``: the full stack on the embedded tiny model, one question, its certainty.

``python -m devstack.demo [--config configs/tiny.yaml] [--question ...]``: a development tool on
top of the gateway's command (the gateway's own CLI does not import it).
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

import httpx

from server.launch import StartupError
from server.settings import Settings

from .stack import Stack


def run_demo(config: str, question: str) -> int:
    """Start the stack for ``config``, ask ``question``, print the answer and its certainty."""
    settings = Settings.load(config)
    log_path = Path(settings.cache_dir).expanduser() / "logs" / "demo.log"
    print(
        f"Starting vLLM and the gateway for {config} (first run builds the tiny model; log: {log_path}) ...", flush=True
    )
    t0 = time.monotonic()
    stack = Stack(config, log_path=log_path)
    try:
        stack.start()
    except StartupError as exc:
        print(f"The stack did not start: {exc}", file=sys.stderr)
        return 1
    try:
        print(f"Stack up in {time.monotonic() - t0:.0f} s at {stack.url}\n", flush=True)
        with httpx.Client(base_url=stack.url, timeout=120) as client:
            # One call: the base model answers, the uncertainty adapter scores the answer.
            resp = client.post(
                "/v1/chat/completions",
                json={
                    "model": settings.served_name,
                    "messages": [{"role": "user", "content": question}],
                    "max_tokens": 64,
                    "temperature": 0,
                    "certainty": True,
                },
            )
            resp.raise_for_status()
    finally:
        stack.stop()
    choice = resp.json()["choices"][0]
    if choice["certainty"] is None:
        print(
            f"Question:  {question}\nAnswer:    {choice['message']['content']}\n"
            f"Certainty: none ({choice['certainty_error']['message']})"
        )
        return 1
    print(f"Question:  {question}\nAnswer:    {choice['message']['content']}\nCertainty: {choice['certainty']:.3f}")
    return 0


def main(argv: list[str] | None = None) -> int:
    """``python -m devstack.demo``."""
    p = argparse.ArgumentParser(prog="python -m devstack.demo", description=__doc__.splitlines()[0])
    p.add_argument("--config", default="configs/tiny.yaml")
    p.add_argument("--question", default="What is the capital of France?")
    args = p.parse_args(argv)
    return run_demo(args.config, args.question)


if __name__ == "__main__":
    sys.exit(main())
