"""Other intrinsics with the answer (the ``intrinsics`` field) against a fake vLLM: results in
the order asked, spans over the answer's own text, the question judged once and from the start,
failures beside a kept answer, and every request an intrinsic cannot take refused before a call."""

import asyncio
import json
import logging

import httpx
import pytest

from tests.intrinsics.helpers import DATA

from ..apps import make_client
from ..fake_vllm import adapter_output, completion, expected_certainty

REQUIREMENT_OUTPUT = DATA / "mellea" / "test_canned_output" / "model_output" / "requirement_check.json"
ADAPTERS = [{"name": n, "path": f"/{n}"} for n in ("uncertainty", "answerability", "citations", "requirement-check")]
HIGH = {"8": 0.8, "9": 0.2}
Q = [{"role": "user", "content": "What is the capital of France?"}]
DOCS = [{"doc_id": "d1", "text": "France is in Europe. Its capital is Paris."}]
ANSWER = "The capital of France is Paris."
CITED = [{"r": 0, "c": [1]}]
OUTPUTS = {
    "uncertainty": lambda body: adapter_output(HIGH),
    "answerability": lambda body: completion('"answerable"'),
    "citations": lambda body: completion(json.dumps(CITED)),
    # IBM's canned output, with the logprobs its likelihood rule reads (tests/intrinsics/data/mellea)
    "requirement-check": lambda body: json.loads(REQUIREMENT_OUTPUT.read_text()),
}


class Vllm:
    """The base model answers ``answers``; each adapter its ``OUTPUTS`` (or ``outputs``)."""

    def __init__(self, *answers, outputs=None):
        self.answers = answers or (ANSWER,)
        self.outputs = {**OUTPUTS, **(outputs or {})}
        self.requests: list[dict] = []

    def __call__(self, request: httpx.Request) -> httpx.Response:
        body = json.loads(request.content)
        self.requests.append(body)
        answer = self.outputs.get(body["model"], lambda b: completion(*self.answers))(body)
        return answer if isinstance(answer, httpx.Response) else httpx.Response(200, json=answer)

    def calls(self, model):
        return [b for b in self.requests if b["model"] == model]


def ask(client, intrinsics, **extra):
    body = {"model": "base", "messages": Q, "documents": DOCS, "intrinsics": intrinsics, **extra}
    return client.post("/v1/chat/completions", json=body)


def test_one_call_answers_with_every_intrinsic_asked_for_in_the_order_asked():
    vllm = Vllm()
    with make_client(vllm, adapters=ADAPTERS) as client:
        resp = ask(client, ["citations", "certainty", "answerability"])
    choice = resp.json()["choices"][0]
    assert resp.status_code == 200 and choice["message"]["content"] == ANSWER
    assert list(choice["intrinsics"]) == ["citations", "certainty", "answerability"]
    assert choice["intrinsics"]["certainty"] == pytest.approx(expected_certainty(HIGH))
    assert choice["certainty"] == choice["intrinsics"]["certainty"]  # the certainty extension, unchanged
    assert choice["intrinsics"]["answerability"] == {"answerability": "answerable"}
    assert "intrinsic_errors" not in choice
    assert all("intrinsics" not in b for b in vllm.requests)  # the extension never reaches vLLM
    assert resp.headers["x-certainty"] == json.dumps(choice["certainty"])


def test_citation_spans_are_offsets_into_the_answer_and_the_document_the_client_sent():
    with make_client(Vllm(), adapters=ADAPTERS) as client:
        (record,) = ask(client, ["citations"]).json()["choices"][0]["intrinsics"]["citations"]
    assert ANSWER[record["response_begin"] : record["response_end"]] == record["response_text"] == ANSWER
    assert record["citation_doc_id"] == "d1"
    text = DOCS[0]["text"]
    assert text[record["citation_begin"] : record["citation_end"]] == record["citation_text"] == "Its capital is Paris."


def test_an_intrinsic_of_the_question_runs_once_for_every_choice_on_the_conversation_without_an_answer():
    vllm = Vllm("Paris.", "Lyon.")
    with make_client(vllm, adapters=ADAPTERS) as client:
        choices = ask(client, ["answerability", "citations"], n=2).json()["choices"]
    assert [c["intrinsics"]["answerability"] for c in choices] == [{"answerability": "answerable"}] * 2
    (call,) = vllm.calls("answerability")
    assert call["messages"][-1] == Q[-1]
    assert [c["messages"][-2]["content"] for c in vllm.calls("citations")] == ["<r0> Paris.", "<r0> Lyon."]


def test_the_question_is_judged_while_the_answer_is_being_generated():
    seen = asyncio.Event()

    async def handler(request):
        body = json.loads(request.content)
        if body["model"] == "answerability":
            seen.set()
            return httpx.Response(200, json=completion('"unanswerable"'))
        await asyncio.wait_for(seen.wait(), 5)  # the answer waits for the judgment: they overlap
        return httpx.Response(200, json=completion(ANSWER))

    with make_client(handler, adapters=ADAPTERS) as client:
        resp = ask(client, ["answerability"])
    assert resp.json()["choices"][0]["intrinsics"] == {"answerability": {"answerability": "unanswerable"}}


def test_only_other_intrinsics_asked_for_adds_no_certainty():
    vllm = Vllm()
    with make_client(vllm, adapters=ADAPTERS) as client:
        resp = ask(client, ["answerability"])
    choice = resp.json()["choices"][0]
    assert "certainty" not in choice and "x-certainty" not in resp.headers
    assert not vllm.calls("uncertainty")
    assert resp.json()["usage"]["breakdown"]["intrinsics"]["total_tokens"] == 15


