"""Model and adapter resolution: local directories, a Hugging Face cache offline, rank limits."""

import json
import sys

import huggingface_hub.constants
import pytest

from server.launch.resolve import resolve
from server.settings import DeploymentError, Settings


def model_dir(path):
    path.mkdir(parents=True)
    (path / "config.json").write_text("{}")
    return path


def adapter_dir(path, r=32, **extra):
    path.mkdir(parents=True)
    (path / "adapter_config.json").write_text(json.dumps({"r": r, **extra}))
    return path


def test_local_directories(tmp_path):
    base = model_dir(tmp_path / "base")
    ad = adapter_dir(tmp_path / "repo" / "uncertainty" / "lora", r=8)
    s = Settings(
        model={"path": str(base)},
        adapters=[{"name": "u", "path": str(tmp_path / "repo"), "subfolder": "uncertainty/lora"}],
    )
    dep = resolve(s)
    assert dep.base == base and dep.adapters[0].path == ad
    assert dep.adapters[0].rank == 8 and dep.max_lora_rank == 8
    assert dep.adapters[0].io_yaml is None and dep.adapters[0].intrinsic == "u"


def test_max_lora_rank_rounds_up_to_a_value_vllm_accepts(tmp_path):
    base = model_dir(tmp_path / "base")
    adapter_dir(tmp_path / "a", r=4)
    adapter_dir(tmp_path / "b", r=20, rank_pattern={"q_proj": 40})
    s = Settings(
        model={"path": str(base)},
        adapters=[{"name": "a", "path": str(tmp_path / "a")}, {"name": "b", "path": str(tmp_path / "b")}],
    )
    assert resolve(s).max_lora_rank == 64


def test_shipped_io_yaml_is_found_beside_the_lora_folder(tmp_path):
    base = model_dir(tmp_path / "base")
    adapter_dir(tmp_path / "unc" / "lora")
    (tmp_path / "unc" / "io.yaml").write_text("x: 1")
    dep = resolve(Settings(model={"path": str(base)}, adapters=[{"name": "u", "path": str(tmp_path / "unc" / "lora")}]))
    assert dep.adapters[0].io_yaml == tmp_path / "unc" / "io.yaml"


@pytest.mark.parametrize(
    "setup, fragment",
    [
        (lambda t: {"model": {"path": str(t / "missing")}}, "does not exist"),
        (lambda t: {"model": {"path": str(t)}}, "not a model directory"),
        (
            lambda t: {
                "model": {"path": str(model_dir(t / "m"))},
                "adapters": [{"name": "u", "path": str(adapter_dir(t / "a", r=64))}],
                "vllm": {"max_lora_rank": 32},
            },
            "LoRA rank 64 .* above the limit vllm.max_lora_rank=32",
        ),
        (
            lambda t: {
                "model": {"path": str(model_dir(t / "m"))},
                "adapters": [{"name": "u", "path": str(adapter_dir(t / "a", r=1024))}],
            },
            "above vLLM's maximum 512",
        ),
        (
            lambda t: {
                "model": {"path": str(model_dir(t / "m"))},
                "adapters": [{"name": "u", "path": str(model_dir(t / "a"))}],
            },
            "no adapter_config.json",
        ),
    ],
)
def test_bad_sources_fail_fast(tmp_path, setup, fragment):
    with pytest.raises(DeploymentError, match=fragment):
        resolve(Settings(**setup(tmp_path)))


def hub_cache(root, repo, files):
    """Lay files out as huggingface_hub's cache does: refs/main → snapshots/<commit>/..."""
    commit = "0123456789abcdef0123456789abcdef01234567"
    folder = root / f"models--{repo.replace('/', '--')}"
    (folder / "refs").mkdir(parents=True)
    (folder / "refs" / "main").write_text(commit)
    for rel, text in files.items():
        blob = folder / "blobs" / f"blob{abs(hash(rel))}"
        blob.parent.mkdir(parents=True, exist_ok=True)
        blob.write_text(text)
        link = folder / "snapshots" / commit / rel
        link.parent.mkdir(parents=True, exist_ok=True)
        link.symlink_to(blob)
    return folder / "snapshots" / commit


