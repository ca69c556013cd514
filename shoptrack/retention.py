"""Retention of raw events: each app's ``retention_days`` (``shoptrack apps set
--retention-days N``; unset: kept forever).

:func:`run_once` deletes the events received before the cut-off, from ``events``
only: visitors (with their counters), carts, orders and report rollups stay, so
reports over old ranges stay right once their raw events are gone (and it notes
the cut-off first, so that ``reports rebuild`` leaves those days' rollups as
they are: :func:`shoptrack.store.rebuild.floor`).  It works in
small transactions (:data:`SCAN` events looked at, the old ones among them
deleted, each in a few milliseconds: the write lock is never held long; see
docs/performance.md), walking the app's events by id from the oldest, and
stops at the first stretch that holds no old event.  An event stored with an old
time after newer ones (an import, a replayed rejection) is so deleted once the
walk reaches it: at the latest ``retention_days`` after it was stored.

Every server process runs :class:`RetentionJob`, a thread that calls
:func:`run_once` every ``retention_interval_seconds``; ``shoptrack retention run``
does the same once (for cron).  Each app's run is claimed with a lease
(``jobs`` row ``retention:<app id>``), renewed as it goes: N processes on N
hosts run each app once per interval, and a run whose process died is taken
over when its lease expires.

Refused requests have their own limit, ``rejected_max_age_days`` (30 days by
default), applied by the write path (:mod:`shoptrack.store.rejection_limits`).
"""

from __future__ import annotations

import logging
import os
import random
import secrets
import socket
import time
from collections.abc import Callable
from dataclasses import dataclass

from shoptrack.clock import now_ms
from shoptrack.periodic import Periodic
from shoptrack.store.contract import Store

log = logging.getLogger("shoptrack.retention")

DAY_MS = 86_400_000
SCAN = 1_000  # events looked at per transaction (the old ones among them are deleted)
LEASE_MS = 5 * 60_000  # a run renews its lease far more often than this
PAUSE_SECONDS = 0.005  # between two transactions of a run: the write path gets its turn


def holder_name() -> str:
    """Who holds a lease: host, process and a random tag (unique even across restarts)."""
    return f"{socket.gethostname()[:100]}:{os.getpid()}:{secrets.token_hex(4)}"


def job_name(app_id: int) -> str:
    return f"retention:{app_id}"


@dataclass
class RunReport:
    """What a run did: apps run, events deleted, transactions, and the slowest one (ms)."""

    apps: int = 0
    deleted: int = 0
    batches: int = 0
    slowest_ms: float = 0.0
    seconds: float = 0.0


def run_once(store: Store, holder: str, *, interval_seconds: float = 3600.0,
             force: bool = False, pause: float = PAUSE_SECONDS,
             stopping: Callable[[], bool] = lambda: False) -> RunReport:
    """Expire the old events of every app with ``retention_days`` whose run is due and not
    held by another process (``force``: due or not, as ``shoptrack retention run`` does)."""
    report = RunReport()
    started = time.perf_counter()
    for app in store.list_apps():
        days = app.settings.retention_days
        if not days or stopping():
            continue
        name = job_name(app.id)
        if not store.claim_job(name, holder, now_ms(), LEASE_MS, force=force):
            continue
        report.apps += 1
        cutoff = now_ms() - days * DAY_MS
        store.note_events_expired(app.id, cutoff)  # before: a rebuild keeps those days
        after: int | None = 0
        renewed = time.monotonic()
        while after is not None and not stopping():
            began = time.perf_counter()
            deleted, after = store.expire_events(app.id, cutoff, after, SCAN)
            report.slowest_ms = max(report.slowest_ms, (time.perf_counter() - began) * 1000)
            report.batches += 1
            report.deleted += deleted
            if time.monotonic() - renewed > LEASE_MS / 1000 / 5:
                if not store.claim_job(name, holder, now_ms(), LEASE_MS, force=True):
                    log.warning("retention of app %d: lease lost, leaving it", app.id)
                    break
                renewed = time.monotonic()
            if pause and after is not None:
                time.sleep(pause)
        if after is None:  # done (a stopped or lost run is taken up again later)
            store.finish_job(name, holder, now_ms() + int(interval_seconds * 1000))
    report.seconds = time.perf_counter() - started
    if report.deleted:
        log.info("retention: %d old event(s) deleted in %d transaction(s), slowest %.1f ms",
                 report.deleted, report.batches, report.slowest_ms)
    return report


class RetentionJob:
    """The background thread of one server process (see the module docstring)."""

    def __init__(self, store: Store, interval_seconds: float) -> None:
        self.store = store
        self.interval = interval_seconds
        self.holder = holder_name()
        # The first look a little after start (processes started together spread out).
        self._thread = Periodic("shoptrack-retention", self._round,
                                first_delay=min(60.0, interval_seconds) * random.uniform(0.5, 1),
                                retry_seconds=interval_seconds, log=log, what="retention run")

    def start(self) -> None:
        if self.interval > 0:
            self._thread.start()

    def stop(self, timeout: float = 10.0) -> None:
        self._thread.stop(timeout)

    def _round(self) -> float:
        run_once(self.store, self.holder, interval_seconds=self.interval,
                 stopping=self._thread.stopping)
        return self.interval * random.uniform(0.9, 1.1)
