"""Reports of an evaluation: ``metrics.json``, a Markdown table like the model card's, a reliability diagram.

The confidences compared, named as in ``metrics.json``:

- ``adapter``: the ``uncertainty`` intrinsic's certainty (the model card's "LoRA" column);
- ``base_sequence_probability``: exp(sum of the answer's token logprobs), the joint probability
  (the model card's "Base Model" column);
- ``base_geometric_mean``: exp(mean token logprob), the length-normalised variant (not in the card).
"""

from __future__ import annotations

import json
from pathlib import Path

from . import metrics

#: Confidence name → its field in a predictions.jsonl record, and its column title.
CONFIDENCES = {
    "base_sequence_probability": ("base_confidence", "Base Model"),
    "adapter": ("confidence", "LoRA"),
    "base_geometric_mean": ("base_confidence_geomean", "Base Model (geometric mean)"),
}

#: The model card's MMLU results (14,042 questions, zero-shot), quoted, not measured here.
MODEL_CARD = {
    "source": "granite-4.0-micro uncertainty model card, Evaluation (MMLU, 57 subjects, 14,042 questions)",
    "accuracy": 0.632,
    "base_sequence_probability": {"ece": 0.1606, "brier": 0.2535, "auroc": 0.6748, "sharpness": 0.2888},
    "adapter": {"ece": 0.0565, "brier": 0.2131, "auroc": 0.6903, "sharpness": 0.1607},
}

DEFINITIONS = {
    "ece": "10 equal-width bins, lower-exclusive and upper-inclusive, "
    "|mean confidence - accuracy| weighted by bin size",
    "brier": "mean of (confidence - correct)^2",
    "auroc": "area under the ROC curve of confidence as a detector of correct answers (ties count 1/2)",
    "sharpness": "population standard deviation of the confidences (divisor n)",
    "accuracy": "fraction of answers graded correct",
    "base_sequence_probability": "exp(sum of the generated answer's token logprobs), the joint probability",
    "base_geometric_mean": "exp(mean of the generated answer's token logprobs), length-normalised",
}

ROWS = [("ECE", "ece"), ("Brier Score", "brier"), ("AUROC", "auroc"), ("Sharpness", "sharpness")]


def compute(records: list[dict], group_key: str = "subject") -> dict:
    """Overall, per-subject and per-bin metrics of every confidence the records carry."""
    overall, subjects, bins = {}, {}, {}
    for name, (fld, _) in CONFIDENCES.items():
        rows = [r for r in records if r.get(fld) is not None]
        if not rows:
            continue
        conf, correct = [r[fld] for r in rows], [r["correct"] for r in rows]
        overall[name] = metrics.summarize(conf, correct)
        bins[name] = metrics.reliability(conf, correct)
        if any(r.get(group_key) for r in rows):
            for subject, summary in metrics.by_group(rows, group_key, fld).items():
                subjects.setdefault(subject, {})[name] = summary
    return {
        "n": len(records),
        "accuracy": metrics.accuracy([r["correct"] for r in records]) if records else None,
        "overall": overall,
        "by_subject": subjects,
        "reliability": bins,
    }


def build(records: list[dict], **context) -> dict:
    """The whole ``metrics.json`` document: the computed metrics plus where they came from."""
    return {**context, **compute(records), "definitions": DEFINITIONS, "model_card": MODEL_CARD}


def fmt(value) -> str:
    """A metric for a table: four decimals, or a dash when undefined."""
    return "—" if value is None else f"{value:.4f}"


