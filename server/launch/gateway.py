"""Run the gateway app under uvicorn, and drain it on SIGTERM.

On SIGTERM (or Ctrl-C) the gateway marks itself draining — ``/readyz`` answers 503 at once,
so a load balancer stops routing to it — and uvicorn stops taking connections while the
requests and streams in flight finish, for up to ``shutdown_grace_s``; then the app's
lifespan closes its clients, and ``serve`` stops vLLM (its whole process group).
"""

from __future__ import annotations

import logging
import os
import tempfile

import uvicorn
from fastapi import FastAPI

from ..metrics import MULTIPROC_ENV
from ..settings import SETTINGS_ENV, Settings

log = logging.getLogger("granite_certainty")


class DrainingServer(uvicorn.Server):
    """``uvicorn.Server`` that flags the gateway as draining before it shuts down."""

    def __init__(self, app: FastAPI, settings: Settings):
        config = uvicorn.Config(
            app,
            host=settings.host,
            port=settings.port,
            log_level=settings.log_level,
            timeout_graceful_shutdown=settings.shutdown_grace_s,
        )
        super().__init__(config)
        self.app = app
        #: What ``serve`` exits with: 1 once something has given up on the stack (``fail``).
        self.exit_code = 0

    def fail(self) -> None:
        """Shut down with exit status 1 (callable from any thread: uvicorn polls ``should_exit``)."""
        self.exit_code = 1
        self.app.state.gateway.draining = True
        self.should_exit = True

    def handle_exit(self, sig, frame) -> None:
        """Signal handler: readiness fails first, then uvicorn's own graceful shutdown."""
        gateway = self.app.state.gateway
        if not gateway.draining:
            gateway.draining = True
            log.warning("draining: finishing requests in flight (up to %s s)", self.config.timeout_graceful_shutdown)
        super().handle_exit(sig, frame)


def run_gateway(app: FastAPI, settings: Settings) -> int:
    """Serve ``app`` until a signal, then drain it (see the module docstring); the exit status."""
    server = DrainingServer(app, settings)
    server.run()
    return server.exit_code


def use_shared_metrics() -> None:
    """Before any worker starts (and before metrics exist here): Prometheus multiprocess mode, so
    that ``/metrics``, answered by any one worker, sums every worker's counts."""
    if not os.environ.get(MULTIPROC_ENV):
        os.environ[MULTIPROC_ENV] = tempfile.mkdtemp(prefix="granite-certainty-metrics-")


def run_workers(settings: Settings) -> None:
    """Serve with ``settings.workers`` uvicorn worker processes on one socket until a signal.

    Each worker builds the app from ``settings`` (passed as JSON in its environment: the
    resolved settings, command-line flags and vLLM's per-run key included, nothing on disk)."""
    use_shared_metrics()
    os.environ[SETTINGS_ENV] = settings.model_dump_json()
    uvicorn.run(
        "server.main:app",
        factory=True,
        host=settings.host,
        port=settings.port,
        workers=settings.workers,
        log_level=settings.log_level,
        timeout_graceful_shutdown=settings.shutdown_grace_s,
    )
