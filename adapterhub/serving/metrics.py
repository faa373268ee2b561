"""Prometheus metrics of one server: requests, latency, batch sizes, queue depth and resident adapters, by
route and (see :mod:`adapterhub.serving.adapter_metrics`) by adapter version.

Each app gets its own collector registry, so several servers (or tests) in one process never share counts.
"""

from __future__ import annotations

from prometheus_client import CONTENT_TYPE_LATEST, CollectorRegistry, Counter, Gauge, Histogram, generate_latest

from adapterhub.serving.adapter_metrics import AdapterMetrics

LATENCY_BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 60.0)
BATCH_BUCKETS = (1, 2, 4, 8, 16, 32, 64, 128, 256)


class Metrics:
    """The server's instruments; ``render()`` gives the Prometheus text exposition."""

    content_type = CONTENT_TYPE_LATEST

    def __init__(self, max_adapters: int = 100) -> None:
        self.registry = CollectorRegistry()
        self.adapters = AdapterMetrics(max_adapters)  # per adapter version, at most max_adapters of them
        self.registry.register(self.adapters)
        self.requests = Counter(
            "adapterhub_requests",
            "HTTP requests by route and status code.",
            ("route", "status"),
            registry=self.registry,
        )
        self.latency = Histogram(
            "adapterhub_request_seconds",
            "Time from receiving a request to its response, by route.",
            ("route",),
            buckets=LATENCY_BUCKETS,
            registry=self.registry,
        )
        self.inputs = Counter("adapterhub_inputs", "Inputs run through adapters.", registry=self.registry)
        self.batch_size = Histogram(
            "adapterhub_batch_size", "Inputs per mixed-adapter batch.", buckets=BATCH_BUCKETS, registry=self.registry
        )
        self.queue_depth = Gauge("adapterhub_queue_depth", "Inputs waiting or running.", registry=self.registry)
        self.resident = Gauge(
            "adapterhub_resident_adapters",
            "Adapters in memory: hot (on the device) and warm (parsed, in CPU memory).",
            ("state",),
            registry=self.registry,
        )

    def render(self) -> bytes:
        return generate_latest(self.registry)
