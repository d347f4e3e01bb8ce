"""Which adapter a request selects by ``chat_template_kwargs.adapter_name``, refused when the
gateway does not serve it: vLLM picks a LoRA by ``model`` and ignores this field, so a request
that names an unknown adapter would otherwise be answered by the base model."""

from __future__ import annotations

import logging

from fastapi.exceptions import RequestValidationError
from pydantic import ValidationError

from ..deps import Gateway
from ..errors import InvalidRequest
from .protocol import SwitchFields

log = logging.getLogger("granite_certainty")

#: The request field that holds the chat template's arguments, and the one of them read here.
FIELD, NAME = "chat_template_kwargs", "adapter_name"
#: The parameter every error about it names.
PARAM = f"{FIELD}.{NAME}"
#: The one endpoint that serves an adapter selected this way.
CHAT = "POST /v1/chat/completions"


def named_adapter(payload: dict) -> str | None:
    """The adapter name ``payload`` carries (``None``: it names none); a 400 naming the field when
    ``chat_template_kwargs`` is not an object or its ``adapter_name`` not a string."""
    if payload.get(FIELD) is None:
        return None  # the common case: nothing to validate
    try:
        fields = SwitchFields.model_validate({FIELD: payload[FIELD]})
    except ValidationError as exc:
        raise RequestValidationError(exc.errors()) from None
    return fields.chat_template_kwargs.adapter_name


def requested_adapter(gw: Gateway, payload: dict) -> str | None:
    """The served adapter ``payload`` selects (``None``: it selects none); a 400 that lists the
    served adapters when it names one this gateway does not serve."""
    name = named_adapter(payload)
    if name is None or name in gw.intrinsics:
        return name
    served = ", ".join(f"'{n}'" for n in sorted(gw.intrinsics)) or "none"
    log.warning("refused %s %r: not a served adapter (served: %s)", PARAM, name, served)
    raise InvalidRequest(
        f"{PARAM}: '{name}' is not an adapter this server serves; served adapters: {served}.",
        param=PARAM,
        code="adapter_not_found",
    )


def refuse_adapter(gw: Gateway, payload: dict, where: str) -> None:
    """On an endpoint other than chat (``where``, e.g. ``POST /v1/responses``): any adapter name is
    a 400, an unknown one as on chat, a served one because only chat serves adapters."""
    name = requested_adapter(gw, payload)
    if name is not None:
        raise InvalidRequest(
            f"{PARAM}: {where} cannot serve the adapter '{name}'; adapters are served by {CHAT}.", param=PARAM
        )
