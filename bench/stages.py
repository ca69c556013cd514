"""CPU cost of each stage of the ingest path, in microseconds per event, in-process.

Throughput on a shared 2-core machine moves with whatever else runs; CPU time
per event does not (much). This measures each stage alone, on the very
requests the load sends (captured from bench/convead.lua through a small
capturing server), so that a profile's shares can be read as microseconds:

* ``decode``: ``protocol.parse_watch`` (form + JSON in ``data``);
* ``validate``: ``protocol.validate_event`` (pydantic models per type);
* ``writer``: ``Store.apply_batch`` on a fresh database, batches of 8 and
  of 64 events (64 connections fill at most 64), split into ``BEGIN``
  (taking the write lock), the statements of the batch and ``COMMIT`` (with
  its fsync).

The HTTP server and framework cost per request is the baseline's CPU per
event in the load runs; the rest of a run's CPU per event (futures, the
thread hand-off, the GIL) is what these stages do not cover.
"""

from __future__ import annotations

import asyncio
import subprocess
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import httptools
from load import SCRIPT, wrk_binary
from servers import free_port
from stores import APP_KEY, BenchDatabase, PostgresDatabase, SQLiteDatabase

FORM = "application/x-www-form-urlencoded; charset=utf-8"


# -- capture -----------------------------------------------------------------------
class _Capture(asyncio.Protocol):
    bodies: list[bytes]

    def __init__(self, bodies: list[bytes]) -> None:
        self.bodies = bodies
        self.parser = httptools.HttpRequestParser(self)
        self.chunks: list[bytes] = []
        self.transport: Any = None

    def connection_made(self, transport: Any) -> None:
        self.transport = transport

    def data_received(self, data: bytes) -> None:
        self.parser.feed_data(data)

    def on_body(self, body: bytes) -> None:
        self.chunks.append(body)

    def on_message_complete(self) -> None:
        self.bodies.append(b"".join(self.chunks))
        self.chunks = []
        self.transport.write(b"HTTP/1.1 200 OK\r\nContent-Length: 11\r\n"
                             b"Content-Type: application/json\r\n\r\n{\"ok\":true}")


def capture(seconds: float = 1.0, seed: int = 1, limit: int = 4000) -> list[bytes]:
    """The first ``limit`` bodies bench/convead.lua sends in ``seconds``."""
    binary = wrk_binary()
    if binary is None:
        raise RuntimeError("wrk is not installed")
    bodies: list[bytes] = []
    port = free_port()
    loop = asyncio.new_event_loop()
    ready = threading.Event()

    def serve() -> None:
        asyncio.set_event_loop(loop)
        server = loop.run_until_complete(
            loop.create_server(lambda: _Capture(bodies), "127.0.0.1", port))
        ready.set()
        loop.run_forever()
        server.close()
        loop.run_until_complete(server.wait_closed())

    thread = threading.Thread(target=serve, daemon=True)
    thread.start()
    ready.wait(10)
    try:
        subprocess.run([binary, "-t1", "-c8", f"-d{int(seconds) + 1}s", "-s", str(SCRIPT),
                        f"http://127.0.0.1:{port}/watch/event", "--", APP_KEY, str(seconds),
                        str(seed)], capture_output=True, check=True, timeout=seconds + 30)
    finally:
        loop.call_soon_threadsafe(loop.stop)
        thread.join(10)
    return bodies[:limit]


# -- stages ------------------------------------------------------------------------
def _per_event_us(seconds: float, n: int) -> float:
    return round(1e6 * seconds / max(1, n), 1)


def measure(db: BenchDatabase, bodies: list[bytes], app_id: int) -> dict[str, Any]:
    from shoptrack.protocol import parse_watch, validate_event
    from shoptrack.store import open_store

    out: dict[str, Any] = {"events": len(bodies)}
    started = time.process_time()
    wires = [parse_watch(FORM, body, b"") for body in bodies]
    out["decode_us"] = _per_event_us(time.process_time() - started, len(bodies))
    started = time.process_time()
    events = [validate_event(wire.obj) for wire in wires]
    out["validate_us"] = _per_event_us(time.process_time() - started, len(bodies))
    now = int(time.time() * 1000)
    for event in events:
        event.app_id = app_id
        event.received_at = now
        event.client_ip = "127.0.0.1"

    store: Any = open_store(db.url)
    timing = _time_transactions(store)
    try:
        for size in (8, 64):
            timing.update(begin=0.0, work=0.0, commit=0.0)
            cpu = time.process_time()
            wall = time.perf_counter()
            batches = 0
            for i in range(0, len(events), size):
                store.apply_batch(events[i:i + size])
                batches += 1
            wall = time.perf_counter() - wall
            figures = {"batches": batches,
                       "apply_batch_us_per_event": _per_event_us(wall, len(events)),
                       "writer_cpu_us_per_event": _per_event_us(time.process_time() - cpu,
                                                                len(events))}
            if timing["work"]:
                figures.update({
                    "begin_us_per_event": _per_event_us(timing["begin"], len(events)),
                    "statements_us_per_event": _per_event_us(timing["work"], len(events)),
                    "commit_us_per_event": _per_event_us(timing["commit"], len(events)),
                    "commit_ms_per_batch": round(1000 * timing["commit"] / batches, 2),
                })
            out[f"batch_{size}"] = figures
    finally:
        store.close()
    return out


def _time_transactions(store: Any) -> dict[str, float]:
    """Time the write transaction's start, body and commit around ``store._write``.

    ``apply_batch`` runs its batch inside the backend's ``_write()`` context
    (see ``shoptrack.store.sql``); wrapping that context on this one instance
    splits a batch's time into BEGIN, the statements and COMMIT. Where the
    store has no such context, only the totals are reported.
    """
    timing = {"begin": 0.0, "work": 0.0, "commit": 0.0}
    original = getattr(store, "_write", None)
    if original is None:
        return timing

    @contextmanager
    def timed() -> Iterator[Any]:
        t0 = time.perf_counter()
        context = original()
        tx = context.__enter__()
        t1 = time.perf_counter()
        timing["begin"] += t1 - t0
        try:
            yield tx
        except BaseException as exc:
            if not context.__exit__(type(exc), exc, exc.__traceback__):
                raise
            return
        t2 = time.perf_counter()
        timing["work"] += t2 - t1
        context.__exit__(None, None, None)
        timing["commit"] += time.perf_counter() - t2

    store._write = timed
    return timing


def run(backend: str, workdir: Path, postgres_url: str, seed: int = 1) -> dict[str, Any]:
    bodies = capture(1.0, seed)
    db: BenchDatabase = (SQLiteDatabase(workdir, "stages") if backend == "sqlite"
                         else PostgresDatabase(postgres_url, "stages"))
    try:
        app = db.register_app()
        return {"backend": backend, **measure(db, bodies, int(app["id"]))}
    finally:
        db.drop()
