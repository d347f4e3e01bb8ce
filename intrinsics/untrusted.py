"""An io.yaml is input: checks that keep a hostile or careless file from costing the server.

An io.yaml may ship inside an adapter repository that nobody here wrote, so it is read as
untrusted data:

- YAML aliases are refused (``safe_yaml``): an anchor expanded by aliases, level upon level,
  turns a few hundred bytes into megabytes of request body on every call;
- ``response_format`` (a JSON Schema) may ``$ref`` only within itself and never in a cycle: a
  remote reference would be fetched, a recursive one nests without end (``check_schema``);
- its regular expressions (``pattern``, ``patternProperties``) must compile, stay short, and
  hold no repetition inside a repetition (``(a+)+``), the shape whose backtracking takes
  exponential time on a short non-matching string.

Each failure is a ``ConfigError`` naming the file and the key.
"""

from __future__ import annotations

import re
from re import _parser as sre_parse
from typing import Any

import yaml

from .errors import ConfigError

__all__ = ["safe_yaml", "check_schema"]

#: Longest regular expression an io.yaml may carry.
MAX_PATTERN_CHARS = 500
_REPEATS = tuple(
    op for op in (sre_parse.MAX_REPEAT, sre_parse.MIN_REPEAT, getattr(sre_parse, "POSSESSIVE_REPEAT", None)) if op
)


class _NoAliasLoader(yaml.SafeLoader):
    """``yaml.SafeLoader`` that refuses aliases (``*name``); anchors alone are harmless."""

    def compose_node(self, parent, index):
        if self.check_event(yaml.AliasEvent):
            mark = self.peek_event().start_mark
            raise yaml.composer.ComposerError(None, None, "aliases (*name) are not allowed in an io.yaml", mark)
        return super().compose_node(parent, index)


def safe_yaml(text: str) -> Any:
    """Parse YAML as ``yaml.safe_load`` does, but without aliases; raises ``yaml.YAMLError``."""
    return yaml.load(text, Loader=_NoAliasLoader)


def check_schema(schema: dict, file: str | None, key: str = "response_format") -> None:
    """Refuse a JSON Schema whose references leave it or recurse, or whose patterns are unsafe."""
    for pattern in _patterns(schema):
        _check_pattern(pattern, file, key)
    edges: dict[str, list[str]] = {}  # pointer of a referenced subschema -> the refs inside it
    state: dict[str, str] = {}

    def visit(pointer: str, depth: int) -> None:
        if state.get(pointer) == "open":
            raise ConfigError(file, key, f"$ref '#{pointer}' is recursive: the schema would nest without end")
        if state.get(pointer) == "done":
            return
        if depth > 64:
            raise ConfigError(file, key, "$ref chain deeper than 64")
        state[pointer] = "open"
        if pointer not in edges:
            edges[pointer] = _refs_in(_resolve(schema, pointer, file, key), file, key)
        for target in edges[pointer]:
            visit(target, depth + 1)
        state[pointer] = "done"

    for target in _refs_in(schema, file, key):
        visit(target, 0)


def _nodes(node: Any):
    """Every dict under ``node`` (iteratively: a deep document cannot exhaust the stack)."""
    stack = [node]
    while stack:
        item = stack.pop()
        if isinstance(item, dict):
            yield item
            stack.extend(item.values())
        elif isinstance(item, list):
            stack.extend(item)


def _patterns(schema: dict):
    for item in _nodes(schema):
        if isinstance(item.get("pattern"), str):
            yield item["pattern"]
        if isinstance(item.get("patternProperties"), dict):
            yield from item["patternProperties"]


def _refs_in(node: Any, file: str | None, key: str) -> list[str]:
    """The JSON pointers of the ``$ref``s under ``node``; any other kind of reference is refused."""
    found = []
    for item in _nodes(node):
        ref = item.get("$ref")
        if ref is None:
            continue
        if not isinstance(ref, str) or not ref.startswith("#"):
            raise ConfigError(file, key, f"$ref {ref!r}: only references within the schema ('#/...') are allowed")
        found.append(ref[1:])
    return found


def _resolve(schema: dict, pointer: str, file: str | None, key: str) -> Any:
    node: Any = schema
    for part in [p.replace("~1", "/").replace("~0", "~") for p in pointer.split("/")[1:]]:
        if isinstance(node, dict) and part in node:
            node = node[part]
        elif isinstance(node, list) and part.isdigit() and int(part) < len(node):
            node = node[int(part)]
        else:
            raise ConfigError(file, key, f"$ref '#{pointer}' points at nothing")
    return node


def _check_pattern(pattern: str, file: str | None, key: str) -> None:
    if len(pattern) > MAX_PATTERN_CHARS:
        raise ConfigError(file, key, f"pattern longer than {MAX_PATTERN_CHARS} characters")
    try:
        parsed = sre_parse.parse(pattern)
        re.compile(pattern)
    except re.error as exc:
        raise ConfigError(file, key, f"pattern {pattern!r} does not compile: {exc}") from None
    if _nested_repeat(parsed, inside=False):
        raise ConfigError(
            file, key, f"pattern {pattern!r} repeats a repetition, which can take exponential time to fail"
        )


def _nested_repeat(items, inside: bool) -> bool:
    """Whether a repetition of variable length sits inside a repetition of more than once
    (``(a+)+``, ``(a*b?)*``); fixed counts (``(\\d{2})+``) are safe and allowed."""
    for op, arg in items:
        if op in _REPEATS:
            low, high, sub = arg
            if inside and high != low:
                return True
            if _nested_repeat(sub, inside or high is sre_parse.MAXREPEAT or high > 1):
                return True
        elif op is sre_parse.SUBPATTERN:
            if _nested_repeat(arg[-1], inside):
                return True
        elif op is sre_parse.BRANCH:
            if any(_nested_repeat(branch, inside) for branch in arg[1]):
                return True
    return False
