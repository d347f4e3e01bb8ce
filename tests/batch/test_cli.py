"""``granite-certainty score`` as a command: its arguments, the API key's sources, summary and exit status."""

import pytest

from batch import runner
from server.cli import main, parser

from .fakes import FakeGateway, plain, read_output, write_lines


@pytest.fixture
def fake(monkeypatch):
    """Every run of the command talks to a fake gateway."""
    gateway = FakeGateway()
    real = runner.run
    monkeypatch.setattr(runner, "run", lambda *a, **k: real(*a, transport=gateway.transport(), **k))
    return gateway


def score(tmp_path, *args):
    return main(["score", str(tmp_path / "in.jsonl"), "--out", str(tmp_path / "out.jsonl"), "--no-progress", *args])


def test_every_line_scored_exits_0_with_the_summary_on_stdout(tmp_path, fake, capsys):
    write_lines(tmp_path / "in.jsonl", [plain("Q1?", "A. 0.25"), plain("Q2?", "B. 0.75")])
    assert score(tmp_path, "--url", "http://gw:8000", "--api-key", "k") == 0
    out = capsys.readouterr().out
    assert "2 lines: 2 scored, 0 failed" in out and "mean certainty 0.500 over 2 answers" in out
    assert len(read_output(tmp_path / "out.jsonl")) == 2 and fake.headers[0]["authorization"] == "Bearer k"


def test_a_failed_line_exits_1(tmp_path, fake, capsys):
    write_lines(tmp_path / "in.jsonl", [plain("Q1?", "A. 0.25"), "nope"])
    assert score(tmp_path, "--url", "http://gw:8000") == 1
    assert "2 lines: 1 scored, 1 failed (1 bad line, 0 HTTP errors, 0 without an answer)" in capsys.readouterr().out


def test_a_refused_key_exits_1_saying_so(tmp_path, fake, capsys):
    import httpx

    fake.fail = lambda body, attempt: httpx.Response(401, json={"error": {"message": "Invalid API key"}})
    write_lines(tmp_path / "in.jsonl", [plain("Q1?", "A.")])
    assert score(tmp_path, "--url", "http://gw:8000") == 1
    assert "error: the gateway at http://gw:8000 refused the API key: Invalid API key" in capsys.readouterr().err


@pytest.mark.parametrize(
    "args, says",
    [
        (["--concurrency", "0"], "--concurrency must be at least 1"),
        (["--retries", "-1"], "--retries must be at least 0"),
    ],
)
def test_bad_arguments_exit_2(tmp_path, fake, capsys, args, says):
    write_lines(tmp_path / "in.jsonl", [plain("Q1?", "A.")])
    assert score(tmp_path, "--url", "http://gw:8000", *args) == 2
    assert says in capsys.readouterr().err and fake.requests == []


def test_a_missing_input_exits_2(tmp_path, capsys):
    assert score(tmp_path, "--url", "http://gw:8000") == 2
    assert "in.jsonl: no such file" in capsys.readouterr().err


def test_the_output_must_not_be_the_input(tmp_path, capsys):
    write_lines(tmp_path / "in.jsonl", [plain("Q1?", "A.")])
    assert main(["score", str(tmp_path / "in.jsonl"), "--out", str(tmp_path / "in.jsonl"), "--url", "u"]) == 2
    assert "--out must not be the input file" in capsys.readouterr().err


def test_the_api_key_defaults_to_the_projects_variable_then_openais(monkeypatch):
    argv = ["score", "in.jsonl", "--out", "o", "--url", "u"]
    monkeypatch.setenv("OPENAI_API_KEY", "openai-key")
    monkeypatch.delenv("GRANITE_CERTAINTY_API_KEY", raising=False)
    assert parser().parse_args(argv).api_key == "openai-key"
    monkeypatch.setenv("GRANITE_CERTAINTY_API_KEY", "ours")
    assert parser().parse_args(argv).api_key == "ours"
    assert parser().parse_args([*argv, "--api-key", "flag"]).api_key == "flag"
    monkeypatch.delenv("OPENAI_API_KEY")
    monkeypatch.delenv("GRANITE_CERTAINTY_API_KEY")
    assert parser().parse_args(argv).api_key is None
