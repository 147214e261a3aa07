"""Where one run's time goes: the three stages of the hot path, in this process, one at a time.

    .venv/bin/python -m bench.stages [--events 200] [--profile receive|dispatch|step]

Against the same stack as bench/throughput.py (PostgreSQL, Redis db 9, the stub Cartly), but
with no worker: for each event it calls `receiver.receive`, `tasks.dispatch_event` and the
step's task body directly, counting SQL queries (Django's CaptureQueriesContext) and
wall time per stage. The messages they publish are flushed from Redis at the end. With
--profile, cProfile's top functions of that stage are printed. Unlike the other benchmarks it
calls the engine's internal functions of commit e8bc0e7 (dispatch_event, execute_step): a
redesigned hot path needs it rewritten.
"""

from __future__ import annotations

import argparse
import cProfile
import io
import pstats
import re
import statistics
import time
from collections import Counter

from bench.deliveries import Sequence, make
from bench.e2e import STEPS, run_tag
from bench.procs import log, machine, open_processes
from bench.stack import EngineConfig, Stack, flush_broker


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--events", type=int, default=200)
    parser.add_argument("--profile", choices=["receive", "dispatch", "step"])
    args = parser.parse_args()

    stack = Stack(open_processes(), EngineConfig())
    log(f"machine: {machine()}")
    try:
        stack.start_stub()
        stack.setup_engine(STEPS)
        flush_broker()
        report(stack, args.events, args.profile)
    finally:
        stack.processes.stop_all()
        flush_broker()


def report(stack, count: int, profile_stage: str | None) -> None:
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    from automations import receiver
    from automations.engine.dispatch import dispatch_event
    from automations.engine.steps import execute_batch
    from automations.models import StepRun

    seq = Sequence(run_tag())
    deliveries = make(stack.signer, seq.take(count), seq.tag)
    times: dict[str, list[float]] = {"receive": [], "dispatch": [], "step": []}
    queries: dict[str, list[int]] = {k: [] for k in times}
    shapes: dict[str, Counter] = {k: Counter() for k in times}
    profiler = cProfile.Profile()

    def timed(stage: str, function, *fn_args, **fn_kwargs):
        with CaptureQueriesContext(connection) as captured:
            if stage == profile_stage:
                profiler.enable()
            start = time.perf_counter()
            value = function(*fn_args, **fn_kwargs)
            times[stage].append(time.perf_counter() - start)
            if stage == profile_stage:
                profiler.disable()
        queries[stage].append(len(captured.captured_queries))
        for query in captured.captured_queries:
            sql = re.split(r" WHERE | SET | VALUES ", query["sql"])[0]
            shapes[stage][re.sub(r'"s\d+_x\d+"', '"…"', sql)[:90]] += 1
        return value

    for index, delivery in enumerate(deliveries):
        headers = receiver.Headers(
            signature=delivery.headers["X-Cartly-Hmac-Sha256"],
            webhook_id=delivery.headers["X-Cartly-Webhook-Id"],
            shop_domain=delivery.headers["X-Cartly-Shop-Domain"],
            content_type="application/json",
        )
        reply = timed("receive", receiver.receive, stack.subscription_token, delivery.body, headers)
        assert reply.status == 200, reply.body
        run_ids = timed("dispatch", dispatch_event, reply.event_id)
        step_run_id = StepRun.objects.values_list("id", flat=True).get(run_id=run_ids[0])
        statuses = timed("step", execute_batch, [step_run_id])
        assert statuses == {step_run_id: "succeeded"}, (index, statuses)

    print(f"\n{count} events, each: receive → dispatch → one Create Customer step\n")
    print("| stage | queries (each) | ms p50 | ms mean |")
    print("| --- | ---: | ---: | ---: |")
    for stage in times:
        q = Counter(queries[stage]).most_common(1)[0][0]
        print(
            f"| {stage} | {q} | {statistics.median(times[stage]) * 1000:.2f} | "
            f"{statistics.fmean(times[stage]) * 1000:.2f} |"
        )
    for stage, shape in shapes.items():
        print(f"\n{stage}: statements per event")
        for sql, n in shape.most_common():
            print(f"  {n / count:4.1f}  {sql}")
    if profile_stage:
        out = io.StringIO()
        stats = pstats.Stats(profiler, stream=out).sort_stats("cumulative")
        stats.print_stats(40)
        print(out.getvalue())


if __name__ == "__main__":
    main()
