"""The benchmark harness: databases, child processes, a connected shop, signed deliveries,
a bounded HTTP load client and CPU accounting. Shared by bench/receiver.py and throughput.py.

Everything talks to 127.0.0.1 only. Every child runs in its own process group and the whole
group is terminated on exit (normal, exception, Ctrl-C or SIGTERM). Every loop is bounded in
both count and time.
"""

from __future__ import annotations

import atexit
import copy
import hashlib
import hmac
import http.client
import itertools
import json
import os
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from dataclasses import dataclass, field
from pathlib import Path

REPO_DIR = Path(__file__).resolve().parent.parent
PYTHON = str(REPO_DIR / ".venv" / "bin" / "python")
VENV_BIN = REPO_DIR / ".venv" / "bin"

PG_ROOT = os.environ.get("BENCH_PG_URL", "postgres://postgres@127.0.0.1:5432").rstrip("/")
ENGINE_DB = os.environ.get("BENCH_ENGINE_DB", "cartly_bench")
SANDBOX_DB = os.environ.get("BENCH_SANDBOX_DB", "cartly_bench_sandbox")
REDIS_URL = os.environ.get("BENCH_REDIS_URL", "redis://127.0.0.1:6379/9")

STARTUP_TIMEOUT = 60.0
STOP_TIMEOUT = 15.0
HTTP_TIMEOUT = 30.0
SAMPLE_ORDER = REPO_DIR / "connectors" / "cartly" / "samples" / "order__created.json"


def log(message: str) -> None:
    print(f"[bench {time.strftime('%H:%M:%S')}] {message}", file=sys.stderr, flush=True)


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


# --- processes -------------------------------------------------------------------------------


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
            argv, cwd=REPO_DIR, env=env, stdout=out, stderr=subprocess.STDOUT,
            start_new_session=True,  # its own group: stop() reaches gunicorn's / Celery's children
        )
        self.children[name] = process
        return process

    def pgids(self) -> dict[int, str]:
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


# --- databases and broker ----------------------------------------------------------------------


def recreate_database(name: str) -> None:
    import psycopg

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


# --- CPU accounting --------------------------------------------------------------------------


def _ticks() -> float:
    return float(os.sysconf("SC_CLK_TCK"))


def postgres_backends() -> dict[int, str]:
    """Backend pid → "postgres <database>" for the benchmark's two databases."""
    import psycopg

    names = {ENGINE_DB: "pg engine db", SANDBOX_DB: "pg sandbox db"}
    with psycopg.connect(f"{PG_ROOT}/postgres", autocommit=True) as conn:
        rows = conn.execute("SELECT pid, datname FROM pg_stat_activity").fetchall()
    return {pid: names[db] for pid, db in rows if db in names}


def cpu_snapshot(groups: dict[int, str]) -> dict[str, float]:
    """CPU seconds by component: our process groups by name, the PostgreSQL backends of our
    two databases, the rest of postgres ("pg other": other databases, background processes,
    backends that exited), redis, this harness ("client"), and everything else on the machine
    ("other"). Children's reaped time is counted (cutime), so a short-lived child is not lost."""
    backends = postgres_backends()
    totals: dict[str, float] = {}
    me = os.getpid()
    hz = _ticks()
    for entry in os.scandir("/proc"):
        if not entry.name.isdigit():
            continue
        try:
            with open(f"/proc/{entry.name}/stat") as f:
                raw = f.read()
        except OSError:
            continue
        comm = raw[raw.index("(") + 1 : raw.rindex(")")]
        rest = raw[raw.rindex(")") + 2 :].split()
        pgrp = int(rest[2])
        seconds = sum(int(x) for x in rest[11:15]) / hz  # utime stime cutime cstime
        pid = int(entry.name)
        if pgrp in groups:
            name = groups[pgrp]
        elif pid == me:
            name = "client"
        elif pid in backends:
            name = backends[pid]
        elif comm.startswith("postgres"):
            name = "pg other"
        elif comm.startswith("redis-server"):
            name = "redis"
        else:
            name = "other"
        totals[name] = totals.get(name, 0.0) + seconds
    with open("/proc/stat") as f:
        fields = [int(x) for x in f.readline().split()[1:]]
    idle = fields[3] + fields[4]
    totals["machine busy"] = (sum(fields[:8]) - idle) / hz
    totals["machine total"] = sum(fields[:8]) / hz
    return totals


def cpu_delta(before: dict[str, float], after: dict[str, float]) -> dict[str, float]:
    return {k: after.get(k, 0.0) - before.get(k, 0.0) for k in after}


