"""shoptrack's benchmark: ingest throughput and latency, read latency at 1 M events, reports.

    make bench                              # everything (4 minutes + the reports, see below)
    .venv/bin/python bench/run.py --no-reports   # ingest and reads only, about 4 minutes
    .venv/bin/python bench/run.py --quick   # a smoke run: 3 s a measurement, reads at 100 k
    .venv/bin/python bench/run.py --only sqlite-1w,baseline-1w --profile
    .venv/bin/python bench/run.py --no-reads --env SHOPTRACK_BATCH_MAX_WAIT_MS=2

Ingest runs (wrk, 64 connections, bench/convead.lua), each on a fresh database:
shoptrack on SQLite and on PostgreSQL with 1 and 2 workers; the baseline (the
same HTTP stack storing nothing, bench/baseline.py) with 1 and 2 workers;
nginx answering 200 when it is installed. After each shoptrack run the events
stored are counted in the database and compared with the 200s wrk received.

Reads: a database filled directly (bench/seed.py) to 10 k and then to 1 M
events; the read API is timed at both sizes.

Reports (bench/reports.py; `--only reports` or `make bench-reports` alone): a
year of a shop seeded directly (bench/seed_reports.py) at 1 M and at 10 M
events, its rollups built by `shoptrack reports rebuild`, then every report
over 1, 30 and 365 days and the dashboard's pages, over HTTP. At 10 M this
takes 10 to 15 minutes per backend on a quiet machine, an hour on a busy one
(`--report-events` for other sizes, `--no-reports` to skip). docs/performance.md
explains every figure. Results also go to bench/results/<date>.json.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import sys
import tempfile
import time
import urllib.request
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))

import pyspy  # noqa: E402
import reads  # noqa: E402
import report  # noqa: E402
import reports as reporting  # noqa: E402
import seed as seeding  # noqa: E402
import servers  # noqa: E402
import stages  # noqa: E402
from load import CpuMeter, Load, run_wrk, wait_quiet, wrk_binary  # noqa: E402
from stores import (  # noqa: E402
    APP_KEY,
    DEFAULT_POSTGRES_URL,
    BenchDatabase,
    PostgresDatabase,
    SQLiteDatabase,
)

RESULTS = servers.BENCH / "results"


@dataclass(frozen=True)
class Plan:
    label: str
    kind: str  # shoptrack | baseline | raw | nginx
    workers: int
    backend: str | None = None
    default: bool = True  # run by `make bench`; the others only with --only


PLANS = [
    Plan("baseline-1w", "baseline", 1),
    Plan("baseline-2w", "baseline", 2),
    Plan("nginx", "nginx", 2),
    Plan("sqlite-1w", "shoptrack", 1, "sqlite"),
    Plan("sqlite-2w", "shoptrack", 2, "sqlite"),
    Plan("postgres-1w", "shoptrack", 1, "postgresql"),
    Plan("postgres-2w", "shoptrack", 2, "postgresql"),
    Plan("raw-1w", "raw", 1, default=False),
    Plan("raw-2w", "raw", 2, default=False),
]


def log(message: str) -> None:
    print(message, file=sys.stderr, flush=True)


# -- one ingest run ---------------------------------------------------------------
def ingest_run(plan: Plan, args: argparse.Namespace, workdir: Path) -> dict[str, Any]:
    db: BenchDatabase | None = None
    server: servers.Server | None = None
    row: dict[str, Any] = {"label": plan.label, "kind": plan.kind, "workers": plan.workers,
                           "backend": plan.backend}
    started = time.monotonic()
    try:
        if plan.kind == "shoptrack":
            db = (SQLiteDatabase(workdir, plan.label) if plan.backend == "sqlite"
                  else PostgresDatabase(args.postgres_url, plan.label))
            db.register_app()
            server = servers.shoptrack(plan.label, db.url, plan.workers, workdir, args.env)
        elif plan.kind == "baseline":
            server = servers.baseline(plan.label, plan.workers, workdir)
        elif plan.kind == "raw":
            server = servers.baseline(plan.label, plan.workers, workdir, module="baseline_raw")
        else:
            server = servers.nginx(plan.label, plan.workers, workdir)
        server.start()
        if args.wait_quiet:
            row["busy_before"] = round(wait_quiet(args.wait_quiet), 2)
        warm = run_wrk(server.url, args.warmup, args.connections, args.seed + 1000, APP_KEY,
                       workdir / f"{plan.label}-warmup.wrk", grace=1.0)
        before = db.count() if db else 0
        metrics_before = scrape_metrics(server.url) if db else {}
        meter = CpuMeter(server.pids())
        cpu: dict[str, float] = {}
        spies = []
        if args.profile and plan.kind == "shoptrack":
            for pid in server.worker_pids():
                out = workdir / f"{plan.label}-{pid}.folded"
                spies.append((out, pyspy.record(pid, args.duration, out)))

        def window_end() -> None:
            cpu.update(meter.stop())

        load = run_wrk(server.url, args.duration, args.connections, args.seed, APP_KEY,
                       workdir / f"{plan.label}.wrk", at_deadline=window_end)
        row.update(_load_figures(load), cpu=cpu, warmup_ok=warm.ok)
        if load.ok and cpu:
            row["server_cpu_us_per_event"] = round(1e6 * cpu["server_cpu_s"] / load.ok, 1)
            if plan.backend == "postgresql":
                row["postgres_cpu_us_per_event"] = round(1e6 * cpu["postgres_cpu_s"] / load.ok, 1)
        for out, spy in spies:
            spy.wait(60)
            if out.exists():
                row.setdefault("profile", {})[out.name] = {
                    "file": str(out), "summary": pyspy.summarise(out)}
        if db is not None:
            running = db.count()
            row["writer"] = _writer_figures(metrics_before, scrape_metrics(server.url))
            server.stop()
            final = db.count()
            row.update(_accounting(load, warm, before, running, final))
            row["database"] = db.counts()
            row["database_bytes"] = db.size_bytes()
    except Exception as exc:  # one failed run must not lose the others
        row["error"] = f"{type(exc).__name__}: {exc}"
        if server is not None:
            row["server_log"] = server.log_tail()
    finally:
        if server is not None:
            server.stop()
        if db is not None and not args.keep:
            db.drop()
        row["seconds"] = round(time.monotonic() - started, 1)
    return row


def scrape_metrics(url: str) -> dict[str, float]:
    """The group-commit figures of ``GET /metrics`` (all workers added up); {} without it."""
    try:
        with urllib.request.urlopen(url + "/metrics", timeout=5) as answer:
            text = answer.read().decode()
    except OSError:
        return {}
    wanted = ("shoptrack_batch_size_sum", "shoptrack_batch_size_count",
              "shoptrack_batch_commit_seconds_sum", "shoptrack_batch_commit_seconds_count")
    out: dict[str, float] = {}
    for line in text.splitlines():
        name, _, value = line.partition(" ")
        if name in wanted:
            out[name] = out.get(name, 0.0) + float(value)
    return out


def _writer_figures(before: dict[str, float], after: dict[str, float]) -> dict[str, Any]:
    """Batches committed during the measurement: how many, how big, how long each took."""
    if len(before) < 4 or len(after) < 4:
        return {}  # an older or newer shoptrack without these metrics
    batches = after["shoptrack_batch_size_count"] - before["shoptrack_batch_size_count"]
    items = after["shoptrack_batch_size_sum"] - before["shoptrack_batch_size_sum"]
    seconds = (after["shoptrack_batch_commit_seconds_sum"]
               - before["shoptrack_batch_commit_seconds_sum"])
    if batches <= 0:
        return {"batches": 0}
    return {"batches": int(batches), "mean_batch_size": round(items / batches, 1),
            "mean_batch_ms": round(1000 * seconds / batches, 2)}


def _load_figures(load: Load) -> dict[str, Any]:
    return {
        "rate": round(load.rate, 1), "ok": load.ok, "requests": load.requests,
        "non_200": load.non_2xx, "socket_errors": load.socket_errors,
        "timeouts": load.timeouts, "in_flight_at_stop": load.in_flight,
        "window_s": round(load.window_s, 3),
        "p50_ms": round(load.latency_us["p50"] / 1000, 2),
        "p90_ms": round(load.latency_us["p90"] / 1000, 2),
        "p99_ms": round(load.latency_us["p99"] / 1000, 2),
        "p999_ms": round(load.latency_us["p999"] / 1000, 2),
        "max_ms": round(load.latency_us["max"] / 1000, 2),
        "mix_sent": load.mix,
    }


def _accounting(load: Load, warm: Load, before: int, running: int, final: int) -> dict[str, Any]:
    """Stored events against acknowledged ones, for the measurement and for the whole run."""
    stored = running - before
    return {
        "stored": stored,
        "stored_after_shutdown": final - before,
        "stored_total": final,
        "acknowledged_total": warm.ok + load.ok,
        "stored_equals_acknowledged": stored == load.ok and final == warm.ok + load.ok
        and load.in_flight == 0 and warm.in_flight == 0,
    }


# -- reads at 1 M events ------------------------------------------------------------
def read_run(backend: str, args: argparse.Namespace, workdir: Path) -> dict[str, Any]:
    label = f"reads-{backend}"
    db = (SQLiteDatabase(workdir, label) if backend == "sqlite"
          else PostgresDatabase(args.postgres_url, label))
    out: dict[str, Any] = {"backend": backend, "sizes": {}}
    try:
        app = db.register_app()
        done = 0
        for size in (args.read_events_small, args.read_events):
            started = time.monotonic()
            seeding.seed(db, app["id"], done, size)
            seeded_s = time.monotonic() - started
            done = size
            server = servers.shoptrack(f"{label}-{size}", db.url, 1, workdir, args.env).start()
            try:
                meter = CpuMeter(server.pids())
                timings = reads.time_reads(server.url, app["api_secret"], size, args.read_count,
                                           args.seed)
                cpu = meter.stop()
            finally:
                server.stop()
            out["sizes"][str(size)] = {"events": db.count(), "seed_seconds": round(seeded_s, 1),
                                       "database_bytes": db.size_bytes(), "timings": timings,
                                       "cpu": cpu}
            log(f"  reads on {backend} at {size:,} events: "
                + ", ".join(f"{k} p50 {v['p50_ms']:.2f} / p95 {v['p95_ms']:.2f} ms"
                            for k, v in timings.items()))
    except Exception as exc:
        out["error"] = f"{type(exc).__name__}: {exc}"
    finally:
        if not args.keep:
            db.drop()
    return out


# -- main -----------------------------------------------------------------------------
def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--quick", action="store_true",
                        help="smoke run: 3 s a measurement, reads at 100 k events")
    parser.add_argument("--duration", type=float, help="measured seconds per run (default 10)")
    parser.add_argument("--warmup", type=float, help="warm-up seconds before each (default 1)")
    parser.add_argument("--connections", type=int, default=64)
    parser.add_argument("--only", help="comma-separated run labels: "
                        + ",".join(p.label for p in PLANS) + " (raw-*: a bare ASGI app on "
                        "uvicorn, not run by default), or reports (the reports section alone)")
    parser.add_argument("--no-reads", action="store_true", help="skip the read timings")
    parser.add_argument("--no-stages", action="store_true",
                        help="skip the in-process CPU cost of each ingest stage")
    parser.add_argument("--reads-only", action="store_true", help="only the read timings")
    parser.add_argument("--read-backends", default="sqlite,postgresql")
    parser.add_argument("--no-reports", action="store_true",
                        help="skip the reports and dashboard timings")
    parser.add_argument("--report-events", help="comma-separated sizes for the reports "
                        "(default 1000000,10000000; 100000 with --quick)")
    parser.add_argument("--report-backends", default="sqlite,postgresql")
    parser.add_argument("--report-runs", type=int, default=20,
                        help="requests per report, range and page (default 20)")
    parser.add_argument("--read-events", type=int, help="events for the reads (default 1 M)")
    parser.add_argument("--read-count", type=int, help="requests per read kind (default 600)")
    parser.add_argument("--postgres-url", default=os.environ.get(
        "SHOPTRACK_BENCH_POSTGRES_URL", DEFAULT_POSTGRES_URL))
    parser.add_argument("--env", action="append", default=[], metavar="NAME=VALUE",
                        help="a setting for the shoptrack servers, e.g. "
                        "SHOPTRACK_BATCH_MAX_WAIT_MS=2 (repeatable)")
    parser.add_argument("--profile", action="store_true",
                        help="profile shoptrack's workers with py-spy during each run")
    parser.add_argument("--wait-quiet", type=float, default=0, metavar="SECONDS",
                        help="before each run, wait up to this long for the machine to be idle")
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--keep", action="store_true", help="keep the databases and logs")
    parser.add_argument("--out", type=Path, help="results file (default bench/results/<date>.json)")
    args = parser.parse_args(argv)
    args.duration = args.duration or (3.0 if args.quick else 10.0)
    args.warmup = args.warmup if args.warmup is not None else (0.5 if args.quick else 1.0)
    args.read_events = args.read_events or (100_000 if args.quick else 1_000_000)
    args.read_events_small = min(10_000, args.read_events)
    args.read_count = args.read_count or (200 if args.quick else 600)
    args.report_events = [int(n) for n in (args.report_events or (
        "100000" if args.quick else "1000000,10000000")).split(",")]
    args.env = dict(item.split("=", 1) for item in args.env)
    return args


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    only = args.only.split(",") if args.only else None
    plans = [p for p in PLANS if (p.label in only if only else p.default)]
    read_backends = [] if args.no_reads else args.read_backends.split(",")
    report_backends = ([] if args.no_reports or args.reads_only
                       else args.report_backends.split(","))
    if only:
        if "reports" not in only:
            report_backends = []
        if not plans:  # --only reports: the reports section alone
            read_backends = []
    if args.reads_only:
        plans = []
    if plans and wrk_binary() is None:
        log("wrk is not installed: `apt-get install wrk` (make bench does it)")
        return 2
    notes: list[str] = []
    pg_problem = PostgresDatabase.available(args.postgres_url)
    if pg_problem:
        notes.append(f"PostgreSQL skipped ({args.postgres_url}): {pg_problem}")
        plans = [p for p in plans if p.backend != "postgresql"]
        read_backends = [b for b in read_backends if b != "postgresql"]
        report_backends = [b for b in report_backends if b != "postgresql"]
    if servers.nginx_binary() is None:
        notes.append("nginx skipped: not installed")
        plans = [p for p in plans if p.kind != "nginx"]
    if args.profile and pyspy.available() is None:
        notes.append("--profile ignored: py-spy is not installed (pip install py-spy)")
        args.profile = False

    started = time.monotonic()
    started_at = datetime.now(UTC).isoformat(timespec="seconds")
    info = report.machine()
    workdir = Path(tempfile.mkdtemp(prefix="shoptrack-bench-"))
    log(f"shoptrack benchmark: {info['nproc']} cores ({info['cpu_model']}), "
        f"{args.duration:g} s a run, {args.connections} connections; work in {workdir}")
    rows: list[dict[str, Any]] = []
    read_results: list[dict[str, Any]] = []
    report_results: list[dict[str, Any]] = []
    stage_results: list[dict[str, Any]] = []
    stage_backends = [] if args.no_stages or args.reads_only else sorted(
        {p.backend for p in plans if p.backend}, reverse=True)
    try:
        for plan in plans:
            log(f"- {plan.label} ...")
            row = ingest_run(plan, args, workdir)
            rows.append(row)
            if "error" in row:
                log(f"  failed: {row['error']}")
            else:
                log(f"  {row['rate']:,.0f} events/s, p99 {row['p99_ms']:.1f} ms"
                    + (f", stored {row['stored']} of {row['ok']} acknowledged"
                       if "stored" in row else ""))
            for name, prof in row.get("profile", {}).items():
                log(f"  profile {name}:\n{pyspy.render(prof['summary'])}")
        for backend in stage_backends:
            log(f"- stages on {backend} ...")
            began = time.monotonic()
            try:
                stage_results.append(stages.run(backend, workdir, args.postgres_url, args.seed))
            except Exception as exc:
                stage_results.append({"backend": backend, "error": f"{type(exc).__name__}: {exc}"})
            stage_results[-1]["seconds"] = round(time.monotonic() - began, 1)
        for backend in read_backends:
            log(f"- reads on {backend} ...")
            began = time.monotonic()
            read_results.append(read_run(backend, args, workdir))
            read_results[-1]["seconds"] = round(time.monotonic() - began, 1)
        if report_backends:
            report_results = reporting.run(report_backends, args.report_events, workdir,
                                           args.postgres_url, args.report_runs,
                                           dashboard_from=min(args.report_events),
                                           keep=args.keep)
    finally:
        if not args.keep and not args.profile:
            shutil.rmtree(workdir, ignore_errors=True)

    elapsed = time.monotonic() - started
    tables = (([report.table(rows)] if rows else [])
              + ([report.stages_table(stage_results, rows)] if stage_results else [])
              + ([report.reads_table(read_results)] if read_results else [])
              + ([reporting.table(report_results)] if report_results else []))
    lines = report.verdicts(rows, read_results) + reporting.verdicts(report_results) + notes + [
        f"machine: {info['nproc']} cores, {info['cpu_model']}, Python {info['python']},"
        f" SQLite {info['sqlite']}; {elapsed:.0f} s in all"]
    print("\n\n".join([*tables, "\n".join(lines)]))

    today = datetime.now(UTC).strftime("%Y-%m-%d")
    out = args.out or RESULTS / (f"{today}-quick.json" if args.quick else f"{today}.json")
    out.parent.mkdir(parents=True, exist_ok=True)
    settings = {k: v for k, v in vars(args).items() if k not in ("out",)}
    out.write_text(json.dumps({
        "date": started_at, "machine": info,
        "settings": settings, "runs": rows, "stages": stage_results, "reads": read_results,
        "reports": report_results, "notes": notes,
        "targets": {**report.INGEST_TARGETS, "visitor_p95_ms": report.VISITOR_P95_MS,
                    "report_p95_ms": reporting.REPORT_TARGETS_MS,
                    "page_p95_ms": reporting.PAGE_TARGET_MS},
        "elapsed_s": round(elapsed, 1),
    }, indent=2, default=str) + "\n")
    log(f"results: {out}" + (f"; profiles in {workdir}" if args.profile else ""))
    return 0 if all("error" not in r for r in rows + report_results) else 1


if __name__ == "__main__":
    sys.exit(main())
