"""Run the whole stack (``granite-certainty serve``) as a child process on free ports.

Used by ``make demo`` and by the integration tests: the real CLI, launcher, vLLM and gateway,
started once, waited for, and always stopped (the process group is killed at the end).
"""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import httpx

from .launcher import tail_of
from .settings import ENV_PREFIX


def free_port() -> int:
    """A TCP port that is free on 127.0.0.1 right now."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class Stack:
    """``granite-certainty serve --config CONFIG`` on free ports, as a context manager."""

    def __init__(self, config: str | Path, *, log_path: Path, env: dict[str, str] | None = None, timeout_s: float = 900,
                 require_upstream: bool = True):  # fmt: skip
        self.port, self.vllm_port = free_port(), free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        # An attached stack (GRANITE_CERTAINTY_VLLM__URL in ``env``) talks to that vLLM instead.
        self.vllm_url = (env or {}).get(f"{ENV_PREFIX}VLLM__URL") or f"http://127.0.0.1:{self.vllm_port}"
        self.config, self.log_path, self.timeout_s = str(config), log_path, timeout_s
        self.env = {**os.environ, f"{ENV_PREFIX}VLLM__PORT": str(self.vllm_port), **(env or {})}
        self.proc: subprocess.Popen | None = None
        #: Wait for /health to say vLLM is up (200), or only for the gateway to answer at all.
        self.require_upstream = require_upstream

    def start(self) -> None:
        """Start the stack and wait until the gateway reports vLLM healthy (once: a running
        stack is left as it is)."""
        if self.proc is not None and self.proc.poll() is None:
            return
        cmd = [sys.executable, "-m", "server.cli", "serve", "--config", self.config, "--port", str(self.port)]
        self.log_path.parent.mkdir(parents=True, exist_ok=True)
        with open(self.log_path, "wb") as log:
            self.proc = subprocess.Popen(cmd, stdout=log, stderr=subprocess.STDOUT, env=self.env, start_new_session=True)
        deadline = time.monotonic() + self.timeout_s
        while True:
            if self.proc.poll() is not None:
                raise RuntimeError(f"the stack exited with status {self.proc.returncode}\n{self.log_tail()}")
            try:
                status = httpx.get(f"{self.url}/health", timeout=2).status_code
                if status == 200 or not self.require_upstream:
                    return
            except httpx.TransportError:
                pass
            if time.monotonic() > deadline:
                self.stop()
                raise RuntimeError(f"the stack was not healthy after {self.timeout_s:.0f} s\n{self.log_tail()}")
            time.sleep(1)

    def stop(self, grace_s: float = 30) -> int | None:
        """SIGTERM the stack (it stops vLLM itself), then kill whatever is left of its group."""
        if self.proc is None:
            return None
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(grace_s)
            except subprocess.TimeoutExpired:
                pass
        try:
            os.killpg(self.proc.pid, signal.SIGKILL)
        except (ProcessLookupError, PermissionError):
            pass
        return self.proc.wait()

    def log_tail(self, lines: int = 60) -> str:
        """The end of the stack's log (gateway and launcher output)."""
        return tail_of(self.log_path, lines)

    def __enter__(self) -> "Stack":
        self.start()
        return self

    def __exit__(self, *exc) -> None:
        self.stop()
