"""Certainty on the Responses API, against the real vLLM on the tiny model, through the OpenAI SDK:
``responses.create`` with and without ``certainty``, streamed and not, the served certainty the
one the chat endpoint's ``uncertainty`` model gives the same conversation and answer."""

import json

import openai
import pytest

QUESTION = "What is the capital of France?"
INSTRUCTIONS = "Answer in one sentence."


def chat_certainty(sdk, messages: list[dict], answer: str) -> float:
    """What the chat endpoint's ``uncertainty`` model says of the conversation and its answer."""
    scored = [*messages, {"role": "assistant", "content": answer}]
    result = sdk.chat.completions.create(model="uncertainty", messages=scored)
    return json.loads(result.choices[0].message.content)["certainty"]


def create(sdk, model: str, **kwargs):
    # Greedy and with room enough for the whole answer: a cut-off answer is not scored.
    return sdk.responses.create(model=model, max_output_tokens=200, temperature=0, **kwargs)


def answer_item(response):
    return [item for item in response.output if item.type == "message"][-1]


@pytest.mark.parametrize(
    "given, messages",
    [
        (
            {"instructions": INSTRUCTIONS, "input": QUESTION},
            [{"role": "system", "content": INSTRUCTIONS}, {"role": "user", "content": QUESTION}],
        ),
        (
            {"input": [{"role": "user", "content": [{"type": "input_text", "text": "Who wrote Hamlet?"}]}]},
            [{"role": "user", "content": "Who wrote Hamlet?"}],
        ),
    ],
    ids=["instructions-and-string", "message-items"],
)
def test_the_served_certainty_is_the_chat_endpoints_for_the_same_conversation(sdk, tiny_settings, given, messages):
    response = create(sdk, tiny_settings.served_name, **given, extra_body={"certainty": True})
    assert response.status == "completed", response.incomplete_details
    item = answer_item(response)
    value = item.model_extra["certainty"]
    assert 0.05 <= value <= 0.95
    assert value == pytest.approx(chat_certainty(sdk, messages, response.output_text), abs=1e-9)
    top = response.model_extra["certainty"]
    assert top["certainty"] == value and top["item_id"] == item.id
    breakdown = response.usage.model_extra["breakdown"]
    assert breakdown["certainty"]["input_tokens"] > 0
    assert response.usage.total_tokens == breakdown["answer"]["total_tokens"] + breakdown["certainty"]["total_tokens"]


def test_without_certainty_the_response_is_vllms(sdk, tiny_settings):
    response = create(sdk, tiny_settings.served_name, input=QUESTION)
    assert response.output_text and "certainty" not in (response.model_extra or {})
    assert "certainty" not in (answer_item(response).model_extra or {})
    assert "breakdown" not in (response.usage.model_extra or {})


def test_a_stream_sends_the_certainty_after_the_text_and_before_the_terminal_event(sdk, tiny_settings):
    events = list(create(sdk, tiny_settings.served_name, input=QUESTION, stream=True, extra_body={"certainty": True}))
    kinds = [e.type for e in events]
    assert kinds[0] == "response.created" and kinds[-2:] == ["response.certainty.done", "response.completed"]
    assert kinds.index("response.output_text.done") < kinds.index("response.certainty.done")
    text = "".join(e.delta for e in events if e.type == "response.output_text.delta")
    value = events[-2].model_extra["certainty"]
    messages = [{"role": "user", "content": QUESTION}]
    assert value == pytest.approx(chat_certainty(sdk, messages, text), abs=1e-9)
    final = events[-1].response
    assert final.output_text == text and answer_item(final).model_extra["certainty"] == value
    assert final.model_extra["certainty"]["certainty"] == value
    assert [e.sequence_number for e in events] == sorted({e.sequence_number for e in events})


def test_a_stream_without_certainty_is_vllms(sdk, tiny_settings):
    kinds = [e.type for e in create(sdk, tiny_settings.served_name, input=QUESTION, stream=True)]
    assert kinds[-1] == "response.completed" and "response.certainty.done" not in kinds


def test_a_cut_off_answer_is_kept_and_says_why(sdk, tiny_settings):
    response = sdk.responses.create(
        model=tiny_settings.served_name,
        input=QUESTION,
        max_output_tokens=1,
        temperature=0,
        extra_body={"certainty": True},
    )
    assert response.status == "incomplete" and response.output_text
    extra = answer_item(response).model_extra
    assert extra["certainty"] is None and extra["certainty_error"]["code"] == "truncated"


def test_the_guard_flags_a_low_certainty(sdk, tiny_settings):
    response = create(
        sdk, tiny_settings.served_name, input=QUESTION, extra_body={"certainty": {"threshold": 1.0, "action": "flag"}}
    )
    assert answer_item(response).model_extra["low_certainty"] is True and response.output_text


def test_a_malformed_certainty_is_a_400(sdk, tiny_settings):
    with pytest.raises(openai.BadRequestError) as err:
        create(sdk, tiny_settings.served_name, input=QUESTION, extra_body={"certainty": {"threshold": "high"}})
    assert err.value.param == "certainty.threshold"


def test_abstain_streams_the_guarded_answer(guarded, tiny_settings):
    guard = {"certainty": {"threshold": 1.0, "action": "abstain"}}
    events = list(create(guarded, tiny_settings.served_name, input=QUESTION, stream=True, extra_body=guard))
    text = "".join(e.delta for e in events if e.type == "response.output_text.delta")
    assert text == "I would rather not guess." and [e.type for e in events[-2:]] == [
        "response.certainty.done",
        "response.completed",
    ]
    extra = answer_item(events[-1].response).model_extra
    assert extra["abstained"] is True and extra["low_certainty"] is True and extra["original_content"]


def test_fallback_is_answered_by_the_second_server(guarded, tiny_settings):
    guard = {"certainty": {"threshold": 1.0, "action": "fallback"}}
    response = create(guarded, tiny_settings.served_name, input=QUESTION, extra_body=guard)
    extra = answer_item(response).model_extra
    assert extra["answered_by"] == "tiny-granite" and "fallback_error" not in extra and response.output_text
    assert response.usage.model_extra["breakdown"]["fallback"]["total_tokens"] > 0
