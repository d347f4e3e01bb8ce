"""The certainty extension's logic against a fake vLLM: scoring every choice, the guard
actions, unscorable answers, failures that keep the answer, usage, and the stream shape."""

import asyncio
import json

import httpx
import pytest

from ..apps import FALLBACK, UNCERTAINTY, make_client
from ..fake_vllm import FakeVLLM, adapter_output, completion, expected_certainty

LOW, HIGH = {"2": 0.7, "3": 0.3}, {"8": 0.8, "9": 0.2}
Q = [{"role": "user", "content": "Capital of France?"}]


def client_for(fake, **certainty):
    return make_client(fake, adapters=UNCERTAINTY, certainty={"fallback": FALLBACK, **certainty})


def by_answer(mapping):
    """Adapter outputs chosen by the answer being scored (the last assistant turn)."""
    return lambda body: adapter_output(
        mapping[[m for m in body["messages"] if m["role"] == "assistant"][-1]["content"]]
    )


def ask(client, **extra):
    return client.post("/v1/chat/completions", json={"model": "base", "messages": Q, **extra})


def test_every_choice_is_scored_with_its_own_answer():
    fake = FakeVLLM(base=completion("Paris.", "Lyon."), adapter=by_answer({"Paris.": HIGH, "Lyon.": LOW}))
    with client_for(fake) as client:
        body = ask(client, n=2, certainty=True).json()
    assert [c["certainty"] for c in body["choices"]] == [
        pytest.approx(expected_certainty(HIGH)),
        pytest.approx(expected_certainty(LOW)),
    ]
    assert all("low_certainty" not in c for c in body["choices"])  # no threshold, no guard
    assert "certainty" not in fake.bodies("base")[0]  # the extension never reaches vLLM
    assert body["usage"]["total_tokens"] == 15 + 2 * 56
    assert body["usage"]["breakdown"]["certainty"]["prompt_tokens"] == 100


def test_flag():
    fake = FakeVLLM(base=completion("Lyon."), adapter=by_answer({"Lyon.": LOW}))
    with client_for(fake) as client:
        choice = ask(client, certainty={"threshold": 0.5, "action": "flag"}).json()["choices"][0]
    assert choice["low_certainty"] is True and choice["message"]["content"] == "Lyon."


def test_abstain_keeps_the_original_answer_in_a_field():
    fake = FakeVLLM(base=completion("Lyon.", "Paris."), adapter=by_answer({"Lyon.": LOW, "Paris.": HIGH}))
    with client_for(fake, abstain_message="No idea.") as client:
        low, high = ask(client, n=2, certainty={"threshold": 0.5, "action": "abstain"}).json()["choices"]
        text = client.get("/metrics").text
    assert low["message"]["content"] == "No idea." and low["original_content"] == "Lyon." and low["abstained"]
    assert high["message"]["content"] == "Paris." and high["low_certainty"] is False and "abstained" not in high
    assert 'granite_certainty_guard_actions_total{action="abstain"} 1.0' in text


def test_fallback_answers_low_certainty_choices_and_says_who_answered():
    fake = FakeVLLM(base=completion("Lyon."), adapter=by_answer({"Lyon.": LOW}), fallback=completion("Paris, surely."))
    with client_for(fake) as client:
        body = ask(client, certainty={"threshold": 0.5, "action": "fallback"}, max_tokens=20).json()
    choice = body["choices"][0]
    assert choice["message"]["content"] == "Paris, surely." and choice["answered_by"] == "fallback-model"
    assert choice["original_content"] == "Lyon."
    sent = fake.bodies("fallback-model")[0]
    assert sent["messages"] == Q and sent["max_tokens"] == 20 and "certainty" not in sent
    assert body["usage"]["breakdown"]["fallback"]["total_tokens"] == 15


def test_a_failed_fallback_keeps_the_answer():
    fake = FakeVLLM(base=completion("Lyon."), adapter=by_answer({"Lyon.": LOW}), fallback=httpx.ConnectError("down"))
    with client_for(fake) as client:
        choice = ask(client, certainty={"threshold": 0.5, "action": "fallback"}).json()["choices"][0]
    assert choice["message"]["content"] == "Lyon." and "fallback_error" in choice


