"""End-to-end throughput: webhook → map six fields → one HTTP call (DESIGN.md's workload).

    .venv/bin/python -m bench.throughput [--events 1500] [--pool prefork] [--concurrency 4]
        [--gunicorn gthread:2x4] [--db-reuse-max 100] [--noop-tasks 4000]

A recipe "New Order → Create Customer" with six mapped fields is turned on at a sandbox shop
(its REST Hook registered for real); N distinct, signed order.created deliveries are POSTed to
the receiver under gunicorn; Celery workers dispatch them and run the step against the sandbox
(`sandbox_serve`, rate limit lifted). Runs/s counts from the first POST to the last run's
`finished_at`. The denominator is a no-op Celery task on the same broker and worker pool; a
run is two tasks (dispatch, then the step), so the pool's ceiling is half the no-op rate.
"""

from __future__ import annotations

import argparse
import json
import statistics
import threading
import time

from bench.stack import (
    broker_backlog,
    cpu_delta,
    cpu_snapshot,
    flush_broker,
    format_cpu,
    log,
    machine,
    open_stack,
    post_all,
    run_tag,
)
from bench.tasks import NOOP

MAX_SECONDS = 90.0  # the whole measured phase, posting included
POLL_SECONDS = 0.05
PRODUCERS = 4

SIX_FIELDS = {
    "email": "{{ trigger.email }}",
    "first_name": "{{ trigger.customer.first_name }}",
    "last_name": "{{ trigger.customer.last_name }}",
    "phone": "+1 555 {{ trigger.number }}",
    "tags": "buyer, {{ trigger.currency | lower }}",
    "note": "First order {{ trigger.number }}: {{ trigger.total_price }} {{ trigger.currency }}",
}
STEPS = [{"key": "customer", "operation": "cartly.create_customer", "fields": SIX_FIELDS}]


def noop_rate(count: int) -> dict:
    """Publish `count` no-op tasks from PRODUCERS threads; time until the broker is drained."""
    from config.celery import app

    flush_broker()
    per_thread = count // PRODUCERS
    deadline = time.monotonic() + MAX_SECONDS

    def produce(offset: int) -> None:
        for i in range(per_thread):
            if time.monotonic() > deadline:
                return
            app.send_task(NOOP, args=(offset + i,))

    threads = [threading.Thread(target=produce, args=(k * per_thread,)) for k in range(PRODUCERS)]
    t0 = time.perf_counter()
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=MAX_SECONDS)
    published = time.perf_counter() - t0
    while broker_backlog() and time.monotonic() < deadline:
        time.sleep(POLL_SECONDS / 5)
    wall = time.perf_counter() - t0
    total = per_thread * PRODUCERS
    return {"tasks": total, "publish_per_s": round(total / published),
            "tasks_per_s": round(total / wall, 1), "seconds": round(wall, 2),
            "drained": broker_backlog() == 0}


def run_counts(recipe_id: int) -> dict[str, int]:
    from django.db.models import Count

    from automations.models import Run

    rows = Run.objects.filter(recipe_id=recipe_id).values("status").annotate(n=Count("id"))
    return {row["status"]: row["n"] for row in rows}


def end_to_end(stack, events: int, concurrency: int) -> dict:
    from django.db import connection
    from django.db.models import Max, Min

    from automations.models import Event, Run

    deliveries = stack.deliveries(events, run_tag())
    groups = stack.processes.pgids()
    before = cpu_snapshot(groups)
    deadline = time.monotonic() + MAX_SECONDS
    posted = post_all(stack.web_port, stack.hook_path, deliveries, concurrency, MAX_SECONDS)
    log(f"posted: {posted.summary()}")
    done, counts = 0, {}
    while time.monotonic() < deadline:
        counts = run_counts(stack.recipe_id)
        done = sum(n for status, n in counts.items() if status not in ("queued", "running"))
        if done >= posted.statuses.get(200, 0):
            break
        time.sleep(POLL_SECONDS)
    delta = cpu_delta(before, cpu_snapshot(groups))
    finished = Run.objects.filter(recipe_id=stack.recipe_id, status="succeeded")
    bounds = finished.aggregate(last=Max("finished_at"), first_event=Min("event__received_at"))
    succeeded = counts.get("succeeded", 0)
    wall = bounds["last"].timestamp() - posted.started_at if bounds["last"] else float("nan")
    latencies = sorted(
        (f - r).total_seconds() * 1000
        for f, r in finished.values_list("finished_at", "event__received_at")
    )
    failures = list(
        Run.objects.filter(recipe_id=stack.recipe_id, status="failed")
        .values_list("failure_reason", flat=True)[:3]
    )
    with connection.cursor() as cursor:  # transactions in the engine's database, setup included
        cursor.execute(
            "SELECT xact_commit FROM pg_stat_database WHERE datname = current_database()"
        )
        commits = cursor.fetchone()[0]
    print(format_cpu(delta, succeeded, "run"), flush=True)

    def pct(q: float) -> float:
        return latencies[min(len(latencies) - 1, int(q * len(latencies)))] if latencies else 0

    return {
        "events_posted": posted.statuses.get(200, 0), "post_rps": round(posted.rps, 1),
        "post_p50_ms": round(posted.pct(0.5), 1), "post_p99_ms": round(posted.pct(0.99), 1),
        "runs": counts, "succeeded": succeeded, "seconds": round(wall, 2),
        "runs_per_s": round(succeeded / wall, 1) if succeeded else 0.0,
        "event_to_finish_ms": {
            "p50": round(pct(0.5)), "p99": round(pct(0.99)),
            "mean": round(statistics.fmean(latencies)) if latencies else 0,
        },
        "stored_events": Event.objects.count(),
        "engine_db_commits_total": commits,
        "failures": failures,
        "cpu_ms_per_run": {k: round(1000 * v / max(succeeded, 1), 2) for k, v in delta.items()},
    }


