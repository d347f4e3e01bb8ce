"""Rewriting a client's chat completion request into the request the adapter needs.

The result is the raw HTTP body for vLLM's ``/v1/chat/completions``: whatever the client
put under ``extra_body`` (the OpenAI SDK's convention, and the reference's test data
shape) is flattened into the top level, and the JSON schema goes in vLLM's top-level
``structured_outputs`` field.  Steps, in the reference's order:

1. mark sentence boundaries (``<tagN> `` before each sentence) in the last message,
   the documents and/or the earlier turns (``all_but_last_message``, numbered on from
   the documents' last number, as mellea's formatter does);
2. move the documents into messages if ``docs_as_message``;
3. append the instruction as a user turn, ``instruction.format(last_message=..., **kwargs)``,
   unless the conversation already ends with exactly that turn;
4. io.yaml ``parameters`` override the request's fields; the model becomes the adapter's;
5. ``logprobs: true, top_logprobs: 10`` when a likelihood rule needs them;
6. ``structured_outputs: {"json": schema}``.

Deliberate difference from the reference: unless the io.yaml sets ``temperature``, the
rewrite sets ``temperature: 0.0`` (the adapters are trained and calibrated for greedy
decoding); ``default_temperature=None`` restores the reference's behaviour.
"""

from __future__ import annotations

import copy
import json
from typing import Any

import orjson

from .config import IntrinsicConfig
from .errors import RequestError
from .likelihood import TOP_LOGPROBS
from .needs import check_needs
from .process import message_text
from .sentences import mark_sentences

__all__ = ["Rewriter"]


class Rewriter:
    """Request rewriting for one intrinsic, with everything derivable precomputed."""

    def __init__(
        self, config: IntrinsicConfig, *, model: str | None, default_temperature: float | None, kind: str | None = None
    ):
        self.config = config
        self.kind = kind
        self.model = model
        self.needs_logprobs = any(t["type"] == "likelihood" for t in config.transformations)
        self.parameters = dict(config.parameters)
        self.extra_parameters = dict(config.extra_body_parameters)
        # Container values (stop lists, nested options) are copied per request so that a
        # caller editing one request body cannot change the next.
        self._copy_parameters = any(
            isinstance(v, (dict, list)) for v in (*self.parameters.values(), *self.extra_parameters.values())
        )
        sets_temperature = "temperature" in self.parameters or "temperature" in self.extra_parameters
        self.temperature = None if sets_temperature else default_temperature
        # Serialised once; parsed per request so callers never share (and mutate) it.
        self._schema = None if config.response_format is None else orjson.dumps(config.response_format)

    def rewrite(self, request: dict, kwargs: dict) -> dict:
        """Return the vLLM request body for ``request``.

        ``request`` is not modified; the body may share sub-objects the rewrite did not
        change (a message, a document) with it.
        """
        if not isinstance(request, dict):
            raise RequestError("the request must be a JSON object")
        body = {k: v for k, v in request.items() if k != "extra_body"}
        extra = request.get("extra_body")
        if extra is not None:
            if not isinstance(extra, dict):
                raise RequestError("must be a JSON object", "extra_body")
            body.update(extra)
        messages = _checked_messages(body.get("messages"))
        documents = _checked_documents(body.get("documents"))
        cfg = self.config

        existing_turn = None
        if cfg.instruction is not None:
            existing_turn = self._existing_instruction_turn(messages, kwargs)
            if existing_turn is not None:
                # The client already appended the instruction (model-card style): keep it, once.
                messages.pop()
        check_needs(self.kind, messages, documents)
        if cfg.sentence_boundaries:
            documents = _mark_boundaries(cfg.sentence_boundaries, messages, documents)
            if documents is not None:
                body["documents"] = documents
        if cfg.docs_as_message and documents is not None:
            messages = _documents_as_messages(documents, cfg.docs_as_message) + messages
            del body["documents"]
        if existing_turn is not None:
            messages.append(existing_turn)
        elif cfg.instruction is not None:
            messages.append({"role": "user", "content": self._render(kwargs, message_text(messages[-1]))})
        body["messages"] = messages

        parameters, extra_parameters = self.parameters, self.extra_parameters
        if self._copy_parameters:
            parameters, extra_parameters = copy.deepcopy((parameters, extra_parameters))
        body.update(parameters)
        if self.model is not None:
            body["model"] = self.model
        if self.temperature is not None:
            body["temperature"] = self.temperature
        if self.needs_logprobs:
            body["logprobs"] = True
            body["top_logprobs"] = TOP_LOGPROBS
        body.update(extra_parameters)
        if self._schema is not None:
            body["structured_outputs"] = {"json": orjson.loads(self._schema)}
        return body

    def _existing_instruction_turn(self, messages: list, kwargs: dict) -> dict | None:
        """``messages[-1]`` if it already is the instruction turn, else ``None``.

        Also checks that every argument the instruction needs was given.
        """
        missing = self.config.instruction_fields - set(kwargs) - {"last_message"}
        if missing:
            raise RequestError(f"the instruction needs argument(s) {', '.join(sorted(missing))}", "instruction_kwargs")
        last = messages[-1]
        if len(messages) >= 2 and last.get("role") == "user":
            expected = self._render(kwargs, message_text(messages[-2]))
            if message_text(last).strip() == expected.strip():
                return last
        return None

    def _render(self, kwargs: dict, last_message: str) -> str:
        try:
            return self.config.instruction.format(**{**kwargs, "last_message": last_message})
        except (KeyError, IndexError, AttributeError, ValueError) as e:
            raise RequestError(f"cannot fill in the instruction: {e!r}", "instruction_kwargs") from e


