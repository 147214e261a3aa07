"""Workers that die or are stopped: real prefork workers, killed and stopped for real.

A worker child killed mid-call leaves its step `running`; once the step's lease lapses the
engine's clock sends it again and Cartly's idempotency key makes the second call a replay. A
step that kills its worker every time is given up as poison after a bounded number of pickups,
and the steps that shared its batch run once each. SIGTERM is a warm shutdown: the running task
finishes, the messages not yet started stay in the broker for the next worker.
"""

import re
import time

import pytest

from automations.engine.steps import MAX_PICKUPS
from automations.models import Run, StepRun
from tests.automations import crash_operation
from tests.automations.conftest import wait_for
from tests.automations.faults import (
    all_succeeded,
    recipe_of,
    restock,
    running_step,
    stock,
    store_events,
    store_payloads,
)
from tests.automations.faults import variants as some_variants
from tests.connectors.http_receiver import Answer, receiver  # noqa: F401 (the fixture)

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.slow]

# Leases shortened from a minute to seconds, and the time limits under them as in production
# (soft < hard < lease), so a dead worker's step runs again within seconds. One step per task
# here: a task starts a second call only if it can end 5 s before the soft limit.
SHORT_LEASE = {
    "ENGINE_STEP_LEASE_SECONDS": 8,
    "CELERY_TASK_TIME_LIMIT": 7,
    "CELERY_TASK_SOFT_TIME_LIMIT": 6,
    "CARTLY_TIMEOUT_SECONDS": 5,
}
# For a batch of quick calls that must all start in one task: each call's timeout fits in the
# soft limit less the 5 s kept for recording the batch.
BATCH_LEASE = {
    "ENGINE_STEP_LEASE_SECONDS": 10,
    "CELERY_TASK_TIME_LIMIT": 9,
    "CELERY_TASK_SOFT_TIME_LIMIT": 8,
    "CARTLY_TIMEOUT_SECONDS": 2,
}
# Long enough to kill a worker in the middle of the call, well under the call timeout.
SLOW_CALL_MS = 2500
# After the worker claimed the step, its call is on the wire within milliseconds; waiting
# this long before the kill makes sure Cartly got it (and so applies it while the worker is
# dead), which is the case the idempotency key must cover.
CALL_ON_THE_WIRE_SECONDS = 1.0
KILLED = re.compile(r"exited with 'signal 9 \(SIGKILL\)'")


@pytest.fixture
def crash_step():
    crash_operation.register()
    yield crash_operation.KEY
    crash_operation.unregister()


def test_a_step_whose_worker_was_killed_mid_call_runs_again_and_applies_once(
    sandbox, connection, celery_processes
):
    variant = some_variants(connection, 1)[0]
    recipe = recipe_of(connection, restock(variant, 5))
    worker = celery_processes.worker(**SHORT_LEASE)
    before = stock(connection)[variant]
    sandbox.set_faults(fault_latency_ms=SLOW_CALL_MS)
    try:
        events = store_events(connection)
        wait_for(lambda: running_step(recipe), "the worker to take the step")
        time.sleep(CALL_ON_THE_WIRE_SECONDS)
        killed = worker.kill_children()
    finally:
        sandbox.reset_faults()

    wait_for(
        lambda: stock(connection)[variant] == before + 5,
        "Cartly to apply the call the killed worker made",
    )
    wait_for(lambda: all_succeeded(events), "the step to run again once its lease lapsed")
    step = StepRun.objects.get(run__event=events[0], key="restock")
    assert step.attempts == 2  # the killed attempt and the one that finished
    assert stock(connection)[variant] == before + 5  # the second call was Cartly's replay
    assert worker.process.poll() is None and worker.children() != killed


def test_a_step_that_kills_its_worker_every_time_is_given_up_and_its_batch_runs(
    connection, crash_step, celery_processes
):
    variant = some_variants(connection, 1)[0]
    recipe_of(
        connection,
        {
            "key": "restock",
            "operation": crash_step,
            "fields": {"variant_id": variant, "quantity": "1", "crash": "{{ trigger.crash }}"},
        },
    )
    worker = celery_processes.worker(**BATCH_LEASE)
    before = stock(connection)[variant]

    # One transaction: the clock dispatches them as one batch, so one task takes all four.
    events = store_payloads(connection, [{"crash": "no"}] * 3 + [{"crash": "yes"}])

    finished = wait_for(lambda: all_finished(events), "every run to finish")
    by_crash = {run.event.payload["crash"]: run for run in finished}
    poison = StepRun.objects.get(run=by_crash["yes"], key="restock")
    assert poison.status == StepRun.Status.FAILED and "(poison)" in poison.error
    assert by_crash["yes"].status == Run.Status.FAILED
    fine = [run for run in finished if run.event.payload["crash"] == "no"]
    assert [run.status for run in fine] == [Run.Status.SUCCEEDED] * 3
    # Each was taken in the batch the crash took down, then once more on its own.
    assert [StepRun.objects.get(run=run).attempts for run in fine] == [2, 2, 2]
    assert stock(connection)[variant] == before + 3  # each of the others applied once
    crashes = len(KILLED.findall(worker.log_text()))
    assert 1 <= crashes <= MAX_PICKUPS
    assert worker.process.poll() is None  # the parent lives on and forks new children


