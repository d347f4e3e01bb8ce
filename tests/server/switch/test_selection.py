"""An adapter name the gateway does not serve is never answered by the base model: on chat, on the
Responses API and on every passed-through JSON endpoint it is a 400 that names the field and the
served adapters, before vLLM is called; other endpoints refuse a served one too (only chat serves
adapters); a malformed ``chat_template_kwargs`` is a 400 naming it."""

import json

import httpx
import pytest

from server.endpoints import PUBLIC

from ..apps import BASIC, UNCERTAINTY, chat, make_client
from .helpers import MELLEA, never

PARAM = "chat_template_kwargs.adapter_name"
JSON_ENDPOINTS = [e.path for e in PUBLIC if e.body == "json"]


def error_of(resp, status=400):
    assert resp.status_code == status, resp.text
    err = resp.json()["error"]
    assert set(err) == {"message", "type", "param", "code"}
    return err


def test_an_unknown_adapter_name_on_chat_is_a_400_listing_the_served_adapters(caplog):
    body = {**MELLEA, "chat_template_kwargs": {"adapter_name": "no-such-adapter"}}
    with make_client(never, adapters=UNCERTAINTY) as client:
        err = error_of(chat(client, body))
    assert err["param"] == PARAM and err["code"] == "adapter_not_found"
    assert "'no-such-adapter'" in err["message"] and "'uncertainty'" in err["message"]
    assert any("no-such-adapter" in r.getMessage() for r in caplog.records)  # one log line, with the cause


def test_a_deployment_without_adapters_says_it_serves_none():
    with make_client(never) as client:
        err = error_of(chat(client, MELLEA))
    assert err["param"] == PARAM and "served adapters: none" in err["message"]


@pytest.mark.parametrize("name", ["", "Uncertainty", "uncertainty ", "base"])
def test_only_a_served_adapters_exact_name_selects_it(name):
    with make_client(never, adapters=UNCERTAINTY) as client:
        err = error_of(chat(client, {**MELLEA, "chat_template_kwargs": {"adapter_name": name}}))
    assert err["param"] == PARAM


@pytest.mark.parametrize(
    "kwargs, param",
    [
        ({"adapter_name": 3}, PARAM),
        ({"adapter_name": ["uncertainty"]}, PARAM),
        ("adapter_name=uncertainty", "chat_template_kwargs"),
    ],
)
def test_a_malformed_chat_template_kwargs_is_a_400_naming_it(kwargs, param):
    with make_client(never, adapters=UNCERTAINTY) as client:
        err = error_of(chat(client, {**MELLEA, "chat_template_kwargs": kwargs}))
    assert err["param"] == param


def test_chat_template_kwargs_without_an_adapter_name_pass_through_to_the_base_model():
    sent = []

    def vllm(request):
        sent.append(request.content)
        return httpx.Response(200, json={"id": "c", "object": "chat.completion", "choices": []})

    body = json.dumps({**BASIC, "chat_template_kwargs": {"thinking": True, "adapter_name": None}}).encode()
    with make_client(vllm, adapters=UNCERTAINTY) as client:
        assert chat(client, body).status_code == 200
    assert sent == [body]  # byte for byte


def post(client, path, body):
    return client.post(path, content=json.dumps(body), headers={"content-type": "application/json"})


@pytest.mark.parametrize("path", JSON_ENDPOINTS)
def test_an_unknown_adapter_name_on_any_passed_through_endpoint_is_the_same_400(path):
    body = {"model": "base", "input": "x", "chat_template_kwargs": {"adapter_name": "no-such-adapter"}}
    with make_client(never, adapters=UNCERTAINTY) as client:
        err = error_of(post(client, path, body))
    assert err["param"] == PARAM and err["code"] == "adapter_not_found" and "'uncertainty'" in err["message"]


@pytest.mark.parametrize("path", JSON_ENDPOINTS)
def test_a_served_adapter_name_on_an_endpoint_other_than_chat_is_a_400_naming_chat(path):
    body = {"model": "base", "input": "x", "chat_template_kwargs": {"adapter_name": "uncertainty"}}
    with make_client(never, adapters=UNCERTAINTY) as client:
        err = error_of(post(client, path, body))
    assert err["param"] == PARAM and "POST /v1/chat/completions" in err["message"] and path in err["message"]


def test_the_responses_api_refuses_it_with_certainty_asked_too():
    body = {"model": "base", "input": "x", "certainty": True, "chat_template_kwargs": {"adapter_name": "nope"}}
    with make_client(never, adapters=UNCERTAINTY) as client:
        assert error_of(post(client, "/v1/responses", body))["param"] == PARAM
