"""Prometheus metrics, collected by a pure ASGI middleware and served at ``GET /metrics``.

Each app gets its own registry (no import-time global state, so several apps can live in one
process, as in the tests). Labels stay bounded: the route is the matched path template and
the model label is a served model's name or ``unknown``.
"""

from __future__ import annotations

import os
import time

from fastapi import APIRouter, Request
from fastapi.responses import Response
from prometheus_client import CONTENT_TYPE_LATEST, CollectorRegistry, Counter, Histogram, generate_latest, multiprocess

router = APIRouter()

#: prometheus_client's switch to multiprocess mode (a directory that ``serve --workers N`` makes
#: and its workers share).
MULTIPROC_ENV = "PROMETHEUS_MULTIPROC_DIR"
LATENCY_BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 120)
CERTAINTY_BUCKETS = tuple(round(0.1 * i, 1) for i in range(1, 11))


class Metrics:
    """The gateway's instruments, registered in a registry of their own."""

    def __init__(self) -> None:
        self.registry = CollectorRegistry()
        r = self.registry
        self.requests = Counter("granite_certainty_requests", "HTTP requests", ["route", "model", "status"], registry=r)
        self.latency = Histogram(
            "granite_certainty_request_seconds",
            "Time to the response's first byte",
            ["route", "model"],
            buckets=LATENCY_BUCKETS,
            registry=r,
        )
        self.upstream_errors = Counter(
            "granite_certainty_upstream_errors", "Failed or unusable vLLM calls", ["code"], registry=r
        )
        self.upstream_failures = Counter(
            "granite_certainty_upstream_failures",
            "Transport failures of calls to an upstream (vllm, fallback) by cause; outcome: failed, or "
            "retried (sent again on a new connection and answered)",
            ["upstream", "cause", "outcome"],
            registry=r,
        )
        self.certainty = Histogram(
            "granite_certainty_certainty", "Served certainty values", ["model"], buckets=CERTAINTY_BUCKETS, registry=r
        )
        self.vllm_restarts = Counter(
            "granite_certainty_vllm_restarts", "Restarts of a vLLM child that exited unexpectedly", registry=r
        )
        self.certainty_cache = Counter(
            "granite_certainty_certainty_cache", "Certainty cache lookups by result (hit, miss)", ["result"], registry=r
        )
        self.guard_actions = Counter(
            "granite_certainty_guard_actions", "Certainty guard actions taken", ["action"], registry=r
        )


class MetricsMiddleware:
    """Counts requests by route/model/status and times them to the first response byte."""

    def __init__(self, app, metrics: Metrics):
        self.app, self.metrics = app, metrics

    async def __call__(self, scope, receive, send):
        if scope["type"] != "http":
            return await self.app(scope, receive, send)
        start = time.perf_counter()
        status = 500  # if the app dies before answering, that is what the client sees

        async def timed_send(message):
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
                route, model = _labels(scope)
                self.metrics.latency.labels(route, model).observe(time.perf_counter() - start)
            await send(message)

        try:
            await self.app(scope, receive, timed_send)
        finally:
            self.metrics.requests.labels(*_labels(scope), str(status)).inc()


def _labels(scope) -> tuple[str, str]:
    route = scope.get("route")
    path = getattr(route, "path", None) or "unmatched"
    return path, (scope.get("state") or {}).get("model", "-")


@router.get("/metrics", include_in_schema=False)
async def metrics_endpoint(request: Request) -> Response:
    """The Prometheus text exposition of this app's registry, or, with several gateway workers
    (``PROMETHEUS_MULTIPROC_DIR`` set), of every worker's counts summed."""
    registry = request.app.state.gateway.metrics.registry
    if os.environ.get(MULTIPROC_ENV):
        registry = CollectorRegistry()
        multiprocess.MultiProcessCollector(registry)
    return Response(generate_latest(registry), media_type=CONTENT_TYPE_LATEST)
