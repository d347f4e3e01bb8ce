"""Turning one choice of the adapter's response into the intrinsic's result.

Per choice: take ``message.content`` (or, for Harmony-format models with
``logprobs_workaround``, the text of the final channel's tokens), parse it as JSON,
validate it against the io.yaml ``response_format``, then run the transformation rules.
Every way this can fail raises a typed :class:`~intrinsics.errors.OutputError` carrying
the raw text.
"""

from __future__ import annotations

import json
import logging
from typing import Any

import jsonschema

from .errors import (
    MissingFieldError,
    MissingLogprobsError,
    NotJSONError,
    OutputError,
    RequestError,
    SchemaViolationError,
    TruncatedOutputError,
)
from .jsonpos import scalar_offsets
from .sentences import unmark_sentences

__all__ = ["ChoiceProcessor", "message_text"]

_logger = logging.getLogger(__name__)

# Short outputs repeat (an uncertainty adapter has ten valid ones): remember which raw
# texts already passed schema validation, and where their scalars are, instead of
# re-validating.  Bounded; cleared when full.
_KNOWN_LIMIT = 4096
_KNOWN_MAX_LENGTH = 512

_HARMONY_CHANNEL = "<|channel|>"
_HARMONY_MESSAGE = "<|message|>"
_HARMONY_END = frozenset({"<|end|>", "<|return|>", "<|end_of_text|>"})


def message_text(message: dict) -> str:
    """The text of a chat message: its string content, or its text parts joined."""
    content = message.get("content")
    if content is None:
        return ""
    if isinstance(content, str):
        return content
    if isinstance(content, list):
        return "".join(p.get("text", "") for p in content if isinstance(p, dict) and p.get("type") == "text")
    raise RequestError(f"message content must be a string or a list of parts, not {type(content).__name__}")


def harmony_final_channel(logprobs: dict) -> tuple[str, dict] | None:
    """Text and logprobs of the last ``<|channel|> final <|message|>`` section.

    Matching is on whole tokens, so the special token ``<|channel|>`` is never confused
    with ordinary tokens that spell the same characters.  ``None`` if there is none.
    """
    entries = logprobs.get("content")
    if not entries:
        return None
    tokens = [e.get("token") if isinstance(e, dict) and isinstance(e.get("token"), str) else "" for e in entries]
    n = len(tokens)
    header_end = None
    i = 0
    while i < n:
        if tokens[i] == _HARMONY_CHANNEL:
            j = i + 1
            while j < n and tokens[j].strip() == "":
                j += 1
            if j < n and tokens[j].strip() == "final":
                j += 1
                while j < n and tokens[j].strip() == "":
                    j += 1
                if j < n and tokens[j] == _HARMONY_MESSAGE:
                    header_end = j
                    i = j + 1
                    continue
        i += 1
    if header_end is None or header_end + 1 >= n:
        return None
    start = header_end + 1
    stop = next((k for k in range(start, n) if tokens[k] in _HARMONY_END), n)
    if stop == start:
        return None
    return "".join(tokens[start:stop]), {**logprobs, "content": entries[start:stop]}


class _Context:
    """What the rules may need about one choice, each piece computed at most once."""

    __slots__ = ("raw", "logprobs", "request", "processor", "shared", "known", "_starts", "_entries")

    def __init__(
        self,
        raw: str,
        logprobs: Any,
        request: dict | None,
        processor: ChoiceProcessor,
        shared: dict,
        known: list | None,
    ):
        self.raw = raw
        self.logprobs = logprobs
        self.request = request
        self.processor = processor
        self.shared = shared  # per-response cache: every choice shares the request
        self.known = known if known is not None else [None]  # [scalar offsets of raw]
        self._starts = None
        self._entries = None

    def offsets(self) -> dict:
        found = self.known[0]
        if found is None:
            found = self.known[0] = scalar_offsets(self.raw)
        return found

    def token_entries(self) -> list:
        if self._entries is None:
            if not isinstance(self.logprobs, dict):
                raise MissingLogprobsError("a likelihood rule needs logprobs and the response has none")
            entries = self.logprobs.get("content")
            if not isinstance(entries, list) or not entries:
                raise MissingLogprobsError("a likelihood rule needs logprobs and the response's are empty")
            self._entries = entries
        return self._entries

    def token_starts(self) -> dict[int, int]:
        """Character offset at which each token starts -> its index."""
        if self._starts is None:
            starts = {}
            offset = 0
            for i, entry in enumerate(self.token_entries()):
                token = entry.get("token") if isinstance(entry, dict) else None
                if not isinstance(token, str):
                    raise MissingLogprobsError(f"logprobs entry {i} has no token text")
                starts.setdefault(offset, i)
                offset += len(token)
            self._starts = starts
        return self._starts

    def sentences(self, sources: tuple[str, ...]) -> list[dict]:
        found = self.shared.get(sources)
        if found is None:
            found = self.shared[sources] = self.processor.sentences(self.request, sources)
        return found