def test_kwargs_reach_the_instruction_of_the_intrinsic_they_are_given_to():
    vllm = Vllm()
    with make_client(vllm, adapters=ADAPTERS) as client:
        asked = [{"name": "requirement-check", "kwargs": {"requirement": "Name the city."}}]
        choice = ask(client, asked).json()["choices"][0]
    assert "Name the city." in vllm.calls("requirement-check")[0]["messages"][-1]["content"]
    assert set(choice["intrinsics"]["requirement-check"]) == {"requirement_check"}


def test_a_failed_intrinsic_is_an_error_beside_the_kept_answer_and_the_other_results(caplog):
    broken = {"citations": lambda body: completion("not json at all")}
    with make_client(Vllm(outputs=broken), adapters=ADAPTERS) as client, caplog.at_level(logging.WARNING):
        choice = ask(client, ["certainty", "citations"]).json()["choices"][0]
    assert choice["message"]["content"] == ANSWER
    assert choice["intrinsics"]["citations"] is None and choice["intrinsics"]["certainty"] is not None
    assert choice["intrinsic_errors"]["citations"]["code"] == "bad_adapter_output"
    assert list(choice["intrinsic_errors"]) == ["citations"]
    assert [r for r in caplog.records if "citations" in r.getMessage()]


def test_vllm_down_for_one_intrinsic_keeps_the_answer():
    down = {"answerability": lambda body: httpx.Response(500, json={"error": {"message": "boom"}})}
    with make_client(Vllm(outputs=down), adapters=ADAPTERS) as client:
        choice = ask(client, ["answerability", "citations"]).json()["choices"][0]
    assert choice["intrinsics"]["answerability"] is None and choice["intrinsics"]["citations"]
    assert choice["intrinsic_errors"]["answerability"]["code"]


def test_an_answer_that_is_a_tool_call_is_not_judged_but_the_question_is():
    tool = completion(None, tool_calls=[{"id": "t", "type": "function", "function": {"name": "f", "arguments": "{}"}}])
    vllm = Vllm(outputs={"base": lambda body: tool})
    with make_client(vllm, adapters=ADAPTERS) as client:
        choice = ask(client, ["citations", "answerability"]).json()["choices"][0]
    assert choice["intrinsics"] == {"citations": None, "answerability": {"answerability": "answerable"}}
    assert choice["intrinsic_errors"]["citations"]["code"] == "tool_calls"
    assert not vllm.calls("citations")


def test_the_stream_ends_with_each_choices_intrinsics():
    def handler(request):
        body = json.loads(request.content)
        if body.get("stream"):
            chunk = {"id": "c", "object": "chat.completion.chunk", "created": 1, "model": "base"}
            events = [
                {**chunk, "choices": [{"index": 0, "delta": {"role": "assistant", "content": ANSWER}}]},
                {**chunk, "choices": [{"index": 0, "delta": {}, "finish_reason": "stop"}]},
            ]
            data = "".join(f"data: {json.dumps(e)}\n\n" for e in events) + "data: [DONE]\n\n"
            return httpx.Response(200, content=data.encode(), headers={"content-type": "text/event-stream"})
        return Vllm()(request)

    with make_client(handler, adapters=ADAPTERS) as client:
        text = ask(client, ["citations", "answerability"], stream=True).text
    events = [line[6:] for line in text.splitlines() if line.startswith("data: ")]
    assert events[-1] == "[DONE]"
    last = json.loads(events[-2])["choices"][0]
    assert last["intrinsics"]["answerability"] == {"answerability": "answerable"}
    assert last["intrinsics"]["citations"][0]["response_text"] == ANSWER


@pytest.mark.parametrize(
    ("intrinsics", "extra", "param", "code"),
    [
        (["nope"], {}, "intrinsics.0", "intrinsic_not_found"),
        (["citations", "citations"], {}, "intrinsics.1", None),
        (["answerability", "citations"], {"documents": None}, "documents", None),
        (["requirement-check"], {}, "intrinsics.0.kwargs", None),
        ([{"name": "certainty", "kwargs": {"x": 1}}], {}, "intrinsics.0.kwargs", None),
        (["certainty"], {"certainty": False}, "certainty", None),
        ([{"name": "citations", "other": 1}], {}, "intrinsics.0", None),
        ([3], {}, "intrinsics.0", None),
    ],
)
def test_a_request_the_intrinsics_cannot_take_is_a_400_before_any_call(intrinsics, extra, param, code):
    vllm = Vllm()
    with make_client(vllm, adapters=ADAPTERS) as client:
        resp = ask(client, intrinsics, **extra)
    error = resp.json()["error"]
    assert resp.status_code == 400 and error["type"] == "invalid_request_error"
    assert (error["param"] or "").startswith(param)
    assert code is None or error["code"] == code
    assert not vllm.requests


def test_the_question_intrinsic_refuses_a_conversation_that_already_ends_with_an_answer():
    vllm = Vllm()
    messages = [*Q, {"role": "assistant", "content": "The capital"}]
    with make_client(vllm, adapters=ADAPTERS) as client:
        resp = ask(client, ["answerability"], messages=messages)
    assert resp.status_code == 400 and resp.json()["error"]["param"] == "messages"
    assert "must end with the user's question" in resp.json()["error"]["message"]
    assert not vllm.requests
