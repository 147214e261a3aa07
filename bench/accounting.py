"""Where the CPU and the memory go during a measured phase, from /proc.

A Meter samples every process of the machine once a second while a phase runs and sums, per
component, the CPU time each process spent inside the window (utime + stime at its last sample
minus at the first; a process born inside the window counts from zero, one that exited counts
up to its last sample). Components: our children by process group (gunicorn, celery, stub, …),
the PostgreSQL backends of our database, the rest of the PostgreSQL server (postmaster and
background writers), redis, the harness itself, and everything else on the machine ("other":
the other people's tests, and their PostgreSQL backends). The load client (wrk) is measured
exactly by the caller from its rusage and added with `add()`.

It also samples the PSS of our process groups (/proc/<pid>/smaps_rollup, summed over each
group): PSS splits pages shared by forked workers between them, so the sum is what the group
really costs in RAM.
"""

from __future__ import annotations

import os
import threading
from collections.abc import Callable
from dataclasses import dataclass, field

SAMPLE_SECONDS = 1.0
HZ = float(os.sysconf("SC_CLK_TCK"))


def _process_cpu(pid: str) -> tuple[str, int, float] | None:
    """(comm, process group, CPU seconds) of one process, or None if it is gone."""
    try:
        with open(f"/proc/{pid}/stat") as f:
            raw = f.read()
    except OSError:
        return None
    comm = raw[raw.index("(") + 1 : raw.rindex(")")]
    rest = raw[raw.rindex(")") + 2 :].split()
    return comm, int(rest[2]), (int(rest[11]) + int(rest[12])) / HZ  # utime + stime


def pss_kib(pid: int) -> int:
    try:
        with open(f"/proc/{pid}/smaps_rollup") as f:
            for line in f:
                if line.startswith("Pss:"):
                    return int(line.split()[1])
    except (OSError, ValueError):
        pass
    return 0


def machine_cpu() -> tuple[float, float]:
    """(busy, total) CPU seconds of the whole machine since boot."""
    with open("/proc/stat") as f:
        ticks = [int(x) for x in f.readline().split()[1:9]]
    idle = ticks[3] + ticks[4]
    return (sum(ticks) - idle) / HZ, sum(ticks) / HZ


@dataclass
class Meter:
    """CPU per component and PSS per group over one window; start() … stop()."""

    groups: dict[int, str]  # process group id → component name
    our_backends: Callable[[], dict[int, str]]  # PostgreSQL backend pid → component
    pss_groups: tuple[str, ...] = ("gunicorn", "celery")
    first: dict[int, tuple[str, float]] = field(default_factory=dict)
    last: dict[int, tuple[str, float]] = field(default_factory=dict)
    pss_max: dict[str, int] = field(default_factory=dict)
    extra: dict[str, float] = field(default_factory=dict)
    _stop: threading.Event = field(default_factory=threading.Event)
    _thread: threading.Thread | None = None

    def _classify(self, pid: int, comm: str, pgrp: int, backends: dict[int, str]) -> str:
        if pgrp in self.groups:
            return self.groups[pgrp]
        if pid == os.getpid():
            return "harness"
        if pid in backends:
            return backends[pid]
        if comm.startswith("postgres"):
            return "pg server"
        if comm.startswith("redis-server"):
            return "redis"
        return "other"

    def sample(self, initial: bool = False) -> None:
        backends = self.our_backends()
        pss: dict[str, int] = {}
        for entry in os.scandir("/proc"):
            if not entry.name.isdigit():
                continue
            seen = _process_cpu(entry.name)
            if seen is None:
                continue
            comm, pgrp, seconds = seen
            pid = int(entry.name)
            name = self._classify(pid, comm, pgrp, backends)
            if initial:
                self.first[pid] = (name, seconds)
            elif pid not in self.first:
                self.first[pid] = (name, 0.0)  # born inside the window
            self.last[pid] = (name, seconds)
            if name in self.pss_groups:
                pss[name] = pss.get(name, 0) + pss_kib(pid)
        for name, kib in pss.items():
            self.pss_max[name] = max(self.pss_max.get(name, 0), kib)

    def _loop(self) -> None:
        while not self._stop.wait(SAMPLE_SECONDS):
            self.sample()

    def start(self) -> Meter:
        self._machine0 = machine_cpu()
        self.sample(initial=True)
        self._thread = threading.Thread(target=self._loop, daemon=True)
        self._thread.start()
        return self

    def add(self, name: str, seconds: float) -> None:
        self.extra[name] = self.extra.get(name, 0.0) + seconds

    def stop(self) -> dict[str, float]:
        """CPU seconds per component in the window, plus "machine busy" and "machine total"."""
        self._stop.set()
        if self._thread:
            self._thread.join(timeout=10)
        self.sample()
        totals: dict[str, float] = dict(self.extra)
        for pid, (name, seconds) in self.last.items():
            delta = seconds - self.first.get(pid, (name, 0.0))[1]
            totals[name] = totals.get(name, 0.0) + max(delta, 0.0)
        busy, total = machine_cpu()
        totals["machine busy"] = busy - self._machine0[0]
        totals["machine total"] = total - self._machine0[1]
        return totals


def per_unit_ms(cpu: dict[str, float], units: int) -> dict[str, float]:
    return {k: round(1000 * v / max(units, 1), 2) for k, v in cpu.items()}


def format_cpu(cpu: dict[str, float], units: int, unit: str) -> str:
    """One line per component: CPU seconds, share of the machine, CPU ms per unit of work."""
    capacity = cpu.get("machine total", 0.0) or 1.0
    cores = os.cpu_count() or 1
    rows = [f"  {'component':<18} {'cpu s':>7} {f'% of {cores} cores':>13} {f'cpu ms/{unit}':>12}"]
    keys = sorted((k for k in cpu if not k.startswith("machine")), key=lambda k: -cpu[k])
    for key in [*keys, "machine busy"]:
        seconds = cpu.get(key, 0.0)
        rows.append(
            f"  {key:<18} {seconds:7.2f} {100 * seconds / capacity:12.0f}% "
            f"{1000 * seconds / max(units, 1):12.2f}"
        )
    return "\n".join(rows)
