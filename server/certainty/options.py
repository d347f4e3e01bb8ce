"""What one request asked of the certainty feature: its ``certainty`` field over the server defaults."""

from __future__ import annotations

from dataclasses import dataclass

from ..errors import InvalidRequest
from ..settings import CertaintySettings
from .asked import NOTHING, Asked
from .protocol import CertaintyRequest

#: The request field of the extension; never sent to vLLM.
FIELD = "certainty"
#: The gateway's request fields that vLLM never sees.
EXTENSIONS = (FIELD, "intrinsics")


@dataclass(frozen=True)
class Options:
    """The guard threshold (``None``: score, but do not guard) and its action; whether the
    certainty is scored at all (not when only other intrinsics are asked for), and those."""

    threshold: float | None
    action: str
    score: bool = True
    asked: Asked = NOTHING


def resolve(
    value: bool | CertaintyRequest | None, defaults: CertaintySettings, has_fallback: bool, asked: Asked = NOTHING
) -> Options | None:
    """The request's validated ``certainty`` merged over the server defaults, with the other
    intrinsics it ``asked`` for; ``None``: neither scored nor judged.

    Absent means the server's ``always`` (``true`` when ``intrinsics`` names ``certainty``);
    ``false`` opts out; ``true`` takes the defaults; an object overrides the keys it sets
    (``"threshold": null`` turns the default guard off)."""
    if value is None:
        value = True if asked.certainty else defaults.always
    if value is False:
        if asked.certainty:
            raise InvalidRequest("'certainty': false contradicts 'certainty' in intrinsics.", param=FIELD)
        return Options(None, defaults.action, score=False, asked=asked) if asked.asks else None
    given = value if isinstance(value, CertaintyRequest) else CertaintyRequest()
    threshold = given.threshold if "threshold" in given.model_fields_set else defaults.threshold
    opts = Options(threshold, given.action or defaults.action, asked=asked)
    if opts.action == "fallback" and opts.threshold is not None and not has_fallback:
        raise InvalidRequest(
            "certainty action 'fallback' needs a fallback model in the server's certainty.fallback settings; "
            "none is configured.",
            param="certainty.action",
        )
    return opts


def strip_extension(payload: dict) -> dict:
    """The request as the base model must see it: without the gateway's ``certainty`` and
    ``intrinsics`` fields."""
    return {k: v for k, v in payload.items() if k not in EXTENSIONS}
