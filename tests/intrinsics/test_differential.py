"""Randomised differential test of uncertainty scoring against granite-common 0.4.1.

Hundreds of generated responses vary what matters to the likelihood rule: JSON layout,
how the output is cut into tokens (including the digit merged into the token before it),
top-10 lists with and without the chosen token, duplicates, masked (-9999 and -3.4e38)
entries, multi-character and non-category tokens.  The result must agree with the
reference to 1e-9 (it is in fact bit-identical).
"""

from __future__ import annotations

import json
import random

import pytest
import yaml

import intrinsics

from .helpers import UNCERTAINTY_YAML

gc = pytest.importorskip("granite_common")

CASES = 600
DIGITS = "0123456789"
LAYOUTS = ['{"score": "%s"}', '{"score":"%s"}', '{ "score": "%s" }', '{\n  "score": "%s"\n}']
NOISE = ["{", "}", " ", '"', "\n", "a", "score", "10", "45", "x9", " 4", "4 ", "-", "９"]
MASKED = (-9999.0, -3.4028234663852886e38)


def _tokenize(rng: random.Random, text: str, value_at: int) -> tuple[list[str], int, bool]:
    """Cut ``text`` into tokens; return them, the index of the value's token, and
    whether the value shares a token with what precedes it (the suffix case)."""
    merged = rng.random() < 0.1
    cuts = {0, len(text)}
    for i in range(1, len(text)):
        if rng.random() < 0.35:
            cuts.add(i)
    end_of_value = value_at + 2  # digit and closing quote
    cuts.add(end_of_value)
    if merged:
        # '..."4"' in one token: the reference then returns the category's value.
        cuts -= {value_at - 1, value_at, value_at + 1}
        cuts.add(value_at - 2 if value_at >= 2 else 0)
    else:
        cuts.add(value_at)
        cuts.add(value_at + 1)
    points = sorted(cuts)
    tokens = [text[a:b] for a, b in zip(points, points[1:])]
    index = next(i for i, (a, b) in enumerate(zip(points, points[1:])) if a <= value_at < b)
    return tokens, index, merged


def _alternatives(rng: random.Random, chosen: str, chosen_lp: float) -> list[tuple[str, float]]:
    alts = []
    if rng.random() < 0.8:
        alts.append((chosen, chosen_lp))
    for _ in range(rng.randint(0, 10 - len(alts))):
        r = rng.random()
        if r < 0.6:
            token = rng.choice(DIGITS)
        elif r < 0.95:
            token = rng.choice(NOISE)
        else:
            token = ""  # prefixes every category; the reference gives it to the first
        lp = rng.choice(MASKED) if rng.random() < 0.2 else chosen_lp - rng.uniform(0, 12)
        alts.append((token, lp))
    rng.shuffle(alts)
    return alts[:10]


def _response(rng: random.Random) -> dict:
    digit = rng.choice(DIGITS)
    layout = rng.choice(LAYOUTS)
    text = layout % digit
    value_at = text.index('"%s"' % digit, text.index(":")) + 1
    tokens, index, _ = _tokenize(rng, text, value_at)
    chosen_lp = -rng.choice([0.0, rng.uniform(0, 0.1), rng.uniform(0, 3), rng.uniform(0, 12)])
    entries = []
    for i, token in enumerate(tokens):
        if i == index:
            entries.append(
                {
                    "token": token,
                    "logprob": chosen_lp,
                    "top_logprobs": [{"token": t, "logprob": lp} for t, lp in _alternatives(rng, token, chosen_lp)],
                }
            )
        else:
            entries.append({"token": token, "logprob": 0.0, "top_logprobs": [{"token": token, "logprob": 0.0}]})
    return {
        "choices": [
            {
                "index": 0,
                "message": {"role": "assistant", "content": text},
                "logprobs": {"content": entries},
                "finish_reason": "stop",
            }
        ]
    }


@pytest.fixture(scope="module")
def pair():
    config = yaml.safe_load(UNCERTAINTY_YAML.read_text())
    del config["name"]  # granite-common 0.4.1 predates the 'name' key
    return intrinsics.load(UNCERTAINTY_YAML), gc.IntrinsicsResultProcessor(config_dict=config)


def test_uncertainty_agrees_with_granite_common(pair):
    ours, reference = pair
    rng = random.Random(20240917)
    identical = 0
    for case in range(CASES):
        response = _response(rng)
        choice = response["choices"][0]
        theirs = json.loads(reference.transform(response).choices[0].message.content)["certainty"]
        mine = ours.process_choice(choice)["certainty"]
        assert abs(mine - theirs) <= 1e-9, (case, choice["message"]["content"], choice["logprobs"])
        identical += mine == theirs
    assert identical == CASES


def test_generator_covers_the_interesting_cases():
    """Guard against a generator that silently stops producing the hard cases."""
    rng = random.Random(20240917)
    seen = {"merged": 0, "chosen_absent": 0, "masked": 0, "noise": 0, "multi": 0}
    for _ in range(CASES):
        response = _response(rng)
        entries = response["choices"][0]["logprobs"]["content"]
        scored = max(entries, key=lambda e: len(e["top_logprobs"]))
        alts = [a["token"] for a in scored["top_logprobs"]]
        seen["merged"] += scored["token"].endswith('"') and len(scored["token"]) > 2
        seen["chosen_absent"] += scored["token"] not in alts
        seen["masked"] += any(a["logprob"] in MASKED for a in scored["top_logprobs"])
        seen["noise"] += any(a in NOISE for a in alts)
        seen["multi"] += len(entries) > 6
    assert all(count >= 20 for count in seen.values()), seen
