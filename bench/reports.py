"""Reports and dashboard pages on a year of a shop (issues 11 and 12).

    .venv/bin/python bench/run.py --only reports                  # part of make bench
    .venv/bin/python bench/reports.py --backend sqlite --events 1000000,10000000 \\
        --out /tmp/reports-sqlite.json [--keep /tmp/bench-reports]

For each size: a fresh database (SQLite file or PostgreSQL schema), an app, a year
of events, visitors, orders and carts seeded straight into the tables
(``seed_reports.py``), then ``shoptrack reports rebuild APP_KEY`` (timed): the rollups
are computed by the write path's own code, never written here.  Then one
``shoptrack serve`` worker, and over HTTP with one keep-alive httpx client:

* every report of ``/api/v1/reports/`` over the last 1, 30 and 365 days of the data
  (the range ends on the data's last day), ``runs`` sequential requests each after
  ``warmup`` ones: p50, p95, max (ms, measured at the client: HTTP and JSON included).
  A request that takes seconds gets fewer: once 5 are in and 15 s have passed, the
  measurement stops (``requests`` in the results says how many);
* the dashboard: a user made with ``shoptrack users create --password-stdin``, logged in
  through ``POST /login`` with the form's CSRF token, then ``GET`` of each page the same
  way.

Targets: reports p95 <= 100 ms over 30 days and <= 300 ms over 365, not growing from
1 M to 10 M events; every dashboard page <= 300 ms at 10 M.
"""

from __future__ import annotations

import argparse
import json
import os
import random
import re
import statistics
import subprocess
import sys
import tempfile
import time
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx

sys.path.insert(0, str(Path(__file__).resolve().parent))
import seed_reports  # noqa: E402
import servers  # noqa: E402
from seed import guest_uid, visitor_uid  # noqa: E402
from stores import (  # noqa: E402
    APP_KEY,
    DEFAULT_POSTGRES_URL,
    BenchDatabase,
    PostgresDatabase,
    SQLiteDatabase,
)

REPORT_TARGETS_MS = {1: 100.0, 30: 100.0, 365: 300.0}
PAGE_TARGET_MS = 300.0
RANGES = (1, 30, 365)
USER_EMAIL = "bench@shop.example.com"
USER_PASSWORD = "bench-password-123"  # noqa: S105 - a throwaway database's user
# (name, path under /api/v1/reports/, extra query)
REPORTS: tuple[tuple[str, str, dict[str, str]], ...] = (
    ("summary", "summary", {}),
    ("timeseries", "timeseries", {"metric": "revenue"}),
    ("funnel", "funnel", {}),
    ("products", "products", {"sort": "revenue", "limit": "50"}),
    ("sources", "sources", {}),
    ("pages", "pages", {}),
    ("custom-events", "custom-events", {}),
    ("order-states", "order-states", {}),
    ("abandoned-carts", "abandoned-carts", {"limit": "50"}),
)


def log(message: str) -> None:
    print(message, file=sys.stderr, flush=True)


def load_average() -> list[float]:
    return [float(x) for x in Path("/proc/loadavg").read_text().split()[:3]]


def percentile(sorted_ms: list[float], p: float) -> float:
    if not sorted_ms:
        return 0.0
    index = min(len(sorted_ms) - 1, max(0, round(p / 100 * len(sorted_ms) + 0.5) - 1))
    return sorted_ms[index]


def summarise(times: list[float], failures: int) -> dict[str, Any]:
    times = sorted(times)
    return {"requests": len(times), "non_200": failures,
            "p50_ms": round(percentile(times, 50), 2), "p95_ms": round(percentile(times, 95), 2),
            "max_ms": round(times[-1], 2) if times else 0.0,
            "mean_ms": round(statistics.fmean(times), 2) if times else 0.0}


