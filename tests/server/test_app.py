"""The gateway app against a fake vLLM (httpx.MockTransport): routing, pass-through, errors.

These are unit tests of the gateway's own logic and fault handling; that the features work
against a real vLLM is proven in tests/integration.
"""

import json

import httpx
import pytest
from fastapi.testclient import TestClient

from server.app import create_app
from server.settings import Settings

JSON = {"content-type": "application/json"}
COMPLETION = (
    b'{"id":"c1","object":"chat.completion",'
    b'"choices":[{"index":0,"message":{"role":"assistant","content":"Paris"},"finish_reason":"stop"}]}'
)
SSE = [
    b'data: {"choices":[{"delta":{"content":"Pa"}}]}\n\n',
    b'data: {"choices":[{"delta":{"content":"ris"}}]}\n\n',
    b"data: [DONE]\n\n",
]


async def chunks(parts):
    for part in parts:  # an async body, so httpx streams it instead of reading it eagerly
        yield part


def make_client(handler, **settings):
    s = Settings(model={"path": "/m", "served_name": "base"}, **settings)
    return TestClient(create_app(s, intrinsics={}, transport=httpx.MockTransport(handler)))


def chat(client, body, **kw):
    return client.post("/v1/chat/completions", content=body if isinstance(body, bytes) else json.dumps(body), **kw)


BASIC = {"model": "base", "messages": [{"role": "user", "content": "hi"}]}


def test_base_model_body_passes_through_byte_for_byte():
    seen = {}

    def handler(request):
        seen["body"] = request.content
        return httpx.Response(200, content=COMPLETION, headers=JSON)

    body = b'{"model": "base", "messages": [{"role": "user", "content": "hi"}], "top_k": 3, "weird_field": [1, 2]}'
    with make_client(handler) as client:
        resp = chat(client, body)
    assert seen["body"] == body
    assert resp.status_code == 200 and resp.content == COMPLETION


def test_base_model_stream_is_relayed_unchanged():
    with make_client(
        lambda r: httpx.Response(200, content=chunks(SSE), headers={"content-type": "text/event-stream"})
    ) as client:
        resp = chat(client, {**BASIC, "stream": True})
    assert resp.status_code == 200 and resp.headers["content-type"].startswith("text/event-stream")
    assert resp.content == b"".join(SSE)


@pytest.mark.parametrize("stream", [False, True])
def test_vllm_client_errors_pass_on_with_their_status(stream):
    err = {
        "error": {"message": "max_tokens is too large", "type": "BadRequestError", "param": "max_tokens", "code": 400}
    }
    with make_client(lambda r: httpx.Response(400, json=err)) as client:
        resp = chat(client, {**BASIC, "stream": stream})
    # vLLM's message, type and param are kept; its integer code becomes an OpenAI string code.
    assert resp.status_code == 400 and resp.json() == {"error": {**err["error"], "code": "upstream_error"}}


@pytest.mark.parametrize("stream", [False, True])
def test_an_error_page_from_a_proxy_becomes_an_openai_error_with_its_status(stream):
    page = httpx.Response(502, text="<html><body>Bad Gateway</body></html>", headers={"content-type": "text/html"})
    with make_client(lambda r: page) as client:
        resp = chat(client, {**BASIC, "stream": stream})
    assert resp.status_code == 502 and resp.headers["content-type"] == "application/json"
    assert "Bad Gateway" in resp.json()["error"]["message"] and resp.json()["error"]["type"] == "upstream_error"


@pytest.mark.parametrize(
    "body, status, param",
    [
        (b"{not json", 400, None),
        (b"[1, 2]", 400, None),
        (json.dumps({"model": "base"}).encode(), 400, "messages"),
        (json.dumps({"model": "base", "messages": []}).encode(), 400, "messages"),
        (json.dumps({"messages": [{"role": "user", "content": "x"}]}).encode(), 400, "model"),
        (json.dumps({**BASIC, "n": 0}).encode(), 400, "n"),
        (json.dumps({**BASIC, "model": "gpt-4"}).encode(), 404, "model"),
    ],
)
def test_bad_requests_get_openai_errors(body, status, param):
    def never(request):
        raise AssertionError("must not reach vLLM")

    with make_client(never) as client:
        resp = chat(client, body)
    assert resp.status_code == status
    err = resp.json()["error"]
    assert set(err) == {"message", "type", "param", "code"} and err["message"]
    assert err["param"] == param


@pytest.mark.parametrize(
    "exc, status, code",
    [
        (httpx.ConnectError("refused"), 503, "upstream_unavailable"),
        (httpx.ConnectTimeout("slow connect"), 503, "upstream_unavailable"),
        (httpx.ReadTimeout("slow"), 504, "upstream_timeout"),
        (httpx.RemoteProtocolError("closed"), 503, "upstream_unavailable"),
    ],
)
@pytest.mark.parametrize("stream", [False, True])
def test_upstream_failures(exc, status, code, stream):
    def handler(request):
        raise exc

    with make_client(handler) as client:
        resp = chat(client, {**BASIC, "stream": stream})
    assert resp.status_code == status and resp.json()["error"]["code"] == code


