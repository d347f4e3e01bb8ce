"""Certainty on ``POST /v1/responses``, not streamed, against a fake vLLM: the output message
item and the top-level object carry it, the conversation scored is the request's, the guard
acts as on chat, what cannot be scored says why, a failed scoring call keeps the answer, and
bad requests are 400s before vLLM is called."""

import httpx
import pytest

from ..apps import UNCERTAINTY, make_app, make_client
from ..fake_vllm import FakeVLLM, adapter_output, completion, expected_certainty
from .fakes import HIGH, LOW, by_answer, client_for, message_item, response

ASK = {"model": "base", "instructions": "Be brief.", "input": "Capital of France?"}


def create(client, **extra):
    return client.post("/v1/responses", json={**ASK, **extra})


def test_the_output_message_and_the_response_carry_the_certainty_of_the_conversation():
    fake = FakeVLLM(base=response({"id": "rs_1", "type": "reasoning", "summary": []}, message_item("Paris.")))
    fake.adapter = adapter_output(HIGH)
    with client_for(fake) as client:
        body = create(client, certainty=True, max_output_tokens=30).json()
    item = body["output"][1]
    assert item["certainty"] == pytest.approx(expected_certainty(HIGH)) and item["content"][0]["text"] == "Paris."
    assert body["certainty"] == {"certainty": item["certainty"], "output_index": 1, "item_id": "msg_1"}
    (sent,) = fake.bodies("base")
    assert "certainty" not in sent and sent["stream"] is False and sent["max_output_tokens"] == 30
    (scored,) = fake.bodies("uncertainty")
    assert scored["messages"][:3] == [
        {"role": "system", "content": "Be brief."},
        {"role": "user", "content": "Capital of France?"},
        {"role": "assistant", "content": "Paris."},
    ]


def test_usage_covers_the_scoring_call_in_the_responses_names():
    fake = FakeVLLM(base=response(message_item("Paris.")), adapter=adapter_output(HIGH))
    with client_for(fake) as client:
        usage = create(client, certainty=True).json()["usage"]
    assert (usage["input_tokens"], usage["output_tokens"], usage["total_tokens"]) == (60, 11, 71)
    assert usage["breakdown"]["answer"] == {"input_tokens": 10, "output_tokens": 5, "total_tokens": 15}
    assert usage["breakdown"]["certainty"] == {"input_tokens": 50, "output_tokens": 6, "total_tokens": 56}
    assert usage["input_tokens_details"] == {"cached_tokens": 0}  # vLLM's details of the answer are kept


def test_message_items_with_text_parts_are_the_conversation():
    fake = FakeVLLM(base=response(message_item("Paris.")), adapter=adapter_output(HIGH))
    given = [
        {
            "role": "user",
            "content": [{"type": "input_text", "text": "Capital"}, {"type": "input_text", "text": "of France?"}],
        },
        {"type": "message", "role": "assistant", "content": [{"type": "output_text", "text": "Which country?"}]},
        {"role": "user", "content": "France."},
    ]
    with client_for(fake) as client:
        assert create(client, input=given, instructions=None, certainty=True).status_code == 200
    assert fake.bodies("uncertainty")[0]["messages"][:4] == [
        {"role": "user", "content": "Capital\nof France?"},
        {"role": "assistant", "content": "Which country?"},
        {"role": "user", "content": "France."},
        {"role": "assistant", "content": "Paris."},
    ]


@pytest.mark.parametrize(
    "extra, why",
    [
        (
            {"input": [{"role": "user", "content": [{"type": "input_image", "image_url": "http://x/a.png"}]}]},
            "input_image",
        ),
        ({"input": [{"type": "function_call_output", "call_id": "c", "output": "42"}]}, "function_call_output"),
        ({"previous_response_id": "resp_0"}, "previous_response_id"),
    ],
)
def test_an_input_that_is_not_a_conversation_keeps_the_answer_and_says_why(extra, why):
    fake = FakeVLLM(base=response(message_item("Paris.")), adapter=adapter_output(HIGH))
    with client_for(fake) as client:
        body = create(client, certainty=True, **extra).json()
    item = body["output"][0]
    assert item["certainty"] is None and item["content"][0]["text"] == "Paris."
    assert item["certainty_error"]["code"] == "unsupported_input" and why in item["certainty_error"]["message"]
    assert body["certainty"]["certainty_error"] == item["certainty_error"]
    assert fake.bodies("uncertainty") == []  # nothing scored on a guess


