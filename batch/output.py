"""The output file: OpenAI Batch output lines, appended and flushed one by one; what a rerun skips.

Each line is ``{"id", "custom_id", "response": {"status_code", "request_id", "body"} | null, "error"}``,
as the OpenAI Batch API writes its output and error files: an answer of the gateway (any status)
has ``response`` and ``error: null``; a line of the input that could not be sent has
``response: null`` and ``error: {"code": "invalid_line", "message": "line N: ...", "line": N}``.
"""

from __future__ import annotations

import math
import os
import uuid
from dataclasses import dataclass, field
from pathlib import Path

import httpx
import orjson

from evaluation.runner import EvalError, read_predictions

from .inputs import BadLine


class BatchError(Exception):
    """A run that cannot go on (unreadable files, a rejected key, an unreachable gateway); says why."""


def answer_line(custom_id: str, resp: httpx.Response) -> dict:
    """The output line of the gateway's answer to one request, whatever its status."""
    try:
        body = orjson.loads(resp.content)
    except orjson.JSONDecodeError:
        body = resp.text  # not JSON (a proxy's HTML page): kept as text rather than lost
    return {
        "id": new_id(),
        "custom_id": custom_id,
        "response": {"status_code": resp.status_code, "request_id": resp.headers.get("x-request-id"), "body": body},
        "error": None,
    }


def error_line(bad: BadLine) -> dict:
    """The output line of an input line that was not sent; ``error.line`` names it."""
    return {
        "id": new_id(),
        "custom_id": bad.custom_id,
        "response": None,
        "error": {"code": "invalid_line", "message": bad.message, "line": bad.line},
    }


def new_id() -> str:
    """An output line's own id, in OpenAI's ``batch_req_`` form."""
    return f"batch_req_{uuid.uuid4().hex}"


def certainties(record: dict) -> list[float]:
    """The certainties an output line carries: each choice's ``certainty`` (a base-model request with
    ``certainty``) or, for an intrinsic's answer, the ``certainty`` of its JSON content."""
    response = record.get("response") or {}
    body = response.get("body")
    if response.get("status_code") != 200 or not isinstance(body, dict) or not isinstance(body.get("choices"), list):
        return []
    found = []
    for choice in body["choices"]:
        if not isinstance(choice, dict):
            continue
        if "certainty" in choice:
            value = choice["certainty"]
        else:
            try:
                value = orjson.loads((choice.get("message") or {}).get("content") or "")["certainty"]
            except (orjson.JSONDecodeError, TypeError, KeyError):
                continue
        if isinstance(value, (int, float)) and not isinstance(value, bool) and math.isfinite(value):
            found.append(float(value))
    return found


def failed(record: dict) -> bool:
    """Whether an output line is a failure: an input line not sent, or an answer other than 200."""
    return record.get("error") is not None or (record.get("response") or {}).get("status_code") != 200


@dataclass
class Done:
    """What an earlier run wrote to the output: lines by custom_id, and bad lines by line number."""

    ids: dict[str, dict] = field(default_factory=dict)
    lines: dict[int, dict] = field(default_factory=dict)

    def get(self, custom_id: str | None, line: int | None = None) -> dict | None:
        """The line written for this custom_id (or, for a bad line, this line number), if any."""
        if custom_id is not None and custom_id in self.ids:
            return self.ids[custom_id]
        return self.lines.get(line) if line is not None else None


def read_done(path: Path) -> Done:
    """The lines already in the output file; a torn last line (an interrupted write) is dropped from it."""
    try:
        records = read_predictions(path)
    except (EvalError, OSError) as exc:
        raise BatchError(str(exc)) from None
    done = Done()
    for i, r in enumerate(records, start=1):
        if not isinstance(r, dict) or "custom_id" not in r:
            raise BatchError(f"{path}, line {i}: not a Batch output line; use another --out")
        if r["custom_id"] is not None:
            done.ids[str(r["custom_id"])] = r
        line = (r.get("error") or {}).get("line")
        if isinstance(line, int):
            done.lines[line] = r
    return done


class Writer:
    """Appends output lines, each flushed at once: an interrupted run loses only the requests in flight."""

    def __init__(self, path: Path):
        self.fh = open(path, "a+b")  # closed by close(), in the runner's finally
        if self.fh.seek(0, os.SEEK_END):
            self.fh.seek(-1, os.SEEK_END)
            if self.fh.read(1) != b"\n":
                self.fh.write(b"\n")  # a last line written whole but for its newline must not be joined

    def write(self, record: dict) -> None:
        """Append one line and flush it."""
        self.fh.write(orjson.dumps(record) + b"\n")
        self.fh.flush()

    def close(self) -> None:
        """Close the file."""
        self.fh.close()
