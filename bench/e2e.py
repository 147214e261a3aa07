"""One measured end-to-end phase: wrk's load, then the backlog, read from the Event and Run rows.

runs/s is succeeded runs ÷ (last run's finished_at − start of the load), the drain included,
as n8n's "e2e exec/s incl drain"; "during load" counts only runs finished before wrk stopped.
Event → run finished is Run.finished_at − Event.received_at over every accepted event, an
event whose run had not succeeded when the drain gave up counting as infinitely late (so a
percentile that lands there prints as "> drain"). The backlog is the events not yet
dispatched plus the runs not yet finished, at the moment wrk stops and 2 s later.
"""

from __future__ import annotations

import math
import time
import uuid

from bench.accounting import Meter, format_cpu, per_unit_ms
from bench.deliveries import Sequence
from bench.procs import load_average, log
from bench.stack import ENGINE_DB, Backends, Stack
from bench.wrk import WrkResult, run_wrk

BACKLOG_AFTER_SECONDS = 2.0  # the Goal: nothing left 2 s after the load stops
POLL_SECONDS = 0.5
MIB = 1024

# Six mapped fields of the anchor's order (../shared/bench-n8n/order.json), as n8n's workflow
# maps six: plain paths, a concatenation-like template, a filter and a length.
SIX_FIELDS = {
    "email": "{{ trigger.customer.email }}",
    "first_name": "{{ trigger.customer.first_name }}",
    "last_name": "{{ trigger.customer.last_name }}",
    "phone": "{{ trigger.customer.phone }}",
    "tags": "buyer, {{ trigger.currency | lower }}",
    "note": "Order {{ trigger.order_number }}: {{ trigger.total_price }} {{ trigger.currency }}, "
    "{{ trigger.line_items | length }} items",
}
STEPS = [{"key": "customer", "operation": "cartly.create_customer", "fields": SIX_FIELDS}]


def run_tag() -> str:
    return uuid.uuid4().hex[:8].upper()


def backlog(after_event_id: int) -> dict[str, int]:
    from automations.models import Event, Run

    events = Event.objects.filter(id__gt=after_event_id)
    return {
        "undispatched": events.filter(status=Event.Status.RECEIVED).count(),
        "unfinished_runs": Run.objects.filter(
            event_id__gt=after_event_id, finished_at__isnull=True
        ).count(),
    }


def _drain(after_event_id: int, load_ended: float, timeout: float) -> tuple[dict, dict, float]:
    """Backlog when the load stopped, 2 s later, and the time it reached zero (or gave up)."""
    at_end = backlog(after_event_id)
    time.sleep(max(0.0, load_ended + BACKLOG_AFTER_SECONDS - time.time()))
    after_2s = backlog(after_event_id)
    left = after_2s
    deadline = load_ended + timeout
    while sum(left.values()) and time.time() < deadline:
        time.sleep(POLL_SECONDS)
        left = backlog(after_event_id)
    return at_end, after_2s, time.time()


def _percentile(values: list[float], q: float) -> float:
    if not values:
        return math.nan
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))]


def _outcomes(after_event_id: int, started: float, load_ended: float) -> dict:
    """Runs of this phase by status, rates, and event → run finished percentiles."""
    from django.db.models import Count

    from automations.models import Event, Run

    runs = Run.objects.filter(event_id__gt=after_event_id)
    statuses = {r["status"]: r["n"] for r in runs.values("status").annotate(n=Count("id"))}
    done = list(
        runs.filter(status=Run.Status.SUCCEEDED).values_list("event__received_at", "finished_at")
    )
    stored = Event.objects.filter(id__gt=after_event_id).count()
    waits = [(f - r).total_seconds() * 1000 for r, f in done]
    waits += [math.inf] * max(0, stored - len(done))
    finished = sorted(f.timestamp() for _, f in done)
    during = sum(1 for f in finished if f <= load_ended)
    span = (finished[-1] - started) if finished else math.nan
    failures = list(
        runs.filter(status=Run.Status.FAILED).values_list("failure_reason", flat=True)[:3]
    )
    return {
        "events_stored": stored,
        "runs": statuses,
        "succeeded": len(done),
        "runs_per_s": round(len(done) / span, 1) if finished else 0.0,
        "runs_per_s_during_load": round(during / (load_ended - started), 1),
        "event_to_finish_p50_ms": round(_percentile(waits, 0.5), 1),
        "event_to_finish_p99_ms": round(_percentile(waits, 0.99), 1),
        "failures": failures,
    }


def _commits() -> int:
    from django.db import connection

    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT xact_commit FROM pg_stat_database WHERE datname = current_database()"
        )
        return cursor.fetchone()[0]


def _wrk_figures(wrk: WrkResult) -> dict:
    return {
        "duration_s": wrk.duration_s,
        "accepted": wrk.accepted,
        "non_2xx": wrk.non_2xx,
        "socket_errors": wrk.socket_errors,
        "receive_per_s": round(wrk.rate, 1),
        "out_of_deliveries": wrk.out_of_deliveries,
        "answer_p50_ms": wrk.p50_ms,
        "answer_p99_ms": wrk.p99_ms,
    }


