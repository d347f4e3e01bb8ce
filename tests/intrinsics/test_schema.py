"""The compiled schema check answers exactly as jsonschema does."""

from __future__ import annotations

import json
import random

import jsonschema
import pytest

import intrinsics
from intrinsics.schema import compile_check

from .helpers import CONFIGS, GRANITE_COMMON, UNCERTAINTY_YAML

INTRINSIC_SCHEMAS = {
    p.name: intrinsics.load(p).config.response_format
    for p in [UNCERTAINTY_YAML, *sorted(CONFIGS.glob("*.yaml")), *sorted(GRANITE_COMMON.glob("input_yaml/*.yaml"))]
    if intrinsics.load(p).config.response_format is not None
}
KEYWORD_SCHEMAS = {
    "types": {"type": ["integer", "null", "boolean"]},
    "number-bounds": {"type": "number", "minimum": 0, "exclusiveMaximum": 1},
    "int-bounds": {"type": "integer", "exclusiveMinimum": -1, "maximum": 3},
    "string-length": {"type": "string", "minLength": 1, "maxLength": 3},
    "mixed-enum": {"enum": [1, "1", True, None, [1, 2], {"a": 1}]},
    "const": {"const": 0},
    "object": {"type": "object", "properties": {"a": {"type": "integer"}, "b": {"enum": ["x", "y"]}},
               "required": ["a"], "additionalProperties": {"type": "string"}, "minProperties": 1,
               "maxProperties": 3},
    "array": {"type": "array", "items": {"type": "object", "required": ["r"], "additionalProperties": False,
                                         "properties": {"r": {"type": "integer", "minimum": 0}}},
              "minItems": 1, "maxItems": 3},
    "recursive": {"$defs": {"node": {"type": "object", "properties": {"kids": {"type": "array",
                                                                               "items": {"$ref": "#/$defs/node"}}}}},
                  "$ref": "#/$defs/node"},
    "ref-with-siblings": {"$defs": {"s": {"type": "string"}}, "$ref": "#/$defs/s", "maxLength": 2},
    "booleans": {"properties": {"yes": True, "no": False}},
}


def _mutations(rng, value):
    """Values near ``value``: the kind of wrong answers a model produces."""
    pool = [None, True, False, 0, 1, -1, 1.0, 2.5, "", "1", "x", "yes", [], {}, [1], {"a": 1}, {"r": 0}, {"r": -1}]
    if isinstance(value, dict):
        out = dict(value)
        key = rng.choice(list(out) + ["a", "b", "r", "extra", "no"])
        if rng.random() < 0.3 and key in out:
            del out[key]
        else:
            out[key] = rng.choice(pool) if rng.random() < 0.7 else _mutations(rng, out.get(key))
        return out
    if isinstance(value, list):
        out = list(value)
        if out and rng.random() < 0.5:
            i = rng.randrange(len(out))
            out[i] = _mutations(rng, out[i])
        elif rng.random() < 0.5:
            out.append(rng.choice(pool))
        elif out:
            out.pop()
        return out
    return rng.choice(pool + ["0", "9", "10", "answerable", "faithful", 4, 9, 10, 1e300, 0.5])


def _example(schema):
    """A value of the right type for a property schema (valid unless bounds say otherwise)."""
    if not isinstance(schema, dict):
        return None
    if "enum" in schema:
        return schema["enum"][0]
    return {"string": "s", "boolean": True, "integer": 0, "number": 0.5, "array": [], "object": {}}.get(
        schema.get("type"), None)


def _seeds(schema):
    """A few plausible instances for ``schema``."""
    seeds = [None, {}, [], "", 0]
    for value in schema.get("enum", []):
        seeds.append(value)
    props = schema.get("properties") or {}
    seeds.append({k: _example(v) for k, v in props.items()})
    seeds.append([{"r": 0, "c": [1, 2], "e": "why", "f": "faithful"}, {"r": 1, "c": []}])
    seeds.append({"kids": [{"kids": []}, {"kids": [{"kids": 3}]}]})
    return seeds


@pytest.mark.parametrize("name", sorted(INTRINSIC_SCHEMAS) + sorted(KEYWORD_SCHEMAS))
def test_compiled_check_agrees_with_jsonschema(name):
    schema = INTRINSIC_SCHEMAS.get(name) or KEYWORD_SCHEMAS[name]
    check = compile_check(schema)
    assert check is not None, "every intrinsic schema should take the fast path"
    validator = jsonschema.validators.validator_for(schema)(schema)
    rng = random.Random(name)
    seen = {True: 0, False: 0}
    for seed in _seeds(schema):
        value = seed
        for _ in range(150):
            expected = validator.is_valid(value)
            assert check(value) == expected, (json.dumps(value), expected)
            seen[expected] += 1
            value = _mutations(rng, seed if rng.random() < 0.5 else value)
    assert seen[True] and seen[False], seen


@pytest.mark.parametrize("schema", [
    {"anyOf": [{"type": "string"}, {"type": "null"}]},
    {"type": "string", "pattern": "^a"},
    {"type": "object", "patternProperties": {"^x": {}}, "additionalProperties": False},
    {"type": "array", "prefixItems": [{"type": "string"}]},
    {"$ref": "https://example.com/other.json"},
    {"$schema": "http://json-schema.org/draft-07/schema#", "type": "string"},
    {"type": "string", "x-vendor": 1},
])
def test_unsupported_schemas_fall_back_to_jsonschema(schema):
    assert compile_check(schema) is None
