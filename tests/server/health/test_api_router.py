"""``GET /health`` reports vLLM's state and never its URL's credentials; the probes as
Kubernetes expects them: liveness never depends on vLLM; readiness needs vLLM healthy and
serving the base model and every adapter, and fails at once while draining."""

import json

import httpx
import pytest

from ..apps import UNCERTAINTY, make_client


def vllm(health=200, models=("base", "uncertainty"), down=False):
    def handler(request):
        if down:
            raise httpx.ConnectError("refused")
        if request.url.path == "/health":
            return httpx.Response(health)
        return httpx.Response(200, json={"object": "list", "data": [{"id": m} for m in models]})

    return handler


def client_for(handler):
    return make_client(handler, adapters=UNCERTAINTY)


def test_health_reports_upstream_state():
    with make_client(lambda r: httpx.Response(200)) as client:
        assert client.get("/health").json()["status"] == "ok"
    with make_client(lambda r: (_ for _ in ()).throw(httpx.ConnectError("down"))) as client:
        resp = client.get("/health")
    assert resp.status_code == 503 and resp.json()["status"] == "degraded"


def test_health_never_shows_the_upstream_urls_credentials():
    with make_client(lambda r: httpx.Response(200), vllm={"url": "http://user:s3cret@vllm:8000/"}) as client:
        body = client.get("/health").json()
    assert body["upstream"]["url"] == "http://vllm:8000" and "s3cret" not in json.dumps(body)


def test_ready_when_vllm_is_healthy_and_serves_every_model():
    with client_for(vllm()) as client:
        resp = client.get("/readyz")
    assert resp.status_code == 200 and resp.json() == {"status": "ready"}


@pytest.mark.parametrize(
    "handler, reason",
    [
        (vllm(down=True), "not reachable"),
        (vllm(health=503), "/health answered 503"),
        (vllm(models=("base",)), "does not serve uncertainty"),
        (vllm(models=()), "does not serve base, uncertainty"),
    ],
)
def test_not_ready_says_why_while_liveness_stays_up(handler, reason):
    with client_for(handler) as client:
        ready, live = client.get("/readyz"), client.get("/livez")
    assert ready.status_code == 503 and reason in ready.json()["reason"]
    assert live.status_code == 200 and live.json() == {"status": "alive"}


def test_a_draining_gateway_is_not_ready_at_once():
    with client_for(vllm()) as client:
        client.app.state.gateway.draining = True
        resp = client.get("/readyz")
    assert resp.status_code == 503 and "draining" in resp.json()["reason"]