def all_finished(events) -> list[Run] | None:
    runs = list(
        Run.objects.filter(event__in=events)
        .exclude(status__in=Run.UNFINISHED)
        .select_related("event")
    )
    return runs if len(runs) == len(events) else None


def test_sigterm_finishes_the_running_step_and_leaves_the_others_to_the_next_worker(
    sandbox, connection, celery_processes
):
    variant = some_variants(connection, 1)[0]
    recipe = recipe_of(connection, restock(variant))
    # One event per batch, so one message per run; lost-after so long that only the broker
    # (never the engine's clock) can bring the runs the stopped worker left to the next one.
    one_by_one = {"ENGINE_DISPATCH_BATCH_SIZE": 1, "ENGINE_STEP_LOST_AFTER_SECONDS": 3600}
    worker = celery_processes.worker(**one_by_one)
    before = stock(connection)[variant]
    sandbox.set_faults(fault_latency_ms=SLOW_CALL_MS)
    try:
        events = store_events(connection, 4)
        wait_for(lambda: running_step(recipe), "the worker to take a step")
        assert worker.stop() == 0  # SIGTERM: a warm shutdown, waiting for the running task
    finally:
        sandbox.reset_faults()

    steps = StepRun.objects.filter(run__event__in=events, key="restock")
    taken = steps.filter(attempts__gt=0)
    # What it had taken (the running task, and one the pool may have had in hand) finished;
    # nothing is left half-done, and what it never took waits in the broker.
    assert taken.exists() and not taken.exclude(status=StepRun.Status.SUCCEEDED).exists()
    assert steps.filter(attempts=0, status=StepRun.Status.PENDING).exists()
    celery_processes.worker(**one_by_one)
    wait_for(lambda: all_succeeded(events), "the next worker to run the others")
    assert stock(connection)[variant] == before + 4
    assert set(steps.values_list("attempts", flat=True)) == {1}


def test_a_batch_too_slow_for_one_task_runs_each_step_once_without_a_lease_lapse(
    sandbox, connection, celery_processes
):
    """Ten slow calls, two at a time, would outlast the task's soft time limit: the task starts
    only what it can finish in time and hands the rest back, so no step is cut off and run
    again after its lease (each is called once)."""
    variant = some_variants(connection, 1)[0]
    recipe_of(connection, restock(variant))
    worker = celery_processes.worker(
        ENGINE_CALL_CONCURRENCY=2,
        ENGINE_STEP_LEASE_SECONDS=12,
        CELERY_TASK_TIME_LIMIT=11,
        CELERY_TASK_SOFT_TIME_LIMIT=10,
        CARTLY_TIMEOUT_SECONDS=4,
    )
    before = stock(connection)[variant]
    sandbox.set_faults(fault_latency_ms=SLOW_CALL_MS)
    try:
        events = store_events(connection, 10)  # one batch: 5 waves × 2.5 s > 10 s soft limit
        wait_for(lambda: all_succeeded(events), "every run")
    finally:
        sandbox.reset_faults()
    assert stock(connection)[variant] == before + 10
    assert set(
        StepRun.objects.filter(run__event__in=events).values_list("attempts", flat=True)
    ) == {1}
    assert "SoftTimeLimitExceeded" not in worker.log_text()


def test_slow_http_steps_are_handed_back_too_and_each_is_sent_once(
    connection,
    celery_processes,
    receiver,  # noqa: F811
):
    """The same for calls to another system, whose timeout is the step's own."""
    receiver.answer(*[Answer(delay=SLOW_CALL_MS / 1000)] * 6)
    recipe_of(
        connection,
        {
            "key": "tell",
            "operation": "http.request",
            "fields": {
                "method": "POST",
                "url": receiver.url(),
                "body_type": "json",
                "sign": "no",
                "timeout_seconds": "4",
                "body": '{"customer": "{{ trigger.id }}"}',
            },
        },
    )
    celery_processes.worker(
        ENGINE_CALL_CONCURRENCY=2, HTTP_STEP_ALLOWED_HOSTS="127.0.0.1", **SHORT_LEASE
    )

    events = store_events(connection, 6)  # one batch: 3 waves × 2.5 s > the 6 s soft limit

    wait_for(lambda: all_succeeded(events), "every run")
    sent = sorted(request.body for request in receiver.received)
    assert sent == sorted(f'{{"customer": "{e.payload["id"]}"}}'.encode() for e in events)
    assert set(
        StepRun.objects.filter(run__event__in=events).values_list("attempts", flat=True)
    ) == {1}
