"""A Cartly outage outlasts the old five attempts and nobody presses retry.

The sandbox answers every call with 500 (its fault injection) for longer than the old engine's
five attempts took (about 15 seconds, after which every run in the outage had failed). The
shop's circuit opens: the runs wait as `waiting` with the reason, one probe at a time tries
Cartly. Once the fault is released, the next probe closes the circuit, the waiting steps are
woken, and every run succeeds with its effect applied exactly once.

Compressed for the test: retries after 1, 1, 2, 2, 3, … seconds instead of minutes and hours;
the circuit opens after 3 failures in a row and probes after 1 second, doubling up to 4.
"""

import time

import pytest
from django.urls import reverse

from automations.models import Run, StepAttempt
from connectors.models import ShopCircuit
from tests.automations.conftest import wait_for
from tests.automations.faults import all_succeeded, recipe_of, restock, stock, store_events
from tests.automations.faults import variants as some_variants

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.slow]

COMPRESSED = {
    "ENGINE_RETRY_SCHEDULE": "1,1,2,2,3,3,5,5,8,8,13,13",
    "CARTLY_CIRCUIT_FAILURES": 3,
    "CARTLY_CIRCUIT_OPEN_SECONDS": 1,
    "CARTLY_CIRCUIT_MAX_OPEN_SECONDS": 4,
}
# The old engine's five attempts (backoff from 2 s, doubling) were spent in about this long.
OLD_FIVE_ATTEMPTS_SECONDS = 15.0
RUNS = 3


def waiting_for_cartly(events) -> bool:
    runs = Run.objects.filter(event__in=events)
    return len(runs) == len(events) and all(
        run.status == Run.Status.WAITING
        and run.failure_reason.startswith("Waiting for Cartly since")
        for run in runs
    )


def test_runs_wait_out_a_cartly_outage_then_each_succeeds_once(
    sandbox, connection, client, celery_processes
):
    variant = some_variants(connection, 1)[0]
    recipe_of(connection, restock(variant))
    celery_processes.worker(**COMPRESSED)
    before = stock(connection)[variant]
    sandbox.set_faults(fault_error_rate=1.0)
    outage_began = time.monotonic()
    try:
        events = store_events(connection, RUNS)
        wait_for(lambda: waiting_for_cartly(events), "the runs to wait on the open circuit")
        circuit = ShopCircuit.objects.get()
        assert circuit.state == ShopCircuit.State.OPEN and "sandbox fault" in circuit.last_error
        client.force_login(connection.owner)
        page = client.get(
            reverse("runs:detail", args=[Run.objects.filter(event__in=events).first().pk])
        ).content.decode()
        assert "Waiting for Cartly since" in page
        # Hold the outage past the point where the old engine had failed every run.
        wait_for(
            lambda: time.monotonic() - outage_began > OLD_FIVE_ATTEMPTS_SECONDS,
            "the outage to outlast the old five attempts",
        )
        failed_calls = StepAttempt.objects.filter(step_run__run__event__in=events).count()
        assert Run.objects.filter(event__in=events, status=Run.Status.FAILED).count() == 0
    finally:
        sandbox.reset_faults()

    runs = wait_for(lambda: all_succeeded(events), "every run to succeed after the outage")
    assert stock(connection)[variant] == before + RUNS  # once each, though retried
    assert failed_calls >= RUNS  # each met the outage at least once
    assert not Run.objects.filter(replay_of__in=runs).exists()  # nobody pressed retry
    assert ShopCircuit.objects.get().state == ShopCircuit.State.CLOSED
