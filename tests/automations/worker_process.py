"""Real Celery processes for fault tests: a worker (or beat) in a child process, on the test's
own database and broker, that a test can kill, stop, cut off and start again.

The in-process `celery_worker` fixture shares the test's Python process; a fault test needs the
processes production has: `celery -A config worker --pool prefork` whose pool children run
the tasks and the engine's clock, and a parent that replaces a child killed under it. The child
process gets everything through its environment, as a deployment would: DATABASE_URL (the test
database: pytest-django's PostgreSQL `test_…` database, or the SQLite test file), REDIS_URL or
CELERY_FILESYSTEM_DIR (the broker the test publishes to), the sandbox's Cartly settings and the
engine settings a test shortens.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
import uuid
from collections.abc import Iterator
from pathlib import Path
from urllib.parse import quote

import pytest
from django.conf import settings
from django.db import connection as database

from config.celery import app as celery_app
from tests.sandbox_server import REPO_DIR

# A cold start imports Django and Celery and forks the pool: seconds, more on a busy machine.
START_TIMEOUT_SECONDS = 90.0
# A warm shutdown lets the running task finish (a slow sandbox call, a few seconds).
STOP_TIMEOUT_SECONDS = 60.0
POLL_SECONDS = 0.1
LOG_TAIL_CHARS = 6000
# What each kind of process writes once it is up (Celery's own log lines).
READY_LINES = {"worker": " ready.", "beat": "beat: Starting..."}
# The worker settings module: config.settings plus the test-only operation (crash_operation).
WORKER_SETTINGS = "tests.automations.worker_settings"


class CeleryProcessError(RuntimeError):
    """A Celery child process did not start or stop as the test needed; says why, with its log."""


def database_url(application_name: str) -> str:
    """The test database as a URL; PostgreSQL connections carry `application_name`, so a test
    can find (and terminate) exactly this process's sessions."""
    db = database.settings_dict
    if db["ENGINE"].endswith("sqlite3"):
        return f"sqlite:///{db['NAME']}"
    user = quote(db.get("USER") or "", safe="")
    password = quote(db.get("PASSWORD") or "", safe="")
    auth = f"{user}:{password}@" if password else (f"{user}@" if user else "")
    host, port = db.get("HOST") or "127.0.0.1", db.get("PORT") or 5432
    return f"postgres://{auth}{host}:{port}/{db['NAME']}?application_name={application_name}"


def broker_env() -> dict[str, str]:
    """The broker this test process publishes to, for the child to consume from."""
    url = celery_app.conf.broker_url
    if url.startswith("filesystem"):
        folder = Path(celery_app.conf.broker_transport_options["data_folder_in"]).parent
        return {"CELERY_FILESYSTEM_DIR": str(folder), "REDIS_URL": ""}
    return {"REDIS_URL": url}


def _processes() -> Iterator[tuple[int, int, int]]:
    """(pid, parent pid, process group) of every process, from /proc (no extra library)."""
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            stat = (entry / "stat").read_text()
        except OSError:
            continue  # it ended while we looked
        # "pid (comm) state ppid pgrp …": comm may hold spaces, so split after its paren.
        fields = stat[stat.rfind(")") + 2 :].split()
        yield int(entry.name), int(fields[1]), int(fields[2])


def _children_of(pid: int) -> list[int]:
    return sorted(child for child, parent, _ in _processes() if parent == pid)


def _kill_group_members(group: int) -> None:
    """Kill what is left of a process group whose leader is gone (orphaned pool children),
    one by one: never signal a group id that may have been given to someone else."""
    for pid, _, pgrp in _processes():
        if pgrp == group:
            try:
                os.kill(pid, signal.SIGKILL)
            except ProcessLookupError:
                pass


