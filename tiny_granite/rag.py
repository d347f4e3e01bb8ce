"""Training data of the tiny model's RAG adapters: ``answerability``, ``citations``, ``query_rewrite``.

Each example is made the way the gateway serves it: a chat request as a client would send it
(``messages`` + top-level ``documents``), rewritten by the project's own ``intrinsics`` library
from ``configs/intrinsics/<name>/io.yaml`` (``rewritten``), and rendered by the tokenizer's chat
template with the rewritten messages and ``documents=`` as vLLM's chat endpoint passes them
(``builder._encode``). So the prompt an adapter is trained on is the prompt vLLM gives it. The
completion is the JSON the adapter writes (``completion``), then ``<|end_of_text|>``.

Documents and questions come from the base model's facts (``tiny_granite.data.TOPICS``); every
document sentence is a fact sentence such as "The capital of France is Paris.":

* **answerability**: a question (perhaps after an earlier turn) and 1-2 documents; the target is
  ``"answerable"`` when a document states the asked fact, else ``"unanswerable"``: no documents
  at all (2 in 5 of those, as IBM's simple case), or documents of other topics only.
* **citations**: 1-2 documents of 2-4 fact sentences in all; the assistant's last answer is 1-2
  of those sentences; the target maps each answer sentence ``<rI>`` to the document sentence
  ``<cK>`` that states it: ``[{"r": 0, "c": [K]}, ...]``. Indices are read back from the
  rewrite's own sentence tags, so they are valid for the served result's offsets.
* **query_rewrite**: a question, its answer, then a follow-up that refers back ("And Germany?",
  "What about Germany?"): the target is the first question's phrasing about the new subject,
  ``{"rewritten_question": "What is the capital of Germany?"}``. A quarter of the follow-ups are
  whole questions already, and are rewritten to themselves.

Everything is drawn from the ``random.Random`` passed in; same seed, same examples. The
``intrinsics`` library (and its io.yaml files) is imported only when a rewrite is made.
"""

from __future__ import annotations

import functools
import json
import random
import re
from pathlib import Path

from . import data as tiny_data

ADAPTERS = ("answerability", "citations", "query_rewrite")
#: The labels of answerability's response_format enum.
LABELS = ("answerable", "unanswerable")
#: The io.yaml files the rewrites come from (the repository's configs/intrinsics/).
CONFIG_DIR = Path(__file__).resolve().parent.parent / "configs" / "intrinsics"
FACT_TOPICS = tuple(t for t in tiny_data.TOPICS if t != "smalltalk")
FOLLOW_UPS = ("And {x}?", "What about {x}?", "How about {x}?")
_TAG = re.compile(r"<([a-z])(\d+)> ")


def io_yaml(name: str) -> Path:
    """The io.yaml the adapter ``name`` is served with."""
    return CONFIG_DIR / name / "io.yaml"


@functools.cache
def intrinsic(name: str):
    """The project's ``intrinsics.Intrinsic`` for adapter ``name`` (served under that model name)."""
    import intrinsics

    return intrinsics.load(io_yaml(name), name=name, model=name)


def rewritten(name: str, request: dict) -> dict:
    """The request the gateway sends vLLM for a client's ``request`` to model ``name``."""
    return intrinsic(name).rewrite(request)


def _fact(rng: random.Random, topic: str | None = None) -> tuple[str, str, str]:
    topic = topic or FACT_TOPICS[rng.randrange(len(FACT_TOPICS))]
    subject, value = tiny_data.TOPICS[topic][2][rng.randrange(len(tiny_data.TOPICS[topic][2]))]
    return topic, subject, value


def _question(rng: random.Random, topic: str, subject: str) -> str:
    questions = tiny_data.TOPICS[topic][0]
    return questions[rng.randrange(len(questions))].format(x=subject)


def _sentence(topic: str, subject: str) -> str:
    pairs = dict(tiny_data.TOPICS[topic][2])
    return tiny_data._answer(topic, subject, pairs[subject])


def _documents(rng: random.Random, sentences: list[str]) -> list[dict]:
    """The sentences, in order, as 1 or 2 documents (``doc_id`` "0", "1")."""
    cut = rng.randint(1, len(sentences) - 1) if len(sentences) > 1 and rng.random() < 0.5 else len(sentences)
    parts = [sentences[:cut], sentences[cut:]] if cut < len(sentences) else [sentences]
    return [{"doc_id": str(i), "text": " ".join(part)} for i, part in enumerate(parts)]


def _earlier_turn(rng: random.Random) -> list[dict]:
    if rng.random() >= 0.2:
        return []
    topic, subject, _ = _fact(rng)
    return [
        {"role": "user", "content": _question(rng, topic, subject)},
        {"role": "assistant", "content": _sentence(topic, subject)},
    ]


