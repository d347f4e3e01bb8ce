"""The CPU deployment as shipped: both images, run as docker/compose.cpu.yaml wires them (its
commands, environment, key, port and health checks, read from the file), in one pod where the
gateway finds vLLM at ``vllm:8001`` as on the compose network. The OpenAI SDK asks the gateway
container; then ``podman stop`` must stop both cleanly."""

from __future__ import annotations

import json
import secrets
import time
from pathlib import Path

import httpx
import openai
import pytest

from devstack.stack import free_port
from server.settings import Settings
from tests.images.podman import healthy, inspect, podman, run_args
from tests.processes import alive, descendants
from tests.test_docker import CPU_COMPOSE, interpolate, raw_compose
from tests.waiting import wait_until

POD = "granite-certainty-cpu-test"
QUESTION = [{"role": "user", "content": "What is the capital of France?"}]
ANSWERED = [*QUESTION, {"role": "assistant", "content": "The capital of France is Paris."}]
TINY_CONFIG = Path(__file__).resolve().parents[2] / "configs" / "tiny.yaml"
VLLM_START_S = 900  # the compose file's start_period is 10 min; on 2 busy cores it takes 1-3
STOP_GRACE_S = 60
#: A clean stop: exit 0, or 143 where the server re-raises SIGTERM once it has shut down (uvicorn
#: does, so that the exit status says what stopped it); 137 would be podman's SIGKILL.
CLEAN_STOPS = {"exited 0", "exited 143"}


def start_pod(services: dict) -> None:
    """The pod standing in for the compose network: ``vllm`` resolves to the pod itself, the
    gateway's ports are published as the compose file says (on the loopback interface only),
    and /dev/shm, which a pod's containers share, is the size the vllm service asks for."""
    podman("pod", "rm", "--force", "--ignore", POD)
    publish = [arg for port in services["gateway"]["ports"] for arg in ("--publish", f"127.0.0.1:{port}")]
    shm = f"--shm-size={services['vllm']['shm_size']}"
    podman("pod", "create", "--name", POD, "--add-host", "vllm:127.0.0.1", shm, *publish)


def observe_start(url: str) -> list[tuple[int | None, bool]]:
    """(gateway /health status, vLLM healthy) seen every few seconds until vLLM is healthy; the
    gateway is asked first, so a 200 before a failing vLLM check is a real contradiction."""
    seen: list[tuple[int | None, bool]] = []

    def vllm_up() -> bool:
        try:
            status = httpx.get(f"{url}/health", timeout=5).status_code
        except httpx.TransportError:
            status = None
        seen.append((status, healthy(f"{POD}-vllm")))
        return seen[-1][1] or time.sleep(3)

    wait_until(vllm_up, VLLM_START_S, lambda: podman("logs", "--tail", "40", f"{POD}-vllm").stderr, poll_s=0)
    return seen


def services(port: int) -> dict:
    """docker/compose.cpu.yaml's services, its variables set as a user would set them."""
    env = {"VLLM_API_KEY": secrets.token_urlsafe(24), "GATEWAY_PORT": str(port)}
    return interpolate(raw_compose(CPU_COMPOSE), env)["services"]


@pytest.fixture(scope="module")
def deployment():
    """Both containers, started together; yields the gateway's URL and what was seen as vLLM started."""
    port = free_port()
    wired = services(port)
    start_pod(wired)
    try:
        for name in ("vllm", "gateway"):
            options = run_args(wired[name], CPU_COMPOSE.parent)
            podman("run", "--detach", "--pod", POD, "--name", f"{POD}-{name}", *options)
        url = f"http://127.0.0.1:{port}"
        seen = observe_start(url)
        wait_until(lambda: healthy(f"{POD}-gateway"), 120, "the gateway's health check to pass", poll_s=2)
        yield {"url": url, "seen": seen}
    finally:
        podman("pod", "rm", "--force", "--ignore", POD, timeout_s=180, check=False)


@pytest.fixture(scope="module")
def sdk(deployment):
    with openai.OpenAI(base_url=f"{deployment['url']}/v1", api_key="unused", max_retries=0, timeout=300) as client:
        yield client


def test_the_gateway_container_reports_ready_only_once_vllm_is(deployment):
    seen = deployment["seen"]
    assert not [status for status, vllm_up in seen if status == 200 and not vllm_up], seen
    assert any(status == 503 and not vllm_up for status, vllm_up in seen), (
        f"the gateway never answered 503 while vLLM was starting: {seen}"
    )


def test_the_gateway_container_answers_with_a_certainty(sdk):
    served = Settings.load(TINY_CONFIG).served_name
    # Room for the whole answer: a cut-off one is not scored.
    ask = {"max_tokens": 200, "temperature": 0, "extra_body": {"certainty": True}}
    reply = sdk.chat.completions.create(model=served, messages=QUESTION, **ask)
    choice = reply.choices[0]
    assert choice.message.content
    assert 0.0 <= choice.model_extra["certainty"] <= 1.0


def test_the_gateway_container_scores_an_answer_with_the_uncertainty_model(sdk):
    reply = sdk.chat.completions.create(model="uncertainty", messages=ANSWERED)
    assert 0.0 <= json.loads(reply.choices[0].message.content)["certainty"] <= 1.0


def test_podman_stop_stops_both_containers_cleanly(deployment):
    names = [f"{POD}-vllm", f"{POD}-gateway"]
    roots = [int(inspect(name, "{{.State.Pid}}")) for name in names]
    processes = {pid for root in roots for pid in (root, *descendants(root))}
    started = time.monotonic()
    podman("stop", "--time", str(STOP_GRACE_S), *names, timeout_s=180)
    assert time.monotonic() - started < STOP_GRACE_S, "podman had to kill a container (SIGKILL after the grace time)"
    for name in names:
        state = inspect(name, "{{.State.Status}} {{.State.ExitCode}}")
        assert state in CLEAN_STOPS, f"{name}: {state}\n{podman('logs', '--tail', '20', name).stderr}"
    assert not [pid for pid in processes if alive(pid)], "processes outlived their container"
