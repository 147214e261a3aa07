"""Backpressure (automations/backpressure.py): a delivery's answer waits a little while the
engine is behind, and only then; what it holds back is never the durable store."""

import time
from datetime import timedelta

import pytest
from django.utils import timezone

from automations import backpressure
from automations.documents import create_recipe
from automations.models import Event, Run, StepRun
from tests.automations import receiver_helpers as hooks
from tests.automations.receiver_helpers import deliver, envelope

signing_secret = hooks.signing_secret
fresh_lookups = hooks.fresh_lookups
shop = hooks.shop
subscription = hooks.subscription


@pytest.fixture(autouse=True)
def braking(settings):
    settings.ENGINE_BACKPRESSURE_MAX_SECONDS = 0.25
    settings.ENGINE_BACKPRESSURE_TARGET_SECONDS = 0.05
    settings.ENGINE_BACKPRESSURE_GAIN = 0.5
    settings.ENGINE_BACKPRESSURE_GIVE_UP_SECONDS = 2.0
    backpressure.forget()
    yield
    backpressure.forget()


def waiting_event(shop, age: timedelta, suffix: str = "") -> Event:
    return Event.objects.create(
        connection=shop,
        cartly_event_id=f"evt_waiting{suffix}",
        event_type="order.created",
        object_id=f"ord_waiting{suffix}",
        payload={"id": f"ord_waiting{suffix}"},
        dedupe_key=f"order.created|ord_waiting{suffix}",
        received_at=timezone.now() - age,
    )


def published_step(shop, published_ago: timedelta, settings) -> StepRun:
    """A step sent to a worker `published_ago`, not started yet (advance.lost_after's time)."""
    recipe = create_recipe(
        shop.owner,
        shop,
        {
            "format": "cartly-automations/recipe@2",
            "name": "Look the order up",
            "trigger": "cartly.order_created",
            "mode": "instant",
            "steps": [
                {
                    "key": "found",
                    "operation": "cartly.find_order",
                    "fields": {"number": "{{ trigger.number }}"},
                }
            ],
        },
    )
    event = waiting_event(shop, timedelta(0), suffix="-run")
    Event.objects.filter(pk=event.pk).update(status=Event.Status.DISPATCHED)
    run = Run.objects.create(recipe=recipe, event=event, recipe_version=recipe.version)
    lost_at = (
        timezone.now() - published_ago + timedelta(seconds=settings.ENGINE_STEP_LOST_AFTER_SECONDS)
    )
    return StepRun.objects.create(
        run=run,
        position=0,
        key="found",
        operation="cartly.find_order",
        status=StepRun.Status.PENDING,
        next_attempt_at=lost_at,
    )


@pytest.mark.django_db
def test_an_engine_keeping_up_holds_nothing(subscription):
    assert backpressure.lag_seconds() == 0
    assert backpressure.hold_seconds() == 0


@pytest.mark.django_db
def test_the_lag_is_the_oldest_waiting_event_or_published_step(shop, settings):
    waiting_event(shop, timedelta(seconds=2))
    assert backpressure.lag_seconds() == pytest.approx(2, abs=0.5)

    published_step(shop, timedelta(seconds=6), settings)
    assert backpressure.lag_seconds() == pytest.approx(6, abs=0.5)


@pytest.mark.django_db
def test_steps_laid_out_for_later_or_parked_are_not_lag(shop, settings):
    step = published_step(shop, timedelta(seconds=6), settings)
    StepRun.objects.filter(pk=step.pk).update(next_attempt_at=None)  # laid out ahead
    assert backpressure.lag_seconds() == 0
    StepRun.objects.filter(pk=step.pk).update(
        status=StepRun.Status.WAITING, next_attempt_at=timezone.now() - timedelta(hours=1)
    )
    assert backpressure.lag_seconds() == 0  # a parked retry: its own schedule, not a backlog


def test_the_hold_grows_with_the_lag_past_the_target_and_stops_at_the_maximum(settings):
    assert backpressure.hold_for(0.05) == 0
    assert backpressure.hold_for(0.25) == pytest.approx(0.1)
    assert backpressure.hold_for(1.5) == 0.25
    assert backpressure.hold_for(30) == 0  # stopped or far behind: holding cannot help
    settings.ENGINE_BACKPRESSURE_MAX_SECONDS = 0
    assert backpressure.hold_for(1.5) == 0  # switched off


@pytest.mark.django_db
def test_a_delivery_to_an_engine_behind_is_stored_then_answered_after_the_hold(
    subscription, settings
):
    waiting_event(subscription.connection, timedelta(seconds=1.5))
    started = time.monotonic()

    answer = deliver(subscription, envelope())

    assert answer.status_code == 200
    assert time.monotonic() - started >= 0.25  # the full hold: 1.5 s behind
    assert Event.objects.filter(cartly_event_id="evt_01A", status=Event.Status.RECEIVED).exists()


@pytest.mark.django_db
def test_a_stopped_engine_is_not_waited_for(subscription):
    waiting_event(subscription.connection, timedelta(minutes=5))  # no worker for minutes

    started = time.monotonic()
    assert deliver(subscription, envelope()).status_code == 200
    assert time.monotonic() - started < 0.25
    assert backpressure.hold_seconds() == 0


@pytest.mark.django_db
def test_one_process_looks_at_the_lag_once_per_refresh(
    subscription, settings, django_assert_num_queries
):
    backpressure.hold_seconds()
    with django_assert_num_queries(0):
        for _ in range(50):
            backpressure.hold_seconds()
