"""``granite-certainty score`` end to end: the real CLI against the real stack, on a file of good and
bad lines, interrupted with Ctrl-C (SIGINT) part way and resumed; every answer in the output must be
the one the per-request API gives (the OpenAI SDK, one call per line)."""

import asyncio
import json
import signal
import socket
import subprocess
import sys
import threading
from pathlib import Path

import httpx
import openai
import pytest
import uvicorn
from starlette.requests import Request

from ..waiting import wait_until
from .conftest import CONVERSATIONS, conversation

ROOT = Path(__file__).resolve().parents[2]
DOCS = [{"doc_id": "1", "text": "Paris is the capital and largest city of France."}]
CHAT = "/v1/chat/completions"


def lines(base_model: str) -> list:
    """The input: plain lines (one with documents), Batch API lines, and bad lines among them."""
    plain = [{"messages": conversation(q, a)} for q, a in CONVERSATIONS]
    plain[0]["documents"] = DOCS
    with_certainty = {
        "model": base_model,
        "messages": [{"role": "user", "content": "What is the capital of France?"}],
        "max_tokens": 8,
        "temperature": 0,
        "certainty": True,
    }
    return [
        *plain[:4],  # lines 1-4: the first lines are good ones, so the interruption falls among requests
        "this is not JSON",  # 5
        {"custom_id": "intrinsic", "method": "POST", "url": CHAT, "body": {"model": "uncertainty", **plain[4]}},  # 6
        {"messages": [{"role": "user", "content": "No answer to score."}]},  # 7
        {"custom_id": "base", "method": "POST", "url": CHAT, "body": with_certainty},  # 8
        {"custom_id": "wrong-url", "method": "POST", "url": "/v1/completions", "body": {}},  # 9
        {"custom_id": "intrinsic", "method": "POST", "url": CHAT, "body": {"model": "uncertainty"}},  # 10
        {"custom_id": "no-model", "method": "POST", "url": CHAT, "body": {"model": "nope", **plain[5]}},  # 11
        plain[5],  # 12
    ]


def command(inp: Path, out: Path, url: str) -> list[str]:
    return [
        sys.executable,
        "-m",
        "server.cli",
        "score",
        str(inp),
        "--out",
        str(out),
        "--url",
        url,
        "--concurrency",
        "1",
    ]


def count(out: Path) -> int:
    return len(out.read_text().splitlines()) if out.exists() else 0


class Gate:
    """A relay between the command and the gateway that lets ``allow`` requests through, then holds
    the next until ``open`` is set: the interruption lands while a request is under way, however
    slowly the test's own process gets the CPU (vLLM's CPU engine can starve it for a second, in
    which time an unheld run would have finished the file)."""

    def __init__(self, upstream: str):
        self.upstream, self.allow = upstream, 10**9
        self.holding, self.open = threading.Event(), threading.Event()

    def hold_after(self, allow: int) -> None:
        """From now on let ``allow`` requests through and hold the next."""
        self.holding.clear()
        self.open.clear()
        self.allow = allow

    async def __call__(self, scope, receive, send):
        if scope["type"] != "http":
            return
        body = await Request(scope, receive).body()
        if self.allow <= 0:
            self.holding.set()
            while not self.open.is_set():
                await asyncio.sleep(0.01)
        self.allow -= 1
        headers = {k.decode(): v.decode() for k, v in scope["headers"] if k in (b"content-type", b"authorization")}
        async with httpx.AsyncClient(base_url=self.upstream, timeout=120) as client:
            resp = await client.post(scope["path"], content=body, headers=headers)
        await send({"type": "http.response.start", "status": resp.status_code, "headers": list(resp.headers.raw)})
        await send({"type": "http.response.body", "body": resp.content})


@pytest.fixture(scope="module")
def gate(stack):
    """A running ``Gate`` in front of the stack's gateway: (the gate, its URL)."""
    relay = Gate(stack.url)
    sock = socket.socket()
    sock.bind(("127.0.0.1", 0))
    server = uvicorn.Server(uvicorn.Config(relay, log_level="warning", lifespan="off"))
    thread = threading.Thread(target=server.run, kwargs={"sockets": [sock]}, daemon=True)
    thread.start()
    wait_until(lambda: server.started, 10, "the gate started")
    yield relay, f"http://127.0.0.1:{sock.getsockname()[1]}"
    relay.open.set()
    server.should_exit = True
    thread.join(5)


def ctrl_c_heard() -> None:
    """In the command's process before it starts: SIGINT as a terminal delivers it. A test run started
    in the background by a non-interactive shell (as CI may be) ignores SIGINT, and its children
    inherit that: Python then never turns Ctrl-C into KeyboardInterrupt, and the command runs on."""
    signal.signal(signal.SIGINT, signal.SIG_DFL)


