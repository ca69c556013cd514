"""The load: wrk with bench/convead.lua, and who used the CPU meanwhile.

wrk runs a little longer (``GRACE``) than the measured seconds: the script
stops sending at the deadline and holds each connection idle once its last
response is in, so every request sent is answered before wrk ends and the
200s it counts are exact. ``sent`` (requests written) is checked against
``requests`` (responses read): a difference means requests were still in
flight when wrk stopped, and the accounting says so.
"""

from __future__ import annotations

import json
import math
import os
import shutil
import subprocess
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from servers import BENCH

GRACE = 2.0  # seconds wrk keeps running after the script's deadline
THREADS = 2
SCRIPT = BENCH / "convead.lua"


def wrk_binary() -> str | None:
    return shutil.which("wrk")


@dataclass
class Load:
    """What one wrk run measured."""

    requests: int
    sent: int
    window_s: float
    non_2xx: int
    socket_errors: int
    timeouts: int
    latency_us: dict[str, float]
    mix: dict[str, int]
    raw: dict[str, Any] = field(repr=False, default_factory=dict)

    @property
    def ok(self) -> int:
        """Responses below 400: wrk counts 4xx and 5xx; shoptrack answers 200 or those."""
        return self.requests - self.non_2xx

    @property
    def in_flight(self) -> int:
        return self.sent - self.requests

    @property
    def rate(self) -> float:
        return self.ok / self.window_s if self.window_s > 0 else 0.0


def run_wrk(url: str, seconds: float, connections: int, seed: int, app_key: str,
            log: Path, at_deadline: Callable[[], None] | None = None,
            grace: float = GRACE) -> Load:
    """Load ``url`` for ``seconds``; ``at_deadline`` is called when the sending stops."""
    binary = wrk_binary()
    if binary is None:
        raise RuntimeError("wrk is not installed (make bench installs it: apt-get install wrk)")
    total = math.ceil(seconds + grace)  # wrk takes whole seconds
    argv = [binary, f"-t{THREADS}", f"-c{connections}", f"-d{total}s", "--timeout", "10s",
            "-s", str(SCRIPT), f"{url}/watch/event", "--", app_key, f"{seconds}", str(seed)]
    with subprocess.Popen(argv, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                          text=True) as proc:
        if at_deadline is not None:
            time.sleep(seconds)
            at_deadline()
        try:
            stdout, stderr = proc.communicate(timeout=total + 30)
        except subprocess.TimeoutExpired:
            proc.kill()
            stdout, stderr = proc.communicate()
    log.write_text(stdout + stderr)
    line = next((ln for ln in stdout.splitlines() if ln.startswith("BENCH_JSON ")), None)
    if proc.returncode != 0 or line is None:
        raise RuntimeError(f"wrk failed ({proc.returncode}):\n{stdout}\n{stderr}")
    data = json.loads(line.split(" ", 1)[1])
    return Load(
        requests=data["requests"], sent=data["sent"], window_s=data["window_s"],
        non_2xx=data["non_2xx"],
        socket_errors=data["connect_errors"] + data["read_errors"] + data["write_errors"],
        timeouts=data["timeouts"], latency_us=data["latency_us"], mix=data["mix"], raw=data,
    )


# -- CPU accounting ------------------------------------------------------------
_TICK = os.sysconf("SC_CLK_TCK")


def _proc_cpu() -> dict[int, tuple[str, float]]:
    """CPU seconds (user + system) of every process now, with its command name."""
    out: dict[int, tuple[str, float]] = {}
    for entry in os.scandir("/proc"):
        if not entry.name.isdigit():
            continue
        try:
            text = Path(entry.path, "stat").read_text()
        except OSError:
            continue
        name = text[text.index("(") + 1:text.rindex(")")]
        fields = text[text.rindex(")") + 2:].split()
        out[int(entry.name)] = (name, (int(fields[11]) + int(fields[12])) / _TICK)
    return out


def _machine_busy() -> float:
    """CPU seconds all cores spent busy since boot."""
    values = [int(v) for v in Path("/proc/stat").read_text().splitlines()[0].split()[1:]]
    idle = values[3] + values[4]  # idle + iowait
    return (sum(values[:8]) - idle) / _TICK


class CpuMeter:
    """Who used the CPU during a measurement: the server, the load, PostgreSQL, the rest.

    Figures are in cores (CPU seconds per second of the window); ``load`` is
    wrk, the benchmark's own process (the read client) and py-spy. ``other`` is
    what the rest of the machine used (other sessions' tests, say): above a
    few percent of a core the figures of that run are not clean. The server's
    CPU seconds per event stay meaningful on a busy machine; rates do not.
    """

    def __init__(self, server_pids: list[int]) -> None:
        self.server_pids = set(server_pids)
        self.own_pid = os.getpid()  # the benchmark itself: the read timings' client
        self.start_procs = _proc_cpu()
        self.start_busy = _machine_busy()
        self.start_time = time.monotonic()

    def stop(self) -> dict[str, float]:
        end_procs = _proc_cpu()
        busy = _machine_busy() - self.start_busy
        wall = time.monotonic() - self.start_time
        groups = {"server": 0.0, "load": 0.0, "postgres": 0.0}
        for pid, (name, seconds) in end_procs.items():
            used = seconds - self.start_procs.get(pid, (name, 0.0))[1]
            if pid in self.server_pids:
                groups["server"] += used
            elif name in ("wrk", "py-spy") or pid == self.own_pid:
                groups["load"] += used  # the load, the read client, the profiler
            elif name.startswith("postgres"):
                groups["postgres"] += used
        other = max(0.0, busy - sum(groups.values()))
        cores = {k: round(v / wall, 3) for k, v in groups.items()}
        cores["other"] = round(other / wall, 3)
        cores["idle"] = round(max(0.0, (os.cpu_count() or 1) - busy / wall), 3)
        cores["server_cpu_s"] = round(groups["server"], 3)
        cores["postgres_cpu_s"] = round(groups["postgres"], 3)
        return cores


def wait_quiet(max_seconds: float, threshold: float = 0.25) -> float:
    """Wait (at most ``max_seconds``) for a second in which the machine is nearly idle.

    Returns the cores busy in the last second looked at. For a shared machine
    (other sessions running tests): the rates of a run are only meaningful
    when nothing else competes for the two cores.
    """
    deadline = time.monotonic() + max_seconds
    while True:
        start = _machine_busy()
        time.sleep(1.0)
        busy = _machine_busy() - start
        if busy < threshold or time.monotonic() >= deadline:
            return busy
