"""Exceptions raised by the intrinsics library.

One hierarchy; catch the base class to handle everything::

    IntrinsicError                  anything this library raises on purpose
    ├── ConfigError                 an io.yaml is unusable (file, key, what)
    ├── RequestError                a client request cannot be rewritten (what, field)
    └── OutputError                 the adapter's output cannot be turned into a result
        │                           (raw text, choice index)
        ├── NotJSONError            the output is not JSON
        ├── TruncatedOutputError    finish_reason "length" and the output is incomplete
        ├── SchemaViolationError    the output violates the io.yaml response_format
        │   └── MissingFieldError   a field the schema or a rule requires is absent
        ├── MissingLogprobsError    a likelihood rule needs logprobs that are not there
        ├── TokenNotFoundError      no token starts where the scored value starts
        ├── NoCategoryMatchedError  neither the value nor its alternatives is a category
        └── TransformError          the output does not fit a transformation rule

Where IBM's reference (granite-common 0.4.1) returns 0.0, ``None`` or crashes with a
bare ``KeyError``, this library raises one of the ``OutputError`` classes instead, so a
server can answer "the adapter produced garbage" rather than a made-up number.  A
server maps ``OutputError`` to HTTP 502, ``RequestError`` to 400 and ``ConfigError``
to a start-up failure.
"""

from __future__ import annotations

__all__ = [
    "IntrinsicError",
    "ConfigError",
    "RequestError",
    "OutputError",
    "NotJSONError",
    "TruncatedOutputError",
    "SchemaViolationError",
    "MissingFieldError",
    "MissingLogprobsError",
    "TokenNotFoundError",
    "NoCategoryMatchedError",
    "TransformError",
]

# Raw outputs can be long (citations); messages quote a bounded prefix, the full
# text stays available on the exception's ``raw`` attribute.
_RAW_QUOTE_LIMIT = 200


class IntrinsicError(Exception):
    """Base class of every error this library raises deliberately."""


class ConfigError(IntrinsicError):
    """An io.yaml file (or config dict) is unusable.

    :ivar file: path of the offending file, or ``None`` for an in-memory config
    :ivar key: dotted location of the offending key (``"transformations[0].type"``),
        or ``None`` when the whole file is at fault
    :ivar what: what is wrong, in words
    """

    def __init__(self, file: str | None, key: str | None, what: str):
        self.file = file
        self.key = key
        self.what = what
        where = file if file is not None else "<config>"
        if key:
            where = f"{where}: key '{key}'"
        super().__init__(f"{where}: {what}")


class RequestError(IntrinsicError):
    """A chat completion request cannot be rewritten for the intrinsic.

    :ivar what: what is wrong, in words
    :ivar field: the request field at fault (``"messages"``), if one is
    """

    def __init__(self, what: str, field: str | None = None):
        self.what = what
        self.field = field
        super().__init__(f"{field}: {what}" if field else what)


class OutputError(IntrinsicError):
    """The adapter's output cannot be turned into a result.

    :ivar raw: the raw text the adapter produced (``message.content``), or ``None``
    :ivar choice_index: index of the offending choice in the response, if known
    :ivar what: what is wrong, in words
    """

    def __init__(self, what: str, *, raw: str | None = None, choice_index: int | None = None):
        self.what = what
        self.raw = raw
        self.choice_index = choice_index
        super().__init__(self._render())

    def _render(self) -> str:
        parts = []
        if self.choice_index is not None:
            parts.append(f"choice {self.choice_index}")
        parts.append(self.what)
        message = ": ".join(parts)
        if self.raw is not None:
            quoted = self.raw if len(self.raw) <= _RAW_QUOTE_LIMIT else self.raw[:_RAW_QUOTE_LIMIT] + "..."
            message += f" (raw output: {quoted!r})"
        return message

    def at_choice(self, index: int) -> OutputError:
        """Return this error with ``choice_index`` set, for re-raising from a loop."""
        self.choice_index = index
        self.args = (self._render(),)
        return self

    def with_raw(self, raw: str) -> OutputError:
        """Return this error with ``raw`` set, unless it already carries a raw text."""
        if self.raw is None:
            self.raw = raw
            self.args = (self._render(),)
        return self


class NotJSONError(OutputError):
    """The output is not valid JSON."""


class TruncatedOutputError(OutputError):
    """Generation stopped at the token limit before the output was complete.

    Raised only when ``finish_reason`` is ``"length"`` *and* the output is not a
    complete, schema-valid JSON value: a value that fills the budget exactly is fine.
    """


class SchemaViolationError(OutputError):
    """The output is JSON but violates the io.yaml ``response_format`` schema."""


class MissingFieldError(SchemaViolationError):
    """A field that the schema or a transformation rule requires is absent."""


class MissingLogprobsError(OutputError):
    """A ``likelihood`` rule needs logprobs (with top_logprobs) and they are missing."""


class TokenNotFoundError(OutputError):
    """No logprobs token starts where the scored value starts in the output."""


class NoCategoryMatchedError(OutputError):
    """Neither the chosen value nor any top-logprob alternative maps to a category."""


class TransformError(OutputError):
    """The output's shape does not fit a transformation rule (wrong type, bad index)."""
