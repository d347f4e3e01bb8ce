"""The reports: metrics.json's document, the Markdown table laid out like the model card's, the PNG."""

import json
import random

import pytest

from evaluation import metrics, report


def records(n=200, seed=0):
    rng = random.Random(seed)
    out = []
    for i in range(n):
        conf = 0.1 * rng.randrange(10) + 0.05
        base = rng.random() ** 2
        out.append(
            {
                "id": str(i),
                "subject": ["algebra", "biology", "chemistry"][i % 3],
                "confidence": conf,
                "base_confidence": base,
                "base_confidence_geomean": base**0.5,
                "correct": rng.random() < conf,
            }
        )
    return out


def test_document_carries_every_metric_and_its_source():
    recs = records()
    doc = report.build(recs, dataset={"name": "mmlu"})
    assert doc["n"] == 200 and doc["dataset"] == {"name": "mmlu"}
    assert set(doc["overall"]) == {"adapter", "base_sequence_probability", "base_geometric_mean"}
    assert doc["overall"]["adapter"] == metrics.summarize([r["confidence"] for r in recs], [r["correct"] for r in recs])
    assert set(doc["by_subject"]) == {"algebra", "biology", "chemistry"}
    assert doc["by_subject"]["algebra"]["adapter"]["n"] == 67
    assert len(doc["reliability"]["adapter"]) == 10
    assert doc["model_card"]["adapter"]["ece"] == 0.0565 and "sharpness" in doc["definitions"]
    json.dumps(doc, allow_nan=False)  # strict JSON


def test_markdown_is_laid_out_like_the_model_card():
    doc = report.build(
        records(), dataset={"name": "mmlu"}, run={"url": "http://h", "model": "m", "intrinsic": "uncertainty"}
    )
    md = report.markdown(doc)
    o = doc["overall"]
    assert "| Metric | Base Model | LoRA |\n|---|---|---|\n" in md
    assert f"| ECE | {o['base_sequence_probability']['ece']:.4f} | {o['adapter']['ece']:.4f} |" in md
    for label in ("Brier Score", "AUROC", "Sharpness"):
        assert f"\n| {label} | " in md
    assert "| ECE | " in md and "| 0.1606 | 0.0565 |" in md  # the model card's numbers, quoted beside ours
    assert "## Per subject" in md and "| algebra | 67 |" in md
    assert "Base model, length-normalised" in md


def test_confidence_only_predictions():
    recs = [{"confidence": 0.9, "correct": True}, {"confidence": 0.2, "correct": False}]
    doc = report.build(recs, source="p.jsonl")
    assert list(doc["overall"]) == ["adapter"] and doc["by_subject"] == {}
    md = report.markdown(doc)
    assert "| Metric | LoRA |" in md and "| AUROC | 1.0000 |" in md and "Per subject" not in md


def test_undefined_auroc_is_a_dash_and_null():
    doc = report.build([{"confidence": 0.9, "correct": True}] * 3)
    assert doc["overall"]["adapter"]["auroc"] is None and "| AUROC | — |" in report.markdown(doc)


def test_the_png_is_a_real_image_of_the_diagram(tmp_path):
    pytest.importorskip("matplotlib")
    Image = pytest.importorskip("PIL.Image")
    paths = report.write(report.build(records(), dataset={"name": "mmlu"}), tmp_path)
    assert [p.name for p in paths] == ["metrics.json", "results.md", "reliability.png"]
    with Image.open(tmp_path / "reliability.png") as im:
        assert im.format == "PNG" and im.width > 800 and im.height > 500
        colours = im.convert("RGB").getcolors(maxcolors=1 << 16)
    assert colours is not None and len(colours) > 20  # bars, text, lines: not a blank canvas
    # The accuracy bars are drawn in the diagram's blue.
    assert any(abs(r - 0x48) < 8 and abs(g - 0x78) < 8 and abs(b - 0xCF) < 8 for _, (r, g, b) in colours)
