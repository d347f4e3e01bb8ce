"""Where each scalar of a JSON text starts.

The ``likelihood`` rule needs the character offset at which a value's literal starts in
the adapter's raw output, to find the token (and its top-k alternatives) that chose it.
``json.loads`` does not report positions, so this module re-scans text that ``json.loads``
has already accepted.  Strings are decoded with the C scanner ``json`` itself uses; the
walk is a few lines of Python per value.
"""

from __future__ import annotations

import json.decoder
import re
from typing import Any

__all__ = ["scalar_offsets"]

_scanstring = json.decoder.scanstring
_WS = re.compile(r"[ \t\n\r]*")
_NUMBER = re.compile(r"(-?(?:0|[1-9]\d*))(\.\d+)?([eE][-+]?\d+)?")
_CONSTANTS = (
    ("true", True),
    ("false", False),
    ("null", None),
    ("NaN", float("nan")),
    ("Infinity", float("inf")),
    ("-Infinity", float("-inf")),
)

Path = tuple  # of str keys and int indices


def scalar_offsets(text: str) -> dict[Path, tuple[int, Any]]:
    """Map the path of every scalar in ``text`` to ``(offset, value)``.

    ``text`` must be valid JSON (as ``json.loads`` accepts it); the offset of a string
    is that of its opening quote.  A repeated object key keeps its last occurrence,
    as ``json.loads`` does.
    """
    out: dict[Path, tuple[int, Any]] = {}
    _value(text, _WS.match(text, 0).end(), (), out)
    return out


def _value(s: str, i: int, path: Path, out: dict) -> int:
    """Scan the value at ``s[i]``, record its scalars, return the index after it."""
    c = s[i]
    if c == '"':
        value, end = _scanstring(s, i + 1)
        out[path] = (i, value)
        return end
    if c == "{":
        return _object(s, i, path, out)
    if c == "[":
        return _array(s, i, path, out)
    number = _NUMBER.match(s, i)
    if number:
        integer, frac, exp = number.groups()
        value = float(integer + (frac or "") + (exp or "")) if frac or exp else int(integer)
        out[path] = (i, value)
        return number.end()
    for literal, value in _CONSTANTS:
        if s.startswith(literal, i):
            out[path] = (i, value)
            return i + len(literal)
    raise ValueError(f"unexpected character {c!r} at offset {i}")


def _object(s: str, i: int, path: Path, out: dict) -> int:
    i = _WS.match(s, i + 1).end()
    if s[i] == "}":
        return i + 1
    while True:
        key, i = _scanstring(s, i + 1)
        i = _WS.match(s, i).end() + 1  # past ':'
        i = _value(s, _WS.match(s, i).end(), path + (key,), out)
        i = _WS.match(s, i).end()
        if s[i] == "}":
            return i + 1
        i = _WS.match(s, i + 1).end()  # past ','


def _array(s: str, i: int, path: Path, out: dict) -> int:
    i = _WS.match(s, i + 1).end()
    if s[i] == "]":
        return i + 1
    index = 0
    while True:
        i = _value(s, i, path + (index,), out)
        i = _WS.match(s, i).end()
        if s[i] == "]":
            return i + 1
        i = _WS.match(s, i + 1).end()
        index += 1