def test_api_key_is_enforced_on_v1_only():
    ok = lambda r: httpx.Response(200, content=COMPLETION, headers=JSON)
    with make_client(ok, api_key="s3cret") as client:
        assert chat(client, BASIC).status_code == 401
        assert chat(client, BASIC, headers={"Authorization": "Bearer wrong"}).status_code == 401
        denied = client.get("/v1/models")
        assert denied.status_code == 401 and denied.json()["error"]["type"] == "authentication_error"
        assert chat(client, BASIC, headers={"Authorization": "Bearer s3cret"}).status_code == 200
        assert client.get("/v1/models", headers={"Authorization": "Bearer s3cret"}).status_code == 200
        assert client.get("/health").status_code == 200


def test_health_reports_upstream_state():
    with make_client(lambda r: httpx.Response(200)) as client:
        assert client.get("/health").json()["status"] == "ok"
    with make_client(lambda r: (_ for _ in ()).throw(httpx.ConnectError("down"))) as client:
        resp = client.get("/health")
    assert resp.status_code == 503 and resp.json()["status"] == "degraded"


def test_health_never_shows_the_upstream_urls_credentials():
    s = Settings(model={"path": "/m", "served_name": "base"}, vllm={"url": "http://user:s3cret@vllm:8000/"})
    app = create_app(s, intrinsics={}, transport=httpx.MockTransport(lambda r: httpx.Response(200)))
    with TestClient(app) as client:
        body = client.get("/health").json()
    assert body["upstream"]["url"] == "http://vllm:8000" and "s3cret" not in json.dumps(body)


def test_unknown_route_is_an_openai_404():
    with make_client(lambda r: httpx.Response(200)) as client:
        resp = client.get("/v1/nothing")
    assert resp.status_code == 404 and resp.json()["error"]["code"] == "not_found"


def test_connection_lost_mid_stream_ends_with_an_error_event():
    async def broken():
        yield SSE[0]
        raise httpx.ReadError("vLLM died")

    with make_client(
        lambda r: httpx.Response(200, content=broken(), headers={"content-type": "text/event-stream"})
    ) as client:
        resp = chat(client, {**BASIC, "stream": True})
        metrics = client.get("/metrics").text
    first, last = resp.content.split(b"\n\n")[:2]
    assert first + b"\n\n" == SSE[0]
    assert json.loads(last.removeprefix(b"data: "))["error"]["code"] == "upstream_unavailable"
    assert 'granite_certainty_upstream_errors_total{code="upstream_unavailable"} 1.0' in metrics


def test_metrics_count_requests_by_route_model_status_and_upstream_errors():
    def handler(request):
        if b'"boom"' in request.content:
            raise httpx.ConnectError("down")
        return httpx.Response(200, content=COMPLETION, headers=JSON)

    with make_client(handler) as client:
        chat(client, BASIC)
        chat(client, BASIC)
        chat(client, {**BASIC, "model": "nope"})
        chat(client, {**BASIC, "messages": [{"role": "user", "content": "boom"}]})
        text = client.get("/metrics").text
    route = 'route="/v1/chat/completions"'
    assert f'granite_certainty_requests_total{{model="base",{route},status="200"}} 2.0' in text
    assert f'granite_certainty_requests_total{{model="unknown",{route},status="404"}} 1.0' in text
    assert f'granite_certainty_requests_total{{model="base",{route},status="503"}} 1.0' in text
    assert 'granite_certainty_upstream_errors_total{code="upstream_unavailable"} 1.0' in text
    assert f'granite_certainty_request_seconds_count{{model="base",{route}}} 3.0' in text


def test_a_deployment_whose_certainty_intrinsic_names_nothing_it_serves_refuses_to_start():
    from server.settings import DeploymentError

    other = object()  # any served intrinsic other than the scoring one
    s = Settings(model={"path": "/m", "served_name": "base"}, certainty={"intrinsic": "uncertainty"})
    with pytest.raises(DeploymentError, match="certainty.intrinsic names 'uncertainty'.*citations"):
        create_app(s, intrinsics={"citations": other})
    always = Settings(model={"path": "/m", "served_name": "base"}, certainty={"always": True})
    with pytest.raises(DeploymentError, match="certainty.intrinsic"):
        create_app(always, intrinsics={})
    assert create_app(s, intrinsics={})  # a plain front for vLLM, no intrinsic at all, starts


def test_the_scoring_intrinsic_is_looked_up_once_at_start():
    scoring = object()
    s = Settings(model={"path": "/m", "served_name": "base"}, certainty={"intrinsic": "judge"})
    app = create_app(s, intrinsics={"judge": scoring, "other": object()})
    assert app.state.gateway.scoring_intrinsic is scoring


def test_the_openapi_document_shows_the_model_cards_kind_and_parent():
    with make_client(lambda r: httpx.Response(200)) as client:
        card = client.get("/openapi.json").json()["components"]["schemas"]["ModelCard"]["properties"]
        listed = client.get("/v1/models").json()["data"]
    assert {"kind", "parent"} <= card.keys()
    assert listed == [{"id": "base", "object": "model", "created": 0, "owned_by": "granite-certainty", "kind": "base"}]