def format_cpu(delta: dict[str, float], per: int, unit: str) -> str:
    """One line per component: CPU seconds, share of the machine, CPU ms per unit of work."""
    capacity = delta.get("machine total", 0.0) or 1.0
    rows = [f"  {'component':<16} {'cpu s':>7} {'% of 2 cores':>13} {f'cpu ms/{unit}':>12}"]
    keys = sorted((k for k in delta if not k.startswith("machine")), key=lambda k: -delta[k])
    for key in [*keys, "machine busy"]:
        seconds = delta[key]
        rows.append(
            f"  {key:<16} {seconds:7.2f} {100 * seconds / capacity:12.0f}% "
            f"{1000 * seconds / max(per, 1):12.2f}"
        )
    return "\n".join(rows)


# --- deliveries ----------------------------------------------------------------------------------


@dataclass
class Delivery:
    body: bytes
    headers: dict[str, str]


def order(index: int, tag: str) -> dict:
    """A distinct order in the shape of the connector's sample (unique id, number, email)."""
    data = copy.deepcopy(json.loads(SAMPLE_ORDER.read_text()))
    data["id"] = f"ord_B{tag}{index:08d}"
    data["number"] = 100000 + index
    data["email"] = f"buyer-{tag}-{index}@example.com".lower()
    data["customer"]["email"] = data["email"]
    data["customer"]["id"] = f"cus_B{tag}{index:08d}"
    return data


def signed_deliveries(
    count: int, secret: str, shop_id: str, shop_domain: str, webhook_id: str, tag: str
) -> list[Delivery]:
    """`count` order.created deliveries signed as Cartly signs them (cartly-api.md)."""
    out = []
    created_at = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())
    for index in range(count):
        envelope = {
            "id": f"evt_B{tag}{index:08d}",
            "event": "order.created",
            "created_at": created_at,
            "shop_id": shop_id,
            "data": order(index, tag),
        }
        body = json.dumps(envelope, separators=(",", ":")).encode()
        digest = hmac.new(secret.encode(), body, hashlib.sha256).hexdigest()
        out.append(Delivery(body, {
            "Content-Type": "application/json",
            "X-Cartly-Hmac-Sha256": f"sha256={digest}",
            "X-Cartly-Webhook-Id": webhook_id,
            "X-Cartly-Shop-Domain": shop_domain,
        }))
    return out


def run_tag() -> str:
    return uuid.uuid4().hex[:8].upper()


# --- the load client ----------------------------------------------------------------------------


@dataclass
class LoadResult:
    sent: int
    wall: float
    latencies: list[float]
    statuses: dict[int, int]
    errors: int
    client_cpu: float
    started_at: float  # time.time() of the first request

    @property
    def rps(self) -> float:
        return self.sent / self.wall if self.wall else 0.0

    def pct(self, q: float) -> float:
        if not self.latencies:
            return float("nan")
        ordered = sorted(self.latencies)
        return ordered[min(len(ordered) - 1, int(q * len(ordered)))] * 1000

    def summary(self) -> str:
        mean = statistics.fmean(self.latencies) * 1000 if self.latencies else float("nan")
        return (
            f"{self.sent} requests in {self.wall:.2f}s = {self.rps:.0f} req/s; latency ms "
            f"p50 {self.pct(0.5):.1f} p99 {self.pct(0.99):.1f} mean {mean:.1f}; "
            f"statuses {dict(sorted(self.statuses.items()))}, errors {self.errors}"
        )


def post_all(
    port: int, path: str, deliveries: list[Delivery], concurrency: int, max_seconds: float
) -> LoadResult:
    """POST every delivery once from `concurrency` keep-alive connections, stopping early at
    `max_seconds`. Bodies are made beforehand, so the client spends little CPU per request."""
    counter = itertools.count()
    lock = threading.Lock()
    latencies: list[float] = []
    statuses: dict[int, int] = {}
    errors = [0]
    deadline = time.monotonic() + max_seconds

    def worker() -> None:
        conn = http.client.HTTPConnection("127.0.0.1", port, timeout=HTTP_TIMEOUT)
        mine: list[float] = []
        codes: dict[int, int] = {}
        failed = 0
        while time.monotonic() < deadline:
            index = next(counter)
            if index >= len(deliveries):
                break
            delivery = deliveries[index]
            start = time.perf_counter()
            try:
                conn.request("POST", path, body=delivery.body, headers=delivery.headers)
                answer = conn.getresponse()
                answer.read()
            except (OSError, http.client.HTTPException):
                failed += 1
                conn.close()
                conn = http.client.HTTPConnection("127.0.0.1", port, timeout=HTTP_TIMEOUT)
                continue
            mine.append(time.perf_counter() - start)
            codes[answer.status] = codes.get(answer.status, 0) + 1
        conn.close()
        with lock:
            latencies.extend(mine)
            errors[0] += failed
            for code, n in codes.items():
                statuses[code] = statuses.get(code, 0) + n

    threads = [threading.Thread(target=worker, daemon=True) for _ in range(concurrency)]
    cpu0 = time.process_time()
    started_at = time.time()
    t0 = time.perf_counter()
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=max_seconds + HTTP_TIMEOUT + 5)
    wall = time.perf_counter() - t0
    return LoadResult(
        sent=len(latencies), wall=wall, latencies=latencies, statuses=statuses,
        errors=errors[0], client_cpu=time.process_time() - cpu0, started_at=started_at,
    )


