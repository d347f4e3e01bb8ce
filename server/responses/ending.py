"""The end of a Responses API stream, which has no ``[DONE]`` (relayed as it is, or with certainty).

vLLM writes a Responses stream as named events (``event: response.output_text.delta``...) that
end with a terminal one (``response.completed``, ``response.incomplete``, ``response.failed`` or
``error``). A stream that breaks, or stops before a terminal event, gets one more: an ``error``
event in the Responses shape (``type``, ``code``, ``message``, ``param``) that also carries the
OpenAI error object under ``error``, which is what makes the OpenAI SDK raise it. The pass-through
relay is byte for byte; only the event names are looked at, on each chunk and a short carry-over.
"""

from __future__ import annotations

import re

import orjson

from ..errors import error_body
from ..passthrough import DoneEnding

#: The events that end a Responses stream.
TERMINAL = frozenset({b"response.completed", b"response.incomplete", b"response.failed", b"error"})
EVENT_NAME = re.compile(rb"(?:^|\n)event: ?([^\r\n]*)\r?\n")
#: Bytes of one chunk kept to find an event line that the next chunk completes.
CARRY = 128


def lost_event(exc: BaseException | None) -> bytes:
    """The ``error`` event that ends a Responses stream whose upstream broke (``exc``) or stopped short."""
    why = f"connection lost mid-stream: {type(exc).__name__}" if exc else "stream ended without a final event"
    body = error_body(f"vLLM {why}", "upstream_error", code="upstream_unavailable")
    data = {"type": "error", "code": "upstream_unavailable", "message": body["error"]["message"], "param": None}
    return b"event: error\ndata: " + orjson.dumps({**data, **body}) + b"\n\n"


class ResponsesEnding(DoneEnding):
    """How a Responses stream ends: with a terminal event, found by its name in each chunk (and a
    short carry-over, for a name split between chunks)."""

    def __init__(self) -> None:
        self.last: bytes | None = None
        self.carry = b""

    def see(self, chunk: bytes) -> None:
        """Take in one relayed chunk."""
        window = self.carry + chunk
        names = EVENT_NAME.findall(window)
        self.last = names[-1].strip() if names else self.last
        self.carry = window[-CARRY:]

    def ended(self) -> bool:
        """Whether the stream relayed so far has reached its terminal event."""
        return self.last in TERMINAL

    def lost(self, exc: BaseException | None) -> list[bytes]:
        """The ``error`` event that ends a stream whose upstream broke (``exc``) or stopped short."""
        return [lost_event(exc)]
