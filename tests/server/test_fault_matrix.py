"""The fault matrix: every way vLLM (or the adapter, or the fallback) can misbehave, on every
path, and each time the client gets a complete answer or a clean OpenAI error — never a 500 —
and every stream ends with ``[DONE]`` (an error event, if any, just before it).

The faults are injected with httpx.MockTransport; that the paths work at all is proven
against the real vLLM in tests/integration.
"""

import json

import httpx
import pytest
from fastapi.testclient import TestClient
from httpx_sse import EventSource

from .apps import FALLBACK, UNCERTAINTY, make_client
from .fake_vllm import adapter_output, completion

Q = [{"role": "user", "content": "Capital of France?"}]
SSE = {"content-type": "text/event-stream"}
HIGH = {"8": 0.8, "9": 0.2}


async def body_then(parts: list[bytes], exc: Exception | None):
    for part in parts:
        yield part
    if exc is not None:
        raise exc


def sse_of(*events: str) -> bytes:
    return b"".join(f"data: {e}\n\n".encode() for e in events)


def chunk(delta: dict, finish_reason: str | None) -> str:
    choice = {"index": 0, "delta": delta, "finish_reason": finish_reason}
    return json.dumps({"id": "c", "object": "chat.completion.chunk", "created": 1, "model": "m", "choices": [choice]})


GOOD_STREAM = sse_of(chunk({"role": "assistant", "content": "Paris."}, None), chunk({}, "stop"), "[DONE]")
GARBAGE_SSE = b': keep-alive\r\n\r\ndata: {garbage\r\n\r\ndata: [1, 2]\n\nevent: x\ndata: "s"\n\n'
MULTI_LINE = b'data: {"id": "c", "object": "chat.completion.chunk", "choices":\ndata: []}\n\n'


def bad_logprobs(value):
    out = adapter_output(HIGH)
    out["choices"][0]["logprobs"]["content"][4]["logprob"] = value
    return out


def answer(status: int, parts: list[bytes], content_type: str, then: Exception | None = None):
    """A fault: an answer of ``parts`` (streamed body) and then, if given, a transport error."""
    return lambda stream: httpx.Response(status, content=body_then(parts, then), headers={"content-type": content_type})


def as_requested(parts: list[bytes], then: Exception):
    """Cut-off bodies, typed as the request expects (SSE when streamed, JSON when not)."""
    kind = lambda stream: "text/event-stream" if stream else "application/json"
    return lambda stream: httpx.Response(200, content=body_then(parts, then), headers={"content-type": kind(stream)})


def json_answer(obj):
    return lambda stream: httpx.Response(200, json=obj)


def raising(exc: Exception):
    return lambda stream: exc


#: name -> the answer (a function of whether the call streams), or the transport error, of one call.
FAULTS = {
    "not_json": answer(200, [b"not json"], "application/json"),
    "html_error_page": answer(502, [b"<html>Bad Gateway</html>"], "text/html"),
    "html_with_200": answer(200, [b"<html>hello</html>"], "text/html"),
    "json_list": json_answer([1, 2]),
    "choices_not_a_list": json_answer({**completion("Paris."), "choices": "Paris."}),
    "choice_not_an_object": json_answer({**completion("Paris."), "choices": ["Paris."]}),
    "usage_a_string": json_answer({**completion("Paris."), "usage": "lots"}),
    "content_not_text": json_answer(completion({"a": 1})),
    "truncated_body": as_requested([b'{"id": "c", "choi'], httpx.RemoteProtocolError("peer closed")),
    "trickle": as_requested([GOOD_STREAM[:40]], httpx.ReadTimeout("too slow")),
    "closed_mid_stream": answer(200, [GOOD_STREAM[:-20]], "text/event-stream", httpx.ReadError("closed")),
    "stream_without_done": answer(200, [GOOD_STREAM[:-14]], "text/event-stream"),
    "garbage_sse": answer(200, [GARBAGE_SSE, GOOD_STREAM], "text/event-stream"),
    "multi_line_data": answer(200, [MULTI_LINE, GOOD_STREAM], "text/event-stream"),
    "refused": raising(httpx.ConnectError("refused")),
    "read_timeout": raising(httpx.ReadTimeout("slow")),
    "pool_full": raising(httpx.PoolTimeout("busy")),
}

