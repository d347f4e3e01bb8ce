"""The ``likelihood`` rule: a categorical answer plus its logprobs become a number.

Semantics of granite-common 0.4.1, reproduced to the last bit of floating point:

1. find the token at which the value's literal starts in the raw output (character
   offsets summed over ``logprobs.content[*].token``; +1 skips a string's opening quote);
2. weigh the chosen value by ``exp(logprob)`` of that token, if it is a category;
3. for every other entry of that token's ``top_logprobs``, add ``exp(logprob)`` to the
   *first* category whose ``str()`` starts with the entry's token;
4. renormalise the matched weights and return ``sum(weight * value)``.

Categories absent from the top-k weigh nothing.  Where the reference returns 0.0 (no
category matched) or crashes (no logprobs, no token at the value's offset), this rule
raises a typed :class:`~intrinsics.errors.OutputError`.
"""

from __future__ import annotations

import json
import math
from typing import Any

from .errors import MissingLogprobsError, NoCategoryMatchedError, TokenNotFoundError, TransformError

__all__ = ["Likelihood", "TOP_LOGPROBS"]

TOP_LOGPROBS = 10
"""Number of alternatives per token the rewrite asks for when a likelihood rule exists."""

# Bound on the per-rule cache of "which category does this token prefix"; tokens come
# from a finite vocabulary, the bound only guards against pathological upstreams.
_PREFIX_CACHE_LIMIT = 65536
_NO_MATCH = object()


class Likelihood:
    """One ``likelihood`` transformation rule, with its lookup tables built once."""

    kind = "likelihood"

    def __init__(self, spec: dict):
        self.input_path = tuple(spec["input_path"])
        categories = spec["categories_to_values"]
        # Python equality decides whether the chosen value is a category (as in the
        # reference: 1 == 1.0 == True), str() decides prefix matches of alternatives.
        self._value_of = {c: float(v) for c, v in categories.items()}
        self._by_text = tuple((str(c), float(v)) for c, v in categories.items())
        self._prefix_cache: dict[str, Any] = {}

    def _alternative(self, token: str) -> Any:
        """Value of the first category whose text starts with ``token``, or _NO_MATCH."""
        hit = self._prefix_cache.get(token)
        if hit is None:
            hit = _NO_MATCH
            for text, value in self._by_text:
                if text.startswith(token):
                    hit = value
                    break
            if len(self._prefix_cache) >= _PREFIX_CACHE_LIMIT:
                self._prefix_cache.clear()
            self._prefix_cache[token] = hit
        return hit

    def score(self, value: Any, path: tuple, ctx) -> float:
        """Turn the value found at ``path`` into its expected category value."""
        located = ctx.offsets().get(path)
        if located is None or type(located[1]) is not type(value) or located[1] != value:
            raise TransformError(
                f"likelihood rule at {list(path)}: the value there is not a scalar of the raw "
                "output (an earlier rule changed it, or it is an object/array)"
            )
        entries = ctx.token_entries()
        starts = ctx.token_starts()
        offset = located[0] + 1 if isinstance(value, str) else located[0]
        index = starts.get(offset)
        if index is None:
            return self._score_inside_token(value, offset, path, entries, starts)

        entry = entries[index]
        chosen = entry.get("token")
        values: list[float] = []
        weights: list[float] = []
        own = self._value_of.get(value, _NO_MATCH) if _hashable(value) else _NO_MATCH
        if own is not _NO_MATCH:
            values.append(own)
            weights.append(math.exp(_logprob(entry, path)))
        alternatives = entry.get("top_logprobs")
        if not isinstance(alternatives, list):
            raise MissingLogprobsError(f"likelihood rule at {list(path)}: token {chosen!r} has no top_logprobs")
        cache = self._prefix_cache
        exp = math.exp
        for alt in alternatives:
            token = alt.get("token") if type(alt) is dict else None
            if token == chosen or type(token) is not str:
                # Engines may repeat the chosen token among the alternatives.
                continue
            alt_value = cache.get(token)
            if alt_value is None:
                alt_value = self._alternative(token)
            if alt_value is not _NO_MATCH:
                lp = alt.get("logprob")
                if type(lp) is not float or not (_MIN_LOGPROB < lp <= 0.0):
                    lp = _logprob(alt, path)
                values.append(alt_value)
                weights.append(exp(lp))
        if not values:
            raise NoCategoryMatchedError(
                f"likelihood rule at {list(path)}: neither {value!r} nor any of its top-"
                f"{len(alternatives)} alternatives is one of the categories"
            )
        total = sum(weights)
        if total == 0.0:
            raise NoCategoryMatchedError(f"likelihood rule at {list(path)}: every matched category has probability 0")
        # Same operations in the same order as the reference, for bit-equal results.
        weights = [w / total for w in weights]
        return sum(w * v for w, v in zip(weights, values))

    def _score_inside_token(self, value, offset, path, entries, starts) -> float:
        """The value starts mid-token: accept it only if a token ends with its literal.

        Then the alternatives at the value's start are unknowable, and the reference
        returns the category's value as is; so does this rule.
        """
        previous = offset
        while previous > 0 and previous not in starts:
            previous -= 1
        index = starts.get(previous)
        token = entries[index].get("token", "") if index is not None else ""
        if index is None or not token.endswith(json.dumps(value)):
            raise TokenNotFoundError(
                f"likelihood rule at {list(path)}: value {value!r} starts at character {offset} "
                "of the output, where no logprobs token starts"
            )
        own = self._value_of.get(value, _NO_MATCH) if _hashable(value) else _NO_MATCH
        if own is _NO_MATCH:
            raise NoCategoryMatchedError(f"likelihood rule at {list(path)}: {value!r} is not one of the categories")
        return own


def _hashable(value: Any) -> bool:
    return not isinstance(value, (dict, list))


#: Below every finite float: the fast path's range check then also refuses -inf (and NaN).
_MIN_LOGPROB = -math.inf


def _logprob(entry: dict, path: tuple) -> float:
    # A log-probability is a finite number <= 0; anything else (NaN, +-inf, a positive value
    # that would overflow exp) cannot weigh a category and must not yield a made-up number.
    lp = entry.get("logprob")
    if not isinstance(lp, (int, float)) or isinstance(lp, bool):
        raise MissingLogprobsError(f"likelihood rule at {list(path)}: a token has no numeric logprob")
    if not (math.isfinite(lp) and lp <= 0):
        raise MissingLogprobsError(f"likelihood rule at {list(path)}: logprob {lp!r} is not a finite number <= 0")
    return lp
