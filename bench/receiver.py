"""Receiver benchmark: signed deliveries to /hooks/cartly/<token>/ vs a bare Django endpoint,
on the same gunicorn, with the same client (DESIGN.md, "Speed is part of the design").

    .venv/bin/python -m bench.receiver [--requests 3000] [--concurrency 16]
        [--server sync:4 --server gthread:2x4] [--duration 10] [--json FILE]

Each delivery is a distinct order.created (the n8n anchor's order in Cartly's envelope), signed
with the configured CARTLY_CLIENT_SECRET, to the token of a Subscription registered at the stub
Cartly. No Celery worker runs: whatever the receiver publishes stays in Redis db 9, which is
flushed at the end. With --duration, wrk holds --concurrency connections for that many seconds
per endpoint (the shape `make bench` uses); without it, a Python client sends --requests each.
"""

from __future__ import annotations

import argparse
import json
import time

from bench.accounting import Meter, format_cpu, per_unit_ms
from bench.deliveries import Sequence, make
from bench.e2e import run_tag
from bench.procs import git_commit, log, machine, open_processes
from bench.pyclient import post_all
from bench.stack import ENGINE_DB, Backends, EngineConfig, Stack, flush_broker
from bench.wrk import run_wrk

MAX_SECONDS_PER_PHASE = 45.0
WARMUP_REQUESTS = 200
WARMUP_SECONDS = 3.0
BARE_PATH = "/bench/bare/"
MAX_RATE = 5000  # deliveries made per second of wrk load; each is sent once
STEPS = [
    {
        "key": "customer",
        "operation": "cartly.create_customer",
        "fields": {"email": "{{ trigger.customer.email }}"},
    }
]


def _by_count(stack: Stack, seq: Sequence, path: str, count: int, concurrency: int) -> dict:
    deliveries = make(stack.signer, seq.take(count), seq.tag)
    meter = Meter(stack.processes.pgids(), Backends(ENGINE_DB), ("gunicorn",)).start()
    result = post_all(stack.web_port, path, deliveries, concurrency, MAX_SECONDS_PER_PHASE)
    meter.add("load client", result.client_cpu)
    cpu = meter.stop()
    return {
        "requests": result.sent,
        "seconds": round(result.wall, 3),
        "rps": round(result.rps, 1),
        "p50_ms": round(result.pct(0.5), 2),
        "p99_ms": round(result.pct(0.99), 2),
        "statuses": result.statuses,
        "errors": result.errors,
        "cpu": cpu,
    }


def _by_time(stack: Stack, seq: Sequence, path: str, seconds: float, connections: int) -> dict:
    meter = Meter(stack.processes.pgids(), Backends(ENGINE_DB), ("gunicorn",)).start()
    result = run_wrk(
        stack.web_port,
        path,
        stack.signer,
        seq.take(int(seconds * MAX_RATE)),
        seq.tag,
        stack.workdir,
        seconds,
        connections,
    )
    meter.add("load client", result.cpu_s)
    cpu = meter.stop()
    return {
        "requests": result.accepted,
        "seconds": result.duration_s,
        "rps": round(result.rate, 1),
        "p50_ms": result.p50_ms,
        "p99_ms": result.p99_ms,
        "statuses": {"2xx": result.accepted, "other": result.non_2xx},
        "errors": result.socket_errors,
        "out_of_deliveries": result.out_of_deliveries,
        "cpu": cpu,
    }


def _stored() -> int:
    from automations.models import Event

    return Event.objects.count()


