"""io.yaml validation: a bad file fails at load, naming the file, the key and the problem."""

from __future__ import annotations

import textwrap

import pytest
import yaml

import intrinsics
from intrinsics import ConfigError

from .helpers import CONFIGS, GRANITE_COMMON, UNCERTAINTY_YAML

GOOD = yaml.safe_load(UNCERTAINTY_YAML.read_text())


def _write(tmp_path, data, name="io.yaml"):
    path = tmp_path / name
    path.write_text(data if isinstance(data, str) else yaml.safe_dump(data), encoding="utf-8")
    return path


def _error(tmp_path, data) -> ConfigError:
    path = _write(tmp_path, data)
    with pytest.raises(ConfigError) as info:
        intrinsics.load(path)
    error = info.value
    assert error.file == str(path) and str(path) in str(error)
    return error


def _edited(**changes):
    data = yaml.safe_load(UNCERTAINTY_YAML.read_text())
    for key, value in changes.items():
        if value is KeyError:
            del data[key]
        else:
            data[key] = value
    return data


def _rule(**changes):
    rule = dict(GOOD["transformations"][0])
    rule.update(changes)
    return _edited(transformations=[rule])


@pytest.mark.parametrize(
    "path",
    sorted(CONFIGS.glob("*.yaml")) + sorted(GRANITE_COMMON.glob("input_yaml*/*.yaml")),
    ids=lambda p: f"{p.parent.name}/{p.name}",
)
def test_every_shipped_and_reference_file_loads(path):
    intrinsics.load(path)


def test_loaded_config_content():
    config = intrinsics.load(UNCERTAINTY_YAML).config
    assert config.name == "uncertainty" and config.model is None
    assert config.response_format["required"] == ["score"]
    assert config.instruction == "<certainty>" and config.instruction_fields == frozenset()
    assert config.parameters == {"max_completion_tokens": 15, "temperature": 0.0}
    assert config.sentence_boundaries == {} and config.docs_as_message is None


@pytest.mark.parametrize(
    "data, key, words",
    [
        (_edited(transformations=KeyError), "transformations", "required"),
        (_edited(model=KeyError), "model", "required"),
        (_edited(temprature=0.0), "temprature", "unknown key"),
        (_edited(model=3), "model", "not of type"),
        (_edited(parameters=[1]), "parameters", "not of type"),
        (_edited(docs_as_message="xml"), "docs_as_message", "xml"),
        (_edited(sentence_boundaries={"last_turn": "i"}), "sentence_boundaries.last_turn", "unknown key"),
        (_rule(type="likelyhood"), "transformations[0].type", "likelyhood"),
        (_rule(input_path="score"), "transformations[0].input_path", "not of type"),
        (_rule(input_path=[1.5]), "transformations[0].input_path[0]", "not of type"),
        (_rule(categories_to_values={"0": "low"}), "transformations[0].categories_to_values.0", "not of type"),
        (_rule(categories_to_values={}), "transformations[0].categories_to_values", "non-empty"),
        (_rule(output_name=None), "transformations[0].output_name", "unknown key"),
        (_edited(transformations=[{"type": "nest", "input_path": []}]), "transformations[0].field_name", "required"),
        (
            _edited(
                transformations=[
                    {
                        "type": "decode_sentences",
                        "input_path": [None, "r"],
                        "source": "last_message",
                        "output_names": {"begin": "b"},
                    }
                ]
            ),
            "transformations[0].source",
            "sentence_boundaries has no 'last_message'",
        ),
        (
            _edited(
                sentence_boundaries={"last_message": "r"},
                transformations=[
                    {
                        "type": "decode_sentences",
                        "input_path": [None, "r"],
                        "source": "last_message",
                        "output_names": {"document_id": "d"},
                    }
                ],
            ),
            "transformations[0].output_names.document_id",
            "only valid with source 'documents'",
        ),
        (
            _edited(
                sentence_boundaries={"documents": "c"},
                transformations=[
                    {
                        "type": "decode_sentences",
                        "input_path": [None, "c"],
                        "source": ["documents", "all_but_last_message"],
                        "output_names": {"begin": "b"},
                    }
                ],
            ),
            "transformations[0].source",
            "sentence_boundaries has no 'all_but_last_message'",
        ),
        (
            _edited(
                sentence_boundaries={"documents": "c"},
                transformations=[
                    {
                        "type": "decode_sentences",
                        "input_path": [None, "c"],
                        "source": ["documents"],
                        "output_names": {"message_index": "m"},
                    }
                ],
            ),
            "transformations[0].output_names.message_index",
            "only valid with source 'all_but_last_message'",
        ),
        (
            _edited(
                sentence_boundaries={"all_but_last_message": "c"},
                docs_as_message="roles",
                transformations=[
                    {
                        "type": "decode_sentences",
                        "input_path": [None, "c"],
                        "source": "all_but_last_message",
                        "output_names": {"message_index": "m"},
                    }
                ],
            ),
            "transformations[0].source",
            "cannot decode earlier turns when docs_as_message",
        ),
        (_edited(response_format="{not json"), "response_format", "not valid JSON"),
        (_edited(response_format='{"type": "strnig"}'), "response_format", "not a valid JSON Schema"),
        (_edited(response_format="[1, 2]"), "response_format", "must be a JSON Schema object"),
        (_edited(instruction="Rate {}"), "instruction", "positional placeholder"),
        (_edited(instruction="Rate {x"), "instruction", "not a valid format string"),
    ],
)
def test_invalid_files_name_the_key(tmp_path, data, key, words):
    error = _error(tmp_path, data)
    assert error.key == key, str(error)
    assert f"'{key}'" in str(error)
    assert words in str(error), str(error)


def test_yaml_syntax_error(tmp_path):
    error = _error(tmp_path, "model: [unclosed\n")
    assert error.key is None and "not valid YAML" in str(error)


def test_not_a_mapping(tmp_path):
    assert "must be a mapping" in str(_error(tmp_path, "- 1\n- 2\n"))


def test_missing_file(tmp_path):
    with pytest.raises(ConfigError) as info:
        intrinsics.load(tmp_path / "nope" / "io.yaml")
    assert "cannot read" in str(info.value)


def test_old_style_false_sentence_boundaries_and_string_or_mapping_schema(tmp_path):
    data = textwrap.dedent("""\
        model: ~
        response_format:
          type: string
          enum: [a, b]
        transformations: ~
        instruction: "Pick {choice}. Last: {last_message}"
        parameters: ~
        sentence_boundaries: false
    """)
    intrinsic = intrinsics.load(_write(tmp_path, data))
    assert intrinsic.config.response_format == {"type": "string", "enum": ["a", "b"]}
    assert intrinsic.config.sentence_boundaries == {}
    assert intrinsic.instruction_fields == frozenset({"choice"})


def test_from_dict_does_not_modify_its_input():
    data = _edited()
    before = yaml.safe_dump(data)
    intrinsics.from_dict(data, name="x")
    assert yaml.safe_dump(data) == before


def test_parameters_extra_body_is_split_out():
    config = intrinsics.from_dict(_edited(parameters={"max_tokens": 3, "extra_body": {"top_k": 1}}), name="x").config
    assert config.parameters == {"max_tokens": 3} and config.extra_body_parameters == {"top_k": 1}
