"""The whole path: a sandbox event → signed delivery → our receiver → dispatch → Celery steps →
the effect visible in the sandbox. Real HTTP both ways, a real worker, the real broker."""

import json
from pathlib import Path

import pytest

from automations.documents import create_recipe
from automations.models import Event, Run, StepRun
from automations.subscriptions import enable_recipe
from connectors.cartly.client import CartlyClient
from tests.automations.conftest import finished_runs, start_run, wait_for

EXAMPLE = Path(__file__).resolve().parents[2] / "docs" / "examples" / "new-order-discount.json"
pytestmark = pytest.mark.django_db(transaction=True)


def recipe_document(**overrides) -> dict:
    document = json.loads(EXAMPLE.read_text())
    document.update(overrides)
    return document


def discount_codes(sandbox) -> str:
    return sandbox.merchant_session().get(f"{sandbox.base_url}/discounts/", timeout=30).text


def test_an_order_in_the_shop_runs_the_example_recipe_once(
    sandbox, connection, public_server, celery_worker
):
    document = recipe_document()
    document.pop("filter", None)  # the example skips small orders; this order is random
    recipe = create_recipe(connection.owner, connection, document)
    enable_recipe(recipe)

    sandbox.sandbox_event("order.created")

    runs = wait_for(lambda: finished_runs(recipe), "the run to finish")
    run = runs[0]
    assert run.status == Run.Status.SUCCEEDED, run.failure_reason
    steps = list(StepRun.objects.filter(run=run).order_by("position"))
    assert [s.status for s in steps] == ["succeeded"] * len(steps)
    discount = steps[-1].output
    assert discount["code"] in discount_codes(sandbox)
    assert steps[0].rendered_input["email"] == run.event.payload["email"]
    assert Event.objects.filter(event_type="order.created").count() == 1


def test_a_delivery_sent_twice_gives_one_run(sandbox, connection, public_server, celery_worker):
    recipe = create_recipe(connection.owner, connection, recipe_document())
    enable_recipe(recipe)
    sandbox.set_faults(fault_delivery_duplicate_rate=1.0)
    try:
        sandbox.sandbox_event("order.created")
        wait_for(lambda: finished_runs(recipe), "the run to finish")
    finally:
        sandbox.reset_faults()
    assert Run.objects.filter(recipe=recipe).count() == 1
    assert Event.objects.count() == 1


def stock(connection, variant_id: str) -> int:
    for product in CartlyClient(connection.access_token).list_products(limit=250):
        for variant in product["variants"]:
            if variant["id"] == variant_id:
                return variant["available"]
    raise AssertionError(variant_id)


def restock_recipe(owner, connection, variant_id: str):
    return create_recipe(
        owner,
        connection,
        {
            "format": "cartly-automations/recipe@1",
            "name": "Restock on sign-up",
            "trigger": "cartly.customer_created",
            "mode": "instant",
            "steps": [
                {
                    "key": "restock",
                    "operation": "cartly.adjust_inventory",
                    "fields": {"variant_id": variant_id, "mode": "adjust", "quantity": "5"},
                }
            ],
        },
    )


def test_a_call_that_timed_out_after_its_effect_is_not_applied_twice(
    sandbox, connection, owner, celery_worker, settings
):
    variant_id = CartlyClient(connection.access_token).list_products()[0]["variants"][0]["id"]
    before = stock(connection, variant_id)
    recipe = restock_recipe(owner, connection, variant_id)
    settings.CARTLY_TIMEOUT_SECONDS = 0.5
    sandbox.set_faults(fault_latency_ms=1500)  # Cartly applies it, we stop waiting first
    try:
        run = start_run(recipe, connection, {"id": "cus_TIMEOUT1", "email": "t@example.com"})
        wait_for(
            lambda: StepRun.objects.filter(run=run, status="waiting").exists(),
            "a first attempt that timed out",
        )
    finally:
        sandbox.reset_faults()
    wait_for(lambda: finished_runs(recipe), "the retry to finish")
    step = StepRun.objects.get(run=run)
    assert step.status == "succeeded" and step.attempts >= 2, step.error
    assert stock(connection, variant_id) == before + 5


def test_a_cartly_500_is_retried_and_then_succeeds(sandbox, connection, owner, celery_worker):
    variant_id = CartlyClient(connection.access_token).list_products()[0]["variants"][0]["id"]
    before = stock(connection, variant_id)
    recipe = restock_recipe(owner, connection, variant_id)
    sandbox.set_faults(fault_error_rate=1.0)
    try:
        run = start_run(recipe, connection, {"id": "cus_FIVEHUNDRED", "email": "f@example.com"})
        wait_for(
            lambda: StepRun.objects.filter(run=run, status="waiting").exists(),
            "a first attempt answered 500",
        )
        assert StepRun.objects.get(run=run).status_code == 500
    finally:
        sandbox.reset_faults()
    wait_for(lambda: finished_runs(recipe), "the retry to finish")
    assert StepRun.objects.get(run=run).status == "succeeded"
    assert stock(connection, variant_id) == before + 5
