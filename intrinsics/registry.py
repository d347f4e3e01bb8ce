"""Loading every intrinsic of a configuration directory by name."""

from __future__ import annotations

import pathlib

from .errors import ConfigError
from .intrinsic import DEFAULT_TEMPERATURE, Intrinsic, load

__all__ = ["load_all", "DEFAULT_CONFIG_DIR"]

DEFAULT_CONFIG_DIR = pathlib.Path(__file__).resolve().parent.parent / "configs" / "intrinsics"
"""``configs/intrinsics`` of a source checkout; servers should pass their own directory."""


def load_all(
    directory: str | pathlib.Path = DEFAULT_CONFIG_DIR,
    *,
    default_temperature: float | None = DEFAULT_TEMPERATURE,
) -> dict[str, Intrinsic]:
    """Load ``<directory>/<name>/io.yaml`` for every subdirectory that has one.

    Each intrinsic is registered under its directory's name, which is also its
    ``name``; subdirectories without an io.yaml are ignored.

    :raises ConfigError: the directory does not exist, or any io.yaml is invalid
        (the error names the file)
    """
    root = pathlib.Path(directory)
    if not root.is_dir():
        raise ConfigError(str(root), None, "intrinsics configuration directory does not exist")
    registry: dict[str, Intrinsic] = {}
    for sub in sorted(p for p in root.iterdir() if p.is_dir()):
        io_yaml = sub / "io.yaml"
        if io_yaml.is_file():
            registry[sub.name] = load(io_yaml, name=sub.name, default_temperature=default_temperature)
    return registry