def _timed(client: httpx.Client, path: str, params: dict[str, str] | None, runs: int,
           warmup: int, budget_s: float | None = None, min_runs: int | None = None
           ) -> dict[str, Any]:
    """``runs`` sequential requests after ``warmup``; when a request takes seconds, fewer:
    one warm-up, and no more after ``budget_s`` once ``min_runs`` are in (p95 of 5 is
    their max)."""
    budget_s = BUDGET["seconds"] if budget_s is None else budget_s
    min_runs = int(BUDGET["min_runs"]) if min_runs is None else min_runs
    for k in range(warmup):
        began = time.perf_counter()
        client.get(path, params=params)
        if k == 0 and time.perf_counter() - began > 1.0:
            break
    times: list[float] = []
    failures = 0
    started = time.perf_counter()
    for _ in range(runs):
        began = time.perf_counter()
        answer = client.get(path, params=params)
        answer.read()
        times.append((time.perf_counter() - began) * 1000)
        if answer.status_code != 200:
            failures += 1
        if len(times) >= min_runs and time.perf_counter() - started > budget_s:
            break
    out = summarise(times, failures)
    if failures:
        out["status"] = answer.status_code
        out["body"] = answer.text[:300]
    return out


# -- reports --------------------------------------------------------------------------
BUDGET = {"seconds": 15.0, "min_runs": 5}  # per measurement, see _timed (--budget, --min-runs)


def time_reports(base_url: str, secret: str, last_day: date, runs: int = 20,
                 warmup: int = 3, ranges: tuple[int, ...] = RANGES,
                 only: list[str] | None = None,
                 on_report: Any = None) -> dict[str, dict[str, Any]]:
    """``{report: {"1d"|"30d"|"365d": figures}}`` over the ranges that end on ``last_day``
    (all the ranges of one report, then the next; ``only`` some reports)."""
    out: dict[str, dict[str, Any]] = {}
    headers = {"Authorization": f"Bearer {secret}"}
    with httpx.Client(base_url=base_url, headers=headers, timeout=900) as client:
        chosen = [r for name in only for r in REPORTS if r[0] == name] if only else REPORTS
        for name, path, extra in chosen:
            out[name] = {}
            for days in ranges:
                params = {"from": (last_day - timedelta(days=days - 1)).isoformat(),
                          "to": last_day.isoformat(), **extra}
                if name == "timeseries":
                    params["interval"] = "hour" if days == 1 else "day"
                out[name][f"{days}d"] = _timed(client, f"/api/v1/reports/{path}", params,
                                               runs, warmup)
            if on_report:
                on_report(out)
    return out


# -- dashboard ------------------------------------------------------------------------
def create_user(url: str) -> None:
    subprocess.run([str(servers.BIN / "shoptrack"), "users", "create", USER_EMAIL, "--app",
                    APP_KEY, "--role", "owner", "--password-stdin", "--database", url],
                   input=USER_PASSWORD + "\n", cwd=servers.ROOT, capture_output=True, text=True,
                   check=True, env={**os.environ, "SHOPTRACK_LOG_LEVEL": "warning"})


def login(client: httpx.Client) -> None:
    form = client.get("/login")
    form.raise_for_status()
    found = re.search(r'name="csrf_token" value="([^"]+)"', form.text)
    if found is None:
        raise RuntimeError("no CSRF token in the login form")
    answer = client.post("/login", data={"email": USER_EMAIL, "password": USER_PASSWORD,
                                         "csrf_token": found.group(1), "next": "/dashboard"})
    if answer.status_code not in (302, 303) or "/login" in answer.headers.get("location", ""):
        raise RuntimeError(f"login failed: {answer.status_code} {answer.text[:200]}")