def test_hugging_face_cache_offline_with_subfolder(tmp_path, monkeypatch):
    monkeypatch.setattr(huggingface_hub.constants, "HF_HUB_OFFLINE", True)
    monkeypatch.setattr(huggingface_hub.constants, "HF_HUB_CACHE", str(tmp_path))
    base_snap = hub_cache(tmp_path, "ibm-granite/granite-4.0-micro", {"config.json": "{}"})
    ad_snap = hub_cache(
        tmp_path,
        "ibm-granite/granitelib-core-r1.0",
        {
            "uncertainty/granite-4.0-micro/lora/adapter_config.json": '{"r": 32}',
            "uncertainty/granite-4.0-micro/io.yaml": "model: ~",
            "citations/granite-4.0-micro/lora/adapter_config.json": '{"r": 16}',
        },
    )
    s = Settings.load("configs/granite-4.0-micro.yaml")
    dep = resolve(s.model_copy(update={"adapters": [s.adapters[0].model_copy(update={"io_yaml": None})]}))
    assert dep.base == base_snap
    assert dep.adapters[0].path == ad_snap / "uncertainty/granite-4.0-micro/lora"
    assert dep.adapters[0].rank == 32 and dep.max_lora_rank == 32
    assert dep.adapters[0].io_yaml == ad_snap / "uncertainty/granite-4.0-micro/io.yaml"


def test_hugging_face_repo_not_in_cache_offline(tmp_path, monkeypatch):
    monkeypatch.setattr(huggingface_hub.constants, "HF_HUB_OFFLINE", True)
    monkeypatch.setattr(huggingface_hub.constants, "HF_HUB_CACHE", str(tmp_path))
    with pytest.raises(DeploymentError, match="cannot get 'ibm-granite/nothing'"):
        resolve(Settings(model={"repo": "ibm-granite/nothing"}))


def tiny_model(root, names):
    """A stand-in for a built tiny model: its base and one adapter dir per intrinsic name."""
    import tiny_granite

    paths = tiny_granite.paths(root)
    model_dir(paths.base)
    ranks = {"uncertainty": 32}
    adapters = {name: adapter_dir(paths.adapters[name], r=ranks.get(name, 8)) for name in names}
    return paths._replace(adapters=adapters)


def test_a_tiny_adapter_without_a_source_is_the_tiny_models_adapter_of_its_intrinsic(tmp_path, monkeypatch):
    tiny = tiny_model(tmp_path / "tiny", ["uncertainty", "answerability", "citations"])
    monkeypatch.setattr(sys.modules[resolve.__module__], "_tiny_paths", lambda out_dir: tiny)
    s = Settings(
        model={"tiny": True},
        adapters=[
            {"name": "uncertainty"},
            {"name": "answerability"},
            {"name": "cite", "intrinsic": "citations"},
        ],
    )
    dep = resolve(s)
    assert [a.path for a in dep.adapters] == [tiny.adapters[n] for n in ("uncertainty", "answerability", "citations")]
    assert [a.intrinsic for a in dep.adapters] == ["uncertainty", "answerability", "citations"]
    assert [a.rank for a in dep.adapters] == [32, 8, 8] and dep.max_lora_rank == 32


def test_a_tiny_adapter_for_an_intrinsic_the_tiny_model_lacks_names_the_ones_it_has(tmp_path, monkeypatch):
    tiny = tiny_model(tmp_path / "tiny", ["uncertainty", "answerability"])
    monkeypatch.setattr(sys.modules[resolve.__module__], "_tiny_paths", lambda out_dir: tiny)
    s = Settings(model={"tiny": True}, adapters=[{"name": "uncertainty"}, {"name": "hallucination_detection"}])
    with pytest.raises(DeploymentError) as err:
        resolve(s)
    message = str(err.value)
    assert message.startswith("adapters.1 (hallucination_detection): ")
    assert "no adapter for intrinsic 'hallucination_detection'" in message
    assert "uncertainty, answerability" in message
