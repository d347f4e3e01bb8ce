"""Every canned vector of the reference, reproduced.

- ``test_canned_input``: the client request rewritten with the vector's io.yaml equals
  the reference's rewrite.  The reference keeps vLLM fields under ``extra_body``; this
  library sends the raw HTTP body, so the expected rewrite is compared after flattening
  ``extra_body`` into the top level.  ``default_temperature=None`` gives the reference's
  "never set temperature"; every other field must match exactly.
- ``test_canned_output``: processing the raw model output (with the rewritten request)
  gives the expected result: floats to 1e-12, all else exactly, key order included.
- the two real uncertainty round trips (granite-4.0-micro and 4.1), rewrite and result.
"""

from __future__ import annotations

import json

import pytest

import intrinsics

from .helpers import (
    CONFIGS,
    G41,
    GRANITE_COMMON,
    MICRO,
    PUBLISHED_MICRO_YAML,
    UNCERTAINTY_YAML,
    assert_same,
    deep,
    first_content,
    flatten_extra_body,
    read_json,
)

# vector name -> (io.yaml, client request in input_json/, instruction kwargs in input_args/)
VECTORS = {
    "answerability_simple": (GRANITE_COMMON / "input_yaml/answerability.yaml", "simple.json", None),
    "answerability_extra_params": (GRANITE_COMMON / "input_yaml/answerability.yaml", "extra_params.json", None),
    "answerability_answerable": (GRANITE_COMMON / "input_yaml/answerability.yaml", "answerable.json", None),
    "answerability_unanswerable": (GRANITE_COMMON / "input_yaml/answerability.yaml", "unanswerable.json", None),
    "instruction": (GRANITE_COMMON / "input_yaml/instruction.yaml", "instruction.json", "instruction.json"),
    "hallucination_detection": (CONFIGS / "hallucination_detection.yaml", "hallucination_detection.json", None),
    "query_clarification": (CONFIGS / "query_clarification.yaml", "query_clarification.json", None),
    "query_rewrite": (CONFIGS / "query_rewrite.yaml", "query_rewrite.json", None),
    "requirement_check": (CONFIGS / "requirement_check.yaml", "requirement_check.json", "requirement_check.json"),
    "uncertainty": (CONFIGS / "uncertainty-granite-3.3.yaml", "uncertainty.json", None),
    "context_relevance": (CONFIGS / "context_relevance.yaml", "context_relevance.json", "context_relevance.json"),
    "citations": (CONFIGS / "citations.yaml", "citations.json", None),
    "answer_relevance_classifier": (
        CONFIGS / "answer_relevance_classifier.yaml",
        "answer_relevance_classifier.json",
        None,
    ),
    "answer_relevance_rewriter": (
        CONFIGS / "answer_relevance_rewriter.yaml",
        "answer_relevance_rewriter.json",
        "answer_relevance_rewriter.json",
    ),
    "gpt_oss_answerability": (CONFIGS / "gpt_oss_answerability.yaml", "answerable.json", None),
    "gpt_oss_citations": (CONFIGS / "gpt_oss_citations.yaml", "citations.json", None),
    "gpt_oss_hallucination_detection": (
        CONFIGS / "gpt_oss_hallucination_detection.yaml",
        "hallucination_detection.json",
        None,
    ),
    "gpt_oss_query_rewrite": (CONFIGS / "gpt_oss_query_rewrite.yaml", "query_rewrite.json", None),
}
OUTPUT_VECTORS = sorted(p.stem for p in (GRANITE_COMMON / "test_canned_output/model_output").glob("*.json"))
SENTENCE_VECTORS = {"citations", "gpt_oss_citations", "hallucination_detection", "gpt_oss_hallucination_detection"}


def _request_and_kwargs(name):
    _, request_file, args_file = VECTORS[name]
    kwargs = read_json(GRANITE_COMMON / "input_args" / args_file) if args_file else {}
    return read_json(GRANITE_COMMON / "input_json" / request_file), kwargs


def test_every_canned_vector_is_covered():
    canned = {p.stem for p in (GRANITE_COMMON / "test_canned_input").glob("*.json")}
    assert canned == set(VECTORS)
    assert set(OUTPUT_VECTORS) <= set(VECTORS)


@pytest.mark.parametrize("name", sorted(VECTORS))
def test_canned_input(name):
    io_yaml = VECTORS[name][0]
    request, kwargs = _request_and_kwargs(name)
    before = deep(request)
    rewritten = intrinsics.load(io_yaml, default_temperature=None).rewrite(request, **kwargs)
    expected = flatten_extra_body(read_json(GRANITE_COMMON / "test_canned_input" / f"{name}.json"))
    assert rewritten == expected
    assert request == before  # the input is not modified


