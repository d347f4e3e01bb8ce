"""The images, run for real with podman (``make test-images`` builds them first and runs these).

Everything here is marked ``images`` and left out of a run that does not ask for that marker
(``pytest -m images tests/images``): building and starting the images takes minutes, and
``make test`` stays within its time without them."""

from pathlib import Path

import pytest

HERE = Path(__file__).resolve().parent


def pytest_collection_modifyitems(config, items):
    mine = [item for item in items if Path(str(item.fspath)).is_relative_to(HERE)]
    for item in mine:
        item.add_marker(pytest.mark.images)
    if mine and "images" not in (config.getoption("markexpr") or ""):
        config.hook.pytest_deselected(items=mine)
        items[:] = [item for item in items if item not in mine]
