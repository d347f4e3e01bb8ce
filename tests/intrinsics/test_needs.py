"""What each intrinsic needs of a conversation (intrinsics.needs), checked by its rewrite."""

from __future__ import annotations

import pytest
import yaml

import intrinsics
from intrinsics.needs import NEEDS

from .helpers import REPO

CATALOG = REPO / "configs" / "intrinsics"
QUESTION = [{"role": "user", "content": "What is the capital of France?"}]
ANSWERED = [*QUESTION, {"role": "assistant", "content": "The capital of France is Paris."}]
DOCS = [{"doc_id": "1", "text": "Paris is the capital of France."}]
KWARGS = {"requirement-check": {"requirement": "Be brief."}, "context_relevance": {"document_content": "Paris."}}


def load(name: str) -> intrinsics.Intrinsic:
    return intrinsics.load(CATALOG / name / "io.yaml", model=name)


def test_every_catalog_intrinsic_has_its_needs_written_down():
    assert {p.name for p in CATALOG.iterdir() if (p / "io.yaml").is_file()} == set(NEEDS)


@pytest.mark.parametrize("name", sorted(NEEDS))
def test_a_request_of_the_shape_an_intrinsic_needs_is_rewritten(name):
    messages = QUESTION if NEEDS[name].last_role == "user" else ANSWERED
    body = load(name).rewrite({"messages": messages, "documents": DOCS}, **KWARGS.get(name, {}))
    assert body["model"] == name


@pytest.mark.parametrize("name", sorted(NEEDS))
def test_a_conversation_that_ends_with_the_wrong_turn_is_refused_naming_the_messages(name):
    wrong = ANSWERED if NEEDS[name].last_role == "user" else QUESTION
    with pytest.raises(intrinsics.RequestError) as caught:
        load(name).rewrite({"messages": wrong, "documents": DOCS}, **KWARGS.get(name, {}))
    assert caught.value.field == "messages"
    assert name in str(caught.value) and "must end with" in str(caught.value)


@pytest.mark.parametrize("name", ["citations", "hallucination_detection"])
@pytest.mark.parametrize("documents", [None, []])
def test_an_intrinsic_that_checks_an_answer_against_documents_refuses_a_request_without_them(name, documents):
    with pytest.raises(intrinsics.RequestError) as caught:
        load(name).rewrite({"messages": ANSWERED, "documents": documents})
    assert caught.value.field == "documents"


def test_answerability_takes_a_question_without_documents_as_ibms_simple_case_does():
    assert load("answerability").rewrite({"messages": QUESTION})["messages"] == QUESTION


def test_an_instruction_turn_the_client_appended_is_not_taken_for_the_conversations_last_turn():
    body = load("uncertainty").rewrite({"messages": [*ANSWERED, {"role": "user", "content": "<certainty>"}]})
    assert [m["role"] for m in body["messages"]] == ["user", "assistant", "user"]


def test_an_intrinsic_of_ones_own_needs_nothing_beyond_its_rewrite():
    config = (CATALOG / "uncertainty" / "io.yaml").read_text().replace("name: uncertainty", "name: mine")
    own = intrinsics.from_dict(yaml.safe_load(config), name="mine")
    assert own.kind == "mine" and own.judges_answer
    own.rewrite({"messages": QUESTION})  # no shape is required of it


def test_the_kind_is_the_io_yamls_name_whatever_the_adapter_is_called():
    served = intrinsics.load(CATALOG / "answerability" / "io.yaml", name="rag-answerable", model="rag-answerable")
    assert served.kind == "answerability" and not served.judges_answer
    with pytest.raises(intrinsics.RequestError):
        served.rewrite({"messages": ANSWERED})
