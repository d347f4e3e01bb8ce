"""Run the gateway app under uvicorn, and drain it on SIGTERM.

On SIGTERM (or Ctrl-C) the gateway marks itself draining — ``/readyz`` answers 503 at once,
so a load balancer stops routing to it — and uvicorn stops taking connections while the
requests and streams in flight finish, for up to ``shutdown_grace_s``; then the app's
lifespan closes its clients, and ``serve`` stops vLLM (its whole process group).
"""

from __future__ import annotations

import logging

import uvicorn
from fastapi import FastAPI

from ..settings import Settings

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

    def handle_exit(self, sig, frame) -> None:
        """Signal handler: readiness fails first, then uvicorn's own graceful shutdown."""
        gateway = self.app.state.gateway
        if not gateway.draining:
            gateway.draining = True
            log.warning("draining: finishing requests in flight (up to %s s)", self.config.timeout_graceful_shutdown)
        super().handle_exit(sig, frame)


def run_gateway(app: FastAPI, settings: Settings) -> None:
    """Serve ``app`` until a signal, then drain it (see the module docstring)."""
    DrainingServer(app, settings).run()
