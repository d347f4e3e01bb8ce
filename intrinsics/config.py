"""Reading and validating an intrinsic's io.yaml.

The file format is the one granite-common 0.4.1 reads (``model``, ``response_format``,
``transformations`` required; ``instruction``, ``parameters``, ``sentence_boundaries``,
``docs_as_message``, ``logprobs_workaround`` optional) plus what newer published files
use, as mellea's formatter reads them: the ``name`` key, the ``all_but_last_message``
sentence boundary, and ``decode_sentences`` over a list of sources.  Validation happens
here, once, so that a bad file fails at start-up with a
:class:`~intrinsics.errors.ConfigError` naming the file, the key and the problem,
instead of failing on the first request. The file is untrusted input (``untrusted``): no
YAML aliases, no recursive or remote schema references, no exponential-time patterns.
"""

from __future__ import annotations

import dataclasses
import functools
import json
import pathlib
import string
from typing import Any

import jsonschema
import yaml

from .errors import ConfigError
from .untrusted import check_schema, safe_yaml

__all__ = ["IntrinsicConfig", "read_config", "parse_config", "sentence_sources"]

_SCHEMA_FILE = pathlib.Path(__file__).with_name("ioyaml.schema.json")


@dataclasses.dataclass(frozen=True)
class IntrinsicConfig:
    """The validated content of one io.yaml.

    ``response_format`` is parsed (a dict, or ``None``); ``sentence_boundaries`` is a
    dict (empty when the file says ``~`` or ``false``); ``parameters`` never contains
    ``extra_body``, whose content is in ``extra_body_parameters``.
    """

    file: str | None
    name: str | None
    model: str | None
    response_format: dict | None
    transformations: tuple[dict, ...]
    instruction: str | None
    instruction_fields: frozenset[str]
    parameters: dict
    extra_body_parameters: dict
    sentence_boundaries: dict
    docs_as_message: str | None
    logprobs_workaround: bool
    raw: dict = dataclasses.field(repr=False, compare=False)


@functools.lru_cache(maxsize=1)
def _ioyaml_validator() -> jsonschema.protocols.Validator:
    schema = json.loads(_SCHEMA_FILE.read_text(encoding="utf-8"))
    cls = jsonschema.validators.validator_for(schema)
    cls.check_schema(schema)
    return cls(schema)


def read_config(path: str | pathlib.Path) -> IntrinsicConfig:
    """Read and validate the io.yaml at ``path``.

    :raises ConfigError: the file cannot be read, is not YAML, or is not a valid io.yaml.
    """
    file = str(path)
    try:
        text = pathlib.Path(path).read_text(encoding="utf-8")
    except OSError as e:
        raise ConfigError(file, None, f"cannot read file: {e.strerror or e}") from e
    try:
        data = safe_yaml(text)  # no aliases: an io.yaml may come from an adapter repository
    except yaml.YAMLError as e:
        raise ConfigError(file, None, f"not valid YAML: {e}") from e
    return parse_config(data, file=file)


def parse_config(data: Any, *, file: str | None = None) -> IntrinsicConfig:
    """Validate an already-parsed io.yaml mapping (as ``yaml.safe_load`` returns it).

    :param data: the parsed YAML document; it is not modified
    :param file: file name to mention in errors, if the data came from a file
    :raises ConfigError: the data is not a valid io.yaml
    """
    if not isinstance(data, dict):
        raise ConfigError(file, None, f"top level must be a mapping, found {type(data).__name__}")
    _check_against_schema(data, file)

    response_format = _parse_response_format(data["response_format"], file)
    transformations = tuple(data["transformations"] or ())
    instruction = data.get("instruction")
    sentence_boundaries = dict(data.get("sentence_boundaries") or {})
    docs_as_message = data.get("docs_as_message")
    _check_rules(transformations, sentence_boundaries, docs_as_message, file)

    parameters = dict(data.get("parameters") or {})
    extra_body_parameters = dict(parameters.pop("extra_body", None) or {})

    return IntrinsicConfig(
        file=file,
        name=data.get("name"),
        model=data["model"],
        response_format=response_format,
        transformations=transformations,
        instruction=instruction,
        instruction_fields=_instruction_fields(instruction, file),
        parameters=parameters,
        extra_body_parameters=extra_body_parameters,
        sentence_boundaries=sentence_boundaries,
        docs_as_message=docs_as_message,
        logprobs_workaround=bool(data.get("logprobs_workaround")),
        raw=data,
    )


def _format_path(path) -> str:
    """Render a jsonschema error path as ``transformations[0].type``."""
    out = ""
    for part in path:
        out += f"[{part}]" if isinstance(part, int) else (f".{part}" if out else str(part))
    return out


