"""``GET /v1/models`` on the wire."""

from __future__ import annotations

from typing import Literal

from ..protocol import OpenAIBase


class ModelCard(OpenAIBase):
    """One entry of ``GET /v1/models``."""

    id: str
    object: Literal["model"] = "model"
    created: int = 0
    owned_by: str = "granite-certainty"
    #: What the name serves: the base model, or an intrinsic (an adapter on it).
    kind: Literal["base", "intrinsic"] | None = None
    #: An intrinsic's base model (absent on the base model itself).
    parent: str | None = None


class ModelList(OpenAIBase):
    """The body of ``GET /v1/models``."""

    object: Literal["list"] = "list"
    data: list[ModelCard]
