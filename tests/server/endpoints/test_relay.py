"""vLLM's other endpoints, passed through: the body and the answer byte for byte, streams ended
well-formed, vLLM's errors in the OpenAI shape, intrinsics and unknown models refused before
vLLM is called, and the gateway's own checks (keys, body limit, cancellation) on every route."""

import asyncio
import json

import httpx
import pytest

from server.endpoints import PUBLIC
from server.settings import Settings

from ..apps import UNCERTAINTY, leave_once_started, make_app, make_client

JSON_ENDPOINTS = [e.path for e in PUBLIC if e.body == "json"]
STREAMING = [e.path for e in PUBLIC if e.streams and not e.events]
AUDIO = [e.path for e in PUBLIC if e.body == "multipart"]
#: A body with odd spacing, key order and fields the gateway does not know: it must reach vLLM as is.
ODD = b'{ "prompt" :"hi",  "model":"base", "vllm_only":{"x":[1, 2.50]} }'
ANSWER = b'{"id":"x",  "object":"text_completion","weird":1e3}'
SSE = {"content-type": "text/event-stream"}
STREAM = (
    b'data: {"id":"s","choices":[{"text":"Pa"}]}\n\ndata: {"id":"s","choices":[{"text":"ris"}]}\n\ndata: [DONE]\n\n'
)


class Recorder:
    """A vLLM that records each request and answers with ``answer`` (a response, or a function of the request)."""

    def __init__(self, answer=None):
        self.answer = answer or httpx.Response(200, content=ANSWER, headers={"content-type": "application/json"})
        self.requests: list[httpx.Request] = []

    def __call__(self, request: httpx.Request) -> httpx.Response:
        self.requests.append(request)
        return self.answer(request) if callable(self.answer) else self.answer


def post(client, path, body=ODD, **kw):
    return client.post(path, content=body, headers={"content-type": "application/json", **kw.pop("headers", {})}, **kw)


@pytest.mark.parametrize("path", JSON_ENDPOINTS)
def test_a_json_endpoint_relays_body_and_answer_byte_for_byte(path):
    vllm = Recorder()
    with make_client(vllm, adapters=UNCERTAINTY) as client:
        resp = post(client, path)
    assert resp.status_code == 200 and resp.content == ANSWER
    assert resp.headers["content-type"].startswith("application/json")
    (sent,) = vllm.requests
    assert (sent.method, sent.url.path, sent.content) == ("POST", path, ODD)
    assert sent.headers["content-type"] == "application/json"


@pytest.mark.parametrize(
    "method, path", [("GET", "/version"), ("GET", "/v1/responses/resp_1%3Ax"), ("POST", "/v1/responses/r1/cancel")]
)
def test_an_endpoint_without_body_keeps_method_path_and_query(method, path):
    vllm = Recorder()
    with make_client(vllm) as client:
        resp = client.request(method, path + "?stream=false&starting_after=3")
    assert resp.status_code == 200 and resp.content == ANSWER
    (sent,) = vllm.requests
    assert sent.method == method and sent.url.raw_path == (path + "?stream=false&starting_after=3").encode()


@pytest.mark.parametrize("path", AUDIO)
def test_an_upload_is_relayed_with_its_bytes_and_content_type_and_a_text_answer_as_it_came(path):
    vllm = Recorder(httpx.Response(200, content=b"Bonjour.\n", headers={"content-type": "text/plain; charset=utf-8"}))
    with make_client(vllm) as client:
        req = client.build_request(
            "POST", path, files={"file": ("a.wav", b"RIFF\x00\x01")}, data={"model": "base", "response_format": "text"}
        )
        resp = client.send(req)
    assert resp.status_code == 200 and resp.content == b"Bonjour.\n"
    assert resp.headers["content-type"].startswith("text/plain")
    (sent,) = vllm.requests
    assert sent.content == req.content and sent.headers["content-type"] == req.headers["content-type"]


@pytest.mark.parametrize("path", [*STREAMING, *AUDIO])
def test_a_stream_is_relayed_byte_for_byte(path):
    vllm = Recorder(httpx.Response(200, content=STREAM, headers=SSE))
    with make_client(vllm) as client:
        if path in AUDIO:
            resp = client.post(path, files={"file": ("a.wav", b"RIFF")}, data={"model": "base", "stream": "true"})
        else:
            resp = post(client, path, b'{"model":"base","stream":true}')
    assert resp.status_code == 200 and resp.headers["content-type"].startswith("text/event-stream")
    assert resp.content == STREAM


