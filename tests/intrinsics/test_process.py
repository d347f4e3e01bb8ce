"""Result processing: the served response's shape, and a typed error for every bad output.

Each bad-output case is one where IBM's reference returns a made-up number (0.0) or
crashes with an untyped exception; here it must raise the matching OutputError
subclass, carrying the raw text and the choice index.
"""

from __future__ import annotations

import json

import pytest

import intrinsics
from intrinsics import (
    MissingFieldError,
    MissingLogprobsError,
    NoCategoryMatchedError,
    NotJSONError,
    OutputError,
    SchemaViolationError,
    TokenNotFoundError,
    TruncatedOutputError,
)

from .helpers import MICRO, UNCERTAINTY_YAML, deep, read_json, score_tokens, uncertainty_response


@pytest.fixture(scope="module")
def certainty():
    return intrinsics.load(UNCERTAINTY_YAML)


@pytest.fixture
def micro_response():
    return read_json(MICRO / "test_canned_output_model_output_uncertainty.json")


def _with_content(response, content, finish_reason="stop"):
    response = deep(response)
    response["choices"][0]["message"]["content"] = content
    response["choices"][0]["finish_reason"] = finish_reason
    return response


# --- shape of the served response -----------------------------------------------------


def test_process_replaces_content_drops_logprobs_keeps_the_rest(certainty):
    response = uncertainty_response(score_tokens())
    response["choices"][0]["message"]["reasoning_content"] = None
    before = deep(response)
    served = certainty.process(response)
    assert response == before  # input untouched
    choice = served["choices"][0]
    assert "logprobs" not in choice
    assert set(json.loads(choice["message"]["content"])) == {"certainty"}
    assert choice["message"]["reasoning_content"] is None and choice["message"]["role"] == "assistant"
    assert choice["finish_reason"] == "stop" and choice["index"] == 0
    for key in ("id", "object", "model", "usage"):
        assert served[key] == response[key]


def test_process_choice_returns_the_python_value(certainty, micro_response):
    result = certainty.process_choice(micro_response["choices"][0])
    assert isinstance(result, dict) and isinstance(result["certainty"], float)
    assert json.loads(certainty.process(micro_response)["choices"][0]["message"]["content"]) == result


def test_every_choice_is_processed(certainty):
    response = uncertainty_response(score_tokens("2", -0.1, [("3", -3.0)]))
    second = deep(response["choices"][0])
    second["index"] = 1
    second["logprobs"]["content"][4]["token"] = "9"
    second["message"]["content"] = '{"score": "9"}'
    response["choices"].append(second)
    served = certainty.process(response)
    values = [json.loads(c["message"]["content"])["certainty"] for c in served["choices"]]
    assert values[0] < 0.35 < values[1]


def test_length_finish_with_complete_valid_output_is_accepted(certainty):
    # Structured decoding can end the JSON exactly on the token budget; two reference
    # vectors (answerability_unanswerable, uncertainty) do.
    response = uncertainty_response(score_tokens(), finish_reason="length")
    assert 0.05 <= certainty.process_choice(response["choices"][0])["certainty"] <= 0.95


# --- one typed error per bad output ---------------------------------------------------


def _raises(intrinsic, response, error_type):
    with pytest.raises(error_type) as info:
        intrinsic.process(response)
    error = info.value
    assert isinstance(error, OutputError)
    assert error.choice_index == response["choices"][0]["index"]
    assert error.raw == response["choices"][0]["message"]["content"]
    assert repr(error.raw) in str(error)
    return error


def test_not_json(certainty, micro_response):
    _raises(certainty, _with_content(micro_response, "I'd say about 4 out of 9."), NotJSONError)


def test_no_content_at_all(certainty, micro_response):
    response = _with_content(micro_response, None)
    with pytest.raises(NotJSONError) as info:
        certainty.process(response)
    assert info.value.raw is None and info.value.choice_index == 0


def test_truncated(certainty, micro_response):
    error = _raises(certainty, _with_content(micro_response, '{"score": "4', "length"), TruncatedOutputError)
    assert "token limit" in str(error)


def test_truncated_whitespace_run(certainty, micro_response):
    # What an untrained model under guided decoding does: whitespace until the limit.
    _raises(certainty, _with_content(micro_response, "{ \n\n\n   ", "length"), TruncatedOutputError)


def test_schema_violation(certainty, micro_response):
    error = _raises(certainty, _with_content(micro_response, '{"score": "10"}'), SchemaViolationError)
    assert not isinstance(error, MissingFieldError)
    assert "score" in str(error)


def test_schema_violation_extra_field(certainty, micro_response):
    _raises(certainty, _with_content(micro_response, '{"score": "4", "why": "x"}'), SchemaViolationError)


def test_required_field_missing(certainty, micro_response):
    error = _raises(certainty, _with_content(micro_response, "{}"), MissingFieldError)
    assert isinstance(error, SchemaViolationError)
    assert "score" in str(error)


