"""`make bench`: every figure of issue 11's Goal in one sitting, beside n8n measured just after.

    .venv/bin/python -m bench.suite [--runs 2] [--duration 30] [--n8n auto|skip|install]
        [engine options: --pool --concurrency --gunicorn --env KEY=VALUE --worker-arg --process]

In order, on one stack (stub Cartly, PostgreSQL `cartly_bench`, Redis db 9): the receiver and a
bare endpoint under the same gunicorn (wrk, the same connections, no worker); then with the
Celery worker: the no-op task rate, a warm-up and the measured end-to-end runs; then, worker
stopped, the dispatch benchmark (10,000 other recipes vs none); then, everything of ours
stopped, ../shared/bench-n8n/run.sh with the same duration and connections when n8n is
installed (`--n8n install` lets run.sh install it, ~11 minutes; `make test` never does).
"""

from __future__ import annotations

import argparse
import json
import math
import statistics
import time

from bench import dispatch, e2e, n8n
from bench.cli import add_engine_options, add_load_options, engine_config
from bench.deliveries import Sequence
from bench.procs import git_commit, log, machine, open_processes
from bench.receiver import bare_and_receiver
from bench.stack import Stack, flush_broker
from bench.throughput import measure_engine

RECEIVER_SECONDS = 10.0


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    add_engine_options(parser)
    add_load_options(parser)
    parser.add_argument("--receiver-seconds", type=float, default=RECEIVER_SECONDS)
    parser.add_argument("--dispatch-events", type=int, default=300)
    parser.add_argument(
        "--n8n",
        default="auto",
        choices=["auto", "skip", "install"],
        help="auto: run n8n's run.sh when n8n is installed",
    )
    parser.add_argument("--json", help="also write every figure to this file")
    args = parser.parse_args()

    started = time.monotonic()
    stack = Stack(open_processes(), engine_config(args))
    result: dict = {
        "machine_at_start": machine(),
        "commit": git_commit(),
        "config": stack.config.describe(),
        "started": time.strftime("%Y-%m-%d %H:%M"),
    }
    log(f"machine: {result['machine_at_start']}; commit {result['commit']}")
    log(f"engine: {result['config']}")
    try:
        result.update(ours(stack, args))
    finally:
        stack.processes.stop_all()
        flush_broker()
    result["n8n"] = peer(args, stack)
    result["machine_at_end"] = machine()
    result["seconds"] = round(time.monotonic() - started)
    print_report(result)
    if args.json:
        with open(args.json, "w") as f:
            json.dump(result, f, indent=2, default=str)


def ours(stack: Stack, args: argparse.Namespace) -> dict:
    seq = Sequence(e2e.run_tag())
    stack.start_stub()
    stack.setup_engine(e2e.STEPS)
    from automations.models import Event  # only once setup_engine has configured Django

    flush_broker()
    stack.start_gunicorn()
    receiver = bare_and_receiver(
        stack, seq, stack.config.gunicorn, args.connections, seconds=args.receiver_seconds
    )
    Event.objects.all().delete()  # no worker ran: none of these may reach the next phases
    flush_broker()
    stack.start_worker()
    engine = measure_engine(stack, seq, args)
    stack.stop_worker()
    flush_broker()
    dispatched = dispatch.run(args.dispatch_events, 10_000, seq.tag)
    return {"receiver": receiver, **engine, "dispatch": dispatched}


def peer(args: argparse.Namespace, stack: Stack) -> dict | None:
    if args.n8n == "skip" or (args.n8n == "auto" and not n8n.installed()):
        log("n8n: not measured (not installed; `make bench N8N=install` installs it)")
        return None
    results = stack.workdir / "n8n"
    results.mkdir(exist_ok=True)
    try:
        return n8n.run(args.runs, args.duration, args.connections, results)
    except (RuntimeError, OSError) as exc:
        log(f"n8n: failed: {exc}")
        return None


def _mean(rows: list[dict], key: str) -> float:
    values = [r[key] for r in rows]
    return math.inf if math.inf in values else statistics.fmean(values)


