"""Shared helpers for the intrinsics tests: test data access and exact comparisons."""

from __future__ import annotations

import copy
import json
import math
import pathlib

DATA = pathlib.Path(__file__).parent / "data"
GRANITE_COMMON = DATA / "granite-common"
CONFIGS = DATA / "configs"
REPO = pathlib.Path(__file__).resolve().parents[2]
UNCERTAINTY_YAML = REPO / "configs" / "intrinsics" / "uncertainty" / "io.yaml"
PUBLISHED_MICRO_YAML = CONFIGS / "uncertainty-granite-4.0-micro.io.yaml"
MICRO = DATA / "mellea-uncertainty-granite-4.0-micro"
G41 = DATA / "mellea-uncertainty-granite-4.1"


def read_json(path: pathlib.Path):
    return json.loads(path.read_text(encoding="utf-8"))


def first_content(response: dict):
    """The decoded JSON content of a chat completion's first choice."""
    return json.loads(response["choices"][0]["message"]["content"])


def flatten_extra_body(request: dict) -> dict:
    """The reference's request shape (``extra_body``) as the raw HTTP body vLLM receives."""
    out = {k: v for k, v in request.items() if k != "extra_body"}
    out.update(request.get("extra_body") or {})
    return out


def assert_same(actual, expected, path="$", tol=1e-12):
    """Equal JSON values, floats within ``tol``, object keys in the same order."""
    if isinstance(expected, float) and isinstance(actual, (int, float)) and not isinstance(actual, bool):
        assert math.isclose(actual, expected, rel_tol=0, abs_tol=tol), f"{path}: {actual!r} != {expected!r}"
        return
    assert type(actual) is type(expected), f"{path}: {type(actual).__name__} != {type(expected).__name__}"
    if isinstance(expected, dict):
        assert list(actual) == list(expected), f"{path}: keys {list(actual)} != {list(expected)}"
        for key in expected:
            assert_same(actual[key], expected[key], f"{path}.{key}", tol)
    elif isinstance(expected, list):
        assert len(actual) == len(expected), f"{path}: length {len(actual)} != {len(expected)}"
        for i, (a, e) in enumerate(zip(actual, expected)):
            assert_same(a, e, f"{path}[{i}]", tol)
    else:
        assert actual == expected, f"{path}: {actual!r} != {expected!r}"


def uncertainty_response(tokens, finish_reason="stop", content=None):
    """A chat completion response whose logprobs spell ``tokens``.

    ``tokens`` is a list of (token, logprob, [(alt_token, alt_logprob), ...]).
    """
    entries = [
        {"token": t, "logprob": lp, "top_logprobs": [{"token": a, "logprob": alp} for a, alp in alts]}
        for t, lp, alts in tokens
    ]
    text = "".join(t for t, _, _ in tokens) if content is None else content
    return {
        "id": "chatcmpl-test",
        "object": "chat.completion",
        "model": "uncertainty",
        "choices": [
            {
                "index": 0,
                "message": {"role": "assistant", "content": text},
                "logprobs": {"content": entries},
                "finish_reason": finish_reason,
            }
        ],
        "usage": {"prompt_tokens": 10, "completion_tokens": len(tokens), "total_tokens": 10 + len(tokens)},
    }


def score_tokens(digit="4", logprob=-1.0, alternatives=(("5", -1.5), ("3", -2.0))):
    """Tokens of ``{"score": "<digit>"}`` as the granite-4.0-micro tokenizer splits it."""
    return [
        ('{"', 0.0, [('{"', 0.0)]),
        ("score", 0.0, [("score", 0.0)]),
        ('":', 0.0, [('":', 0.0)]),
        (' "', 0.0, [(' "', 0.0)]),
        (digit, logprob, [(digit, logprob), *alternatives]),
        ('"}', 0.0, [('"}', 0.0)]),
    ]


def deep(obj):
    return copy.deepcopy(obj)
