"""What rendering in the render child costs per field, against rendering in this process.

    .venv/bin/python -m bench.render_overhead [--steps 200] [--rounds 20]

Each step has six fields over an order-shaped context (the engine's hot path shape). Three
ways are timed: the guarded environment called directly in this process (what a render cost
before the child existed), `render_many` with the whole batch in one round trip, and
`render_fields` one step at a time. The child's time is the round trip seen by the caller.
Not a test: figures move from machine to machine (bench/README.md).
"""

from __future__ import annotations

import argparse
import statistics
import time
from datetime import UTC, datetime

from automations.engine import render, render_guards
from automations.engine.render_limits import FIELD_DEADLINE_SECONDS, rss_bytes

FIELDS = {
    "email": "{{ trigger.customer.email }}",
    "first_name": "{{ trigger.customer.first_name|default('there') }}",
    "code": "THANKS-{{ trigger.number }}",
    "value": "{{ trigger.total_price|percent_of(10) }}",
    "note": "Order #{{ trigger.number }} of {{ trigger.line_items|length }} items, "
    "{{ trigger.total_price|money(trigger.currency) }}",
    "tags": "{% for item in trigger.line_items %}{{ item.sku|lower }},{% endfor %}vip",
}
LABELS = {key: key.replace("_", " ").title() for key in FIELDS}


def context(number: int) -> dict:
    trigger = {
        "id": f"ord_{number}",
        "number": number,
        "total_price": "129.90",
        "currency": "USD",
        "customer": {"id": "cus_1", "email": f"ann{number}@example.test", "first_name": "Ann"},
        "line_items": [{"sku": f"SKU-{i}", "quantity": 1, "price": "43.30"} for i in range(3)],
    }
    event = {"id": f"evt_{number}", "type": "order.created", "time": "2025-03-01T10:15:01Z"}
    return render.build_context(trigger, event, {}, datetime.now(UTC))


def in_process(contexts: list[dict]) -> None:
    for ctx in contexts:
        for source in FIELDS.values():
            budget = render_guards.Budget(time.monotonic() + FIELD_DEADLINE_SECONDS, "late")
            render_guards.produce(render_guards.compiled(source), ctx, budget)


def batched(contexts: list[dict]) -> None:
    results = render.render_many([(FIELDS, ctx, LABELS) for ctx in contexts])
    failed = [str(r) for r in results if isinstance(r, render.RenderError)]
    assert not failed, failed[:3]


def one_step_at_a_time(contexts: list[dict]) -> None:
    for ctx in contexts:
        render.render_fields(FIELDS, ctx, LABELS)


def per_field_microseconds(work, contexts: list[dict], rounds: int) -> float:
    work(contexts)  # warm: compile, start the child
    samples = []
    for _ in range(rounds):
        started = time.perf_counter()
        work(contexts)
        samples.append(time.perf_counter() - started)
    return statistics.median(samples) / (len(contexts) * len(FIELDS)) * 1e6


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--steps", type=int, default=200)
    parser.add_argument("--rounds", type=int, default=20)
    args = parser.parse_args()
    contexts = [context(1000 + i) for i in range(args.steps)]
    rss_before = rss_bytes()
    base = per_field_microseconds(in_process, contexts, args.rounds)
    many = per_field_microseconds(batched, contexts, args.rounds)
    single = per_field_microseconds(one_step_at_a_time, contexts, args.rounds)
    print(f"{args.steps} steps x {len(FIELDS)} fields, median of {args.rounds} rounds, per field:")
    print(f"  in this process (no child):      {base:7.1f} us")
    print(f"  render_many, one round trip:     {many:7.1f} us  (+{many - base:.1f} us)")
    print(f"  render_fields, a trip per step:  {single:7.1f} us  (+{single - base:.1f} us)")
    print(f"  this process's RSS grew by {(rss_bytes() - rss_before) / 2**20:.1f} MiB")


if __name__ == "__main__":
    main()
