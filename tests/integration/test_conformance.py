"""Conformance and fuzzing against the real tiny stack.

Every answer of every path — responses, stream chunks, error bodies — validates against the
matching schema of OpenAI's published OpenAPI document (extracted in data/, extension fields
allowed). What vLLM wrote and the gateway relays may carry the nulls vLLM
0.32 writes against the schema (``usage.completion_tokens_details`` and
``usage.prompt_tokens_details``, ``message.annotations`` and ``message.function_call``;
measured, the README of that folder names two): vLLM's usage object is relayed on
pass-through, its message on the base model's paths.
What the gateway writes itself (an intrinsic's answer, usage included; certainty chunks, guarded
answers, errors) is excused nothing.
Then schemathesis fuzzes the gateway from its own ``/openapi.json``: no
500, and every error in the OpenAI shape.
"""

from __future__ import annotations

import copy
import json
from functools import cache
from pathlib import Path

import httpx
import jsonschema
import pytest
import schemathesis
from hypothesis import HealthCheck, settings
from schemathesis.checks import not_a_server_error

from server.app import create_app
from server.settings import Settings

from ..fuzzing import send_case
from .conftest import TINY_CONFIG, conversation

#: OpenAI's response schemas, extracted from their published OpenAPI document (data/README.md).
OPENAI_SCHEMAS = Path(__file__).resolve().parent / "data" / "openai-chat-schemas.json"
QUESTION = [{"role": "user", "content": "What is the capital of France?"}]


def _as_json_schema(node):
    """OpenAPI 3.0 leftovers in OpenAI's 3.1 document, made JSON Schema: ``nullable: true``
    allows null; ``additionalProperties: false`` is dropped (extension fields are allowed)."""
    if isinstance(node, list):
        return [_as_json_schema(n) for n in node]
    if not isinstance(node, dict):
        return node
    out = {k: _as_json_schema(v) for k, v in node.items() if k != "nullable"}
    if out.get("additionalProperties") is False:
        del out["additionalProperties"]
    return {"anyOf": [out, {"type": "null"}]} if node.get("nullable") is True else out


@cache
def components() -> dict:
    return _as_json_schema(json.loads(OPENAI_SCHEMAS.read_text())["components"])


def check(name: str, instance: dict) -> None:
    """Validate ``instance`` against OpenAI's ``components.schemas[name]``."""
    schema = {"$ref": f"#/components/schemas/{name}", "components": components()}
    error = jsonschema.exceptions.best_match(jsonschema.Draft202012Validator(schema).iter_errors(instance))
    assert error is None, f"{name}: {error.message} at {list(error.absolute_path)}"


def excuse_vllm(body: dict) -> dict:
    """``body`` without the two nulls vLLM 0.32 writes against OpenAI's schema (vLLM's, not ours)."""
    body = copy.deepcopy(body)
    usage = body.get("usage")
    for details in ("completion_tokens_details", "prompt_tokens_details"):
        if isinstance(usage, dict) and usage.get(details, 0) is None:
            del usage[details]
    for choice in body.get("choices") or []:
        for part in ("message", "delta"):
            for field in ("annotations", "function_call"):
                if isinstance(choice.get(part), dict) and choice[part].get(field, 0) is None:
                    del choice[part][field]
    return body


def events(resp: httpx.Response) -> list[dict]:
    """The JSON events of an SSE answer, which must end with ``[DONE]``."""
    data = [line.removeprefix("data: ") for line in resp.text.splitlines() if line.startswith("data: ")]
    assert data[-1] == "[DONE]"
    return [json.loads(d) for d in data[:-1]]


def post(gateway: httpx.Client, **body) -> httpx.Response:
    return gateway.post("/v1/chat/completions", json=body)


def test_models_list_conforms(gateway):
    check("ListModelsResponse", gateway.get("/v1/models").json())


@pytest.mark.parametrize(
    "body",
    [
        {"model": "tiny-granite", "messages": QUESTION, "max_tokens": 24},
        {"model": "tiny-granite", "messages": QUESTION, "max_tokens": 24, "certainty": True, "n": 2},
        {"model": "tiny-granite", "messages": QUESTION, "certainty": {"threshold": 0.99, "action": "abstain"}},
        {"model": "uncertainty", "messages": conversation("What is the capital of France?", "Paris.")},
    ],
    ids=["pass_through", "certainty", "abstain", "intrinsic"],
)
def test_completions_conform(gateway, body):
    resp = post(gateway, **body)
    assert resp.status_code == 200, resp.text
    ours = body["model"] == "uncertainty"  # an intrinsic's answer is the gateway's own, whole
    check("CreateChatCompletionResponse", resp.json() if ours else excuse_vllm(resp.json()))