def _mark_boundaries(boundaries: dict, messages: list, documents: list | None) -> list | None:
    """Tag sentences in place in ``messages`` (a copy owned by the rewrite); return the
    tagged documents.

    The last message is numbered on its own from 0; the documents, then every earlier
    turn (``all_but_last_message``), share one numbering, as in mellea's formatter.
    """
    if "last_message" in boundaries:
        tagged, _ = mark_sentences([message_text(messages[-1])], boundaries["last_message"])
        messages[-1] = {**messages[-1], "content": tagged[0]}
    number = 0
    if "documents" in boundaries and documents:
        texts, number = mark_sentences([d["text"] for d in documents], boundaries["documents"])
        documents = [{**d, "text": t} for d, t in zip(documents, texts)]
    if "all_but_last_message" in boundaries:
        earlier = messages[:-1]
        texts, _ = mark_sentences([message_text(m) for m in earlier], boundaries["all_but_last_message"], number)
        messages[:-1] = [{**m, "content": t} for m, t in zip(earlier, texts)]
    return documents


def _checked_messages(messages: Any) -> list:
    if not isinstance(messages, list) or not messages:
        raise RequestError("must be a non-empty list", "messages")
    for i, m in enumerate(messages):
        if not isinstance(m, dict) or not isinstance(m.get("role"), str):
            raise RequestError(f"message {i} must be an object with a 'role'", "messages")
        message_text(m)  # rejects content of the wrong type
    return list(messages)


def _checked_documents(documents: Any) -> list | None:
    if documents is None:
        return None
    if not isinstance(documents, list):
        raise RequestError("must be a list", "documents")
    for i, d in enumerate(documents):
        if not isinstance(d, dict) or not isinstance(d.get("text"), str):
            raise RequestError(f"document {i} must be an object with a 'text' string", "documents")
    return documents


def _document_record(doc: dict) -> dict:
    """A document in the reference's field order: text, title, doc_id, then the rest."""
    ordered = {k: doc[k] for k in ("text", "title", "doc_id") if k in doc}
    ordered.update((k, v) for k, v in doc.items() if k not in ordered)
    return ordered


def _documents_as_messages(documents: list, how: str) -> list[dict]:
    if how == "roles":
        return [{"role": f"document {d.get('doc_id')}", "content": d["text"]} for d in documents]
    if how == "json":
        text = json.dumps([_document_record(d) for d in documents])
    else:  # "string"
        text = "You have access to the following documents:\n\n" + "\n\n".join(
            f"[Document {d.get('doc_id')}]\n{d['text']}" for d in documents
        )
    return [{"role": "user", "content": text}]