@pytest.fixture(scope="module")
def scored(stack, gate, tiny_settings, tmp_path_factory):
    """Run the command and interrupt it with Ctrl-C once three requests are answered and the fourth
    is under way; run it again and kill it (SIGKILL: nothing is cleaned up) once two more are; run
    it a third time to the end."""
    relay, url = gate
    tmp = tmp_path_factory.mktemp("score")
    inp, out = tmp / "in.jsonl", tmp / "out.jsonl"
    inp.write_text(
        "".join((x if isinstance(x, str) else json.dumps(x)) + "\n" for x in lines(tiny_settings.served_name))
    )
    runs = []
    for sig, more in ((signal.SIGINT, 3), (signal.SIGKILL, 2)):
        before = count(out)
        relay.hold_after(more)
        proc = subprocess.Popen(
            command(inp, out, url),
            cwd=ROOT,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            preexec_fn=ctrl_c_heard,
        )
        try:
            wait_until(
                lambda: (relay.holding.is_set() and count(out) >= before + more) or proc.poll() is not None,  # noqa: B023
                120,
                f"{more} more lines, and the next request held",
            )
            proc.send_signal(sig)
            _, err = proc.communicate(timeout=60)
        finally:
            proc.kill()
            relay.open.set()  # the held request goes on to the gateway; nobody reads its answer
        runs.append((proc.returncode, err.decode(), out.read_text()))
    relay.hold_after(10**9)
    last = subprocess.run(command(inp, out, url), cwd=ROOT, capture_output=True, text=True, timeout=600)
    return {
        "interrupted": runs,
        "last": last,
        "out": [json.loads(x) for x in out.read_text().splitlines()],
        "lines": lines(tiny_settings.served_name),
    }


def test_the_interrupted_runs_stop_part_way_and_ctrl_c_says_how_to_resume(scored):
    (status, err, text), (killed, _, after_kill) = scored["interrupted"]
    assert status == 130 and "interrupted; run the same command again to resume" in err, err[-2000:]
    assert killed == -signal.SIGKILL
    assert 3 <= len(text.splitlines()) < len(after_kill.splitlines()) < 12
    # Written and flushed line by line: a killed run leaves whole lines only, and what it wrote stays.
    assert after_kill.endswith("\n") and after_kill.startswith(text)
    assert all(json.loads(x)["id"].startswith("batch_req_") for x in after_kill.splitlines())


def test_the_resumed_run_skips_what_was_written_and_summarises_the_whole_file(scored):
    last = scored["last"]
    assert last.returncode == 1, last.stderr[-2000:]  # some lines failed
    summary = last.stdout
    assert "12 lines: 7 scored, 5 failed (4 bad lines, 1 HTTP error, 0 without an answer)" in summary, summary
    assert f"{len(scored['interrupted'][1][2].splitlines())} skipped" in summary and "mean certainty" in summary
    assert "score: 100%" in last.stderr  # the progress bar


def test_every_line_is_in_the_output_once(scored):
    out = scored["out"]
    assert len(out) == 12
    ids = [r["custom_id"] for r in out if r["custom_id"] is not None]
    assert len(ids) == len(set(ids))
    assert set(ids) == {f"line-{n}" for n in (1, 2, 3, 4, 7, 12)} | {"intrinsic", "base", "wrong-url", "no-model"}
    written = [json.loads(x) for x in scored["interrupted"][1][2].splitlines()]
    assert out[: len(written)] == written  # appended to, never rewritten


def test_bad_lines_get_an_error_naming_the_line(scored):
    errors = {r["error"]["line"]: r for r in scored["out"] if r["error"] is not None}
    assert sorted(errors) == [5, 7, 9, 10]
    assert all(r["response"] is None and r["error"]["code"] == "invalid_line" for r in errors.values())
    assert errors[5]["custom_id"] is None and errors[5]["error"]["message"].startswith("line 5: not valid JSON")
    assert errors[7]["custom_id"] == "line-7" and "the last message must be the assistant answer" in str(errors[7])
    assert errors[9]["custom_id"] == "wrong-url" and "'url' must be '/v1/chat/completions'" in str(errors[9])
    assert errors[10]["custom_id"] is None and "duplicate custom_id 'intrinsic' (first on line 6)" in str(errors[10])


def test_every_answer_equals_the_per_request_apis(scored, sdk):
    out = {r["custom_id"]: r for r in scored["out"] if r["error"] is None}
    sent = scored["lines"]
    plain = {f"line-{n}": sent[n - 1] for n in (1, 2, 3, 4, 12)}
    plain["intrinsic"] = sent[5]["body"]
    for custom_id, line in plain.items():
        extra = {"documents": line["documents"]} if "documents" in line else None
        expected = sdk.chat.completions.create(model="uncertainty", messages=line["messages"], extra_body=extra)
        response = out[custom_id]["response"]
        assert response["status_code"] == 200
        got = json.loads(response["body"]["choices"][0]["message"]["content"])
        assert got == json.loads(expected.choices[0].message.content), custom_id
        assert 0.05 <= got["certainty"] <= 0.95
    body = dict(sent[7]["body"])
    expected = sdk.chat.completions.create(
        **{k: body.pop(k) for k in ("model", "messages")},
        **{"max_tokens": body.pop("max_tokens"), "temperature": body.pop("temperature")},
        extra_body=body,
    )
    choice = out["base"]["response"]["body"]["choices"][0]
    assert choice["message"]["content"] == expected.choices[0].message.content
    assert choice["certainty"] == expected.choices[0].model_extra["certainty"]
    with pytest.raises(openai.NotFoundError) as caught:
        sdk.chat.completions.create(model="nope", messages=sent[10]["body"]["messages"])
    response = out["no-model"]["response"]
    assert response["status_code"] == 404 and response["body"] == caught.value.response.json()