def _spread(rows: list[dict], key: str) -> str:
    values = [r[key] for r in rows]
    if math.inf in values:
        return "> drain"
    return f"{min(values):g}–{max(values):g}" if len(values) > 1 else f"{values[0]:g}"


def goal_lines(result: dict) -> list[str]:
    """The Goal's figures, ours beside n8n's, as ratios (issue 11)."""
    runs, peer_ = result["runs"], result.get("n8n")
    rate = _mean(runs, "runs_per_s")
    p50 = _mean(runs, "event_to_finish_p50_ms")
    pss = max(sum(r["pss_mib"].values()) for r in runs)  # web + workers, largest seen
    cpu = statistics.fmean(
        sum(v for k, v in r["cpu_ms_per_run"].items() if k in ENGINE_COMPONENTS) for r in runs
    )
    ratio = result["receiver"]["receiver"]["ratio_to_bare"]
    backlog = max(r["backlog_after_2s"] for r in runs)

    def vs(ours_: float, key: str, goal: str) -> str:
        if not peer_:
            return f"n8n not measured | goal {goal} |"
        return f"{peer_[key]:g} | **{ours_ / peer_[key]:.2f}×** (goal {goal}) |"

    return [
        "| figure | ours | n8n | ours ÷ n8n (goal) |",
        "| --- | ---: | ---: | --- |",
        f"| runs/s end to end (runs: {_spread(runs, 'runs_per_s')}) | {rate:.1f} | "
        + vs(rate, "exec_per_s", "≥ 3"),
        f"| p50 event → run finished, ms (n8n: webhook p50) | {p50:.0f} | "
        + vs(p50, "webhook_p50_ms", "< 0.33"),
        f"| PSS web + workers, MiB (n8n: RSS of its tree) | {pss:.0f} | "
        + vs(pss, "rss_tree_max_mib", "< 0.33"),
        f"| engine CPU ms per run (n8n: per execution) | {cpu:.1f} | "
        + vs(cpu, "cpu_ms_per_exec", "—"),
        f"| backlog 2 s after the load (most of any run) | {backlog} | | goal 0 |",
        f"| receiver ÷ bare endpoint | {ratio:.2f} | | goal ≥ 0.40 |",
        f"| dispatch with 10,000 other recipes ÷ none | {result['dispatch']['worst_ratio']:.2f} |"
        " | goal ≤ 1.2 |",
    ]


ENGINE_COMPONENTS = ("gunicorn", "celery", "pg (our db)", "pg server", "redis")


def print_report(result: dict) -> None:
    print(
        f"\n# make bench — {result['started']}, commit {result['commit']}, {result['seconds']} s\n"
    )
    print(
        f"machine at start: {result['machine_at_start']}\nmachine at end:   "
        f"{result['machine_at_end']}\nengine: {result['config']}\n"
    )
    print("## Receiver vs bare endpoint (wrk, no worker)\n")
    from bench.receiver import table as receiver_table

    print(receiver_table([result["receiver"]]))
    print("\n## End to end\n")
    print(e2e.table(result["runs"], result["noop"]))
    print("\n## Dispatch: one event, 10,000 other enabled recipes vs none\n")
    print(dispatch.table(result["dispatch"]))
    peer_ = result.get("n8n")
    if peer_:
        print(
            f"\n## n8n (run.sh, same sitting; load average {peer_['load_average_before']} → "
            f"{peer_['load_average_after']})\n"
        )
        print("| run | exec/s | during load | webhook p50 / p99 ms | CPU ms/exec | RSS tree MiB |")
        print("| --- | ---: | ---: | --- | ---: | ---: |")
        for r in peer_["runs"]:
            print(
                f"| {r['label']} | {r['e2e_exec_per_s_incl_drain']} | "
                f"{r['e2e_exec_per_s_during_load']} | {r['lat_p50_ms']} / {r['lat_p99_ms']} | "
                f"{r['cpu_ms_per_exec']} | {r['rss_tree_max_mib']} |"
            )
    print("\n## Goal (issue 11), ratios of this sitting\n")
    print("\n".join(goal_lines(result)))


if __name__ == "__main__":
    main()
