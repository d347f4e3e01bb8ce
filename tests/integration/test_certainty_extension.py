"""Answer and certainty in one call, against the real vLLM on the tiny model, through the SDK."""

import json

import pytest

QUESTIONS = ["What is the capital of France?", "Who wrote Hamlet?", "What is 2 + 2?"]


def ask(question):
    return [{"role": "user", "content": question}]


def route_certainty(sdk, question, answer) -> float:
    """What the ``uncertainty`` intrinsic route says of (question, answer)."""
    messages = [*ask(question), {"role": "assistant", "content": answer}]
    return json.loads(sdk.chat.completions.create(model="uncertainty", messages=messages).choices[0].message.content)[
        "certainty"
    ]


@pytest.mark.parametrize("n", [1, 3])
def test_non_stream_scores_every_choice_like_the_route(sdk, tiny_settings, n):
    values = []
    for question in QUESTIONS[:2]:
        resp = sdk.chat.completions.create(
            model=tiny_settings.served_name,
            messages=ask(question),
            n=n,
            # Sampled choices must end to be scored: room enough for any answer of the tiny model.
            max_tokens=200,
            temperature=0.8 if n > 1 else 0,
            seed=1,
            extra_body={"certainty": True},
        )
        assert len(resp.choices) == n
        for choice in resp.choices:
            value = choice.model_extra["certainty"]
            assert 0.05 <= value <= 0.95
            assert value == pytest.approx(route_certainty(sdk, question, choice.message.content), abs=1e-9)
            values.append(value)
        usage = resp.usage.model_extra["breakdown"]
        assert usage["certainty"]["prompt_tokens"] > 0
        assert resp.usage.total_tokens == usage["answer"]["total_tokens"] + usage["certainty"]["total_tokens"]


def test_stream_sends_certainty_after_the_content_and_before_done(sdk, tiny_settings, stack):
    import httpx

    question = QUESTIONS[0]
    stream = sdk.chat.completions.create(
        model=tiny_settings.served_name,
        messages=ask(question),
        max_tokens=32,
        temperature=0,
        stream=True,
        stream_options={"include_usage": True},
        extra_body={"certainty": True},
    )
    chunks = list(stream)
    text = "".join(c.choices[0].delta.content or "" for c in chunks if c.choices)
    with_certainty = [i for i, c in enumerate(chunks) if c.choices and "certainty" in (c.choices[0].model_extra or {})]
    assert len(with_certainty) == 1
    last_content = max(i for i, c in enumerate(chunks) if c.choices and c.choices[0].delta.content)
    assert with_certainty[0] > last_content
    value = chunks[with_certainty[0]].choices[0].model_extra["certainty"]
    assert value == pytest.approx(route_certainty(sdk, question, text), abs=1e-9)
    assert chunks[-1].usage is not None and chunks[-1].usage.model_extra["breakdown"]["certainty"]["total_tokens"] > 0
    raw = (
        httpx.post(
            f"{stack.url}/v1/chat/completions",
            timeout=120,
            json={
                "model": tiny_settings.served_name,
                "messages": ask(question),
                "max_tokens": 32,
                "temperature": 0,
                "stream": True,
                "certainty": True,
            },
        )
        .text.strip()
        .split("\n\n")
    )
    assert raw[-1] == "data: [DONE]" and '"certainty"' in raw[-2]


def test_flag(guarded, tiny_settings):
    resp = guarded.chat.completions.create(
        model=tiny_settings.served_name,
        messages=ask(QUESTIONS[0]),
        max_tokens=32,
        temperature=0,
        extra_body={"certainty": {"threshold": 1.0, "action": "flag"}},
    )
    extra = resp.choices[0].model_extra
    assert extra["low_certainty"] is True and resp.choices[0].message.content


def test_abstain(guarded, tiny_settings):
    resp = guarded.chat.completions.create(
        model=tiny_settings.served_name,
        messages=ask(QUESTIONS[0]),
        max_tokens=32,
        temperature=0,
        extra_body={"certainty": {"threshold": 1.0, "action": "abstain"}},
    )
    choice = resp.choices[0]
    assert choice.message.content == "I would rather not guess."
    assert choice.model_extra["abstained"] is True and choice.model_extra["original_content"]
    above = guarded.chat.completions.create(
        model=tiny_settings.served_name,
        messages=ask(QUESTIONS[0]),
        max_tokens=32,
        temperature=0,
        extra_body={"certainty": {"threshold": 0.0, "action": "abstain"}},
    )
    assert above.choices[0].message.content == choice.model_extra["original_content"]


def test_fallback_is_answered_by_the_second_server(guarded, tiny_settings):
    resp = guarded.chat.completions.create(
        model=tiny_settings.served_name,
        messages=ask(QUESTIONS[1]),
        max_tokens=32,
        temperature=0,
        extra_body={"certainty": {"threshold": 1.0, "action": "fallback"}},
    )
    extra = resp.choices[0].model_extra
    assert extra["answered_by"] == "tiny-granite" and extra["low_certainty"] is True
    assert "fallback_error" not in extra and resp.choices[0].message.content
    assert resp.usage.model_extra["breakdown"]["fallback"]["total_tokens"] > 0


def test_truncated_answer_gets_a_marker(sdk, tiny_settings):
    resp = sdk.chat.completions.create(
        model=tiny_settings.served_name,
        messages=ask(QUESTIONS[0]),
        max_tokens=1,
        temperature=0,  # sampled, the one token could be the end of text, and nothing is cut off
        extra_body={"certainty": True},
    )
    extra = resp.choices[0].model_extra
    assert resp.choices[0].finish_reason == "length"
    assert extra["certainty"] is None and extra["certainty_error"]["code"] == "truncated"


def test_tool_call_gets_a_marker(sdk, tiny_settings):
    tool = {
        "type": "function",
        "function": {
            "name": "lookup",
            "parameters": {"type": "object", "properties": {"city": {"type": "string"}}, "required": ["city"]},
        },
    }
    # Greedy, with room for the whole call: at vLLM's default temperature the tiny model may
    # write arguments longer than the token budget, and a call cut off is no tool call.
    resp = sdk.chat.completions.create(
        model=tiny_settings.served_name,
        messages=ask(QUESTIONS[0]),
        max_tokens=400,
        temperature=0,
        tools=[tool],
        tool_choice={"type": "function", "function": {"name": "lookup"}},
        extra_body={"certainty": True},
    )
    choice = resp.choices[0]
    assert choice.finish_reason != "length", choice.message
    assert [call.function.name for call in choice.message.tool_calls] == ["lookup"]
    extra = choice.model_extra
    assert extra["certainty"] is None and extra["certainty_error"]["code"] == "tool_calls"


def test_empty_answer_gets_a_marker(sdk, vllm, tiny_settings):
    eos = vllm.post(
        "/tokenize", json={"model": tiny_settings.served_name, "prompt": "<|end_of_text|>", "add_special_tokens": False}
    ).json()["tokens"][0]
    resp = sdk.chat.completions.create(
        model=tiny_settings.served_name,
        messages=ask(QUESTIONS[0]),
        max_tokens=8,
        logit_bias={str(eos): 100},
        extra_body={"certainty": True},
    )
    extra = resp.choices[0].model_extra
    assert not resp.choices[0].message.content
    assert extra["certainty"] is None and extra["certainty_error"]["code"] == "empty_content"
