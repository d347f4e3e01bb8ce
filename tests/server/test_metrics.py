"""Prometheus metrics: requests counted by route, model and status, and upstream errors by code."""

import httpx

from .apps import BASIC, COMPLETION, JSON, chat, make_client


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
