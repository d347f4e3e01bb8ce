"""The gateway's API through the OpenAI SDK and HTTP, against the real vLLM on the tiny model."""

import asyncio
import contextlib
import json
import os
import signal
import threading
import time

import httpx
import openai
import pytest

import intrinsics
from devstack import free_port
from server.launch.engine import VLLMProcess
from server.launch.resolve import resolve
from server.settings import Settings

from ..waiting import wait_until
from .conftest import CONVERSATIONS as PAIRS
from .conftest import IO_YAML, TINY_CONFIG
from .conftest import conversation as convo


def certainty_of(completion) -> float:
    return json.loads(completion.choices[0].message.content)["certainty"]


def test_models_lists_the_base_model_and_the_intrinsics(sdk, tiny_settings):
    ids = [m.id for m in sdk.models.list().data]
    assert ids == [tiny_settings.served_name, "uncertainty", "answerability", "citations", "query_rewrite"]


def test_base_chat_non_stream_and_stream(sdk, tiny_settings):
    kwargs = dict(
        model=tiny_settings.served_name,
        messages=[{"role": "user", "content": "What is the capital of France?"}],
        max_tokens=24,
        temperature=0,
    )
    whole = sdk.chat.completions.create(**kwargs)
    assert whole.choices[0].message.content and whole.usage.completion_tokens > 0
    chunks = list(sdk.chat.completions.create(**kwargs, stream=True))
    streamed = "".join(c.choices[0].delta.content or "" for c in chunks if c.choices)
    assert streamed == whole.choices[0].message.content  # greedy: the same text either way
    assert chunks[-1].choices[0].finish_reason in ("stop", "length")


def test_certainty_equals_the_intrinsics_core_on_vllms_own_output(sdk, vllm):
    core = intrinsics.load(IO_YAML, name="uncertainty", model="uncertainty")
    served = []
    for q, a in PAIRS:
        value = certainty_of(sdk.chat.completions.create(model="uncertainty", messages=convo(q, a)))
        body = core.rewrite({"model": "uncertainty", "messages": convo(q, a)})
        direct = vllm.post("/v1/chat/completions", json=body).json()
        expected = core.process_choice(direct["choices"][0], body)["certainty"]
        assert 0.05 <= value <= 0.95
        assert value == pytest.approx(expected, abs=1e-9)
        served.append(value)
    assert len({round(v, 9) for v in served}) > 1, served


def test_a_trailing_certainty_turn_gives_the_same_value_as_none(sdk):
    messages = convo(*PAIRS[0])
    plain = certainty_of(sdk.chat.completions.create(model="uncertainty", messages=messages))
    explicit = certainty_of(
        sdk.chat.completions.create(
            model="uncertainty", messages=[*messages, {"role": "user", "content": "<certainty>"}]
        )
    )
    assert explicit == pytest.approx(plain, abs=1e-12)


def test_intrinsic_stream_is_one_chunk_then_done(sdk):
    chunks = list(sdk.chat.completions.create(model="uncertainty", messages=convo(*PAIRS[2]), stream=True))
    contents = [c.choices[0].delta.content for c in chunks if c.choices and c.choices[0].delta.content]
    assert len(contents) == 1 and 0.05 <= json.loads(contents[0])["certainty"] <= 0.95


def test_api_key_is_enforced_when_set(attach, tiny_settings):
    gw = attach(api_key="sekrit")
    messages = [{"role": "user", "content": "Hi"}]
    with openai.OpenAI(base_url=f"{gw.url}/v1", api_key="wrong", max_retries=0) as bad:
        with pytest.raises(openai.AuthenticationError):
            bad.models.list()
    with openai.OpenAI(base_url=f"{gw.url}/v1", api_key="sekrit", max_retries=0) as good:
        assert good.chat.completions.create(model=tiny_settings.served_name, messages=messages, max_tokens=4).choices


@pytest.mark.parametrize(
    "body, status, code",
    [
        (b'{"model": "tiny-granite", "messages": [', 400, "invalid_request"),
        (b'{"model": "tiny-granite", "messages": "hello"}', 400, "invalid_request"),
        (b'{"model": "gpt-4o", "messages": [{"role": "user", "content": "hi"}]}', 404, "model_not_found"),
    ],
)
def test_bad_requests(gateway, body, status, code):
    resp = gateway.post("/v1/chat/completions", content=body, headers={"content-type": "application/json"})
    assert resp.status_code == status and resp.json()["error"]["code"] == code


def test_vllms_own_4xx_is_passed_on(sdk, tiny_settings):
    with pytest.raises(openai.BadRequestError) as err:
        sdk.chat.completions.create(
            model=tiny_settings.served_name, messages=[{"role": "user", "content": "hi"}], max_tokens=10**6
        )
    assert err.value.status_code == 400 and err.value.body["message"]


def test_unusable_adapter_output_is_a_502_naming_it(attach, tmp_path):
    # An io.yaml that gives the adapter too few tokens to finish its JSON: truncated output.
    short = tmp_path / "intrinsics" / "uncertainty"
    short.mkdir(parents=True)
    short.joinpath("io.yaml").write_text(
        IO_YAML.read_text().replace("max_completion_tokens: 15", "max_completion_tokens: 3")
    )
    for other in IO_YAML.parents[1].iterdir():  # the other served intrinsics keep their own files
        if other.is_dir() and other.name != "uncertainty":
            (short.parent / other.name).symlink_to(other)
    gw = attach(intrinsics_dir=str(tmp_path / "intrinsics"))
    resp = httpx.post(
        f"{gw.url}/v1/chat/completions", json={"model": "uncertainty", "messages": convo(*PAIRS[0])}, timeout=60
    )
    assert resp.status_code == 502
    err = resp.json()["error"]
    assert err["code"] == "bad_adapter_output" and "raw output: '{" in err["message"]


