"""The report of a benchmark run: the tables, the verdicts against the targets, the machine.

Every function takes the results as they are written to ``bench/results``
(lists of dicts), so an old results file can be printed again::

    python -c "import json, report; d = json.load(open('results/2026-11-27.json'));
               print(report.table(d['runs']))"
"""

from __future__ import annotations

import os
import platform
import sqlite3
import subprocess
from pathlib import Path
from typing import Any

import servers
from load import wrk_binary

INGEST_TARGETS: dict[str, dict[str, float]] = {
    "sqlite": {"rate": 12_000, "p99_ms": 30, "vs_baseline": 0.6},
    "postgresql": {"rate": 8_000, "p99_ms": 50},
}
VISITOR_P95_MS = 10.0  # the visitor API at 1 M events
NOISY = 0.15  # cores used by other processes above which a run is marked


# -- the machine ------------------------------------------------------------------
def machine() -> dict[str, Any]:
    cpuinfo = Path("/proc/cpuinfo").read_text()
    model = next((ln.split(":", 1)[1].strip() for ln in cpuinfo.splitlines()
                  if ln.startswith("model name")), platform.processor())
    mem_kb = next((int(ln.split()[1]) for ln in Path("/proc/meminfo").read_text().splitlines()
                   if ln.startswith("MemTotal")), 0)
    info: dict[str, Any] = {
        "nproc": os.cpu_count(), "cpu_model": model, "memory_gib": round(mem_kb / 2**20, 1),
        "kernel": platform.release(), "python": platform.python_version(),
        "sqlite": sqlite3.sqlite_version, "loadavg_at_start": Path("/proc/loadavg").read_text()
        .split()[:3],
    }
    for name, binary, flag in (("wrk", wrk_binary(), "--version"),
                               ("nginx", servers.nginx_binary(), "-v")):
        if binary:
            done = subprocess.run([binary, flag], capture_output=True, text=True, check=False)
            info[name] = (done.stdout + done.stderr).strip().splitlines()[0]
    info["commit"] = _commit()
    return info


def _commit() -> str | None:
    """The checked-out commit, read from .git (no git command is run)."""
    git = servers.ROOT / ".git"
    try:
        head = (git / "HEAD").read_text().strip()
        if not head.startswith("ref: "):
            return head
        ref = head[5:]
        if (git / ref).exists():
            return (git / ref).read_text().strip()
        for line in (git / "packed-refs").read_text().splitlines():
            if line.endswith(" " + ref):
                return line.split()[0]
    except OSError:
        return None
    return None


# -- the report ---------------------------------------------------------------------
def table(rows: list[dict[str, Any]]) -> str:
    baselines = {r["workers"]: r["rate"] for r in rows
                 if r["kind"] == "baseline" and "error" not in r}
    head = (f"{'run':<13}{'events/s':>10}{'p50 ms':>9}{'p99 ms':>9}{'non-200':>9}"
            f"{'vs base':>9}{'200s':>10}{'stored':>10}{'cpu us/ev':>11}"
            f"  cores: server/wrk/db/other")
    lines = [head, "-" * len(head)]
    for r in rows:
        if "error" in r:
            lines.append(f"{r['label']:<13}  failed: {r['error'].splitlines()[0][:90]}")
            continue
        base = baselines.get(r["workers"])
        ratio = f"{r['rate'] / base:.2f}" if base and r["kind"] == "shoptrack" else ""
        if r["kind"] == "baseline":
            ratio = "1.00"
        stored = str(r["stored"]) if "stored" in r else ""
        if "stored" in r and not r["stored_equals_acknowledged"]:
            stored += " !"
        cpu = r.get("cpu", {})
        cpu_text = "/".join(f"{cpu.get(k, 0):.2f}" for k in ("server", "load", "postgres", "other"))
        noisy = " *" if cpu.get("other", 0) > NOISY else ""
        non_200 = r["non_200"] + r["socket_errors"]
        per_event = r.get("server_cpu_us_per_event", "")
        lines.append(f"{r['label']:<13}{r['rate']:>10,.0f}{r['p50_ms']:>9.2f}{r['p99_ms']:>9.2f}"
                     f"{non_200:>9}{ratio:>9}{r['ok']:>10}{stored:>10}{per_event:>11}"
                     f"  {cpu_text}{noisy}")
    if any(r.get("cpu", {}).get("other", 0) > NOISY for r in rows):
        lines.append("* other processes used more than 0.15 of a core during this run: "
                     "its rates and latencies are not clean (cpu us/ev still is)")
    if any("stored" in r and not r["stored_equals_acknowledged"] for r in rows):
        lines.append("! stored events differ from the 200s received (see the JSON)")
    return "\n".join(lines)


