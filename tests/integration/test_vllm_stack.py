"""The serving stack itself, against the real vLLM on the tiny model: both models served, the
adapter's guided output valid under the io.yaml schema, the LoRA really applied, clean stops."""

import json
import os
import signal
import time
from concurrent.futures import ThreadPoolExecutor

import httpx
import jsonschema
import pytest
import yaml

import intrinsics
from devstack import Stack

from ..processes import alive, descendants
from ..waiting import wait_until
from .conftest import CONVERSATIONS, IO_YAML, TINY_CONFIG, conversation


@pytest.fixture(scope="module")
def uncertainty():
    return intrinsics.load(IO_YAML)


def test_vllm_serves_the_base_model_and_the_adapter(vllm, tiny_settings):
    ids = {m["id"] for m in vllm.get("/v1/models").json()["data"]}
    assert {tiny_settings.served_name, "uncertainty"} <= ids


def test_the_started_vllm_answers_v1_only_with_the_key_the_gateway_sends(stack, gateway, tiny_settings):
    # Another process that can reach vLLM's port cannot bypass the gateway's key check.
    for key in (None, "wrong"):
        headers = {"authorization": f"Bearer {key}"} if key else {}
        assert httpx.get(f"{stack.vllm_url}/v1/models", headers=headers, timeout=10).status_code == 401
    assert gateway.get("/v1/models").status_code == 200


def test_adapter_output_is_valid_json_under_the_schema_with_varying_scores(vllm, uncertainty):
    schema = json.loads(yaml.safe_load(IO_YAML.read_text())["response_format"])
    scores = []
    for q, a in CONVERSATIONS:
        body = uncertainty.rewrite({"model": "uncertainty", "messages": conversation(q, a)})
        assert body["messages"][-1] == {"role": "user", "content": "<certainty>"}
        resp = vllm.post("/v1/chat/completions", json=body)
        assert resp.status_code == 200, resp.text
        choice = resp.json()["choices"][0]
        assert choice["finish_reason"] == "stop", choice
        value = json.loads(choice["message"]["content"])
        jsonschema.validate(value, schema)
        scores.append(value["score"])
    assert len(set(scores)) >= 2, scores


def test_lora_changes_the_logprobs(vllm, tiny_settings, uncertainty):
    body = uncertainty.rewrite({"model": "uncertainty", "messages": conversation(*CONVERSATIONS[0])})
    body.pop("structured_outputs")  # compare the raw next-token distributions
    first = {}
    for model in ("uncertainty", tiny_settings.served_name):
        resp = vllm.post("/v1/chat/completions", json={**body, "model": model, "max_completion_tokens": 1})
        assert resp.status_code == 200, resp.text
        top = resp.json()["choices"][0]["logprobs"]["content"][0]["top_logprobs"]
        first[model] = {t["token"]: round(t["logprob"], 4) for t in top}
    assert first["uncertainty"] != first[tiny_settings.served_name]


@pytest.mark.parametrize("adapter", ["uncertainty", "answerability", "query_rewrite"])
def test_a_base_answer_is_the_base_models_while_an_adapter_decodes_beside_it(vllm, tiny_settings, adapter):
    # vLLM's CPU build applies the last LoRA slot's adapter to a base request batched with an
    # adapter request; the launcher leaves that slot empty (red with --max-loras = the adapters).
    question = [{"role": "user", "content": "What is the capital of France?"}]
    base = {"model": tiny_settings.served_name, "messages": question, "temperature": 0, "max_tokens": 24}
    other = {"model": adapter, "messages": question, "temperature": 0, "max_tokens": 24, "ignore_eos": True}
    alone = vllm.post("/v1/chat/completions", json=base).json()["choices"][0]["message"]["content"]
    with ThreadPoolExecutor(2) as pool:
        for _ in range(3):
            beside, _ = pool.map(lambda body: vllm.post("/v1/chat/completions", json=body), (base, other))
            assert beside.json()["choices"][0]["message"]["content"] == alone


