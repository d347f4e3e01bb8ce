"""Strict, typed input: every malformed field is a 400 naming it, before any upstream call;
the values validated are the ones used."""

import json

import pytest

from ..apps import UNCERTAINTY, make_client
from ..fake_vllm import FakeVLLM, adapter_output, completion

Q = [{"role": "user", "content": "Capital of France?"}]
SCORED = [*Q, {"role": "assistant", "content": "Paris."}]


def nested(depth: int) -> dict:
    value: dict = {}
    for _ in range(depth - 1):
        value = {"a": value}
    return value


def client_for(fake, **limits):
    return make_client(fake, adapters=UNCERTAINTY, limits=limits)


BAD = [
    ({"model": "base", "messages": [{"role": "wizard", "content": "x"}]}, "messages.0.role"),
    ({"model": "base", "messages": [*Q, {"role": "assistant", "content": 5}]}, "messages.1.content"),
    (
        {"model": "base", "messages": [{"role": "user", "content": [{"type": "text", "text": 5}]}]},
        "messages.0.content.0.text",
    ),
    ({"model": "base", "messages": [{"role": "user", "content": [{"type": "text"}]}]}, "messages.0.content.0"),
    ({"model": "base", "messages": [{"role": "user", "content": [{"text": "x"}]}]}, "messages.0.content.0.type"),
    ({"model": "base", "messages": Q, "certainty": {"threshold": "0.5"}}, "certainty.threshold"),
    ({"model": "base", "messages": Q, "certainty": {"threshold": 1.5}}, "certainty.threshold"),
    ({"model": "base", "messages": Q, "certainty": {"threshold": 0.5, "action": "shout"}}, "certainty.action"),
    ({"model": "base", "messages": Q, "certainty": {"thresold": 0.5}}, "certainty.thresold"),
    ({"model": "base", "messages": Q, "certainty": "yes"}, "certainty"),
    ({"model": "base", "messages": Q, "stream": "false"}, "stream"),
    ({"model": "uncertainty", "messages": SCORED, "stream": "false"}, "stream"),
    (
        {"model": "base", "messages": Q, "stream": True, "stream_options": {"include_usage": "yes"}},
        "stream_options.include_usage",
    ),
    ({"model": "base", "messages": Q, "n": "2"}, "n"),
    ({"model": "base", "messages": Q, "certainty": True, "n": 9}, "n"),
    ({"model": "base", "messages": Q * 5}, "messages"),
    ({"model": "uncertainty", "messages": SCORED, "documents": [{"text": "d"}] * 3}, "documents"),
    ({"model": 7, "messages": Q}, "model"),
    ({"model": "base", "messages": Q, "x": nested(20)}, None),
    ({"model": "uncertainty", "messages": SCORED, "x": nested(600)}, None),
]


@pytest.mark.parametrize("body, param", BAD)
def test_bad_input_is_a_400_naming_the_field_before_any_upstream_call(body, param):
    fake = FakeVLLM(base=completion("Paris."), adapter=adapter_output({"9": 1.0}))
    with client_for(fake, max_messages=4, max_documents=2, max_json_depth=16) as client:
        resp = client.post("/v1/chat/completions", content=json.dumps(body))
    assert resp.status_code == 400, resp.text
    err = resp.json()["error"]
    assert set(err) == {"message", "type", "param", "code"} and err["type"] == "invalid_request_error"
    assert err["param"] == param and err["message"]
    assert fake.requests == []


@pytest.mark.parametrize(
    "body",
    [
        {"model": "base", "messages": [{"role": "developer", "content": "Be brief."}, *Q]},
        {"model": "base", "messages": [{"role": "user", "content": [{"type": "text", "text": "hi"}]}]},
        {
            "model": "base",
            "messages": [{"role": "user", "content": [{"type": "image_url", "image_url": {"url": "u"}}]}],
        },
        {"model": "base", "messages": Q, "certainty": {"threshold": 1}, "n": 4},
        {"model": "base", "messages": Q * 4, "x": nested(15)},
    ],
)
def test_input_at_the_limits_and_every_known_role_is_accepted(body):
    fake = FakeVLLM(base=completion("Paris."), adapter=adapter_output({"9": 1.0}))
    with client_for(fake, max_messages=4, max_json_depth=16) as client:
        resp = client.post("/v1/chat/completions", json=body)
    assert resp.status_code == 200, resp.text
