"""A background thread that does one piece of work again and again until stopped: the
retention job (:mod:`shoptrack.retention`) and the trigger scheduler
(:mod:`shoptrack.triggers.scheduler`) of every server process.

``work`` runs one round and returns how long to wait before the next (0: at once).
A round that raises is logged (a :class:`~shoptrack.store.contract.StoreUnavailable`
as a warning, anything else with its traceback) and the next one comes after
``retry_seconds``: the thread never dies of one bad round.  :meth:`Periodic.stop`
wakes the wait at once; ``work`` may look at :attr:`Periodic.stopping` to end a long
round early.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable

from shoptrack.store.contract import StoreUnavailable


class Periodic:
    """``Periodic("shoptrack-retention", work, first_delay=5, retry_seconds=3600, log=log,
    what="retention run").start()``; ``stop()`` joins it."""

    def __init__(self, name: str, work: Callable[[], float], *, first_delay: float,
                 retry_seconds: float, log: logging.Logger, what: str) -> None:
        self.name = name
        self.work = work
        self.first_delay = first_delay
        self.retry_seconds = retry_seconds
        self.log = log
        self.what = what
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    def stopping(self) -> bool:
        return self._stop.is_set()

    def start(self) -> None:
        self._thread = threading.Thread(target=self._run, name=self.name, daemon=True)
        self._thread.start()

    def stop(self, timeout: float = 10.0) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout)
            self._thread = None

    def _run(self) -> None:
        delay = self.first_delay
        while not self._stop.wait(delay):
            delay = self.retry_seconds
            try:
                delay = self.work()
            except StoreUnavailable as exc:
                self.log.warning("%s failed, database unavailable: %s", self.what, exc)
            except Exception:
                self.log.exception("%s failed", self.what)
