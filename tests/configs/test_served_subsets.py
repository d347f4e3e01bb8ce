"""configs/granite-4.0-micro.yaml serves any subset of Granite's intrinsics: each adapter block
left commented out there, once uncommented, is a valid deployment whose intrinsic loads."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from intrinsics.needs import NEEDS
from server.intrinsic.catalog import load_intrinsics
from server.settings import Settings

CONFIG = Path(__file__).resolve().parents[2] / "configs" / "granite-4.0-micro.yaml"
#: A commented adapter block: "  # - name: X" and the "  #   key: value" lines under it.
BLOCK = re.compile(r"^  # - name: (\S+)\n(?:  #   .*\n)+", re.MULTILINE)


def offered() -> dict[str, str]:
    return {m.group(1): m.group(0) for m in BLOCK.finditer(CONFIG.read_text())}


def test_every_intrinsic_but_the_one_served_is_offered():
    assert set(offered()) == set(NEEDS) - {"uncertainty"}


@pytest.mark.parametrize("name", sorted(offered()))
def test_an_offered_intrinsic_uncommented_is_served_beside_uncertainty(name, tmp_path):
    block = offered()[name]
    text = CONFIG.read_text().replace(block, block.replace("  # ", "  ").replace("  #   ", "    "))
    (tmp_path / "intrinsics").symlink_to(CONFIG.parent / "intrinsics")  # io_yaml paths are relative to the file
    (tmp_path / "deployment.yaml").write_text(text)
    settings = Settings.load(tmp_path / "deployment.yaml")
    assert [a.name for a in settings.adapters] == ["uncertainty", name]
    assert settings.adapters[1].repo and settings.adapters[1].subfolder == f"{name}/granite-4.0-micro/lora"
    served = load_intrinsics(settings, shipped={})
    assert served[name].kind == name and served[name].model == name
