"""The recipes of docs/serving/clients.md, each driving its real client against the real tiny stack: the
OpenAI SDK (the body's fields, the headers through ``with_raw_response``), LangChain's ChatOpenAI
(invoke, stream, the ``uncertainty`` model) and LiteLLM (``openai/`` and ``hosted_vllm/``). Each
certainty read through a client is compared with the body's, or with the ``uncertainty`` route's
score of the same answer; what a client drops is pinned too, so that the guide stays true."""

import json
import os

import pytest

QUESTION = "What is the capital of France?"
#: Greedy and short, but with room for the tiny model's whole answer: a cut-off one is not scored.
GREEDY = {"temperature": 0, "max_tokens": 64}
#: A guard that holds back no answer (every certainty is above 0) but makes the stream whole.
WHOLE = {"threshold": 0.0, "action": "abstain"}


def route_certainty(sdk, answer: str) -> float:
    """The ``uncertainty`` route's certainty of ``answer`` to QUESTION."""
    messages = [{"role": "user", "content": QUESTION}, {"role": "assistant", "content": answer}]
    content = sdk.chat.completions.create(model="uncertainty", messages=messages).choices[0].message.content
    return json.loads(content)["certainty"]


@pytest.fixture(scope="module")
def base(tiny_settings) -> str:
    return tiny_settings.served_name


@pytest.fixture(scope="module")
def chat_model(stack, base):
    """LangChain's ChatOpenAI for the base model, asking for certainty, headers kept."""
    from langchain_openai import ChatOpenAI

    def make(certainty=True, **kw):
        return ChatOpenAI(
            model=base,
            base_url=f"{stack.url}/v1",
            api_key="unused",
            include_response_headers=True,
            extra_body={"certainty": certainty},
            max_retries=0,
            **GREEDY,
            **kw,
        )

    return make


@pytest.fixture(scope="module")
def litellm():
    # No network here: litellm's import would fetch its model cost map without this.
    os.environ["LITELLM_LOCAL_MODEL_COST_MAP"] = "True"
    import litellm

    return litellm


# --- the OpenAI SDK -------------------------------------------------------------------------------


def test_sdk_reads_the_certainty_from_the_choice_and_the_same_value_from_the_headers(sdk, base):
    # Sampled (vLLM allows n > 1 only so), with room for any answer: a cut-off one is not scored.
    raw = sdk.chat.completions.with_raw_response.create(
        model=base,
        messages=[{"role": "user", "content": QUESTION}],
        n=2,
        temperature=0.8,
        seed=1,
        max_tokens=200,
        extra_body={"certainty": True},
    )
    resp = raw.parse()
    body = [choice.model_extra["certainty"] for choice in resp.choices]
    assert [float(v) for v in raw.headers["x-certainty"].split(",")] == body  # exactly, in choice order
    for choice, value in zip(resp.choices, body, strict=True):
        assert value == pytest.approx(route_certainty(sdk, choice.message.content), abs=1e-9)


def test_sdk_headers_say_null_for_a_choice_that_is_not_scored(sdk, base):
    raw = sdk.chat.completions.with_raw_response.create(
        model=base, messages=[{"role": "user", "content": QUESTION}], extra_body={"certainty": True}, max_tokens=1
    )
    choice = raw.parse().choices[0]
    assert choice.finish_reason == "length" and choice.model_extra["certainty"] is None
    assert raw.headers["x-certainty"] == "null" and raw.headers["x-certainty-error"] == "truncated"


# --- LangChain ------------------------------------------------------------------------------------


def test_langchain_invoke_reads_the_certainty_from_the_response_headers(chat_model, sdk):
    message = chat_model().invoke(QUESTION)
    certainty = float(message.response_metadata["headers"]["x-certainty"])
    assert "certainty" not in message.additional_kwargs  # LangChain keeps only OpenAI's own fields
    assert message.response_metadata["token_usage"]["breakdown"]["certainty"]["total_tokens"] > 0
    assert certainty == pytest.approx(route_certainty(sdk, message.content), abs=1e-9)


def test_langchain_invoke_headers_carry_the_guard_s_outcome(chat_model):
    message = chat_model(certainty={"threshold": 1.0, "action": "flag"}).invoke(QUESTION)
    headers = message.response_metadata["headers"]
    assert headers["x-certainty-action"] == "flag" and headers["x-certainty-low"] == "true"
    assert 0.05 <= float(headers["x-certainty"]) < 1.0