@pytest.mark.parametrize("path", STREAMING)
def test_a_stream_that_stops_without_done_ends_with_an_error_event_and_done(path):
    cut = STREAM.removesuffix(b"data: [DONE]\n\n")
    with make_client(Recorder(httpx.Response(200, content=cut, headers=SSE))) as client:
        resp = post(client, path, b'{"model":"base","stream":true}')
    assert resp.content.startswith(cut) and resp.content.endswith(b"data: [DONE]\n\n")
    assert b'"upstream_unavailable"' in resp.content[len(cut) :]


def responses_stream(*events: str) -> list[bytes]:
    """A Responses API stream (named events, no ``[DONE]``), one chunk per event."""
    return [f'event: {e}\ndata: {{"type":"{e}","sequence_number":{i}}}\n\n'.encode() for i, e in enumerate(events)]


def chunked(parts: list[bytes], fail: Exception | None = None):
    async def gen():
        for part in parts:
            yield part
        if fail:
            raise fail

    return gen()


COMPLETE = responses_stream("response.created", "response.output_text.delta", "response.completed")


@pytest.mark.parametrize("method, path", [("POST", "/v1/responses"), ("GET", "/v1/responses/r1?stream=true")])
@pytest.mark.parametrize("split", [False, True], ids=["whole", "split-mid-event-name"])
def test_a_complete_responses_stream_is_relayed_byte_for_byte(method, path, split):
    raw = b"".join(COMPLETE)
    parts = (
        [raw[: raw.rindex(b"response.completed") + 9], raw[raw.rindex(b"response.completed") + 9 :]]
        if split
        else COMPLETE
    )
    vllm = Recorder(lambda r: httpx.Response(200, content=chunked(parts), headers=SSE))
    with make_client(vllm) as client:
        body = b'{"model":"base","input":"hi","stream":true}' if method == "POST" else b""
        resp = client.request(method, path, content=body)
    assert resp.status_code == 200 and resp.content == raw


@pytest.mark.parametrize("fail", [None, httpx.ReadError("gone")], ids=["stops-short", "connection-lost"])
def test_a_responses_stream_that_ends_without_a_final_event_gets_an_error_event(fail):
    cut = COMPLETE[:2]
    vllm = Recorder(lambda r: httpx.Response(200, content=chunked(cut, fail), headers=SSE))
    with make_client(vllm) as client:
        resp = post(client, "/v1/responses", b'{"model":"base","input":"hi","stream":true}')
    head, tail = resp.content[: len(b"".join(cut))], resp.content[len(b"".join(cut)) :]
    assert head == b"".join(cut) and tail.startswith(b"event: error\ndata: ") and b"[DONE]" not in tail
    data = json.loads(tail.removeprefix(b"event: error\ndata: "))
    assert data["type"] == "error" and data["code"] == data["error"]["code"] == "upstream_unavailable"


def test_a_stream_asked_for_and_answered_with_json_is_a_502():
    with make_client(Recorder()) as client:
        resp = post(client, "/v1/completions", b'{"model":"base","stream":true}')
    assert resp.status_code == 502 and resp.json()["error"]["type"] == "upstream_error"


@pytest.mark.parametrize(
    "status, body, message",
    [
        (
            400,
            b'{"error":{"message":"max_tokens too big","type":"BadRequestError","param":"max_tokens","code":400}}',
            "max_tokens too big",
        ),
        (
            404,
            b'{"error":{"message":"no such response","type":"NotFoundError","param":null,"code":404}}',
            "no such response",
        ),
        (500, b"<html>oops</html>", "<html>oops</html>"),
    ],
)
@pytest.mark.parametrize("stream", [False, True])
def test_vllm_errors_are_relayed_in_the_openai_shape_with_vllms_status(status, body, message, stream):
    vllm = Recorder(httpx.Response(status, content=body))
    with make_client(vllm) as client:
        resp = post(client, "/v1/completions", b'{"model":"base","stream":%s}' % (b"true" if stream else b"false"))
    assert resp.status_code == status
    err = resp.json()["error"]
    assert set(err) == {"message", "type", "param", "code"} and err["message"] == message


def test_a_proxy_page_in_place_of_a_success_is_a_502():
    vllm = Recorder(httpx.Response(200, content=b"<html>login</html>", headers={"content-type": "text/html"}))
    with make_client(vllm) as client:
        resp = post(client, "/tokenize")
    assert resp.status_code == 502 and resp.json()["error"]["type"] == "upstream_error"