def parse_server(text: str) -> tuple[str, int, int]:
    kind, _, size = text.partition(":")
    workers, _, threads = size.partition("x")
    return kind, int(workers), int(threads or 1)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--events", type=int, default=1500)
    parser.add_argument("--post-concurrency", type=int, default=8)
    parser.add_argument("--pool", default="prefork", choices=["prefork", "threads"])
    parser.add_argument("--concurrency", type=int, default=4, help="Celery worker concurrency")
    parser.add_argument("--gunicorn", default="gthread:2x4", help="sync:N or gthread:NxT")
    parser.add_argument("--db-reuse-max", type=int, default=100,
                        help="CELERY_DB_REUSE_MAX for the worker (0: reconnect per task)")
    parser.add_argument("--shop-rate", default="0",
                        help="CARTLY_SHOP_RATE_PER_SECOND (0: off; the engine's default is 40)")
    parser.add_argument("--sandbox-db", default="sqlite", choices=["sqlite", "postgres"],
                        help="the sandbox's database (its default is SQLite)")
    parser.add_argument("--noop-tasks", type=int, default=4000)
    parser.add_argument("--json", help="also write the results to this file")
    args = parser.parse_args()

    started = time.monotonic()
    stack = open_stack(shop_rate=args.shop_rate)
    stack.sandbox_db = args.sandbox_db
    log(f"machine: {machine()}")
    try:
        stack.start_sandbox()
        stack.setup_engine(STEPS)
        flush_broker()
        stack.start_gunicorn(*parse_server(args.gunicorn))
        stack.start_worker(args.pool, args.concurrency, args.db_reuse_max)
        noop = noop_rate(args.noop_tasks)
        log(f"no-op tasks: {noop}")
        e2e = end_to_end(stack, args.events, args.post_concurrency)
    finally:
        stack.processes.stop_all()
        flush_broker()
    config = (f"gunicorn {args.gunicorn}, celery {args.pool} x{args.concurrency}, "
              f"CELERY_DB_REUSE_MAX={args.db_reuse_max}, shop rate {args.shop_rate}, "
              f"sandbox on {args.sandbox_db}")
    ceiling = noop["tasks_per_s"] / 2
    print(f"\nmachine: {machine()}; {config}; total {time.monotonic() - started:.0f}s")
    print(json.dumps({"noop": noop, "end_to_end": e2e}, indent=2, default=str))
    print("| config | runs/s | no-op tasks/s | runs/s ÷ (no-op/2) | vs n8n 37/s | "
          "vs target 110/s | event→done p50 / p99 ms |")
    print("| --- | ---: | ---: | ---: | ---: | ---: | ---: |")
    rate = e2e["runs_per_s"]
    print(f"| {config} | {rate:.0f} | {noop['tasks_per_s']:.0f} | {rate / ceiling:.2f} | "
          f"{rate / 37:.2f}× | {rate / 110:.2f}× | {e2e['event_to_finish_ms']['p50']} / "
          f"{e2e['event_to_finish_ms']['p99']} |")
    if args.json:
        with open(args.json, "w") as f:
            json.dump({"machine": machine(), "config": config, "noop": noop, "end_to_end": e2e},
                      f, indent=2, default=str)


if __name__ == "__main__":
    main()
