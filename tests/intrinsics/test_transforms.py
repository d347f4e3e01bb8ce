"""The non-likelihood transformation rules and input-path matching."""

from __future__ import annotations

import json

import pytest

import intrinsics
from intrinsics import MissingFieldError, RequestError, TransformError
from intrinsics.transforms import match_paths


def _intrinsic(*rules, **config):
    data = {"model": None, "response_format": None, "transformations": list(rules)}
    data.update(config)
    return intrinsics.from_dict(data, name="t")


def _run(intrinsic, output, request=None):
    choice = {"index": 0, "message": {"role": "assistant", "content": json.dumps(output)}}
    return intrinsic.process_choice(choice, request)


# --- paths ------------------------------------------------------------------------------


def test_match_paths_wildcards_exact_length_document_order():
    doc = {"a": [{"r": 1, "x": {"r": 9}}, {"r": 2}], "b": {"r": 3}}
    assert match_paths(doc, ()) == [()]
    assert match_paths(doc, ("a", None, "r")) == [("a", 0, "r"), ("a", 1, "r")]
    assert match_paths(doc, (None, "r")) == [("b", "r")]
    assert match_paths(doc, (None, None, "r")) == [("a", 0, "r"), ("a", 1, "r")]
    assert match_paths(doc, ("a", 1)) == [("a", 1)]
    assert match_paths(doc, ("a", 5)) == [] and match_paths(doc, ("a", "0")) == []
    assert match_paths(doc, ("b", 0)) == [] and match_paths([7], (0,)) == [(0,)]


def test_concrete_path_that_matches_nothing_is_a_missing_field():
    intrinsic = _intrinsic({"type": "nest", "input_path": ["score"], "field_name": "x"})
    with pytest.raises(MissingFieldError):
        _run(intrinsic, {"other": 1})


def test_wildcard_path_may_match_nothing():
    intrinsic = _intrinsic({"type": "nest", "input_path": [None, "score"], "field_name": "x"})
    assert _run(intrinsic, []) == []


# --- project, nest ---------------------------------------------------------------------------


def test_project_renames_and_orders_fields_missing_become_null():
    intrinsic = _intrinsic({"type": "project", "input_path": [], "retained_fields": {"b": "B", "a": "A", "z": "Z"}})
    result = _run(intrinsic, {"a": 1, "b": 2, "c": 3})
    assert result == {"B": 2, "A": 1, "Z": None} and list(result) == ["B", "A", "Z"]


def test_project_list_form_on_a_list_of_records():
    intrinsic = _intrinsic({"type": "project", "input_path": [], "retained_fields": ["y", "x"]})
    assert _run(intrinsic, [{"x": 1, "y": 2, "z": 3}, {"x": 4}]) == [{"y": 2, "x": 1}, {"y": None, "x": 4}]


def test_project_rejects_non_records():
    intrinsic = _intrinsic({"type": "project", "input_path": [], "retained_fields": ["x"]})
    with pytest.raises(TransformError):
        _run(intrinsic, "text")
    with pytest.raises(TransformError):
        _run(intrinsic, [{"x": 1}, 2])


def test_nest_wraps_each_match():
    intrinsic = _intrinsic({"type": "nest", "input_path": [None], "field_name": "v"})
    assert _run(intrinsic, [1, "a", None]) == [{"v": 1}, {"v": "a"}, {"v": None}]


# --- explode, drop_duplicates ------------------------------------------------------------


def test_explode_keeps_field_order_and_drops_empty_lists():
    intrinsic = _intrinsic({"type": "explode", "input_path": [], "target_field": "c"})
    result = _run(intrinsic, [{"r": 0, "c": [8, 11], "k": "x"}, {"r": 1, "c": []}])
    assert result == [{"r": 0, "c": 8, "k": "x"}, {"r": 0, "c": 11, "k": "x"}]
    assert list(result[0]) == ["r", "c", "k"]


def test_explode_copies_shared_containers():
    # Without copies, a later in-place rule would transform the shared object twice.
    intrinsic = _intrinsic(
        {"type": "explode", "input_path": [], "target_field": "c"},
        {"type": "nest", "input_path": [None, "meta", "n"], "field_name": "wrapped"},
    )
    result = _run(intrinsic, [{"c": [1, 2], "meta": {"n": 5}}])
    assert result == [{"c": 1, "meta": {"n": {"wrapped": 5}}}, {"c": 2, "meta": {"n": {"wrapped": 5}}}]


