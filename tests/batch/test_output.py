"""Output lines: their certainties, what a rerun reads back, and appending to a file cut short."""

import json

import pytest

from batch.output import BatchError, Writer, certainties, failed, read_done


def answered(status, body):
    return {"id": "batch_req_1", "custom_id": "a", "response": {"status_code": status, "body": body}, "error": None}


def test_certainties_come_from_the_intrinsics_content_or_each_choices_certainty():
    intrinsic = {"choices": [{"message": {"content": '{"certainty": 0.42}'}}]}
    extension = {"choices": [{"certainty": 0.7, "message": {}}, {"certainty": None, "certainty_error": {}}]}
    assert certainties(answered(200, intrinsic)) == [0.42]
    assert certainties(answered(200, extension)) == [0.7]  # an unscored choice has none
    assert certainties(answered(200, {"choices": [{"message": {"content": "Paris."}}]})) == []
    assert certainties(answered(400, intrinsic)) == []
    assert certainties({"custom_id": None, "response": None, "error": {"line": 3}}) == []


def test_a_line_failed_unless_it_has_a_200_answer():
    assert not failed(answered(200, {}))
    assert failed(answered(503, {})) and failed({"response": None, "error": {"line": 1}})


def test_a_rerun_knows_lines_by_custom_id_and_bad_lines_by_line_number(tmp_path):
    out = tmp_path / "out.jsonl"
    bad = {"id": "x", "custom_id": None, "response": None, "error": {"code": "invalid_line", "line": 4}}
    out.write_text(json.dumps(answered(200, {})) + "\n" + json.dumps(bad) + "\n")
    done = read_done(out)
    assert done.get("a") == answered(200, {}) and done.get(None, 4) == bad
    assert done.get("b") is None and done.get(None, 5) is None and done.get("line-4") is None
    assert read_done(tmp_path / "missing.jsonl").ids == {}


def test_a_file_that_is_not_batch_output_is_refused(tmp_path):
    out = tmp_path / "out.jsonl"
    out.write_text('{"confidence": 0.5}\n{"custom_id": "a"}\n')
    with pytest.raises(BatchError, match="line 1: not a Batch output line"):
        read_done(out)
    out.write_text('{"custom_id": "a"}\nnot json\n{"custom_id": "b"}\n')
    with pytest.raises(BatchError, match="line 2: not valid JSON"):
        read_done(out)


def test_appending_to_a_file_whose_last_line_lacks_its_newline_starts_a_new_line(tmp_path):
    out = tmp_path / "out.jsonl"
    out.write_text('{"custom_id": "a"}')
    writer = Writer(out)
    writer.write({"custom_id": "b"})
    writer.close()
    assert out.read_text() == '{"custom_id": "a"}\n{"custom_id":"b"}\n'
    writer = Writer(out)
    writer.write({"custom_id": "c"})
    writer.close()
    assert out.read_text().splitlines()[-1] == '{"custom_id":"c"}' and out.read_text().count("\n") == 3