@pytest.mark.parametrize(
    "answer, code",
    [
        (completion("Paris, the capital of", finish_reason="length"), "truncated"),
        (completion("   "), "empty_content"),
        (
            completion(
                None, tool_calls=[{"id": "t", "type": "function", "function": {"name": "f", "arguments": "{}"}}]
            ),
            "tool_calls",
        ),
    ],
)
def test_unscorable_answers_get_a_marker_not_a_number(answer, code):
    fake = FakeVLLM(base=answer, adapter=adapter_output(HIGH))
    with client_for(fake) as client:
        choice = ask(client, certainty=True).json()["choices"][0]
    assert choice["certainty"] is None and choice["certainty_error"]["code"] == code
    assert fake.bodies("uncertainty") == []


@pytest.mark.parametrize(
    "failure, code", [(completion("garbage"), "bad_adapter_output"), (httpx.ReadTimeout("slow"), "upstream_timeout")]
)
def test_failed_scoring_keeps_the_answer(failure, code):
    with client_for(FakeVLLM(base=completion("Paris."), adapter=failure)) as client:
        resp = ask(client, certainty=True)
        metrics = client.get("/metrics").text
    assert resp.status_code == 200
    choice = resp.json()["choices"][0]
    assert choice["message"]["content"] == "Paris." and choice["certainty"] is None
    assert choice["certainty_error"]["code"] == code
    assert f'granite_certainty_upstream_errors_total{{code="{code}"}} 1.0' in metrics


@pytest.mark.parametrize(
    "certainty, param",
    [
        ({"threshold": 2}, "certainty.threshold"),
        ({"action": "panic"}, "certainty.action"),
        ({"bogus": 1}, "certainty.bogus"),
        ("yes", "certainty"),
    ],
)
def test_bad_certainty_options_are_400(certainty, param):
    with client_for(FakeVLLM()) as client:
        resp = ask(client, certainty=certainty)
    assert resp.status_code == 400 and resp.json()["error"]["param"] == param


def test_fallback_without_a_configured_model_is_400():
    with make_client(FakeVLLM(), adapters=UNCERTAINTY) as client:
        resp = ask(client, certainty={"threshold": 0.5, "action": "fallback"})
    assert resp.status_code == 400 and resp.json()["error"]["param"] == "certainty.action"


def test_server_default_scores_without_asking_and_false_opts_out():
    fake = FakeVLLM(base=completion("Paris."), adapter=adapter_output(HIGH))
    with client_for(fake, always=True) as client:
        assert ask(client).json()["choices"][0]["certainty"] == pytest.approx(expected_certainty(HIGH))
        assert "certainty" not in ask(client, certainty=False).json()["choices"][0]


def sse(*chunks):
    async def gen():
        for c in chunks:
            yield b"data: " + json.dumps(c).encode() + b"\n\n"
        yield b"data: [DONE]\n\n"

    return gen()


def delta(i, content=None, finish=None):
    return {
        "id": "s1",
        "object": "chat.completion.chunk",
        "created": 1,
        "model": "base",
        "choices": [{"index": i, "delta": {"content": content} if content else {}, "finish_reason": finish}],
    }


def test_stream_relays_chunks_then_one_certainty_chunk_per_choice_then_done():
    parts = [
        delta(0, "Par"),
        delta(1, "Ly"),
        delta(0, "is.", "stop"),
        delta(1, "on.", "stop"),
        {
            "id": "s1",
            "object": "chat.completion.chunk",
            "choices": [],
            "usage": {"prompt_tokens": 10, "completion_tokens": 4, "total_tokens": 14},
        },
    ]
    base = lambda body: httpx.Response(200, content=sse(*parts), headers={"content-type": "text/event-stream"})
    fake = FakeVLLM(base=base, adapter=by_answer({"Paris.": HIGH, "Lyon.": LOW}))
    with client_for(fake) as client:
        resp = ask(client, n=2, stream=True, stream_options={"include_usage": True}, certainty={"threshold": 0.5})
    events = resp.text.strip().split("\n\n")
    assert events[:4] == ["data: " + json.dumps(p) for p in parts[:4]]  # relayed byte for byte
    tail = [json.loads(e.removeprefix("data: ")) for e in events[4:-1]]
    assert events[-1] == "data: [DONE]"
    scored = {c["choices"][0]["index"]: c["choices"][0] for c in tail[:2]}
    assert scored[0]["certainty"] == pytest.approx(expected_certainty(HIGH)) and scored[0]["low_certainty"] is False
    assert scored[1]["certainty"] == pytest.approx(expected_certainty(LOW)) and scored[1]["low_certainty"] is True
    assert tail[2]["usage"]["total_tokens"] == 14 + 2 * 56


