"""The gateway's client to vLLM: transport failures become typed errors (503 unreachable, 504
timeout), and a busy connection pool fails fast, after the configured wait, with Retry-After;
each failure is logged once (request id, upstream, cause, sent again or not) and counted."""

import httpx
import pytest

from server.network import Attempt
from server.settings import Settings

from .apps import BASE, BASIC, COMPLETION, JSON, chat, make_app, make_client


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


def failure_lines(caplog) -> list[str]:
    return [r.getMessage() for r in caplog.records if r.getMessage().startswith("upstream ")]


@pytest.mark.parametrize("stream", [False, True])
def test_each_upstream_failure_is_logged_once_with_the_request_id_the_upstream_and_the_cause(caplog, stream):
    def handler(request):
        raise httpx.ReadTimeout("no bytes within 600 s")

    with make_client(handler, vllm={"url": "http://user:secret@vllm:8001"}) as client:
        resp = chat(client, {**BASIC, "stream": stream}, headers={"x-request-id": "req-42"})
        metrics = client.get("/metrics").text
    assert resp.status_code == 504 and resp.headers["x-request-id"] == "req-42"
    (line,) = failure_lines(caplog)
    assert "upstream vllm (http://vllm:8001) failed on POST /v1/chat/completions: read_timeout" in line
    assert "no bytes within 600 s" in line and "not sent again" in line and "(request req-42)" in line
    assert "secret" not in line
    assert (
        'granite_certainty_upstream_failures_total{cause="read_timeout",outcome="failed",upstream="vllm"} 1.0'
        in metrics
    )


def test_a_failure_in_the_middle_of_a_stream_is_logged_once(caplog):
    class Broken(httpx.AsyncByteStream):
        async def __aiter__(self):
            yield b'data: {"choices": []}\n\n'
            raise httpx.RemoteProtocolError("the server closed the connection before the answer was whole")

    def handler(request):
        return httpx.Response(200, headers={"content-type": "text/event-stream"}, stream=Broken())

    with make_client(handler) as client:
        resp = chat(client, {**BASIC, "stream": True})
    assert resp.status_code == 200 and "data: [DONE]" in resp.text
    (line,) = failure_lines(caplog)
    assert "failed on POST /v1/chat/completions: protocol_error" in line and "before the answer was whole" in line


def test_a_request_answered_only_when_sent_again_is_logged_and_counted_as_retried(caplog):
    def handler(request):
        lost = httpx.RemoteProtocolError("the server closed the connection without an answer")
        lost.before_answer = True
        return httpx.Response(200, content=COMPLETION, headers=JSON, extensions={"attempt": Attempt(retried=lost)})

    with make_client(handler) as client:
        resp = chat(client, BASIC, headers={"x-request-id": "req-7"})
        metrics = client.get("/metrics").text
    assert resp.status_code == 200 and resp.json()["choices"][0]["message"]["content"] == "Paris"
    (line,) = failure_lines(caplog)
    assert "POST /v1/chat/completions lost its pooled connection (closed_before_answer" in line
    assert "sent again on a new one, answered (request req-7)" in line
    assert 'cause="closed_before_answer",outcome="retried",upstream="vllm"} 1.0' in metrics


def test_a_health_probe_that_finds_vllm_down_logs_at_debug_level_only(caplog):
    def handler(request):
        raise httpx.ConnectError("refused")

    with make_client(handler) as client:
        assert client.get("/readyz").status_code == 503
    assert [r.levelname for r in caplog.records if r.getMessage().startswith("upstream ")] in ([], ["DEBUG"] * 2)


def test_pooled_connections_to_vllm_expire_before_vllms_own_five_second_keep_alive():
    assert Settings(model=BASE).upstream_keepalive_s < 5
