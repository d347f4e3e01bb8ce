"""What one request asked of the certainty feature: its ``certainty`` field over the server defaults."""

from __future__ import annotations

from dataclasses import dataclass

from ..errors import InvalidRequest
from ..settings import CertaintySettings
from .protocol import CertaintyRequest

#: The request field of the extension; never sent to vLLM.
FIELD = "certainty"


@dataclass(frozen=True)
class Options:
    """The guard threshold (``None``: score, but do not guard) and its action."""

    threshold: float | None
    action: str


def resolve(value: bool | CertaintyRequest | None, defaults: CertaintySettings, has_fallback: bool) -> Options | None:
    """The request's validated ``certainty`` merged over the server defaults; ``None``: don't score.

    Absent means the server's ``always``; ``false`` opts out; ``true`` takes the defaults; an
    object overrides the keys it sets (``"threshold": null`` turns the default guard off)."""
    if value is None:
        value = defaults.always
    if value is False:
        return None
    given = value if isinstance(value, CertaintyRequest) else CertaintyRequest()
    threshold = given.threshold if "threshold" in given.model_fields_set else defaults.threshold
    opts = Options(threshold, given.action or defaults.action)
    if opts.action == "fallback" and opts.threshold is not None and not has_fallback:
        raise InvalidRequest(
            "certainty action 'fallback' needs a fallback model in the server's certainty.fallback settings; "
            "none is configured.",
            param="certainty.action",
        )
    return opts


def strip_extension(payload: dict) -> dict:
    """The request as the base model must see it: without the gateway's ``certainty`` field."""
    return {k: v for k, v in payload.items() if k != FIELD}