#: Faults of the adapter's answer in particular (the scoring and intrinsic paths).
ADAPTER_FAULTS = {
    "positive_logprob": json_answer(bad_logprobs(5.0)),
    "huge_logprob": json_answer(bad_logprobs(1000.0)),
    "string_logprob": json_answer(bad_logprobs("-0.1")),
    "deep_json_content": json_answer(completion("[" * 5000 + "]" * 5000)),
    "not_the_schema": json_answer(completion('{"score": "eleven"}')),
}

PATHS = {
    "pass_through": {"model": "base", "messages": Q},
    "intrinsic": {"model": "uncertainty", "messages": [*Q, {"role": "assistant", "content": "Paris."}]},
    "certainty": {"model": "base", "messages": Q, "certainty": True},
    "flag": {"model": "base", "messages": Q, "certainty": {"threshold": 0.99, "action": "flag"}},
    "abstain": {"model": "base", "messages": Q, "certainty": {"threshold": 0.99, "action": "abstain"}},
    "fallback": {"model": "base", "messages": Q, "certainty": {"threshold": 0.99, "action": "fallback"}},
}


def healthy(request: httpx.Request, stream: bool) -> httpx.Response:
    """A well-behaved vLLM: health, base answers (streamed when asked) and adapter outputs."""
    if request.method == "GET":
        return httpx.Response(200)
    body = json.loads(request.content)
    if body["model"] == "uncertainty":
        return httpx.Response(200, json=adapter_output(HIGH))
    if stream and body.get("stream"):
        return httpx.Response(200, content=GOOD_STREAM, headers=SSE)
    return httpx.Response(200, json=completion("Paris." if body["model"] == "base" else "Lyon."))


def client_with(faults: dict) -> TestClient:
    """The gateway in front of a vLLM (and fallback) whose answers for the models in ``faults``
    are those faults; every other model answers well."""

    def handler(request: httpx.Request) -> httpx.Response:
        body = json.loads(request.content)
        if body["model"] in faults:
            answer = faults[body["model"]](bool(body.get("stream")))
            if isinstance(answer, Exception):
                raise answer
            return answer
        return healthy(request, True)

    return make_client(handler, adapters=UNCERTAINTY, certainty={"fallback": FALLBACK}, raise_server_exceptions=False)


def check_error(err: dict) -> None:
    assert set(err) == {"message", "type", "param", "code"}
    assert isinstance(err["message"], str) and err["message"] and isinstance(err["type"], str)


def check_certainty(choice: dict) -> None:
    """A certainty the likelihood rule can give, or none and the reason why: never a made-up number."""
    value = choice["certainty"]
    assert (0.05 <= value <= 0.95) if value is not None else choice["certainty_error"]["code"], choice


def streamed(resp: httpx.Response) -> bool:
    return resp.headers.get("content-type", "").startswith("text/event-stream")


def stream_events(resp: httpx.Response) -> list:
    """The JSON data of each event of a streamed answer, as an SSE client reads them (garbage
    vLLM sent, relayed as it came, and ``[DONE]`` are left out)."""
    out = []
    for event in EventSource(resp).iter_sse():
        try:
            out.append(json.loads(event.data))
        except json.JSONDecodeError:
            continue
    return out


def stream_choices(resp: httpx.Response) -> list[dict]:
    """The choices of a streamed answer put together as a client does, in the shape of a
    non-streamed answer's: each delta's content joined into ``message``, and every field the
    chunks set on the choice (``certainty``, ``certainty_error``, the guard's) kept."""
    choices: dict[int, dict] = {}
    for chunk in stream_events(resp):
        parts = chunk.get("choices") if isinstance(chunk, dict) else None
        for c in parts if isinstance(parts, list) else []:
            if not isinstance(c, dict) or not isinstance(c.get("index", 0), int):
                continue
            choice = choices.setdefault(c.get("index", 0), {"message": {"content": ""}})
            delta = c.get("delta") if isinstance(c.get("delta"), dict) else {}
            for k, v in delta.items():
                if k == "content":
                    choice["message"]["content"] += v if isinstance(v, str) else ""
                else:
                    choice["message"][k] = v
            for k, v in c.items():
                if k != "delta" and (v is not None or k not in choice):
                    choice[k] = v  # a later chunk's null (finish_reason) does not undo an earlier value
    return [choices[i] for i in sorted(choices)]