@pytest.mark.parametrize("name", OUTPUT_VECTORS)
def test_canned_output(name):
    intrinsic = intrinsics.load(VECTORS[name][0])
    response = read_json(GRANITE_COMMON / "test_canned_output/model_output" / f"{name}.json")
    request = read_json(GRANITE_COMMON / "test_canned_input" / f"{name}.json")
    expected = read_json(GRANITE_COMMON / "test_canned_output/expected_result" / f"{name}.json")
    processed = intrinsic.process(deep(response), request)
    assert len(processed["choices"]) == len(expected["choices"])
    for got, want in zip(processed["choices"], expected["choices"]):
        assert_same(json.loads(got["message"]["content"]), json.loads(want["message"]["content"]))
        assert "logprobs" not in got
        assert got["index"] == want["index"]


@pytest.mark.parametrize("name", sorted(SENTENCE_VECTORS & set(OUTPUT_VECTORS)))
def test_canned_output_from_our_own_rewrite(name):
    """Sentence numbers decode against the flat request this library sends, too."""
    intrinsic = intrinsics.load(VECTORS[name][0])
    request, kwargs = _request_and_kwargs(name)
    response = read_json(GRANITE_COMMON / "test_canned_output/model_output" / f"{name}.json")
    expected = read_json(GRANITE_COMMON / "test_canned_output/expected_result" / f"{name}.json")
    processed = intrinsic.process(response, intrinsic.rewrite(request, **kwargs))
    assert_same(first_content(processed), first_content(expected))


def test_granite_4_0_micro_round_trip():
    intrinsic = intrinsics.load(PUBLISHED_MICRO_YAML)
    rewritten = intrinsic.rewrite(read_json(MICRO / "input_json_uncertainty.json"))
    # The published 4.0-micro io.yaml has no temperature; the greedy default supplies
    # the 0.0 the canned rewrite carries.
    assert rewritten == flatten_extra_body(read_json(MICRO / "test_canned_input_uncertainty.json"))
    response = read_json(MICRO / "test_canned_output_model_output_uncertainty.json")
    certainty = intrinsic.process_choice(response["choices"][0], rewritten)["certainty"]
    assert abs(certainty - 0.45971526637680044) <= 1e-12
    processed = intrinsic.process(response, rewritten)
    expected = read_json(MICRO / "test_canned_output_expected_result_uncertainty.json")
    assert_same(first_content(processed), first_content(expected))


def test_project_uncertainty_config_reproduces_both_round_trips():
    intrinsic = intrinsics.load(UNCERTAINTY_YAML)
    # Granite 4.1 vector: instruction "<certainty>" appended by the rewrite.
    rewritten = intrinsic.rewrite(read_json(G41 / "input_json_uncertainty.json"))
    assert rewritten == flatten_extra_body(read_json(G41 / "test_canned_input_uncertainty.json"))
    response = read_json(G41 / "test_canned_output_model_output_uncertainty.json")
    expected = read_json(G41 / "test_canned_output_expected_result_uncertainty.json")
    assert_same(intrinsic.process_choice(response["choices"][0], rewritten), first_content(expected))
    # 4.0-micro output scored with the project config: same rules, same number.
    micro = read_json(MICRO / "test_canned_output_model_output_uncertainty.json")
    certainty = intrinsic.process_choice(micro["choices"][0])["certainty"]
    assert abs(certainty - 0.45971526637680044) <= 1e-12


def test_project_config_is_the_published_file_plus_two_changes():
    import yaml

    published = yaml.safe_load(PUBLISHED_MICRO_YAML.read_text())
    ours = yaml.safe_load(UNCERTAINTY_YAML.read_text())
    assert ours.pop("name") == "uncertainty"
    assert ours.pop("instruction") == "<certainty>" and published.pop("instruction") is None
    assert ours["parameters"].pop("temperature") == 0.0
    assert ours == published


# --- the reconstructed io.yaml files against the reference itself --------------------


@pytest.mark.parametrize("name", sorted(VECTORS))
def test_reconstructed_config_matches_reference(name):
    """granite-common 0.4.1, given the same io.yaml, produces the same canned vectors.

    This is what makes the reconstructed configs (see data/README.md) trustworthy.
    """
    gc = pytest.importorskip("granite_common")
    from granite_common.base.types import ChatCompletionResponse

    io_yaml = VECTORS[name][0]
    if name in SENTENCE_VECTORS:
        pytest.importorskip("nltk", reason="the reference splits sentences with nltk")
    request, kwargs = _request_and_kwargs(name)
    canned_input = (GRANITE_COMMON / "test_canned_input" / f"{name}.json").read_text()
    rewritten = gc.IntrinsicsRewriter(config_file=io_yaml).transform(
        gc.ChatCompletion.model_validate(request), **kwargs
    )
    assert rewritten.model_dump_json(indent=2) == canned_input
    if name not in OUTPUT_VECTORS:
        return
    processor = gc.IntrinsicsResultProcessor(config_file=io_yaml)
    response = (GRANITE_COMMON / "test_canned_output/model_output" / f"{name}.json").read_text()
    result = processor.transform(
        ChatCompletionResponse.model_validate_json(response), gc.ChatCompletion.model_validate_json(canned_input)
    )
    ours = intrinsics.load(io_yaml).process(json.loads(response), json.loads(canned_input))
    for theirs, mine in zip(result.choices, ours["choices"]):
        # Same operations in the same order: bit-identical, not just close.
        assert mine["message"]["content"] == theirs.message.content
