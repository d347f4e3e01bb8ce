"""The locks (locks/*.txt): they satisfy what pyproject.toml asks for, agree with the Makefile, and
this environment (made by `make install`) holds exactly the locked versions, so that a fresh
machine tests the software that CI tested."""

import importlib.metadata
import importlib.util
import re
import tomllib
from pathlib import Path

import pytest
from packaging.requirements import Requirement
from packaging.utils import canonicalize_name
from packaging.version import Version

REPO = Path(__file__).resolve().parents[1]
LOCKS = REPO / "locks"
EXTRAS = ("tiny", "test", "eval")  # what `make install` installs besides the dependencies
#: Left out of the CPU lock on purpose (the Makefile's `lock` target says why).
LEFT_OUT_ON_CPU = {"torchvision", "torchaudio", "torchcodec"}


def locked(name: str) -> dict[str, str]:
    """``{canonical name: version}`` of one lock file."""
    pins = {}
    for line in (LOCKS / name).read_text().splitlines():
        if line and not line[0].isspace() and not line.startswith(("#", "-")):
            req = Requirement(line)
            (spec,) = req.specifier
            assert spec.operator == "==", f"{name}: {line} is not an exact pin"
            pins[canonicalize_name(req.name)] = spec.version
    return pins


def project_requirements() -> list[Requirement]:
    project = tomllib.loads((REPO / "pyproject.toml").read_text())["project"]
    extras = project["optional-dependencies"]
    return [Requirement(r) for r in [*project["dependencies"], *(r for e in EXTRAS for r in extras[e])]]


def installed_vllm() -> str | None:
    for name in ("vllm-cpu", "vllm"):
        try:
            importlib.metadata.version(name)
            return name
        except importlib.metadata.PackageNotFoundError:
            continue
    return None


@pytest.mark.parametrize("lock", ["cpu.txt", "gpu.txt"])
def test_each_lock_satisfies_every_requirement_of_the_project(lock):
    pins = locked(lock)
    for req in project_requirements():
        name = canonicalize_name(req.name)
        assert name in pins, f"{lock} lacks {req.name}: run `make lock`"
        assert req.specifier.contains(Version(pins[name]), prereleases=True), (
            f"{lock} has {req.name}=={pins[name]}, pyproject.toml asks for {req}: run `make lock`"
        )


@pytest.mark.parametrize(("lock", "source"), [("cpu.txt", "cpu.in"), ("gpu.txt", "gpu.in")])
def test_each_lock_holds_the_pins_of_its_input(lock, source):
    pins = locked(lock)
    for line in (LOCKS / source).read_text().splitlines():
        if line and not line.startswith("#"):
            req = Requirement(line)
            assert req.specifier.contains(Version(pins[canonicalize_name(req.name)]), prereleases=True), line


def test_the_cpu_lock_has_the_cpu_torch_and_leaves_out_what_breaks_beside_it():
    pins = locked("cpu.txt")
    assert pins["torch"].endswith("+cpu") and "vllm-cpu" in pins and "vllm" not in pins
    assert not LEFT_OUT_ON_CPU & pins.keys()
    assert not any(name.startswith("nvidia-") for name in pins)


def test_the_makefile_bootstraps_the_uv_that_the_locks_hold():
    makefile = (REPO / "Makefile").read_text()
    uv = re.search(r"^UV_VERSION\s*:=\s*(\S+)", makefile, re.M)[1]
    assert locked("cpu.txt")["uv"] == uv and locked("gpu.txt")["uv"] == uv


def test_this_environment_holds_exactly_the_locked_versions():
    vllm = installed_vllm()
    if vllm is None:
        pytest.skip("no vLLM installed: not an environment made by `make install`")
    lock = "cpu.txt" if vllm == "vllm-cpu" else "gpu.txt"
    wrong = {}
    for name, version in locked(lock).items():
        try:
            have = importlib.metadata.version(name)
        except importlib.metadata.PackageNotFoundError:
            have = None
        if have != version:
            wrong[name] = (have, version)
    assert not wrong, f"installed vs {lock} (run `make install`): {wrong}"
    if lock == "cpu.txt":
        present = {n for n in LEFT_OUT_ON_CPU if importlib.util.find_spec(n) is not None}
        assert not present, f"installed although left out of the lock: {present}"


@pytest.mark.parametrize("image_lock", ["gateway.txt", "vllm-cpu.txt"])
def test_the_images_locks_are_the_cpu_locks_versions(image_lock):
    cpu, image = locked("cpu.txt"), locked(image_lock)
    differ = {name: (version, cpu.get(name)) for name, version in image.items() if cpu.get(name) != version}
    assert not differ, f"{image_lock} vs cpu.txt (run `make lock`): {differ}"
    assert not LEFT_OUT_ON_CPU & image.keys()


def test_the_gateway_image_lock_holds_no_vllm_and_no_torch():
    assert not {"vllm", "vllm-cpu", "torch", "transformers"} & locked("gateway.txt").keys()


def test_the_gpu_lock_holds_the_vllm_release_of_the_images_and_of_vllm_cpu():
    release = locked("gpu.txt")["vllm"]
    assert locked("cpu.txt")["vllm-cpu"] == release
    files = [*(REPO / "docker").glob("*.yaml"), *(REPO / "deploy").rglob("*.yaml")]
    tags = {
        (f.relative_to(REPO).as_posix(), tag)
        for f in files
        for tag in re.findall(r"vllm-openai:(v[\w.]+)", f.read_text())
    }
    assert tags and all(tag == f"v{release}" for _, tag in tags), tags