def test_explode_errors():
    intrinsic = _intrinsic({"type": "explode", "input_path": [], "target_field": "c"})
    for bad in ({"c": [1]}, [{"r": 0}], [{"c": 3}], [7]):
        with pytest.raises(TransformError):
            _run(intrinsic, bad)


def test_drop_duplicates_keeps_the_last_record_of_each_key_where_the_first_was():
    """mellea's fixed behaviour (granite-common 0.4.1 drops nothing)."""
    intrinsic = _intrinsic({"type": "drop_duplicates", "input_path": [], "target_fields": ["a", "b"]})
    records = [
        {"a": 1, "b": 2, "n": 0},
        {"a": 1, "b": 3, "n": 1},
        {"a": 1, "b": 2, "n": 2},
        {"a": [1], "b": 2, "n": 3},
        {"a": [1], "b": 2, "n": 4},
    ]
    assert [r["n"] for r in _run(intrinsic, records)] == [2, 1, 4]


def test_drop_duplicates_needs_the_fields():
    intrinsic = _intrinsic({"type": "drop_duplicates", "input_path": [], "target_fields": ["a"]})
    with pytest.raises(TransformError):
        _run(intrinsic, [{"a": 1}, {"b": 1}])


# --- merge_spans ---------------------------------------------------------------------------

MERGE = {
    "type": "merge_spans",
    "input_path": [],
    "group_fields": ["doc"],
    "begin_field": "b",
    "end_field": "e",
    "text_field": "t",
}


def test_merge_spans_merges_adjacent_spans_of_a_group_sorted():
    records = [
        {"doc": "1", "b": 10, "e": 20, "t": "bb"},
        {"doc": "1", "b": 0, "e": 10, "t": "aa"},
        {"doc": "2", "b": 20, "e": 30, "t": "xx"},
        {"doc": "1", "b": 25, "e": 30, "t": "cc"},
        {"doc": "1", "b": 20, "e": 25, "t": "b2"},
        {"doc": "1", "b": 40, "e": 50, "t": "dd"},
    ]
    assert _run(_intrinsic(MERGE), records) == [
        {"doc": "1", "b": 0, "e": 30, "t": "aabbb2cc"},
        {"doc": "1", "b": 40, "e": 50, "t": "dd"},
        {"doc": "2", "b": 20, "e": 30, "t": "xx"},
    ]


def test_merge_spans_without_text_field_and_empty_list():
    rule = {k: v for k, v in MERGE.items() if k != "text_field"}
    records = [{"doc": "1", "b": 0, "e": 1}, {"doc": "1", "b": 1, "e": 2}]
    assert _run(_intrinsic(rule), records) == [{"doc": "1", "b": 0, "e": 2}]
    assert _run(_intrinsic(rule), []) == []


@pytest.mark.parametrize(
    "records",
    [
        [{"doc": "1", "b": 0, "e": 1, "t": "a"}, {"doc": "1", "b": 0, "e": 2, "t": "b"}],  # same start
        [{"doc": "1", "b": 0, "e": 1, "t": "a", "extra": 1}],  # field outside span and groups
        [{"doc": "1", "b": None, "e": 1, "t": "a"}],  # null span
        [{"doc": "1", "b": 0, "e": 1, "t": "a"}, {"doc": 2, "b": 0, "e": 1, "t": "a"}],  # unorderable groups
    ],
)
def test_merge_spans_errors(records):
    with pytest.raises(TransformError):
        _run(_intrinsic(MERGE), records)


# --- decode_sentences -----------------------------------------------------------------------

DECODE_R = {
    "type": "decode_sentences",
    "source": "last_message",
    "input_path": [None, "r"],
    "output_names": {"begin": "b", "end": "e", "text": "t"},
}
DECODE_C = {
    "type": "decode_sentences",
    "source": "documents",
    "input_path": [None, "c"],
    "output_names": {"document_id": "d", "begin": "b", "end": "e", "text": "t"},
}


