"""The runner against a fake gateway: what it sends, retries, what it writes, resuming, the summary."""

import asyncio
import email.utils
import time

import httpx
import pytest

from batch import output, runner
from batch.runner import ScoreConfig, Summary

from .fakes import BASE, FakeGateway, plain, read_output, write_lines

BATCH_BODY = {"model": BASE, "messages": plain("Q?", "A. 0.8")["messages"], "certainty": True}
BATCH_LINE = {"custom_id": "b", "method": "POST", "url": "/v1/chat/completions", "body": BATCH_BODY}


def score(tmp_path, fake, lines=None, **cfg):
    inp = tmp_path / "in.jsonl"
    if lines is not None:
        write_lines(inp, lines)
    config = ScoreConfig(url="http://gw:8000/v1/", progress=False, backoff_s=0, **cfg)
    return asyncio.run(runner.run(inp, tmp_path / "out.jsonl", config, Summary(), transport=fake.transport()))


def by_id(tmp_path):
    lines = read_output(tmp_path / "out.jsonl")
    ids = [r["custom_id"] for r in lines]
    assert len(ids) == len(set(ids)), ids  # every line once
    return {r["custom_id"]: r for r in lines}


def test_each_line_is_sent_and_written_as_an_openai_batch_output_line(tmp_path):
    fake = FakeGateway()
    summary = score(tmp_path, fake, [plain("Q1?", "A. 0.2"), plain("Q2?", "B. 0.6", documents=[]), BATCH_LINE])
    assert fake.requests[0] == {"model": "uncertainty", "messages": plain("Q1?", "A. 0.2")["messages"]}
    assert fake.requests[1]["documents"] == [] and fake.requests[2] == BATCH_BODY
    out = by_id(tmp_path)
    assert set(out) == {"line-1", "line-2", "b"}
    line = out["line-1"]
    assert set(line) == {"id", "custom_id", "response", "error"} and line["id"].startswith("batch_req_")
    assert line["error"] is None and line["response"]["status_code"] == 200 and line["response"]["request_id"] is None
    assert line["response"]["body"]["choices"][0]["message"]["content"] == '{"certainty": 0.2}'
    assert out["b"]["response"]["body"]["choices"][0]["certainty"] == 0.8
    assert (summary.lines, summary.scored, summary.failed, summary.skipped) == (3, 3, 0, 0)
    assert sorted(summary.certainties) == [0.2, 0.6, 0.8]
    assert "3 lines: 3 scored, 0 failed" in summary.text(tmp_path / "o") and "mean certainty 0.533" in summary.text(
        tmp_path / "o"
    )


def test_bad_lines_get_error_lines_and_the_rest_go_on(tmp_path):
    fake = FakeGateway()
    summary = score(
        tmp_path, fake, [plain("Q?", "A."), "{oops", {"messages": []}, {**BATCH_LINE, "url": "/x"}, BATCH_LINE]
    )
    assert len(fake.requests) == 1  # the last line's custom_id "b" is taken by line 4
    out = read_output(tmp_path / "out.jsonl")
    errors = {r["error"]["line"]: r for r in out if r["error"]}
    assert sorted(errors) == [2, 3, 4, 5]
    assert errors[2]["custom_id"] is None and errors[2]["response"] is None
    assert errors[2]["error"]["code"] == "invalid_line" and errors[2]["error"]["message"].startswith(
        "line 2: not valid"
    )
    assert errors[3]["custom_id"] == "line-3" and errors[4]["custom_id"] == "b"
    assert "duplicate custom_id 'b' (first on line 4)" in errors[5]["error"]["message"]
    assert (summary.scored, summary.bad_lines, summary.failed) == (1, 4, 4)


def test_an_http_error_is_written_with_its_status_and_body_and_the_rest_go_on(tmp_path):
    fake = FakeGateway()
    other = {**BATCH_LINE, "body": {**BATCH_BODY, "model": "nope"}}
    summary = score(tmp_path, fake, [other, plain("Q?", "A. 0.3")])
    out = by_id(tmp_path)
    assert out["b"]["response"]["status_code"] == 404 and out["b"]["error"] is None
    assert out["b"]["response"]["body"]["error"]["code"] == "model_not_found"
    assert out["line-2"]["response"]["status_code"] == 200
    assert (summary.scored, summary.http_errors, summary.failed) == (1, 1, 1)


