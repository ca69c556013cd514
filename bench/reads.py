"""Read API latency: sequential requests over one keep-alive connection (httpx).

Four kinds, each timed over ``count`` requests after a short warm-up:

* ``visitor``: ``GET /api/v1/visitors/{uid}`` for random known uids (guest and
  visitor uids): the profile with its guest uids, cart and orders;
* ``visitor_events``: ``GET /api/v1/visitors/{uid}/events?limit=100``;
* ``events``: ``GET /api/v1/events?limit=100``, the newest page;
* ``events_before``: the same with ``before=<random id>``, a page deep in the table.

Latency is measured at the client, so it includes httpx's own work.
"""

from __future__ import annotations

import random
import statistics
import time
from collections.abc import Callable
from typing import Any

import httpx
from seed import EVENTS_PER_VISITOR, guest_uid, visitor_uid


def _percentile(sorted_ms: list[float], p: float) -> float:
    if not sorted_ms:
        return 0.0
    index = min(len(sorted_ms) - 1, max(0, round(p / 100 * len(sorted_ms) + 0.5) - 1))
    return sorted_ms[index]


def _uid(rng: random.Random, visitors: int) -> str:
    v = rng.randrange(visitors)
    if v % 3 == 0 and rng.random() < 0.5:
        return visitor_uid(v) or guest_uid(v)
    return guest_uid(v)


def time_reads(base_url: str, secret: str, events: int, count: int,
               seed: int = 1) -> dict[str, dict[str, Any]]:
    rng = random.Random(seed)
    visitors = max(1, events // EVENTS_PER_VISITOR)
    paths: dict[str, Callable[[], str]] = {
        "visitor": lambda: f"/api/v1/visitors/{_uid(rng, visitors)}",
        "visitor_events": lambda: f"/api/v1/visitors/{_uid(rng, visitors)}/events?limit=100",
        "events": lambda: "/api/v1/events?limit=100",
        "events_before": lambda: f"/api/v1/events?limit=100&before={rng.randrange(2, events + 1)}",
    }
    out: dict[str, dict[str, Any]] = {}
    headers = {"Authorization": f"Bearer {secret}"}
    with httpx.Client(base_url=base_url, headers=headers, timeout=30) as client:
        for name, make in paths.items():
            for _ in range(min(30, count)):  # warm-up: connections, caches, plans
                client.get(make())
            times: list[float] = []
            failures = 0
            for _ in range(count):
                path = make()
                started = time.perf_counter()
                answer = client.get(path)
                answer.read()
                times.append((time.perf_counter() - started) * 1000)
                if answer.status_code != 200:
                    failures += 1
            times.sort()
            out[name] = {
                "requests": count, "non_200": failures,
                "p50_ms": round(_percentile(times, 50), 3),
                "p95_ms": round(_percentile(times, 95), 3),
                "p99_ms": round(_percentile(times, 99), 3),
                "mean_ms": round(statistics.fmean(times), 3) if times else 0.0,
            }
    return out
