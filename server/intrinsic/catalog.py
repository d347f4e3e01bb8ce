"""Which intrinsics the gateway serves: one per configured adapter, keyed by adapter name.

Each adapter's io.yaml is, in order: the file named in its config (``io_yaml``), the file the
adapter ships with (found by the resolver), or ``<intrinsics_dir>/<intrinsic>/io.yaml`` from
the project's registry of intrinsic definitions.
"""

from __future__ import annotations

from pathlib import Path

import intrinsics

from ..settings import DeploymentError, Settings

#: The project's own io.yaml registry (configs/intrinsics), used when the settings name none.
DEFAULT_INTRINSICS_DIR = Path(__file__).resolve().parents[2] / "configs" / "intrinsics"


def intrinsics_dir(settings: Settings) -> Path:
    """The directory of ``<name>/io.yaml`` definitions for this deployment."""
    return Path(settings.intrinsics_dir).expanduser() if settings.intrinsics_dir else DEFAULT_INTRINSICS_DIR


def load_intrinsics(settings: Settings, shipped: dict[str, Path]) -> dict[str, intrinsics.Intrinsic]:
    """Load the io.yaml of every adapter in ``settings`` (``shipped``: adapter name → its own io.yaml).

    Raises ``DeploymentError`` naming the adapter and file when one is missing or invalid."""
    table = {}
    for ad in settings.adapters:
        name = ad.intrinsic or ad.name
        path = (
            Path(ad.io_yaml).expanduser()
            if ad.io_yaml
            else shipped.get(ad.name) or intrinsics_dir(settings) / name / "io.yaml"
        )
        if not path.is_file():
            raise DeploymentError(
                f"adapter {ad.name!r}: no io.yaml at {path} (set adapters[].io_yaml or intrinsics_dir)"
            )
        try:
            # The rewrite sends each request to this adapter's name in vLLM.
            table[ad.name] = intrinsics.load(path, name=ad.name, model=ad.name)
        except intrinsics.ConfigError as exc:
            raise DeploymentError(f"adapter {ad.name!r}: {exc}") from None
    return table
