"""A forked child gets a working tracker of its own.

Against a scripted server; test_live.py checks the same against the real one.
"""

from __future__ import annotations

import multiprocessing
import os
import threading
import time

import pytest

from shoptrack.client import Tracker
from tests.client.conftest import Reply, ScriptedServer

# Python 3.12+ warns about fork() in a process with threads: that is the point here.
pytestmark = pytest.mark.filterwarnings("ignore:.*fork.*:DeprecationWarning")


def send(t: Tracker, who: str, count: int) -> None:
    for i in range(count):
        t.custom("n", guest_uid=who, properties={"i": i})


def senders(server: ScriptedServer) -> dict[str, list[int]]:
    found: dict[str, list[int]] = {}
    for event in server.events():
        found.setdefault(event["guest_uid"], []).append(event["properties"]["i"])
    return found


def fork_and_wait(child: object) -> int:
    """Run ``child()`` in a forked process; its exit status (0: it returned True)."""
    pid = os.fork()
    if pid == 0:  # pragma: no cover - runs in the child
        code = 1
        try:
            code = 0 if child() else 2  # type: ignore[operator]
        finally:
            os._exit(code)
    _, status = os.waitpid(pid, 0)
    return os.waitstatus_to_exitcode(status)


def test_a_forked_child_sends_its_own_events_and_not_the_parents(scripted: ScriptedServer) -> None:
    t = Tracker(app_key="APPKEY", endpoint=scripted.base_url, flush_interval=30)
    send(t, "parent-before", 3)
    t.flush()  # the parent's worker thread and connection exist now
    send(t, "parent-queued", 4)  # queued in the parent at the moment of the fork

    def child() -> bool:
        assert t.pending == 0 and t.delivered == 0  # a fresh queue and counters
        send(t, "child", 5)
        return t.flush(timeout=10) and t.delivered == 5

    assert fork_and_wait(child) == 0
    assert t.flush(timeout=10)
    assert senders(scripted) == {
        "parent-before": [0, 1, 2], "parent-queued": [0, 1, 2, 3], "child": [0, 1, 2, 3, 4]}
    t.shutdown()


def test_fork_while_other_threads_are_sending(scripted: ScriptedServer) -> None:
    """A lock held by a parent thread at fork time must not freeze the child."""
    scripted.then(*[Reply(delay=0.005)] * 100)
    t = Tracker(app_key="APPKEY", endpoint=scripted.base_url, batch_size=5, flush_interval=0)
    stop = threading.Event()

    def hammer(name: str) -> None:
        i = 0
        while not stop.is_set():
            t.custom("n", guest_uid=name, properties={"i": i})
            i += 1
            time.sleep(0.0005)

    threads = [threading.Thread(target=hammer, args=(f"p{n}",)) for n in range(3)]
    for thread in threads:
        thread.start()
    try:
        for n in range(5):
            time.sleep(0.02)

            def child(n: int = n) -> bool:
                send(t, f"child-{n}", 3)
                return t.flush(timeout=10)

            assert fork_and_wait(child) == 0
    finally:
        stop.set()
        for thread in threads:
            thread.join()
    assert t.flush(timeout=20)
    found = senders(scripted)
    for n in range(5):
        assert found[f"child-{n}"] == [0, 1, 2]
    for n in range(3):  # the parent's own events, each once, none lost
        assert found[f"p{n}"] == list(range(len(found[f"p{n}"])))
    assert t.dropped == 0
    t.shutdown()


_tracker: Tracker | None = None


def _multiprocessing_child(count: int) -> None:
    assert _tracker is not None
    send(_tracker, "mp-child", count)  # no flush: the child's exit sends them


def test_a_multiprocessing_child_flushes_at_exit(scripted: ScriptedServer) -> None:
    global _tracker
    _tracker = Tracker(app_key="APPKEY", endpoint=scripted.base_url, flush_interval=30)
    send(_tracker, "parent", 1)
    _tracker.flush()
    try:
        process = multiprocessing.get_context("fork").Process(
            target=_multiprocessing_child, args=(6,))
        process.start()
        process.join(30)
        assert process.exitcode == 0
        assert senders(scripted) == {"parent": [0], "mp-child": [0, 1, 2, 3, 4, 5]}
    finally:
        _tracker.shutdown()
        _tracker = None
