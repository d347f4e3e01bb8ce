"""What each Granite intrinsic needs of a conversation, checked before its adapter is called.

An io.yaml says how to rewrite a request, not which requests make sense: answerability judges
a question that has not been answered yet, citations cite the sentences of an answer against
documents. Sent the wrong shape, an adapter still writes something (a label, indices into
documents that are not there), so a server would spend a call and then fail on the output. These
needs come from the intrinsics' model cards and IBM's test inputs (every reference input meets
them); a name not listed here (an io.yaml of your own) needs nothing beyond what its rewrite
checks.

``last_role``    the role of the conversation's last message, before the instruction turn:
                 ``"user"`` for intrinsics that judge the question, ``"assistant"`` for those
                 that judge the answer
``documents``    at least one document (top-level ``documents``)
"""

from __future__ import annotations

from dataclasses import dataclass

from .errors import RequestError

__all__ = ["Needs", "NEEDS", "check_needs", "judges_answer"]


@dataclass(frozen=True)
class Needs:
    """What one intrinsic needs of a request."""

    last_role: str | None = None
    documents: bool = False


#: Keyed by the io.yaml's ``name`` (mellea's catalog names).
NEEDS: dict[str, Needs] = {
    "uncertainty": Needs(last_role="assistant"),
    "requirement-check": Needs(last_role="assistant"),
    "context-attribution": Needs(last_role="assistant"),
    "citations": Needs(last_role="assistant", documents=True),
    "hallucination_detection": Needs(last_role="assistant", documents=True),
    "answerability": Needs(last_role="user"),
    "context_relevance": Needs(last_role="user"),
    "query_rewrite": Needs(last_role="user"),
    "query_clarification": Needs(last_role="user"),
}

_WHAT = {
    "assistant": "judges an answer: the conversation must end with the assistant's answer",
    "user": "judges a question before it is answered: the conversation must end with the user's question",
}


def judges_answer(name: str | None) -> bool:
    """Whether intrinsic ``name`` judges the last answer (the default for an unknown name)
    rather than the question."""
    return NEEDS.get(name or "", Needs()).last_role != "user"


def check_needs(name: str | None, messages: list, documents: list | None) -> None:
    """Raise ``RequestError`` when ``messages`` (without an instruction turn) and ``documents``
    are not what intrinsic ``name`` needs."""
    needs = NEEDS.get(name or "")
    if needs is None:
        return
    last = messages[-1].get("role") if messages else None
    if needs.last_role is not None and last != needs.last_role:
        what = f"the '{name}' intrinsic {_WHAT[needs.last_role]} (the last message is '{last}')"
        raise RequestError(what, "messages")
    if needs.documents and not documents:
        raise RequestError(f"the '{name}' intrinsic needs the documents to check the answer against", "documents")
