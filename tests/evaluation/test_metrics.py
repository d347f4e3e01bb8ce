"""The metrics against reference implementations: scikit-learn's Brier and AUROC, and the
``uncertainty-calibration`` package's ``get_ece`` (Kumar et al.) for ECE, to 1e-9."""

import math
import random

import pytest

from evaluation import metrics

np = pytest.importorskip("numpy")
skm = pytest.importorskip("sklearn.metrics")
calibration = pytest.importorskip("calibration")  # the uncertainty-calibration package

TOL = 1e-9


def reference_ece(conf, correct):
    return float(calibration.get_ece(np.array(conf, dtype=float), np.array(correct, dtype=int), num_bins=10))


def reference_brier(conf, correct):
    return float(skm.brier_score_loss(np.array(correct, dtype=int), np.array(conf, dtype=float), pos_label=1))


def random_case(rng, n, kind):
    """Confidences of several shapes: continuous, the adapter's ten values, bin edges, extremes."""
    if kind == "uniform":
        conf = [rng.random() for _ in range(n)]
    elif kind == "adapter":
        conf = [0.1 * rng.randrange(10) + 0.05 for _ in range(n)]
    elif kind == "edges":
        conf = [rng.randrange(11) / 10 for _ in range(n)]
    elif kind == "extremes":
        conf = [rng.choice([0.0, 1.0, 1e-12, 1 - 1e-12, 0.5]) for _ in range(n)]
    else:  # skewed, like sequence probabilities
        conf = [rng.random() ** 4 for _ in range(n)]
    correct = [rng.random() < c * 0.8 + 0.1 for c in conf]
    return conf, correct


CASES = [
    (seed, n, kind)
    for seed in range(6)
    for n in (1, 2, 7, 100, 1000)
    for kind in ("uniform", "adapter", "edges", "extremes", "skewed")
]


@pytest.mark.parametrize("seed,n,kind", CASES)
def test_metrics_match_the_references(seed, n, kind):
    conf, correct = random_case(random.Random(f"{seed}-{n}-{kind}"), n, kind)
    assert metrics.ece(conf, correct) == pytest.approx(reference_ece(conf, correct), abs=TOL)
    assert metrics.brier(conf, correct) == pytest.approx(reference_brier(conf, correct), abs=TOL)
    if 0 < sum(correct) < n:
        assert metrics.auroc(conf, correct) == pytest.approx(skm.roc_auc_score(correct, conf), abs=TOL)
    else:
        assert metrics.auroc(conf, correct) is None
    assert metrics.sharpness(conf) == pytest.approx(float(np.std(conf)), abs=TOL)
    assert metrics.accuracy(correct) == pytest.approx(float(np.mean(correct)), abs=TOL)


@pytest.mark.parametrize(
    "conf,correct",
    [
        ([0.0], [False]),
        ([1.0], [True]),
        ([0.1, 0.2, 0.3, 0.4, 0.5, 0.6, 0.7, 0.8, 0.9, 1.0], [True] * 10),
        ([0.3] * 5, [True, False, True, False, False]),
        ([0.05] * 3 + [0.95] * 3, [False] * 3 + [True] * 3),
        ([0.30000000000000004, 0.29999999999999993, 0.3], [True, False, True]),
    ],
)
def test_edge_cases_match_the_references(conf, correct):
    assert metrics.ece(conf, correct) == pytest.approx(reference_ece(conf, correct), abs=TOL)
    assert metrics.brier(conf, correct) == pytest.approx(reference_brier(conf, correct), abs=TOL)


def test_bins_are_lower_exclusive_upper_inclusive():
    assert [metrics.bin_index(c) for c in (0.0, 0.1, 0.1000001, 0.3, 0.30000000000000004, 0.95, 1.0)] == [
        0,
        0,
        1,
        2,
        3,
        9,
        9,
    ]
    bins = metrics.reliability([0.0, 0.1, 0.15, 1.0], [1, 0, 1, 1])
    assert [b["count"] for b in bins] == [2, 1, 0, 0, 0, 0, 0, 0, 0, 1]
    assert bins[0]["accuracy"] == 0.5 and bins[0]["mean_confidence"] == pytest.approx(0.05)
    assert bins[2]["accuracy"] is None


def test_known_values():
    # Perfect calibration in each bin: ECE 0.
    assert metrics.ece([0.25] * 4, [1, 0, 0, 0]) == pytest.approx(0.0)
    # Always 0.95, always wrong: ECE 0.95, Brier 0.9025, no spread.
    assert metrics.ece([0.95] * 3, [0, 0, 0]) == pytest.approx(0.95)
    assert metrics.brier([0.95] * 3, [0, 0, 0]) == pytest.approx(0.9025)
    assert metrics.sharpness([0.95] * 3) == pytest.approx(0.0, abs=1e-15)
    assert metrics.auroc([0.1, 0.2, 0.8, 0.9], [0, 0, 1, 1]) == 1.0
    assert metrics.auroc([0.5, 0.5], [0, 1]) == 0.5


@pytest.mark.parametrize(
    "conf,correct,message",
    [
        ([], [], "no items"),
        ([0.5], [1, 0], "1 confidences but 2"),
        ([1.5], [1], "must lie in [0, 1]"),
        ([math.nan], [1], "must lie in [0, 1]"),
        ([-0.1], [0], "must lie in [0, 1]"),
    ],
)
def test_bad_input_is_a_clear_error(conf, correct, message):
    with pytest.raises(ValueError, match=message.replace("[", r"\[").replace("]", r"\]")):
        metrics.summarize(conf, correct)


def test_summarize_and_groups():
    rows = [
        {"subject": "a", "confidence": 0.9, "correct": True},
        {"subject": "a", "confidence": 0.2, "correct": False},
        {"subject": "b", "confidence": 0.6, "correct": True},
        {"subject": "b", "confidence": None, "correct": True},
    ]
    groups = metrics.by_group(rows, "subject", "confidence")
    assert list(groups) == ["a", "b"] and groups["b"]["n"] == 1 and groups["b"]["auroc"] is None
    s = metrics.summarize([0.9, 0.2], [True, False])
    assert s == groups["a"] and s["auroc"] == 1.0 and s["n"] == 2
