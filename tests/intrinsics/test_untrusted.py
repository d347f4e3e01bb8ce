"""An io.yaml is untrusted input: no YAML aliases, no remote or recursive schema references,
no exponential-time patterns, and a file whose own sample output fails is refused at load."""

from __future__ import annotations

import json
import re
import time

import pytest
import yaml

import intrinsics
from intrinsics import ConfigError
from intrinsics.selfcheck import sample_output
from intrinsics.untrusted import check_schema

from .helpers import UNCERTAINTY_YAML

GOOD = yaml.safe_load(UNCERTAINTY_YAML.read_text())


def with_schema(schema: dict) -> dict:
    return {**GOOD, "response_format": json.dumps(schema)}


def load_text(tmp_path, text: str):
    path = tmp_path / "io.yaml"
    path.write_text(text)
    return intrinsics.load(path)


def test_yaml_aliases_are_refused_before_they_expand(tmp_path):
    # Each level multiplies the one before: a few hundred bytes that would expand to megabytes.
    levels = ["a0: &a0 [x, x, x, x, x, x, x, x, x, x]"]
    levels += [f"a{i}: &a{i} [{', '.join([f'*a{i - 1}'] * 10)}]" for i in range(1, 7)]
    text = UNCERTAINTY_YAML.read_text() + "\n".join(f"# {line}" for line in levels) + "\nextra_body_bomb:\n"
    text += "\n".join(f"  {line}" for line in levels) + "\n"
    with pytest.raises(ConfigError, match="aliases"):
        load_text(tmp_path, text)


def test_an_anchor_without_aliases_is_fine(tmp_path):
    text = UNCERTAINTY_YAML.read_text().replace("parameters:", "parameters: &params", 1)
    assert load_text(tmp_path, text).name == "uncertainty"


@pytest.mark.parametrize(
    "schema, fragment",
    [
        ({"$ref": "#"}, "recursive"),
        ({"$defs": {"n": {"type": "array", "items": {"$ref": "#/$defs/n"}}}, "$ref": "#/$defs/n"}, "recursive"),
        ({"$defs": {"a": {"$ref": "#/$defs/b"}, "b": {"$ref": "#/$defs/a"}}, "$ref": "#/$defs/a"}, "recursive"),
        ({"$ref": "https://example.com/schema.json"}, "within the schema"),
        ({"$ref": "#/$defs/missing"}, "points at nothing"),
        ({"type": "string", "pattern": "^(a+)+$"}, "exponential"),
        ({"type": "string", "pattern": "^(a|aa)*(b*)*$"}, "exponential"),
        ({"type": "object", "patternProperties": {"(x+x+)+y": {}}}, "exponential"),
        ({"type": "string", "pattern": "(unclosed"}, "regex|does not compile"),
        ({"type": "string", "pattern": "a" * 501}, "longer than"),
    ],
)
def test_unsafe_response_formats_are_refused_naming_the_key(schema, fragment):
    with pytest.raises(ConfigError, match=fragment) as info:
        intrinsics.from_dict(with_schema(schema), name="x")
    assert info.value.key == "response_format"


@pytest.mark.parametrize(
    "schema",
    [
        {
            "$defs": {"d": {"type": "string", "enum": ["1"]}},
            "type": "object",
            "properties": {"s": {"$ref": "#/$defs/d"}},
        },
        {"type": "string", "pattern": r"^(\d{2})+$"},
        {"type": "string", "pattern": r"^[a-z]+(-[a-z]+)?$"},
    ],
)
def test_safe_references_and_patterns_pass(schema):
    check_schema(schema, None)


def test_the_refused_pattern_is_one_that_really_backtracks():
    # The shape refused above is the one that makes Python's re take exponential time.
    start = time.perf_counter()
    re.match(r"^(a+)+$", "a" * 22 + "!")
    assert time.perf_counter() - start > 0.05


def test_a_schema_that_contradicts_itself_fails_at_load():
    bad = {"type": "object", "properties": {"score": {"type": "string", "enum": [1, 2]}}, "required": ["score"]}
    with pytest.raises(ConfigError, match="simplest output is invalid"):
        intrinsics.from_dict(with_schema(bad), name="x")


def test_rules_that_do_not_fit_the_schema_fail_at_load():
    data = {**GOOD, "transformations": [{**GOOD["transformations"][0], "input_path": ["confidence"]}]}
    data["response_format"] = json.dumps(
        {
            "type": "object",
            "properties": {"confidence": {"type": "string", "enum": ["high", "low"]}},
            "required": ["confidence"],
        }
    )
    with pytest.raises(ConfigError, match="transformations") as info:
        intrinsics.from_dict(data, name="x")
    assert "high" in str(info.value)


def test_the_sample_is_the_simplest_instance():
    schema = json.loads(GOOD["response_format"])
    assert sample_output(schema) == {"score": "0"}
    assert sample_output({"type": "array", "items": {"type": "integer", "minimum": 3}, "minItems": 2}) == [3, 3]
