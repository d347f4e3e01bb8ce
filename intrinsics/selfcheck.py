"""A start-up check of one intrinsic: a sample output, made from its own ``response_format``,
must be valid against that schema and turn into a result through its transformations.

A file whose schema contradicts itself (an ``enum`` of integers under ``"type": "string"``) or
whose rules do not fit its schema (a ``likelihood`` rule on a field the schema does not have, a
category the schema cannot produce) then fails when it is loaded — before vLLM is started for
it — instead of on every request. The sample is tokenised one character per token, each with
itself as its only alternative, so rules that read logprobs find a token where every value
starts.
"""

from __future__ import annotations

import json
from typing import Any

import jsonschema

from .errors import ConfigError, OutputError

__all__ = ["sample_output", "self_check"]

#: Rules that need the conversation they answer (sentence tags from the rewrite): not sampled.
_NEEDS_REQUEST = frozenset({"decode_sentences"})


def sample_output(schema: dict, depth: int = 0) -> Any:
    """The simplest instance of a JSON Schema: first ``enum``/``const`` value, required keys
    only, ``minItems`` items, minimum numbers, strings of ``minLength``."""
    if depth > 32:
        return None
    if "const" in schema:
        return schema["const"]
    if schema.get("enum"):
        return schema["enum"][0]
    for combinator in ("anyOf", "oneOf", "allOf"):
        if schema.get(combinator):
            return sample_output(schema[combinator][0], depth + 1)
    kind = schema.get("type")
    kind = kind[0] if isinstance(kind, list) and kind else kind
    if kind == "object" or (kind is None and "properties" in schema):
        props = schema.get("properties") or {}
        return {k: sample_output(props.get(k) or {}, depth + 1) for k in schema.get("required") or []}
    if kind == "array":
        item = schema.get("items") if isinstance(schema.get("items"), dict) else {}
        return [sample_output(item, depth + 1) for _ in range(int(schema.get("minItems") or 0))]
    if kind in ("integer", "number"):
        return schema.get("minimum", 0)
    if kind == "boolean":
        return True
    if kind == "null":
        return None
    return "x" * int(schema.get("minLength") or 0)


def self_check(intrinsic, file: str | None) -> None:
    """Raise ``ConfigError`` if ``intrinsic`` cannot turn its own schema's sample into a result."""
    config = intrinsic.config
    schema = config.response_format
    if schema is None or any(rule["type"] in _NEEDS_REQUEST for rule in config.transformations):
        return
    sample = sample_output(schema)
    try:
        jsonschema.validate(sample, schema)
    except jsonschema.ValidationError as exc:
        raise ConfigError(file, "response_format", f"its own simplest output is invalid: {exc.message}") from None
    text = json.dumps(sample)
    tokens = [{"token": ch, "logprob": 0.0, "top_logprobs": [{"token": ch, "logprob": 0.0}]} for ch in text]
    choice = {
        "index": 0,
        "message": {"role": "assistant", "content": text},
        "finish_reason": "stop",
        "logprobs": {"content": tokens},
    }
    try:
        intrinsic.process_choice(choice)
    except OutputError as exc:
        raise ConfigError(file, "transformations", f"they fail on the output {text}: {exc}") from None
