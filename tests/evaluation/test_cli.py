"""``granite-certainty eval`` and ``eval metrics`` through the real CLI entry point, on a fake gateway."""

import functools
import json

import pytest

from evaluation import metrics, runner
from server.cli import main

from .fakes import FakeGateway, mc_rows, write_jsonl


@pytest.fixture
def fake(monkeypatch):
    gw = FakeGateway()
    monkeypatch.setattr(runner, "run", functools.partial(runner.run, transport=gw.transport()))
    return gw


def test_eval_writes_every_output(tmp_path, fake, capsys):
    fake.answers = {"Question 0?": "A", "Question 5?": "B"}
    data = write_jsonl(tmp_path / "d.jsonl", mc_rows(8))
    out = tmp_path / "out"
    assert (
        main(["eval", "--url", "http://gw", "--dataset", data, "--out", str(out), "--limit", "6", "--no-progress"]) == 0
    )
    assert sorted(p.name for p in out.iterdir()) == [
        "metrics.json",
        "predictions.jsonl",
        "reliability.png",
        "results.md",
        "run.json",
    ]
    doc = json.loads((out / "metrics.json").read_text())
    assert doc["n"] == 6 and doc["run"]["failed"] == 0 and doc["dataset"]["selected"] == 6
    preds = [json.loads(x) for x in (out / "predictions.jsonl").read_text().splitlines()]
    assert doc["overall"]["adapter"]["ece"] == metrics.ece(
        [p["confidence"] for p in preds], [p["correct"] for p in preds]
    )
    printed = capsys.readouterr().out
    assert "| Metric | Base Model | LoRA |" in printed


def test_eval_metrics_recomputes_offline(tmp_path, capsys):
    path = write_jsonl(
        tmp_path / "p.jsonl",
        [
            {"confidence": 0.95, "correct": True},
            {"confidence": 0.25, "correct": False},
            {"confidence": 0.65, "correct": False},
        ],
    )
    assert main(["eval", "metrics", path, "--json"]) == 0
    doc = json.loads(capsys.readouterr().out)
    assert doc["overall"]["adapter"]["ece"] == pytest.approx(metrics.ece([0.95, 0.25, 0.65], [1, 0, 0]))
    assert doc["overall"]["adapter"]["brier"] == pytest.approx((0.05**2 + 0.25**2 + 0.65**2) / 3)
    assert main(["eval", "metrics", path, "--out", str(tmp_path / "r")]) == 0
    assert "| Metric | LoRA |" in capsys.readouterr().out
    assert (tmp_path / "r" / "reliability.png").stat().st_size > 1000


@pytest.mark.parametrize(
    "line,message",
    [
        ('{"confidence": 1.2, "correct": true}', "line 1: 'confidence' must be a number in [0, 1], not 1.2"),
        ('{"confidence": 0.5, "correct": 1}', "line 1: 'correct' must be true or false, not 1"),
        ('{"correct": true}', "'confidence' must be a number in [0, 1], not None"),
        ("[1]", "expected a JSON object"),
        ("{", "not valid JSON"),
        ("", "no predictions"),
    ],
)
def test_eval_metrics_bad_input_is_one_clear_line(tmp_path, capsys, line, message):
    (tmp_path / "p.jsonl").write_text(line + "\n")
    assert main(["eval", "metrics", str(tmp_path / "p.jsonl")]) == 2
    err = capsys.readouterr().err
    assert message in err and "Traceback" not in err and err.count("\n") == 1


@pytest.mark.parametrize(
    "argv,status,message",
    [
        (["--url", "http://gw", "--out", "o"], 2, "the following arguments are required: --dataset"),
        (["--url", "http://gw", "--dataset", "nope.jsonl", "--out", "o"], 2, "no such file"),
        (
            ["--url", "http://gw", "--dataset", "D", "--out", "o", "--concurrency", "0"],
            2,
            "--concurrency must be at least 1",
        ),
        (["--url", "http://gw", "--dataset", "D", "--out", "o", "--model", "gpt-9"], 1, "does not serve 'gpt-9'"),
    ],
)
def test_eval_user_errors(tmp_path, fake, capsys, argv, status, message):
    data = write_jsonl(tmp_path / "d.jsonl", mc_rows(2))
    argv = [a.replace("D", data) if a == "D" else a.replace("o", str(tmp_path / "o")) if a == "o" else a for a in argv]
    try:
        code = main(["eval", *argv])
    except SystemExit as exc:  # argparse's own usage errors
        code = exc.code
    assert code == status
    err = capsys.readouterr().err
    assert message in err and "Traceback" not in err


def test_failed_items_are_listed_and_the_exit_status_says_so(tmp_path, fake, capsys):
    import httpx

    fake.fail = lambda body: (
        httpx.Response(400, json={"error": {"message": "too long"}})
        if "Question 1?" in body["messages"][0]["content"]
        else None
    )
    data = write_jsonl(tmp_path / "d.jsonl", mc_rows(3))
    out = tmp_path / "out"
    assert main(["eval", "--url", "http://gw", "--dataset", data, "--out", str(out), "--no-progress"]) == 1
    assert json.loads((out / "failures.jsonl").read_text()) == {"id": "1", "error": "HTTP 400: too long"}
    assert json.loads((out / "metrics.json").read_text())["n"] == 2
    assert "1 items failed" in capsys.readouterr().err


def test_a_larger_limit_reuses_the_items_done(tmp_path, fake):
    data = write_jsonl(tmp_path / "d.jsonl", mc_rows(10))
    out = tmp_path / "out"
    base = ["eval", "--url", "http://gw", "--dataset", data, "--out", str(out), "--no-progress"]
    assert main([*base, "--limit", "3"]) == 0
    first = {json.loads(x)["id"] for x in (out / "predictions.jsonl").read_text().splitlines()}
    asked = len(fake.requests)
    assert main([*base, "--limit", "5"]) == 0
    doc = json.loads((out / "metrics.json").read_text())
    assert (doc["run"]["resumed"], doc["run"]["new"], doc["n"]) == (3, 2, 5)
    assert len(fake.requests) - asked == 4  # two new items, two requests each
    assert main([*base, "--limit", "2"]) == 0  # a subset: nothing asked, reports cover those two
    doc = json.loads((out / "metrics.json").read_text())
    assert doc["n"] == 2 and doc["run"]["new"] == 0 and len(first) == 3
