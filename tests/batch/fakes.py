"""A fake gateway for the batch scorer: httpx.MockTransport speaking the gateway's OpenAI API.

The ``uncertainty`` intrinsic answers ``{"certainty": c}`` with ``c`` read from the answer's text
(``"... 0.42"`` scores 0.42, else 0.5); the base model ``tiny-granite`` with ``"certainty": true``
adds ``certainty`` to its choice; any other model is a 404. Every request is recorded.
"""

from __future__ import annotations

import asyncio
import json

import httpx

BASE = "tiny-granite"


def certainty_of(messages: list[dict]) -> float:
    """The certainty the fake gives a conversation: the number its last message ends with, or 0.5."""
    last = str(messages[-1].get("content", "")).split()
    try:
        return float(last[-1])
    except (IndexError, ValueError):
        return 0.5


class FakeGateway:
    """Knobs: ``fail(body, attempt) -> httpx.Response | None`` answers instead (a 503, a 429, or raises);
    ``delay_s`` holds each answer (to see how many are in flight). Records requests and headers."""

    def __init__(self):
        self.requests: list[dict] = []
        self.headers: list[httpx.Headers] = []
        self.fail = lambda body, attempt: None
        self.delay_s = 0.0
        self.in_flight = self.most_in_flight = 0

    def transport(self) -> httpx.MockTransport:
        return httpx.MockTransport(self.handle)

    async def handle(self, request: httpx.Request) -> httpx.Response:
        assert request.method == "POST" and request.url.path == "/v1/chat/completions", request.url
        body = json.loads(request.content)
        attempt = sum(1 for r in self.requests if r == body)
        self.requests.append(body)
        self.headers.append(request.headers)
        self.in_flight += 1
        self.most_in_flight = max(self.most_in_flight, self.in_flight)
        try:
            await asyncio.sleep(self.delay_s)
        finally:
            self.in_flight -= 1
        failure = self.fail(body, attempt)
        if failure is not None:
            return failure
        return answer(body)


def answer(body: dict) -> httpx.Response:
    """What the fake answers a request that does not fail."""
    c = certainty_of(body["messages"])
    if body.get("model") == "uncertainty":
        message = {"role": "assistant", "content": json.dumps({"certainty": c})}
        return httpx.Response(200, json={"id": "chatcmpl-1", "choices": [{"index": 0, "message": message}]})
    if body.get("model") == BASE:
        choice = {"index": 0, "message": {"role": "assistant", "content": "An answer."}}
        if body.get("certainty"):
            choice["certainty"] = c
        return httpx.Response(200, json={"id": "chatcmpl-2", "choices": [choice]})
    error = {"message": f"The model `{body.get('model')}` does not exist.", "type": "NotFoundError", "param": "model"}
    return httpx.Response(404, json={"error": {**error, "code": "model_not_found"}})


def plain(question: str, answer: str, **extra) -> dict:
    """A plain input line: the question and the answer to score."""
    return {"messages": [{"role": "user", "content": question}, {"role": "assistant", "content": answer}], **extra}


def write_lines(path, lines) -> str:
    """Write input lines (dicts as JSON, strings as they are); the path as a string."""
    path.write_text("".join((line if isinstance(line, str) else json.dumps(line)) + "\n" for line in lines))
    return str(path)


def read_output(path) -> list[dict]:
    """The output file's lines."""
    return [json.loads(line) for line in path.read_text().splitlines()]
