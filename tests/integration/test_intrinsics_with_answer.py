"""Several intrinsics with the answer in one call (the ``intrinsics`` field), against the real vLLM
serving the tiny model's adapters, through the OpenAI SDK: each result equals what the intrinsic
answers as a model on the same conversation, and the spans are offsets into the request's texts."""

import json

import pytest

DOCUMENTS = [{"doc_id": "1", "text": "France is in Europe. The capital of France is Paris."}]
QUESTION = [{"role": "user", "content": "What is the capital of France?"}]
ASKED = ["certainty", "answerability", "citations"]


@pytest.fixture(scope="module")
def served(sdk):
    names = {m.id for m in sdk.models.list().data}
    missing = {"uncertainty", "answerability", "citations"} - names
    if missing:
        pytest.skip(f"the tiny stack serves no {', '.join(sorted(missing))}")
    return names


def as_model(sdk, name, messages):
    answer = sdk.chat.completions.create(model=name, messages=messages, extra_body={"documents": DOCUMENTS})
    return json.loads(answer.choices[0].message.content)


def with_intrinsics(sdk, model, intrinsics, **extra):
    """A base-model chat (greedy) on the documents, asking for ``intrinsics`` with its answer."""
    return sdk.chat.completions.create(
        model=model,
        messages=QUESTION,
        max_tokens=64,
        temperature=0,
        extra_body={"documents": DOCUMENTS, "intrinsics": intrinsics},
        **extra,
    )


def test_one_call_answers_with_each_intrinsic_as_its_own_model_would(sdk, tiny_settings, served):
    resp = with_intrinsics(sdk, tiny_settings.served_name, ASKED)
    choice = resp.choices[0]
    answer = choice.message.content
    results = choice.model_extra["intrinsics"]
    assert list(results) == ASKED and "intrinsic_errors" not in choice.model_extra
    answered = [*QUESTION, {"role": "assistant", "content": answer}]
    assert results["certainty"] == choice.model_extra["certainty"]
    assert results["certainty"] == pytest.approx(as_model(sdk, "uncertainty", answered)["certainty"], abs=1e-9)
    assert results["answerability"] == as_model(sdk, "answerability", QUESTION)
    assert results["citations"] == as_model(sdk, "citations", answered)
    for span in results["citations"]:
        assert answer[span["response_begin"] : span["response_end"]] == span["response_text"]
        (doc,) = [d for d in DOCUMENTS if d["doc_id"] == span["citation_doc_id"]]
        assert doc["text"][span["citation_begin"] : span["citation_end"]] == span["citation_text"]
    assert resp.usage.model_extra["breakdown"]["intrinsics"]["total_tokens"] > 0


def test_a_stream_ends_with_the_intrinsics_of_its_answer(sdk, tiny_settings, served):
    stream = with_intrinsics(sdk, tiny_settings.served_name, ["answerability", "citations"], stream=True)
    text, results = "", None
    for chunk in stream:
        for choice in chunk.choices:
            text += choice.delta.content or ""
            results = (choice.model_extra or {}).get("intrinsics", results)
    assert results is not None and list(results) == ["answerability", "citations"]
    assert results["answerability"] == as_model(sdk, "answerability", QUESTION)
    for span in results["citations"]:
        assert text[span["response_begin"] : span["response_end"]] == span["response_text"]


def test_a_request_an_intrinsic_cannot_take_is_refused_before_anything_is_generated(sdk, tiny_settings, served):
    import openai

    with pytest.raises(openai.BadRequestError) as caught:
        sdk.chat.completions.create(
            model=tiny_settings.served_name, messages=QUESTION, extra_body={"intrinsics": ["citations"]}
        )
    assert caught.value.body["param"] == "documents"
