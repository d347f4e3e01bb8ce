"""``granite-certainty serve`` fails fast, before starting vLLM, on a bad deployment file."""

import json

import pytest

from server.cli import main


def deploy(tmp_path, text):
    path = tmp_path / "deploy.yaml"
    path.write_text(text)
    return str(path)


def model(tmp_path, name="m"):
    (tmp_path / name).mkdir()
    (tmp_path / name / "config.json").write_text("{}")
    return tmp_path / name


def adapter(tmp_path, r):
    (tmp_path / "lora").mkdir()
    (tmp_path / "lora" / "adapter_config.json").write_text(json.dumps({"r": r}))
    return tmp_path / "lora"


@pytest.mark.parametrize(
    "make, fragment",
    [
        (lambda t: "model: {path: /no/such/model}\n", "/no/such/model does not exist"),
        (
            lambda t: (
                f"model: {{path: {model(t)}}}\nadapters: [{{name: uncertainty, path: {adapter(t, 64)}}}]\n"
                "vllm: {max_lora_rank: 32}\n"
            ),
            "LoRA rank 64",
        ),
        (lambda t: f"model: {{path: {model(t)}}}\nsurprise: 1\n", "surprise: unknown key"),
        (
            lambda t: (
                f"model: {{path: {model(t)}}}\nadapters: [{{name: citations, path: {adapter(t, 8)}}}]\n"
                f"intrinsics_dir: {t}\n"
            ),
            "no io.yaml",
        ),
    ],
)
def test_bad_config_fails_fast_with_a_clear_message(tmp_path, capsys, monkeypatch, make, fragment):
    import server.launch.engine

    monkeypatch.setattr(server.launch.engine.VLLMProcess, "start", lambda self: pytest.fail("vLLM must not start"))
    assert main(["serve", "--config", deploy(tmp_path, make(tmp_path))]) == 2
    err = capsys.readouterr().err
    assert fragment in err and "Traceback" not in err
