"""The ``certainty`` and ``intrinsics`` extensions on the wire: the request fields' object forms,
and the per-choice fields they add when a choice has no certainty (or no result of an intrinsic)
or its fallback failed."""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, StrictStr

GuardAction = Literal["flag", "abstain", "fallback"]


class CertaintyRequest(BaseModel):
    """The ``certainty`` extension as an object: a guard threshold and what to do below it."""

    model_config = ConfigDict(extra="forbid")
    #: A number (``"0.5"`` is refused, not read as one), so that comparing it cannot fail later.
    threshold: float | None = Field(default=None, ge=0.0, le=1.0, strict=True, allow_inf_nan=False)
    action: GuardAction | None = None


class IntrinsicAsk(BaseModel):
    """One item of the ``intrinsics`` field as an object: a served intrinsic and the arguments of
    its instruction (e.g. requirement-check's ``{"requirement": "..."}``)."""

    model_config = ConfigDict(extra="forbid")
    name: StrictStr
    kwargs: dict[str, Any] | None = None


class CertaintyError(BaseModel):
    """``choices[i].certainty_error``: why a choice has ``certainty: null``.

    ``code`` is ``tool_calls``, ``empty_content`` or ``truncated`` for answers that cannot be
    scored, or the failed scoring call's error code (e.g. ``upstream_unavailable``). The same
    object is each entry of ``choices[i].intrinsic_errors``."""

    code: str
    message: str


class FallbackError(BaseModel):
    """``choices[i].fallback_error``: the fallback model failed; the first answer is kept."""

    message: str
