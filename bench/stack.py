"""The stack a benchmark runs: the engine's database and broker, a stub Cartly, one connected
shop with one recipe turned on, gunicorn and a Celery worker.

Databases: `cartly_bench` (PostgreSQL on 127.0.0.1:5432, dropped and recreated per run);
broker: Redis db 9 (the harness's own; flushed before and after). What the harness relies on
in the engine is only its public surface: `manage.py migrate`, connecting a shop, creating and
enabling a recipe, POST /hooks/cartly/<token>/, gunicorn on config.wsgi, `celery -A config
worker`, and the Event / Run rows. Engine settings are passed as environment variables
(`--env KEY=VALUE` reaches every engine process).
"""

from __future__ import annotations

import json
import os
import secrets
import shlex
import subprocess
import time
from dataclasses import dataclass, field
from pathlib import Path

from cryptography.fernet import Fernet

from bench.deliveries import Signer
from bench.procs import PYTHON, REPO_DIR, STARTUP_TIMEOUT, VENV_BIN, Processes, free_port, log
from bench.procs import wait_http as _wait_http

PG_ROOT = os.environ.get("BENCH_PG_URL", "postgres://postgres@127.0.0.1:5432").rstrip("/")
ENGINE_DB = os.environ.get("BENCH_ENGINE_DB", "cartly_bench")
REDIS_URL = os.environ.get("BENCH_REDIS_URL", "redis://127.0.0.1:6379/9")
HARNESS_APP_NAME = "cartly-bench-harness"  # how the accounting tells our own queries apart
STUB_MAX_SECONDS = 7200  # the stub stops itself after this, whatever happens to us
# The shop's token is stored encrypted; a key made for this run (the database is new too).
BENCH_FERNET_KEY = Fernet.generate_key().decode()


# --- databases and broker ----------------------------------------------------------------------


def recreate_database(name: str) -> None:
    import psycopg

    if not name.startswith("cartly_bench"):
        raise SystemExit(f"refusing to drop {name!r}: bench databases start with cartly_bench")
    with psycopg.connect(f"{PG_ROOT}/postgres", autocommit=True) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        conn.execute(f'CREATE DATABASE "{name}"')


def flush_broker() -> None:
    import redis

    redis.Redis.from_url(REDIS_URL).flushdb()  # db 9 is the benchmark's own


def broker_backlog() -> int:
    """Messages not yet acknowledged: waiting in the queue plus delivered-but-unacked."""
    import redis

    client = redis.Redis.from_url(REDIS_URL)
    return client.llen("celery") + client.hlen("unacked")


class Backends:
    """PostgreSQL backend pid → component, for the accounting: ours, the harness's, others'."""

    def __init__(self, database: str):
        self.database = database
        self._conn = None

    def __call__(self) -> dict[int, str]:
        import psycopg

        if self._conn is None:
            self._conn = psycopg.connect(
                f"{PG_ROOT}/postgres", autocommit=True, application_name=HARNESS_APP_NAME
            )
        rows = self._conn.execute(
            "SELECT pid, datname, application_name, backend_type FROM pg_stat_activity"
        ).fetchall()
        out = {}
        for pid, datname, app, backend_type in rows:
            if app == HARNESS_APP_NAME:
                out[pid] = "harness"
            elif datname == self.database:
                out[pid] = "pg (our db)"
            elif backend_type == "client backend":
                out[pid] = "other"  # someone else's database on the shared server
        return out


# --- the engine's processes --------------------------------------------------------------------


@dataclass
class EngineConfig:
    """How the engine's processes are started; every field is a command-line option."""

    gunicorn: str = "gthread:1x8"  # sync:N or gthread:NxT
    web_nice: int = 0  # the web server's niceness: >0 lets the workers' CPU come first
    pool: str = "threads"
    concurrency: int = 8
    db_reuse_max: int = 100
    shop_rate: str = "0"  # CARTLY_SHOP_RATE_PER_SECOND; 0 = off (one shop would be capped)
    env: dict[str, str] = field(default_factory=dict)  # --env KEY=VALUE, to every engine process
    worker_args: list[str] = field(default_factory=list)  # --worker-arg, appended to celery's
    extra: dict[str, str] = field(default_factory=dict)  # --process NAME=COMMAND

    def describe(self) -> str:
        parts = [
            f"gunicorn {self.gunicorn}" + (f" nice {self.web_nice}" if self.web_nice else ""),
            f"celery {self.pool} x{self.concurrency}",
            f"CELERY_DB_REUSE_MAX={self.db_reuse_max}",
            f"shop rate {self.shop_rate}",
        ]
        parts += [f"{k}={v}" for k, v in sorted(self.env.items())]
        parts += [f"worker {' '.join(self.worker_args)}"] if self.worker_args else []
        parts += [f"+{name}" for name in self.extra]
        return ", ".join(parts)