def test_decode_last_message_sentences_after_rewrite():
    intrinsic = _intrinsic(DECODE_R, instruction="Check it.", sentence_boundaries={"last_message": "i"})
    request = intrinsic.rewrite(
        {"messages": [{"role": "user", "content": "Q?"}, {"role": "assistant", "content": "One. Two two.  Three!"}]}
    )
    assert request["messages"][-2]["content"] == "<i0> One. <i1> Two two. <i2> Three!"
    result = _run(intrinsic, [{"r": 2}, {"r": 0}], request)
    assert result == [{"r": 2, "b": 14, "e": 20, "t": "Three!"}, {"r": 0, "b": 0, "e": 5, "t": "One. "}]


@pytest.mark.parametrize("how", [None, "json", "roles"])
def test_decode_document_sentences_numbered_across_documents(how):
    intrinsic = _intrinsic(DECODE_C, sentence_boundaries={"documents": "c"}, docs_as_message=how)
    request = intrinsic.rewrite(
        {
            "messages": [{"role": "user", "content": "Q?"}],
            "documents": [
                {"doc_id": "a", "text": "A1. A2."},
                {"doc_id": "b", "text": ""},
                {"doc_id": "c", "text": "C1."},
            ],
        }
    )
    result = _run(intrinsic, [{"c": 2}, {"c": 1}], request)
    assert result == [{"c": 2, "d": "c", "b": 0, "e": 3, "t": "C1."}, {"c": 1, "d": "a", "b": 4, "e": 7, "t": "A2."}]


def test_decode_documents_from_the_reference_request_shape():
    intrinsic = _intrinsic(DECODE_C, sentence_boundaries={"documents": "c"})
    request = {
        "messages": [{"role": "user", "content": "Q?"}],
        "extra_body": {"documents": [{"doc_id": "0", "text": "<c0> X. <c1> Y."}]},
    }
    assert _run(intrinsic, [{"c": 1}], request) == [{"c": 1, "d": "0", "b": 3, "e": 5, "t": "Y."}]


DECODE_CONTEXT = {
    "type": "decode_sentences",
    "source": ["documents", "all_but_last_message"],
    "input_path": [None, "c"],
    "output_names": {"begin": "b", "end": "e", "text": "t", "document_id": "d", "message_index": "m"},
}


def test_decode_sentences_of_documents_then_earlier_turns_in_one_numbering():
    intrinsic = _intrinsic(
        DECODE_CONTEXT,
        instruction="Which?",
        sentence_boundaries={"last_message": "r", "documents": "c", "all_but_last_message": "c"},
    )
    request = intrinsic.rewrite(
        {
            "messages": [
                {"role": "user", "content": "Q one. Q two?"},
                {"role": "assistant", "content": "A."},
                {"role": "user", "content": "Q three?"},
                {"role": "assistant", "content": "Answer."},
            ],
            "documents": [{"doc_id": "x", "text": "D1. D2."}],
        }
    )
    result = _run(intrinsic, [{"c": 3}, {"c": 1}, {"c": 5}], request)
    assert result == [
        {"c": 3, "b": 7, "e": 13, "t": "Q two?", "d": None, "m": 0},
        {"c": 1, "b": 4, "e": 7, "t": "D2.", "d": "x", "m": None},
        {"c": 5, "b": 0, "e": 8, "t": "Q three?", "d": None, "m": 2},
    ]
    with pytest.raises(TransformError, match="sentence 6 does not exist"):
        _run(intrinsic, [{"c": 6}], request)


@pytest.mark.parametrize("output", [[{"r": 3}], [{"r": -1}], [{"r": "0"}], [{"r": True}]])
def test_decode_rejects_bad_sentence_numbers(output):
    intrinsic = _intrinsic(DECODE_R, sentence_boundaries={"last_message": "i"})
    request = intrinsic.rewrite({"messages": [{"role": "assistant", "content": "One. Two."}]})
    with pytest.raises(TransformError):
        _run(intrinsic, output, request)


def test_decode_needs_the_tagged_request():
    intrinsic = _intrinsic(DECODE_R, sentence_boundaries={"last_message": "i"})
    with pytest.raises(RequestError):
        _run(intrinsic, [{"r": 0}], None)
    with pytest.raises(RequestError):
        _run(intrinsic, [{"r": 0}], {"messages": [{"role": "assistant", "content": "not tagged"}]})
