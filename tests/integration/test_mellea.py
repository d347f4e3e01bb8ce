"""IBM's own client for Granite intrinsics, mellea 0.8.0, through the gateway on the real tiny stack:
the folder ``granite-certainty switch-layout`` writes is where mellea finds the adapters; its
``check_certainty`` (a base-model chat that selects the adapter by ``chat_template_kwargs``) gives
the gateway's own ``uncertainty`` answer to 1e-9, which the base model's answer does not; a session's
chat and ``check_certainty`` run in one script as a user writes it; an adapter name the gateway does
not serve is refused with the 400, never answered by the base model."""

import json
import re
import shutil
import subprocess
import sys

import pytest

from .conftest import CONVERSATIONS, conversation

#: mellea 0.8.0's reader of a Granite Switch folder warns that its class is deprecated (not its format).
pytestmark = pytest.mark.filterwarnings("ignore::DeprecationWarning")

#: The script of docs/serving/clients.md's mellea section as a user runs it (URL, model and folder filled in; the answer
#: kept short and greedy, for the tiny model on CPU).
USER_SCRIPT = """
from mellea import start_session
from mellea.stdlib.components.intrinsic.core import check_certainty
from mellea.stdlib.context import ChatContext

m = start_session("openai", model_id=MODEL, ctx=ChatContext(), base_url=URL + "/v1", api_key="unused",
                  adapter_source=LAYOUT)
answer = m.chat("What is the capital of France?", model_options={"temperature": 0, "max_tokens": 32})
print("answer:", answer.content)
print("certainty:", check_certainty(m.ctx, m.backend))
"""


@pytest.fixture(scope="module")
def layout(stack, tmp_path_factory):
    """The folder ``granite-certainty switch-layout DIR --url`` writes from the running gateway."""
    folder = tmp_path_factory.mktemp("switch") / "layout"
    cmd = [sys.executable, "-m", "server.cli", "switch-layout", str(folder), "--url", stack.url]
    done = subprocess.run(cmd, capture_output=True, text=True, timeout=60)
    assert done.returncode == 0, done.stderr
    return folder


@pytest.fixture(scope="module")
def backend(stack, tiny_settings, layout):
    """mellea's OpenAI backend on the gateway, its adapters found in ``layout``."""
    from mellea.backends.openai import OpenAIBackend

    backend = OpenAIBackend(
        model_id=tiny_settings.served_name, base_url=f"{stack.url}/v1", api_key="unused", adapter_source=str(layout)
    )
    yield backend
    backend.close()


def context(question: str, answer: str):
    """mellea's chat context of one question and its answer."""
    from mellea.stdlib.components import Message
    from mellea.stdlib.context import ChatContext

    return ChatContext().add(Message("user", question)).add(Message("assistant", answer))


def gateway_certainty(sdk, question: str, answer: str) -> float:
    """The gateway's own ``uncertainty`` answer for the conversation."""
    reply = sdk.chat.completions.create(model="uncertainty", messages=conversation(question, answer))
    return json.loads(reply.choices[0].message.content)["certainty"]


def adapter_requests(gateway) -> float:
    """How many chat requests the gateway has counted for the ``uncertainty`` adapter, answered 200."""
    text = gateway.get("/metrics").text
    pattern = r'granite_certainty_requests_total\{model="uncertainty",route="/v1/chat/completions",status="200"\} (\S+)'
    found = re.search(pattern, text)
    return float(found.group(1)) if found else 0.0


def test_the_layout_holds_the_served_adapter_with_the_gateways_io_yaml(layout, gateway):
    index = json.loads((layout / "adapter_index.json").read_text())
    assert index == {
        "adapters": [
            {"adapter_name": name, "io_config": f"io_configs/{name}/io.yaml", "technology": "lora"}
            for name in ("answerability", "citations", "query_rewrite", "uncertainty")  # by name
        ]
    }
    served = gateway.get("/switch-layout/io_configs/uncertainty/io.yaml").content
    assert (layout / "io_configs/uncertainty/io.yaml").read_bytes() == served


@pytest.mark.parametrize("question, answer", CONVERSATIONS)
def test_check_certainty_is_the_gateways_own_uncertainty_answer(backend, sdk, gateway, question, answer):
    from mellea.stdlib.components.intrinsic.core import check_certainty

    before = adapter_requests(gateway)
    value = check_certainty(context(question, answer), backend)
    counted = adapter_requests(gateway) - before
    assert value == pytest.approx(gateway_certainty(sdk, question, answer), abs=1e-9)
    # mellea's request was counted as one for the adapter (not the base model), before the gateway's own.
    assert counted == 1


def test_a_users_script_chats_and_checks_the_certainty_of_the_answer(stack, tiny_settings, layout, tmp_path):
    header = f"MODEL, URL, LAYOUT = {tiny_settings.served_name!r}, {stack.url!r}, {str(layout)!r}\n"
    script = tmp_path / "user.py"
    script.write_text(header + USER_SCRIPT)
    done = subprocess.run([sys.executable, str(script)], capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr[-3000:]
    answer = re.search(r"^answer: (.+)$", done.stdout, re.M).group(1)
    certainty = float(re.search(r"^certainty: (\S+)$", done.stdout, re.M).group(1))
    assert answer.strip() and 0.05 <= certainty <= 0.95


def test_an_adapter_the_gateway_does_not_serve_is_refused_with_the_400(stack, tiny_settings, layout, tmp_path):
    import openai
    from mellea.backends.openai import OpenAIBackend
    from mellea.stdlib.components.intrinsic.core import call_intrinsic

    # The same layout, naming an adapter the gateway does not serve.
    shutil.copytree(layout / "io_configs/uncertainty", tmp_path / "io_configs/no-such-adapter")
    index = {"adapters": [{"adapter_name": "no-such-adapter", "io_config": "io_configs/no-such-adapter/io.yaml"}]}
    (tmp_path / "adapter_index.json").write_text(json.dumps(index))
    backend = OpenAIBackend(
        model_id=tiny_settings.served_name, base_url=f"{stack.url}/v1", api_key="unused", adapter_source=str(tmp_path)
    )
    try:
        with pytest.raises(openai.BadRequestError) as refused:
            call_intrinsic("no-such-adapter", context(*CONVERSATIONS[0]), backend)
    finally:
        backend.close()
    error = refused.value.body
    assert refused.value.status_code == 400 and error["param"] == "chat_template_kwargs.adapter_name"
    assert "'no-such-adapter'" in error["message"] and "'uncertainty'" in error["message"]
