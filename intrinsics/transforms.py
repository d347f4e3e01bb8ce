"""Transformation rules applied to an adapter's parsed JSON output.

Each rule acts on the values at its ``input_path``: a list of object keys and array
indices of exactly the path's length, ``null`` matching any key or index, ``[]`` the
root.  Rules run in io.yaml order, each on the previous one's result.  Paths are matched
against the document as it is *before* the rule runs, in document order, as in
granite-common 0.4.1.  The document is freshly parsed and owned by the caller, so
rules change it in place instead of deep-copying it per rule as the reference does.
"""

from __future__ import annotations

import copy
import json
from typing import Any

from .config import sentence_sources
from .errors import MissingFieldError, TransformError
from .likelihood import Likelihood

__all__ = ["build_rules", "match_paths", "RULE_TYPES"]


def match_paths(doc: Any, pattern: tuple) -> list[tuple]:
    """Paths in ``doc`` that match ``pattern`` (``None`` is a wildcard), in document order."""
    if None not in pattern:
        # No wildcard: at most one path, found without recursion (the common case).
        node = doc
        for want in pattern:
            if isinstance(node, dict) and isinstance(want, str) and want in node:
                node = node[want]
            elif isinstance(node, list) and isinstance(want, int) and 0 <= want < len(node):
                node = node[want]
            else:
                return []
        return [pattern]
    found: list[tuple] = []
    depth_max = len(pattern)

    def walk(node: Any, depth: int, path: tuple) -> None:
        if depth == depth_max:
            found.append(path)
            return
        want = pattern[depth]
        if isinstance(node, dict):
            if want is None:
                for key, child in node.items():
                    walk(child, depth + 1, path + (key,))
            elif isinstance(want, str) and want in node:
                walk(node[want], depth + 1, path + (want,))
        elif isinstance(node, list):
            if want is None:
                for i, child in enumerate(node):
                    walk(child, depth + 1, path + (i,))
            elif isinstance(want, int) and 0 <= want < len(node):
                walk(node[want], depth + 1, path + (want,))

    walk(doc, 0, ())
    return found


def _replace(doc: Any, path: tuple, value: Any) -> Any:
    """Set ``path`` in ``doc`` to ``value``; returns the new root."""
    if not path:
        return value
    node = doc
    for part in path[:-1]:
        node = node[part]
    node[path[-1]] = value
    return doc


def _fetch(doc: Any, path: tuple) -> Any:
    for part in path:
        doc = doc[part]
    return doc


def _records(value: Any, path: tuple, kind: str) -> list[dict]:
    """Check that ``value`` is a list of JSON objects, as list-of-record rules need."""
    if not isinstance(value, list):
        raise TransformError(f"{kind} rule at {list(path)}: expected a list, found {type(value).__name__}")
    for i, record in enumerate(value):
        if not isinstance(record, dict):
            raise TransformError(f"{kind} rule at {list(path)}: element {i} is not an object")
    return value


class _Rule:
    """Base: apply ``transform`` to each matching value and put the result in its place."""

    kind = ""

    def __init__(self, spec: dict):
        self.input_path = tuple(spec["input_path"])
        self._concrete = None not in self.input_path

    def apply(self, doc: Any, ctx) -> Any:
        paths = match_paths(doc, self.input_path)
        if not paths and self._concrete:
            raise MissingFieldError(f"{self.kind} rule: the output has no value at {list(self.input_path)}")
        for path in paths:
            doc = _replace(doc, path, self.transform(_fetch(doc, path), path, ctx))
        return doc

    def transform(self, value: Any, path: tuple, ctx) -> Any:  # pragma: no cover - abstract
        raise NotImplementedError


class _LikelihoodRule(_Rule):
    kind = "likelihood"

    def __init__(self, spec: dict):
        super().__init__(spec)
        self.scorer = Likelihood(spec)

    def transform(self, value, path, ctx):
        return self.scorer.score(value, path, ctx)


class _Project(_Rule):
    """A record becomes ``{new: record.get(old)}`` for each retained field (lists: each)."""

    kind = "project"

    def __init__(self, spec: dict):
        super().__init__(spec)
        fields = spec["retained_fields"]
        self.fields = tuple((f, f) for f in fields) if isinstance(fields, list) else tuple(fields.items())

    def _one(self, record: dict) -> dict:
        return {new: record.get(old) for old, new in self.fields}

    def transform(self, value, path, ctx):
        if isinstance(value, dict):
            return self._one(value)
        if isinstance(value, list):
            return [self._one(r) for r in _records(value, path, self.kind)]
        raise TransformError(f"project rule at {list(path)}: expected an object or a list of objects")


class _Nest(_Rule):
    """A value becomes ``{field_name: value}``."""

    kind = "nest"

    def __init__(self, spec: dict):
        super().__init__(spec)
        self.field = spec["field_name"]

    def transform(self, value, path, ctx):
        return {self.field: value}


