"""The certainties of an answer as response headers, for clients that keep only OpenAI's own
choice fields (LangChain's ``include_response_headers=True``, LiteLLM's ``_hidden_params``).

Each header holds one value per choice, comma-separated, in the order of ``choices``; a choice
without the value (not scored, no error, not guarded) shows ``null``, never a made-up number.
The values are the body's, written as the body writes them (JSON numbers, strings, booleans):

``x-certainty``            every choice's ``certainty``: ``0.71,null``
``x-certainty-error``      its ``certainty_error.code``, only when some choice has one: ``null,truncated``
``x-certainty-action``     the guard's action, only when a guard ran (a threshold was set): ``flag``
``x-certainty-threshold``  the guard's threshold, with it: ``0.6``
``x-certainty-low``        each choice's ``low_certainty``, with it: ``true,false``
``x-certainty-answered-by`` each choice's ``answered_by`` (URL-quoted), with the fallback action

A streamed answer sends its headers before any choice is scored, so only a stream whose answer is
generated whole first (a guard that abstains or falls back) carries them.
"""

from __future__ import annotations

import re
from urllib.parse import quote

import orjson

from .options import FIELD, Options

CERTAINTY = "x-certainty"
ERROR = "x-certainty-error"
ACTION = "x-certainty-action"
THRESHOLD = "x-certainty-threshold"
LOW = "x-certainty-low"
ANSWERED_BY = "x-certainty-answered-by"
#: Every header this module may set (for a CORS ``expose_headers``, should the app configure CORS).
NAMES = (CERTAINTY, ERROR, ACTION, THRESHOLD, LOW, ANSWERED_BY)

#: What an error code may hold in a header: a code from elsewhere (vLLM's) could hold anything.
_UNSAFE = re.compile(r"[^A-Za-z0-9_.\-]")


def certainty_headers(completion: dict, opts: Options) -> dict[str, str]:
    """The headers that repeat ``completion``'s certainty fields, one value per choice (none
    when only other intrinsics were asked for)."""
    if not opts.score:
        return {}
    choices = [c for c in completion.get("choices") or () if isinstance(c, dict)]
    headers = {CERTAINTY: _join(c.get(FIELD) for c in choices)}
    errors = [c.get("certainty_error") for c in choices]
    if any(errors):
        headers[ERROR] = _join(_UNSAFE.sub("_", str(e.get("code"))) if isinstance(e, dict) else None for e in errors)
    if opts.threshold is not None:
        headers[ACTION], headers[THRESHOLD] = opts.action, _json(opts.threshold)
        headers[LOW] = _join(c.get("low_certainty") for c in choices)
        if opts.action == "fallback":
            headers[ANSWERED_BY] = _join(
                quote(str(c["answered_by"]), safe="/:@") if "answered_by" in c else None for c in choices
            )
    return headers


def _join(values) -> str:
    return ",".join(v if isinstance(v, str) else _json(v) for v in values)


def _json(value) -> str:
    return orjson.dumps(value).decode()