def time_dashboard(base_url: str, last_day: date, visitors: int, runs: int = 20,
                   warmup: int = 3, seed: int = 1) -> dict[str, dict[str, Any]]:
    rng = random.Random(seed)
    year_from = (last_day - timedelta(days=364)).isoformat()
    month_from = (last_day - timedelta(days=29)).isoformat()

    def custom(start: str) -> dict[str, str]:
        return {"range": "custom", "from": start, "to": last_day.isoformat(),
                "start": start, "end": last_day.isoformat()}

    pages: list[tuple[str, str, dict[str, str]]] = [
        ("overview-30d", "/dashboard", custom(month_from)),
        ("overview-365d", "/dashboard", custom(year_from)),
        ("visitors", "/dashboard/visitors", {}),
        ("visitors-search", "/dashboard/visitors", {"q": f"v{3 * (visitors // 6)}@example.com"}),
        ("orders", "/dashboard/orders", {}),
        ("carts", "/dashboard/carts", {}),
        ("live", "/dashboard/live", {}),
        ("events", "/dashboard/events", {}),
        ("settings", "/dashboard/settings", {}),
    ]
    out: dict[str, dict[str, Any]] = {}
    with httpx.Client(base_url=base_url, timeout=900) as client:
        login(client)
        for name, path, params in pages:
            out[name] = _timed(client, path, params, runs, warmup)
        # A visitor card: a different visitor each request (guest or visitor uid).
        times: list[float] = []
        failures = 0
        for k in range(warmup + runs):
            v = rng.randrange(visitors)
            uid = (visitor_uid(v) if v % 3 == 0 else None) or guest_uid(v)
            began = time.perf_counter()
            answer = client.get("/dashboard/visitors/card", params={"uid": uid})
            if k >= warmup:
                times.append((time.perf_counter() - began) * 1000)
                failures += answer.status_code != 200
        out["visitor-card"] = summarise(times, failures)
    return out


# -- one backend, one or more sizes ------------------------------------------------------
def rebuild(url: str) -> float:
    began = time.monotonic()
    subprocess.run([str(servers.BIN / "shoptrack"), "reports", "rebuild", APP_KEY,
                    "--database", url], cwd=servers.ROOT, capture_output=True, text=True,
                   check=True, env={**os.environ, "SHOPTRACK_LOG_LEVEL": "warning"})
    return time.monotonic() - began


def run_size(backend: str, events: int, workdir: Path, postgres_url: str, runs: int,
             dashboard: bool, keep: bool, env: dict[str, str] | None = None,
             progress: Any = None) -> dict[str, Any]:
    label = f"reports-{backend}-{events}"
    db: BenchDatabase = (SQLiteDatabase(workdir, label) if backend == "sqlite"
                         else PostgresDatabase(postgres_url, label))
    out: dict[str, Any] = {"backend": backend, "events": events}
    try:
        app = db.register_app()
        out["app"] = {"id": app["id"], "url": db.url}
        if keep:
            (workdir / f"{label}.app.json").write_text(json.dumps({**app, "url": db.url}))
        log(f"  seeding {events:,} events on {backend} ...")
        out["load_before_seed"] = load_average()
        out["layout"] = seed_reports.seed_year(db, app["id"], events)
        if keep:
            (workdir / f"{label}.layout.json").write_text(json.dumps(out["layout"]))
        log(f"  seeded in {out['layout']['seed_seconds']} s; rebuilding the rollups ...")
        out["load_before_rebuild"] = load_average()
        out["rebuild_seconds"] = round(rebuild(db.url), 1)
        out["load_after_rebuild"] = load_average()
        log(f"  rebuilt in {out['rebuild_seconds']} s")
        out["database"] = db.counts()
        out["database_bytes"] = db.size_bytes()
        if progress:
            progress(out)
        last_day = (datetime.fromtimestamp(out["layout"]["end_ms"] / 1000, UTC).date()
                    - timedelta(days=1))
        server = servers.shoptrack(label, db.url, 1, workdir,
                                   {"SHOPTRACK_RETENTION_INTERVAL_SECONDS": "0", **(env or {})})
        server.start()
        try:
            out["load_before_reports"] = load_average()
            out["reports"] = time_reports(server.url, app["api_secret"], last_day, runs)
            out["load_after_reports"] = load_average()
            log("  reports: " + ", ".join(
                f"{name} {r['30d']['p95_ms']:.0f}/{r['365d']['p95_ms']:.0f}"
                for name, r in out["reports"].items()) + " ms p95 (30 d / 365 d)")
            if progress:
                progress(out)
            if dashboard:
                create_user(db.url)
                out["dashboard"] = time_dashboard(server.url, last_day,
                                                  out["layout"]["visitors"], runs)
                out["load_after_dashboard"] = load_average()
                log("  pages: " + ", ".join(f"{name} {r['p95_ms']:.0f}"
                                            for name, r in out["dashboard"].items()) + " ms p95")
        finally:
            server.stop()
    except Exception as exc:  # one failed size must not lose the others
        out["error"] = f"{type(exc).__name__}: {exc}"
        if isinstance(exc, subprocess.CalledProcessError):
            out["error"] += f"\n{exc.stdout}{exc.stderr}"
        log(f"  failed: {out['error']}")
    finally:
        if not keep:
            db.drop()
    return out