def test_rule_field_missing_without_schema():
    # No response_format to catch it: the likelihood rule itself reports the absence.
    intrinsic = intrinsics.from_dict(
        {
            "model": None,
            "response_format": None,
            "transformations": [{"type": "likelihood", "input_path": ["score"], "categories_to_values": {"1": 1.0}}],
        },
        name="t",
    )
    response = uncertainty_response([('{"other": 1}', 0.0, [])])
    error = _raises(intrinsic, response, MissingFieldError)
    assert "['score']" in str(error)


def test_no_logprobs(certainty, micro_response):
    response = deep(micro_response)
    del response["choices"][0]["logprobs"]
    _raises(certainty, response, MissingLogprobsError)


def test_null_or_empty_logprobs(certainty, micro_response):
    for logprobs in (None, {"content": None}, {"content": []}):
        response = deep(micro_response)
        response["choices"][0]["logprobs"] = logprobs
        _raises(certainty, response, MissingLogprobsError)


def test_no_top_logprobs_on_the_value_token(certainty, micro_response):
    response = deep(micro_response)
    del response["choices"][0]["logprobs"]["content"][4]["top_logprobs"]
    _raises(certainty, response, MissingLogprobsError)


def test_value_token_not_found(certainty):
    # A token straddles the start of "4" and does not end with the whole literal.
    response = uncertainty_response([('{"score": ', 0.0, []), ('"4', -0.2, [('"4', -0.2)]), ('"}', 0.0, [])])
    error = _raises(certainty, response, TokenNotFoundError)
    assert "character 11" in str(error)


def test_no_category_matched():
    # Neither the chosen value nor any alternative prefixes a category: the reference
    # returns 0.0 here.
    intrinsic = intrinsics.from_dict(
        {
            "model": None,
            "response_format": None,
            "transformations": [
                {"type": "likelihood", "input_path": ["score"], "categories_to_values": {"yes": 1.0, "no": 0.0}}
            ],
        },
        name="t",
    )
    response = uncertainty_response(score_tokens("4", -0.1, [("5", -2.5), ("{", -9999.0)]))
    _raises(intrinsic, response, NoCategoryMatchedError)


def test_all_matched_categories_have_zero_probability(certainty):
    # Masked entries (-9999) only: the weights sum to 0; the reference divides by zero.
    response = uncertainty_response(score_tokens("4", -9999.0, [("5", -9999.0)]))
    _raises(certainty, response, NoCategoryMatchedError)


def test_error_names_the_failing_choice(certainty):
    response = uncertainty_response(score_tokens())
    bad = deep(response["choices"][0])
    bad["index"] = 1
    bad["message"]["content"] = "nope"
    response["choices"].append(bad)
    with pytest.raises(NotJSONError) as info:
        certainty.process(response)
    assert info.value.choice_index == 1 and "choice 1" in str(info.value)


def test_response_without_choices(certainty):
    with pytest.raises(OutputError):
        certainty.process({"object": "error", "message": "boom"})


def test_repeated_outputs_are_still_checked_per_response(certainty, micro_response):
    # The valid-output memo must never let an invalid output through.
    certainty.process(micro_response)
    certainty.process(micro_response)
    _raises(certainty, _with_content(micro_response, '{"score": "44"}'), SchemaViolationError)
    response = deep(micro_response)
    response["choices"][0]["logprobs"] = None
    _raises(certainty, response, MissingLogprobsError)


# --- Harmony (gpt-oss) outputs ----------------------------------------------------------


def test_logprobs_workaround_reads_the_final_channel():
    intrinsic = intrinsics.from_dict(
        {
            "model": None,
            "response_format": '{"type": "string", "enum": ["yes", "no"]}',
            "transformations": [
                {"type": "likelihood", "input_path": [], "categories_to_values": {"yes": 1.0, "no": 0.0}}
            ],
            "logprobs_workaround": True,
        },
        name="t",
    )
    tokens = [
        ("<|channel|>", 0.0, []),
        ("analysis", 0.0, []),
        ("<|message|>", 0.0, []),
        ("<|end|>", 0.0, []),
        ("<|start|>", 0.0, []),
        ("assistant", 0.0, []),
        ("<|channel|>", 0.0, []),
        ("final", 0.0, []),
        ("<|message|>", 0.0, []),
        ('"', 0.0, []),
        ("yes", -0.25, [("yes", -0.25), ("no", -1.5)]),
        ('"', 0.0, []),
        ("<|return|>", 0.0, []),
    ]
    # The server left the channel markup in the content; the final channel is the truth.
    response = uncertainty_response(tokens, content='<|channel|>final<|message|>"yes"')
    import math

    expected = math.exp(-0.25) / (math.exp(-0.25) + math.exp(-1.5))
    assert intrinsic.process_choice(response["choices"][0]) == pytest.approx(expected, abs=1e-12)
