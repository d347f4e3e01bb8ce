"""The playground page as the gateway serves it: at ``/`` and ``/playground``, with its files, to
anyone (no key), labelled by one route in ``/metrics``, loading nothing from elsewhere, and
shipped inside the wheel."""

import json
import re
import shutil
import subprocess
import sys
import typing
import zipfile
from pathlib import Path

import httpx
import pytest
from fastapi.testclient import TestClient

from server.app import create_app
from server.certainty import GuardAction
from server.playground import assets
from server.settings import Settings

REPO = Path(__file__).resolve().parents[3]
STATIC = REPO / "server" / "playground" / "static"
TYPES = {".html": "text/html", ".css": "text/css", ".js": "text/javascript"}


def client_for(**settings) -> TestClient:
    s = Settings(
        model={"path": "/m", "served_name": "base"}, adapters=[{"name": "uncertainty", "path": "/a"}], **settings
    )
    unreachable = httpx.MockTransport(lambda r: httpx.Response(599))  # the page never needs vLLM
    return TestClient(create_app(s, transport=unreachable))


def referenced_files() -> set[str]:
    """Every file the page loads: its <link>/<script> files, and each JS module's imports, transitively."""
    page = (STATIC / "index.html").read_text()
    found = set(re.findall(r'(?:href|src)="playground/static/([^"]+)"', page))
    todo = [f for f in found if f.endswith(".js")]
    while todo:
        for name in re.findall(r'from "\./([^"]+)"', (STATIC / todo.pop()).read_text()):
            if name not in found:
                found.add(name)
                todo.append(name)
    return found


@pytest.mark.parametrize("path", ["/", "/playground"])
def test_the_page_is_served_at_the_root_and_at_playground_as_html(path):
    with client_for() as client:
        resp = client.get(path)
    assert resp.status_code == 200
    assert resp.headers["content-type"] == "text/html; charset=utf-8"
    assert "<title>granite-certainty playground</title>" in resp.text
    assert '<script type="module" src="playground/static/app.js">' in resp.text


def test_every_file_the_page_loads_is_served_with_its_type():
    files = referenced_files()
    assert {"app.js", "playground.css", "api.js", "chat.js", "certainty.js"} <= files
    with client_for() as client:
        for name in sorted(files):
            resp = client.get(f"/playground/static/{name}")
            assert resp.status_code == 200, name
            assert resp.headers["content-type"].startswith(TYPES[Path(name).suffix]), name
            assert resp.content == (STATIC / name).read_bytes()


def test_every_file_of_the_static_folder_is_used_by_the_page():
    shipped = {p.name for p in STATIC.iterdir() if p.is_file()}
    assert shipped == referenced_files() | {"index.html"}


def test_the_page_needs_no_key_while_the_api_does():
    with client_for(api_key="secret") as client:
        page, module, models = client.get("/"), client.get("/playground/static/app.js"), client.get("/v1/models")
    assert page.status_code == 200 and module.status_code == 200
    assert models.status_code == 401 and models.json()["error"]["code"] == "invalid_api_key"


@pytest.mark.parametrize(
    "path", ["/playground/static/missing.js", "/playground/static/assets.py", "/playground/static/..%2Fassets.py"]
)
def test_a_name_that_is_not_a_file_of_the_page_is_a_404_in_openai_shape(path):
    with client_for() as client:
        resp = client.get(path)
    assert resp.status_code == 404
    assert resp.json()["error"]["code"] == "not_found"


def test_the_page_may_load_and_call_only_its_own_origin():
    with client_for() as client:
        resp = client.get("/playground")
    policy = resp.headers["content-security-policy"]
    assert "default-src 'none'" in policy and "connect-src 'self'" in policy and "script-src 'self'" in policy
    assert resp.headers["x-content-type-options"] == "nosniff"
    for path in STATIC.iterdir():
        # No address of another server anywhere in the page's files: nothing is fetched from a CDN.
        assert not re.search(r"(?:https?:)?//[a-z0-9.-]+\.[a-z]{2,}", path.read_text(), re.I), path.name


def test_metrics_label_the_page_files_by_one_route_template():
    with client_for() as client:
        for name in ("app.js", "api.js", "playground.css", "missing.js"):
            client.get(f"/playground/static/{name}")
        client.get("/")
        text = client.get("/metrics").text
    assert 'route="/playground/static/{name}"' in text and 'route="/"' in text
    assert "app.js" not in text and "missing.js" not in text


def test_the_guard_actions_offered_are_the_apis_and_none():
    page = (STATIC / "index.html").read_text()
    select = page.split('<select id="guard-action">', 1)[1].split("</select>", 1)[0]
    offered = set(re.findall(r'<option value="([^"]+)"', select))
    assert offered == {"none", *typing.get_args(GuardAction)}


