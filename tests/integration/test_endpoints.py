"""vLLM's other endpoints through the gateway, against the real vLLM on the tiny model: the
OpenAI SDK's completions (streamed or not, the same text as vLLM gives straight), tokenize and
detokenize, an intrinsic's name refused, the admin endpoints closed, ``/version``."""

import httpx
import openai
import pytest

PROMPT = "The capital of France is"


def completion_kwargs(model: str) -> dict:
    return dict(model=model, prompt=PROMPT, max_tokens=8, temperature=0)


def test_completions_non_stream_give_the_text_vllm_gives(sdk, vllm, tiny_settings):
    kwargs = completion_kwargs(tiny_settings.served_name)
    through = sdk.completions.create(**kwargs)
    straight = vllm.post("/v1/completions", json=kwargs)
    assert straight.status_code == 200, straight.text
    assert through.object == "text_completion" and isinstance(through.choices[0].text, str)
    assert through.choices[0].finish_reason in ("stop", "length")
    assert through.choices[0].text == straight.json()["choices"][0]["text"]


def test_completions_stream_through_the_sdk(sdk, tiny_settings):
    chunks = list(sdk.completions.create(**completion_kwargs(tiny_settings.served_name), stream=True))
    assert chunks and all(isinstance(c.choices[0].text, str) for c in chunks if c.choices)
    assert any(c.choices and c.choices[0].finish_reason in ("stop", "length") for c in chunks)


def test_a_completion_stream_is_relayed_and_ends_with_done(gateway, tiny_settings):
    body = {**completion_kwargs(tiny_settings.served_name), "stream": True}
    with gateway.stream("POST", "/v1/completions", json=body) as resp:
        assert resp.status_code == 200 and resp.headers["content-type"].startswith("text/event-stream")
        raw = b"".join(resp.iter_bytes())
    assert raw.rstrip().endswith(b"data: [DONE]") and b'"error"' not in raw


def test_tokenize_then_detokenize_round_trips(gateway, vllm, tiny_settings):
    body = {"model": tiny_settings.served_name, "prompt": PROMPT, "add_special_tokens": False}
    tokens = gateway.post("/tokenize", json=body)
    assert tokens.status_code == 200, tokens.text
    assert tokens.json()["tokens"] == vllm.post("/tokenize", json=body).json()["tokens"]
    text = gateway.post("/detokenize", json={"model": tiny_settings.served_name, "tokens": tokens.json()["tokens"]})
    assert text.status_code == 200, text.text
    assert text.json()["prompt"].strip() == PROMPT


def test_an_intrinsic_on_completions_is_a_400_naming_chat(sdk):
    with pytest.raises(openai.BadRequestError) as err:
        sdk.completions.create(**completion_kwargs("uncertainty"))
    assert err.value.param == "model" and "/v1/chat/completions" in err.value.message


def test_an_unknown_model_is_a_404(sdk):
    with pytest.raises(openai.NotFoundError):
        sdk.completions.create(**completion_kwargs("no-such-model"))


@pytest.mark.parametrize(
    "method, path", [("POST", "/v1/load_lora_adapter"), ("POST", "/sleep"), ("GET", "/is_sleeping")]
)
def test_an_admin_endpoint_is_closed(gateway, method, path):
    resp = gateway.request(method, path, json={"lora_name": "x", "lora_path": "/tmp/x"} if method == "POST" else None)
    assert resp.status_code == 404 and resp.json()["error"]["code"] == "not_found"


def test_version_answers_as_vllm_does(gateway, vllm):
    resp = gateway.get("/version")
    assert resp.status_code == 200 and resp.json() == vllm.get("/version").json()


def test_an_endpoint_the_model_does_not_serve_is_vllms_error_in_the_openai_shape(gateway, tiny_settings):
    resp = gateway.post("/v1/embeddings", json={"model": tiny_settings.served_name, "input": "hi"})
    assert 400 <= resp.status_code < 500, resp.text
    assert set(resp.json()["error"]) == {"message", "type", "param", "code"}


def test_the_new_routes_are_in_the_openapi_document(gateway):
    paths = gateway.get("/openapi.json").json()["paths"]
    assert {"/v1/completions", "/tokenize", "/detokenize", "/version"} <= set(paths)
    assert "/sleep" not in paths


def test_responses_through_the_sdk_streamed_and_not(sdk, tiny_settings):
    kwargs = dict(model=tiny_settings.served_name, input="What is the capital of France?", max_output_tokens=16)
    response = sdk.responses.create(**kwargs, temperature=0)
    assert response.status in ("completed", "incomplete") and isinstance(response.output_text, str)
    events = [e.type for e in sdk.responses.create(**kwargs, temperature=0, stream=True)]
    assert events[0] == "response.created" and events[-1] in ("response.completed", "response.incomplete")
    assert "error" not in events


def test_the_admin_key_opens_the_admin_endpoints_and_no_other_key_does(attach):
    gw = attach(api_key="sk-user", admin__api_key="sk-admin")
    with httpx.Client(base_url=gw.url, timeout=60) as client:
        ask = lambda key: client.get("/is_sleeping", headers={"authorization": f"Bearer {key}"})
        admin, user, wrong = ask("sk-admin"), ask("sk-user"), ask("nope")
    assert (user.status_code, wrong.status_code) == (403, 401)
    # vLLM answers /is_sleeping only in its dev mode; otherwise its own 404, relayed as vLLM's.
    if admin.status_code == 200:
        assert admin.json() == {"is_sleeping": False}
    else:
        assert admin.status_code == 404 and admin.json()["error"]["type"] == "upstream_error", admin.text
