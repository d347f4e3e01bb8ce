"""``python -m tiny_granite OUT_DIR [--seed N] [--force]``: build the tiny model."""

from .builder import main

main()