@pytest.mark.parametrize("failure, status", [(httpx.ConnectError("refused"), 503), (httpx.ReadTimeout("slow"), 504)])
def test_an_unreachable_or_slow_vllm_is_an_openai_error(failure, status):
    def fail(request):
        raise failure

    with make_client(fail, raise_server_exceptions=False) as client:
        resp = post(client, "/v1/embeddings")
    assert resp.status_code == status and resp.json()["error"]["type"] == "upstream_error"


@pytest.mark.parametrize("path", [*JSON_ENDPOINTS, *AUDIO])
def test_an_intrinsic_name_is_a_400_naming_the_chat_endpoint_and_vllm_is_not_called(path):
    vllm = Recorder()
    with make_client(vllm, adapters=UNCERTAINTY) as client:
        if path in AUDIO:
            resp = client.post(path, files={"file": ("a.wav", b"RIFF")}, data={"model": "uncertainty"})
        else:
            resp = post(client, path, b'{"model":"uncertainty","prompt":"hi"}')
    assert resp.status_code == 400, resp.text
    err = resp.json()["error"]
    assert err["type"] == "invalid_request_error" and err["param"] == "model"
    assert "/v1/chat/completions" in err["message"] and path in err["message"]
    assert vllm.requests == []


def test_an_unknown_model_is_a_404_as_on_chat_and_no_model_is_vllms_default():
    vllm = Recorder()
    with make_client(vllm) as client:
        unknown = post(client, "/v1/completions", b'{"model":"nope","prompt":"hi"}')
        default = post(client, "/tokenize", b'{"prompt":"hi"}')
    assert unknown.status_code == 404 and unknown.json()["error"]["code"] == "model_not_found"
    assert default.status_code == 200 and len(vllm.requests) == 1


@pytest.mark.parametrize("body", [b"not json", b"[1, 2]", b'"x"', b'{"model": 3}', b"[" * 100 + b"]" * 100])
def test_a_body_that_is_not_a_json_object_is_a_400_and_vllm_is_not_called(body):
    vllm = Recorder()
    with make_client(vllm) as client:
        resp = post(client, "/v1/completions", body)
    assert resp.status_code == 400 and resp.json()["error"]["type"] == "invalid_request_error"
    assert vllm.requests == []


def test_the_api_key_is_required_on_every_endpoint():
    vllm = Recorder()
    with make_client(vllm, api_key="sk-1") as client:
        refused = [
            post(client, e.path).status_code if e.method == "POST" else client.get(e.path).status_code for e in PUBLIC
        ]
        allowed = post(client, "/v1/completions", headers={"authorization": "Bearer sk-1"})
    assert set(refused) == {401} and vllm.requests[0].headers.get("authorization") != "Bearer sk-1"
    assert allowed.status_code == 200


def test_the_body_limit_applies():
    vllm = Recorder()
    with make_client(vllm, limits={"max_body_bytes": 2048}) as client:
        resp = post(client, "/v1/embeddings", b'{"model":"base","input":"%s"}' % (b"x" * 4096))
    assert resp.status_code == 413 and vllm.requests == []


def test_the_route_template_labels_the_metrics():
    with make_client(Recorder()) as client:
        client.get("/v1/responses/r-1")
        client.get("/v1/responses/r-2")
        text = client.get("/metrics").text
    assert 'route="/v1/responses/{response_id}"' in text and "r-1" not in text


def test_the_routes_are_documented_with_their_errors():
    doc = make_app(Recorder()).openapi()
    for ep in PUBLIC:
        op = doc["paths"][ep.path][ep.method.lower()]
        assert {"400", "401", "404", "413", "502", "503", "504"} <= set(op["responses"])
    assert "response_id" in str(doc["paths"]["/v1/responses/{response_id}"]["get"]["parameters"])


def test_a_client_that_leaves_cancels_the_vllm_request():
    started, cancelled = asyncio.Event(), asyncio.Event()

    async def hanging(request):
        started.set()
        try:
            await asyncio.sleep(60)
        except asyncio.CancelledError:
            cancelled.set()
            raise

    async def scenario():
        body = {"model": "base", "prompt": "hi"}
        await asyncio.wait_for(leave_once_started(make_app(hanging), body, started, "/v1/completions"), 2)
        await asyncio.wait_for(cancelled.wait(), 2)

    asyncio.run(scenario())


def test_an_empty_admin_key_is_refused_at_load():
    with pytest.raises(ValueError, match="admin.api_key"):
        Settings(model={"path": "/m"}, admin={"api_key": " "})