@pytest.mark.parametrize(
    "body, ours",
    [
        ({"model": "tiny-granite", "messages": QUESTION, "max_tokens": 24}, False),
        ({"model": "tiny-granite", "messages": QUESTION, "max_tokens": 24, "certainty": True}, False),
        ({"model": "tiny-granite", "messages": QUESTION, "certainty": {"threshold": 0.99, "action": "abstain"}}, True),
        ({"model": "uncertainty", "messages": conversation("What is the capital of France?", "Paris.")}, True),
    ],
    ids=["pass_through", "certainty", "abstain", "intrinsic"],
)
def test_stream_chunks_conform(gateway, body, ours):
    resp = post(gateway, **body, stream=True, stream_options={"include_usage": True})
    assert resp.status_code == 200, resp.text
    chunks = events(resp)
    assert chunks and chunks[-1]["usage"]["total_tokens"] > 0
    for chunk in chunks:
        # The certainty chunks and every chunk of a guarded or intrinsic answer are the gateway's own.
        # A usage chunk carries vLLM's usage object, except where certainty rebuilt it.
        whole = body["model"] == "uncertainty"  # an intrinsic's stream is the gateway's own, usage included
        mine = whole or (ours and chunk.get("choices")) or "certainty" in json.dumps(chunk.get("choices"))
        check("CreateChatCompletionStreamResponse", chunk if mine else excuse_vllm(chunk))


@pytest.mark.parametrize(
    "body, status",
    [
        (b"{not json", 400),
        (json.dumps({"model": "tiny-granite", "messages": [{"role": "wizard", "content": "x"}]}).encode(), 400),
        (json.dumps({"model": "tiny-granite", "messages": QUESTION, "certainty": {"threshold": "0.5"}}).encode(), 400),
        (json.dumps({"model": "nope", "messages": QUESTION}).encode(), 404),
        (json.dumps({"model": "tiny-granite", "messages": QUESTION, "max_tokens": 10**9}).encode(), 400),
        (json.dumps({"model": "tiny-granite", "messages": QUESTION, "pad": "x" * (9 * 2**20)}).encode(), 413),
    ],
    ids=["not_json", "bad_role", "string_threshold", "unknown_model", "vllm_refuses", "too_large"],
)
def test_error_bodies_conform(gateway, body, status):
    resp = gateway.post("/v1/chat/completions", content=body, headers={"content-type": "application/json"})
    assert resp.status_code == status, resp.text
    check("ErrorResponse", resp.json())


# -- fuzzing the real stack from the gateway's own OpenAPI document -----------------------------

MODELS = ["tiny-granite", "uncertainty", "tiny-granite", "no-such-model"]


def openai_error_shape(ctx, response, case):
    """Every error answer has OpenAI's shape."""
    if response.status_code >= 400:
        check("ErrorResponse", response.json())


def published_document() -> dict:
    """The OpenAPI document the tiny deployment publishes (built offline: the same app, no vLLM)."""
    return create_app(
        Settings.load(TINY_CONFIG), transport=httpx.MockTransport(lambda r: httpx.Response(503))
    ).openapi()


schema = schemathesis.openapi.from_dict(published_document())
schema.config.generation.update(modes=[schemathesis.GenerationMode.POSITIVE, schemathesis.GenerationMode.NEGATIVE])


@schema.hook
def map_body(context, body):
    """Name a served model, and keep each answer short: the point is the input, not the model."""
    if isinstance(body, dict) and isinstance(body.get("model"), str):
        body["model"] = MODELS[len(body["model"]) % len(MODELS)]
        body["max_tokens"] = body["max_output_tokens"] = 8  # completions, chat; responses
    return body


def test_the_running_gateway_publishes_the_document_fuzzed_here(gateway):
    assert gateway.get("/openapi.json").json() == json.loads(json.dumps(published_document()))


@schema.parametrize()
@settings(max_examples=40, deadline=None, suppress_health_check=list(HealthCheck), derandomize=True)
def test_fuzzed_requests_to_the_real_stack_get_no_500_and_only_openai_errors(case, stack):
    with httpx.Client(base_url=stack.url, timeout=120) as client:
        response = send_case(client, case)
    case.validate_response(response, checks=[not_a_server_error, openai_error_shape])
