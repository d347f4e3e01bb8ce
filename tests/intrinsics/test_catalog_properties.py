"""Random outputs through the catalog's configs (configs/intrinsics/), one property per rule kind.

- a label nested under the intrinsic's name (answerability) comes back as it was written;
- outputs with no rules (query_rewrite, query_clarification, context_relevance) come back as parsed;
- a likelihood (requirement-check) is the share of "yes" among the matched alternatives, in [0, 1]
  up to one ulp, and bit-identical to granite-common 0.4.1's;
- sentence spans (hallucination_detection, citations, context-attribution): every span's text is
  the slice ``[begin:end]`` of the request's own text that it names (a document, the last turn or an
  earlier turn), citations hold no repeated and no adjacent spans, context-attribution keeps every
  pair in the model's order.
"""

from __future__ import annotations

import json
import math

import pytest
import yaml
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import intrinsics
from intrinsics.sentences import split_sentences

from .helpers import REPO

CATALOG = REPO / "configs" / "intrinsics"
SETTINGS = settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])


def _load(name: str) -> intrinsics.Intrinsic:
    return intrinsics.load(CATALOG / name / "io.yaml")


def _choice(content: str, logprobs: dict | None = None) -> dict:
    choice = {"index": 0, "message": {"role": "assistant", "content": content}, "finish_reason": "stop"}
    if logprobs is not None:
        choice["logprobs"] = logprobs
    return choice


# --- labels and pass-through ----------------------------------------------------------------------

LAYOUTS = st.sampled_from(["{}", " {} ", "\n{}\n", "{}\n\n"])


@SETTINGS
@given(label=st.sampled_from(["answerable", "unanswerable"]), layout=LAYOUTS)
def test_answerability_returns_the_label_it_was_given(label, layout):
    result = _load("answerability").process_choice(_choice(layout.format(json.dumps(label))))
    assert result == {"answerability": label}


FREE_TEXT = {
    "query_rewrite": "rewritten_question",
    "query_clarification": "clarification",
}


@SETTINGS
@given(name=st.sampled_from(sorted(FREE_TEXT)), text=st.text(), indent=st.sampled_from([None, 2, 4]))
def test_free_text_intrinsics_return_the_output_as_parsed(name, text, indent):
    output = {FREE_TEXT[name]: text}
    assert _load(name).process_choice(_choice(json.dumps(output, indent=indent))) == output


@SETTINGS
@given(label=st.sampled_from(["relevant", "irrelevant", "partially relevant"]), indent=st.sampled_from([None, 4]))
def test_context_relevance_returns_its_label(label, indent):
    output = {"context_relevance": label}
    assert _load("context_relevance").process_choice(_choice(json.dumps(output, indent=indent))) == output


# --- likelihood ----------------------------------------------------------------------------------

LOGPROB = st.floats(min_value=-30.0, max_value=0.0, allow_nan=False)
ALTERNATIVE = st.tuples(st.sampled_from(["yes", "no", "ye", "y", "n", "maybe", " ", "'"]), LOGPROB)


def _requirement_choice(chosen: str, chosen_lp: float, alternatives: list) -> dict:
    tokens = ['{"', "score", '":', ' "', chosen, '"}']
    entries = [{"token": t, "logprob": 0.0, "top_logprobs": [{"token": t, "logprob": 0.0}]} for t in tokens]
    entries[4] = {
        "token": chosen,
        "logprob": chosen_lp,
        "top_logprobs": [{"token": chosen, "logprob": chosen_lp}]
        + [{"token": t, "logprob": lp} for t, lp in alternatives],
    }
    return _choice("".join(tokens), {"content": entries})


def _share_of_yes(chosen: str, chosen_lp: float, alternatives: list) -> float:
    weights = {"yes": 0.0, "no": 0.0}
    weights[chosen] += math.exp(chosen_lp)
    for token, lp in alternatives:
        if token != chosen and token in ("yes", "ye", "y", "no", "n"):
            weights["yes" if token.startswith("y") else "no"] += math.exp(lp)
    return weights["yes"] / (weights["yes"] + weights["no"])


@pytest.fixture(scope="module")
def requirement_reference():
    gc = pytest.importorskip("granite_common")
    config = yaml.safe_load((CATALOG / "requirement-check" / "io.yaml").read_text())
    del config["name"]  # granite-common 0.4.1 predates the 'name' key
    return gc.IntrinsicsResultProcessor(config_dict=config)


@SETTINGS
@given(chosen=st.sampled_from(["yes", "no"]), chosen_lp=LOGPROB, alternatives=st.lists(ALTERNATIVE, max_size=9))
def test_requirement_check_is_the_share_of_yes_and_agrees_with_granite_common(
    requirement_reference, chosen, chosen_lp, alternatives
):
    choice = _requirement_choice(chosen, chosen_lp, alternatives)
    score = _load("requirement-check").process_choice(choice)["requirement_check"]["score"]
    # The reference's arithmetic (normalise, then sum) may land one ulp outside [0, 1].
    assert -1e-15 <= score <= 1.0 + 1e-15
    assert math.isclose(score, _share_of_yes(chosen, chosen_lp, alternatives), abs_tol=1e-12)
    theirs = requirement_reference.transform({"choices": [choice]}).choices[0].message.content
    assert json.loads(theirs)["requirement_check"]["score"] == score


