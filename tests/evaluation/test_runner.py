"""The runner against a fake gateway: what it asks, what it writes as it goes, resuming, failures."""

import asyncio
import json

import httpx
import pytest

from evaluation import datasets, runner
from evaluation.runner import EvalError, RunConfig

from .fakes import FakeGateway, mc_rows, write_jsonl


def load(tmp_path, rows):
    return datasets.load(write_jsonl(tmp_path / "data.jsonl", rows))


def run(ds, out, fake, items=None, **cfg):
    config = RunConfig(url="http://gw:8000/v1/", progress=False, backoff_s=0, **cfg)
    return asyncio.run(runner.run(ds, ds.items if items is None else items, out, config, transport=fake.transport()))


def test_each_item_is_answered_graded_scored_and_written(tmp_path):
    fake = FakeGateway()
    fake.answers = {"Question 1?": "B. b", "Question 2?": "I would say A"}
    ds = load(tmp_path, mc_rows(4))
    result = run(ds, tmp_path / "out", fake, api_key="sekret", max_tokens=16)
    assert result.new == 4 and result.resumed == 0 and not result.failures and result.model == "tiny-granite"
    base = [r for r in fake.requests if r["model"] == "tiny-granite"]
    scored = [r for r in fake.requests if r["model"] == "uncertainty"]
    assert len(base) == len(scored) == 4
    assert base[0] == {
        "model": "tiny-granite",
        "messages": [{"role": "user", "content": base[0]["messages"][0]["content"]}],
        "max_tokens": 16,
        "temperature": 0,
        "logprobs": True,
    }
    # The intrinsic sees exactly the question as asked and the model's own answer.
    for b, s in zip(sorted(base, key=str), sorted(scored, key=str)):
        assert s["messages"][0] == b["messages"][0] and s["messages"][1]["role"] == "assistant"
    assert all(h.get("authorization") == "Bearer sekret" for h in fake.headers)
    lines = [json.loads(x) for x in (tmp_path / "out" / runner.PREDICTIONS).read_text().splitlines()]
    by_id = {r["id"]: r for r in lines}
    assert set(by_id) == {"0", "1", "2", "3"}
    assert (by_id["1"]["chosen"], by_id["1"]["gold"], by_id["1"]["correct"]) == ("B", "B", True)
    assert (by_id["2"]["chosen"], by_id["2"]["correct"]) == ("A", False)
    r = by_id["0"]
    assert r["confidence"] == 0.75 and r["base_logprob"] == pytest.approx(-0.75) and r["n_tokens"] == 2
    assert r["base_confidence"] == pytest.approx(0.4723665527410147)
    assert r["base_confidence_geomean"] == pytest.approx(0.6872892787909722)
    assert r["subject"] == "algebra" and r["kind"] == "multiple_choice" and r["finish_reason"] == "stop"
    run_file = json.loads((tmp_path / "out" / runner.RUN_FILE).read_text())
    assert run_file["model"] == "tiny-granite" and run_file["sha256"] == ds.sha256


def test_a_rerun_resumes_and_a_torn_last_line_is_redone(tmp_path):
    ds = load(tmp_path, mc_rows(6))
    out = tmp_path / "out"
    fake = FakeGateway()
    run(ds, out, fake, items=ds.items[:3])
    path = out / runner.PREDICTIONS
    path.write_text(path.read_text() + '{"id": "3", "conf')  # killed mid-write
    fake2 = FakeGateway()
    result = run(ds, out, fake2)
    assert result.resumed == 3 and result.new == 3 and len(result.records) == 6
    assert len([r for r in fake2.requests if r["model"] == "uncertainty"]) == 3
    assert sorted(json.loads(x)["id"] for x in path.read_text().splitlines()) == [str(i) for i in range(6)]
    fake3 = FakeGateway()
    assert run(ds, out, fake3).new == 0 and fake3.requests == []


def test_another_run_in_the_same_directory_is_refused(tmp_path):
    ds = load(tmp_path, mc_rows(2))
    run(ds, tmp_path / "out", FakeGateway())
    with pytest.raises(EvalError, match=r"holds another run \(max_tokens: 128 then, 5 now\); use a new --out"):
        run(ds, tmp_path / "out", FakeGateway(), max_tokens=5)


def test_transient_failures_are_retried(tmp_path):
    fake = FakeGateway()
    seen = []
    fake.fail = lambda body: (
        (seen.append(1) or httpx.Response(503, json={"error": {"message": "busy"}})) if len(seen) < 2 else None
    )
    result = run(load(tmp_path, mc_rows(1)), tmp_path / "out", fake)
    assert result.new == 1 and not result.failures and len(seen) == 2