def stages_table(stage_results: list[dict[str, Any]], rows: list[dict[str, Any]]) -> str:
    """Microseconds per event, stage by stage, next to what whole runs cost."""
    ok = [r for r in stage_results if "error" not in r]
    lines = [f"{'CPU per event (us)':<44}" + "".join(f"{r['backend']:>12}" for r in ok)]

    def add(name: str, get: Any) -> None:
        values = []
        for r in ok:
            try:
                values.append(f"{get(r):>12}")
            except (KeyError, TypeError):
                values.append(f"{'':>12}")
        lines.append(f"{name:<44}" + "".join(values))

    add("decode: form + JSON (parse_watch)", lambda r: r["decode_us"])
    add("validate (validate_event)", lambda r: r["validate_us"])
    for size in (8, 64):
        key = f"batch_{size}"
        add(f"writer, batches of {size}: statements (wall)",
            lambda r, k=key: r[k]["statements_us_per_event"])
        add(f"writer, batches of {size}: COMMIT (wall)",
            lambda r, k=key: r[k]["commit_us_per_event"])
        add(f"writer, batches of {size}: CPU of the thread",
            lambda r, k=key: r[k]["writer_cpu_us_per_event"])
    base = next((r for r in rows if r["label"] == "baseline-1w" and "error" not in r), None)
    if base and "server_cpu_us_per_event" in base:
        lines.append(f"{'HTTP stack (baseline-1w server CPU)':<44}"
                     + f"{base['server_cpu_us_per_event']:>12}" * len(ok))
    for r in ok:
        run = next((x for x in rows if x.get("backend") == r["backend"] and x["workers"] == 1
                    and "server_cpu_us_per_event" in x), None)
        if run:
            lines.append(f"{'whole run, ' + run['label'] + ' server CPU':<44}"
                         f"{run['server_cpu_us_per_event']:>12}")
    for r in stage_results:
        if "error" in r:
            lines.append(f"stages on {r['backend']} failed: {r['error'][:90]}")
    return "\n".join(lines)


def reads_table(read_results: list[dict[str, Any]]) -> str:
    lines = [f"{'reads':<22}{'events':>11}" + "".join(
        f"{k + ' p50/p95 ms':>28}" for k in ("visitor", "visitor_events", "events",
                                            "events_before"))]
    for result in read_results:
        if "error" in result:
            lines.append(f"{result['backend']:<22}failed: {result['error'][:90]}")
        for size, info in result["sizes"].items():
            t = info["timings"]
            noisy = " *" if info["cpu"].get("other", 0) > NOISY else ""
            lines.append(f"{result['backend']:<22}{int(size):>11,}" + "".join(
                f"{t[k]['p50_ms']:>17.2f} / {t[k]['p95_ms']:>6.2f}" for k in t) + noisy)
    if any(info["cpu"].get("other", 0) > NOISY for result in read_results
           for info in result.get("sizes", {}).values()):
        lines.append("* other processes used more than 0.15 of a core during these timings")
    return "\n".join(lines)


def verdicts(rows: list[dict[str, Any]], read_results: list[dict[str, Any]]) -> list[str]:
    out = []
    best_base = max((r["rate"] for r in rows if r["kind"] == "baseline" and "error" not in r),
                    default=0.0)
    for backend, target in INGEST_TARGETS.items():
        runs = [r for r in rows if r.get("backend") == backend and "error" not in r]
        if not runs:
            continue
        best = max(runs, key=lambda r: r["rate"])
        checks = [f"{best['rate']:,.0f} events/s (target {target['rate']:,.0f})"
                  + (" ok" if best["rate"] >= target["rate"] else " MISSED"),
                  f"p99 {best['p99_ms']:.1f} ms (target < {target['p99_ms']:g})"
                  + (" ok" if best["p99_ms"] < target["p99_ms"] else " MISSED")]
        if "vs_baseline" in target and best_base:
            ratio = best["rate"] / best_base
            checks.append(f"{ratio:.2f} of the best baseline (target {target['vs_baseline']:g})"
                          + (" ok" if ratio >= target["vs_baseline"] else " MISSED"))
        exact = all(r["stored_equals_acknowledged"] for r in runs)
        checks.append("stored == acknowledged " + ("in every run" if exact else "FAILED"))
        out.append(f"{backend} best ({best['label']}): " + "; ".join(checks))
    for result in read_results:
        sizes = result.get("sizes", {})
        if sizes:
            largest = sizes[max(sizes, key=int)]
            p95 = largest["timings"]["visitor"]["p95_ms"]
            out.append(f"reads {result['backend']} at {largest['events']:,} events: visitor p95 "
                       f"{p95:.2f} ms (target < {VISITOR_P95_MS:g})"
                       + (" ok" if p95 < VISITOR_P95_MS else " MISSED"))
    return out