class ChoiceProcessor:
    """Parses, validates and transforms choices for one intrinsic configuration."""

    def __init__(self, config, rules: tuple):
        self.config = config
        self.rules = rules
        schema = config.response_format
        self.validator = None if schema is None else jsonschema.validators.validator_for(schema)(schema)
        self._valid = None if self.validator is None else self.validator.is_valid
        self._known: dict[str, list] = {}

    def process_choice(self, choice: dict, request: dict | None, shared: dict | None = None) -> Any:
        """Return the transformed result of one choice; see :mod:`intrinsics.process`.

        :param shared: a dict reused across the choices of one response, so that what
            depends only on the request (decoded sentences) is computed once
        """
        if not isinstance(choice, dict):
            raise OutputError("a choice is not a JSON object")
        message = choice.get("message")
        content = message.get("content") if isinstance(message, dict) else None
        logprobs = choice.get("logprobs")
        truncated = choice.get("finish_reason") == "length"

        if self.config.logprobs_workaround and isinstance(logprobs, dict):
            derived = harmony_final_channel(logprobs)
            if derived is not None:
                if derived[0] != content:
                    _logger.warning(
                        "logprobs_workaround: using the final channel's tokens %r, not content %r", derived[0], content
                    )
                content, logprobs = derived

        if not isinstance(content, str):
            error = TruncatedOutputError if truncated else NotJSONError
            raise error("the choice has no text content", raw=None)
        try:
            doc = json.loads(content)
        except ValueError as e:
            if truncated:
                raise TruncatedOutputError(
                    "generation hit the token limit before the JSON was complete", raw=content
                ) from e
            raise NotJSONError(f"not JSON: {e}", raw=content) from e

        known = self._known.get(content)
        if known is None:
            if self._valid is not None and not self._valid(doc):
                error = self._schema_error(doc, content, truncated)
                if error is not None:
                    raise error
            if len(content) <= _KNOWN_MAX_LENGTH:
                if len(self._known) >= _KNOWN_LIMIT:
                    self._known.clear()
                known = self._known[content] = [None]

        ctx = _Context(content, logprobs, request, self, {} if shared is None else shared, known)
        try:
            for rule in self.rules:
                doc = rule.apply(doc, ctx)
        except OutputError as e:
            raise e.with_raw(content) from None
        return doc

    def _schema_error(self, doc: Any, content: str, truncated: bool) -> OutputError | None:
        """The error to raise for an output the schema rejected, worded by jsonschema."""
        error = jsonschema.exceptions.best_match(self.validator.iter_errors(doc))
        if error is None:  # pragma: no cover - is_valid and iter_errors agree
            return None
        where = "/".join(str(p) for p in error.absolute_path)
        what = f"violates the response schema{' at ' + where if where else ''}: {error.message}"
        if truncated:
            return TruncatedOutputError(f"generation hit the token limit; output {what}", raw=content)
        if error.validator == "required":
            return MissingFieldError(what, raw=content)
        return SchemaViolationError(what, raw=content)

    def sentences(self, request: dict | None, sources: tuple[str, ...]) -> list[dict]:
        """Sentences of the last message, the documents and/or the earlier turns in the
        rewritten request, numbered across ``sources`` in their order.

        Each is ``{"begin", "end", "text", "document_id", "message_index"}`` (the last two
        ``None`` where they do not apply).
        """
        if not isinstance(request, dict):
            raise RequestError("decoding sentence numbers needs the rewritten request; none was given")
        messages = request.get("messages")
        if not isinstance(messages, list) or not messages:
            raise RequestError("the rewritten request has no messages", "messages")
        result: list[dict] = []
        for source in sources:
            tag = self.config.sentence_boundaries[source]
            for text, document_id, message_index in self._tagged_texts(request, messages, source):
                found = _untag(text, tag, len(result), source, document_id, message_index)
                result.extend(
                    {"begin": b, "end": e, "text": t, "document_id": document_id, "message_index": message_index}
                    for b, e, t in found
                )
        return result

    def _tagged_texts(self, request: dict, messages: list, source: str) -> list[tuple[str, Any, int | None]]:
        """(text, document id, message index) of each tagged text of ``source``."""
        # The rewrite appended an instruction turn after the tagged last message.
        last = -2 if self.config.instruction is not None else -1
        if source == "documents":
            return [(text, doc_id, None) for doc_id, text in self._documents(request, messages)]
        if len(messages) < -last:
            raise RequestError("the rewritten request lacks the tagged last message", "messages")
        if source == "last_message":
            return [(message_text(messages[last]), None, None)]
        return [(message_text(m), None, i) for i, m in enumerate(messages[:last])]

    def _documents(self, request: dict, messages: list) -> list[tuple[Any, str]]:
        how = self.config.docs_as_message
        if how == "json":
            try:
                docs = json.loads(message_text(messages[0]))
            except ValueError as e:
                raise RequestError("the first message does not hold the documents as JSON", "messages") from e
        elif how == "roles":
            docs = [
                {"doc_id": m["role"][len("document ") :], "text": message_text(m)}
                for m in messages
                if isinstance(m.get("role"), str) and m["role"].startswith("document ")
            ]
        else:
            docs = request.get("documents")
            if docs is None and isinstance(request.get("extra_body"), dict):
                docs = request["extra_body"].get("documents")
        if not isinstance(docs, list):
            docs = []
        out = []
        for d in docs:
            if not isinstance(d, dict) or not isinstance(d.get("text"), str):
                raise RequestError("each document must be an object with a 'text' string", "documents")
            out.append((d.get("doc_id"), d["text"]))
        return out


def _untag(
    text: str, tag: str, first: int, source: str, document_id: Any, message_index: int | None
) -> list[tuple[int, int, str]]:
    """The sentences of one tagged text, the first numbered ``first``; none for an empty text."""
    found = unmark_sentences(text, tag, first)
    if found is not None:
        return found
    if not text.strip():
        return []
    if source == "documents":
        raise RequestError(f"document {document_id} has no sentence marker <{tag}{first}>", "documents")
    if source == "last_message":
        raise RequestError(f"the tagged message has no sentence marker <{tag}{first}>", "messages")
    raise RequestError(f"message {message_index} has no sentence marker <{tag}{first}>", "messages")
