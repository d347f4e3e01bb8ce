"""What one request asked of the ``intrinsics`` extension, once checked (``judge.asked``)."""

from __future__ import annotations

from dataclasses import dataclass, field

import intrinsics


@dataclass(frozen=True)
class Ask:
    """One intrinsic asked for: the name it was asked by, its kwargs, and where it was asked."""

    name: str
    intrinsic: intrinsics.Intrinsic
    kwargs: dict
    param: str


@dataclass(frozen=True)
class Asked:
    """A request's validated ``intrinsics`` field: the names in their order, whether certainty
    is one of them, and the other intrinsics."""

    names: tuple[str, ...] = ()
    certainty: bool = False
    asks: tuple[Ask, ...] = field(default=())


#: A request that asked for no intrinsics.
NOTHING = Asked()