@pytest.mark.parametrize(
    "answer, code",
    [
        (response(message_item("Paris, the capital"), status="incomplete"), "truncated"),
        (response(message_item("I can't help with that.", kind="refusal")), "refusal"),
        (response(message_item("   ")), "empty_content"),
    ],
)
def test_an_output_that_cannot_be_scored_gets_a_marker_not_a_number(answer, code):
    fake = FakeVLLM(base=answer, adapter=adapter_output(HIGH))
    with client_for(fake) as client:
        body = create(client, certainty=True).json()
    assert body["output"][0]["certainty"] is None and body["output"][0]["certainty_error"]["code"] == code
    assert fake.bodies("uncertainty") == []


def test_tool_calls_only_are_not_scored_and_the_response_says_so():
    call = {"id": "fc_1", "type": "function_call", "call_id": "c1", "name": "f", "arguments": "{}"}
    fake = FakeVLLM(base=response(call), adapter=adapter_output(HIGH))
    with client_for(fake) as client:
        body = create(client, certainty=True).json()
    assert body["output"] == [call]  # no message item to annotate
    assert body["certainty"]["certainty"] is None and body["certainty"]["certainty_error"]["code"] == "tool_calls"
    assert body["certainty"]["output_index"] is None


@pytest.mark.parametrize(
    "failure, code", [(completion("garbage"), "bad_adapter_output"), (httpx.ReadTimeout("slow"), "upstream_timeout")]
)
def test_a_failed_scoring_call_keeps_the_answer(failure, code):
    with client_for(FakeVLLM(base=response(message_item("Paris.")), adapter=failure)) as client:
        resp = create(client, certainty=True)
    assert resp.status_code == 200
    item = resp.json()["output"][0]
    assert item["content"][0]["text"] == "Paris." and item["certainty"] is None
    assert item["certainty_error"]["code"] == code


def test_the_certainty_is_also_in_the_response_headers_as_on_chat():
    fake = FakeVLLM(base=response(message_item("Lyon.")), adapter=adapter_output(LOW))
    with client_for(fake) as client:
        flagged = create(client, certainty={"threshold": 0.5, "action": "flag"})
        plain = create(client, certainty=True)
    body = flagged.json()
    assert float(flagged.headers["x-certainty"]) == body["certainty"]["certainty"]
    assert (flagged.headers["x-certainty-action"], flagged.headers["x-certainty-low"]) == ("flag", "true")
    assert float(plain.headers["x-certainty"]) == plain.json()["output"][0]["certainty"]
    assert "x-certainty-action" not in plain.headers


def test_a_response_not_scored_says_null_and_why_in_its_headers():
    with client_for(FakeVLLM(base=response(message_item("Paris.")), adapter=completion("garbage"))) as client:
        resp = create(client, certainty=True)
    assert (resp.headers["x-certainty"], resp.headers["x-certainty-error"]) == ("null", "bad_adapter_output")


def test_flag():
    fake = FakeVLLM(base=response(message_item("Lyon.")), adapter=adapter_output(LOW))
    with client_for(fake) as client:
        body = create(client, certainty={"threshold": 0.5, "action": "flag"}).json()
    assert body["output"][0]["low_certainty"] is True and body["certainty"]["low_certainty"] is True
    assert body["output"][0]["content"][0]["text"] == "Lyon."


def test_abstain_replaces_the_text_and_keeps_the_answer_in_a_field():
    fake = FakeVLLM(base=response(message_item("Lyon.")), adapter=adapter_output(LOW))
    with client_for(fake, abstain_message="No idea.") as client:
        item = create(client, certainty={"threshold": 0.5, "action": "abstain"}).json()["output"][0]
    assert item["content"][0]["text"] == "No idea." and item["original_content"] == "Lyon." and item["abstained"]


