"""Prometheus metrics (``GET /metrics``).

With several worker processes, ``shoptrack serve`` points
``PROMETHEUS_MULTIPROC_DIR`` at a fresh directory before the workers start,
and ``/metrics`` adds up every process's figures.
"""

from __future__ import annotations

import os
from typing import Any

from prometheus_client import (
    CONTENT_TYPE_LATEST,
    CollectorRegistry,
    Counter,
    Gauge,
    Histogram,
    generate_latest,
    multiprocess,
)

EVENTS = Counter("shoptrack_events_total", "Events committed, by type and outcome "
                 "(ok, duplicate, suppressed).", ["type", "outcome"])
REJECTED = Counter("shoptrack_events_rejected_total", "Requests refused, by error code.",
                   ["reason"])
REJECTIONS_NOT_KEPT = Counter(
    "shoptrack_rejections_not_kept_total", "Refused requests of known apps not kept, or no "
    "longer: over_cap (an app's oldest, past rejected_max_per_app), expired (past "
    "rejected_max_age_days), unstored (the write failed).", ["reason"])
BATCH_SIZE = Histogram("shoptrack_batch_size", "Items per group-commit transaction.",
                       buckets=(1, 2, 5, 10, 20, 50, 100, 200, 500, 1000, 5000))
BATCH_SECONDS = Histogram("shoptrack_batch_commit_seconds",
                          "Time to apply and commit one batch.",
                          buckets=(.0005, .001, .0025, .005, .01, .025, .05, .1, .25, .5, 1, 5))
BATCH_FAILURES = Counter("shoptrack_batch_failures_total", "Batches that failed, by cause.",
                         ["cause"])
QUEUE_DEPTH = Gauge("shoptrack_writer_queue_depth", "Events waiting for the next batch.",
                    multiprocess_mode="livesum")
RESPONSES = Counter("shoptrack_http_responses_total", "Error responses (4xx, 5xx) by status class.",
                    ["status"])


_event_counters: dict[tuple[str, str], Any] = {}


def count_event(event_type: str, outcome: str) -> None:
    """``EVENTS.labels(...).inc()``, with the labelled child looked up once (hot path)."""
    child = _event_counters.get((event_type, outcome))
    if child is None:
        child = _event_counters[(event_type, outcome)] = EVENTS.labels(event_type, outcome)
    child.inc()


def render() -> tuple[bytes, str]:
    """The exposition text of this process, or of all processes in multiprocess mode."""
    if os.environ.get("PROMETHEUS_MULTIPROC_DIR"):
        registry = CollectorRegistry()
        multiprocess.MultiProcessCollector(registry)  # type: ignore[no-untyped-call]
        return generate_latest(registry), CONTENT_TYPE_LATEST
    return generate_latest(), CONTENT_TYPE_LATEST