def time_existing(app_json: Path, workdir: Path, runs: int, ranges: tuple[int, ...],
                  only: list[str] | None, dashboard: bool, save: Any = None
                  ) -> dict[str, Any]:
    """Time the reports (and pages) of a database kept by ``--keep`` (its ``.app.json``),
    without seeding or rebuilding: e.g. again after a change to the report code."""
    app = json.loads(app_json.read_text())
    url = app["url"]
    out: dict[str, Any] = {"backend": "sqlite" if url.startswith("sqlite") else "postgresql",
                           "app": {"id": app["id"], "url": url}, "reused": str(app_json)}
    layout_file = app_json.with_name(app_json.name.replace(".app.json", ".layout.json"))
    layout = json.loads(layout_file.read_text()) if layout_file.exists() else None
    if layout is None:
        raise SystemExit(f"{layout_file} is missing (written by --keep)")
    out.update(events=layout["events"], layout=layout)
    last_day = datetime.fromtimestamp(layout["end_ms"] / 1000, UTC).date() - timedelta(days=1)
    server = servers.shoptrack("reports-reused", url, 1, workdir,
                               {"SHOPTRACK_RETENTION_INTERVAL_SECONDS": "0"}).start()
    try:
        out["load_before_reports"] = load_average()
        out["reports"] = time_reports(server.url, app["api_secret"], last_day, runs,
                                      ranges=ranges, only=only, on_report=lambda partial: (
                                          out.__setitem__("reports", partial),
                                          save and save(out)))
        out["load_after_reports"] = load_average()
        if dashboard:
            try:
                create_user(url)
            except subprocess.CalledProcessError:
                pass  # made by an earlier run
            out["dashboard"] = time_dashboard(server.url, last_day, layout["visitors"], runs)
            out["load_after_dashboard"] = load_average()
    finally:
        server.stop()
    return out


def verdicts(results: list[dict[str, Any]]) -> list[str]:
    """Which reports miss p95 targets, and the 10 M / 1 M ratio of their p95."""
    lines = []
    by_size = {(r["backend"], r["events"]): r for r in results if "reports" in r}
    for (backend, events), r in sorted(by_size.items()):
        for name, ranges in r["reports"].items():
            for days in RANGES:
                if f"{days}d" not in ranges:
                    continue
                p95 = ranges[f"{days}d"]["p95_ms"]
                if p95 > REPORT_TARGETS_MS[days]:
                    lines.append(f"{backend} {events:,}: {name} {days} d p95 {p95:.0f} ms > "
                                 f"{REPORT_TARGETS_MS[days]:.0f} ms")
        for name, figures in r.get("dashboard", {}).items():
            if figures["p95_ms"] > PAGE_TARGET_MS:
                lines.append(f"{backend} {events:,}: page {name} p95 {figures['p95_ms']:.0f}"
                             f" ms > {PAGE_TARGET_MS:.0f} ms")
    return lines


def table(results: list[dict[str, Any]]) -> str:
    rows = ["| backend | events | report | 1 d p50 / p95 | 30 d p50 / p95 | 365 d p50 / p95 |",
            "|---|---:|---|---:|---:|---:|"]
    for r in results:
        for name, ranges in r.get("reports", {}).items():
            cells = [f"{ranges[f'{d}d']['p50_ms']:.1f} / {ranges[f'{d}d']['p95_ms']:.1f}"
                     if f"{d}d" in ranges else "–" for d in RANGES]
            rows.append(f"| {r['backend']} | {r['events']:,} | {name} | " + " | ".join(cells)
                        + " |")
    pages = [r for r in results if "dashboard" in r]
    if pages:
        rows += ["", "| backend | events | page | p50 | p95 | max |",
                 "|---|---:|---|---:|---:|---:|"]
        for r in pages:
            for name, f in r["dashboard"].items():
                rows.append(f"| {r['backend']} | {r['events']:,} | {name} | {f['p50_ms']:.1f} |"
                            f" {f['p95_ms']:.1f} | {f['max_ms']:.1f} |")
    return "\n".join(rows)


