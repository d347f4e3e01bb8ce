"""The likelihood rule's arithmetic and token-matching semantics."""

from __future__ import annotations

import math

import pytest

import intrinsics

from .helpers import CONFIGS, MICRO, UNCERTAINTY_YAML, read_json, score_tokens, uncertainty_response

DIGIT_VALUES = {str(d): 0.1 * d + 0.05 for d in range(10)}


@pytest.fixture(scope="module")
def certainty():
    return intrinsics.load(UNCERTAINTY_YAML)


def _expected(pairs):
    """Independent statement of the rule: sum(p * v) / sum(p) over matched pairs."""
    total = sum(math.exp(lp) for lp, _ in pairs)
    return sum(math.exp(lp) * v for lp, v in pairs) / total


def _score(intrinsic, tokens, **kw):
    return intrinsic.process_choice(uncertainty_response(tokens, **kw)["choices"][0])["certainty"]


def test_worked_example_from_the_real_model(certainty):
    response = read_json(MICRO / "test_canned_output_model_output_uncertainty.json")
    entry = response["choices"][0]["logprobs"]["content"][4]
    assert entry["token"] == "4"
    pairs = [(entry["logprob"], DIGIT_VALUES["4"])]
    pairs += [(a["logprob"], DIGIT_VALUES[a["token"]]) for a in entry["top_logprobs"] if a["token"] != "4"]
    expected = _expected(pairs)
    assert certainty.process_choice(response["choices"][0])["certainty"] == pytest.approx(expected, abs=1e-12)
    assert expected == pytest.approx(0.45971526637680044, abs=1e-12)


def test_chosen_token_repeated_among_alternatives_counts_once(certainty):
    once = _score(certainty, score_tokens("4", -0.5, [("5", -1.0)]))
    twice = _score(certainty, score_tokens("4", -0.5, [("4", -0.5), ("5", -1.0)]))
    assert once == twice == pytest.approx(_expected([(-0.5, 0.45), (-1.0, 0.55)]))


def test_categories_missing_from_top_k_weigh_nothing(certainty):
    assert _score(certainty, score_tokens("7", -0.01, [])) == pytest.approx(0.75)


def test_masked_alternatives_weigh_nothing(certainty):
    value = _score(certainty, score_tokens("2", -0.3, [("3", -9999.0), ("9", -3.4028234663852886e38), ("1", -2.0)]))
    assert value == pytest.approx(_expected([(-0.3, 0.25), (-2.0, 0.15)]))


@pytest.mark.parametrize("bad", [math.nan, math.inf, -math.inf, 0.5, 1000.0, 1])
@pytest.mark.parametrize("where", ["chosen", "alternative"])
def test_a_logprob_that_is_not_finite_and_at_most_zero_is_refused_not_used(certainty, bad, where):
    tokens = score_tokens("4", bad, [("5", -1.0)]) if where == "chosen" else score_tokens("4", -0.5, [("5", bad)])
    with pytest.raises(intrinsics.MissingLogprobsError, match="finite number <= 0"):
        _score(certainty, tokens)


def test_non_category_alternatives_are_ignored(certainty):
    value = _score(certainty, score_tokens("6", -0.2, [("{", -1.0), (" 6", -1.5), ("66", -1.7), ("5", -2.0)]))
    assert value == pytest.approx(_expected([(-0.2, 0.65), (-2.0, 0.55)]))


def test_first_category_prefixed_by_a_token_takes_its_weight():
    intrinsic = intrinsics.from_dict(
        {
            "model": None,
            "response_format": None,
            "transformations": [
                {
                    "type": "likelihood",
                    "input_path": [],
                    "categories_to_values": {"relevant": 1.0, "irrelevant": 0.0, "partially relevant": 0.5},
                }
            ],
        },
        name="t",
    )
    tokens = [
        ('"', 0.0, []),
        ("part", -1.0, [("part", -1.0), ("ir", -0.7), ("re", -2.0)]),
        ('ially relevant"', 0.0, []),
    ]
    # "part" is the chosen token but "partially relevant" is the value: the chosen value
    # weighs exp(-1.0); "ir" -> irrelevant; "re" -> relevant (first category it prefixes).
    value = intrinsic.process_choice(uncertainty_response(tokens)["choices"][0])
    assert value == pytest.approx(_expected([(-1.0, 0.5), (-0.7, 0.0), (-2.0, 1.0)]))


def test_boolean_categories_match_alternatives_by_python_str():
    # As in the reference: str(True) == "True", so the JSON token "false" matches no
    # category and a confident "true" scores exactly 1.0 (requirement_check vector).
    intrinsic = intrinsics.from_dict(
        {
            "model": None,
            "response_format": '{"type": "boolean"}',
            "transformations": [
                {"type": "likelihood", "input_path": [], "categories_to_values": {True: 1.0, False: 0.0}}
            ],
        },
        name="t",
    )
    tokens = [("true", -0.4, [("true", -0.4), ("false", -1.1)])]
    assert intrinsic.process_choice(uncertainty_response(tokens)["choices"][0]) == 1.0


def test_value_inside_a_token_takes_the_category_value(certainty):
    # '": "4"' ends with the whole literal "4": no alternatives are knowable, the
    # reference returns the category's value unweighted.
    tokens = [('{"score', 0.0, []), ('": "4"', -0.9, [("x", -0.1)]), ("}", 0.0, [])]
    assert _score(certainty, tokens) == 0.45


def test_integer_scores_skip_no_quote():
    intrinsic = intrinsics.load(CONFIGS / "uncertainty-granite-3.3.yaml")
    tokens = [("3", -0.5, [("3", -0.5), ("4", -1.0)])]
    value = intrinsic.process_choice(uncertainty_response(tokens)["choices"][0])["certainty"]
    assert value == pytest.approx(_expected([(-0.5, 0.35), (-1.0, 0.45)]))


def test_every_wildcard_match_is_scored_from_its_own_token():
    intrinsic = intrinsics.from_dict(
        {
            "model": None,
            "response_format": None,
            "transformations": [
                {"type": "likelihood", "input_path": [None, "f"], "categories_to_values": {"yes": 1.0, "no": 0.0}}
            ],
        },
        name="t",
    )
    tokens = [
        ('[{"f": "', 0.0, []),
        ("yes", -0.1, [("no", -2.0)]),
        ('"}, {"f": "', 0.0, []),
        ("no", -0.2, [("yes", -1.5)]),
        ('"}]', 0.0, []),
    ]
    result = intrinsic.process_choice(uncertainty_response(tokens)["choices"][0])
    assert result[0]["f"] == pytest.approx(_expected([(-0.1, 1.0), (-2.0, 0.0)]))
    assert result[1]["f"] == pytest.approx(_expected([(-0.2, 0.0), (-1.5, 1.0)]))
