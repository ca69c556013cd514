"""Exports and retention on a large table: time per million rows, the server's memory.

    .venv/bin/python bench/export.py --events 1000000 [--backend sqlite|postgresql]
    .venv/bin/python bench/export.py --app-json DIR/reports-sqlite-10000000.app.json

With ``--app-json`` (written by ``bench/reports.py --keep``, or by ``--keep`` here) it
exports an existing database (the reports benchmark's year of 10 M events) instead of
seeding one.  ``--year`` seeds the reports benchmark's year of one shop
(``seed_reports.py``) rather than ``seed.py``'s events; ``--keep DIR`` puts the SQLite
file there, writes ``DIR/reports-sqlite-N.app.json`` and leaves both.

Memory between exports: ``--repeat 2`` downloads each format twice in a row, and
``--server-per-format`` gives each format a fresh server, so that what one export leaves
behind (``rss_after_mib``: the server's RSS 2 s after the body ended, at rest) is seen
apart from what another format left.

Seeds the events straight into a fresh database (``seed.py``), starts ``shoptrack
serve`` on it, and downloads ``GET /api/v1/export/events`` in each format (NDJSON,
CSV, Parquet; NDJSON and CSV also gzipped), reading the body as fast as it comes
while sampling the server process's resident memory (``VmRSS``) every 50 ms.  Then
the retention job deletes the oldest events for a while (``--retention-batches``
transactions of ``SCAN`` events) and the time of each transaction is reported: the
write lock is held that long.  Prints one JSON document; not part of the test suite.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import tempfile
import threading
import time
from pathlib import Path
from typing import Any

import httpx

sys.path.insert(0, str(Path(__file__).resolve().parent))
from seed import seed  # noqa: E402
from servers import shoptrack  # noqa: E402
from stores import DEFAULT_POSTGRES_URL, PostgresDatabase, SQLiteDatabase  # noqa: E402


def rss_kib(pid: int) -> int:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1])
    return 0


def cpu_seconds(pid: int) -> float:
    """The process's user + system CPU time so far: less sensitive than wall time to what
    else the cores run."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def load_average() -> list[float]:
    return [float(x) for x in Path("/proc/loadavg").read_text().split()[:3]]


def download(url: str, secret: str, fmt: str, pid: int, gzip: bool,
             rest: float = 2.0) -> dict[str, Any]:
    load = load_average()
    cpu = cpu_seconds(pid)
    peak = [rss_kib(pid)]
    before = peak[0]
    done = threading.Event()

    def sample() -> None:
        while not done.wait(0.05):
            peak[0] = max(peak[0], rss_kib(pid))

    sampler = threading.Thread(target=sample, daemon=True)
    sampler.start()
    size = 0
    first_byte = None
    started = time.perf_counter()
    headers = {"Authorization": f"Bearer {secret}",
               "Accept-Encoding": "gzip" if gzip else "identity"}
    with httpx.stream("GET", url + "/api/v1/export/events", params={"format": fmt},
                      headers=headers, timeout=600) as answer:
        answer.raise_for_status()
        for chunk in answer.iter_raw():  # as it arrives (a chunk size would buffer to it)
            if first_byte is None:
                first_byte = time.perf_counter() - started
            size += len(chunk)
    seconds = time.perf_counter() - started
    time.sleep(rest)  # the server finishes the response; then what it keeps is measured
    done.set()
    sampler.join()
    after = rss_kib(pid)
    cpu = cpu_seconds(pid) - cpu
    return {"format": fmt + (" (gzip)" if gzip else ""), "seconds": round(seconds, 2),
            "server_cpu_seconds": round(cpu, 2),
            "first_byte_seconds": round(first_byte or 0, 3), "megabytes": round(size / 1e6, 1),
            "rss_before_mib": round(before / 1024, 1),
            "rss_growth_mib": round((peak[0] - before) / 1024, 1),
            "rss_after_mib": round(after / 1024, 1),
            "rss_kept_mib": round((after - before) / 1024, 1),
            "load_average_before": load, "load_average_after": load_average()}