class _Explode(_Rule):
    """Each record of a list becomes one record per element of its list-valued field."""

    kind = "explode"

    def __init__(self, spec: dict):
        super().__init__(spec)
        self.target = spec["target_field"]

    def transform(self, value, path, ctx):
        out = []
        for i, record in enumerate(_records(value, path, self.kind)):
            items = record.get(self.target, _MISSING)
            if not isinstance(items, list):
                what = "has no" if items is _MISSING else "has a non-list"
                raise TransformError(f"explode rule at {list(path)}: element {i} {what} '{self.target}' field")
            for item in items:
                # Other containers are copied so later in-place rules see no aliasing.
                out.append({k: item if k == self.target else _copy(v) for k, v in record.items()})
        return out


class _DropDuplicates(_Rule):
    """One record per value of ``target_fields``: where the first such record was, the
    last one, as mellea's formatter does.

    granite-common 0.4.1 means to drop duplicates but, by a bug (its key is a generator,
    never equal to another), returns the list unchanged.
    """

    kind = "drop_duplicates"

    def __init__(self, spec: dict):
        super().__init__(spec)
        self.fields = tuple(spec["target_fields"])

    def transform(self, value, path, ctx):
        kept: dict = {}
        for i, record in enumerate(_records(value, path, self.kind)):
            missing = [f for f in self.fields if f not in record]
            if missing:
                raise TransformError(f"drop_duplicates rule at {list(path)}: element {i} has no '{missing[0]}' field")
            kept[tuple(_hashable(record[f]) for f in self.fields)] = record
        return list(kept.values())


class _MergeSpans(_Rule):
    """Merge spans of the same group whose end meets the next one's begin."""

    kind = "merge_spans"

    def __init__(self, spec: dict):
        super().__init__(spec)
        self.groups = tuple(spec["group_fields"])
        self.begin = spec["begin_field"]
        self.end = spec["end_field"]
        self.text = spec.get("text_field")
        self.allowed = set(self.groups) | {self.begin, self.end} | ({self.text} if self.text else set())

    def transform(self, value, path, ctx):
        where = f"merge_spans rule at {list(path)}"
        keyed = []
        for i, record in enumerate(_records(value, path, self.kind)):
            for field in (self.begin, self.end) + ((self.text,) if self.text else ()):
                if record.get(field) is None:
                    raise TransformError(f"{where}: element {i} has no '{field}' value")
            extra = [f for f in record if f not in self.allowed]
            if extra:
                raise TransformError(f"{where}: element {i} has field '{extra[0]}' outside the span and groups")
            keyed.append((tuple(record.get(f) for f in self.groups) + (record[self.begin],), record))
        try:
            keyed.sort(key=lambda pair: pair[0])
        except TypeError as e:
            raise TransformError(f"{where}: group or begin values cannot be ordered ({e})") from e
        out: list[dict] = []
        current_key = None
        for key, record in keyed:
            if key == current_key:
                raise TransformError(f"{where}: two spans start at {key[-1]} in group {list(key[:-1])}")
            if out and key[:-1] == current_key[:-1] and out[-1][self.end] == record[self.begin]:
                merged = out[-1]
                merged[self.end] = record[self.end]
                if self.text:
                    merged[self.text] = merged[self.text] + record[self.text]
            else:
                out.append(dict(record))
            current_key = key
        return out


class _DecodeSentences(_Rule):
    """A sentence number becomes the sentence's begin, end, text (and document id or
    message index), added after the record's other fields."""

    kind = "decode_sentences"

    def __init__(self, spec: dict):
        super().__init__(spec)
        self.sources = sentence_sources(spec)
        names = spec["output_names"]
        self.names = tuple(
            (names[k], k) for k in ("begin", "end", "text", "document_id", "message_index") if names.get(k)
        )

    def apply(self, doc, ctx):
        paths = match_paths(doc, self.input_path)
        if not paths and self._concrete:
            raise MissingFieldError(f"decode_sentences rule: the output has no value at {list(self.input_path)}")
        if not paths:
            return doc
        sentences = ctx.sentences(self.sources)
        for path in paths:
            if not path:
                raise TransformError("decode_sentences rule: input_path must name a field, not the root")
            parent = _fetch(doc, path[:-1])
            if not isinstance(parent, dict):
                raise TransformError(f"decode_sentences rule at {list(path)}: the value is not inside an object")
            number = parent[path[-1]]
            if not isinstance(number, int) or isinstance(number, bool):
                raise TransformError(f"decode_sentences rule at {list(path)}: {number!r} is not a sentence number")
            if not 0 <= number < len(sentences):
                raise TransformError(
                    f"decode_sentences rule at {list(path)}: sentence {number} does not exist "
                    f"(the {' and '.join(self.sources).replace('_', ' ')} have {len(sentences)})"
                )
            sentence = sentences[number]
            for name, part in self.names:
                parent[name] = sentence[part]
        return doc


_MISSING = object()


def _copy(value: Any) -> Any:
    return copy.deepcopy(value) if isinstance(value, (dict, list)) else value


def _hashable(value: Any) -> Any:
    if isinstance(value, (dict, list)):
        return json.dumps(value, sort_keys=True)
    return value


RULE_TYPES = {
    cls.kind: cls
    for cls in (_LikelihoodRule, _Project, _Nest, _Explode, _DropDuplicates, _MergeSpans, _DecodeSentences)
}


def build_rules(specs) -> tuple:
    """Build rule objects from validated io.yaml ``transformations`` entries."""
    return tuple(RULE_TYPES[spec["type"]](spec) for spec in specs)
