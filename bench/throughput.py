"""End to end, in the n8n anchor's load shape: webhook → map six fields → one HTTP call.

    .venv/bin/python -m bench.throughput [--duration 30] [--connections 16] [--runs 2]
        [--pool prefork] [--concurrency 2] [--gunicorn gthread:2x4] [--env KEY=VALUE …]

wrk holds a closed loop of 16 connections for a fixed time against the receiver under
gunicorn, each request a distinct, signed order.created delivery whose `data` is
../shared/bench-n8n/order.json; a Celery worker runs the recipe below, whose one step calls a
stub Cartly (bench/stub_cartly.py) that answers at once. Everything is read back from the
Event and Run rows. Also measured: the no-op Celery task rate on the same broker and pool.
"""

from __future__ import annotations

import argparse
import json
import threading
import time

from bench import e2e
from bench.cli import add_engine_options, add_load_options, engine_config
from bench.deliveries import Sequence
from bench.procs import git_commit, log, machine, open_processes
from bench.stack import Stack, broker_backlog, flush_broker
from bench.tasks import NOOP

MAX_NOOP_SECONDS = 90.0
POLL_SECONDS = 0.01
PRODUCERS = 4


def noop_rate(count: int) -> dict:
    """Publish `count` no-op tasks from PRODUCERS threads; time until the broker is drained."""
    from config.celery import app

    flush_broker()
    per_thread = count // PRODUCERS
    deadline = time.monotonic() + MAX_NOOP_SECONDS

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
        thread.join(timeout=MAX_NOOP_SECONDS)
    published = time.perf_counter() - t0
    while broker_backlog() and time.monotonic() < deadline:
        time.sleep(POLL_SECONDS)
    wall = time.perf_counter() - t0
    total = per_thread * PRODUCERS
    return {
        "tasks": total,
        "publish_per_s": round(total / published),
        "tasks_per_s": round(total / wall, 1),
        "seconds": round(wall, 2),
        "drained": broker_backlog() == 0,
    }


def measure_engine(stack: Stack, seq: Sequence, args: argparse.Namespace) -> dict:
    """With gunicorn and the worker running: the no-op rate, a warm-up, then args.runs runs."""
    noop = noop_rate(args.noop_tasks)
    log(f"no-op tasks: {noop}")
    if args.warmup:
        e2e.run_phase(
            stack, seq, "warmup", args.warmup, args.connections, args.drain_timeout, args.max_rate
        )
    runs = [
        e2e.run_phase(
            stack,
            seq,
            f"run{i + 1}",
            args.duration,
            args.connections,
            args.drain_timeout,
            args.max_rate,
        )
        for i in range(args.runs)
    ]
    return {"noop": noop, "runs": runs}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    add_engine_options(parser)
    add_load_options(parser)
    parser.add_argument("--json", help="also write the results to this file")
    args = parser.parse_args()

    started = time.monotonic()
    stack = Stack(open_processes(), engine_config(args))
    log(f"machine: {machine()}; commit {git_commit()}")
    try:
        stack.start_stub()
        stack.setup_engine(e2e.STEPS)
        flush_broker()
        stack.start_gunicorn()
        stack.start_worker()
        result = measure_engine(stack, Sequence(e2e.run_tag()), args)
    finally:
        stack.processes.stop_all()
        flush_broker()
    result.update(machine=machine(), commit=git_commit(), config=stack.config.describe())
    print(
        f"\nmachine: {machine()}; {stack.config.describe()}; "
        f"total {time.monotonic() - started:.0f}s"
    )
    print(e2e.table(result["runs"], result["noop"]))
    if args.json:
        with open(args.json, "w") as f:
            json.dump(result, f, indent=2, default=str)


if __name__ == "__main__":
    main()