def test_upstream_timeout_is_a_504(attach, tiny_settings):
    gw = attach(upstream_timeout_s="0.05")
    # Far longer than the timeout even if the gateway loses the CPU for seconds meanwhile.
    resp = httpx.post(f"{gw.url}/v1/chat/completions", json=long_request(tiny_settings.served_name), timeout=60)
    assert resp.status_code == 504 and resp.json()["error"]["code"] == "upstream_timeout"


def metric_of(text: str, name: str) -> float:
    """The sum of a Prometheus metric over its label sets in an exposition ``text``."""
    return sum(float(line.rsplit(" ", 1)[1]) for line in text.splitlines() if line.startswith(name + "{"))


def vllm_metric(vllm, name: str) -> float:
    """The sum of one of vLLM's metrics, read now."""
    return metric_of(vllm.get("/metrics").text, name)


def running_requests(vllm) -> float:
    return vllm_metric(vllm, "vllm:num_requests_running")


#: Sequences and tokens each of a request that keeps the tiny model busy for about 30 s. While
#: vLLM generates, every process on a 2-core machine can stall for seconds (its engine's threads
#: take the cores), so a request that is to be cut off mid-run must last far longer than that.
LONG_N, LONG_TOKENS = 64, 1900


def long_request(model: str, *, stream: bool = False) -> dict:
    """A chat request whose answer takes the tiny model about 30 s to generate in full."""
    return {
        "model": model,
        "messages": [{"role": "user", "content": "Tell me a long story."}],
        "n": LONG_N,
        "max_tokens": LONG_TOKENS,
        "min_tokens": LONG_TOKENS,
        "temperature": 1.0,
        "stream": stream,
    }


async def vllm_is_generating(metrics: httpx.AsyncClient, *, within: float) -> bool:
    """Whether vLLM reports a running request within ``within`` seconds (polled from the
    caller's event loop, so the caller acts as soon as it is seen)."""
    deadline = time.monotonic() + within
    while time.monotonic() < deadline:
        if metric_of((await metrics.get("/metrics")).text, "vllm:num_requests_running") >= 1:
            return True
        await asyncio.sleep(0.02)
    return False


@pytest.mark.parametrize("stream", [False, True])
def test_client_disconnect_cancels_the_upstream_request(stack, vllm, tiny_settings, stream):
    body = long_request(tiny_settings.served_name, stream=stream)
    wait_until(lambda: running_requests(vllm) == 0, 60, "vLLM idle, nothing left from earlier tests")
    before = vllm_metric(vllm, "vllm:generation_tokens_total")

    async def leave_mid_generation():
        # The client leaves by closing its connection once vLLM is generating: no timeout to race.
        async with httpx.AsyncClient(timeout=60) as client, httpx.AsyncClient(base_url=stack.vllm_url) as metrics:
            if stream:
                async with client.stream("POST", f"{stack.url}/v1/chat/completions", json=body) as resp:
                    first = await anext(resp.aiter_raw())
                    assert resp.status_code == 200, first
                    assert await vllm_is_generating(metrics, within=20)
                # Leaving the block closes the connection with the stream unread.
            else:
                call = asyncio.ensure_future(client.post(f"{stack.url}/v1/chat/completions", json=body))
                assert await vllm_is_generating(metrics, within=20)
                assert not call.done()
                call.cancel()  # closes the connection before any answer
                with contextlib.suppress(asyncio.CancelledError):
                    await call

    asyncio.run(leave_mid_generation())
    wait_until(lambda: running_requests(vllm) == 0, 90, "vLLM idle: the request the client left cancelled")
    # Had the gateway let vLLM run on, every token would have been generated.
    generated = vllm_metric(vllm, "vllm:generation_tokens_total") - before
    assert 0 < generated < LONG_N * LONG_TOKENS


def test_vllm_killed_mid_run_is_a_503_and_the_gateway_recovers(attach, tmp_path, tiny_settings):
    settings = Settings.load(TINY_CONFIG, **{"vllm.port": free_port()})
    dep = resolve(settings)
    own = VLLMProcess(settings, dep, tmp_path / "vllm.log")
    with own:
        gw = attach(vllm_url=own.url)
        body = long_request(tiny_settings.served_name)  # the kill lands mid-run
        result = {}

        def call():
            result["resp"] = httpx.post(f"{gw.url}/v1/chat/completions", json=body, timeout=60)

        caller = threading.Thread(target=call)
        caller.start()
        with httpx.Client(base_url=own.url) as direct:
            wait_until(lambda: running_requests(direct) >= 1, 20, "vLLM running the request")
        assert caller.is_alive(), "the request must still be running when vLLM is killed"
        os.killpg(own.proc.pid, signal.SIGKILL)
        caller.join(30)
        assert not caller.is_alive(), "the client hung"
        assert result["resp"].status_code == 503 and result["resp"].json()["error"]["code"] == "upstream_unavailable"
        assert httpx.get(f"{gw.url}/health").status_code == 503
        own.proc.wait()
        own.start()  # vLLM back on the same port
        own.wait_up(600)
        ok = httpx.post(
            f"{gw.url}/v1/chat/completions", json={**body, "max_tokens": 4, "min_tokens": 0, "n": 1}, timeout=60
        )
        assert ok.status_code == 200 and httpx.get(f"{gw.url}/health").status_code == 200
