"""Loops and delays under faults (issue 13): a worker killed in the middle of a loop, a delay
that outlives its worker and beat."""

import time

import pytest
from django.utils import timezone

from automations.models import Run, StepRun
from tests.automations.conftest import wait_for
from tests.automations.faults import all_succeeded, recipe_of, restock, stock, store_payloads
from tests.automations.faults import variants as some_variants
from tests.automations.test_fault_workers import (
    CALL_ON_THE_WIRE_SECONDS,
    SHORT_LEASE,
    SLOW_CALL_MS,
)

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.slow]

ORDER_FULFILLED = "cartly.order_fulfilled"
# Beat's own schedule for the test: the sweeps often, the Cartly-facing ticks out of the way
# (nothing here polls or has hooks to reconcile).
BEAT = {
    "SWEEP_INTERVAL_SECONDS": 2,
    "POLL_INTERVAL_SECONDS": 3600,
    "RECONCILE_INTERVAL_SECONDS": 3600,
    "SUBSCRIPTION_SYNC_INTERVAL_SECONDS": 3600,
}
# Long enough for a worker and a beat to be stopped and started again before it ends.
DELAY_MINUTES = 0.25


def row(run, address: str) -> StepRun | None:
    return StepRun.objects.filter(run=run, address=address).first()


def test_a_loop_whose_worker_was_killed_mid_loop_adjusts_each_item_once(
    sandbox, connection, celery_processes
):
    variants = some_variants(connection, 3)
    recipe_of(
        connection,
        {
            "key": "each_item",
            "loop": {"over": "trigger.line_items"},
            "steps": [restock("{{ item.variant_id }}", "{{ item.quantity }}")],
        },
        trigger=ORDER_FULFILLED,
    )
    worker = celery_processes.worker(**SHORT_LEASE)
    before = stock(connection)
    order = {
        "number": 9101,
        "status": "fulfilled",
        "line_items": [
            {"variant_id": variant, "quantity": n + 1} for n, variant in enumerate(variants)
        ],
    }
    sandbox.set_faults(fault_latency_ms=SLOW_CALL_MS)
    try:
        events = store_payloads(connection, [order], event_type="order.fulfilled")
        run = wait_for(lambda: Run.objects.filter(event=events[0]).first(), "the run")
        second = wait_for(
            lambda: (r := row(run, "0.i1.0")) and r.status == "running" and r,
            "the second item's step under way",
        )
        time.sleep(CALL_ON_THE_WIRE_SECONDS)
        worker.kill_children()
    finally:
        sandbox.reset_faults()

    wait_for(lambda: all_succeeded(events), "the loop to finish after the kill")
    after = stock(connection)
    assert [after[v] - before[v] for v in variants] == [1, 2, 3]  # once each
    assert StepRun.objects.get(pk=second.pk).attempts == 2  # the killed item ran again
    assert [row(run, f"0.i{n}.0").attempts for n in (0, 2)] == [1, 1]


def test_a_delayed_run_survives_a_worker_and_beat_restart_and_resumes_on_time(
    connection, celery_processes
):
    variant = some_variants(connection, 1)[0]
    recipe_of(
        connection,
        {"key": "wait", "delay": {"for": {"amount": DELAY_MINUTES, "unit": "minutes"}}},
        restock(variant),
    )
    worker, beat = celery_processes.worker(), celery_processes.beat(**BEAT)
    before = stock(connection)[variant]
    events = store_payloads(connection, [{}])
    run = wait_for(
        lambda: Run.objects.filter(event=events[0], status="waiting").first(), "the run to wait"
    )
    due = StepRun.objects.get(run=run, key="wait").next_attempt_at

    worker.kill()  # no shutdown at all, as in a crash or a lost machine
    beat.stop()
    restarted_at = timezone.now()
    celery_processes.worker(), celery_processes.beat(**BEAT)

    wait_for(lambda: all_succeeded(events), "the run to resume after its delay")
    waited = StepRun.objects.get(run=run, key="wait")
    assert restarted_at < due <= waited.finished_at  # restarted while it waited; not early
    assert stock(connection)[variant] == before + 1
    assert StepRun.objects.get(run=run, key="restock").attempts == 1