def retention_batches(url: str, app_id: int, batches: int) -> dict[str, Any]:
    from shoptrack import retention
    from shoptrack.clock import now_ms
    from shoptrack.store import open_store

    store = open_store(url)
    times = []
    after: int | None = 0
    try:
        for _ in range(batches):
            if after is None:
                break
            began = time.perf_counter()
            _, after = store.expire_events(app_id, now_ms(), after, retention.SCAN)
            times.append((time.perf_counter() - began) * 1000)
    finally:
        store.close()
    times.sort()
    return {"rows_per_transaction": retention.SCAN, "transactions": len(times),
            "median_ms": round(times[len(times) // 2], 1),
            "p99_ms": round(times[int(len(times) * 0.99)], 1), "max_ms": round(times[-1], 1)}


def count_events(url: str) -> int:
    if url.startswith("sqlite"):
        import sqlite3

        conn = sqlite3.connect(f"file:{url.removeprefix('sqlite:///')}?mode=ro", uri=True)
        try:
            return int(conn.execute("SELECT COUNT(*) FROM events").fetchone()[0])
        finally:
            conn.close()
    import psycopg

    with psycopg.connect(url) as conn:
        row = conn.execute("SELECT COUNT(*) FROM events").fetchone()
        return int(row[0]) if row else 0


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--events", type=int, default=1_000_000)
    parser.add_argument("--backend", choices=("sqlite", "postgresql"), default="sqlite")
    parser.add_argument("--retention-batches", type=int, default=200)
    parser.add_argument("--app-json", type=Path,
                        help="export this existing database (url, id, api_secret) instead")
    parser.add_argument("--formats", default="ndjson,csv,parquet,ndjson+gzip,csv+gzip",
                        help="comma-separated; +gzip asks for Content-Encoding: gzip")
    parser.add_argument("--repeat", type=int, default=1,
                        help="download each format this many times in a row")
    parser.add_argument("--server-per-format", action="store_true",
                        help="a fresh server for each format")
    parser.add_argument("--year", action="store_true",
                        help="seed the reports benchmark's year of one shop (seed_reports.py)")
    parser.add_argument("--keep", type=Path, metavar="DIR",
                        help="SQLite: seed into DIR and keep the database and its app JSON")
    parser.add_argument("--out", type=Path, help="also write the JSON document here")
    args = parser.parse_args()
    workdir = Path(tempfile.mkdtemp(prefix="export-"))
    db: SQLiteDatabase | PostgresDatabase | None = None
    keep = args.keep is not None and args.backend == "sqlite"
    if args.app_json:
        app = json.loads(args.app_json.read_text())
        url = app["url"]
        args.backend = "sqlite" if url.startswith("sqlite") else "postgresql"
        args.events = count_events(url)
        seeded = 0.0
    else:
        label = f"reports-sqlite-{args.events}" if keep else "export"
        if keep:
            args.keep.mkdir(parents=True, exist_ok=True)
        db = (SQLiteDatabase(args.keep if keep else workdir, label) if args.backend == "sqlite"
              else PostgresDatabase(os.environ.get("SHOPTRACK_TEST_POSTGRES_URL",
                                                   DEFAULT_POSTGRES_URL), "export"))
        app = db.register_app()
        url = db.url
        if keep:
            (args.keep / f"{label}.app.json").write_text(json.dumps({**app, "url": url}))
        began = time.perf_counter()
        if args.year:
            from seed_reports import seed_year

            layout = seed_year(db, app["id"], args.events)
            if keep:
                (args.keep / f"{label}.layout.json").write_text(json.dumps(layout))
        else:
            seed(db, app["id"], 0, args.events)
        seeded = time.perf_counter() - began
    names = args.formats.split(",")
    groups = [[n] for n in names] if args.server_per_format else [names]
    runs = []
    for group in groups:
        server = shoptrack("shoptrack", url, 1, workdir,
                           {"SHOPTRACK_RETENTION_INTERVAL_SECONDS": "0"}).start()
        try:
            assert server.proc is not None
            pid = server.proc.pid
            time.sleep(1)  # started: let it settle before the first RSS reading
            for name in group:
                fmt, _, gz = name.partition("+")
                for turn in range(1, args.repeat + 1):
                    runs.append({"turn": turn, **download(server.url, app["api_secret"], fmt,
                                                          pid, gz == "gzip")})
                    print(json.dumps(runs[-1]), file=sys.stderr, flush=True)
        finally:
            server.stop()
    for run in runs:
        run["seconds_per_million"] = round(run["seconds"] / (args.events / 1e6), 2)
        run["server_cpu_seconds_per_million"] = round(run["server_cpu_seconds"]
                                                      / (args.events / 1e6), 2)
    out: dict[str, Any] = {"backend": args.backend, "events": args.events,
                           "seed_seconds": round(seeded, 1),
                           "server_per_format": args.server_per_format, "exports": runs,
                           "load_average": load_average()}
    if keep:
        out["kept"] = {"url": url, "app_json": str(args.keep / f"{label}.app.json")}
    # Never delete from a database we did not seed, nor from one we keep.
    if args.retention_batches and db is not None and not keep:
        out["retention"] = retention_batches(url, app["id"], args.retention_batches)
    print(json.dumps(out, indent=2))
    if args.out:
        args.out.write_text(json.dumps(out, indent=2) + "\n")
    if isinstance(db, PostgresDatabase):
        db.drop()


if __name__ == "__main__":
    main()
