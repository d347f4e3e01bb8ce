"""Request rewriting: the reference's semantics on the raw vLLM body, plus this project's rules."""

from __future__ import annotations

import json

import pytest

import intrinsics
from intrinsics import RequestError

from .helpers import UNCERTAINTY_YAML, deep

CONVERSATION = [
    {"role": "user", "content": "What is IBM Research?"},
    {"role": "assistant", "content": "IBM's research division."},
]


@pytest.fixture(scope="module")
def certainty():
    return intrinsics.load(UNCERTAINTY_YAML)


def _intrinsic(**config):
    data = {"model": None, "response_format": None, "transformations": None}
    data.update(config)
    return intrinsics.from_dict(data, name="t")


def test_uncertainty_rewrite(certainty):
    request = {
        "model": "granite",
        "messages": deep(CONVERSATION),
        "max_completion_tokens": 500,
        "temperature": 0.7,
        "stream": False,
        "user": "u1",
    }
    before = deep(request)
    body = certainty.rewrite(request)
    assert request == before
    assert body["messages"] == CONVERSATION + [{"role": "user", "content": "<certainty>"}]
    assert body["max_completion_tokens"] == 15 and body["temperature"] == 0.0
    assert body["logprobs"] is True and body["top_logprobs"] == 10
    assert body["structured_outputs"] == {"json": certainty.config.response_format}
    assert body["model"] == "granite"  # io.yaml model is null: the client's stays
    assert body["stream"] is False and body["user"] == "u1"  # other fields kept
    assert "extra_body" not in body and "guided_json" not in body


def test_existing_certainty_turn_is_not_doubled(certainty):
    messages = deep(CONVERSATION) + [{"role": "user", "content": "<certainty>"}]
    body = certainty.rewrite({"messages": messages})
    assert body["messages"] == messages
    spaced = deep(CONVERSATION) + [{"role": "user", "content": " <certainty>\n"}]
    assert certainty.rewrite({"messages": spaced})["messages"] == spaced
    # ...but an assistant turn saying "<certainty>" is not the instruction.
    odd = deep(CONVERSATION) + [{"role": "assistant", "content": "<certainty>"}]
    assert certainty.rewrite({"messages": odd})["messages"][-1] == {"role": "user", "content": "<certainty>"}


def test_schema_is_a_fresh_copy_per_request(certainty):
    first = certainty.rewrite({"messages": deep(CONVERSATION)})
    first["structured_outputs"]["json"]["properties"]["score"]["enum"].append("10")
    second = certainty.rewrite({"messages": deep(CONVERSATION)})
    assert second["structured_outputs"]["json"]["properties"]["score"]["enum"][-1] == "9"
    assert certainty.config.response_format["properties"]["score"]["enum"][-1] == "9"


def test_extra_body_is_flattened_and_documents_stay_top_level(certainty):
    docs = [{"doc_id": "1", "text": "My dog has fleas."}]
    request = {
        "messages": deep(CONVERSATION),
        "extra_body": {"documents": docs, "top_k": 5, "chat_template_kwargs": {"thinking": False}},
    }
    body = certainty.rewrite(request)
    assert body["documents"] == docs and body["top_k"] == 5
    assert body["chat_template_kwargs"] == {"thinking": False}
    top = certainty.rewrite({"messages": deep(CONVERSATION), "documents": docs})
    assert top["documents"] == docs


def test_io_yaml_parameters_override_and_model_override():
    intrinsic = _intrinsic(model="adapter-a", parameters={"max_tokens": 3, "n": 2, "extra_body": {"top_k": 1}})
    body = intrinsic.rewrite({"model": "base", "messages": deep(CONVERSATION), "max_tokens": 99, "top_k": 50})
    assert body["model"] == "adapter-a" and body["max_tokens"] == 3 and body["n"] == 2 and body["top_k"] == 1
    assert intrinsic.with_model("served-name").rewrite({"messages": deep(CONVERSATION)})["model"] == "served-name"
    assert "logprobs" not in body and "structured_outputs" not in body


def test_temperature_defaults_to_greedy_unless_the_io_yaml_says():
    plain = _intrinsic()
    assert plain.rewrite({"messages": deep(CONVERSATION), "temperature": 0.9})["temperature"] == 0.0
    warm = _intrinsic(parameters={"temperature": 0.75})
    assert warm.rewrite({"messages": deep(CONVERSATION)})["temperature"] == 0.75
    reference = intrinsics.from_dict(
        {"model": None, "response_format": None, "transformations": None}, name="t", default_temperature=None
    )
    assert reference.rewrite({"messages": deep(CONVERSATION), "temperature": 0.9})["temperature"] == 0.9
    assert "temperature" not in reference.rewrite({"messages": deep(CONVERSATION)})


def test_instruction_arguments_and_last_message():
    intrinsic = _intrinsic(instruction="Is '{last_message}' about {topic}? {{json}}")
    body = intrinsic.rewrite({"messages": deep(CONVERSATION)}, topic="science")
    assert body["messages"][-1] == {"role": "user", "content": "Is 'IBM's research division.' about science? {json}"}
    with pytest.raises(RequestError) as info:
        intrinsic.rewrite({"messages": deep(CONVERSATION)})
    assert "topic" in str(info.value) and info.value.field == "instruction_kwargs"


