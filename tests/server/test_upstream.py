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
