"""The gateway image attached to a vLLM that runs outside any container: the dev stack's, on
this machine, reached over the host network (``serve --vllm-url``, as a deployment would point
the gateway at a vLLM it does not start)."""

from __future__ import annotations

from pathlib import Path

import openai
import pytest

from devstack import Stack
from devstack.stack import free_port
from server.settings import Settings
from tests.images.podman import healthy, podman, run_args
from tests.test_docker import CPU_COMPOSE, interpolate, raw_compose
from tests.waiting import wait_until

NAME = "granite-certainty-host-test"
TINY_CONFIG = Path(__file__).resolve().parents[2] / "configs" / "tiny.yaml"


def attached_gateway(vllm_url: str, vllm_key: str, port: int) -> list[str]:
    """The CPU compose file's gateway service, its --vllm-url the dev stack's vLLM, on the host network."""
    gateway = interpolate(raw_compose(CPU_COMPOSE), {"VLLM_API_KEY": vllm_key})["services"]["gateway"]
    command = [vllm_url if arg == "http://vllm:8001" else arg for arg in gateway["command"]]
    assert command != gateway["command"], "the compose gateway's --vllm-url is no longer http://vllm:8001"
    options = run_args({**gateway, "command": command}, CPU_COMPOSE.parent)
    return ["--network", "host", "-e", f"GRANITE_CERTAINTY_PORT={port}", *options]


@pytest.fixture(scope="module")
def host_gateway(tmp_path_factory):
    log = tmp_path_factory.mktemp("stack") / "stack.log"
    with Stack(TINY_CONFIG, log_path=log) as stack:
        port = free_port()
        podman("rm", "--force", "--ignore", NAME)
        try:
            podman("run", "--detach", "--name", NAME, *attached_gateway(stack.vllm_url, stack.vllm_key, port))
            wait_until(lambda: healthy(NAME), 120, lambda: podman("logs", NAME).stderr[-3000:], poll_s=2)
            yield f"http://127.0.0.1:{port}"
        finally:
            podman("rm", "--force", "--ignore", NAME, timeout_s=120, check=False)


def test_the_gateway_image_on_the_host_network_answers_with_a_certainty_from_the_dev_stacks_vllm(host_gateway):
    served = Settings.load(TINY_CONFIG).served_name
    with openai.OpenAI(base_url=f"{host_gateway}/v1", api_key="unused", max_retries=0, timeout=300) as sdk:
        reply = sdk.chat.completions.create(
            model=served,
            messages=[{"role": "user", "content": "What is 2 + 2?"}],
            max_tokens=200,  # room for the whole answer: a cut-off one is not scored
            temperature=0,
            extra_body={"certainty": True},
        )
    assert reply.choices[0].message.content
    assert 0.0 <= reply.choices[0].model_extra["certainty"] <= 1.0
