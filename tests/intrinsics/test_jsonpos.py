"""Offsets of scalars in raw JSON text."""

from __future__ import annotations

import json
import random

import pytest

from intrinsics.jsonpos import scalar_offsets


def _scalars(value, path=()):
    if isinstance(value, dict):
        for k, v in value.items():
            yield from _scalars(v, path + (k,))
    elif isinstance(value, list):
        for i, v in enumerate(value):
            yield from _scalars(v, path + (i,))
    else:
        yield path, value


def _random_json(rng, depth=0):
    r = rng.random()
    if depth < 3 and r < 0.25:
        return {
            rng.choice(["a", "score", "é", 'q"t', "1", "true"]): _random_json(rng, depth + 1)
            for _ in range(rng.randint(0, 4))
        }
    if depth < 3 and r < 0.45:
        return [_random_json(rng, depth + 1) for _ in range(rng.randint(0, 4))]
    return rng.choice([0, -7, 12345, 1.5, -2.5e-8, 1e21, True, False, None, "", "x", "4", "a\\b", "\u2603", '"q"'])


@pytest.mark.parametrize("seed", range(5))
def test_offsets_point_at_each_scalar_literal(seed):
    rng = random.Random(seed)
    for _ in range(200):
        value = _random_json(rng)
        text = json.dumps(value, indent=rng.choice([None, 0, 2]), ensure_ascii=rng.random() < 0.5)
        if rng.random() < 0.3:
            text = " \n" + text + "\t"
        offsets = scalar_offsets(text)
        expected = dict(_scalars(json.loads(text)))
        assert {p: v for p, (_, v) in offsets.items()} == expected
        for path, (at, v) in offsets.items():
            decoded, _ = json.JSONDecoder().raw_decode(text, at)
            assert decoded == v, (text, path, at)


def test_compact_and_spaced_layouts():
    assert scalar_offsets('{"score": "4"}') == {("score",): (10, "4")}
    assert scalar_offsets('{ "score" :"4" }') == {("score",): (11, "4")}
    assert scalar_offsets("[1, [true, null], -0.5e3]") == {
        (0,): (1, 1),
        (1, 0): (5, True),
        (1, 1): (11, None),
        (2,): (18, -500.0),
    }
    assert scalar_offsets('"bare"') == {(): (0, "bare")}
    assert scalar_offsets("{}") == {} and scalar_offsets("[]") == {}