def parse_server(text: str) -> tuple[str, int, int]:
    """`sync:4` (4 sync workers) or `gthread:2x4` (2 workers of 4 threads)."""
    kind, _, size = text.partition(":")
    workers, _, threads = size.partition("x")
    return kind, int(workers), int(threads or 1)


def parse_pairs(items: list[str] | None, what: str) -> dict[str, str]:
    pairs = {}
    for item in items or []:
        key, sep, value = item.partition("=")
        if not sep or not key:
            raise SystemExit(f"{what} wants KEY=VALUE, got {item!r}")
        pairs[key] = value
    return pairs


# --- the stack ---------------------------------------------------------------------------------


@dataclass
class Stack:
    """A stub Cartly, the engine's database, one connection and one recipe; then the servers."""

    processes: Processes
    config: EngineConfig = field(default_factory=EngineConfig)
    web_port: int = field(default_factory=free_port)
    stub_port: int = field(default_factory=free_port)
    secret: str = field(default_factory=lambda: secrets.token_urlsafe(24))
    stub_token: str = field(default_factory=lambda: secrets.token_urlsafe(24))
    subscription_token: str = ""
    signer: Signer | None = None
    recipe_id: int = 0

    @property
    def workdir(self) -> Path:
        return self.processes.logdir

    @property
    def hook_path(self) -> str:
        return f"/hooks/cartly/{self.subscription_token}/"

    def engine_env(self, **extra: str) -> dict[str, str]:
        env = {
            k: v
            for k, v in os.environ.items()
            if not k.startswith(("SANDBOX_", "CARTLY_", "DJANGO_", "BENCH_"))
        }
        env.update(
            {
                "DJANGO_SETTINGS_MODULE": "bench.settings",
                "VAR_DIR": str(self.workdir / "engine"),
                "DATABASE_URL": f"{PG_ROOT}/{ENGINE_DB}",
                "REDIS_URL": REDIS_URL,
                "CONN_MAX_AGE": "600",
                "DEBUG": "0",
                "SECRET_KEY": "bench-only-secret-key-not-for-production-0123456789",
                "FIELD_ENCRYPTION_KEYS": BENCH_FERNET_KEY,
                # Plain HTTP on loopback: the production redirect to HTTPS would answer 301.
                "SECURE_SSL_REDIRECT": "0",
                "LOG_LEVEL": "WARNING",
                "PUBLIC_BASE_URL": f"http://127.0.0.1:{self.web_port}",
                "CARTLY_BASE_URL": f"http://127.0.0.1:{self.stub_port}",
                "CARTLY_CLIENT_ID": "bench",
                "CARTLY_CLIENT_SECRET": self.secret,
                "CARTLY_SHOP_RATE_PER_SECOND": self.config.shop_rate,
                "CELERY_DB_REUSE_MAX": str(self.config.db_reuse_max),
                "PYTHONUNBUFFERED": "1",
            }
        )
        env.update(self.config.env)
        env.update(extra)
        return env

    def start_stub(self) -> None:
        self.processes.start(
            "stub",
            [
                PYTHON,
                "-m",
                "bench.stub_cartly",
                "--port",
                str(self.stub_port),
                f"--token={self.stub_token}",  # a token may begin with "-"
                "--max-seconds",
                str(STUB_MAX_SECONDS),
            ],
            {"PATH": os.environ.get("PATH", ""), "PYTHONUNBUFFERED": "1"},
        )
        _wait_http(self.stub_port, "/stats", self.processes)

    def stub_stats(self) -> dict:
        import http.client

        conn = http.client.HTTPConnection("127.0.0.1", self.stub_port, timeout=10)
        conn.request("GET", "/stats")
        stats = json.loads(conn.getresponse().read())
        conn.close()
        return stats

    def setup_engine(self, steps: list[dict]) -> None:
        """Migrate; then in this process a user, a connection (its token is the stub's), the
        recipe, turned on, which registers its REST Hook at the stub."""
        (self.workdir / "engine").mkdir(parents=True, exist_ok=True)
        recreate_database(ENGINE_DB)
        env = self.engine_env()
        migrate = subprocess.run(
            [PYTHON, "manage.py", "migrate", "--no-input"],
            cwd=REPO_DIR,
            env=env,
            capture_output=True,
            text=True,
            timeout=300,
        )
        if migrate.returncode:
            raise RuntimeError(f"migrate failed:\n{migrate.stdout}\n{migrate.stderr}")
        os.environ.update(env)
        os.environ["BENCH_APPLICATION_NAME"] = HARNESS_APP_NAME  # bench/settings.py reads it
        import django

        django.setup()
        self._connect_and_enable(steps)

    def _connect_and_enable(self, steps: list[dict]) -> None:
        from django.contrib.auth.models import User
        from django.db import connections as dbs

        from automations.documents import create_recipe
        from automations.models import Subscription
        from automations.subscriptions import enable_recipe
        from connectors import connections
        from connectors.cartly.constants import CARTLY_SCOPES

        owner = User.objects.create_user("bench", password="bench-password-123")
        token = {
            "access_token": self.stub_token,
            "refresh_token": "bench-refresh",
            "token_type": "Bearer",
            "expires_in": 36000,
            "scope": " ".join(CARTLY_SCOPES),
        }
        connection = connections.connect(owner, token)  # GET /apps/api/me at the stub
        recipe = create_recipe(
            owner,
            connection,
            {
                "format": "cartly-automations/recipe@1",
                "name": "Bench: new order to customer",
                "trigger": "cartly.order_created",
                "mode": "instant",
                "steps": steps,
            },
        )
        enable_recipe(recipe)
        subscription = Subscription.objects.get(connection=connection, event_type="order.created")
        if not subscription.remote_id:
            raise RuntimeError(f"the hook was not registered: {subscription.status_reason}")
        self.subscription_token = subscription.token
        self.signer = Signer(
            self.secret, connection.shop_id, connection.shop_domain, subscription.remote_id
        )
        self.recipe_id = recipe.pk
        dbs.close_all()

    def start_gunicorn(self, server: str | None = None) -> None:
        kind, workers, threads = parse_server(server or self.config.gunicorn)
        argv = [
            str(VENV_BIN / "gunicorn"),
            "config.wsgi:application",
            "--bind",
            f"127.0.0.1:{self.web_port}",
            "--workers",
            str(workers),
            "--worker-class",
            kind,
            "--backlog",
            "512",
            "--log-level",
            "warning",
            "--keep-alive",
            "30",
        ]
        if kind == "gthread":
            argv += ["--threads", str(threads)]
        if self.config.web_nice:  # nice execs gunicorn: the same process, a lower priority
            argv = ["nice", "-n", str(self.config.web_nice), *argv]
        self.processes.start("gunicorn", argv, self.engine_env())
        _wait_http(self.web_port, "/bench/bare/", self.processes)

    def start_worker(self) -> None:
        cfg = self.config
        self.processes.start(
            "celery",
            [
                str(VENV_BIN / "celery"),
                "-A",
                "config",
                "worker",
                "--pool",
                cfg.pool,
                "--concurrency",
                str(cfg.concurrency),
                "--loglevel",
                "WARNING",
                "--hostname",
                f"bench-{os.getpid()}@%h",
                *cfg.worker_args,
            ],
            self.engine_env(),
        )
        for name, command in cfg.extra.items():
            self.processes.start(name, shlex.split(command), self.engine_env())
        self._wait_for_worker()

    def _wait_for_worker(self) -> None:
        from config.celery import app

        deadline = time.monotonic() + STARTUP_TIMEOUT
        while time.monotonic() < deadline:
            self.processes.check_alive()
            if app.control.ping(timeout=0.5):
                return
        raise RuntimeError(f"the Celery worker did not answer:\n{self.processes.tail('celery')}")

    def stop_worker(self) -> None:
        for name in ["celery", *self.config.extra]:
            self.processes.stop(name)

    def pss_groups(self) -> tuple[str, ...]:
        return ("gunicorn", "celery", *self.config.extra)

    def log_start(self) -> None:
        log(f"engine: {self.config.describe()}")
