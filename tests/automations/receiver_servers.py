"""Private servers for the receiver's fault tests: gunicorn serving the engine, a redis-server
and a PostgreSQL cluster, each started by the test on its own free port and stopped by it.

The shared PostgreSQL and Redis of the machine are never touched: a test that stops a
service stops one of these. Where a binary is missing the test is skipped, saying which.
"""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import pytest
import requests

from tests.sandbox_server import REPO_DIR, free_port

START_TIMEOUT_SECONDS = 60.0
STOP_TIMEOUT_SECONDS = 20.0
POLL_SECONDS = 0.05
PG_BIN = Path(os.environ.get("PG_BIN", "/usr/lib/postgresql/15/bin"))
# PostgreSQL refuses to run as root; as root we run its programs as this user.
PG_SYSTEM_USER = "postgres"
TEST_SECRET_KEY = "receiver-fault-tests-only-secret-key-0123456789"


def _stop_group(process: subprocess.Popen | None, sig: int = signal.SIGTERM) -> None:
    if process is None or process.poll() is not None:
        return
    os.killpg(process.pid, sig)
    try:
        process.wait(timeout=STOP_TIMEOUT_SECONDS)
    except subprocess.TimeoutExpired:
        os.killpg(process.pid, signal.SIGKILL)
        process.wait()


def _wait(condition, what: str, process: subprocess.Popen | None = None, log: Path | None = None):
    deadline = time.monotonic() + START_TIMEOUT_SECONDS
    while time.monotonic() < deadline:
        if process is not None and process.poll() is not None:
            break
        if condition():
            return
        time.sleep(POLL_SECONDS)
    tail = log.read_text(errors="replace")[-3000:] if log and log.exists() else ""
    raise RuntimeError(f"{what} did not start:\n{tail}")


# --- redis-server -----------------------------------------------------------------------------


class PrivateRedis:
    """A throwaway redis-server: no persistence, loopback only, stopped and started at will."""

    def __init__(self, workdir: Path):
        self.binary = shutil.which("redis-server")
        if self.binary is None:
            pytest.skip("redis-server is not installed: the broker fault test needs its own")
        self.port = free_port()
        self.url = f"redis://127.0.0.1:{self.port}/0"
        self.log = workdir / "redis.log"
        self.process: subprocess.Popen | None = None

    def start(self) -> None:
        argv = [
            self.binary,
            "--port",
            str(self.port),
            "--bind",
            "127.0.0.1",
            "--save",
            "",
            "--appendonly",
            "no",
            "--logfile",
            str(self.log),
        ]
        self.process = subprocess.Popen(argv, start_new_session=True)
        _wait(self.answers, "redis-server", self.process, self.log)

    def answers(self) -> bool:
        import redis

        try:
            return bool(redis.Redis.from_url(self.url, socket_timeout=1).ping())
        except redis.RedisError:
            return False

    def queued(self, queue: str = "celery") -> int:
        import redis

        return redis.Redis.from_url(self.url, socket_timeout=1).llen(queue)

    def stop(self) -> None:
        _stop_group(self.process)
        self.process = None


# --- a PostgreSQL cluster ---------------------------------------------------------------------


