"""Process-wide hooks: flush at interpreter exit, start afresh after a fork.

Every live :class:`~shoptrack.client.Tracker` registers here (weakly: a
tracker that is garbage collected drops out).  Three hooks are installed once:

* ``atexit``: each tracker's :meth:`_at_exit` shuts it down, sending what is
  queued (bounded by its ``shutdown_timeout``).
* ``os.register_at_fork(after_in_child=...)``: in a forked child each tracker
  gets a new queue, lock, HTTP client and worker thread (the parent's thread
  does not exist in the child, and its sockets and locks must not be shared).
  The queue copied from the parent is dropped in the child: those events
  belong to the parent, which sends them.
* ``multiprocessing``: a child started by the ``fork`` method ends with
  ``os._exit()``, skipping atexit; a ``multiprocessing.util.Finalize``,
  registered in the child, makes it flush too.  (Celery's prefork pool uses billiard, a fork of
  multiprocessing: see docs/client.md.)
"""

from __future__ import annotations

import atexit
import os
import sys
import threading
import weakref
from typing import Protocol


class Managed(Protocol):
    """What the hooks need from a tracker."""

    def _at_exit(self) -> None: ...

    def _after_fork(self) -> None: ...


_trackers: weakref.WeakSet[Managed] = weakref.WeakSet()
_lock = threading.Lock()
_installed = False


def register(tracker: Managed) -> None:
    """Cover ``tracker`` by the exit and fork hooks (installed on first use)."""
    global _installed
    with _lock:
        _trackers.add(tracker)
        if not _installed:
            atexit.register(_at_exit)
            os.register_at_fork(after_in_child=_after_fork_in_child)
            _installed = True


def unregister(tracker: Managed) -> None:
    with _lock:
        _trackers.discard(tracker)


def _live() -> list[Managed]:
    return list(_trackers)


def _at_exit() -> None:
    for tracker in _live():
        tracker._at_exit()


def _after_fork_in_child() -> None:
    global _lock
    _lock = threading.Lock()  # the parent may have held it while forking
    for tracker in _live():
        tracker._after_fork()
    # multiprocessing is imported by whoever forks through it.  Its child clears
    # the finalizers it inherited, then runs the after-fork callbacks: register
    # one that adds our finalizer (imported lazily: it costs ~40 ms).
    mp_util = sys.modules.get("multiprocessing.util")
    if mp_util is not None:
        mp_util.register_after_fork(_trackers, _multiprocessing_child)


def _multiprocessing_child(_: object) -> None:
    """In a multiprocessing child (fork method): flush before its ``os._exit``."""
    from multiprocessing import util as mp_util

    mp_util.Finalize(None, _at_exit, exitpriority=100)
