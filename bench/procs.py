"""Child processes of a benchmark run, and what the machine is doing.

Every child runs in its own process group and the whole group is terminated on exit (normal,
exception, Ctrl-C or SIGTERM), by its id: nothing else on the machine is touched.
"""

from __future__ import annotations

import atexit
import http.client
import os
import signal
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO_DIR = Path(__file__).resolve().parent.parent
PYTHON = str(REPO_DIR / ".venv" / "bin" / "python")
VENV_BIN = REPO_DIR / ".venv" / "bin"
STARTUP_TIMEOUT = 60.0
STOP_TIMEOUT = 15.0


def log(message: str) -> None:
    print(f"[bench {time.strftime('%H:%M:%S')}] {message}", file=sys.stderr, flush=True)


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def load_average() -> str:
    with open("/proc/loadavg") as f:
        return " ".join(f.read().split()[:3])


def machine() -> str:
    model = "?"
    with open("/proc/cpuinfo") as f:
        for line in f:
            if line.startswith("model name"):
                model = line.split(":", 1)[1].strip()
                break
    return f"{os.cpu_count()} CPUs ({model}), load average {load_average()}"


def git_commit() -> str:
    """The commit measured, with `+dirty` when the work tree differs from it."""

    def git(*args: str) -> str:
        result = subprocess.run(
            ["git", *args], cwd=REPO_DIR, capture_output=True, text=True, timeout=10
        )
        return result.stdout.strip()

    dirty = git("status", "--porcelain", "--untracked-files=no")
    return git("rev-parse", "--short", "HEAD") + ("+dirty" if dirty else "")


class Processes:
    """Children in their own process groups; stop_all() ends each whole group."""

    def __init__(self, logdir: Path):
        self.logdir = logdir
        self.children: dict[str, subprocess.Popen] = {}
        self._logs: list = []

    def start(self, name: str, argv: list[str], env: dict[str, str]) -> subprocess.Popen:
        out = open(self.logdir / f"{name}.log", "wb")  # closed in stop_all()
        self._logs.append(out)
        process = subprocess.Popen(
            argv,
            cwd=REPO_DIR,
            env=env,
            stdout=out,
            stderr=subprocess.STDOUT,
            start_new_session=True,  # its own group: stop() reaches gunicorn's / Celery's children
        )
        self.children[name] = process
        return process

    def pgids(self) -> dict[int, str]:
        """Process group id → name, for the accounting (the group of each child is its pid)."""
        return {p.pid: name for name, p in self.children.items() if p.poll() is None}

    def check_alive(self) -> None:
        for name, process in self.children.items():
            if process.poll() is not None:
                raise RuntimeError(f"{name} exited {process.returncode}:\n{self.tail(name)}")

    def tail(self, name: str, chars: int = 3000) -> str:
        try:
            return (self.logdir / f"{name}.log").read_text(errors="replace")[-chars:]
        except OSError:
            return "(no log)"

    def stop(self, name: str) -> None:
        process = self.children.pop(name, None)
        if process is None or process.poll() is not None:
            return
        try:
            os.killpg(process.pid, signal.SIGTERM)
            process.wait(timeout=STOP_TIMEOUT)
        except subprocess.TimeoutExpired:
            os.killpg(process.pid, signal.SIGKILL)
            process.wait(timeout=STOP_TIMEOUT)
        except ProcessLookupError:
            pass

    def stop_all(self) -> None:
        for name in list(self.children):
            self.stop(name)
        for out in self._logs:
            out.close()
        self._logs.clear()


def open_processes() -> Processes:
    """A work directory for logs and a Processes stopped however this interpreter ends."""
    workdir = Path(tempfile.mkdtemp(prefix="cartly-bench-"))
    processes = Processes(workdir)
    atexit.register(processes.stop_all)

    def on_signal(signum, frame):
        processes.stop_all()
        raise SystemExit(128 + signum)

    signal.signal(signal.SIGTERM, on_signal)
    signal.signal(signal.SIGHUP, on_signal)
    log(f"work directory {workdir} (logs of every child process)")
    return processes


def wait_http(port: int, path: str, processes: Processes, timeout: float = STARTUP_TIMEOUT):
    """Until anything answers GET `path` on 127.0.0.1:`port` (bounded)."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        processes.check_alive()
        try:
            conn = http.client.HTTPConnection("127.0.0.1", port, timeout=2)
            conn.request("GET", path)
            conn.getresponse().read()
            conn.close()
            return
        except OSError:
            time.sleep(0.1)
    raise RuntimeError(f"nothing answered on 127.0.0.1:{port}{path} within {timeout:g}s")