class PrivatePostgres:
    """A throwaway PostgreSQL cluster in a temporary directory (initdb, pg_ctl)."""

    def __init__(self):
        missing = [name for name in ("initdb", "pg_ctl") if not (PG_BIN / name).exists()]
        if missing:
            pytest.skip(
                f"{', '.join(missing)} not found in {PG_BIN} (set PG_BIN): "
                "the database fault test needs a private PostgreSQL cluster"
            )
        self.as_root = os.geteuid() == 0
        if self.as_root and shutil.which("runuser") is None:
            pytest.skip("running as root without runuser: PostgreSQL cannot be started")
        # In the system's temporary directory, not pytest's: that one is private to our user,
        # and the server may run as another.
        self.home = Path(tempfile.mkdtemp(prefix="receiver-pg-"))
        self.data = self.home / "data"
        self.log = self.home / "server.log"
        self.port = free_port()
        if self.as_root:
            shutil.chown(self.home, PG_SYSTEM_USER)

    def _run(self, *argv: str) -> None:
        prefix = ["runuser", "-u", PG_SYSTEM_USER, "--"] if self.as_root else []
        done = subprocess.run([*prefix, *argv], capture_output=True, text=True, timeout=120)
        if done.returncode:
            raise RuntimeError(f"{Path(argv[0]).name} exited {done.returncode}: {done.stderr}")

    def url(self, database: str = "postgres") -> str:
        return f"postgres://postgres@127.0.0.1:{self.port}/{database}"

    def init(self) -> None:
        self._run(
            str(PG_BIN / "initdb"),
            "-D",
            str(self.data),
            "-A",
            "trust",
            "-U",
            "postgres",
            "-E",
            "UTF8",
            "--no-sync",
        )

    def start(self) -> None:
        options = (
            f"-p {self.port} -c listen_addresses=127.0.0.1 -k {self.home} "
            "-c fsync=off -c full_page_writes=off"
        )
        self._run(
            str(PG_BIN / "pg_ctl"),
            "-D",
            str(self.data),
            "-o",
            options,
            "-l",
            str(self.log),
            "-w",
            "start",
        )

    def stop(self, mode: str = "fast") -> None:
        """`immediate` is a crash: no checkpoint, recovery from the WAL at the next start."""
        self._run(str(PG_BIN / "pg_ctl"), "-D", str(self.data), "-m", mode, "-w", "stop")

    def execute(self, sql: str, database: str = "postgres") -> list[tuple]:
        import psycopg

        with psycopg.connect(self.url(database), autocommit=True, connect_timeout=5) as conn:
            cursor = conn.execute(sql)
            return cursor.fetchall() if cursor.description else []

    def remove(self) -> None:
        try:
            self.stop("immediate")
        except RuntimeError:
            pass  # not running
        shutil.rmtree(self.home, ignore_errors=True)


# --- the engine under gunicorn ----------------------------------------------------------------


def database_url(settings_dict: dict) -> str:
    """A DATABASE_URL for a Django connection's settings (the test database, for a child)."""
    if settings_dict["ENGINE"].endswith("sqlite3"):
        return f"sqlite:///{settings_dict['NAME']}"
    auth = settings_dict.get("USER") or ""
    if settings_dict.get("PASSWORD"):
        auth += f":{settings_dict['PASSWORD']}"
    host = settings_dict.get("HOST") or "127.0.0.1"
    port = settings_dict.get("PORT") or 5432
    return f"postgres://{auth}@{host}:{port}/{settings_dict['NAME']}"


def engine_env(workdir: Path, database: str, secret: str, **extra: str) -> dict[str, str]:
    """The engine's environment for a child process: this checkout, nothing inherited that
    would point it at someone else's database or broker."""
    inherited = {
        key: value
        for key, value in os.environ.items()
        if not key.startswith(("CARTLY_", "SANDBOX_", "DJANGO_", "CELERY_"))
        and key not in ("DATABASE_URL", "REDIS_URL", "VAR_DIR")
    }
    return {
        **inherited,
        "DJANGO_SETTINGS_MODULE": "config.settings",
        "DATABASE_URL": database,
        "VAR_DIR": str(workdir / "var"),
        "DEBUG": "0",
        "SECRET_KEY": TEST_SECRET_KEY,
        "CARTLY_CLIENT_SECRET": secret,
        "LOG_LEVEL": "WARNING",
        "PYTHONUNBUFFERED": "1",
        **extra,
    }


def manage(env: dict[str, str], *args: str) -> str:
    result = subprocess.run(
        [sys.executable, "manage.py", *args],
        cwd=REPO_DIR,
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
    )
    if result.returncode:
        raise RuntimeError(f"manage.py {args[0]}: {result.stdout[-2000:]}{result.stderr[-2000:]}")
    return result.stdout


class Gunicorn:
    """gunicorn serving config.wsgi as in production: gthread workers, kept-alive connections."""

    def __init__(self, workdir: Path, env: dict[str, str], workers: int = 2, threads: int = 4):
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.log = workdir / f"gunicorn-{self.port}.log"
        self.argv = [
            sys.executable,
            "-m",
            "gunicorn",
            "config.wsgi:application",
            "--bind",
            f"127.0.0.1:{self.port}",
            "--worker-class",
            "gthread",
            "--workers",
            str(workers),
            "--threads",
            str(threads),
            "--log-level",
            "warning",
            "--error-logfile",
            str(self.log),
        ]
        self.env = env
        self.process: subprocess.Popen | None = None

    def start(self) -> None:
        self.process = subprocess.Popen(
            self.argv,
            cwd=REPO_DIR,
            env=self.env,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
            start_new_session=True,
        )
        _wait(self._answers, "gunicorn", self.process, self.log)

    def _answers(self) -> bool:
        try:
            return requests.get(f"{self.url}/login/", timeout=2).status_code == 200
        except requests.RequestException:
            return False

    def stop(self) -> None:
        _stop_group(self.process)
        self.process = None
