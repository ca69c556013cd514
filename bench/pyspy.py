"""Optional profiling of a run's workers with py-spy (``run.py --profile``).

py-spy samples each worker process for the measured seconds (``--idle``, so
waiting shows as waiting; ``--nonblocking``, so the worker is never paused)
at 100 Hz and writes collapsed stacks (``<label>-<pid>.folded``, readable by
flamegraph tools and by :func:`summarise`). The summary puts every sample of
a thread in one bucket: where the event loop and the writer thread spend
their time.
"""

from __future__ import annotations

import shutil
import subprocess
import sys
from collections import Counter
from pathlib import Path
from typing import Any

# (bucket, where, substrings): a sample goes to the first bucket whose
# substrings appear in its leaf frame ("leaf") or anywhere in its stack ("stack").
BUCKETS = [
    ("handler: app lookup (thread pool)", "stack", ("AppCache.by_key",)),
    ("writer: commit (PostgreSQL)", "stack", ("Transaction.__exit__", "_commit_gen")),
    ("idle: waiting for I/O", "leaf", ("Runner.run (asyncio/runners.py", "epoll",
                                       "select (selectors")),
    ("idle: waiting on a queue", "leaf", ("Queue.get", "Condition.wait",
                                          "Writer._run (shoptrack/store/writer.py",
                                          "Writer._collect")),
    ("writer: BEGIN/COMMIT (lock, fsync)", "leaf", ("SQLiteStore._write",)),
    ("writer: SQL statements", "stack", ("SQLiteTx.", "PostgresTx.", "Cursor.execute",
                                         "Cursor.executemany", "_lock_identities")),
    ("writer: state rules (Python)", "stack", ("BatchApplier", "shoptrack/store/batch.py",
                                               "shoptrack/store/identity.py",
                                               "shoptrack/store/carts.py",
                                               "shoptrack/store/orders.py")),
    ("writer: batching, resolving futures", "stack", ("shoptrack/store/writer.py",)),
    ("handler: form + JSON decoding", "stack", ("decode_form", "parse_qsl", "decode_json",
                                                "parse_watch")),
    ("handler: validation (pydantic)", "stack", ("validate_event", "model_validate")),
    ("handler: rest of watch_event", "stack", ("watch_event (shoptrack",)),
    ("framework: FastAPI/Starlette", "stack", ("fastapi/", "starlette/")),
    ("server: uvicorn/httptools", "stack", ("uvicorn/", "httptools")),
    ("GC", "stack", ("gc_collect",)),
]


def available() -> str | None:
    found = shutil.which("py-spy") or str(Path(sys.executable).parent / "py-spy")
    return found if Path(found).exists() else None


def record(pid: int, seconds: float, out: Path, rate: int = 100) -> subprocess.Popen[bytes]:
    binary = available()
    if binary is None:
        raise RuntimeError("py-spy is not installed (pip install py-spy)")
    argv = [binary, "record", "--pid", str(pid), "--duration", str(max(1, round(seconds))),
            "--rate", str(rate), "--format", "raw", "--output", str(out),
            "--threads", "--idle", "--nonblocking"]
    return subprocess.Popen(argv, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)


def _thread(frame: str) -> str:
    # "thread (1234): MainThread" -> "MainThread"; worker-pool threads grouped.
    name = frame.split("):", 1)[-1].strip() if "):" in frame else frame
    return "AnyIO worker threads" if name.startswith("AnyIO") else name


def _bucket(frames: list[str]) -> str:
    for name, where, needles in BUCKETS:
        candidates = frames[-1:] if where == "leaf" else frames
        if any(n in f for f in candidates for n in needles):
            return name
    return "other"


def summarise(folded: Path, top: int = 15) -> dict[str, Any]:
    """Per thread: samples, share by bucket, and the hottest leaf frames (busy samples only)."""
    threads: dict[str, dict[str, Any]] = {}
    for line in folded.read_text().splitlines():
        stack, _, count = line.rpartition(" ")
        if not stack or not count.isdigit():
            continue
        frames = stack.split(";")
        info = threads.setdefault(_thread(frames[0]), {"samples": 0, "buckets": Counter(),
                                                         "leaves": Counter()})
        n = int(count)
        bucket = _bucket(frames)
        info["samples"] += n
        info["buckets"][bucket] += n
        if not bucket.startswith("idle"):
            info["leaves"][frames[-1]] += n
    out: dict[str, Any] = {}
    for name, info in sorted(threads.items(), key=lambda kv: -kv[1]["samples"]):
        total = info["samples"]
        busy = sum(n for b, n in info["buckets"].items() if not b.startswith("idle")) or 1
        out[name] = {
            "samples": total,
            "busy_samples": busy,
            "buckets": {b: round(100 * n / total, 1) for b, n in info["buckets"].most_common()},
            # Shares of the busy samples only: what the thread does when it runs.
            "busy_buckets": {b: round(100 * n / busy, 1) for b, n in info["buckets"].most_common()
                             if not b.startswith("idle")},
            "top_leaves": [(f, round(100 * n / busy, 1))
                           for f, n in info["leaves"].most_common(top)],
        }
    return out


def render(summary: dict[str, Any]) -> str:
    """Each busy thread: its idle share, then what its busy samples were doing."""
    lines = []
    for thread, info in summary.items():
        if info["busy_samples"] < 10:
            continue
        idle = sum(v for b, v in info["buckets"].items() if b.startswith("idle"))
        lines.append(f"  {thread}: {info['samples']} samples, {idle:.0f}% waiting; when busy:")
        for bucket, share in info["busy_buckets"].items():
            if share >= 1:
                lines.append(f"    {share:5.1f}%  {bucket}")
    return "\n".join(lines)
