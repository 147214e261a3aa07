"""A Python load client for a fixed number of requests (bench/receiver.py --requests).

The end-to-end benchmark and `make bench` use wrk instead (bench/wrk.py): a fixed time, as the
n8n anchor does. This one sends every delivery once from keep-alive `http.client` connections.
"""

from __future__ import annotations

import http.client
import itertools
import statistics
import threading
import time
from dataclasses import dataclass

from bench.deliveries import Delivery

HTTP_TIMEOUT = 30.0


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
        sent=len(latencies),
        wall=wall,
        latencies=latencies,
        statuses=statuses,
        errors=errors[0],
        client_cpu=time.process_time() - cpu0,
        started_at=started_at,
    )