def measure(
    stack: Stack,
    seq: Sequence,
    path: str,
    label: str,
    concurrency: int,
    count: int = 0,
    seconds: float = 0.0,
) -> dict:
    """One endpoint under load: by wrk for `seconds`, else `count` requests from Python."""
    if seconds:
        run_wrk(
            stack.web_port,
            path,
            stack.signer,
            seq.take(int(WARMUP_SECONDS * MAX_RATE)),
            seq.tag,
            stack.workdir,
            WARMUP_SECONDS,
            concurrency,
        )
        stored_before = _stored()
        row = _by_time(stack, seq, path, seconds, concurrency)
    else:
        post_all(
            stack.web_port,
            path,
            make(stack.signer, seq.take(WARMUP_REQUESTS), seq.tag),
            concurrency,
            MAX_SECONDS_PER_PHASE,
        )
        stored_before = _stored()
        row = _by_count(stack, seq, path, count, concurrency)
    row["events_stored"] = _stored() - stored_before  # the warm-up's excluded
    cpu = row.pop("cpu")
    log(
        f"{label}: {row['requests']} in {row['seconds']:.1f}s = {row['rps']:.0f} req/s, "
        f"p50 {row['p50_ms']:.1f} ms, p99 {row['p99_ms']:.1f} ms, {row['statuses']}"
    )
    print(f"[{label}] CPU by component\n" + format_cpu(cpu, row["requests"], "req"), flush=True)
    return {"label": label, **row, "cpu_ms_per_req": per_unit_ms(cpu, row["requests"])}


def bare_and_receiver(
    stack: Stack, seq: Sequence, name: str, concurrency: int, count: int = 0, seconds: float = 0.0
) -> dict:
    """Bare endpoint, then the receiver, on the running gunicorn; checks what was stored."""
    bare = measure(stack, seq, BARE_PATH, f"{name} bare", concurrency, count, seconds)
    hook = measure(stack, seq, stack.hook_path, f"{name} receiver", concurrency, count, seconds)
    # wrk does not count the answers still in flight when it stops: stored may exceed answered,
    # never fall short of it (an answered delivery is a stored one).
    if hook["events_stored"] < hook["requests"]:
        log(f"WARNING: {hook['events_stored']} events stored for {hook['requests']} answers")
    hook["ratio_to_bare"] = round(hook["rps"] / bare["rps"], 3) if bare["rps"] else None
    return {"server": name, "bare": bare, "receiver": hook}


def each_server(args: argparse.Namespace) -> list[dict]:
    """One stack; per --server a gunicorn measured bare, then receiving."""
    stack = Stack(open_processes(), EngineConfig())
    seq = Sequence(run_tag())
    results = []
    try:
        stack.start_stub()
        stack.setup_engine(STEPS)
        flush_broker()
        for server in args.server or ["gthread:1x8", "gthread:2x4", "sync:4"]:
            stack.start_gunicorn(server)
            results.append(bare_and_receiver(stack, seq, server, args.concurrency,
                                             args.requests, args.duration))  # fmt: skip
            stack.processes.stop("gunicorn")
            flush_broker()
    finally:
        stack.processes.stop_all()
        flush_broker()
    return results


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--requests", type=int, default=3000)
    parser.add_argument("--concurrency", type=int, default=16)
    parser.add_argument("--server", action="append", help="sync:N or gthread:NxT (repeatable)")
    parser.add_argument(
        "--duration",
        type=float,
        default=0.0,
        help="seconds of wrk load per endpoint instead of --requests",
    )
    parser.add_argument("--json", help="also write the results to this file")
    args = parser.parse_args()

    started = time.monotonic()
    log(f"machine: {machine()}; commit {git_commit()}")
    results = each_server(args)

    shape = (
        f"{args.duration:g} s of wrk per row"
        if args.duration
        else f"{args.requests} requests per row"
    )
    print(
        f"\nmachine: {machine()}; {args.concurrency} connections, {shape}; "
        f"total {time.monotonic() - started:.0f}s"
    )
    print(table(results))
    if args.json:
        with open(args.json, "w") as f:
            json.dump(
                {"machine": machine(), "commit": git_commit(), "results": results}, f, indent=2
            )


def table(results: list[dict]) -> str:
    lines = [
        "| server | endpoint | req/s | p50 ms | p99 ms | receiver/bare | gunicorn CPU ms/req |",
        "| --- | --- | ---: | ---: | ---: | ---: | ---: |",
    ]
    for row in results:
        for key in ("bare", "receiver"):
            r = row[key]
            ratio = f"{r['ratio_to_bare']:.2f}" if key == "receiver" else ""
            lines.append(
                f"| {row['server']} | {key} | {r['rps']:.0f} | {r['p50_ms']:.1f} | "
                f"{r['p99_ms']:.1f} | {ratio} | "
                f"{r['cpu_ms_per_req'].get('gunicorn', 0):.2f} |"
            )
    return "\n".join(lines)


if __name__ == "__main__":
    main()
