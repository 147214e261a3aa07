"""Sweeps and the resume after a reconnect: what a lost message left behind moves on, once."""

import threading
from datetime import timedelta

import pytest
from django.db import connections as databases
from django.utils import timezone

from automations import sweeps
from automations.documents import create_recipe
from automations.engine.steps import PAUSED_REASON
from automations.models import Event, Recipe, Run, StepRun
from automations.subscriptions import RECONNECT_PAUSE
from connectors import connections
from connectors.cartly import CartlyClient, iter_pages
from connectors.cartly.constants import CARTLY_SCOPES
from connectors.models import Connection
from tests.automations.conftest import wait_for

pytestmark = pytest.mark.django_db(transaction=True)
LONG_AGO = timedelta(hours=1)


@pytest.fixture
def order(sandbox, connection) -> dict:
    """A real order of the sandbox shop, as Cartly lists it."""
    order_id = sandbox.sandbox_event("order.created")[0]["ids"]["order_id"]
    client = CartlyClient(connection.access_token)
    return next(o for o in iter_pages(client.list_orders) if o["id"] == order_id)


@pytest.fixture
def recipe(connection) -> Recipe:
    recipe = create_recipe(
        connection.owner,
        connection,
        {
            "format": "cartly-automations/recipe@1",
            "name": "Look the order up",
            "mode": "polling",
            "trigger": "cartly.order_created",
            "steps": [
                {
                    "key": "found",
                    "operation": "cartly.find_order",
                    "fields": {"number": "{{ trigger.number }}"},
                }
            ],
        },
    )
    Recipe.objects.filter(pk=recipe.pk).update(enabled=True)
    return recipe


def received_event(connection, payload: dict, suffix: str = "") -> Event:
    """An event the receiver stored while the broker was down: no message was ever sent."""
    return Event.objects.create(
        connection=connection,
        cartly_event_id=f"evt_{payload['id']}{suffix}",
        event_type="order.created",
        object_id=payload["id"],
        payload=payload,
        dedupe_key=f"order.created|{payload['id']}{suffix}",
        received_at=timezone.now() - LONG_AGO,
    )


def stranded_run(recipe, event, **step) -> StepRun:
    """A run whose step's message was lost: laid out, never published."""
    Event.objects.filter(pk=event.pk).update(status=Event.Status.DISPATCHED)
    run = Run.objects.create(
        recipe=recipe,
        event=event,
        recipe_version=recipe.version,
        created_at=timezone.now() - LONG_AGO,
    )
    return StepRun.objects.create(
        run=run, position=0, key="found", operation="cartly.find_order", **step
    )


def run_status(step_run: StepRun) -> str:
    return Run.objects.values_list("status", flat=True).get(pk=step_run.run_id)


def test_it_dispatches_an_event_left_received(
    connection, recipe, order, celery_worker_without_clock
):
    event = received_event(connection, order)

    made = sweeps.sweep_events()

    assert len(made) == 1
    run = wait_for(lambda: Run.objects.filter(pk=made[0], status="succeeded").first(), "the run")
    assert run.event_id == event.pk
    assert sweeps.sweep_events() == []  # claimed: the next sweep finds nothing


def test_two_sweeps_at_once_give_one_run_per_event(connection, recipe, order):
    events = [received_event(connection, order, f"-{n}") for n in range(5)]
    barrier = threading.Barrier(2)
    made: list[list[int]] = []

    def sweep() -> None:
        try:
            barrier.wait()
            made.append(sweeps.sweep_events())
        finally:
            databases.close_all()

    threads = [threading.Thread(target=sweep) for _ in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()

    assert sorted(made[0] + made[1]) == sorted(Run.objects.values_list("id", flat=True))
    assert Run.objects.count() == len(events)
    assert not Event.objects.filter(status="received").exists()


def test_it_nudges_a_run_whose_step_message_was_lost(connection, recipe, order, celery_worker):
    step_run = stranded_run(recipe, received_event(connection, order))

    assert sweeps.sweep_runs() == [step_run.run_id]

    wait_for(lambda: run_status(step_run) == "succeeded", "the nudged run to finish")
    assert sweeps.sweep_runs() == []


def test_it_fails_a_run_that_keeps_stalling(connection, recipe, order):
    step_run = stranded_run(recipe, received_event(connection, order))
    Run.objects.filter(pk=step_run.run_id).update(attempts=sweeps.MAX_NUDGES)

    sweeps.sweep_runs()

    run = Run.objects.get(pk=step_run.run_id)
    assert run.status == Run.Status.FAILED
    assert "stalled" in run.failure_reason
    assert StepRun.objects.get(pk=step_run.pk).status == StepRun.Status.FAILED


def test_it_starts_a_parked_retry_that_is_due(connection, recipe, order, celery_worker):
    step_run = stranded_run(
        recipe,
        received_event(connection, order),
        status="waiting",
        attempts=1,
        next_attempt_at=timezone.now() - LONG_AGO,
    )

    assert sweeps.sweep_waiting_steps() == [step_run.pk]

    wait_for(
        lambda: StepRun.objects.filter(pk=step_run.pk, status="succeeded").exists(),
        "the parked step to run",
    )
    assert sweeps.sweep_waiting_steps() == []


def test_it_resumes_paused_work_when_the_shop_is_reconnected(
    sandbox, connection, recipe, order, celery_worker
):
    Connection.objects.filter(pk=connection.pk).update(status=Connection.Status.NEEDS_RECONNECT)
    Recipe.objects.filter(pk=recipe.pk).update(paused_reason=RECONNECT_PAUSE)
    step_run = stranded_run(
        recipe,
        received_event(connection, order),
        status="waiting",
        attempts=1,
        error=f"{PAUSED_REASON} (token refused)",
    )
    assert sweeps.sweep_waiting_steps() == []  # paused: no time, the sweep leaves it

    connections.connect(connection.owner, sandbox.authorize(" ".join(CARTLY_SCOPES)))

    wait_for(
        lambda: StepRun.objects.filter(pk=step_run.pk, status="succeeded").exists(),
        "the paused step to run after the reconnect",
    )
    assert Recipe.objects.get(pk=recipe.pk).paused_reason == ""
