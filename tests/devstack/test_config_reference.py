"""devstack/config_reference.py: docs/configuration.md is the settings model's own table."""

from __future__ import annotations

import pytest
from pydantic import BaseModel, Field

from devstack import config_reference
from server.settings import Settings


def keys(model: type[BaseModel], prefix: str = "") -> list[str]:
    """Every leaf key of ``model``, dotted, list items as ``name[]``."""
    out = []
    for name, info in model.model_fields.items():
        nested, is_list = config_reference.inner_model(info.annotation)
        key = prefix + name + ("[]" if is_list else "")
        out += keys(nested, key + ".") if nested else [key]
    return out


def row(key: str) -> list[str]:
    """The generated row of ``key``, split into its cells."""
    for line in config_reference.render().splitlines():
        if line.startswith(f"| `{key}` |"):
            return [cell.strip() for cell in line.strip("|").split(" | ")]
    raise AssertionError(f"no row for {key}")


def test_the_configuration_reference_is_what_the_generator_writes():
    text = config_reference.DOC.read_text()
    assert text == config_reference.updated(text), "run: .venv/bin/python -m devstack.config_reference"


def test_every_settings_key_has_a_row():
    rendered = config_reference.render()
    missing = [k for k in keys(Settings) if f"| `{k}` |" not in rendered]
    assert not missing
    assert "limits.pool_timeout_s" in keys(Settings)


def test_a_row_holds_the_keys_environment_variable_type_default_and_comment():
    assert row("limits.pool_timeout_s") == [
        "`limits.pool_timeout_s`",
        "`GRANITE_CERTAINTY_LIMITS__POOL_TIMEOUT_S`",
        "number, \\> 0",
        "`1.0`",
        "How long a call waits for a free connection to vLLM before 503 `upstream_busy`.",
    ]


def test_the_environment_variable_a_row_names_sets_its_key(monkeypatch, tmp_path):
    monkeypatch.chdir(tmp_path)
    for key, value in (("limits.pool_timeout_s", "2.5"), ("certainty.fallback.timeout_s", "7")):
        monkeypatch.setenv(row(key)[1].strip("`"), value)
    monkeypatch.setenv(row("model.tiny")[1].strip("`"), "true")
    monkeypatch.setenv("GRANITE_CERTAINTY_CERTAINTY__FALLBACK__URL", "http://fallback")
    monkeypatch.setenv("GRANITE_CERTAINTY_CERTAINTY__FALLBACK__MODEL", "big")
    settings = Settings.load()
    assert settings.limits.pool_timeout_s == 2.5
    assert settings.certainty.fallback.timeout_s == 7


def test_the_home_folder_in_a_default_is_written_as_a_tilde():
    assert row("cache_dir")[3] == "`~/.cache/granite-certainty`"


def test_a_key_without_a_comment_or_description_is_an_error():
    class Undocumented(BaseModel):
        #: Said.
        said: int = 1
        unsaid: int = Field(default=2, ge=0)

    with pytest.raises(ValueError, match="unsaid has no #: comment"):
        config_reference.rows(Undocumented, [])


def test_the_check_flag_says_when_the_reference_is_stale(monkeypatch, tmp_path, capsys):
    stale = tmp_path / "configuration.md"
    stale.write_text(f"{config_reference.BEGIN}\n| old |\n{config_reference.END}\n")
    monkeypatch.setattr(config_reference, "DOC", stale)
    assert config_reference.main(["--check"]) == 1
    assert config_reference.main([]) == 0
    assert config_reference.main(["--check"]) == 0
    assert "is stale" in capsys.readouterr().out
