"""The n8n anchor, measured in the same sitting: runs ../shared/bench-n8n/run.sh and reads its
RESULT_JSON lines. Nothing of n8n lives in this repository; run.sh installs n8n (about 11
minutes the first time) into $PREFIX (default ${TMPDIR:-/tmp}/n8nbench) and stops exactly the
processes it started.

    .venv/bin/python -m bench.n8n [--install] [--runs 2] [--duration 30]
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
from pathlib import Path

from bench.deliveries import n8n_dir
from bench.procs import load_average, log

RUN_SH_TIMEOUT = 3600  # run.sh's own cap is 30 min of n8n; an install adds up to 30 more


def prefix() -> Path:
    return Path(os.environ.get("PREFIX") or Path(os.environ.get("TMPDIR", "/tmp")) / "n8nbench")


def installed() -> bool:
    return (prefix() / "node_modules" / ".bin" / "n8n").exists()


def _describe(row: dict) -> None:
    """Adds CPU per execution to one run.sh row and logs it."""
    row["cpu_ms_per_exec"] = round(1000 * row["n8n_cpu_s"] / max(row["sink_total"], 1), 1)
    log(
        f"n8n {row['label']}: {row['e2e_exec_per_s_incl_drain']} exec/s, webhook p50 "
        f"{row['lat_p50_ms']} ms p99 {row['lat_p99_ms']} ms, {row['cpu_ms_per_exec']} ms "
        f"CPU/exec, RSS tree max {row['rss_tree_max_mib']} MiB"
    )


PROBE_MISSED = "probe execution did not reach the sink"
PROBE_ATTEMPTS = 3


def run(runs: int, duration: float, connections: int, results_dir: Path) -> dict:
    """run.sh's measured runs (its warm-up excluded) and their means; raises if it fails."""
    env = {
        **os.environ,
        "RUNS": str(runs),
        "DURATION": f"{duration:g}",
        "CONC": str(connections),
        "RESULTS_DIR": str(results_dir),
        "PREFIX": str(prefix()),
    }
    load_before = load_average()
    log(
        f"n8n: bash {n8n_dir() / 'run.sh'} (RUNS={runs} DURATION={duration:g} "
        f"CONC={connections}); load average {load_before}"
    )
    for attempt in range(PROBE_ATTEMPTS):
        done = subprocess.run(["bash", str(n8n_dir() / "run.sh")], env=env, capture_output=True,
                              text=True, timeout=RUN_SH_TIMEOUT)  # fmt: skip
        (results_dir / "run.sh.out").write_text(done.stdout + done.stderr)
        # On a cold start n8n's first execution can reach the sink after run.sh has looked
        # (one second after the probe): run.sh then stops before measuring; start it again.
        if PROBE_MISSED not in done.stdout + done.stderr or attempt == PROBE_ATTEMPTS - 1:
            break
        log("n8n: run.sh's probe missed the sink (a cold start); starting it again")
    rows = [
        json.loads(line.split(" ", 1)[1])
        for line in done.stdout.splitlines()
        if line.startswith("RESULT_JSON ")
    ]
    measured = [r for r in rows if r["label"] not in ("warmup", "idle")]
    if done.returncode or not measured:
        raise RuntimeError(
            f"run.sh failed ({done.returncode}):\n{done.stdout[-3000:]}\n{done.stderr[-3000:]}"
        )
    for row in measured:
        _describe(row)
    return {
        "runs": measured,
        "load_average_before": load_before,
        "load_average_after": load_average(),
        **summary(measured),
    }


def summary(rows: list[dict]) -> dict:
    """Means over the measured runs; memory is the largest seen."""

    def mean(key: str) -> float:
        return round(statistics.fmean(r[key] for r in rows), 1)

    return {
        "exec_per_s": mean("e2e_exec_per_s_incl_drain"),
        "exec_per_s_during_load": mean("e2e_exec_per_s_during_load"),
        "webhook_p50_ms": mean("lat_p50_ms"),
        "webhook_p99_ms": mean("lat_p99_ms"),
        "cpu_ms_per_exec": mean("cpu_ms_per_exec"),
        "rss_tree_max_mib": max(r["rss_tree_max_mib"] for r in rows),
        "rss_main_max_mib": max(r["rss_main_max_mib"] for r in rows),
        "lost": sum(r["sink_lost"] for r in rows),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument(
        "--install",
        action="store_true",
        help="let run.sh install n8n if it is missing (about 11 minutes)",
    )
    parser.add_argument("--runs", type=int, default=2)
    parser.add_argument("--duration", type=float, default=30.0)
    parser.add_argument("--connections", type=int, default=16)
    args = parser.parse_args()
    if not installed() and not args.install:
        raise SystemExit(f"n8n is not installed in {prefix()}: pass --install")
    results_dir = Path(os.environ.get("TMPDIR", "/tmp")) / "cartly-bench-n8n"
    results_dir.mkdir(parents=True, exist_ok=True)
    result = run(args.runs, args.duration, args.connections, results_dir)
    print(json.dumps({k: v for k, v in result.items() if k != "runs"}, indent=2))


if __name__ == "__main__":
    main()