def _log_phase(label: str, wrk: WrkResult, result: dict, cpu: dict) -> None:
    log(f"{label}: wrk {wrk.summary()}")
    log(
        f"{label}: {result['succeeded']} runs succeeded, {result['runs_per_s']} runs/s "
        f"({result['runs_per_s_during_load']} during load); event → finished p50 "
        f"{result['event_to_finish_p50_ms']} ms p99 {result['event_to_finish_p99_ms']} ms; "
        f"backlog {result['backlog_at_end']} at end, {result['backlog_after_2s']} after 2 s, "
        f"drained in {result['drain_s']} s ({result['left_after_drain']} left); "
        f"load average {result['load_average_before']} → {result['load_average_after']}"
    )
    print(f"[{label}] CPU by component\n" + format_cpu(cpu, result["succeeded"], "run"), flush=True)


def run_phase(
    stack: Stack,
    seq: Sequence,
    label: str,
    duration: float,
    connections: int,
    drain_timeout: float,
    max_rate: float,
) -> dict:
    """wrk for `duration` s, then the backlog until it drains; every figure of the phase."""
    from django.db.models import Max

    from automations.models import Event

    after = Event.objects.aggregate(m=Max("id"))["m"] or 0
    ids = seq.take(math.ceil(duration * max_rate))
    load_before, commits0, stub0 = load_average(), _commits(), stack.stub_stats()
    meter = Meter(stack.processes.pgids(), Backends(ENGINE_DB), stack.pss_groups()).start()
    wrk = run_wrk(stack.web_port, stack.hook_path, stack.signer, ids, seq.tag, stack.workdir,
                  duration, connections)  # fmt: skip
    at_end, after_2s, drained_at = _drain(after, wrk.ended_at, drain_timeout)
    meter.add("load client", wrk.cpu_s)
    cpu = meter.stop()
    outcome = _outcomes(after, wrk.started_at, wrk.ended_at)
    succeeded = max(outcome["succeeded"], 1)
    result = {
        "label": label,
        "load_average_before": load_before,
        "load_average_after": load_average(),
        "connections": connections,
        **_wrk_figures(wrk),
        **outcome,
        "backlog_at_end": sum(at_end.values()),
        "backlog_after_2s": sum(after_2s.values()),
        "backlog_detail": {"at_end": at_end, "after_2s": after_2s},
        "drain_s": round(drained_at - wrk.ended_at, 1),
        "left_after_drain": sum(backlog(after).values()),
        "stub_calls": stack.stub_stats()["customers"] - stub0["customers"],
        "db_commits_per_run": round((_commits() - commits0) / succeeded, 1),
        "pss_mib": {k: round(v / MIB, 1) for k, v in meter.pss_max.items()},
        "cpu_ms_per_run": per_unit_ms(cpu, outcome["succeeded"]),
        "machine_busy_share": round(cpu["machine busy"] / max(cpu["machine total"], 1e-9), 2),
    }
    _log_phase(label, wrk, result, cpu)
    return result


def _fmt(value: float) -> str:
    return "> drain" if value == math.inf else f"{value:.0f}"


def table(runs: list[dict], noop: dict | None) -> str:
    """A markdown table of the measured runs (the warm-up excluded)."""
    lines = [
        "| run | load avg | runs/s | during load | answer p50/p99 ms | event→finished "
        "p50/p99 ms | backlog end / +2 s | CPU ms/run (gunicorn/celery/pg/redis/stub/wrk/"
        "other) | PSS web / workers MiB |",
        "| --- | --- | ---: | ---: | --- | --- | --- | --- | --- |",
    ]
    for r in runs:
        c = r["cpu_ms_per_run"]
        pg = c.get("pg (our db)", 0) + c.get("pg server", 0)
        cpu = " / ".join(
            f"{v:.1f}"
            for v in (
                c.get("gunicorn", 0),
                c.get("celery", 0),
                pg,
                c.get("redis", 0),
                c.get("stub", 0),
                c.get("load client", 0),
                c.get("other", 0),
            )
        )
        workers = sum(v for k, v in r["pss_mib"].items() if k != "gunicorn")
        lines.append(
            f"| {r['label']} | {r['load_average_before']} | {r['runs_per_s']} | "
            f"{r['runs_per_s_during_load']} | {r['answer_p50_ms']:.0f} / {r['answer_p99_ms']:.0f}"
            f" | {_fmt(r['event_to_finish_p50_ms'])} / {_fmt(r['event_to_finish_p99_ms'])} | "
            f"{r['backlog_at_end']} / {r['backlog_after_2s']} | {cpu} | "
            f"{r['pss_mib'].get('gunicorn', 0):.0f} / {workers:.0f} |"
        )
    if noop:
        lines.append(f"\nno-op Celery tasks: {noop['tasks_per_s']}/s ({noop['tasks']} tasks)")
    return "\n".join(lines)
