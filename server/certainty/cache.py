"""The certainty cache (``certainty.cache_entries``, off by default): certainties already served,
by adapter and canonical rewritten request.

Scoring is greedy decoding of a fixed rewrite, so the same rewritten request always gets the
same certainty: a conversation asked again (a retry, a refresh, the same FAQ) needs no second
adapter call. Only certainties are kept — never a failure, which may not happen again — and
only the digest of the request, not the conversation. Least recently used entries go first.
"""

from __future__ import annotations

import hashlib
from collections import OrderedDict

import orjson


def cache_key(adapter: str, rewritten: dict) -> bytes:
    """The digest of ``adapter`` and its rewritten request, the same for the same request
    whatever the order of its keys."""
    canonical = orjson.dumps({"adapter": adapter, "request": rewritten}, option=orjson.OPT_SORT_KEYS)
    return hashlib.sha256(canonical).digest()


class CertaintyCache:
    """At most ``entries`` certainties, least recently used first out."""

    def __init__(self, entries: int):
        self.entries = entries
        self._values: OrderedDict[bytes, float] = OrderedDict()

    def get(self, key: bytes) -> float | None:
        """The certainty kept for ``key``, now the most recently used, or ``None``."""
        value = self._values.get(key)
        if value is not None:
            self._values.move_to_end(key)
        return value

    def put(self, key: bytes, value: float) -> None:
        """Keep ``value`` for ``key``, dropping the least recently used beyond ``entries``."""
        self._values[key] = value
        self._values.move_to_end(key)
        while len(self._values) > self.entries:
            self._values.popitem(last=False)

    def __len__(self) -> int:
        return len(self._values)
