"""A zero-cost stand-in for vLLM: answers every chat completion at once with canned bytes.

Run as ``python bench/zero_upstream.py PORT``. Only for measuring the gateway's own overhead;
the canned adapter answer is the real granite-4.0-micro uncertainty response, so the gateway
does its real work (rewrite, validation, likelihood) on it."""

from __future__ import annotations

import json
import sys
from pathlib import Path

import uvicorn

ROOT = Path(__file__).resolve().parents[1]
ADAPTER = (
    ROOT / "tests/intrinsics/data/mellea-uncertainty-granite-4.0-micro/test_canned_output_model_output_uncertainty.json"
).read_bytes()
BASE = json.dumps(
    {
        "id": "c",
        "object": "chat.completion",
        "created": 0,
        "model": "tiny-granite",
        "choices": [
            {
                "index": 0,
                "message": {"role": "assistant", "content": "The capital of France is Paris."},
                "finish_reason": "stop",
            }
        ],
        "usage": {"prompt_tokens": 20, "completion_tokens": 8, "total_tokens": 28},
    }
).encode()


async def read_body(receive) -> bytes:
    """The whole request body, from the ASGI messages that carry it."""
    body = b""
    while True:
        msg = await receive()
        body += msg.get("body", b"")
        if not msg.get("more_body"):
            return body


async def app(scope, receive, send):
    """Raw ASGI: read the body, answer the adapter's canned output or the base model's."""
    if scope["type"] != "http":
        return
    body = await read_body(receive)
    content = b"" if scope["path"] == "/health" else (ADAPTER if b'"uncertainty"' in body else BASE)
    await send({"type": "http.response.start", "status": 200, "headers": [(b"content-type", b"application/json")]})
    await send({"type": "http.response.body", "body": content})


if __name__ == "__main__":
    uvicorn.run(app, host="127.0.0.1", port=int(sys.argv[1]), log_level="warning", access_log=False)
