"""A fast yes/no check of adapter output against its ``response_format`` schema.

``jsonschema`` validates ``{"score": "4"}`` in about 10 microseconds, more than the rest
of result processing together.  The schemas intrinsics publish use a small part of JSON
Schema (types, enums, properties, required, items, bounds, local ``$ref``), so this module
compiles such a schema once into plain Python predicates.  Anything outside that subset
makes :func:`compile_check` return ``None`` and the caller uses ``jsonschema`` for
everything.  Error messages always come from ``jsonschema``: this check only answers
"valid or not", and it is tested to answer exactly as ``jsonschema`` does.
"""

from __future__ import annotations

from typing import Any, Callable

import jsonschema

__all__ = ["compile_check"]

Check = Callable[[Any], bool]

# Keywords that never affect validity (jsonschema does not assert "format" by default).
_ANNOTATIONS = frozenset({
    "$schema", "$id", "$comment", "$defs", "definitions", "title", "description", "default", "examples",
    "deprecated", "readOnly", "writeOnly", "format", "contentMediaType", "contentEncoding",
})
_TYPES: dict[str, Check] = {
    "object": lambda x: isinstance(x, dict),
    "array": lambda x: isinstance(x, list),
    "string": lambda x: isinstance(x, str),
    "boolean": lambda x: isinstance(x, bool),
    "null": lambda x: x is None,
    "number": lambda x: isinstance(x, (int, float)) and not isinstance(x, bool),
    # Draft 6 and later: 1.0 is an integer.
    "integer": lambda x: (isinstance(x, int) and not isinstance(x, bool))
    or (isinstance(x, float) and x.is_integer()),
}
_DRAFTS = (jsonschema.Draft202012Validator, jsonschema.Draft201909Validator)


class _Unsupported(Exception):
    """The schema uses something this compiler does not handle; use jsonschema."""


def compile_check(schema: dict) -> Check | None:
    """A predicate equivalent to ``jsonschema`` validity for ``schema``, or ``None``."""
    if jsonschema.validators.validator_for(schema, default=jsonschema.Draft202012Validator) not in _DRAFTS:
        return None
    try:
        return _Compiler(schema).compile(schema)
    except _Unsupported:
        return None


def _json_equal(a: Any, b: Any) -> bool:
    """JSON equality as jsonschema's enum/const see it: ``True`` is not ``1``."""
    if isinstance(a, bool) or isinstance(b, bool):
        return isinstance(a, bool) and isinstance(b, bool) and a == b
    if isinstance(a, list) and isinstance(b, list):
        return len(a) == len(b) and all(_json_equal(x, y) for x, y in zip(a, b))
    if isinstance(a, dict) and isinstance(b, dict):
        return a.keys() == b.keys() and all(_json_equal(a[k], b[k]) for k in a)
    if isinstance(a, (list, dict)) or isinstance(b, (list, dict)):
        return False
    return a == b


def _is_number(x: Any) -> bool:
    return isinstance(x, (int, float)) and not isinstance(x, bool)


class _Compiler:
    def __init__(self, root: dict):
        self.root = root
        self.refs: dict[str, list] = {}

    def compile(self, node: Any) -> Check:
        if node is True or node == {}:
            return lambda x: True
        if node is False:
            return lambda x: False
        if not isinstance(node, dict):
            raise _Unsupported(node)
        checks = [self._keyword(key, value, node) for key, value in node.items() if key not in _ANNOTATIONS]
        checks = [c for c in checks if c is not None]
        if not checks:
            return lambda x: True
        if len(checks) == 1:
            return checks[0]
        return lambda x: all(check(x) for check in checks)

    def _keyword(self, key: str, value: Any, node: dict) -> Check | None:
        if key == "type":
            names = [value] if isinstance(value, str) else value
            if not isinstance(names, list) or any(n not in _TYPES for n in names):
                raise _Unsupported(key)
            preds = [_TYPES[n] for n in names]
            return preds[0] if len(preds) == 1 else (lambda x: any(p(x) for p in preds))
        if key == "enum":
            if not isinstance(value, list):
                raise _Unsupported(key)
            if all(isinstance(v, str) for v in value):
                allowed = frozenset(value)
                return lambda x: isinstance(x, str) and x in allowed
            return lambda x: any(_json_equal(x, v) for v in value)
        if key == "const":
            return lambda x: _json_equal(x, value)
        if key == "properties":
            subs = [(name, self.compile(sub)) for name, sub in value.items()]
            return lambda x: not isinstance(x, dict) or all(n not in x or c(x[n]) for n, c in subs)
        if key == "required":
            names = tuple(value)
            return lambda x: not isinstance(x, dict) or all(n in x for n in names)
        if key == "additionalProperties":
            if "patternProperties" in node:
                raise _Unsupported(key)
            known = frozenset(node.get("properties", ()))
            if value is False:
                return lambda x: not isinstance(x, dict) or all(k in known for k in x)
            sub = self.compile(value)
            return lambda x: not isinstance(x, dict) or all(k in known or sub(v) for k, v in x.items())
        if key == "items":
            if "prefixItems" in node or not isinstance(value, (dict, bool)):
                raise _Unsupported(key)
            sub = self.compile(value)
            return lambda x: not isinstance(x, list) or all(sub(i) for i in x)
        if key in ("minItems", "maxItems", "minLength", "maxLength", "minProperties", "maxProperties"):
            kind = {"I": list, "L": str, "P": dict}[key[3]]
            if key.startswith("min"):
                return lambda x: not isinstance(x, kind) or len(x) >= value
            return lambda x: not isinstance(x, kind) or len(x) <= value
        if key in ("minimum", "maximum", "exclusiveMinimum", "exclusiveMaximum"):
            if not _is_number(value):
                raise _Unsupported(key)
            compare = {
                "minimum": lambda x: x >= value, "maximum": lambda x: x <= value,
                "exclusiveMinimum": lambda x: x > value, "exclusiveMaximum": lambda x: x < value,
            }[key]
            return lambda x: not _is_number(x) or compare(x)
        if key == "$ref":
            return self._ref(value)
        raise _Unsupported(key)

    def _ref(self, ref: Any) -> Check:
        """A local ``#/$defs/name`` (or ``#/definitions/name``) reference, recursion allowed."""
        if not isinstance(ref, str):
            raise _Unsupported(ref)
        parts = ref.split("/")
        if len(parts) != 3 or parts[0] != "#" or parts[1] not in ("$defs", "definitions"):
            raise _Unsupported(ref)
        target = self.root.get(parts[1], {}).get(parts[2])
        if target is None:
            raise _Unsupported(ref)
        cell = self.refs.get(ref)
        if cell is None:
            cell = self.refs[ref] = [None]
            cell[0] = self.compile(target)
        return lambda x: cell[0](x)