def test_429_and_503_are_retried_after_the_retry_after_the_gateway_sent(tmp_path):
    fake, times = FakeGateway(), []

    def fail(body, attempt):
        times.append(time.monotonic())
        if attempt == 0:
            return httpx.Response(429, headers={"retry-after": "0.4"}, json={"error": {"message": "slow down"}})
        if attempt == 1:
            return httpx.Response(503, json={"error": {"message": "busy"}})
        return None

    fake.fail = fail
    summary = score(tmp_path, fake, [plain("Q?", "A. 0.7")])
    assert len(fake.requests) == 3 and summary.scored == 1 and summary.certainties == [0.7]
    assert times[1] - times[0] >= 0.4  # Retry-After honoured, though backoff_s is 0
    assert by_id(tmp_path)["line-1"]["response"]["status_code"] == 200


def test_a_503_still_there_after_the_last_retry_is_written_as_the_answer(tmp_path):
    fake = FakeGateway()
    fake.fail = lambda body, attempt: httpx.Response(503, headers={"retry-after": "100"}, json={"error": {"m": 1}})
    started = time.monotonic()
    summary = score(tmp_path, fake, [plain("Q?", "A.")], retries=2, max_wait_s=0.01)
    assert time.monotonic() - started < 5  # a long Retry-After is capped by max_wait_s
    assert len(fake.requests) == 3 and summary.http_errors == 1
    assert by_id(tmp_path)["line-1"]["response"] == {
        "status_code": 503,
        "request_id": None,
        "body": {"error": {"m": 1}},
    }


@pytest.mark.parametrize("status", [400, 404, 500])
def test_other_statuses_are_not_retried(tmp_path, status):
    fake = FakeGateway()
    fake.fail = lambda body, attempt: httpx.Response(status, json={"error": {"message": "no"}})
    score(tmp_path, fake, [plain("Q?", "A.")])
    assert len(fake.requests) == 1 and by_id(tmp_path)["line-1"]["response"]["status_code"] == status


def test_retry_after_reads_seconds_and_http_dates():
    later = email.utils.formatdate(time.time() + 30, usegmt=True)
    assert runner.retry_after(httpx.Response(429, headers={"retry-after": "7"})) == 7
    assert 25 <= runner.retry_after(httpx.Response(429, headers={"retry-after": later})) <= 30
    assert runner.retry_after(httpx.Response(429, headers={"retry-after": "soon"})) is None
    assert runner.retry_after(httpx.Response(429)) is None


def test_a_request_without_an_answer_is_retried_then_left_for_the_next_run(tmp_path, capsys):
    fake, broken = FakeGateway(), {"line-2"}

    def fail(body, attempt):
        if body["messages"][0]["content"] == "Q2?" and "line-2" in broken:
            raise httpx.ConnectError("connection refused")
        return None

    fake.fail = fail
    lines = [plain("Q1?", "A. 0.1"), plain("Q2?", "B. 0.2"), plain("Q3?", "C. 0.3")]
    summary = score(tmp_path, fake, lines, retries=2)
    assert set(by_id(tmp_path)) == {"line-1", "line-3"}  # not written: a rerun sends it
    assert (summary.scored, summary.unanswered, summary.failed, summary.lines) == (2, 1, 1, 3)
    assert sum(r["messages"][0]["content"] == "Q2?" for r in fake.requests) == 3
    said = capsys.readouterr()
    assert "line 2 (line-2): no answer, ConnectError: connection refused (after 3 attempts)" in said.err
    assert said.out == ""
    broken.clear()
    fake.requests.clear()
    summary = score(tmp_path, fake, lines)
    assert [r["messages"][0]["content"] for r in fake.requests] == ["Q2?"]
    assert set(by_id(tmp_path)) == {"line-1", "line-2", "line-3"}
    assert (summary.scored, summary.skipped, summary.failed) == (3, 2, 0)


