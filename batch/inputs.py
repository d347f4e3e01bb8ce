"""Reading and checking the input file: one request per line, or one error naming the line.

Two kinds of line are accepted:

- plain: ``{"messages": [...], "documents": [...]?, "custom_id": "..."?}``, the conversation
  ending with the assistant answer to score; sent as ``{"model": <intrinsic>, "messages", "documents"}``
  and named ``line-<n>`` unless it gives its own ``custom_id``;
- OpenAI Batch API: ``{"custom_id", "method": "POST", "url": "/v1/chat/completions", "body": {...}}``;
  the body is sent as it is (an intrinsic's request, or a base-model request with ``certainty``).

A line that is neither, or that repeats a custom_id already seen in the file, becomes a ``BadLine``;
blank lines are ignored.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import orjson

URL = "/v1/chat/completions"
PLAIN_FIELDS = ("messages", "documents", "custom_id")
BATCH_FIELDS = ("custom_id", "method", "url", "body")


@dataclass(frozen=True)
class Request:
    """A good line: what to send, and under which custom_id its answer is written."""

    line: int
    custom_id: str
    body: dict


@dataclass(frozen=True)
class BadLine:
    """A line that cannot be sent; ``custom_id`` when the line names one that is its own, else None."""

    line: int
    custom_id: str | None
    message: str


class LineError(ValueError):
    """What is wrong with a line (the reader adds the line number)."""


def count_lines(path: Path) -> int:
    """The number of non-blank lines of ``path`` (the progress bar's total)."""
    with open(path, "rb") as fh:
        return sum(1 for raw in fh if raw.strip())


def read(path: Path, intrinsic: str) -> Iterator[Request | BadLine]:
    """Each non-blank line of ``path``, checked, in order; plain lines are addressed to ``intrinsic``.

    The first line with a custom_id keeps it (even a bad one); a later one with the same id is a ``BadLine``."""
    seen: dict[str, int] = {}
    with open(path, "rb") as fh:
        for n, raw in enumerate(fh, start=1):
            if not raw.strip():
                continue
            try:
                custom_id, body = parse(raw, n, intrinsic)
            except LineError as exc:
                # A bad line's error goes by its own id, unless that is taken: ids stay unique in the output.
                custom_id = own_id(raw, n)
                if custom_id in seen:
                    custom_id = None
                elif custom_id is not None:
                    seen[custom_id] = n
                yield BadLine(n, custom_id, f"line {n}: {exc}")
                continue
            if custom_id in seen:
                message = f"line {n}: duplicate custom_id {custom_id!r} (first on line {seen[custom_id]})"
                yield BadLine(n, None, message)
                continue
            seen[custom_id] = n
            yield Request(n, custom_id, body)


def parse(raw: bytes, n: int, intrinsic: str) -> tuple[str, dict]:
    """The custom_id and request body of one line; ``LineError`` says what is wrong with it."""
    try:
        doc = orjson.loads(raw)
    except orjson.JSONDecodeError as exc:
        raise LineError(f"not valid JSON ({exc})") from None
    if not isinstance(doc, dict):
        raise LineError(f"a line must be a JSON object, not {type(doc).__name__}")
    if any(k in doc for k in ("body", "method", "url")):
        return batch_line(doc)
    return plain_line(doc, n, intrinsic)


def batch_line(doc: dict) -> tuple[str, dict]:
    """An OpenAI Batch API line: its custom_id and its body, unchanged."""
    unknown = sorted(set(doc) - set(BATCH_FIELDS))
    if unknown:
        raise LineError(f"unknown field {unknown[0]!r} in a Batch API line (it has {', '.join(BATCH_FIELDS)})")
    custom_id = check_custom_id(doc.get("custom_id"), required=True)
    if doc.get("method") != "POST":
        raise LineError(f"'method' must be \"POST\", not {doc.get('method')!r}")
    if doc.get("url") != URL:
        raise LineError(f"'url' must be {URL!r} (the only endpoint scored), not {doc.get('url')!r}")
    body = doc.get("body")
    if not isinstance(body, dict):
        raise LineError(f"'body' must be a JSON object (the chat completion request), not {type(body).__name__}")
    return custom_id, body


def plain_line(doc: dict, n: int, intrinsic: str) -> tuple[str, dict]:
    """A plain line: its custom_id (``line-<n>`` unless given) and the intrinsic request built from it."""
    unknown = sorted(set(doc) - set(PLAIN_FIELDS))
    if unknown:
        raise LineError(
            f"unknown field {unknown[0]!r}: a plain line has {', '.join(PLAIN_FIELDS)}; "
            f"a Batch API line has {', '.join(BATCH_FIELDS)}"
        )
    custom_id = check_custom_id(doc.get("custom_id"), required=False) or f"line-{n}"
    messages = doc.get("messages")
    if not isinstance(messages, list) or not messages:
        raise LineError("'messages' must be a non-empty list (the conversation, ending with the answer to score)")
    if not all(isinstance(m, dict) for m in messages):
        raise LineError("every message must be a JSON object with 'role' and 'content'")
    if messages[-1].get("role") != "assistant":
        raise LineError(
            f"the last message must be the assistant answer to score, not a {messages[-1].get('role')!r} message"
        )
    body = {"model": intrinsic, "messages": messages}
    if "documents" in doc:
        if not isinstance(doc["documents"], list):
            raise LineError('\'documents\' must be a list of {"doc_id", "text"} objects')
        body["documents"] = doc["documents"]
    return custom_id, body


def check_custom_id(value: object, *, required: bool) -> str | None:
    """A custom_id must be a non-empty string (or absent, where that is allowed)."""
    if value is None and not required:
        return None
    if not isinstance(value, str) or not value:
        raise LineError(f"'custom_id' must be a non-empty string, not {value!r}")
    return value


def own_id(raw: bytes, n: int) -> str | None:
    """The custom_id a bad line goes by in the output: its own if it names a usable one, ``line-<n>``
    for a plain line, None when there is nothing to go by (not JSON, or a Batch line without one)."""
    try:
        doc = orjson.loads(raw)
    except orjson.JSONDecodeError:
        return None
    if not isinstance(doc, dict):
        return None
    value = doc.get("custom_id")
    if isinstance(value, str) and value:
        return value
    return None if any(k in doc for k in ("body", "method", "url")) else f"line-{n}"
