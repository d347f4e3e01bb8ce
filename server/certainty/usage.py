"""Token usage of every call one certainty request makes: the answer, its scoring, the fallback,
the other intrinsics asked for."""

from __future__ import annotations

USAGE_KEYS = ("prompt_tokens", "completion_tokens", "total_tokens")


def _zero() -> dict:
    return dict.fromkeys(USAGE_KEYS, 0)


def _add(into: dict, usage: object) -> None:
    # vLLM's usage is counted only where it is what it should be: an object of token counts.
    if not isinstance(usage, dict):
        return
    for key in USAGE_KEYS:
        value = usage.get(key)
        if isinstance(value, int) and not isinstance(value, bool) and value >= 0:
            into[key] += value


class Usage:
    """The scoring and fallback calls' usage, added up as they finish."""

    def __init__(self, *more: str) -> None:
        self.parts = {"certainty": _zero(), "fallback": _zero(), **{part: _zero() for part in more}}

    def add(self, part: str, usage: dict | None) -> None:
        """Count one call's ``usage`` under ``part`` (``certainty``, ``fallback``, or one given
        when this was made: ``intrinsics``)."""
        _add(self.parts[part], usage)

    def total(self, answer_usage: dict | None) -> dict | None:
        """The answer's usage plus every other call, with ``breakdown`` itemising them
        (``None`` when the answer reported none)."""
        if not isinstance(answer_usage, dict):
            return None
        total = _zero()
        for part in (answer_usage, *self.parts.values()):
            _add(total, part)
        total["breakdown"] = {"answer": {k: answer_usage.get(k, 0) for k in USAGE_KEYS}, **self.parts}
        return total