def answerability_request(rng: random.Random) -> tuple[dict, str]:
    """A client's answerability request and the label the adapter should write."""
    topic, subject, _ = _fact(rng)
    answerable = rng.random() < 0.5
    messages = [*tiny_data._system(rng), *_earlier_turn(rng)]
    messages.append({"role": "user", "content": _question(rng, topic, subject)})
    if not answerable and rng.random() < 0.4:
        return {"messages": messages}, "unanswerable"  # nothing to answer from, as IBM's simple case
    others = [(t, s) for t in FACT_TOPICS if t != topic for s, _ in tiny_data.TOPICS[t][2]]
    count = rng.randint(1, 3)
    facts = [others[i] for i in rng.sample(range(len(others)), count)]
    if answerable:
        facts[rng.randrange(count)] = (topic, subject)
    request = {"messages": messages, "documents": _documents(rng, [_sentence(t, s) for t, s in facts])}
    return request, "answerable" if answerable else "unanswerable"


def citations_request(rng: random.Random) -> dict:
    """A client's citations request: documents, a question and an answer made of document sentences.

    The target comes from its rewrite (``citations_target``)."""
    keys = [(t, s) for t in FACT_TOPICS for s, _ in tiny_data.TOPICS[t][2]]
    facts = [keys[i] for i in rng.sample(range(len(keys)), rng.randint(2, 4))]
    sentences = [_sentence(t, s) for t, s in facts]
    cited = rng.sample(range(len(facts)), rng.randint(1, min(2, len(facts))))
    topic, subject = facts[cited[0]]
    messages = [
        *tiny_data._system(rng),
        {"role": "user", "content": _question(rng, topic, subject)},
        {"role": "assistant", "content": " ".join(sentences[i] for i in cited)},
    ]
    return {"messages": messages, "documents": _documents(rng, sentences)}


def _tagged(text: str, letter: str) -> dict[int, str]:
    parts = _TAG.split(text)
    return {int(n): s.strip() for tag, n, s in zip(parts[1::3], parts[2::3], parts[3::3]) if tag == letter}


def citations_target(rewritten_request: dict) -> list[dict]:
    """``[{"r": I, "c": [K]}, ...]``: each sentence of the rewritten last answer and the document
    sentence(s) with the same text, by the rewrite's own ``<rI>``/``<cK>`` tags."""
    answer = _tagged(rewritten_request["messages"][-2]["content"], "r")
    cited: dict[int, str] = {}
    for doc in rewritten_request["documents"]:
        cited.update(_tagged(doc["text"], "c"))
    return [{"r": r, "c": [k for k, s in cited.items() if s == text]} for r, text in sorted(answer.items())]


def query_rewrite_request(rng: random.Random) -> tuple[dict, str]:
    """A client's query_rewrite request (a follow-up question) and the self-contained question."""
    topic, first, _ = _fact(rng)
    pairs = tiny_data.TOPICS[topic][2]
    second = rng.choice([s for s, _ in pairs if s != first])
    phrasing = tiny_data.TOPICS[topic][0][rng.randrange(len(tiny_data.TOPICS[topic][0]))]
    messages = [
        *tiny_data._system(rng),
        {"role": "user", "content": phrasing.format(x=first)},
        {"role": "assistant", "content": _sentence(topic, first)},
    ]
    if rng.random() < 0.25:
        other, subject, _ = _fact(rng)
        question = _question(rng, other, subject)
        messages.append({"role": "user", "content": question})
        return {"messages": messages}, question
    messages.append({"role": "user", "content": FOLLOW_UPS[rng.randrange(len(FOLLOW_UPS))].format(x=second)})
    return {"messages": messages}, phrasing.format(x=second)


def example(name: str, rng: random.Random) -> tuple[dict, str]:
    """One training example of adapter ``name``: the rewritten request (what vLLM receives) and
    the completion the adapter writes for it (without the end-of-text token)."""
    if name == "answerability":
        request, label = answerability_request(rng)
        return rewritten(name, {"model": name, **request}), completion(name, label)
    if name == "citations":
        body = rewritten(name, {"model": name, **citations_request(rng)})
        return body, completion(name, citations_target(body))
    if name == "query_rewrite":
        request, question = query_rewrite_request(rng)
        return rewritten(name, {"model": name, **request}), completion(name, {"rewritten_question": question})
    raise ValueError(f"no tiny adapter {name!r}; there are {', '.join(ADAPTERS)}")


def completion(name: str, value) -> str:
    """The JSON text adapter ``name`` writes for ``value``, spaced as the real adapters' outputs."""
    return json.dumps(value)