class CeleryProcess:
    """`celery -A config worker|beat …` in its own process group, logging to a file."""

    def __init__(self, kind: str, workdir: Path, env: dict[str, str], args: list[str]):
        self.kind = kind
        self.workdir = workdir
        self.env = env
        self.args = args
        self.log_path = workdir / f"{kind}-{uuid.uuid4().hex[:8]}.log"
        self.process: subprocess.Popen | None = None
        self._log = None

    @property
    def pid(self) -> int:
        assert self.process is not None, "not started"
        return self.process.pid

    def start(self) -> CeleryProcess:
        if self.process is not None and self.process.poll() is None:
            raise CeleryProcessError(f"the {self.kind} is already running")
        self.log_path = self.workdir / f"{self.kind}-{uuid.uuid4().hex[:8]}.log"
        self._log = open(self.log_path, "wb")  # closed in _reap()
        self.process = subprocess.Popen(
            [sys.executable, "-m", "celery", "-A", "config", self.kind, *self.args],
            cwd=REPO_DIR,
            env=self.env,
            stdout=self._log,
            stderr=subprocess.STDOUT,
            start_new_session=True,  # its own group: the teardown reaches pool children too
        )
        self._wait_until_ready()
        return self

    def _wait_until_ready(self) -> None:
        deadline = time.monotonic() + START_TIMEOUT_SECONDS
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise CeleryProcessError(
                    f"the {self.kind} exited {self.process.returncode}:\n{self.log_tail()}"
                )
            if READY_LINES[self.kind] in self.log_text() and self._pool_is_up():
                return
            time.sleep(POLL_SECONDS)
        self.kill()
        raise CeleryProcessError(f"the {self.kind} did not start:\n{self.log_tail()}")

    def _pool_is_up(self) -> bool:
        return self.kind != "worker" or "prefork" not in self.args or bool(self.children())

    def children(self) -> list[int]:
        """The pool's child processes (prefork): the ones that run tasks and the clock."""
        return _children_of(self.pid)

    def kill_children(self, sig: int = signal.SIGKILL) -> list[int]:
        """Kill every pool child (the parent forks new ones); the pids killed."""
        killed = self.children()
        for pid in killed:
            os.kill(pid, sig)
        return killed

    def stop(self, timeout: float = STOP_TIMEOUT_SECONDS) -> int:
        """SIGTERM, as a service manager stops a worker: a warm shutdown; its exit code."""
        if self.process is None:
            return 0
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
            try:
                self.process.wait(timeout)
            except subprocess.TimeoutExpired:
                self.kill()
                raise CeleryProcessError(
                    f"the {self.kind} did not stop on SIGTERM:\n{self.log_tail()}"
                ) from None
        return self._reap()

    def kill(self) -> None:
        """SIGKILL to the whole group: the parent and its children, no shutdown of any kind."""
        if self.process is None:
            return
        if self.process.poll() is None:  # its leader lives, so the group is still ours
            os.killpg(self.process.pid, signal.SIGKILL)
            self.process.wait()
        self._reap()

    def _reap(self) -> int:
        code = self.process.returncode if self.process else 0
        _kill_group_members(self.pid)
        if self._log is not None:
            self._log.close()
            self._log = None
        return code

    def log_text(self) -> str:
        try:
            return self.log_path.read_text(errors="replace")
        except OSError:
            return ""

    def log_tail(self) -> str:
        return self.log_text()[-LOG_TAIL_CHARS:] or "(no output)"


class CeleryProcesses:
    """Makes workers and beats on the test's database and broker; kills them all at teardown."""

    def __init__(self, workdir: Path):
        self.workdir = workdir
        self.started: list[CeleryProcess] = []
        self.application_name = f"cartly-faults-{uuid.uuid4().hex[:10]}"

    def env(self, **overrides: str | int | float) -> dict[str, str]:
        """The environment of a child: the test's database, broker and Cartly, plus overrides
        (engine settings by their variable names, e.g. ENGINE_STEP_LEASE_SECONDS=5)."""
        env = {key: value for key, value in os.environ.items() if not key.startswith("PYTEST")}
        env.update(
            {
                "DJANGO_SETTINGS_MODULE": WORKER_SETTINGS,
                "DATABASE_URL": database_url(self.application_name),
                "VAR_DIR": str(self.workdir),
                "CARTLY_BASE_URL": settings.CARTLY_BASE_URL,
                "CARTLY_CLIENT_ID": settings.CARTLY_CLIENT_ID,
                "CARTLY_CLIENT_SECRET": settings.CARTLY_CLIENT_SECRET,
                "LOG_LEVEL": "INFO",
                "PYTHONUNBUFFERED": "1",
                **broker_env(),
            }
        )
        env.update({key: str(value) for key, value in overrides.items()})
        return env

    def worker(
        self, *, concurrency: int = 1, pool: str = "prefork", **overrides: str | int | float
    ) -> CeleryProcess:
        """A started worker; `overrides` go into its environment."""
        name = f"faults-{uuid.uuid4().hex[:6]}@%h"
        args = [
            "--pool",
            pool,
            "--concurrency",
            str(concurrency),
            "-n",
            name,
            "--loglevel",
            "INFO",
            "--without-gossip",
            "--without-mingle",
            "--without-heartbeat",
        ]
        return self._start("worker", args, overrides)

    def beat(self, **overrides: str | int | float) -> CeleryProcess:
        """A started beat, its schedule file in the test's folder."""
        schedule = self.workdir / f"beat-{uuid.uuid4().hex[:6]}"
        return self._start("beat", ["--schedule", str(schedule), "--loglevel", "INFO"], overrides)

    def _start(self, kind: str, args: list[str], overrides: dict) -> CeleryProcess:
        process = CeleryProcess(kind, self.workdir, self.env(**overrides), args)
        self.started.append(process)
        return process.start()

    def close(self) -> None:
        for process in self.started:
            process.kill()


@pytest.fixture
def celery_processes(transactional_db, cartly_settings, tmp_path) -> Iterator[CeleryProcesses]:
    """Start real workers and beats with `celery_processes.worker(...)` / `.beat(...)`.

    Every process is killed (with its pool children) before the test database is flushed.
    """
    celery_app.control.purge()  # messages other tests published name rows that are gone
    processes = CeleryProcesses(tmp_path)
    try:
        yield processes
    finally:
        processes.close()
