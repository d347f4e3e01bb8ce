"""Print the project's requirements from pyproject.toml, one per line, for ``pip install -r``.

``python requirements.py [EXTRA ...] [--pyproject PATH]``: the ``[project] dependencies`` plus
those of each named optional extra. The Dockerfile installs them in a layer of their own, before
the source is copied, so that a change to the source does not download the dependencies again.
"""

from __future__ import annotations

import argparse
import sys

import tomllib


def requirements(pyproject: dict, extras: list[str]) -> list[str]:
    """The dependency specifiers of the project and of each extra in ``extras``."""
    project = pyproject["project"]
    optional = project.get("optional-dependencies", {})
    missing = [e for e in extras if e not in optional]
    if missing:
        raise SystemExit(f"requirements.py: no such extra in pyproject.toml: {', '.join(missing)}")
    return [*project.get("dependencies", []), *(req for e in extras for req in optional[e])]


def main(argv: list[str] | None = None) -> int:
    """Command-line entry point."""
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("extras", nargs="*")
    p.add_argument("--pyproject", default="pyproject.toml")
    args = p.parse_args(argv)
    with open(args.pyproject, "rb") as fh:
        print("\n".join(requirements(tomllib.load(fh), args.extras)))
    return 0


if __name__ == "__main__":
    sys.exit(main())
