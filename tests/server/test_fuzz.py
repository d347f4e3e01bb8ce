"""Schema-driven fuzzing: schemathesis generates requests, valid and invalid, from the
gateway's own OpenAPI document and sends them to the app (a fake vLLM behind it). Whatever it
sends: no 500, and every 4xx/5xx is an OpenAI error. Bounded: a fixed number of examples.

The integration tier runs the same checks against the real tiny stack."""

import json

import httpx
import pytest
import schemathesis
from fastapi.testclient import TestClient
from hypothesis import HealthCheck, settings
from schemathesis.checks import not_a_server_error

from ..fuzzing import send_case
from .apps import UNCERTAINTY, make_app
from .test_fault_matrix import GOOD_STREAM, healthy


def openai_error_shape(ctx, response, case):
    """Every error answer has OpenAI's shape (499, a client gone, has no body to read)."""
    if response.status_code >= 400:
        err = response.json()["error"]
        assert set(err) == {"message", "type", "param", "code"}, err
        assert isinstance(err["message"], str) and isinstance(err["type"], str)
        assert err["param"] is None or isinstance(err["param"], str)
        assert err["code"] is None or isinstance(err["code"], str)


def fake_vllm(request: httpx.Request) -> httpx.Response:
    """``healthy`` on chat and GETs; every passed-through endpoint answers a JSON object, or a
    stream when its JSON body asks for one."""
    if request.method == "GET" or request.url.path == "/v1/chat/completions":
        return healthy(request, stream=True)
    try:
        body = json.loads(request.content)
    except ValueError:
        body = None
    if isinstance(body, dict) and body.get("stream") is True:
        return httpx.Response(200, content=GOOD_STREAM, headers={"content-type": "text/event-stream"})
    return httpx.Response(200, json={"object": "list", "data": []})


def fuzzed_app():
    return make_app(fake_vllm, adapters=UNCERTAINTY, limits={"max_in_flight": 10_000})


APP = fuzzed_app()
schema = schemathesis.openapi.from_dict(APP.openapi())
schema.config.generation.update(modes=[schemathesis.GenerationMode.POSITIVE, schemathesis.GenerationMode.NEGATIVE])
MODELS = ["base", "uncertainty", "base", "no-such-model"]


@schema.hook
def map_body(context, body):
    """Most generated requests name a served model (a random string would only ever be a 404)."""
    if isinstance(body, dict) and isinstance(body.get("model"), str):
        body["model"] = MODELS[len(body["model"]) % len(MODELS)]
    return body


@pytest.fixture(scope="module")
def client():
    # One client for the whole run: the app's lifespan (and its upstream clients) spans every case.
    with TestClient(APP, raise_server_exceptions=False) as client:
        yield client


@schema.parametrize()
@settings(max_examples=150, deadline=None, suppress_health_check=list(HealthCheck), derandomize=True)
def test_no_generated_request_gets_a_500_or_an_error_outside_the_openai_shape(case, client):
    response = send_case(client, case)
    case.validate_response(response, checks=[not_a_server_error, openai_error_shape])
