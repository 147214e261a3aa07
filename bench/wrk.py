"""The load client: wrk, a closed loop of N connections for a fixed time, as the n8n anchor
(../shared/bench-n8n/run.sh) drives n8n. `apt-get install -y wrk` where it is missing."""

from __future__ import annotations

import json
import resource
import shutil
import subprocess
import time
from dataclasses import dataclass
from pathlib import Path

from bench.deliveries import Signer, write_for_wrk
from bench.procs import log

LUA = Path(__file__).resolve().parent / "deliveries.lua"
GRACE_SECONDS = 60  # beyond --duration before wrk is given up on
REQUEST_TIMEOUT = "30s"  # as run.sh: a slow answer is a latency, not an error


@dataclass
class WrkResult:
    requests: int
    duration_s: float
    non_2xx: int
    socket_errors: int
    p50_ms: float
    p90_ms: float
    p99_ms: float
    max_ms: float
    out_of_deliveries: bool
    cpu_s: float  # wrk's own CPU (user + system), from its rusage
    started_at: float  # time.time() just before wrk started
    ended_at: float

    @property
    def accepted(self) -> int:
        return self.requests - self.non_2xx

    @property
    def rate(self) -> float:
        return self.accepted / self.duration_s if self.duration_s else 0.0

    def summary(self) -> str:
        warning = " — RAN OUT OF DELIVERIES: raise --max-rate" if self.out_of_deliveries else ""
        return (
            f"{self.accepted} accepted in {self.duration_s:.1f}s = {self.rate:.0f} req/s; "
            f"answer ms p50 {self.p50_ms:.1f} p99 {self.p99_ms:.1f} max {self.max_ms:.0f}; "
            f"non-2xx {self.non_2xx}, socket errors {self.socket_errors}{warning}"
        )


def require_wrk() -> str:
    path = shutil.which("wrk")
    if not path:
        raise SystemExit("wrk is not installed: apt-get install -y wrk (see bench/README.md)")
    return path


def _parse(stdout: str, stderr: str, cpu_s: float, started: float, ended: float) -> WrkResult:
    line = next((x for x in stdout.splitlines() if x.startswith("WRK_JSON ")), None)
    if line is None:
        raise RuntimeError(f"wrk printed no summary:\n{stdout}\n{stderr}")
    raw = json.loads(line.removeprefix("WRK_JSON "))
    return WrkResult(
        requests=raw["requests"],
        duration_s=raw["duration_s"],
        non_2xx=raw["err_status"],
        socket_errors=sum(raw[k] for k in ("err_connect", "err_read", "err_write", "err_timeout")),
        p50_ms=raw["lat_p50_ms"],
        p90_ms=raw["lat_p90_ms"],
        p99_ms=raw["lat_p99_ms"],
        max_ms=raw["lat_max_ms"],
        out_of_deliveries=raw["threads_out_of_deliveries"] > 0,
        cpu_s=cpu_s,
        started_at=started,
        ended_at=ended,
    )


def run_wrk(
    port: int,
    path: str,
    signer: Signer,
    ids: range,
    tag: str,
    workdir: Path,
    duration: float,
    connections: int,
    threads: int = 1,
) -> WrkResult:
    """POST the deliveries `ids` (each once) to `path` for `duration` seconds."""
    deliveries = workdir / f"deliveries-{tag}-{ids.start}.txt"
    write_for_wrk(signer, ids, tag, deliveries)
    env = {
        "BENCH_DELIVERIES": str(deliveries),
        "BENCH_PATH": path,
        "BENCH_WEBHOOK_ID": signer.webhook_id,
        "BENCH_SHOP_DOMAIN": signer.shop_domain,
        "BENCH_WRK_THREADS": str(threads),
        "PATH": "/usr/bin:/bin",
    }
    argv = [require_wrk(), f"-t{threads}", f"-c{connections}", f"-d{duration:g}s",
            "--timeout", REQUEST_TIMEOUT, "-s", str(LUA),
            f"http://127.0.0.1:{port}{path}"]  # fmt: skip
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    started = time.time()
    done = subprocess.run(
        argv, capture_output=True, text=True, env=env, timeout=duration + GRACE_SECONDS
    )
    ended = time.time()
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    deliveries.unlink(missing_ok=True)
    cpu_s = (after.ru_utime + after.ru_stime) - (before.ru_utime + before.ru_stime)
    result = _parse(done.stdout, done.stderr, cpu_s, started, ended)
    if result.out_of_deliveries:
        log(f"WARNING: wrk ran out of the {len(ids)} deliveries made for this phase")
    return result