def test_fallback_asks_the_fallback_model_with_the_conversation_and_says_who_answered():
    fake = FakeVLLM(
        base=response(message_item("Lyon.")), adapter=by_answer({"Lyon.": LOW}), fallback=completion("Paris, surely.")
    )
    with client_for(fake) as client:
        body = create(client, certainty={"threshold": 0.5, "action": "fallback"}, max_output_tokens=20).json()
    item = body["output"][0]
    assert item["content"][0]["text"] == "Paris, surely." and item["answered_by"] == "fallback-model"
    assert item["original_content"] == "Lyon."
    sent = fake.bodies("fallback-model")[0]
    assert sent["messages"] == [
        {"role": "system", "content": "Be brief."},
        {"role": "user", "content": "Capital of France?"},
    ]
    assert sent["max_tokens"] == 20
    assert body["usage"]["breakdown"]["fallback"]["total_tokens"] == 15


def test_certainty_false_is_stripped_and_the_answer_passed_on_as_it_came():
    fake = FakeVLLM(base=response(message_item("Paris.")))
    with client_for(fake) as client:
        body = create(client, certainty=False).json()
    assert body == response(message_item("Paris."))
    assert "certainty" not in fake.bodies("base")[0] and fake.bodies("uncertainty") == []


@pytest.mark.parametrize(
    "certainty, param",
    [({"threshold": 2}, "certainty.threshold"), ({"action": "shout"}, "certainty.action"), ("yes", "certainty")],
)
def test_a_malformed_certainty_is_a_400_before_vllm_is_called(certainty, param):
    fake = FakeVLLM(base=response(message_item("Paris.")))
    with client_for(fake) as client:
        resp = create(client, certainty=certainty)
    assert resp.status_code == 400 and resp.json()["error"]["param"] == param
    assert fake.requests == []


def test_certainty_on_an_intrinsics_model_is_a_400():
    fake = FakeVLLM(base=response(message_item("Paris.")))
    with client_for(fake) as client:
        resp = create(client, model="uncertainty", certainty=True)
    assert resp.status_code == 400 and resp.json()["error"]["param"] == "model"
    assert fake.requests == []


def test_a_server_without_the_scoring_intrinsic_answers_400_before_vllm_is_called():
    fake = FakeVLLM(base=response(message_item("Paris.")))
    with make_client(fake) as client:
        resp = create(client, certainty=True)
    assert resp.status_code == 400 and "uncertainty" in resp.json()["error"]["message"]
    assert fake.requests == []


def test_the_servers_always_setting_scores_a_request_without_the_field():
    fake = FakeVLLM(base=response(message_item("Paris.")), adapter=adapter_output(HIGH))
    with make_client(fake, adapters=UNCERTAINTY, certainty={"always": True}) as client:
        body = create(client).json()
    assert body["output"][0]["certainty"] == pytest.approx(expected_certainty(HIGH))


def test_vllms_error_is_relayed_in_the_openai_shape():
    fake = FakeVLLM(
        base=httpx.Response(
            400, json={"error": {"message": "bad input", "type": "BadRequestError", "param": "input", "code": 400}}
        )
    )
    with client_for(fake) as client:
        resp = create(client, certainty=True)
    assert resp.status_code == 400 and resp.json()["error"]["message"] == "bad input"


def test_the_field_is_documented_on_create_a_response_and_only_there():
    doc = make_app(FakeVLLM()).openapi()
    field = doc["paths"]["/v1/responses"]["post"]["requestBody"]["content"]["application/json"]["schema"]
    refs = [m["$ref"].rsplit("/", 1)[1] for m in field["properties"]["certainty"]["anyOf"] if "$ref" in m]
    assert refs == ["CertaintyRequest"] and "CertaintyRequest" in doc["components"]["schemas"]
    other = doc["paths"]["/v1/completions"]["post"]["requestBody"]["content"]["application/json"]["schema"]
    assert "certainty" not in other["properties"]
