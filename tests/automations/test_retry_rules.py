"""Retries that must neither repeat an effect nor replay a stale refusal, and waits that
must stay bounded."""

import pytest
import requests
from django.contrib.auth.models import User

from automations.engine.replay import CannotRetry, retry_from_failed_step
from automations.models import Event, Recipe, RecipeVersion, Run, StepRun
from connectors.cartly.client import _retry_after
from connectors.cartly.constants import MAX_RETRY_AFTER_SECONDS
from connectors.models import Connection

DOCUMENT = {
    "format": "cartly-automations/recipe@1",
    "name": "r",
    "trigger": "cartly.order_created",
    "mode": "instant",
    "steps": [
        {"key": "d", "operation": "cartly.create_discount", "fields": {"code": "X", "value": "5"}}
    ],
}


@pytest.mark.parametrize("raw", ["inf", "1e400", "999999999"])
def test_a_huge_retry_after_is_clamped(raw):
    response = requests.Response()
    response.headers["Retry-After"] = raw
    assert _retry_after(response) == MAX_RETRY_AFTER_SECONDS


@pytest.fixture
def failed_step(db):
    owner = User.objects.create_user("o")
    connection = Connection.objects.create(
        owner=owner, shop_id="shop_1", shop_name="S", shop_domain="s.mycartly.pro"
    )
    recipe = Recipe.objects.create(
        owner=owner,
        connection=connection,
        name="r",
        trigger="cartly.order_created",
        event_type="order.created",
    )
    RecipeVersion.objects.create(recipe=recipe, version=1, document=DOCUMENT)
    event = Event.objects.create(
        connection=connection,
        cartly_event_id="evt_1",
        event_type="order.created",
        payload={"id": "ord_1"},
    )
    run = Run.objects.create(recipe=recipe, event=event, recipe_version=1, status="failed")
    return StepRun.objects.create(
        run=run,
        position=0,
        key="d",
        operation="cartly.create_discount",
        status="failed",
        rendered_input={"code": "X", "value": "5"},
        attempts=5,
    )


def test_a_retry_after_a_refusal_uses_a_fresh_key_and_renders_again(failed_step):
    StepRun.objects.filter(pk=failed_step.pk).update(status_code=422)
    old_key = failed_step.idempotency_key
    retry_from_failed_step(failed_step.run)
    step = StepRun.objects.get(pk=failed_step.pk)
    assert step.status == "pending" and step.idempotency_key != old_key
    assert step.rendered_input is None


@pytest.mark.parametrize("status_code", [None, 500, 429])
def test_a_retry_after_a_possible_effect_keeps_key_and_input(failed_step, status_code):
    StepRun.objects.filter(pk=failed_step.pk).update(status_code=status_code)
    old_key = failed_step.idempotency_key
    retry_from_failed_step(failed_step.run)
    step = StepRun.objects.get(pk=failed_step.pk)
    assert step.idempotency_key == old_key
    assert step.rendered_input == {"code": "X", "value": "5"}


def test_a_step_a_worker_holds_is_not_reset(failed_step):
    StepRun.objects.filter(pk=failed_step.pk).update(status="running")
    with pytest.raises(CannotRetry):
        retry_from_failed_step(failed_step.run)
    assert StepRun.objects.get(pk=failed_step.pk).status == "running"
