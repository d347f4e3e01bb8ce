"""The tiny model's RAG adapters' training data: each example is a client's request rewritten by the
project's own io.yaml and rendered as vLLM renders it; the targets are what the served result
needs. Nothing here trains (the tokenizer takes ~1 s)."""

import json
import random
from pathlib import Path

import pytest
import yaml

import intrinsics
from tiny_granite import builder as tiny_model
from tiny_granite import data as tiny_data
from tiny_granite import rag

REPO = Path(__file__).resolve().parents[2]


@pytest.fixture(scope="module")
def tokenizer():
    pytest.importorskip("tokenizers")
    pytest.importorskip("transformers")
    return tiny_data.build_tokenizer(0)


def draw(name, seed, n=40):
    rng = random.Random(seed)
    return [rag.example(name, rng) for _ in range(n)]


@pytest.mark.parametrize("name", rag.ADAPTERS)
def test_examples_are_deterministic_per_seed(name):
    assert draw(name, 0) == draw(name, 0)
    assert draw(name, 0) != draw(name, 1)


def test_the_rag_examples_leave_the_base_and_uncertainty_data_alone():
    # The RAG adapters draw from RNGs of their own: the older examples are what they were.
    rng = random.Random(0)
    before = [tiny_data.base_example(rng) for _ in range(20)] + [tiny_data.certainty_example(rng) for _ in range(20)]
    for name in rag.ADAPTERS:
        draw(name, 0, n=5)
    rng = random.Random(0)
    after = [tiny_data.base_example(rng) for _ in range(20)] + [tiny_data.certainty_example(rng) for _ in range(20)]
    assert before == after


@pytest.mark.parametrize("name", rag.ADAPTERS)
def test_the_training_prompt_is_the_rendered_rewrite_of_a_client_request(name, tokenizer):
    served = intrinsics.load(REPO / "configs" / "intrinsics" / name / "io.yaml", name=name, model=name)
    rng, again = random.Random(5), random.Random(5)
    for _ in range(10):
        body, completion = rag.example(name, rng)
        # The same draw, made by hand as a client's request and the gateway's rewrite of it.
        if name == "answerability":
            request, label = rag.answerability_request(again)
            assert completion == json.dumps(label)
        elif name == "citations":
            request = rag.citations_request(again)
        else:
            request, question = rag.query_rewrite_request(again)
            assert json.loads(completion) == {"rewritten_question": question}
        assert "model" not in request and set(request) <= {"messages", "documents"}
        rewritten = served.rewrite({"model": name, **request})
        assert body == rewritten
        text = tokenizer.apply_chat_template(
            rewritten["messages"],
            documents=rewritten.get("documents"),
            tokenize=False,
            add_generation_prompt=True,
        )
        ids, out = tiny_model.encode_rag_example(tokenizer, body, completion)
        assert ids == tokenizer.encode(text, add_special_tokens=False)
        assert out == tokenizer.encode(completion, add_special_tokens=False) + [tokenizer.eos_token_id]
        if "documents" in request:
            assert "<documents>" in text and all(json.dumps(d) in text for d in rewritten["documents"])
        # The completion is valid under the io.yaml's response_format, as vLLM's guided decoding needs.
        jsonschema = pytest.importorskip("jsonschema")
        schema = json.loads(yaml.safe_load(rag.io_yaml(name).read_text())["response_format"])
        jsonschema.validate(json.loads(completion), schema)


def test_answerability_is_answerable_exactly_when_a_document_states_the_asked_fact():
    asked = {  # question -> the sentence that answers it
        p.format(x=subject): tiny_data._answer(topic, subject, value)
        for topic in rag.FACT_TOPICS
        for phrasings, _, pairs in [tiny_data.TOPICS[topic]]
        for p in phrasings
        for subject, value in pairs
    }
    rng, labels = random.Random(0), []
    for _ in range(200):
        request, label = rag.answerability_request(rng)
        stated = {s.rstrip(".") for d in request.get("documents", ()) for s in d["text"].split(". ")}
        answer = asked[request["messages"][-1]["content"]]
        assert (label == "answerable") == (answer.rstrip(".") in stated), request
        labels.append(label if "documents" in request else "no documents")
    assert 0.35 < labels.count("answerable") / len(labels) < 0.65
    assert 0.1 < labels.count("no documents") / len(labels) < 0.3  # IBM's simple case: unanswerable


def test_citations_target_each_answer_sentence_to_the_document_sentence_that_states_it():
    served = intrinsics.load(REPO / "configs" / "intrinsics" / "citations" / "io.yaml", name="citations")
    rng = random.Random(0)
    for _ in range(50):
        request = rag.citations_request(rng)
        body = served.rewrite({"model": "citations", **request})
        target = rag.citations_target(body)
        # Decoded as the served result decodes it: each record's response sentence is its cited one.
        response = {"choices": [{"index": 0, "message": {"role": "assistant", "content": json.dumps(target)}}]}
        records = served.results(response, body)[0]
        answer = request["messages"][-1]["content"]
        docs = {d["doc_id"]: d["text"] for d in request["documents"]}
        assert len(records) == len(target) >= 1
        for rec in records:
            assert answer[rec["response_begin"] : rec["response_end"]] == rec["response_text"]
            assert docs[rec["citation_doc_id"]][rec["citation_begin"] : rec["citation_end"]] == rec["citation_text"]
            assert rec["response_text"].strip() == rec["citation_text"].strip()


def test_query_rewrite_turns_a_follow_up_into_the_first_questions_phrasing():
    rng, follow_ups = random.Random(0), 0
    for _ in range(100):
        request, question = rag.query_rewrite_request(rng)
        first, last = request["messages"][-3]["content"], request["messages"][-1]["content"]
        if last == question:
            continue  # already a whole question
        follow_ups += 1
        subject = next(f.format(x="") for f in rag.FOLLOW_UPS if _matches(f, last))
        assert question != first and subject  # a new subject in the first question's words
    assert follow_ups > 50
    rng = random.Random(0)
    seen = {rag.query_rewrite_request(rng)[1] for _ in range(300)}
    assert "What is the capital of Germany?" in seen


def _matches(form, text):
    head, tail = form.split("{x}")
    return text.startswith(head) and text.endswith(tail)


def test_an_unknown_adapter_names_the_tiny_ones():
    with pytest.raises(ValueError, match="answerability, citations, query_rewrite"):
        rag.example("hallucination_detection", random.Random(0))


def test_paths_name_every_adapter_dir():
    paths = tiny_model.paths("/x")
    assert paths.adapter == Path("/x/uncertainty")
    assert paths.adapters == {name: Path("/x") / name for name in ("uncertainty", *rag.ADAPTERS)}
    assert paths.dirs() == [Path("/x/base"), *paths.adapters.values()]


def test_the_tiny_answerability_io_yaml_is_the_registrys_but_for_its_token_limit():
    registry = yaml.safe_load((REPO / "configs/intrinsics/answerability/io.yaml").read_text())
    tiny = yaml.safe_load((REPO / "configs/tiny-intrinsics/answerability/io.yaml").read_text())
    assert tiny["parameters"].pop("max_completion_tokens") == 10
    assert registry["parameters"].pop("max_completion_tokens") == 6
    assert tiny == registry
