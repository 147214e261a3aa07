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
    settings.ENGINE_BACKPRESSURE_GAIN = 20.0  # the full hold from the first look at 1.5 s
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


def test_the_hold_grows_while_the_lag_is_over_the_target_and_shrinks_while_under(settings):
    settings.ENGINE_BACKPRESSURE_GAIN = 10.0
    hold = backpressure.next_hold(0.0, 0.06, 0.1)  # 0.01 s past the target for 0.1 s
    assert hold == pytest.approx(0.01)
    hold = backpressure.next_hold(hold, 0.06, 0.1)
    assert hold == pytest.approx(0.02)  # still behind: it keeps growing, no standing lag needed
    hold = backpressure.next_hold(hold, 0.05, 0.1)
    assert hold == pytest.approx(0.02)  # at the target: it stays where the load put it
    hold = backpressure.next_hold(hold, 0.04, 0.1)
    assert hold == pytest.approx(0.01)  # under the target: it lets go
    assert backpressure.next_hold(0.01, 0.0, 1.0) == 0  # never below none


def test_a_burst_of_lag_counts_no_more_than_an_ordinary_look_over_the_target(settings):
    settings.ENGINE_BACKPRESSURE_GAIN = 10.0
    most = backpressure.COUNTED_ERROR_SECONDS
    burst = backpressure.next_hold(0.0, 0.05 + 1.0, 0.1)
    assert burst == pytest.approx(10.0 * most * 0.1)
    assert burst == backpressure.next_hold(0.0, 0.05 + most, 0.1)
    assert backpressure.next_hold(0.1, 0.0, 0.1) == pytest.approx(0.1 - 10.0 * most * 0.1)


def test_the_hold_stops_at_the_maximum_and_never_waits_for_a_stopped_engine(settings):
    assert backpressure.next_hold(0.2, 1.5, 1.0) == 0.25
    assert backpressure.next_hold(0.2, 30, 0.1) == 0  # stopped or far behind: holding cannot help
    settings.ENGINE_BACKPRESSURE_MAX_SECONDS = 0
    assert backpressure.next_hold(0.2, 1.5, 0.1) == 0  # switched off


@pytest.mark.django_db
def test_a_process_quiet_for_a_while_starts_again_from_no_hold(shop, settings):
    behind = waiting_event(shop, timedelta(seconds=1.5))
    assert backpressure.hold_seconds() == 0.25
    Event.objects.filter(pk=behind.pk).update(status=Event.Status.DISPATCHED)  # caught up
    settings.ENGINE_BACKPRESSURE_GAIN = 0.5  # letting go would take seconds
    backpressure._last["at"] -= backpressure.FORGET_AFTER_SECONDS + 1  # a quiet second
    assert backpressure.hold_seconds() == 0  # not 0.24, let go of slowly


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