def test_an_item_that_keeps_failing_is_reported_and_left_for_a_rerun(tmp_path):
    fake = FakeGateway()
    fake.fail = lambda body: (
        httpx.Response(400, json={"error": {"message": "prompt too long"}})
        if "Question 1?" in body["messages"][0]["content"]
        else None
    )
    ds = load(tmp_path, mc_rows(3))
    result = run(ds, tmp_path / "out", fake, retries=2)
    assert result.new == 2 and result.failures == [{"id": "1", "error": "HTTP 400: prompt too long"}]
    fake.fail = lambda body: None
    again = run(ds, tmp_path / "out", fake)
    assert again.new == 1 and again.resumed == 2


def test_an_unusable_certainty_fails_the_item(tmp_path):
    fake = FakeGateway()
    fake.certainty = "high"
    result = run(load(tmp_path, mc_rows(1)), tmp_path / "out", fake)
    assert result.new == 0 and "has no certainty" in result.failures[0]["error"]
    fake.certainty = 1.5
    result = run(load(tmp_path, mc_rows(1)), tmp_path / "out", fake)
    assert "is not a probability" in result.failures[0]["error"]


def test_a_server_that_is_down_stops_the_run(tmp_path):
    fake = FakeGateway()
    fake.fail = lambda body: httpx.Response(503, json={"error": {"message": "vLLM is not reachable"}})
    with pytest.raises(EvalError, match="3 items in a row failed; last: HTTP 503: vLLM is not reachable"):
        run(load(tmp_path, mc_rows(5)), tmp_path / "out", fake, retries=0, max_consecutive_failures=3, concurrency=1)


@pytest.mark.parametrize("status,message", [(401, "Invalid API key"), (404, "does not exist")])
def test_a_bad_key_or_model_stops_the_run_at_once(tmp_path, status, message):
    fake = FakeGateway()
    fake.fail = lambda body: httpx.Response(status, json={"error": {"message": message}})
    with pytest.raises(EvalError, match=f"HTTP {status}: {message}"):
        run(load(tmp_path, mc_rows(3)), tmp_path / "out", fake)
    assert len(fake.requests) <= 8  # no retries of a fatal status


def test_model_discovery(tmp_path):
    ds = load(tmp_path, mc_rows(1))
    with pytest.raises(EvalError, match=r"does not serve 'other' \(it serves \['tiny-granite', 'uncertainty'\]\)"):
        run(ds, tmp_path / "o1", FakeGateway(), model="other")
    with pytest.raises(EvalError, match="does not serve 'certainty2'"):
        run(ds, tmp_path / "o2", FakeGateway(), intrinsic="certainty2")
    unreachable = httpx.MockTransport(lambda req: (_ for _ in ()).throw(httpx.ConnectError("refused")))
    cfg = RunConfig(url="http://gw:1", progress=False)
    with pytest.raises(EvalError, match="cannot reach the gateway at http://gw:1"):
        asyncio.run(runner.run(ds, ds.items, tmp_path / "o3", cfg, transport=unreachable))


def test_given_answers_are_scored_without_generation(tmp_path):
    fake = FakeGateway()
    ds = load(
        tmp_path,
        [
            {"question": "Capital of France?", "response": "Lyon", "correct": False},
            {"question": "Who wrote Hamlet?", "response": "Shakespeare", "references": ["Shakespeare"]},
        ],
    )
    result = run(ds, tmp_path / "out", fake)
    assert [r["model"] for r in fake.requests] == ["uncertainty", "uncertainty"]
    recs = {r["id"]: r for r in result.records}
    assert recs["0"]["correct"] is False and recs["1"]["correct"] is True
    assert recs["0"]["base_confidence"] is None and recs["0"]["confidence"] == 0.75


def test_no_logprobs_means_no_baseline(tmp_path):
    fake = FakeGateway()
    fake.logprobs = False
    result = run(load(tmp_path, mc_rows(1)), tmp_path / "out", fake)
    assert result.records[0]["base_confidence"] is None and result.records[0]["confidence"] == 0.75


def test_select_is_a_seeded_prefix_stable_superset():
    items = [datasets.Item(id=str(i), question="q", references=("r",)) for i in range(50)]
    ten, twenty = runner.select(items, 10, seed=0), runner.select(items, 20, seed=0)
    assert twenty[:10] == ten and [it.id for it in ten] != [str(i) for i in range(10)]
    assert runner.select(items, None) == items and runner.select(items, 100) == items
    assert runner.select(items, 10, seed=1) != ten


def test_base_url_forms():
    assert {
        runner.base_url(u) for u in ("http://h:8000", "http://h:8000/", "http://h:8000/v1", "http://h:8000/v1/")
    } == {"http://h:8000"}