# --- sentence spans --------------------------------------------------------------------------------

WORD = st.text(alphabet="abcdefghijklmnopqrstuvwxyz", min_size=2, max_size=7)
SENTENCE = st.builds(lambda first, rest: " ".join([first.capitalize(), *rest]) + ".", WORD, st.lists(WORD, max_size=4))
TEXT = st.lists(SENTENCE, min_size=1, max_size=4).map(" ".join)


def _count(text: str) -> int:
    return len(split_sentences(text))


@st.composite
def _rag_request(draw, turns: int = 1) -> dict:
    """Documents and a conversation ending with an assistant answer."""
    documents = [{"doc_id": str(i), "text": draw(TEXT)} for i in range(draw(st.integers(1, 3)))]
    messages = []
    for _ in range(turns):
        messages += [{"role": "user", "content": draw(TEXT)}, {"role": "assistant", "content": draw(TEXT)}]
    return {"messages": messages, "documents": documents}


def _context(request: dict) -> list[tuple[str, str | None, int | None]]:
    """(text, document id, message index) of each context sentence, in <cN> order."""
    out = []
    for doc in request["documents"]:
        out += [(doc["text"], doc["doc_id"], None)] * _count(doc["text"])
    for i, message in enumerate(request["messages"][:-1]):
        out += [(message["content"], None, i)] * _count(message["content"])
    return out


def _sentence_numbers(draw, count: int, max_size: int = 4) -> list[int]:
    return draw(st.lists(st.integers(0, count - 1), max_size=max_size))


@SETTINGS
@given(data=st.data())
def test_hallucination_spans_are_slices_of_the_answer(data):
    request = data.draw(_rag_request())
    answer = request["messages"][-1]["content"]
    labels = st.sampled_from(["faithful", "partial", "unfaithful", "NA"])
    output = [
        {"r": r, "f": data.draw(labels), "e": data.draw(st.text(max_size=20))}
        for r in _sentence_numbers(data.draw, _count(answer))
    ]
    intrinsic = _load("hallucination_detection")
    result = intrinsic.process_choice(_choice(json.dumps(output)), intrinsic.rewrite(request))
    assert [(r["faithfulness"], r["explanation"]) for r in result] == [(o["f"], o["e"]) for o in output]
    for record in result:
        assert answer[record["response_begin"] : record["response_end"]] == record["response_text"]


@SETTINGS
@given(data=st.data())
def test_citation_spans_are_slices_without_repeats_or_adjacent_neighbours(data):
    request = data.draw(_rag_request())
    answer, documents = request["messages"][-1]["content"], {d["doc_id"]: d["text"] for d in request["documents"]}
    cited = sum(_count(d) for d in documents.values())
    output = [
        {"r": r, "c": _sentence_numbers(data.draw, cited, 6)} for r in _sentence_numbers(data.draw, _count(answer), 6)
    ]
    intrinsic = _load("citations")
    result = intrinsic.process_choice(_choice(json.dumps(output)), intrinsic.rewrite(request))
    spans: dict[tuple, list[tuple[int, int]]] = {}
    for record in result:
        assert answer[record["response_begin"] : record["response_end"]] == record["response_text"]
        text = documents[record["citation_doc_id"]]
        assert text[record["citation_begin"] : record["citation_end"]] == record["citation_text"]
        group = (record["response_begin"], record["citation_doc_id"])
        spans.setdefault(group, []).append((record["citation_begin"], record["citation_end"]))
    for group in spans.values():
        ordered = sorted(group)
        assert all(end < begin for (_, end), (begin, _) in zip(ordered, ordered[1:])), group
    covered = {(r["response_begin"], r["citation_doc_id"]) for r in result}
    wanted = {r["r"] for r in output if r["c"]}
    assert len({begin for begin, _ in covered}) == len(wanted)


@SETTINGS
@given(data=st.data(), turns=st.integers(1, 3))
def test_attribution_spans_are_slices_of_a_document_or_an_earlier_turn_in_the_model_s_order(data, turns):
    request = data.draw(_rag_request(turns))
    answer, context = request["messages"][-1]["content"], _context(request)
    output = [
        {"r": r, "c": _sentence_numbers(data.draw, len(context))} for r in _sentence_numbers(data.draw, _count(answer))
    ]
    intrinsic = _load("context-attribution")
    result = intrinsic.process_choice(_choice(json.dumps(output)), intrinsic.rewrite(request))
    pairs = [(record["r"], c) for record in output for c in record["c"]]
    assert len(result) == len(pairs)
    for record, (_, c) in zip(result, pairs):
        text, doc_id, message_index = context[c]
        assert (record["attribution_doc_id"], record["attribution_msg_index"]) == (doc_id, message_index)
        assert text[record["attribution_begin"] : record["attribution_end"]] == record["attribution_text"]
        assert answer[record["response_begin"] : record["response_end"]] == record["response_text"]
