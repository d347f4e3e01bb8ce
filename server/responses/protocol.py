"""The ``certainty`` extension on a Responses API request: the one field the gateway reads
beyond ``model`` and ``stream``, with the same forms as on chat (chat's ``CertaintyRequest``)."""

from __future__ import annotations

from pydantic import StrictBool

from ..certainty import CertaintyRequest
from ..protocol import OpenAIBase


class ResponsesCertainty(OpenAIBase):
    """``POST /v1/responses``, only as deep as the extension: ``true``/``false`` or the guard's
    object; every other field is vLLM's to check."""

    certainty: StrictBool | CertaintyRequest | None = None
