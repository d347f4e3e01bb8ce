"""Keep the vLLM that ``serve`` started running: restart it when it dies, give up when it keeps dying.

A thread watches the vLLM child. When it exits unexpectedly, the gateway keeps answering —
requests fail at once with 503 ``upstream_unavailable`` (their connections break or are
refused) and ``/readyz`` says not ready — while vLLM is restarted after an exponential backoff
(``vllm.restart_backoff_s`` doubling up to ``vllm.restart_backoff_max_s``). Each restart is
logged with the tail of vLLM's log and counted in ``granite_certainty_vllm_restarts_total``.
After ``vllm.restart_attempts`` restarts in a row that do not bring it back (a vLLM healthy for
``STABLE_S`` resets the count), the supervisor gives up and ``serve`` exits non-zero, so that
an orchestrator restarts the whole unit.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable

from ..metrics import Metrics
from ..settings import VLLMSettings
from .engine import VLLMProcess
from .process import StartupError

log = logging.getLogger("granite_certainty")

#: A vLLM that has been healthy this long after a restart has recovered: the attempt count resets.
STABLE_S = 60.0


class Supervisor(threading.Thread):
    """Restarts ``vllm`` with backoff; calls ``give_up`` once the attempts are spent."""

    #: Seconds between looks at the child.
    poll_s = 0.5

    def __init__(self, vllm: VLLMProcess, settings: VLLMSettings, metrics: Metrics, give_up: Callable[[], None]):
        super().__init__(name="vllm-supervisor", daemon=True)
        self.vllm, self.settings, self.metrics, self.give_up = vllm, settings, metrics, give_up
        self._halt = threading.Event()
        self._lock = threading.Lock()  # no restart may begin once halt() has returned

    def halt(self) -> None:
        """Stop supervising (shutdown): no restart starts after this returns."""
        with self._lock:
            self._halt.set()

    def run(self) -> None:
        """Watch, and restart on exit (the thread's body)."""
        failures, up_since = 0, time.monotonic()
        while not self._halt.wait(self.poll_s):
            if self.vllm.running:
                if failures and time.monotonic() - up_since > STABLE_S:
                    failures = 0
                continue
            if failures >= self.settings.restart_attempts:
                log.error("vLLM is down after %d restart attempts; giving up so that serve exits", failures)
                self.give_up()
                return
            delay = min(self.settings.restart_backoff_s * 2**failures, self.settings.restart_backoff_max_s)
            failures += 1
            log.error(
                "vLLM exited with status %s; restart %d of %d in %.1f s\n%s",
                self.vllm.proc.returncode if self.vllm.proc else None,
                failures,
                self.settings.restart_attempts,
                delay,
                self.vllm.log_tail(),
            )
            self.metrics.vllm_restarts.inc()
            if self._halt.wait(delay) or not self._restart():
                continue
            up_since = time.monotonic()

    def _restart(self) -> bool:
        with self._lock:
            if self._halt.is_set():
                return False
            self.vllm.stop()  # what is left of the old group (engine workers) goes first
            self.vllm.start()
        try:
            self.vllm.wait_up()
        except StartupError as exc:
            log.error("vLLM restart failed: %s", exc)
            return False
        log.warning("vLLM is back after a restart")
        return True