def test_instruction_sees_the_tagged_last_message():
    intrinsic = _intrinsic(instruction="Check: {last_message}", sentence_boundaries={"last_message": "i"})
    body = intrinsic.rewrite({"messages": [{"role": "assistant", "content": "Yes. No."}]})
    assert body["messages"][-1]["content"] == "Check: <i0> Yes. <i1> No."


@pytest.mark.parametrize(
    "request_body, field",
    [
        ({}, "messages"),
        ({"messages": []}, "messages"),
        ({"messages": "hi"}, "messages"),
        ({"messages": [{"content": "no role"}]}, "messages"),
        ({"messages": [{"role": "user", "content": 5}]}, None),
        ({"messages": [{"role": "user", "content": "x"}], "extra_body": []}, "extra_body"),
        ({"messages": [{"role": "user", "content": "x"}], "documents": [{"doc_id": "1"}]}, "documents"),
        ({"messages": [{"role": "user", "content": "x"}], "documents": "text"}, "documents"),
    ],
)
def test_malformed_requests_are_request_errors(certainty, request_body, field):
    with pytest.raises(RequestError) as info:
        certainty.rewrite(request_body)
    assert info.value.field == field


def test_not_a_dict(certainty):
    with pytest.raises(RequestError):
        certainty.rewrite([{"role": "user", "content": "x"}])


def test_content_parts_are_read_as_text():
    intrinsic = _intrinsic(instruction="Echo: {last_message}", sentence_boundaries={"last_message": "r"})
    parts = [
        {"type": "text", "text": "First. "},
        {"type": "image_url", "image_url": {"url": "x"}},
        {"type": "text", "text": "Second."},
    ]
    body = intrinsic.rewrite({"messages": [{"role": "assistant", "content": parts}]})
    assert body["messages"][0]["content"] == "<r0> First. <r1> Second."
    assert body["messages"][-1]["content"] == "Echo: <r0> First. <r1> Second."


@pytest.mark.parametrize(
    "how, expected",
    [
        (
            "string",
            [
                {
                    "role": "user",
                    "content": "You have access to the following documents:\n\n"
                    "[Document 1]\nMy dog.\n\n[Document 2]\nMy cat.",
                }
            ],
        ),
        (
            "json",
            [
                {
                    "role": "user",
                    "content": json.dumps(
                        [{"text": "My dog.", "title": "D", "doc_id": "1"}, {"text": "My cat.", "doc_id": "2"}]
                    ),
                }
            ],
        ),
        ("roles", [{"role": "document 1", "content": "My dog."}, {"role": "document 2", "content": "My cat."}]),
    ],
)
def test_documents_as_messages(how, expected):
    intrinsic = _intrinsic(docs_as_message=how)
    docs = [{"doc_id": "1", "title": "D", "text": "My dog."}, {"doc_id": "2", "text": "My cat."}]
    body = intrinsic.rewrite({"messages": deep(CONVERSATION), "extra_body": {"documents": docs}})
    assert body["messages"] == expected + CONVERSATION
    assert "documents" not in body


def test_document_sentences_are_tagged_across_documents():
    intrinsic = _intrinsic(sentence_boundaries={"documents": "c", "last_message": "r"})
    docs = [{"doc_id": "1", "text": "One. Two."}, {"doc_id": "2", "text": "Three."}]
    request = {"messages": deep(CONVERSATION), "documents": docs}
    body = intrinsic.rewrite(request)
    assert [d["text"] for d in body["documents"]] == ["<c0> One. <c1> Two.", "<c2> Three."]
    assert body["messages"][-1]["content"] == "<r0> IBM's research division."
    assert request["documents"][0]["text"] == "One. Two." and request["messages"] == CONVERSATION


def test_earlier_turns_are_tagged_after_the_documents_in_one_numbering():
    intrinsic = _intrinsic(sentence_boundaries={"last_message": "r", "documents": "c", "all_but_last_message": "c"})
    docs = [{"doc_id": "1", "text": "One. Two."}]
    history = [{"role": "system", "content": "Be brief. Be kind."}, *deep(CONVERSATION)]
    request = {"messages": history, "documents": docs}
    body = intrinsic.rewrite(request)
    assert body["documents"][0]["text"] == "<c0> One. <c1> Two."
    assert [m["content"] for m in body["messages"]] == [
        "<c2> Be brief. <c3> Be kind.",
        "<c4> What is IBM Research?",
        "<r0> IBM's research division.",
    ]
    assert request["messages"][0]["content"] == "Be brief. Be kind." and request["documents"] == docs


def test_earlier_turns_are_numbered_from_zero_without_documents():
    intrinsic = _intrinsic(sentence_boundaries={"all_but_last_message": "c"})
    body = intrinsic.rewrite({"messages": deep(CONVERSATION)})
    assert [m["content"] for m in body["messages"]] == ["<c0> What is IBM Research?", "IBM's research division."]


def test_parameter_containers_are_not_shared_between_requests():
    intrinsic = _intrinsic(parameters={"stop": ["\n"], "extra_body": {"options": {"k": 1}}})
    first = intrinsic.rewrite({"messages": deep(CONVERSATION)})
    first["stop"].append("x")
    first["options"]["k"] = 2
    second = intrinsic.rewrite({"messages": deep(CONVERSATION)})
    assert second["stop"] == ["\n"] and second["options"] == {"k": 1}
