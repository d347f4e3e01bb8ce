"""A base-model chat that selects a served adapter by ``chat_template_kwargs.adapter_name`` (mellea's
Granite Switch request) is answered by that adapter: sent on as it came but for ``model`` and
``adapter_name``, not rewritten a second time, answered with vLLM's raw completion under the
client's model name, streamed and with several choices as vLLM answers them, counted as the adapter."""

import json
import logging

import httpx
import pytest

from ..apps import UNCERTAINTY, chat, make_client
from ..fake_vllm import FakeVLLM, adapter_output, completion
from .helpers import MELLEA, REWRITTEN, never

SSE = {"content-type": "text/event-stream"}


def test_the_request_reaches_the_adapter_as_sent_but_for_model_and_adapter_name():
    vllm = FakeVLLM(base=AssertionError("the base model must not answer"), adapter=adapter_output({"6": 0.7, "5": 0.3}))
    body = {**MELLEA, "chat_template_kwargs": {"adapter_name": "uncertainty", "thinking": False}}
    with make_client(vllm, adapters=UNCERTAINTY) as client:
        resp = chat(client, body)
    assert resp.status_code == 200, resp.text
    (sent,) = vllm.requests
    expected = {**MELLEA, "model": "uncertainty", "chat_template_kwargs": {"thinking": False}}
    assert sent == expected
    assert sent["messages"] == REWRITTEN  # not given a second <certainty> turn, nor any other rewrite


def test_adapter_name_alone_leaves_no_chat_template_kwargs():
    vllm = FakeVLLM(adapter=adapter_output({"6": 1.0}))
    with make_client(vllm, adapters=UNCERTAINTY) as client:
        chat(client, MELLEA)
    assert "chat_template_kwargs" not in vllm.requests[0]


def test_the_answer_is_vllms_raw_completion_under_the_model_name_the_client_sent():
    raw = {**adapter_output({"6": 0.7, "5": 0.3}), "model": "uncertainty"}
    with make_client(FakeVLLM(adapter=raw), adapters=UNCERTAINTY) as client:
        resp = chat(client, MELLEA)
    assert resp.json() == {**raw, "model": "base"}  # content, logprobs and usage untouched
    assert resp.json()["choices"][0]["message"]["content"] == '{"score": "6"}'


def test_several_choices_come_back_as_vllm_gave_them():
    raw = completion('{"score": "6"}', '{"score": "5"}', logprobs={"content": []})
    with make_client(FakeVLLM(adapter=raw), adapters=UNCERTAINTY) as client:
        resp = chat(client, {**MELLEA, "n": 2})
    assert [c["message"]["content"] for c in resp.json()["choices"]] == ['{"score": "6"}', '{"score": "5"}']


def test_a_stream_is_relayed_event_by_event_with_the_clients_model_name():
    events = [
        b'data: {"id":"s","model":"uncertainty","choices":[{"index":0,"delta":{"content":"{\\"score\\": "}}]}\n\n',
        b'data: {"id":"s","model":"uncertainty","choices":[{"index":0,"delta":{"content":"\\"6\\"}"}}]}\n\n',
        b"data: [DONE]\n\n",
    ]
    stream = b"".join(events)
    # Chunks cut mid-event: an event is rewritten only once it is whole.
    chunks = [stream[:30], stream[30:101], stream[101:]]

    async def pieces():
        for chunk in chunks:
            yield chunk

    vllm = FakeVLLM(adapter=lambda body: httpx.Response(200, headers=SSE, content=pieces()))
    with make_client(vllm, adapters=UNCERTAINTY) as client:
        resp = chat(client, {**MELLEA, "stream": True})
    assert resp.status_code == 200 and resp.headers["content-type"].startswith("text/event-stream")
    data = [line[6:] for line in resp.text.split("\n") if line.startswith("data: ")]
    assert data[-1] == "[DONE]"
    chunk_events = [json.loads(d) for d in data[:-1]]
    assert [e["model"] for e in chunk_events] == ["base", "base"]
    assert "".join(e["choices"][0]["delta"]["content"] for e in chunk_events) == '{"score": "6"}'
    assert vllm.requests[0]["stream"] is True and vllm.requests[0]["model"] == "uncertainty"


def test_vllms_error_passes_on_in_the_openai_shape():
    refusal = httpx.Response(400, json={"error": {"message": "too long", "type": "BadRequestError", "code": 400}})
    with make_client(FakeVLLM(adapter=refusal), adapters=UNCERTAINTY) as client:
        resp = chat(client, MELLEA)
    assert resp.status_code == 400 and resp.json()["error"]["message"] == "too long"


@pytest.mark.parametrize(
    "change, param",
    [
        ({"model": "uncertainty"}, "model"),
        ({"certainty": True}, "certainty"),
        ({"intrinsic_kwargs": {"requirement": "x"}}, "intrinsic_kwargs"),
        ({"intrinsics": ["certainty"]}, "intrinsics"),
    ],
)
def test_a_request_that_asks_the_gateway_for_work_the_adapter_name_rules_out_is_a_400(change, param):
    with make_client(never, adapters=UNCERTAINTY) as client:
        resp = chat(client, {**MELLEA, **change})
    assert resp.status_code == 400
    assert resp.json()["error"]["param"] == param


def test_certainty_false_is_accepted_and_not_sent_on():
    vllm = FakeVLLM(adapter=adapter_output({"6": 1.0}))
    with make_client(vllm, adapters=UNCERTAINTY) as client:
        assert chat(client, {**MELLEA, "certainty": False}).status_code == 200
    assert "certainty" not in vllm.requests[0]


def test_the_request_is_counted_and_logged_as_the_adapter(caplog):
    with make_client(FakeVLLM(adapter=adapter_output({"6": 1.0})), adapters=UNCERTAINTY) as client:
        with caplog.at_level(logging.INFO, logger="granite_certainty"):
            chat(client, MELLEA)
        metrics = client.get("/metrics").text
    assert (
        'granite_certainty_requests_total{model="uncertainty",route="/v1/chat/completions",status="200"} 1.0' in metrics
    )
    assert any("'uncertainty'" in r.getMessage() for r in caplog.records)


def test_a_deployment_that_scores_every_answer_leaves_the_adapters_raw_answer_unscored():
    vllm = FakeVLLM(base=AssertionError("the base model must not answer"), adapter=adapter_output({"6": 1.0}))
    with make_client(vllm, adapters=UNCERTAINTY, certainty={"always": True}) as client:
        resp = chat(client, MELLEA)
    assert "certainty" not in resp.json()["choices"][0]
    assert [b["model"] for b in vllm.requests] == ["uncertainty"]  # one call: the adapter's, not a scoring call
