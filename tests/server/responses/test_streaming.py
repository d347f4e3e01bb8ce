"""Certainty on a streamed ``POST /v1/responses``, against a fake vLLM: vLLM's events are relayed
in order, ``response.certainty.done`` comes before the terminal event, whose response carries the
certainty; a stream cut off, or whose scoring fails, still ends well-formed; abstain and fallback
are generated whole and streamed as the events the OpenAI SDK reads."""

import httpx
import openai
import pytest

from ..fake_vllm import FakeVLLM, adapter_output, expected_certainty
from .fakes import HIGH, LOW, client_for, events, message_item, parse, response, streamed

ASK = {"model": "base", "input": "Capital of France?", "stream": True}
PARIS = response(message_item("Paris."))


def stream(client, **extra):
    return client.post("/v1/responses", json={**ASK, **extra})


def test_the_events_are_relayed_then_the_certainty_then_the_terminal_event():
    sent = events(PARIS)
    fake = FakeVLLM(base=lambda body: streamed(sent), adapter=adapter_output(HIGH))
    with client_for(fake) as client:
        resp = stream(client, certainty=True)
    assert resp.status_code == 200 and resp.headers["content-type"].startswith("text/event-stream")
    got = parse(resp.content)
    assert got[:5] == parse(b"".join(sent[:5]))  # vLLM's events as they came
    (name, certainty), (end, final) = got[5:]
    assert (name, end) == ("response.certainty.done", "response.completed")
    assert certainty["certainty"] == pytest.approx(expected_certainty(HIGH)) and certainty["item_id"] == "msg_1"
    assert (certainty["sequence_number"], final["sequence_number"]) == (5, 6)
    assert final["response"]["output"][0]["certainty"] == certainty["certainty"]
    assert final["response"]["certainty"]["certainty"] == certainty["certainty"]
    assert final["response"]["usage"]["breakdown"]["certainty"]["total_tokens"] == 56
    assert fake.bodies("base")[0]["stream"] is True and "certainty" not in fake.bodies("base")[0]


def test_an_incomplete_response_is_not_scored_and_ends_with_its_own_event():
    cut = response(message_item("Paris, the"), status="incomplete")
    fake = FakeVLLM(base=lambda body: streamed(events(cut, end="response.incomplete")), adapter=adapter_output(HIGH))
    with client_for(fake) as client:
        got = parse(stream(client, certainty=True).content)
    assert [name for name, _ in got[-2:]] == ["response.certainty.done", "response.incomplete"]
    assert got[-2][1]["certainty_error"]["code"] == "truncated" and fake.bodies("uncertainty") == []


@pytest.mark.parametrize("fail", [None, httpx.ReadError("gone")], ids=["stops-short", "connection-lost"])
def test_a_stream_cut_off_ends_with_an_error_event_and_no_certainty(fail):
    fake = FakeVLLM(base=lambda body: streamed(events(PARIS, end=None), fail), adapter=adapter_output(HIGH))
    with client_for(fake) as client:
        resp = stream(client, certainty=True)
        metrics = client.get("/metrics").text
    got = parse(resp.content)
    assert got[-1][0] == "error" and got[-1][1]["error"]["code"] == "upstream_unavailable"
    assert "response.certainty.done" not in [name for name, _ in got] and fake.bodies("uncertainty") == []
    assert 'granite_certainty_upstream_errors_total{code="upstream_unavailable"} 1.0' in metrics


def test_a_failed_response_is_relayed_as_it_ended():
    failed = {**PARIS, "status": "failed"}
    fake = FakeVLLM(base=lambda body: streamed(events(failed, end="response.failed")), adapter=adapter_output(HIGH))
    with client_for(fake) as client:
        got = parse(stream(client, certainty=True).content)
    assert [name for name, _ in got[-2:]] == ["response.output_item.done", "response.failed"]
    assert fake.bodies("uncertainty") == []  # no finished answer, nothing scored


def test_a_failed_scoring_call_still_ends_the_stream_with_the_answer():
    fake = FakeVLLM(base=lambda body: streamed(events(PARIS)), adapter=httpx.ConnectError("down"))
    with client_for(fake) as client:
        got = parse(stream(client, certainty=True).content)
    (name, certainty), (end, final) = got[-2:]
    assert (name, end) == ("response.certainty.done", "response.completed")
    assert certainty["certainty"] is None and certainty["certainty_error"]["code"] == "upstream_unavailable"
    assert final["response"]["output"][0]["content"][0]["text"] == "Paris."


def test_vllms_refusal_to_stream_is_its_error_in_the_openai_shape():
    refusal = httpx.Response(
        400, json={"error": {"message": "no", "type": "BadRequestError", "param": None, "code": 400}}
    )
    with client_for(FakeVLLM(base=refusal)) as client:
        resp = stream(client, certainty=True)
    assert resp.status_code == 400 and resp.json()["error"]["message"] == "no"


def test_abstain_streams_the_guarded_answer_as_the_sdk_reads_it():
    fake = FakeVLLM(base=response(message_item("Lyon.")), adapter=adapter_output(LOW))
    with client_for(fake, abstain_message="No idea.") as client:
        sdk = openai.OpenAI(base_url=f"{client.base_url}/v1", api_key="k", http_client=client, max_retries=0)
        got = list(sdk.responses.create(**ASK, extra_body={"certainty": {"threshold": 0.5, "action": "abstain"}}))
    assert fake.bodies("base")[0]["stream"] is False  # generated whole, then streamed
    deltas = "".join(e.delta for e in got if e.type == "response.output_text.delta")
    assert deltas == "No idea." and [e.sequence_number for e in got] == list(range(len(got)))
    assert [e.type for e in got[-2:]] == ["response.certainty.done", "response.completed"]
    assert got[-2].model_extra["low_certainty"] is True
    final = got[-1].response
    assert final.output_text == "No idea." and final.output[0].model_extra["original_content"] == "Lyon."
