"""The docs' requests run on the tiny stack and answer what the docs show.

Every shell block of README.md and docs/ that is one call of the gateway (``curl ... localhost:8000/...``)
with a model the tiny stack serves is run as it is written (bash, curl, jq; only the address
changed to the test stack's), and when the docs show its output in the next block, the output
must contain what is shown: every key shown with its value (numbers to 1e-6), lists item by item
(the docs may leave fields out, never change one)."""

from __future__ import annotations

import json
import re
import shutil
import subprocess
from pathlib import Path

import pytest

from tests.docs.test_examples import FENCE
from tests.test_docs import REPO, documents

CALL = re.compile(r"curl [^\n]*localhost:8000/")
BODY = re.compile(r"-d '(\{.*?\})'", re.DOTALL)


def examples() -> list[tuple[str, str, str | None]]:
    """(where, shell block, the output shown after it or None) of every gateway call in the docs."""
    found = []
    for path in documents():
        fences = FENCE.findall(path.read_text())
        for i, (_, lang, body) in enumerate(fences):
            # A block that is one curl call (a block that also starts containers is not run here).
            one_call = body.lstrip().startswith("curl ") and body.count("curl ") == 1
            if lang in ("bash", "sh") and one_call and CALL.search(body) and BODY.search(body):
                after = fences[i + 1] if i + 1 < len(fences) else None
                shown = after[2] if after and after[1] in ("json", "text") else None
                found.append((f"{path.relative_to(REPO)}#{i}", body, shown))
    return found


def contains(actual, shown, where="") -> None:
    """Assert ``actual`` has everything ``shown`` has."""
    if isinstance(shown, dict):
        assert isinstance(actual, dict), where
        for key, value in shown.items():
            assert key in actual, f"{where}.{key} is shown but not answered"
            contains(actual[key], value, f"{where}.{key}")
    elif isinstance(shown, list):
        assert isinstance(actual, list) and len(actual) == len(shown), where
        for i, (a, s) in enumerate(zip(actual, shown)):
            contains(a, s, f"{where}[{i}]")
    elif isinstance(shown, float):
        assert actual == pytest.approx(shown, abs=1e-6), where
    else:
        assert actual == shown, where


@pytest.fixture(scope="module")
def served(gateway) -> set[str]:
    return {m["id"] for m in gateway.get("/v1/models").json()["data"]}


def test_the_docs_show_requests_to_the_tiny_stack():
    assert len(examples()) >= 4


@pytest.mark.parametrize(("where", "block", "shown"), examples(), ids=[e[0] for e in examples()])
def test_a_docs_request_answers_what_the_docs_show(where, block, shown, stack, served):
    model = json.loads(BODY.search(block).group(1)).get("model")
    if model not in served:
        pytest.skip(f"{where} asks for {model!r}, which the tiny stack does not serve")
    if not (shutil.which("curl") and shutil.which("jq")):
        pytest.fail("the docs' examples need curl and jq (make test installs them)")
    script = block.replace("localhost:8000", stack.url.removeprefix("http://"))
    run = subprocess.run(["bash", "-eo", "pipefail", "-c", script], capture_output=True, text=True, timeout=120)
    assert run.returncode == 0, run.stderr
    answer = json.loads(run.stdout)
    if shown is not None:
        contains(answer, json.loads(shown), where)


def test_every_example_is_checked_against_a_real_answer():
    # A request with no output shown is still run; one shown must be JSON to be compared.
    for where, _, shown in examples():
        if shown is not None:
            json.loads(shown)  # a shown output that is not JSON could never be compared
        assert Path(REPO / where.split("#")[0]).is_file()
