"""The project's io.yaml of every intrinsic of mellea's catalog (configs/intrinsics/<name>/),
against mellea's newer canned vectors (tests/intrinsics/data/mellea/, see data/README.md).

- the rewrite of the vector's client request equals mellea's canned rewrite (the reference's
  ``extra_body`` flattened into the raw HTTP body, as in ``test_canned_vectors``; the
  reference's "never set temperature": ``default_temperature=None``);
- the processed raw model output equals mellea's expected result: JSON values equal, object
  keys in the same order, floats to 1e-12 (mellea 0.8.0's own formatter, given these files,
  writes requirement_check's 0.4206108287116172 where the expected file has ...171);
- the same result comes from the rewrite this library sends.
"""

from __future__ import annotations

import json
import re

import pytest
import yaml

import intrinsics

from .helpers import DATA, REPO, assert_same, deep, flatten_extra_body, read_json

MELLEA = DATA / "mellea"
CATALOG = REPO / "configs" / "intrinsics"

#: mellea 0.8's catalog names (mellea/backends/adapters/catalog.py) -> origin repository.
CATALOG_NAMES = {
    "uncertainty": "ibm-granite/granitelib-core-r1.0",
    "requirement-check": "ibm-granite/granitelib-core-r1.0",
    "context-attribution": "ibm-granite/granitelib-core-r1.0",
    "answerability": "ibm-granite/granitelib-rag-r1.0",
    "citations": "ibm-granite/granitelib-rag-r1.0",
    "context_relevance": "ibm-granite/granitelib-rag-r1.0",
    "hallucination_detection": "ibm-granite/granitelib-rag-r1.0",
    "query_clarification": "ibm-granite/granitelib-rag-r1.0",
    "query_rewrite": "ibm-granite/granitelib-rag-r1.0",
}

#: vector -> (intrinsic, client request in input_json/, instruction kwargs in input_args/)
VECTORS = {
    "answerability_simple": ("answerability", "simple", None),
    "answerability_answerable": ("answerability", "answerable", None),
    "answerability_unanswerable": ("answerability", "unanswerable", None),
    "citations": ("citations", "citations", None),
    "context-attribution": ("context-attribution", "context-attribution", None),
    "context_relevance": ("context_relevance", "context_relevance", "context_relevance"),
    "hallucination_detection": ("hallucination_detection", "hallucination_detection", None),
    "query_clarification": ("query_clarification", "query_clarification", None),
    "query_rewrite": ("query_rewrite", "query_rewrite", None),
    "requirement_check": ("requirement-check", "requirement_check", "requirement_check"),
}
SENTENCE_VECTORS = ("citations", "context-attribution", "hallucination_detection")


def _intrinsic(vector: str, **kwargs) -> intrinsics.Intrinsic:
    return intrinsics.load(CATALOG / VECTORS[vector][0] / "io.yaml", **kwargs)


def _request_and_kwargs(vector: str) -> tuple[dict, dict]:
    _, request_file, args_file = VECTORS[vector]
    kwargs = read_json(MELLEA / "input_args" / f"{args_file}.json") if args_file else {}
    return read_json(MELLEA / "input_json" / f"{request_file}.json"), kwargs


def _results(processed: dict) -> list:
    return [json.loads(choice["message"]["content"]) for choice in processed["choices"]]


def _expected(vector: str) -> list:
    return _results(read_json(MELLEA / "test_canned_output/expected_result" / f"{vector}.json"))


def test_every_intrinsic_of_mellea_catalog_has_a_config():
    configured = {p.parent.name for p in CATALOG.glob("*/io.yaml")}
    assert configured == set(CATALOG_NAMES)
    registry = intrinsics.load_all(CATALOG)
    assert {name: intrinsic.config.name for name, intrinsic in registry.items()} == {n: n for n in CATALOG_NAMES}


@pytest.mark.parametrize("name", sorted(set(CATALOG_NAMES) - {"uncertainty"}))
def test_each_new_config_names_its_origin_and_revision(name):
    header = (CATALOG / name / "io.yaml").read_text().split("\nname:")[0]
    origin = re.search(r"# Origin: (\S+) at revision [0-9a-f]{8} \(([0-9a-f]{40})", header)
    assert origin is not None, header
    assert origin.group(1) == CATALOG_NAMES[name]
    assert f"{name}/granite-4.0-micro/lora/io.yaml" in header


def test_every_mellea_vector_is_covered_once_per_intrinsic():
    canned = {p.stem for p in (MELLEA / "test_canned_input").glob("*.json")}
    assert canned == set(VECTORS)
    assert {intrinsic for intrinsic, _, _ in VECTORS.values()} == set(CATALOG_NAMES) - {"uncertainty"}


@pytest.mark.parametrize("vector", sorted(VECTORS))
def test_rewrite_reproduces_the_canned_request(vector):
    request, kwargs = _request_and_kwargs(vector)
    before = deep(request)
    rewritten = _intrinsic(vector, default_temperature=None).rewrite(request, **kwargs)
    assert rewritten == flatten_extra_body(read_json(MELLEA / "test_canned_input" / f"{vector}.json"))
    assert request == before  # the input is not modified


@pytest.mark.parametrize("vector", sorted(VECTORS))
def test_result_reproduces_the_expected_result(vector):
    response = read_json(MELLEA / "test_canned_output/model_output" / f"{vector}.json")
    request = read_json(MELLEA / "test_canned_input" / f"{vector}.json")
    processed = _intrinsic(vector).process(deep(response), request)
    assert_same(_results(processed), _expected(vector))
    assert all("logprobs" not in choice for choice in processed["choices"])


@pytest.mark.parametrize("vector", SENTENCE_VECTORS)
def test_result_from_our_own_rewrite_is_the_same(vector):
    intrinsic = _intrinsic(vector)
    request, kwargs = _request_and_kwargs(vector)
    response = read_json(MELLEA / "test_canned_output/model_output" / f"{vector}.json")
    assert_same(_results(intrinsic.process(response, intrinsic.rewrite(request, **kwargs))), _expected(vector))


def test_labels_replaced_likelihood_floats_where_the_newer_files_say_so():
    for vector, field in [("answerability_answerable", "answerability"), ("context_relevance", "context_relevance")]:
        assert not _intrinsic(vector).needs_logprobs
        assert isinstance(_expected(vector)[0][field], str)
    assert {r["faithfulness"] for r in _expected("hallucination_detection")[0]} == {"faithful", "unfaithful"}
    assert _intrinsic("requirement_check").needs_logprobs  # still a likelihood, nested under its name


def test_citations_drop_the_model_s_repeated_records():
    """The vector's model repeats a record and a cited sentence; without drop_duplicates
    (granite-common 0.4.1's drops nothing) merge_spans meets two equal spans and fails."""
    response = read_json(MELLEA / "test_canned_output/model_output" / "citations.json")
    raw = json.loads(response["choices"][0]["message"]["content"])
    pairs = [(record["r"], c) for record in raw for c in record["c"]]
    assert len(pairs) > len(set(pairs))
    config = yaml.safe_load((CATALOG / "citations" / "io.yaml").read_text())
    config["transformations"] = [r for r in config["transformations"] if r["type"] != "drop_duplicates"]
    request = read_json(MELLEA / "test_canned_input" / "citations.json")
    with pytest.raises(intrinsics.TransformError, match="two spans start"):
        intrinsics.from_dict(config, name="citations").process(response, request)
