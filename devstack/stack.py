"""Run the whole stack (``granite-certainty serve``) as a child process on free ports.

Used by ``make demo``, the integration tests and the benchmarks: the real CLI, launcher, vLLM
and gateway, started once, waited for, and always stopped (the process group is killed at the
end).
"""

from __future__ import annotations

import os
import secrets
import socket
import sys
from pathlib import Path

from server.launch import ChildProcess
from server.settings import ENV_PREFIX


def free_port() -> int:
    """A TCP port that is free on 127.0.0.1 right now."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class Stack(ChildProcess):
    """``granite-certainty serve --config CONFIG`` on free ports, as a context manager."""

    def __init__(
        self,
        config: str | Path,
        *,
        log_path: Path,
        env: dict[str, str] | None = None,
        timeout_s: float = 900,
        require_upstream: bool = True,
    ):
        self.port, self.vllm_port = free_port(), free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        # An attached stack (GRANITE_CERTAINTY_VLLM__URL in ``env``) talks to that vLLM instead.
        self.vllm_url = (env or {}).get(f"{ENV_PREFIX}VLLM__URL") or f"http://127.0.0.1:{self.vllm_port}"
        self.config, self.timeout_s = str(config), timeout_s
        cmd = [sys.executable, "-m", "server.cli", "serve", "--config", self.config, "--port", str(self.port)]
        #: The key vLLM requires on /v1 (chosen here, so that tests can call vLLM directly too).
        self.vllm_key = (env or {}).get(f"{ENV_PREFIX}VLLM__API_KEY") or secrets.token_urlsafe(24)
        env = {
            **os.environ,
            f"{ENV_PREFIX}VLLM__PORT": str(self.vllm_port),
            f"{ENV_PREFIX}VLLM__API_KEY": self.vllm_key,
            **(env or {}),
        }
        super().__init__("the stack", cmd, log_path, env=env)
        #: Wait for /health to say vLLM is up (200), or only for the gateway to answer at all.
        self.require_upstream = require_upstream

    def start(self) -> None:
        """Start the stack and wait until the gateway reports vLLM healthy (once: a running
        stack is left as it is). Raises ``StartupError`` with the log's tail."""
        if self.running:
            return
        super().start()
        ready = (lambda status: status == 200) if self.require_upstream else (lambda status: True)
        try:
            self.wait_healthy(f"{self.url}/health", self.timeout_s, ready=ready, poll_s=1.0)
        except BaseException:
            self.stop()
            raise

    def stop(self, grace_s: float = 30) -> int | None:
        """SIGTERM ``serve`` alone (it stops vLLM itself), then kill whatever is left of its group."""
        return super().stop(grace_s, signal_group=False)

    def log_tail(self, lines: int = 60) -> str:
        """The end of the stack's log (gateway and launcher output)."""
        return super().log_tail(lines)

    def __enter__(self) -> Stack:
        self.start()
        return self

    def __exit__(self, *exc) -> None:
        self.stop()
