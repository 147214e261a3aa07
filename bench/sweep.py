"""Compare engine configurations end to end (issue 11 item 4: ship the fastest).

    .venv/bin/python -m bench.sweep --passes 2 --duration 20 \\
        --config "--pool prefork --concurrency 2" --config "--pool threads --concurrency 8" \\
        --config "--gunicorn sync:4" --config "--env SOME_BATCH_SIZE=50"

Each --config is a set of bench.throughput options (engine options: --pool, --concurrency,
--gunicorn, --db-reuse-max, --env KEY=VALUE, --worker-arg, --process). Every pass runs each
configuration once, in turn, so a noisy neighbour spreads over all of them instead of spoiling
one; each run is its own bench.throughput process (fresh database, fresh processes). Prints one
row per run and the mean per configuration.
"""

from __future__ import annotations

import argparse
import json
import shlex
import statistics
import subprocess
import tempfile
from pathlib import Path

from bench.procs import PYTHON, REPO_DIR, git_commit, log, machine

RUN_TIMEOUT = 3600


def run_one(config: str, common: list[str], out: Path) -> dict | None:
    argv = [
        PYTHON,
        "-m",
        "bench.throughput",
        *common,
        *shlex.split(config),
        "--runs",
        "1",
        "--json",
        str(out),
    ]
    done = subprocess.run(argv, cwd=REPO_DIR, capture_output=True, text=True, timeout=RUN_TIMEOUT)
    if done.returncode:
        log(f"[{config}] failed:\n{done.stderr[-2000:]}")
        return None
    result = json.loads(out.read_text())
    run = result["runs"][0]
    run["noop_tasks_per_s"] = result["noop"]["tasks_per_s"]
    return run


def row(config: str, r: dict) -> str:
    cpu = r["cpu_ms_per_run"]
    engine = sum(cpu.get(k, 0) for k in ("gunicorn", "celery", "pg (our db)", "pg server", "redis"))
    return (
        f"| `{config}` | {r['load_average_before']} | {r['runs_per_s']} | "
        f"{r['runs_per_s_during_load']} | {r['receive_per_s']} | {r['answer_p50_ms']:.0f} | "
        f"{r['event_to_finish_p50_ms']:.0f} | {engine:.1f} | {cpu.get('other', 0):.1f} | "
        f"{sum(r['pss_mib'].values()):.0f} | {r['noop_tasks_per_s']} |"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument(
        "--config",
        action="append",
        required=True,
        help="bench.throughput options of one configuration (repeatable)",
    )
    parser.add_argument("--passes", type=int, default=2)
    parser.add_argument("--duration", type=float, default=20.0)
    parser.add_argument("--connections", type=int, default=16)
    parser.add_argument("--json", help="also write every run to this file")
    args = parser.parse_args()
    common = ["--duration", f"{args.duration:g}", "--connections", str(args.connections)]
    log(f"machine: {machine()}; commit {git_commit()}")
    runs: dict[str, list[dict]] = {c: [] for c in args.config}
    with tempfile.TemporaryDirectory(prefix="cartly-sweep-") as tmp:
        for index in range(args.passes):
            for number, config in enumerate(args.config):
                log(f"pass {index + 1}/{args.passes}: {config}")
                run = run_one(config, common, Path(tmp) / f"{index}-{number}.json")
                if run:
                    runs[config].append(run)
    print(
        f"\nmachine at end: {machine()}; {args.duration:g} s of load per run, "
        f"{args.connections} connections\n"
    )
    print(
        "| config | load avg | runs/s | during load | received/s | answer p50 ms | "
        "event→finished p50 ms | engine CPU ms/run | other CPU ms/run | PSS MiB | no-op/s |"
    )
    print("| --- | --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |")
    for config, rows in runs.items():
        for r in rows:
            print(row(config, r))
    print("\n| config | mean runs/s | runs |\n| --- | ---: | --- |")
    for config, rows in runs.items():
        rates = [r["runs_per_s"] for r in rows]
        mean = statistics.fmean(rates) if rates else 0.0
        print(f"| `{config}` | {mean:.1f} | {', '.join(f'{x:g}' for x in rates)} |")
    if args.json:
        Path(args.json).write_text(json.dumps(runs, indent=2, default=str))


if __name__ == "__main__":
    main()