def test_sigterm_lets_an_open_stream_finish_then_stops_vllm_too(tmp_path, stack, tiny_settings):
    second = Stack(TINY_CONFIG, log_path=tmp_path / "second.log")
    second.start()
    try:
        procs = descendants(second.proc.pid)
        assert procs, "serve has started vLLM as a child"
        question = [{"role": "user", "content": "Tell me a long story."}]
        body = {"model": tiny_settings.served_name, "messages": question, "stream": True}
        body.update(max_tokens=120, min_tokens=120, temperature=1.0)
        with httpx.stream("POST", f"{second.url}/v1/chat/completions", json=body, timeout=120) as resp:
            events = (line for line in resp.iter_lines() if line.startswith("data: "))
            first = next(events)
            second.proc.send_signal(signal.SIGTERM)  # a rolling restart, mid-answer
            rest = list(events)
        # The stream was drained, not cut: every token, then [DONE], and no error event.
        assert json.loads(first.removeprefix("data: "))["choices"]
        assert rest[-1] == "data: [DONE]" and not any('"error"' in line for line in rest)
        assert json.loads(rest[-2].removeprefix("data: "))["choices"][0]["finish_reason"] == "length"
        assert second.proc.wait(60) is not None
        stopped = lambda: not [p for p in procs if alive(p)]
        wait_until(stopped, 30, lambda: f"vLLM's processes ended\n{second.log_tail()}", poll_s=0.5)
        with pytest.raises(httpx.TransportError):
            httpx.get(f"{second.vllm_url}/health", timeout=2)
    finally:
        second.stop()


def test_vllm_that_cannot_start_is_reported_with_its_log(tmp_path):
    env = {"GRANITE_CERTAINTY_VLLM__ARGS": '["--no-such-flag"]', "GRANITE_CERTAINTY_VLLM__STARTUP_TIMEOUT_S": "300"}
    broken = Stack(TINY_CONFIG, log_path=tmp_path / "broken.log", env=env, timeout_s=300)
    with pytest.raises(RuntimeError) as err:
        broken.start()
    broken.stop()
    assert "vLLM exited with status" in str(err.value) and "--no-such-flag" in str(err.value)


def test_a_killed_vllm_is_answered_with_503_at_once_then_restarted(tmp_path, tiny_settings):
    env = {"GRANITE_CERTAINTY_VLLM__RESTART_BACKOFF_S": "0.5"}
    third = Stack(TINY_CONFIG, log_path=tmp_path / "third.log", env=env)
    third.start()
    try:
        # vLLM leads its own process group below serve: kill that whole group, as the OOM killer might.
        own_group = os.getpgid(third.proc.pid)
        groups = {p: os.getpgid(p) for p in descendants(third.proc.pid) if alive(p)}
        engine = set(groups.values()) - {own_group}
        assert len(engine) == 1
        group = engine.pop()
        members = {p for p, g in groups.items() if g == group}
        os.killpg(group, signal.SIGKILL)
        # The requests below must meet a vLLM that is gone, not one still dying.
        gone = lambda: not [p for p in members if alive(p)]
        wait_until(gone, 30, f"vLLM's group {group} ended after SIGKILL", poll_s=0.1)
        body = {"model": tiny_settings.served_name, "messages": [{"role": "user", "content": "Hi"}], "max_tokens": 4}
        started = time.monotonic()
        down = httpx.post(f"{third.url}/v1/chat/completions", json=body, timeout=30)
        assert time.monotonic() - started < 1.0, "an answer at once, not a hang"
        assert down.status_code == 503 and down.json()["error"]["code"] == "upstream_unavailable"
        assert httpx.get(f"{third.url}/readyz", timeout=5).status_code == 503
        assert httpx.get(f"{third.url}/health", timeout=10).json()["status"] == "degraded"
        assert httpx.get(f"{third.url}/livez", timeout=5).status_code == 200

        def ready():
            assert third.running, third.log_tail()  # serve gave up: no use waiting on
            return httpx.get(f"{third.url}/readyz", timeout=5).status_code == 200

        wait_until(ready, 600, lambda: f"ready again after the restart\n{third.log_tail()}", poll_s=1.0)
        again = httpx.post(f"{third.url}/v1/chat/completions", json=body, timeout=60)
        assert again.status_code == 200, again.text
        metrics = httpx.get(f"{third.url}/metrics", timeout=5).text
        assert "granite_certainty_vllm_restarts_total 1.0" in metrics
        assert "restart 1 of 5" in third.log_path.read_text()
    finally:
        third.stop()