def markdown(doc: dict) -> str:
    """The results as Markdown: the model card's table, the comparison with it, per subject."""
    overall = doc["overall"]
    cols = [n for n in ("base_sequence_probability", "adapter") if n in overall]
    title = doc.get("dataset", {}).get("name", "evaluation")
    lines = [f"# Calibration of the uncertainty adapter: {title}", ""]
    run = doc.get("run", {})
    if run:
        lines += [
            f"Measured by `granite-certainty eval` against `{run.get('model')}` + `{run.get('intrinsic')}` "
            f"at {run.get('url')}: {doc['n']} items graded ({run.get('failed', 0)} failed).",
            "",
        ]
    else:
        lines += [f"Recomputed from {doc.get('source', 'predictions')}: {doc['n']} items.", ""]
    lines += ["| Metric | " + " | ".join(CONFIDENCES[c][1] for c in cols) + " |", "|---|" + "---|" * len(cols)]
    lines += [f"| {label} | " + " | ".join(fmt(overall[c][key]) for c in cols) + " |" for label, key in ROWS]
    lines += ["", f"Accuracy: {fmt(doc['accuracy'])} over {doc['n']} items."]
    if "base_sequence_probability" in overall and overall["base_sequence_probability"]["n"] != doc["n"]:
        lines += [
            f"The base model's confidence covers {overall['base_sequence_probability']['n']} items "
            "(given answers have no sequence probability)."
        ]
    lines += [
        "",
        "## Against the model card",
        "",
        "The model card's numbers are quoted from it (MMLU, 14,042 questions); the others are this run's.",
        "",
        "| Metric | Base Model (this run) | LoRA (this run) | Base Model (model card) | LoRA (model card) |",
        "|---|---|---|---|---|",
    ]
    for label, key in ROWS:
        ours = [fmt(overall[c][key]) if c in overall else "—" for c in ("base_sequence_probability", "adapter")]
        card = [fmt(MODEL_CARD[c][key]) for c in ("base_sequence_probability", "adapter")]
        lines.append(f"| {label} | " + " | ".join(ours + card) + " |")
    # Each column's accuracy over its own items (given answers have no base-model confidence).
    acc = [fmt(overall[c]["accuracy"]) if c in overall else "—" for c in ("base_sequence_probability", "adapter")]
    lines.append(f"| Accuracy | {acc[0]} | {acc[1]} | {fmt(MODEL_CARD['accuracy'])} | {fmt(MODEL_CARD['accuracy'])} |")
    if "base_geometric_mean" in overall:
        g = overall["base_geometric_mean"]
        lines += [
            "",
            "Base model, length-normalised (exp of the mean token logprob; not in the model card): "
            + ", ".join(f"{label} {fmt(g[key])}" for label, key in ROWS)
            + ".",
        ]
    if doc["by_subject"]:
        lines += [
            "",
            "## Per subject",
            "",
            "| Subject | n | Accuracy | "
            + " | ".join(f"{label} {CONFIDENCES[c][1]}" for label, _ in ROWS[:3] for c in cols)
            + " |",
            "|---|---|---|" + "---|" * (3 * len(cols)),
        ]
        for subject, per in doc["by_subject"].items():
            any_c = next(iter(per.values()))
            cells = [fmt(per[c][key]) if c in per else "—" for _, key in ROWS[:3] for c in cols]
            lines.append(f"| {subject} | {any_c['n']} | {fmt(any_c['accuracy'])} | " + " | ".join(cells) + " |")
    return "\n".join(lines) + "\n"


def reliability_png(doc: dict, path: Path) -> None:
    """A reliability diagram per confidence: accuracy per bin against the diagonal, and bin sizes."""
    import matplotlib

    matplotlib.use("Agg")  # files only: no display needed
    import matplotlib.pyplot as plt

    names = [n for n in ("base_sequence_probability", "adapter") if n in doc["reliability"]]
    fig, axes = plt.subplots(
        2,
        len(names),
        figsize=(5.2 * len(names), 6.4),
        squeeze=False,
        gridspec_kw={"height_ratios": [3, 1]},
        sharex=True,
    )
    for col, name in enumerate(names):
        bins = doc["reliability"][name]
        top, bottom = axes[0][col], axes[1][col]
        centres = [(b["lower"] + b["upper"]) / 2 for b in bins]
        width = bins[0]["upper"] - bins[0]["lower"]
        acc = [b["accuracy"] or 0.0 for b in bins]
        gap_base = [min(b["accuracy"], b["mean_confidence"]) if b["count"] else 0.0 for b in bins]
        gap = [abs(b["accuracy"] - b["mean_confidence"]) if b["count"] else 0.0 for b in bins]
        top.bar(centres, acc, width=width * 0.95, color="#4878cf", edgecolor="black", label="accuracy")
        top.bar(
            centres,
            gap,
            bottom=gap_base,
            width=width * 0.95,
            color="#d65f5f",
            alpha=0.45,
            hatch="//",
            edgecolor="#a00000",
            label="gap to mean confidence",
        )
        conf_pts = [(c, b["mean_confidence"]) for c, b in zip(centres, bins) if b["count"]]
        top.plot([p[0] for p in conf_pts], [p[1] for p in conf_pts], "k.", label="mean confidence")
        top.plot([0, 1], [0, 1], "--", color="gray", label="perfect calibration")
        s = doc["overall"][name]
        top.set_title(f"{CONFIDENCES[name][1]}\nECE {fmt(s['ece'])}, Brier {fmt(s['brier'])}, n={s['n']}")
        top.set_xlim(0, 1)
        top.set_ylim(0, 1)
        top.set_ylabel("accuracy")
        top.legend(loc="upper left", fontsize=8)
        bottom.bar(centres, [b["count"] for b in bins], width=width * 0.95, color="#888888", edgecolor="black")
        bottom.set_xlabel("confidence (10 equal-width bins)")
        bottom.set_ylabel("items")
    fig.suptitle(f"Reliability diagram: {doc.get('dataset', {}).get('name', 'evaluation')}")
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)


def write(doc: dict, out: Path, *, png: bool = True) -> list[Path]:
    """Write ``metrics.json``, ``results.md`` and (with ``png``) ``reliability.png`` into ``out``; their paths."""
    out.mkdir(parents=True, exist_ok=True)
    paths = [out / "metrics.json", out / "results.md"]
    paths[0].write_text(json.dumps(doc, indent=2) + "\n")
    paths[1].write_text(markdown(doc))
    if png and doc["reliability"]:
        paths.append(out / "reliability.png")
        reliability_png(doc, paths[-1])
    return paths