def wait_http(port: int, path: str, processes: Processes, timeout: float = STARTUP_TIMEOUT):
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


# --- the stack: sandbox, engine database, a connected shop, a recipe -----------------------------


@dataclass
class Stack:
    """A sandbox shop on PostgreSQL, the engine's database, one connection and one recipe."""

    processes: Processes
    workdir: Path
    web_port: int = field(default_factory=free_port)
    sandbox_port: int = field(default_factory=free_port)
    seed: dict = field(default_factory=dict)
    shop_rate: str = "0"  # CARTLY_SHOP_RATE_PER_SECOND for the engine; 0 = off
    # SQLite is the sandbox's own default; on PostgreSQL it opens a connection per request
    # (sandbox/settings.py: conn_max_age=0), CPU this shared machine then does not give us.
    sandbox_db: str = "sqlite"
    subscription_token: str = ""
    webhook_id: str = ""
    shop_id: str = ""
    shop_domain: str = ""
    recipe_id: int = 0

    @property
    def sandbox_url(self) -> str:
        return f"http://127.0.0.1:{self.sandbox_port}"

    @property
    def web_url(self) -> str:
        return f"http://127.0.0.1:{self.web_port}"

    @property
    def secret(self) -> str:
        return self.seed["oauth"]["client_secret"]

    def sandbox_env(self) -> dict[str, str]:
        env = {k: v for k, v in os.environ.items()
               if not k.startswith(("SANDBOX_", "CARTLY_", "DJANGO_")) and k != "DATABASE_URL"}
        env.update({
            "VAR_DIR": str(self.workdir / "sandbox"),
            "SANDBOX_DATABASE_URL": (
                f"{PG_ROOT}/{SANDBOX_DB}" if self.sandbox_db == "postgres"
                else f"sqlite:///{self.workdir / 'sandbox' / 'sandbox.sqlite3'}"
            ),
            "SANDBOX_BASE_URL": self.sandbox_url,
            "SANDBOX_DEBUG": "0",
            "SANDBOX_LOG_LEVEL": "WARNING",
            "SANDBOX_RATE_LIMIT_PER_SECOND": "1000000",
            "SANDBOX_RATE_LIMIT_BURST": "1000000",
            "PYTHONUNBUFFERED": "1",
        })
        return env

    def engine_env(self, **extra: str) -> dict[str, str]:
        env = {k: v for k, v in os.environ.items()
               if not k.startswith(("SANDBOX_", "CARTLY_", "DJANGO_"))}
        env.update({
            "DJANGO_SETTINGS_MODULE": "bench.settings",
            "VAR_DIR": str(self.workdir / "engine"),
            "DATABASE_URL": f"{PG_ROOT}/{ENGINE_DB}",
            "REDIS_URL": REDIS_URL,
            "CONN_MAX_AGE": "600",
            "DEBUG": "0",
            "SECRET_KEY": "bench-only-secret-key-not-for-production-0123456789",
            "LOG_LEVEL": "WARNING",
            "PUBLIC_BASE_URL": self.web_url,
            "CARTLY_BASE_URL": self.sandbox_url,
            "CARTLY_SHOP_RATE_PER_SECOND": self.shop_rate,
            "PYTHONUNBUFFERED": "1",
        })
        if self.seed:
            env["CARTLY_CLIENT_ID"] = self.seed["oauth"]["client_id"]
            env["CARTLY_CLIENT_SECRET"] = self.secret
        env.update(extra)
        return env

    def _manage(self, env: dict[str, str], *args: str) -> str:
        result = subprocess.run(
            [PYTHON, "manage.py", *args], cwd=REPO_DIR, env=env, capture_output=True,
            text=True, timeout=180,
        )
        if result.returncode:
            raise RuntimeError(f"manage.py {' '.join(args)}:\n{result.stdout}\n{result.stderr}")
        return result.stdout

    def start_sandbox(self) -> None:
        (self.workdir / "sandbox").mkdir(parents=True, exist_ok=True)
        if self.sandbox_db == "postgres":
            recreate_database(SANDBOX_DB)
        env = self.sandbox_env()
        self._manage(env, "migrate", "--no-input", "--settings=sandbox.settings")
        redirect = f"{self.web_url}/connections/cartly/callback/"
        self.seed = json.loads(self._manage(
            env, "sandbox_seed", "--json", "--redirect-uri", redirect,
            "--settings=sandbox.settings",
        ))
        self.processes.start("sandbox", [
            PYTHON, "manage.py", "sandbox_serve", f"127.0.0.1:{self.sandbox_port}",
            "--no-worker", "--settings=sandbox.settings",
        ], env)
        wait_http(self.sandbox_port, "/login/", self.processes)

    def setup_engine(self, steps: list[dict]) -> None:
        """Migrate, then in this process: a user, the OAuth connection, the recipe, turned on."""
        (self.workdir / "engine").mkdir(parents=True, exist_ok=True)
        recreate_database(ENGINE_DB)
        env = self.engine_env()
        self._manage(env, "migrate", "--no-input")
        os.environ.update(env)
        import django

        django.setup()
        from django.contrib.auth.models import User

        from automations.documents import create_recipe
        from automations.models import Subscription
        from automations.subscriptions import enable_recipe
        from connectors import connections
        from connectors.cartly.constants import CARTLY_SCOPES
        from tests.sandbox_server import SandboxServer  # the OAuth consent dance, as a browser

        oauth = SandboxServer(self.workdir / "sandbox", port=self.sandbox_port)
        oauth.seed = self.seed
        callback = f"{self.web_url}/connections/cartly/callback/"
        token = oauth.authorize(" ".join(CARTLY_SCOPES), callback)
        owner = User.objects.create_user("bench", password="bench-password-123")
        connection = connections.connect(owner, token)
        recipe = create_recipe(owner, connection, {
            "format": "cartly-automations/recipe@1",
            "name": "Bench: new order to customer",
            "trigger": "cartly.order_created",
            "mode": "instant",
            "steps": steps,
        })
        enable_recipe(recipe)
        subscription = Subscription.objects.get(connection=connection, event_type="order.created")
        if not subscription.remote_id:
            raise RuntimeError(f"the hook was not registered: {subscription.status_reason}")
        self.subscription_token = subscription.token
        self.webhook_id = subscription.remote_id
        self.shop_id = connection.shop_id
        self.shop_domain = connection.shop_domain
        self.recipe_id = recipe.pk
        from django.db import connections as dbs

        dbs.close_all()

    def deliveries(self, count: int, tag: str) -> list[Delivery]:
        return signed_deliveries(
            count, self.secret, self.shop_id, self.shop_domain, self.webhook_id, tag
        )

    @property
    def hook_path(self) -> str:
        return f"/hooks/cartly/{self.subscription_token}/"

    def start_gunicorn(self, worker_class: str, workers: int, threads: int) -> None:
        argv = [
            str(VENV_BIN / "gunicorn"), "config.wsgi:application",
            "--bind", f"127.0.0.1:{self.web_port}", "--workers", str(workers),
            "--worker-class", worker_class, "--backlog", "512",
            "--log-level", "warning", "--keep-alive", "30",
        ]
        if worker_class == "gthread":
            argv += ["--threads", str(threads)]
        self.processes.start("gunicorn", argv, self.engine_env())
        wait_http(self.web_port, "/bench/bare/", self.processes)

    def start_worker(self, pool: str, concurrency: int, db_reuse_max: int) -> None:
        self.processes.start("celery", [
            str(VENV_BIN / "celery"), "-A", "config", "worker", "--pool", pool,
            "--concurrency", str(concurrency), "--loglevel", "WARNING",
            "--hostname", f"bench-{os.getpid()}@%h",
        ], self.engine_env(CELERY_DB_REUSE_MAX=str(db_reuse_max)))
        from config.celery import app

        deadline = time.monotonic() + STARTUP_TIMEOUT
        while time.monotonic() < deadline:
            self.processes.check_alive()
            if app.control.ping(timeout=0.5):
                return
        raise RuntimeError(f"the Celery worker did not answer:\n{self.processes.tail('celery')}")


def open_stack(shop_rate: str = "0") -> Stack:
    """A Stack whose processes are stopped however this interpreter ends."""
    workdir = Path(tempfile.mkdtemp(prefix="cartly-bench-"))
    processes = Processes(workdir)
    atexit.register(processes.stop_all)

    def on_signal(signum, frame):
        processes.stop_all()
        raise SystemExit(128 + signum)

    signal.signal(signal.SIGTERM, on_signal)
    signal.signal(signal.SIGHUP, on_signal)
    log(f"work directory {workdir} (logs of every child process)")
    return Stack(processes=processes, workdir=workdir, shop_rate=shop_rate)


def machine() -> str:
    model = "?"
    with open("/proc/cpuinfo") as f:
        for line in f:
            if line.startswith("model name"):
                model = line.split(":", 1)[1].strip()
                break
    with open("/proc/loadavg") as f:
        load = " ".join(f.read().split()[:3])
    return f"{os.cpu_count()} CPUs ({model}), load average {load}"
