"""Batch scoring through a running gateway (``granite-certainty score``): an HTTP client of the
gateway's OpenAI API, importing nothing from ``server/``.

``inputs`` reads and checks the input lines (plain conversations or OpenAI Batch API lines),
``runner`` sends them with bounded concurrency and retries, ``output`` writes OpenAI Batch output
lines as they come and tells a rerun what to skip, ``cli`` is the command. See
docs/serving/batch.md.
"""

from .cli import add_score_parser

__all__ = ["add_score_parser"]