def _check_against_schema(data: dict, file: str | None) -> None:
    validator = _ioyaml_validator()
    error = jsonschema.exceptions.best_match(validator.iter_errors(data))
    if error is None:
        return
    # Unwrap if/then wrappers so the message names the deepest real problem.
    while error.context:
        error = jsonschema.exceptions.best_match(error.context)
    key = _format_path(error.absolute_path)
    if error.validator == "additionalProperties" and isinstance(error.instance, dict):
        allowed = set(error.schema.get("properties", {}))
        extra = sorted(str(k) for k in error.instance if k not in allowed)
        if extra:
            child = f"{key}.{extra[0]}" if key else extra[0]
            raise ConfigError(file, child, f"unknown key (allowed: {', '.join(sorted(allowed))})")
    if error.validator == "required" and isinstance(error.instance, dict):
        missing = [k for k in error.validator_value if k not in error.instance]
        if missing:
            child = f"{key}.{missing[0]}" if key else missing[0]
            raise ConfigError(file, child, "required key is missing")
    raise ConfigError(file, key or None, error.message)


def _parse_response_format(value: Any, file: str | None) -> dict | None:
    if value is None:
        return None
    if isinstance(value, str):
        try:
            value = json.loads(value)
        except json.JSONDecodeError as e:
            raise ConfigError(file, "response_format", f"not valid JSON: {e}") from e
    if not isinstance(value, dict):
        raise ConfigError(file, "response_format", "must be a JSON Schema object")
    try:
        jsonschema.validators.validator_for(value).check_schema(value)
    except jsonschema.exceptions.SchemaError as e:
        where = _format_path(e.absolute_path)
        raise ConfigError(
            file, "response_format", f"not a valid JSON Schema{' at ' + where if where else ''}: {e.message}"
        ) from e
    check_schema(value, file)
    return value


def _instruction_fields(instruction: str | None, file: str | None) -> frozenset[str]:
    """Names the instruction template needs, checked with ``str.format`` rules."""
    if instruction is None:
        return frozenset()
    names = set()
    try:
        for _, field, _, _ in string.Formatter().parse(instruction):
            if field is None:
                continue
            # "{a.b}" and "{a[0]}" need argument "a"; "{}" and "{0}" are positional.
            head = field.split(".", 1)[0].split("[", 1)[0]
            if head == "" or head.isdigit():
                raise ConfigError(
                    file, "instruction", f"positional placeholder '{{{field}}}' is not allowed; use a name"
                )
            names.add(head)
    except ValueError as e:
        raise ConfigError(file, "instruction", f"not a valid format string: {e}") from e
    return frozenset(names)


def _check_rules(rules: tuple[dict, ...], boundaries: dict, docs_as_message: str | None, file: str | None) -> None:
    """Cross-key checks that the JSON Schema of io.yaml cannot express."""
    for i, rule in enumerate(rules):
        where = f"transformations[{i}]"
        kind = rule["type"]
        if kind == "decode_sentences":
            _check_decode_sentences(rule, where, boundaries, docs_as_message, file)
        elif kind == "likelihood":
            for category in rule["categories_to_values"]:
                if not isinstance(category, (str, int, float)):
                    raise ConfigError(file, f"{where}.categories_to_values", f"category {category!r} is not a scalar")


#: Which ``output_names`` key each source of ``decode_sentences`` adds to the plain span keys.
_SOURCE_OUTPUT = {"documents": "document_id", "all_but_last_message": "message_index"}


def sentence_sources(rule: dict) -> tuple[str, ...]:
    """A ``decode_sentences`` rule's sources as a tuple (the file may name one or a list)."""
    source = rule["source"]
    return (source,) if isinstance(source, str) else tuple(source)


def _check_decode_sentences(
    rule: dict, where: str, boundaries: dict, docs_as_message: str | None, file: str | None
) -> None:
    sources = sentence_sources(rule)
    for source in sources:
        if source not in boundaries:
            raise ConfigError(
                file,
                f"{where}.source",
                f"decodes '{source}' sentences but sentence_boundaries has no '{source}' tag",
            )
    for source, output in _SOURCE_OUTPUT.items():
        if output in rule["output_names"] and source not in sources:
            raise ConfigError(file, f"{where}.output_names.{output}", f"only valid with source '{source}'")
    if "all_but_last_message" in sources and docs_as_message:
        raise ConfigError(
            file,
            f"{where}.source",
            "cannot decode earlier turns when docs_as_message puts the documents among them",
        )
    if "documents" in sources and docs_as_message == "string":
        raise ConfigError(
            file,
            f"{where}.source",
            "cannot decode document sentences when docs_as_message is 'string'",
        )