def test_a_gateway_that_never_answers_stops_the_run(tmp_path):
    fake = FakeGateway()

    def fail(body, attempt):
        raise httpx.ConnectError("connection refused")

    fake.fail = fail
    with pytest.raises(output.BatchError, match="3 requests in a row got no answer"):
        score(tmp_path, fake, [plain(f"Q{i}?", "A.") for i in range(10)], retries=0, max_unanswered=3, concurrency=1)
    assert len(fake.requests) == 3


def test_a_refused_key_stops_the_run_and_writes_nothing(tmp_path):
    fake = FakeGateway()
    fake.fail = lambda body, attempt: httpx.Response(401, json={"error": {"message": "Invalid API key"}})
    with pytest.raises(output.BatchError, match="refused the API key: Invalid API key"):
        score(tmp_path, fake, [plain(f"Q{i}?", "A.") for i in range(5)], api_key="wrong", concurrency=1)
    assert (tmp_path / "out.jsonl").read_text() == ""
    assert fake.headers[0]["authorization"] == "Bearer wrong"


def test_an_interrupted_run_resumes_where_it_stopped(tmp_path):
    fake = FakeGateway()
    lines = [plain(f"Q{i}?", f"A. 0.{i}") for i in range(1, 8)] + ["not json"]

    def crash(body, attempt):
        if body["messages"][0]["content"] == "Q4?":
            raise KeyboardInterrupt  # as Ctrl-C would, in the middle of the file
        return None

    fake.fail = crash
    with pytest.raises(KeyboardInterrupt):
        score(tmp_path, fake, lines, concurrency=1)
    assert set(by_id(tmp_path)) == {"line-1", "line-2", "line-3"}
    fake.fail = lambda body, attempt: None
    fake.requests.clear()
    summary = score(tmp_path, fake, lines, concurrency=3)
    assert sorted(r["messages"][0]["content"] for r in fake.requests) == ["Q4?", "Q5?", "Q6?", "Q7?"]
    out = by_id(tmp_path)
    assert len(out) == 8 and out[None]["error"]["line"] == 8
    assert (summary.lines, summary.scored, summary.bad_lines, summary.skipped) == (8, 7, 1, 3)
    assert sorted(summary.certainties) == pytest.approx([0.1, 0.2, 0.3, 0.4, 0.5, 0.6, 0.7])
    fake.requests.clear()
    again = score(tmp_path, fake, lines)  # a third run has nothing to do, the bad line included
    assert fake.requests == [] and again.skipped == 8 and len(read_output(tmp_path / "out.jsonl")) == 8


def test_a_torn_last_line_is_dropped_and_its_request_sent_again(tmp_path):
    fake = FakeGateway()
    lines = [plain("Q1?", "A. 0.1"), plain("Q2?", "B. 0.2")]
    score(tmp_path, fake, lines[:1])
    out = tmp_path / "out.jsonl"
    out.write_text(out.read_text() + '{"id": "batch_req_x", "custom_id": "line-2", "resp')
    fake.requests.clear()
    summary = score(tmp_path, fake, lines)
    assert [r["messages"][0]["content"] for r in fake.requests] == ["Q2?"] and summary.skipped == 1
    assert set(by_id(tmp_path)) == {"line-1", "line-2"}


def test_no_more_than_concurrency_requests_are_in_flight(tmp_path):
    fake = FakeGateway()
    fake.delay_s = 0.05
    score(tmp_path, fake, [plain(f"Q{i}?", "A.") for i in range(12)], concurrency=3)
    assert fake.most_in_flight == 3 and len(fake.requests) == 12


def test_each_line_is_on_disk_before_the_next_request_is_sent(tmp_path):
    fake, seen = FakeGateway(), []
    fake.fail = lambda body, attempt: seen.append(len(read_output(tmp_path / "out.jsonl"))) or None
    score(tmp_path, fake, [plain(f"Q{i}?", "A.") for i in range(4)], concurrency=1)
    assert seen == [0, 1, 2, 3]