def test_langchain_stream_streams_the_answer_but_drops_the_certainty_chunk(chat_model):
    # The certainty comes after the answer, in a chunk of its own with an empty delta: LangChain
    # copies no choice field of it, and the headers were sent before it was known.
    llm = chat_model()
    chunks = list(llm.stream(QUESTION))
    assert "".join(c.content for c in chunks) == llm.invoke(QUESTION).content
    assert "x-certainty" not in chunks[0].response_metadata["headers"]
    assert not [c for c in chunks if "certainty" in json.dumps({**c.response_metadata, **c.additional_kwargs})]


def test_langchain_stream_of_an_answer_made_whole_carries_the_certainty_in_its_first_chunk(chat_model, sdk):
    chunks = list(chat_model(certainty=WHOLE).stream(QUESTION))
    answer = "".join(c.content for c in chunks)
    certainty = float(chunks[0].response_metadata["headers"]["x-certainty"])
    assert certainty == pytest.approx(route_certainty(sdk, answer), abs=1e-9)


def test_langchain_scores_an_answer_with_the_uncertainty_model(stack, sdk):
    from langchain_openai import ChatOpenAI

    scorer = ChatOpenAI(model="uncertainty", base_url=f"{stack.url}/v1", api_key="unused", max_retries=0)
    answer = "The capital of France is Paris."
    result = scorer.invoke([("user", QUESTION), ("assistant", answer)])
    certainty = json.loads(result.content)["certainty"]
    assert 0.05 <= certainty <= 0.95 and certainty == pytest.approx(route_certainty(sdk, answer), abs=1e-9)


# --- LiteLLM --------------------------------------------------------------------------------------


@pytest.fixture(params=["openai", "hosted_vllm"])
def litellm_model(request, base) -> str:
    return f"{request.param}/{base}"


def test_litellm_reads_the_certainty_from_the_choice_and_the_headers(litellm, litellm_model, stack, sdk):
    resp = litellm.completion(
        model=litellm_model,
        api_base=f"{stack.url}/v1",
        api_key="unused",
        messages=[{"role": "user", "content": QUESTION}],
        extra_body={"certainty": True},
        **GREEDY,
    )
    certainty = resp.choices[0].provider_specific_fields["certainty"]
    assert float(resp._hidden_params["additional_headers"]["llm_provider-x-certainty"]) == certainty
    assert certainty == pytest.approx(route_certainty(sdk, resp.choices[0].message.content), abs=1e-9)


def test_litellm_stream_drops_the_certainty_chunk_unless_the_answer_is_made_whole(litellm, stack, base, sdk):
    def stream(certainty):
        return litellm.completion(
            model=f"openai/{base}",
            api_base=f"{stack.url}/v1",
            api_key="unused",
            messages=[{"role": "user", "content": QUESTION}],
            extra_body={"certainty": certainty},
            stream=True,
            **GREEDY,
        )

    # Relayed as it is written, the certainty chunk has no content: LiteLLM leaves it out.
    relayed = list(stream(True))
    assert not [c for c in relayed if c.choices and getattr(c.choices[0], "certainty", None) is not None]
    # Made whole (a guard that holds nothing back), the certainty rides on the content chunk and
    # in the headers, which the stream keeps.
    whole = stream(WHOLE)
    chunks = list(whole)
    answer = "".join(c.choices[0].delta.content or "" for c in chunks if c.choices)
    certainty = float(whole._hidden_params["additional_headers"]["llm_provider-x-certainty"])
    assert chunks[0].choices[0].certainty == certainty
    assert certainty == pytest.approx(route_certainty(sdk, answer), abs=1e-9)


def test_litellm_scores_an_answer_with_the_uncertainty_model(litellm, stack, sdk):
    answer = "The capital of France is Paris."
    resp = litellm.completion(
        model="openai/uncertainty",
        api_base=f"{stack.url}/v1",
        api_key="unused",
        messages=[{"role": "user", "content": QUESTION}, {"role": "assistant", "content": answer}],
    )
    certainty = json.loads(resp.choices[0].message.content)["certainty"]
    assert certainty == pytest.approx(route_certainty(sdk, answer), abs=1e-9)
