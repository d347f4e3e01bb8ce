"""Calibration metrics of a confidence against correctness, in plain Python (no numpy).

Every function takes ``confidences`` (floats in [0, 1]: the probability that the answer is
right) and ``correct`` (bools, or 0/1) of the same length. Definitions, as in
``docs/evaluation.md``:

- accuracy: the fraction of answers that are correct;
- ECE: 10 equal-width bins over [0, 1], each lower-exclusive and upper-inclusive
  ((0, 0.1], (0.1, 0.2], ... with 0.0 itself in the first bin), the absolute gap between the
  bin's mean confidence and its accuracy, weighted by the bin's share of the items (the
  Thermometer paper's definition, and Guo et al.'s);
- Brier score: the mean of (confidence - correct)²;
- AUROC: the probability that a random correct answer gets a higher confidence than a random
  wrong one, ties counting one half (the Mann-Whitney statistic; equals the area under the
  ROC curve); undefined (``None``) when all answers are right or all wrong;
- sharpness: the population standard deviation of the confidences (divisor n, not n - 1):
  how far the confidences spread, whatever their calibration.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Sequence

N_BINS = 10


def _check(confidences: Sequence[float], correct: Sequence) -> tuple[list[float], list[int]]:
    """The inputs as lists of floats and 0/1 ints; ``ValueError`` saying what is wrong."""
    conf = [float(c) for c in confidences]
    labels = [int(bool(y)) for y in correct]
    if len(conf) != len(labels):
        raise ValueError(f"{len(conf)} confidences but {len(labels)} correctness labels")
    if not conf:
        raise ValueError("no items to score")
    for i, c in enumerate(conf):
        if not 0.0 <= c <= 1.0:  # also rejects NaN
            raise ValueError(f"confidence #{i} is {c!r}; confidences must lie in [0, 1]")
    return conf, labels


def accuracy(correct: Sequence) -> float:
    """The fraction of correct answers."""
    labels = [int(bool(y)) for y in correct]
    if not labels:
        raise ValueError("no items to score")
    return sum(labels) / len(labels)


def bin_index(confidence: float, n_bins: int = N_BINS) -> int:
    """The bin of a confidence: the first ``i`` with ``confidence <= (i + 1) / n_bins``.

    Compared against the boundaries themselves (not ``ceil(c * n)``, which puts 0.3 in the
    fourth bin because 0.3 * 10 is 3.0000000000000004 in floating point)."""
    for i in range(n_bins - 1):
        if confidence <= (i + 1) / n_bins:
            return i
    return n_bins - 1


def reliability(confidences: Sequence[float], correct: Sequence, n_bins: int = N_BINS) -> list[dict]:
    """Per bin: its bounds, how many items fall in it, their mean confidence and accuracy.

    Empty bins have ``count`` 0 and ``None`` for the means."""
    conf, labels = _check(confidences, correct)
    sums = [[0, 0.0, 0] for _ in range(n_bins)]  # count, sum of confidences, number correct
    for c, y in zip(conf, labels):
        s = sums[bin_index(c, n_bins)]
        s[0] += 1
        s[1] += c
        s[2] += y
    return [
        {
            "lower": i / n_bins,
            "upper": (i + 1) / n_bins,
            "count": n,
            "mean_confidence": total / n if n else None,
            "accuracy": right / n if n else None,
        }
        for i, (n, total, right) in enumerate(sums)
    ]


def ece(confidences: Sequence[float], correct: Sequence, n_bins: int = N_BINS) -> float:
    """Expected calibration error over ``n_bins`` equal-width bins, weighted by bin size."""
    bins = reliability(confidences, correct, n_bins)
    total = sum(b["count"] for b in bins)
    return math.fsum(b["count"] / total * abs(b["mean_confidence"] - b["accuracy"]) for b in bins if b["count"])


def brier(confidences: Sequence[float], correct: Sequence) -> float:
    """The Brier score: mean squared difference between confidence and correctness (0 or 1)."""
    conf, labels = _check(confidences, correct)
    return math.fsum((c - y) ** 2 for c, y in zip(conf, labels)) / len(conf)


def auroc(confidences: Sequence[float], correct: Sequence) -> float | None:
    """Area under the ROC curve of confidence as a detector of correct answers.

    Computed as the Mann-Whitney U statistic with average ranks for ties; ``None`` when
    there are no correct or no wrong answers (the curve is undefined)."""
    conf, labels = _check(confidences, correct)
    n_pos = sum(labels)
    n_neg = len(labels) - n_pos
    if n_pos == 0 or n_neg == 0:
        return None
    order = sorted(range(len(conf)), key=conf.__getitem__)
    rank_sum_pos = 0.0
    i = 0
    while i < len(order):
        j = i
        while j + 1 < len(order) and conf[order[j + 1]] == conf[order[i]]:
            j += 1
        avg_rank = (i + j) / 2 + 1  # ranks are 1-based; tied values share their mean rank
        rank_sum_pos += avg_rank * sum(labels[order[k]] for k in range(i, j + 1))
        i = j + 1
    return (rank_sum_pos - n_pos * (n_pos + 1) / 2) / (n_pos * n_neg)


def sharpness(confidences: Sequence[float]) -> float:
    """The population standard deviation of the confidences (divisor n)."""
    conf = [float(c) for c in confidences]
    if not conf:
        raise ValueError("no items to score")
    mean = math.fsum(conf) / len(conf)
    return math.sqrt(math.fsum((c - mean) ** 2 for c in conf) / len(conf))


def summarize(confidences: Sequence[float], correct: Sequence, n_bins: int = N_BINS) -> dict:
    """Every metric of one confidence: n, accuracy, mean confidence, ECE, Brier, AUROC, sharpness."""
    conf, labels = _check(confidences, correct)
    return {
        "n": len(conf),
        "accuracy": accuracy(labels),
        "mean_confidence": math.fsum(conf) / len(conf),
        "ece": ece(conf, labels, n_bins),
        "brier": brier(conf, labels),
        "auroc": auroc(conf, labels),
        "sharpness": sharpness(conf),
    }


def by_group(rows: Iterable[dict], key: str, conf_field: str, n_bins: int = N_BINS) -> dict[str, dict]:
    """``summarize`` per value of ``rows[key]`` (rows without ``conf_field`` are left out), sorted by name."""
    groups: dict[str, tuple[list, list]] = {}
    for r in rows:
        if r.get(conf_field) is None:
            continue
        conf, labels = groups.setdefault(str(r.get(key) or "(none)"), ([], []))
        conf.append(r[conf_field])
        labels.append(r["correct"])
    return {name: summarize(c, y, n_bins) for name, (c, y) in sorted(groups.items())}
