"""Prometheus metrics of one app instance.

Each app gets its own `CollectorRegistry` (several apps live in one test process). Request
counts and latency come from a pure ASGI middleware, cheaper than `BaseHTTPMiddleware` on a
hot path measured in fractions of a millisecond. What the model manager knows (served version,
reloads, poll age) is read at scrape time by a collector, so the manager stays free of metrics.
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from typing import Any

from prometheus_client import CollectorRegistry, Counter, Histogram
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, Metric
from prometheus_client.registry import Collector
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from app.model_manager import ModelManager

LATENCY_BUCKETS = (0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5)


class ManagerCollector(Collector):
    def __init__(self, manager: ModelManager) -> None:
        self.manager = manager

    def collect(self) -> Iterator[Metric]:
        m = self.manager
        served = m.served
        info = GaugeMetricFamily(
            "moviescore_model_served",
            "1 for the model version being served",
            labels=["version", "model_name"],
        )
        if served is not None:
            info.add_metric([served.version, served.model_name], 1.0)
        yield info
        yield GaugeMetricFamily(
            "moviescore_model_ready", "1 once a model is loaded", value=float(m.ready)
        )
        reloads = CounterMetricFamily(
            "moviescore_model_reloads", "model loads by outcome", labels=["outcome"]
        )
        reloads.add_metric(["success"], m.reload_successes)
        reloads.add_metric(["failure"], m.reload_failures)
        yield reloads
        yield CounterMetricFamily(
            "moviescore_registry_poll_failures",
            "polls that could not reach the registry",
            value=m.poll_failures,
        )
        coalescer = served.scorer.coalescer if served is not None else None
        yield CounterMetricFamily(
            "moviescore_model_calls",
            "/predict model calls of the served model since it loaded; concurrent requests "
            "share one (moviescore.serving.coalesce)",
            value=coalescer.calls if coalescer else 0,
        )
        yield CounterMetricFamily(
            "moviescore_model_call_rows",
            "movies those calls scored: rows / calls is the average batch",
            value=coalescer.rows if coalescer else 0,
        )
        age = m.seconds_since_success()
        yield GaugeMetricFamily(
            "moviescore_registry_seconds_since_last_poll",
            "seconds since the last successful registry poll (NaN before the first)",
            value=float("nan") if age is None else age,
        )


class Metrics:
    def __init__(self, manager: ModelManager) -> None:
        self.registry = CollectorRegistry()
        self.requests = Counter(
            "moviescore_http_requests",
            "HTTP requests by route, method and status",
            ["route", "method", "status"],
            registry=self.registry,
        )
        self.latency = Histogram(
            "moviescore_http_request_duration_seconds",
            "HTTP request latency by route",
            ["route"],
            buckets=LATENCY_BUCKETS,
            registry=self.registry,
        )
        self.predictions = Counter(
            "moviescore_predictions",
            "movies scored (a batch counts each movie)",
            registry=self.registry,
        )
        self.registry.register(ManagerCollector(manager))


class MetricsMiddleware:
    """Counts and times every HTTP request under its route template (not its raw path)."""

    def __init__(self, app: ASGIApp, metrics: Metrics) -> None:
        self.app = app
        self.metrics = metrics
        # The labelled children, looked up once per (route, method, status): `labels()` takes a
        # lock and builds a key on every call, a visible cost on a sub-millisecond request.
        self._children: dict[tuple[str, str, int], tuple[Any, Any]] = {}

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        status = 500
        start = time.perf_counter()

        async def send_status(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
            await send(message)

        try:
            await self.app(scope, receive, send_status)
        finally:
            route = scope.get("route")
            # Unmatched paths share one label, so scanners cannot blow up the series count.
            name = getattr(route, "path", None) or "unmatched"
            key = (name, scope["method"], status)
            children = self._children.get(key)
            if children is None:
                children = self._children[key] = (
                    self.metrics.latency.labels(name),
                    self.metrics.requests.labels(name, scope["method"], str(status)),
                )
            children[0].observe(time.perf_counter() - start)
            children[1].inc()
