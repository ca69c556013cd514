"""The servers a benchmark run measures: shoptrack, the baseline app, nginx.

Each is started in its own process group (so that its worker processes can be
found and, if it hangs, stopped together), waits until it answers on
``/health``, and is stopped by its own process id: SIGTERM, which lets
shoptrack's writers commit what they hold, then SIGKILL after a timeout.
"""

from __future__ import annotations

import os
import shutil
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from pathlib import Path

BENCH = Path(__file__).resolve().parent
ROOT = BENCH.parent
BIN = Path(sys.executable).parent


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


def children(pid: int) -> list[int]:
    """All descendants of ``pid`` (uvicorn's worker processes, nginx's workers)."""
    found: list[int] = []
    todo = [pid]
    while todo:
        current = todo.pop()
        for task in Path(f"/proc/{current}/task").glob("*"):
            try:
                kids = (task / "children").read_text().split()
            except OSError:
                continue
            for kid in map(int, kids):
                if kid not in found:
                    found.append(kid)
                    todo.append(kid)
    return found


class Server:
    """One server process (and its workers) listening on 127.0.0.1:``port``."""

    def __init__(self, name: str, argv: list[str], port: int, workdir: Path,
                 env: dict[str, str] | None = None, workers: int = 1,
                 ready_threads: int = 1) -> None:
        self.name = name
        self.ready_threads = ready_threads
        self.argv = argv
        self.port = port
        self.workers = workers
        self.url = f"http://127.0.0.1:{port}"
        self.log_path = workdir / f"{name}.log"
        self.env = {**os.environ, **(env or {})}
        self.proc: subprocess.Popen[bytes] | None = None

    def start(self, timeout: float = 60.0) -> Server:
        with self.log_path.open("wb") as log:
            self.proc = subprocess.Popen(self.argv, stdout=log, stderr=subprocess.STDOUT,
                                         env=self.env, cwd=ROOT, start_new_session=True)
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError(f"{self.name} exited at start:\n{self.log_tail()}")
            if self._healthy() and self._workers_up():
                return self
            time.sleep(0.1)
        self.stop()
        raise RuntimeError(f"{self.name} did not answer within {timeout:.0f} s:\n"
                           f"{self.log_tail()}")

    def _healthy(self) -> bool:
        try:
            with urllib.request.urlopen(self.url + "/health", timeout=2) as answer:
                return bool(answer.status == 200)
        except (OSError, urllib.error.URLError):
            return False

    def _workers_up(self) -> bool:
        """With several workers, all of them must have started before load begins.

        uvicorn's supervisor spawns its workers, which then import the app; a
        worker whose app has started has at least ``ready_threads`` threads
        (shoptrack: the writer thread). The warm-up before every measurement
        covers the rest.
        """
        if self.workers <= 1 or self.proc is None:
            return True
        pids = self.worker_pids()
        return len(pids) >= self.workers and all(
            len(list(Path(f"/proc/{pid}/task").glob("*"))) >= self.ready_threads for pid in pids)

    def pids(self) -> list[int]:
        """The server's own process and every descendant."""
        if self.proc is None:
            return []
        return [self.proc.pid, *children(self.proc.pid)]

    def worker_pids(self) -> list[int]:
        """The processes that serve requests (the one process when there is one worker)."""
        if self.proc is None:
            return []
        if self.workers <= 1:
            return [self.proc.pid]
        found = []
        for pid in children(self.proc.pid):
            try:
                cmdline = Path(f"/proc/{pid}/cmdline").read_bytes()
            except OSError:
                continue
            if b"multiprocessing.resource_tracker" not in cmdline:
                found.append(pid)
        return found

    def stop(self, timeout: float = 30.0) -> None:
        if self.proc is None or self.proc.poll() is not None:
            return
        self.proc.send_signal(signal.SIGTERM)
        try:
            self.proc.wait(timeout)
        except subprocess.TimeoutExpired:
            os.killpg(self.proc.pid, signal.SIGKILL)  # the group this Server created
            self.proc.wait(5)
        # Workers of a multi-process server leave with their supervisor; wait for them.
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline and _group_alive(self.proc.pid):
            time.sleep(0.05)

    def log_tail(self, lines: int = 30) -> str:
        try:
            return "\n".join(self.log_path.read_text(errors="replace").splitlines()[-lines:])
        except OSError:
            return ""


def _group_alive(pgid: int) -> bool:
    try:
        os.killpg(pgid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def shoptrack(name: str, database_url: str, workers: int, workdir: Path,
              env: dict[str, str]) -> Server:
    port = free_port()
    argv = [str(BIN / "shoptrack"), "serve", "--port", str(port), "--database", database_url,
            "--workers", str(workers)]
    # Settings that would change what is measured are pinned: no rate limit (all
    # the load comes from one IP), no drain delay at stop, /metrics open.
    pinned = {"SHOPTRACK_LOG_LEVEL": "warning", "SHOPTRACK_RATE_LIMIT_APP_PER_SECOND": "0",
              "SHOPTRACK_RATE_LIMIT_IP_PER_SECOND": "0", "SHOPTRACK_DRAIN_SECONDS": "0"}
    server = Server(name, argv, port, workdir, {**pinned, **env}, workers, ready_threads=2)
    server.env.pop("SHOPTRACK_METRICS_TOKEN", None)
    return server


def baseline(name: str, workers: int, workdir: Path, module: str = "baseline") -> Server:
    """uvicorn + uvloop + httptools + FastAPI as shoptrack serves; the handler stores nothing.

    ``module="baseline_raw"``: the same server with a bare ASGI app (no framework).
    """
    port = free_port()
    argv = [str(BIN / "python"), "-m", "uvicorn", f"{module}:app", "--app-dir", str(BENCH),
            "--host", "127.0.0.1", "--port", str(port), "--workers", str(workers),
            "--loop", "uvloop", "--http", "httptools", "--no-access-log",
            "--no-server-header", "--log-level", "warning"]
    return Server(name, argv, port, workdir, workers=workers)


def nginx_binary() -> str | None:
    return shutil.which("nginx") or next(
        (p for p in ("/usr/sbin/nginx", "/usr/local/sbin/nginx") if os.access(p, os.X_OK)), None)


def nginx(name: str, workers: int, workdir: Path) -> Server:
    """nginx answering every POST /watch/event with 200 and the same body: the HTTP ceiling."""
    binary = nginx_binary()
    if binary is None:
        raise RuntimeError("nginx is not installed")
    port = free_port()
    prefix = workdir / "nginx"
    prefix.mkdir(exist_ok=True)
    conf = (BENCH / "nginx.conf.template").read_text()
    for key, value in {"PORT": str(port), "PREFIX": str(prefix), "WORKERS": str(workers)}.items():
        conf = conf.replace("{{" + key + "}}", value)
    (prefix / "nginx.conf").write_text(conf)
    argv = [binary, "-p", str(prefix), "-c", str(prefix / "nginx.conf")]
    return Server(name, argv, port, workdir, workers=1)
