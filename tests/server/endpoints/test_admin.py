"""vLLM's admin endpoints stay closed (the gateway's 404) unless ``admin.api_key`` is set; then
they pass through for that key only: the other API keys get 403, no key 401."""

import httpx
import pytest

from server.endpoints import ADMIN

from ..apps import make_app, make_client

OK = b'{"ok":true}'


def vllm(calls: list):
    def handler(request: httpx.Request) -> httpx.Response:
        calls.append(request)
        return httpx.Response(200, content=OK, headers={"content-type": "application/json"})

    return handler


@pytest.mark.parametrize("endpoint", ADMIN, ids=lambda e: e.path)
def test_an_admin_endpoint_is_a_404_without_an_admin_key(endpoint):
    calls = []
    with make_client(vllm(calls), api_key="sk-1") as client:
        resp = client.request(endpoint.method, endpoint.path, headers={"authorization": "Bearer sk-1"})
    assert resp.status_code == 404 and calls == []
    assert resp.json()["error"] == {
        "message": "Not Found",
        "type": "invalid_request_error",
        "param": None,
        "code": "not_found",
    }


@pytest.mark.parametrize("endpoint", ADMIN, ids=lambda e: e.path)
def test_an_admin_endpoint_passes_through_for_the_admin_key_only(endpoint):
    calls = []
    body = b'{"lora_name":"x","lora_path":"/a"}' if endpoint.method == "POST" else b""
    with make_client(vllm(calls), api_key="sk-1", admin={"api_key": "adm-1"}) as client:
        send = lambda key: client.request(
            endpoint.method, endpoint.path, content=body, headers={"authorization": f"Bearer {key}"} if key else {}
        )
        admin, user, nobody, wrong = send("adm-1"), send("sk-1"), send(None), send("nope")
    assert admin.status_code == 200 and admin.content == OK
    assert (user.status_code, user.json()["error"]["type"]) == (403, "permission_error")
    assert nobody.status_code == 401 and wrong.status_code == 401
    (sent,) = calls
    assert (sent.method, sent.url.path, sent.content) == (endpoint.method, endpoint.path, body)
    assert "adm-1" not in sent.headers.get("authorization", "")


def test_the_admin_key_is_not_an_api_key():
    with make_client(vllm([]), api_key="sk-1", admin={"api_key": "adm-1"}) as client:
        resp = client.post("/v1/completions", json={"model": "base"}, headers={"authorization": "Bearer adm-1"})
    assert resp.status_code == 401


def test_admin_endpoints_are_not_in_the_openapi_document():
    paths = make_app(vllm([]), admin={"api_key": "adm-1"}).openapi()["paths"]
    assert not {e.path for e in ADMIN} & set(paths)