def test_stream_with_abstain_sends_the_guarded_answer():
    fake = FakeVLLM(base=completion("Lyon."), adapter=by_answer({"Lyon.": LOW}))
    with client_for(fake, abstain_message="No idea.") as client:
        resp = ask(client, stream=True, certainty={"threshold": 0.5, "action": "abstain"})
    first = json.loads(resp.text.split("\n\n")[0].removeprefix("data: "))["choices"][0]
    assert first["delta"]["content"] == "No idea." and first["original_content"] == "Lyon." and first["low_certainty"]
    assert resp.text.strip().endswith("data: [DONE]")


def test_identical_answers_share_one_scoring_call():
    fake = FakeVLLM(base=completion("Paris.", "Paris.", "Lyon."), adapter=by_answer({"Paris.": HIGH, "Lyon.": LOW}))
    with client_for(fake) as client:
        body = ask(client, n=3, certainty=True).json()
    assert [c["certainty"] for c in body["choices"]] == [pytest.approx(expected_certainty(HIGH))] * 2 + [
        pytest.approx(expected_certainty(LOW))
    ]
    assert len(fake.bodies("uncertainty")) == 2
    assert body["usage"]["breakdown"]["certainty"]["total_tokens"] == 2 * 56


def test_the_fallback_gets_only_openai_chat_fields_and_its_error_text_is_not_echoed():
    leaky = httpx.Response(401, json={"error": {"message": "invalid key sk-SECRET-123 for org acme"}})
    fake = FakeVLLM(base=completion("Lyon."), adapter=by_answer({"Lyon.": LOW}), fallback=leaky)
    extra = {"temperature": 0.2, "documents": [{"text": "d"}], "chat_template_kwargs": {"x": 1}, "guided_json": {}}
    with client_for(fake) as client:
        choice = ask(client, certainty={"threshold": 0.5, "action": "fallback"}, **extra).json()["choices"][0]
    sent = fake.bodies("fallback-model")[0]
    assert set(sent) == {"model", "messages", "temperature", "n", "stream"}
    assert "sk-SECRET" not in json.dumps(choice) and "401" in choice["fallback_error"]["message"]
    assert choice["message"]["content"] == "Lyon."


def test_scoring_calls_of_one_request_are_bounded():
    in_flight = peak = 0

    async def handler(request):
        nonlocal in_flight, peak
        body = json.loads(request.content)
        if body["model"] != "uncertainty":
            return httpx.Response(200, json=completion("A.", "B.", "C.", "D."))
        in_flight += 1
        peak = max(peak, in_flight)
        await asyncio.sleep(0.05)
        in_flight -= 1
        return httpx.Response(200, json=adapter_output(HIGH))

    with make_client(handler, adapters=UNCERTAINTY, limits={"scoring_per_request": 2}) as client:
        choices = ask(client, n=4, certainty=True).json()["choices"]
    assert peak == 2 and all(c["certainty"] is not None for c in choices)


def test_a_choice_that_waits_too_long_for_a_scoring_slot_keeps_its_answer_unscored():
    fake = FakeVLLM(base=completion("Paris."), adapter=adapter_output(HIGH))
    limits = {"scoring_total": 1, "scoring_wait_s": 0.05}
    with make_client(fake, adapters=UNCERTAINTY, limits=limits) as client:
        asyncio.run(client.app.state.gateway.scoring_slots.acquire())  # the one slot: taken by another request
        choice = ask(client, certainty=True).json()["choices"][0]
    assert choice["message"]["content"] == "Paris." and choice["certainty_error"]["code"] == "scoring_busy"
