"""The intrinsic route against a fake vLLM: rewrite sent, result served, bad output → 502."""

import json

import httpx
import pytest

from ..apps import UNCERTAINTY, make_client
from ..fake_vllm import FakeVLLM, adapter_output, completion, expected_certainty

CONVO = [{"role": "user", "content": "Capital of France?"}, {"role": "assistant", "content": "Paris."}]
PROBS = {"7": 0.6, "8": 0.3, "6": 0.1}


def client_for(fake, **settings):
    return make_client(fake, adapters=UNCERTAINTY, **settings)


def ask(client, **extra):
    return client.post("/v1/chat/completions", json={"model": "uncertainty", "messages": CONVO, **extra})


def test_certainty_is_computed_from_the_adapter_output():
    fake = FakeVLLM(adapter=adapter_output(PROBS))
    with client_for(fake) as client:
        resp = ask(client, documents=[{"doc_id": "1", "text": "Paris is in France."}], max_tokens=999, temperature=0.9)
    assert resp.status_code == 200, resp.text
    choice = resp.json()["choices"][0]
    assert json.loads(choice["message"]["content"]) == {
        "certainty": pytest.approx(expected_certainty(PROBS), abs=1e-12)
    }
    assert choice["logprobs"] is None  # the adapter's own logprobs are not passed on
    sent = fake.bodies("uncertainty")[0]
    assert sent["messages"][-1] == {"role": "user", "content": "<certainty>"}
    assert sent["structured_outputs"]["json"]["required"] == ["score"]
    assert sent["temperature"] == 0.0 and sent["max_completion_tokens"] == 15
    assert sent["logprobs"] is True and sent["top_logprobs"] == 10
    assert sent["documents"] == [{"doc_id": "1", "text": "Paris is in France."}]


def test_streaming_an_intrinsic_gives_one_chunk_then_done():
    with client_for(FakeVLLM(adapter=adapter_output(PROBS))) as client:
        resp = ask(client, stream=True, stream_options={"include_usage": True})
    events = [e.removeprefix("data: ") for e in resp.text.strip().split("\n\n")]
    assert events[-1] == "[DONE]" and len(events) == 3
    chunk, usage = json.loads(events[0]), json.loads(events[1])
    assert chunk["object"] == "chat.completion.chunk"
    assert json.loads(chunk["choices"][0]["delta"]["content"])["certainty"] == pytest.approx(expected_certainty(PROBS))
    assert usage["choices"] == [] and usage["usage"]["total_tokens"] == 56


@pytest.mark.parametrize(
    "output, fragment",
    [
        (completion("not json at all"), "not json at all"),
        (adapter_output(PROBS, content='{"score": "7"', finish_reason="length"), '{"score": "7"'),
        (adapter_output(PROBS, content='{"score": "high"}'), '{"score": "high"}'),
        (completion('{"score": "7"}'), "logprobs"),
    ],
)
def test_unusable_adapter_output_is_a_502_naming_the_raw_output(output, fragment):
    with client_for(FakeVLLM(adapter=output)) as client:
        resp = ask(client)
    assert resp.status_code == 502
    err = resp.json()["error"]
    assert err["code"] == "bad_adapter_output" and fragment in err["message"]


def test_vllm_errors_on_the_adapter_call_pass_on():
    err = {
        "error": {
            "message": "This model's maximum context length is 2048 tokens",
            "type": "BadRequestError",
            "param": None,
            "code": 400,
        }
    }
    with client_for(FakeVLLM(adapter=httpx.Response(400, json=err))) as client:
        resp = ask(client)
    assert resp.status_code == 400 and "maximum context length" in resp.json()["error"]["message"]


def test_models_lists_base_and_intrinsics():
    with client_for(FakeVLLM()) as client:
        data = client.get("/v1/models").json()["data"]
    assert [(m["id"], m["kind"]) for m in data] == [("base", "base"), ("uncertainty", "intrinsic")]


def test_served_certainty_is_in_the_metrics():
    with client_for(FakeVLLM(adapter=adapter_output(PROBS))) as client:
        ask(client)
        text = client.get("/metrics").text
    assert 'granite_certainty_certainty_count{model="uncertainty"} 1.0' in text


def test_an_io_yaml_shipped_with_the_adapter_is_used(tmp_path):
    shipped = tmp_path / "io.yaml"
    text = open("configs/intrinsics/uncertainty/io.yaml").read()
    shipped.write_text(text.replace("max_completion_tokens: 15", "max_completion_tokens: 12"))
    fake = FakeVLLM(adapter=adapter_output(PROBS))
    with client_for(fake, io_yamls={"uncertainty": shipped}) as client:
        assert ask(client).status_code == 200
    assert fake.bodies("uncertainty")[0]["max_completion_tokens"] == 12


@pytest.mark.parametrize("stream", [False, True])
def test_the_intrinsics_usage_has_no_null_details_as_vllm_writes_them(stream):
    output = adapter_output(PROBS)
    output["usage"] |= {"completion_tokens_details": None, "prompt_tokens_details": None}
    with client_for(FakeVLLM(adapter=output)) as client:
        resp = ask(client, stream=stream, stream_options={"include_usage": True} if stream else None)
    if stream:
        usage = json.loads(resp.text.strip().split("\n\n")[-2].removeprefix("data: "))["usage"]
    else:
        usage = resp.json()["usage"]
    assert usage == {k: v for k, v in output["usage"].items() if v is not None}  # OpenAI: an object, or absent


@pytest.mark.parametrize("kwargs", [[1], "a", 3])
def test_intrinsic_kwargs_that_are_not_an_object_are_a_400_before_any_call(kwargs):
    fake = FakeVLLM(adapter=adapter_output(PROBS))
    with client_for(fake) as client:
        resp = ask(client, intrinsic_kwargs=kwargs)
    assert resp.status_code == 400 and resp.json()["error"]["param"] == "intrinsic_kwargs"
    assert fake.bodies("uncertainty") == []
