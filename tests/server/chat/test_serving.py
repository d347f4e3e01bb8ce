"""The chat route's dispatch: a body that is not a chat request, or names no served model, is an
OpenAI error before any call to vLLM; the depth check survives any nesting."""

import json

import pytest

from server.chat.serving import too_deep

from ..apps import BASIC, chat, make_client
from .test_protocol import nested


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


def test_the_depth_check_counts_nested_containers_and_survives_any_depth():
    assert not too_deep({"a": [1, {"b": []}]}, 4)
    assert too_deep({"a": [1, {"b": []}]}, 3)
    assert too_deep(nested(100_000), 254)  # iterative: no RecursionError
