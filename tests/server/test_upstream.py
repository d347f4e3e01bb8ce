"""The gateway's client to vLLM: transport failures become typed errors (503 unreachable, 504
timeout), and a busy connection pool fails fast, after the configured wait, with Retry-After."""

import httpx
import pytest

from .apps import BASIC, COMPLETION, JSON, chat, make_app, make_client


def ok(request):
    return httpx.Response(200, content=COMPLETION, headers=JSON)


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


@pytest.mark.parametrize("stream", [False, True])
def test_a_saturated_upstream_pool_fails_fast_with_retry_after(stream):
    def busy(request):
        raise httpx.PoolTimeout("no connection free")

    with make_client(busy, limits={"retry_after_s": 2}) as client:
        resp = chat(client, {**BASIC, "stream": stream})
    assert resp.status_code == 503 and resp.headers["retry-after"] == "2"
    assert resp.json()["error"]["code"] == "upstream_busy"


def test_the_upstream_pool_waits_only_the_configured_pool_timeout():
    app = make_app(ok, limits={"pool_timeout_s": 0.25})
    assert app.state.gateway.upstream.client.timeout.pool == 0.25


@pytest.mark.parametrize(
    ("env", "url", "expected"),
    [
        ({}, "http://vllm:8000", None),
        ({"HTTP_PROXY": "http://proxy:3128"}, "http://vllm:8000", "http://proxy:3128"),
        ({"HTTPS_PROXY": "http://proxy:3128"}, "http://vllm:8000", None),
        ({"HTTPS_PROXY": "http://proxy:3128"}, "https://api.example/v1", "http://proxy:3128"),
        ({"HTTP_PROXY": "http://proxy:3128", "NO_PROXY": "vllm,localhost"}, "http://vllm:8000", None),
        ({"ALL_PROXY": "http://proxy:3128"}, "http://vllm:8000", "http://proxy:3128"),
    ],
)
def test_the_hot_path_uses_the_proxy_the_environment_names_as_the_client_would(monkeypatch, env, url, expected):
    from server.upstream import environment_proxy

    for name in (
        "HTTP_PROXY",
        "HTTPS_PROXY",
        "ALL_PROXY",
        "NO_PROXY",
        "http_proxy",
        "https_proxy",
        "all_proxy",
        "no_proxy",
    ):
        monkeypatch.delenv(name, raising=False)
    for name, value in env.items():
        monkeypatch.setenv(name, value)
    assert environment_proxy(url) == expected
