"""The tiny model's RAG adapters, served end to end: answerability, citations and query_rewrite called
as models through the OpenAI SDK against the gateway, documents passed as a client passes them
(``extra_body={"documents": [...]}``). A handful of calls on the session's one stack."""

import json

import pytest

DOCS_FRANCE = [
    {"doc_id": "0", "text": "The capital of France is Paris. A cow says moo."},
    {"doc_id": "1", "text": "Snow is white."},
]
DOCS_ELSEWHERE = [
    {"doc_id": "0", "text": "A dog says woof. The opposite of hot is cold."},
    {"doc_id": "1", "text": "Grass is green."},
]


def ask(sdk, model, messages, documents=None):
    extra = {"documents": documents} if documents is not None else {}
    reply = sdk.chat.completions.create(model=model, messages=messages, extra_body=extra)
    assert reply.model == model and reply.choices[0].finish_reason == "stop", reply
    return json.loads(reply.choices[0].message.content)


QUESTION = [{"role": "user", "content": "What is the capital of France?"}]


def test_answerability_says_answerable_when_a_document_states_the_fact(sdk):
    assert ask(sdk, "answerability", QUESTION, DOCS_FRANCE) == {"answerability": "answerable"}


def test_answerability_says_unanswerable_when_there_is_nothing_to_answer_from(sdk):
    # IBM's simple case: a question and no documents.
    assert ask(sdk, "answerability", QUESTION) == {"answerability": "unanswerable"}


@pytest.mark.xfail(
    reason="the tiny answerability adapter tells no documents from documents that state the fact,"
    " not yet documents about other things (see the build marker's accuracies)",
    strict=True,
)
def test_answerability_says_unanswerable_when_no_document_states_the_fact(sdk):
    assert ask(sdk, "answerability", QUESTION, DOCS_ELSEWHERE) == {"answerability": "unanswerable"}


def test_citations_slice_the_answer_and_the_cited_documents(sdk):
    answer = "The capital of France is Paris. Snow is white."
    messages = [
        {"role": "user", "content": "What is the capital of France?"},
        {"role": "assistant", "content": answer},
    ]
    records = ask(sdk, "citations", messages, DOCS_FRANCE)
    assert isinstance(records, list) and records
    docs = {d["doc_id"]: d["text"] for d in DOCS_FRANCE}
    for rec in records:
        assert answer[rec["response_begin"] : rec["response_end"]] == rec["response_text"]
        assert rec["citation_doc_id"] in docs
        assert docs[rec["citation_doc_id"]][rec["citation_begin"] : rec["citation_end"]] == rec["citation_text"]
    cited = {(r["response_text"].strip(), r["citation_doc_id"], r["citation_text"].strip()) for r in records}
    assert ("The capital of France is Paris.", "0", "The capital of France is Paris.") in cited


def test_query_rewrite_makes_the_follow_up_a_whole_question(sdk):
    messages = [
        {"role": "user", "content": "What is the capital of France?"},
        {"role": "assistant", "content": "The capital of France is Paris."},
        {"role": "user", "content": "And Germany?"},
    ]
    result = ask(sdk, "query_rewrite", messages)
    # Either phrasing of the capitals question the tiny model knows, about the new subject.
    assert result in (
        {"rewritten_question": "What is the capital of Germany?"},
        {"rewritten_question": "Which city is the capital of Germany?"},
    )