def answer_choices(resp: httpx.Response) -> list[dict]:
    """The answer's choices, streamed or not, in the non-streamed shape."""
    return stream_choices(resp) if streamed(resp) else resp.json()["choices"]


def check_answer(resp: httpx.Response, scored: bool, relayed: bool = False) -> None:
    """A complete answer or a clean OpenAI error; a stream ends with [DONE], an error event last
    before it. A scored answer has for each choice a valid certainty or none and its reason,
    streamed or not; a stream cut off by an error has no certainty at all."""
    assert resp.status_code != 500, resp.text
    if streamed(resp):
        events = [e for e in resp.text.replace("\r\n", "\n").split("\n\n") if e.strip()]
        assert events[-1] == "data: [DONE]", resp.text
        failed = False
        for i, raw in enumerate(events[:-1]):
            data = "\n".join(line.removeprefix("data: ").removeprefix("data:") for line in raw.split("\n"))
            try:
                payload = json.loads(data)
            except json.JSONDecodeError:
                continue  # garbage vLLM sent is relayed as it came, not made fatal
            if isinstance(payload, dict) and "error" in payload:
                check_error(payload["error"])
                assert i == len(events) - 2, "an error event is the last before [DONE]"
                failed = True
        if not scored:
            return
        for choice in stream_choices(resp):
            if failed:  # the answer is incomplete: nothing was scored, so no number may appear
                assert choice.get("certainty") is None, resp.text
            else:
                check_certainty(choice)
        return
    body = resp.json()
    if resp.status_code >= 400:
        check_error(body["error"])
        return
    assert resp.status_code == 200 and isinstance(body, dict)
    if relayed:
        return  # pass-through relays vLLM's JSON object unparsed: its fields are vLLM's own
    for choice in body["choices"]:
        assert isinstance(choice["message"], dict)
        if scored:
            check_certainty(choice)


@pytest.mark.parametrize("stream", [False, True])
@pytest.mark.parametrize("path", PATHS)
@pytest.mark.parametrize("fault", FAULTS)
def test_a_faulty_answer_call_gives_an_answer_or_a_clean_error(path, fault, stream):
    target = "uncertainty" if path == "intrinsic" else "base"
    with client_with({target: FAULTS[fault]}) as client:
        resp = client.post("/v1/chat/completions", json={**PATHS[path], "stream": stream})
    check_answer(resp, scored=path not in ("pass_through", "intrinsic"), relayed=path == "pass_through")


@pytest.mark.parametrize("stream", [False, True])
@pytest.mark.parametrize("path", [p for p in PATHS if p != "pass_through"])
@pytest.mark.parametrize("fault", {**FAULTS, **ADAPTER_FAULTS})
def test_a_faulty_adapter_keeps_the_answer_and_never_makes_up_a_number(path, fault, stream):
    with client_with({"uncertainty": {**FAULTS, **ADAPTER_FAULTS}[fault]}) as client:
        resp = client.post("/v1/chat/completions", json={**PATHS[path], "stream": stream})
    check_answer(resp, scored=path != "intrinsic")
    if path == "intrinsic":
        return
    # The answer is kept, unscored; the guard cannot act on a certainty it does not have.
    choice = answer_choices(resp)[0]
    assert choice["message"]["content"] == "Paris." and choice["certainty"] is None
    assert choice["certainty_error"]["code"]


@pytest.mark.parametrize("stream", [False, True])
@pytest.mark.parametrize("fault", FAULTS)
def test_a_faulty_fallback_keeps_the_first_answer(fault, stream):
    low = json_answer(adapter_output({"1": 1.0}))
    with client_with({"uncertainty": low, "fallback-model": FAULTS[fault]}) as client:
        resp = client.post("/v1/chat/completions", json={**PATHS["fallback"], "stream": stream})
    check_answer(resp, scored=True)
    if fault != "usage_a_string":  # that one is an answer: only its usage is not counted
        choice = answer_choices(resp)[0]
        assert choice["message"]["content"] == "Paris." and choice["fallback_error"]["message"]
        assert choice["answered_by"] == "base"
