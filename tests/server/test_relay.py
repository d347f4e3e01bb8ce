"""What the gateway answers in place of an upstream answer it cannot relay as it came: vLLM's
own error keeps its status and fields, a proxy's error page becomes an OpenAI error."""

import httpx
import pytest

from .apps import BASIC, chat, make_client


@pytest.mark.parametrize("stream", [False, True])
def test_vllm_client_errors_pass_on_with_their_status(stream):
    err = {
        "error": {"message": "max_tokens is too large", "type": "BadRequestError", "param": "max_tokens", "code": 400}
    }
    with make_client(lambda r: httpx.Response(400, json=err)) as client:
        resp = chat(client, {**BASIC, "stream": stream})
    # vLLM's message, type and param are kept; its integer code becomes an OpenAI string code.
    assert resp.status_code == 400 and resp.json() == {"error": {**err["error"], "code": "upstream_error"}}


@pytest.mark.parametrize("stream", [False, True])
def test_an_error_page_from_a_proxy_becomes_an_openai_error_with_its_status(stream):
    page = httpx.Response(502, text="<html><body>Bad Gateway</body></html>", headers={"content-type": "text/html"})
    with make_client(lambda r: page) as client:
        resp = chat(client, {**BASIC, "stream": stream})
    assert resp.status_code == 502 and resp.headers["content-type"] == "application/json"
    assert "Bad Gateway" in resp.json()["error"]["message"] and resp.json()["error"]["type"] == "upstream_error"
