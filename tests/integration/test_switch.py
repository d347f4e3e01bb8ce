"""The Granite Switch contract on the real tiny stack, as any client sends it: a base-model chat
with ``chat_template_kwargs.adapter_name`` gets the adapter's raw completion as vLLM itself gives
it (content and logprobs), under the base model's name; streamed, the same content chunk by chunk;
with ``n`` > 1, every choice; what vLLM refuses, refused as vLLM refuses it."""

import json

import pytest
import yaml

from .conftest import IO_YAML, conversation

QUESTION, ANSWER = "What is the capital of France?", "The capital of France is Paris."


@pytest.fixture(scope="module")
def switch_request(tiny_settings) -> dict:
    """The request a Granite Switch client sends for ``uncertainty``: rewritten from the io.yaml."""
    io = yaml.safe_load(IO_YAML.read_text())
    return {
        "model": tiny_settings.served_name,
        "messages": [*conversation(QUESTION, ANSWER), {"role": "user", "content": io["instruction"]}],
        "chat_template_kwargs": {"adapter_name": "uncertainty"},
        "structured_outputs": {"json": json.loads(io["response_format"])},
        "logprobs": True,
        "top_logprobs": 10,
        "max_completion_tokens": 15,
        "temperature": 0.0,
    }


def test_the_answer_is_the_adapters_own_completion_under_the_base_models_name(gateway, vllm, switch_request):
    through = gateway.post("/v1/chat/completions", json=switch_request)
    assert through.status_code == 200, through.text
    body = {k: v for k, v in switch_request.items() if k != "chat_template_kwargs"}
    direct = vllm.post("/v1/chat/completions", json={**body, "model": "uncertainty"}).json()
    got = through.json()
    assert got["model"] == switch_request["model"]
    assert got["choices"][0]["message"]["content"] == direct["choices"][0]["message"]["content"]
    assert got["choices"][0]["logprobs"] == direct["choices"][0]["logprobs"]
    assert json.loads(got["choices"][0]["message"]["content"])["score"].isdigit()


def test_a_stream_gives_the_same_content_chunk_by_chunk(gateway, switch_request):
    whole = gateway.post("/v1/chat/completions", json=switch_request).json()["choices"][0]["message"]["content"]
    with gateway.stream("POST", "/v1/chat/completions", json={**switch_request, "stream": True}) as resp:
        assert resp.status_code == 200
        data = [line[6:] for line in resp.iter_lines() if line.startswith("data: ")]
    assert data[-1] == "[DONE]"
    chunks = [json.loads(d) for d in data[:-1]]
    assert {c["model"] for c in chunks} == {switch_request["model"]}
    assert "".join(c["choices"][0]["delta"].get("content") or "" for c in chunks if c["choices"]) == whole


def test_several_choices_each_come_back(gateway, switch_request):
    # Sampled: vLLM refuses n > 1 with greedy decoding (below).
    resp = gateway.post("/v1/chat/completions", json={**switch_request, "n": 2, "temperature": 1.0, "seed": 7})
    assert resp.status_code == 200, resp.text
    choices = resp.json()["choices"]
    assert [c["index"] for c in choices] == [0, 1]
    assert all(c["logprobs"]["content"] for c in choices)


def test_what_vllm_refuses_is_refused_with_its_status_and_message(gateway, vllm, switch_request):
    through = gateway.post("/v1/chat/completions", json={**switch_request, "n": 2})
    body = {k: v for k, v in switch_request.items() if k != "chat_template_kwargs"}
    direct = vllm.post("/v1/chat/completions", json={**body, "model": "uncertainty", "n": 2})
    assert through.status_code == direct.status_code == 400
    assert through.json()["error"]["message"] == direct.json()["error"]["message"]
