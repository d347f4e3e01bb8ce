"""Reading the input: plain and Batch API lines become requests; every bad line becomes an error naming it."""

import json

import pytest

from batch import inputs
from batch.inputs import BadLine, Request

from .fakes import plain, write_lines

DOCS = [{"doc_id": "1", "text": "Paris is the capital of France."}]


def read(tmp_path, lines, intrinsic="uncertainty"):
    write_lines(tmp_path / "in.jsonl", lines)
    return list(inputs.read(tmp_path / "in.jsonl", intrinsic))


def test_a_plain_line_is_sent_to_the_intrinsic_as_line_n_with_its_documents(tmp_path):
    line = plain("Capital of France?", "Paris.", documents=DOCS)
    (req,) = read(tmp_path, [line], intrinsic="my-intrinsic")
    assert req == Request(1, "line-1", {"model": "my-intrinsic", "messages": line["messages"], "documents": DOCS})


def test_a_plain_line_may_name_its_own_custom_id(tmp_path):
    (req,) = read(tmp_path, [plain("Q?", "A.", custom_id="q-7")])
    assert req.custom_id == "q-7" and "custom_id" not in req.body


def test_a_batch_api_line_sends_its_body_as_it_is(tmp_path):
    body = {"model": "tiny-granite", "messages": [{"role": "user", "content": "Hi"}], "certainty": True, "n": 2}
    line = {"custom_id": "a", "method": "POST", "url": "/v1/chat/completions", "body": body}
    (req,) = read(tmp_path, [line])
    assert req == Request(1, "a", body)


def test_blank_lines_are_ignored_but_counted_in_line_numbers(tmp_path):
    reqs = read(tmp_path, [plain("Q?", "A."), "", "   ", plain("Q2?", "B.")])
    assert [(r.line, r.custom_id) for r in reqs] == [(1, "line-1"), (4, "line-4")]
    assert inputs.count_lines(tmp_path / "in.jsonl") == 2


BATCH = {"custom_id": "b", "method": "POST", "url": "/v1/chat/completions", "body": {"model": "uncertainty"}}


@pytest.mark.parametrize(
    "line, custom_id, says",
    [
        ("{not json", None, "not valid JSON"),
        ("[1, 2]", None, "must be a JSON object, not list"),
        ({"question": "Q?"}, "line-2", "unknown field 'question'"),
        ({"messages": []}, "line-2", "'messages' must be a non-empty list"),
        ({"messages": ["hi"]}, "line-2", "every message must be a JSON object"),
        ({"messages": [{"role": "user", "content": "Q?"}]}, "line-2", "the last message must be the assistant answer"),
        ({**plain("Q?", "A."), "documents": "text"}, "line-2", "'documents' must be a list"),
        ({**plain("Q?", "A."), "custom_id": 5}, "line-2", "'custom_id' must be a non-empty string, not 5"),
        ({**BATCH, "method": "GET"}, "b", "'method' must be \"POST\", not 'GET'"),
        ({**BATCH, "url": "/v1/completions"}, "b", "'url' must be '/v1/chat/completions'"),
        ({**BATCH, "body": "x"}, "b", "'body' must be a JSON object"),
        ({k: v for k, v in BATCH.items() if k != "custom_id"}, None, "'custom_id' must be a non-empty string"),
        ({**BATCH, "extra": 1}, "b", "unknown field 'extra' in a Batch API line"),
    ],
)
def test_a_bad_line_becomes_an_error_naming_its_line_and_the_rest_go_on(tmp_path, line, custom_id, says):
    first, bad, last = read(tmp_path, [plain("Q?", "A."), line, plain("Q3?", "C.")])
    assert isinstance(bad, BadLine) and bad.line == 2 and bad.custom_id == custom_id
    assert bad.message.startswith("line 2: ") and says in bad.message, bad.message
    assert isinstance(first, Request) and isinstance(last, Request) and last.custom_id == "line-3"


def test_a_repeated_custom_id_is_an_error_naming_the_first_line(tmp_path):
    line = {**BATCH, "custom_id": "x"}
    reqs = read(tmp_path, [line, plain("Q?", "A.", custom_id="x"), {**line, "custom_id": "line-1"}])
    assert reqs[0] == Request(1, "x", line["body"])
    assert reqs[1] == BadLine(2, None, "line 2: duplicate custom_id 'x' (first on line 1)")
    assert isinstance(reqs[2], Request) and reqs[2].custom_id == "line-1"  # line 1 named itself "x"


def test_a_bad_line_keeps_its_custom_id_from_a_later_line_but_not_from_an_earlier_one(tmp_path):
    bad = {**BATCH, "custom_id": "x", "method": "GET"}
    reqs = read(tmp_path, [bad, {**BATCH, "custom_id": "x"}, {**BATCH, "custom_id": "y"}, {**bad, "custom_id": "y"}])
    assert isinstance(reqs[0], BadLine) and reqs[0].custom_id == "x"
    assert reqs[1] == BadLine(2, None, "line 2: duplicate custom_id 'x' (first on line 1)")
    assert isinstance(reqs[3], BadLine) and reqs[3].custom_id is None and "'method'" in reqs[3].message
    assert json.dumps(reqs[2].body) == json.dumps(BATCH["body"])
