"""Receiver benchmark: signed deliveries to /hooks/cartly/<token>/ vs a bare Django endpoint,
on the same gunicorn, with the same client (DESIGN.md, "Speed is part of the design").

    .venv/bin/python -m bench.receiver [--requests 3000] [--concurrency 8]
        [--server sync:4 --server gthread:2x4]

Each delivery is a distinct order.created, signed with the configured CARTLY_CLIENT_SECRET, to
the token of a Subscription registered at a real sandbox shop. No Celery worker runs: the
dispatch messages the receiver publishes stay in Redis db 9, which is flushed at the end.
"""

from __future__ import annotations

import argparse
import json
import time

from bench.stack import (
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

MAX_SECONDS_PER_PHASE = 45.0
WARMUP_REQUESTS = 200
BARE_PATH = "/bench/bare/"


def parse_server(text: str) -> tuple[str, int, int]:
    """`sync:4` (4 sync workers) or `gthread:2x4` (2 workers of 4 threads)."""
    kind, _, size = text.partition(":")
    workers, _, threads = size.partition("x")
    return kind, int(workers), int(threads or 1)


def measure(stack, path: str, count: int, concurrency: int, label: str) -> dict:
    deliveries = stack.deliveries(count, run_tag())
    before = cpu_snapshot(stack.processes.pgids())
    result = post_all(stack.web_port, path, deliveries, concurrency, MAX_SECONDS_PER_PHASE)
    delta = cpu_delta(before, cpu_snapshot(stack.processes.pgids()))
    log(f"{label}: {result.summary()}")
    print(format_cpu(delta, result.sent, "req"), flush=True)
    return {
        "label": label, "requests": result.sent, "seconds": round(result.wall, 3),
        "rps": round(result.rps, 1), "p50_ms": round(result.pct(0.5), 2),
        "p99_ms": round(result.pct(0.99), 2), "statuses": result.statuses,
        "errors": result.errors,
        "cpu_ms_per_req": {k: round(1000 * v / max(result.sent, 1), 2) for k, v in delta.items()},
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--requests", type=int, default=3000)
    parser.add_argument("--concurrency", type=int, default=8)
    parser.add_argument("--server", action="append", help="sync:N or gthread:NxT (repeatable)")
    parser.add_argument("--json", help="also write the results to this file")
    args = parser.parse_args()
    servers = [parse_server(s) for s in (args.server or ["sync:4", "gthread:2x4"])]

    stack = open_stack()
    started = time.monotonic()
    log(f"machine: {machine()}")
    stack.start_sandbox()
    stack.setup_engine([{
        "key": "customer", "operation": "cartly.create_customer",
        "fields": {"email": "{{ trigger.email }}"},
    }])
    from automations.models import Event

    flush_broker()
    results = []
    try:
        for kind, workers, threads in servers:
            name = f"{kind} {workers}" + (f"x{threads}" if kind == "gthread" else "")
            stack.start_gunicorn(kind, workers, threads)
            for path in (BARE_PATH, stack.hook_path):  # warm both: imports, connections, caches
                post_all(stack.web_port, path, stack.deliveries(WARMUP_REQUESTS, run_tag()),
                         args.concurrency, MAX_SECONDS_PER_PHASE)
            stored_before = Event.objects.count()
            bare = measure(stack, BARE_PATH, args.requests, args.concurrency, f"{name} bare")
            hook = measure(stack, stack.hook_path, args.requests, args.concurrency,
                           f"{name} receiver")
            stored = Event.objects.count() - stored_before
            if stored != hook["statuses"].get(200, 0):
                log(f"WARNING: {stored} events stored for {hook['statuses']} answers")
            hook["ratio_to_bare"] = round(hook["rps"] / bare["rps"], 3) if bare["rps"] else None
            results.append({"server": name, "bare": bare, "receiver": hook})
            stack.processes.stop("gunicorn")
            flush_broker()
    finally:
        stack.processes.stop_all()
        flush_broker()

    print(f"\nmachine: {machine()}; client concurrency {args.concurrency}, "
          f"{args.requests} requests per row; total {time.monotonic() - started:.0f}s")
    print("| server | endpoint | req/s | p50 ms | p99 ms | receiver/bare |")
    print("| --- | --- | ---: | ---: | ---: | ---: |")
    for row in results:
        for key in ("bare", "receiver"):
            r = row[key]
            ratio = f"{r['ratio_to_bare']:.2f}" if key == "receiver" else ""
            print(f"| {row['server']} | {key} | {r['rps']:.0f} | {r['p50_ms']:.1f} | "
                  f"{r['p99_ms']:.1f} | {ratio} |")
    if args.json:
        with open(args.json, "w") as f:
            json.dump({"machine": machine(), "results": results}, f, indent=2)


if __name__ == "__main__":
    main()
