"""Compose services run with podman: the command line of a service read from a compose file.

Only the keys the project's compose files use are translated; a key this does not know fails
the test rather than being dropped, so the containers run as the file wires them."""

from __future__ import annotations

import json
import os
import subprocess
from pathlib import Path

#: Handled where the pod is made (ports, depends_on) or with no meaning in a pod (expose, build).
ELSEWHERE = {"build", "expose", "ports", "depends_on"}
HANDLED = {"image", "command", "entrypoint", "environment", "cap_add", "security_opt", "shm_size"}
HANDLED |= {"healthcheck", "restart", "volumes"}
HEALTH_OPTIONS = {"interval": "--health-interval", "timeout": "--health-timeout", "retries": "--health-retries"}
HEALTH_OPTIONS["start_period"] = "--health-start-period"


def podman(*args: str, timeout_s: float = 120, check: bool = True) -> subprocess.CompletedProcess:
    """``podman ARGS`` with the project's containers.conf (as `make images` uses)."""
    conf = Path(__file__).resolve().parents[2] / "docker" / "podman" / "containers.conf"
    env = {**os.environ, "CONTAINERS_CONF": str(conf)}
    proc = subprocess.run(["podman", *args], capture_output=True, text=True, timeout=timeout_s, env=env)
    if check and proc.returncode != 0:
        raise AssertionError(f"podman {' '.join(args)}: exit {proc.returncode}\n{proc.stderr[-3000:]}")
    return proc


def environment_args(environment: dict | list | None) -> list[str]:
    """``-e`` options; a variable without a value is passed through from this environment, as compose does."""
    if isinstance(environment, list):
        environment = dict(e.split("=", 1) if "=" in e else (e, None) for e in environment)
    out = []
    for key, value in (environment or {}).items():
        value = os.environ.get(key) if value is None else value
        if value is not None:
            out += ["-e", f"{key}={value}"]
    return out


def healthcheck_args(check: dict) -> list[str]:
    test = check["test"]
    assert test[0] == "CMD", f"health check {test}: only the exec form is translated"
    out = ["--health-cmd", json.dumps(test[1:])]
    for key, flag in HEALTH_OPTIONS.items():
        if key in check:
            out += [flag, str(check[key])]
    return out


def volume_args(volumes: list[str], base: Path) -> list[str]:
    """Bind mounts, their relative sources resolved from the compose file's folder."""
    out = []
    for spec in volumes:
        source, target, *mode = spec.split(":")
        assert source.startswith((".", "/")), f"{spec}: only bind mounts are translated"
        out += ["-v", ":".join([str((base / source).resolve()), target, *mode])]
    return out


def run_args(service: dict, base: Path) -> list[str]:
    """``podman run`` options, the image and its arguments for a compose ``service``."""
    unknown = set(service) - HANDLED - ELSEWHERE
    assert not unknown, f"compose keys not translated to podman: {sorted(unknown)}"
    out = environment_args(service.get("environment"))
    out += [f"--cap-add={cap}" for cap in service.get("cap_add", [])]
    out += [f"--security-opt={opt}" for opt in service.get("security_opt", [])]
    out += [f"--shm-size={service['shm_size']}"] if "shm_size" in service else []
    out += [f"--restart={service['restart']}"] if "restart" in service else []
    out += healthcheck_args(service["healthcheck"]) if "healthcheck" in service else []
    out += volume_args(service.get("volumes", []), base)
    if "entrypoint" in service:
        out += ["--entrypoint", json.dumps(service["entrypoint"])]
    return [*out, service["image"], *(str(arg) for arg in service.get("command", []))]


def healthy(name: str) -> bool:
    """Whether ``name``'s own health check (the one it was started with) passes now."""
    return podman("healthcheck", "run", name, check=False, timeout_s=60).returncode == 0


def inspect(name: str, template: str) -> str:
    return podman("inspect", "--format", template, name).stdout.strip()