def test_the_wheel_ships_the_page_files(tmp_path):
    # Built from the project's own pyproject.toml and server/, as `pip install` of a release would.
    shutil.copy(REPO / "pyproject.toml", tmp_path)
    shutil.copy(REPO / "README.md", tmp_path)
    shutil.copytree(REPO / "server", tmp_path / "server", ignore=shutil.ignore_patterns("__pycache__"))
    build = "from setuptools import build_meta as b; print(b.build_wheel('dist'))"
    done = subprocess.run([sys.executable, "-c", build], cwd=tmp_path, capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr[-2000:]
    wheel = tmp_path / "dist" / done.stdout.strip().splitlines()[-1]
    names = set(zipfile.ZipFile(wheel).namelist())
    expected = {f"server/playground/static/{name}" for name in assets.served_files()}
    assert len(expected) == len(list(STATIC.iterdir())) and expected <= names


# --- documents and other intrinsics with the answer -------------------------------------------

NODE = shutil.which("node")


def test_the_chat_has_a_documents_box_and_the_intrinsics_checkboxes():
    page = (STATIC / "index.html").read_text()
    chat = page.split('id="chat-panel"', 1)[1].split('id="score-panel"', 1)[0]
    assert 'id="chat-documents"' in chat and 'id="chat-add-document"' in chat and 'id="chat-intrinsics"' in chat
    assert {"documents.js", "intrinsics.js"} <= referenced_files()


def test_the_intrinsics_offered_are_the_ones_that_judge_an_answer_or_question_without_arguments_of_their_own():
    from intrinsics.needs import NEEDS

    offered = re.search(r"export const JUDGES = \[(.*?)\];", (STATIC / "intrinsics.js").read_text(), re.S)
    names = re.findall(r'"([^"]+)"', offered.group(1))
    # uncertainty is the certainty chip; requirement-check needs a requirement the page has no field for.
    assert sorted(names) == sorted(set(NEEDS) - {"uncertainty", "requirement-check"})


def test_no_model_text_is_ever_parsed_as_html():
    for path in STATIC.glob("*.js"):
        assert not re.search(r"innerHTML|outerHTML|insertAdjacentHTML|document\.write", path.read_text()), path.name


def test_the_streamed_intrinsics_chunk_is_read_and_the_snippets_carry_and_print_the_intrinsics():
    assert '"intrinsics" in c' in (STATIC / "answer.js").read_text()
    chat = (STATIC / "chat.js").read_text()
    assert "body.documents = rag.documents" in chat and "body.intrinsics = rag.intrinsics" in chat
    snippets = (STATIC / "snippets.js").read_text()
    assert '"intrinsics" in extra' in snippets and "intrinsic_errors" in snippets
    # documents and intrinsics are not create() arguments: the Python snippet sends them in extra_body
    assert "documents" not in snippets.split("SDK_ARGS = new Set(", 1)[1].split(")", 1)[0]


def run_module(name: str, script: str) -> object:
    """Run ``script`` in Node with the static module ``name`` imported as ``m``; what it prints, as JSON."""
    code = f"import * as m from {json.dumps((STATIC / name).as_uri())};\n{script}"
    done = subprocess.run([NODE, "--input-type=module", "-e", code], capture_output=True, text=True, timeout=60)
    assert done.returncode == 0, done.stderr
    return json.loads(done.stdout)


@pytest.mark.skipif(NODE is None, reason="node is not installed: the span logic is checked in Chromium only")
def test_spans_are_cut_at_their_offsets_in_characters_and_a_span_outside_the_answer_is_left_out():
    text = "Paris is the capital. \U0001f600 It is big."  # an emoji: one character, two UTF-16 units
    results = {
        "citations": [
            {"response_begin": 0, "response_end": 21, "citation_doc_id": "d1", "citation_text": "Paris is..."},
            {"response_begin": 22, "response_end": 99, "citation_doc_id": "d1", "citation_text": "?"},
        ],
        "hallucination_detection": [{"response_begin": 10, "response_end": 33, "faithfulness": "partial"}],
        "answerability": {"answerability": "answerable"},
    }
    script = f"""
const text = {json.dumps(text)}, chars = Array.from(text);
const spans = m.spansOf({json.dumps(results)}, chars.length);
const pieces = m.segments(chars.length, spans).map(([b, e, c]) => [chars.slice(b, e).join(""), c.map((s) => s.key)]);
console.log(JSON.stringify({{ keys: spans.map((s) => s.key), pieces }}));
"""
    got = run_module("intrinsics.js", script)
    assert got["keys"] == ["citations:0", "hallucination_detection:0"]  # citations:1 ends past the answer
    assert got["pieces"] == [
        ["Paris is t", ["citations:0"]],
        ["he capital.", ["citations:0", "hallucination_detection:0"]],
        [" \U0001f600 It is big", ["hallucination_detection:0"]],
        [".", []],
    ]
    # Each span is the concatenation of the pieces that carry its key: exactly the slice at its offsets.
    for key, (begin, end) in {"citations:0": (0, 21), "hallucination_detection:0": (10, 33)}.items():
        assert "".join(p for p, keys in got["pieces"] if key in keys) == text[begin:end]
