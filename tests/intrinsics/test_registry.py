"""Loading intrinsics by name: ``load`` (file or adapter directory) and ``load_all``."""

from __future__ import annotations

import shutil

import pytest

import intrinsics
from intrinsics import ConfigError

from .helpers import CONFIGS, UNCERTAINTY_YAML


def test_project_registry_has_uncertainty():
    registry = intrinsics.load_all(intrinsics.DEFAULT_CONFIG_DIR)
    assert "uncertainty" in registry
    assert registry["uncertainty"].name == "uncertainty"
    assert registry["uncertainty"].needs_logprobs


def test_load_all_names_by_directory_and_skips_others(tmp_path):
    (tmp_path / "certainty-41").mkdir()
    shutil.copy(UNCERTAINTY_YAML, tmp_path / "certainty-41" / "io.yaml")
    (tmp_path / "answerability").mkdir()
    shutil.copy(CONFIGS / "gpt_oss_answerability.yaml", tmp_path / "answerability" / "io.yaml")
    (tmp_path / "empty").mkdir()
    (tmp_path / "stray.yaml").write_text("model: ~\n")
    registry = intrinsics.load_all(tmp_path)
    assert sorted(registry) == ["answerability", "certainty-41"]
    assert registry["certainty-41"].name == "certainty-41"  # directory wins over the file's name:
    assert registry["certainty-41"].config.name == "uncertainty"


def test_load_all_fails_naming_the_bad_file(tmp_path):
    (tmp_path / "broken").mkdir()
    (tmp_path / "broken" / "io.yaml").write_text("model: ~\nresponse_format: ~\n")
    with pytest.raises(ConfigError) as info:
        intrinsics.load_all(tmp_path)
    assert info.value.file == str(tmp_path / "broken" / "io.yaml") and info.value.key == "transformations"


def test_load_all_missing_directory(tmp_path):
    with pytest.raises(ConfigError):
        intrinsics.load_all(tmp_path / "absent")


def test_load_name_precedence_and_adapter_directory(tmp_path):
    adapter = tmp_path / "lora"
    adapter.mkdir()
    shutil.copy(CONFIGS / "query_rewrite.yaml", adapter / "io.yaml")
    assert intrinsics.load(adapter).name == "lora"  # a directory holding io.yaml
    assert intrinsics.load(adapter / "io.yaml", name="rewrite").name == "rewrite"
    assert intrinsics.load(UNCERTAINTY_YAML).name == "uncertainty"  # the file's name key
    assert intrinsics.load(CONFIGS / "query_rewrite.yaml").name == "query_rewrite"  # file stem
    assert intrinsics.load(CONFIGS / "uncertainty-granite-4.0-micro.io.yaml").name == "uncertainty-granite-4.0-micro"


def test_model_override_and_with_model():
    intrinsic = intrinsics.load(UNCERTAINTY_YAML, model="uncertainty-lora")
    assert intrinsic.model == "uncertainty-lora"
    other = intrinsic.with_model("x")
    assert other.model == "x" and intrinsic.model == "uncertainty-lora" and other.config is intrinsic.config
    assert "uncertainty" in repr(intrinsic)