def run(backends: list[str], sizes: list[int], workdir: Path, postgres_url: str, runs: int,
        dashboard_from: int, keep: bool, out_path: Path | None = None) -> list[dict[str, Any]]:
    results: list[dict[str, Any]] = []

    def save(_: Any = None) -> None:
        if out_path is not None:
            out_path.write_text(json.dumps({"date": datetime.now(UTC).isoformat(
                timespec="seconds"), "results": results}, indent=2, default=str) + "\n")

    for backend in backends:
        for events in sizes:
            log(f"- reports on {backend} at {events:,} events ...")
            began = time.monotonic()
            results.append({"backend": backend, "events": events, "running": True})
            row = run_size(backend, events, workdir, postgres_url, runs,
                           dashboard=events >= dashboard_from, keep=keep,
                           progress=lambda partial: (results.__setitem__(-1, partial), save()))
            row["seconds"] = round(time.monotonic() - began, 1)
            results[-1] = row
            save()
    return results


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--backend", default="sqlite,postgresql")
    parser.add_argument("--events", default="1000000,10000000",
                        help="comma-separated sizes, each a fresh database")
    parser.add_argument("--runs", type=int, default=20)
    parser.add_argument("--budget", type=float, default=BUDGET["seconds"],
                        help="seconds per measurement after which it stops once --min-runs"
                        " requests are in (default 15)")
    parser.add_argument("--min-runs", type=int, default=int(BUDGET["min_runs"]))
    parser.add_argument("--dashboard-from", type=int, default=1_000_000,
                        help="time the dashboard pages at sizes from this one")
    parser.add_argument("--postgres-url", default=os.environ.get(
        "SHOPTRACK_BENCH_POSTGRES_URL", DEFAULT_POSTGRES_URL))
    parser.add_argument("--workdir", type=Path, help="where SQLite files and logs go")
    parser.add_argument("--keep", action="store_true",
                        help="keep the databases (and <label>.app.json with the app's secret)")
    parser.add_argument("--out", type=Path, help="results JSON (rewritten as sizes finish)")
    parser.add_argument("--app-json", type=Path,
                        help="time this kept database (DIR/<label>.app.json) instead of seeding")
    parser.add_argument("--ranges", default="1,30,365", help="with --app-json: days to time")
    parser.add_argument("--reports", help="with --app-json: comma-separated report names")
    parser.add_argument("--no-dashboard", action="store_true", help="with --app-json")
    args = parser.parse_args(argv)
    BUDGET.update(seconds=args.budget, min_runs=args.min_runs)
    workdir = args.workdir or Path(tempfile.mkdtemp(prefix="shoptrack-reports-"))
    workdir.mkdir(parents=True, exist_ok=True)
    if args.app_json:
        def save(row: dict[str, Any]) -> None:
            if args.out:
                args.out.write_text(json.dumps({"date": datetime.now(UTC).isoformat(
                    timespec="seconds"), "results": [row]}, indent=2, default=str) + "\n")

        row = time_existing(args.app_json, workdir, args.runs,
                            tuple(int(d) for d in args.ranges.split(",")),
                            args.reports.split(",") if args.reports else None,
                            not args.no_dashboard, save)
        save(row)
        print(table([row]))
        return 0
    results = run(args.backend.split(","), [int(s) for s in args.events.split(",")], workdir,
                  args.postgres_url, args.runs, args.dashboard_from, args.keep, args.out)
    print(table(results))
    print("\n".join(verdicts(results)) or "every report and page within its target")
    return 0 if all("error" not in r for r in results) else 1


if __name__ == "__main__":
    sys.exit(main())
