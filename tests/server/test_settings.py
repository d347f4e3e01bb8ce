"""Deployment settings: YAML, environment overrides, and clear errors for bad files (an empty
API key among them: it never switches authentication off)."""

import pytest

from server.settings import DeploymentError, Settings

TINY = """
model: {tiny: true}
adapters: [{name: uncertainty}]
"""


def write(tmp_path, text, name="deploy.yaml"):
    path = tmp_path / name
    path.write_text(text)
    return path


def test_yaml_then_environment_overrides(tmp_path, monkeypatch):
    path = write(tmp_path, TINY + "port: 9000\nvllm: {port: 9001, args: ['--x']}\n")
    assert Settings.load(path).port == 9000
    monkeypatch.setenv("GRANITE_CERTAINTY_PORT", "9100")
    monkeypatch.setenv("GRANITE_CERTAINTY_VLLM__PORT", "9101")
    s = Settings.load(path)
    assert (s.port, s.vllm.port, s.vllm.args) == (9100, 9101, ["--x"])  # nested keys not named keep their values


def test_command_line_overrides_win_over_environment_and_none_is_ignored(tmp_path, monkeypatch):
    monkeypatch.setenv("GRANITE_CERTAINTY_PORT", "9100")
    monkeypatch.setenv("GRANITE_CERTAINTY_VLLM__URL", "http://env:1")
    monkeypatch.setenv("GRANITE_CERTAINTY_VLLM__PORT", "9101")
    s = Settings.load(write(tmp_path, TINY + "port: 9000\n"), port=None, **{"vllm.url": "http://flag:1"})
    assert (s.port, s.vllm.url, s.vllm.port) == (9100, "http://flag:1", 9101)
    assert Settings.load(write(tmp_path, TINY), port=7).port == 7


def test_unknown_key_names_file_and_key(tmp_path):
    path = write(tmp_path, TINY + "vllm: {prot: 1}\n")
    with pytest.raises(DeploymentError) as err:
        Settings.load(path)
    assert str(path) in str(err.value) and "vllm.prot: unknown key" in str(err.value)


@pytest.mark.parametrize(
    "text, fragment",
    [
        ("model: {}\n", "exactly one of"),
        ("model: {path: /a, repo: b/c}\n", "exactly one of"),
        ("model: {path: /a}\nadapters: [{name: u}]\n", "needs 'path'"),
        ("model: {tiny: true}\nadapters: [{name: u}, {name: u}]\n", "unique"),
        ("- a list\n", "mapping"),
        ("model: [unclosed\n", "not valid YAML"),
    ],
)
def test_invalid_files_fail_with_a_reason(tmp_path, text, fragment):
    with pytest.raises(DeploymentError, match=fragment):
        Settings.load(write(tmp_path, text))


def test_missing_file(tmp_path):
    with pytest.raises(DeploymentError, match="no such config file"):
        Settings.load(tmp_path / "nope.yaml")


def test_relative_paths_are_relative_to_the_file(tmp_path):
    sub = tmp_path / "conf"
    sub.mkdir()
    s = Settings.load(write(sub, "model: {path: m}\nadapters: [{name: u, path: /abs, io_yaml: io/u.yaml}]\n"))
    assert s.model.path == str(sub / "m")
    assert s.adapters[0].path == "/abs" and s.adapters[0].io_yaml == str(sub / "io/u.yaml")


def test_served_name_defaults():
    assert Settings(model={"tiny": True}).served_name == "tiny-granite"
    assert Settings(model={"repo": "ibm-granite/granite-4.0-micro"}).served_name == "ibm-granite/granite-4.0-micro"
    assert Settings(model={"path": "/m/granite", "served_name": "g"}).served_name == "g"


def test_project_configs_load():
    served = {
        "tiny": ["uncertainty", "answerability", "citations", "query_rewrite"],
        "granite-4.0-micro": ["uncertainty"],
    }
    for name, adapters in served.items():
        s = Settings.load(f"configs/{name}.yaml")
        assert [a.name for a in s.adapters] == adapters


def test_an_empty_key_variable_keeps_the_configured_key(tmp_path, monkeypatch):
    path = tmp_path / "d.yaml"
    path.write_text(TINY + "api_key: s3cret\n")
    monkeypatch.setenv("GRANITE_CERTAINTY_API_KEY", "")  # a missing secret, or `export VAR=`
    assert Settings.load(path).keys == ("s3cret",)


@pytest.mark.parametrize("text", ["api_key: ''\n", "api_key: '  '\n", "api_keys: [a, '']\n"])
def test_an_empty_key_in_the_file_is_refused(tmp_path, text):
    path = tmp_path / "d.yaml"
    path.write_text(TINY + text)
    with pytest.raises(DeploymentError, match="empty"):
        Settings.load(path)
