"""Each operation through a real worker against the real sandbox, and the ways a run stops."""

import uuid

import pytest

from automations.documents import create_recipe
from automations.models import Run, StepRun
from connectors.cartly.client import CartlyClient
from tests.automations.conftest import finished_runs, one_step_document, start_run, wait_for

pytestmark = pytest.mark.django_db(transaction=True)


@pytest.fixture
def cartly(connection) -> CartlyClient:
    return CartlyClient(connection.access_token)


@pytest.fixture
def order(sandbox, cartly) -> dict:
    """A real order placed in the sandbox shop (no recipe listens to it)."""
    placed = sandbox.sandbox_event("order.created")[0]
    return next(o for o in cartly.list_orders(limit=250) if o["id"] == placed["ids"]["order_id"])


def run_recipe(owner, connection, document: dict, payload: dict) -> Run:
    recipe = create_recipe(owner, connection, document)
    start_run(recipe, connection, payload, event_id=f"evt_{uuid.uuid4().hex}")
    return wait_for(lambda: finished_runs(recipe), "the run to finish")[0]


def steps_of(run: Run) -> list[StepRun]:
    return list(StepRun.objects.filter(run=run).order_by("position"))


def unique_email() -> str:
    return f"new-{uuid.uuid4().hex[:10]}@example.com"


def test_it_creates_a_customer(owner, connection, cartly, celery_worker):
    email = unique_email()
    document = one_step_document(
        "cartly.order_created",
        {
            "key": "create",
            "operation": "cartly.create_customer",
            "fields": {
                "email": email,
                "first_name": "{{ trigger.customer.first_name|default('Ann') }}",
                "tags": "vip, {{ trigger.currency|lower }}",
            },
        },
    )
    run = run_recipe(
        owner, connection, document, {"id": "ord_X1", "currency": "USD", "customer": None}
    )
    assert run.status == "succeeded", run.failure_reason
    [customer] = cartly.list_customers(email=email)
    assert customer["tags"] == ["vip", "usd"] and customer["first_name"] == "Ann"


def test_it_updates_an_order_and_a_customer(owner, connection, cartly, order, celery_worker):
    document = one_step_document(
        "cartly.order_created",
        {
            "key": "pay",
            "operation": "cartly.update_order",
            "fields": {
                "order_id": "{{ trigger.id }}",
                "status": "paid",
                "note": "Paid by recipe for #{{ trigger.number }}",
            },
        },
        {
            "key": "tag",
            "operation": "cartly.update_customer",
            "fields": {
                "customer_id": "{{ trigger.customer.id }}",
                "note": "Order {{ steps.pay.status }}",
            },
        },
    )
    run = run_recipe(owner, connection, document, order)
    assert run.status == "succeeded", run.failure_reason
    [changed] = cartly.list_orders(number=order["number"])
    assert changed["status"] == "paid"
    assert changed["note"] == f"Paid by recipe for #{order['number']}"
    [customer] = cartly.list_customers(email=order["email"])
    assert customer["note"] == "Order paid"


def test_it_finds_an_order_and_a_customer_and_creates_a_discount(
    owner, connection, cartly, order, celery_worker
):
    code = f"THANKS-{uuid.uuid4().hex[:6].upper()}"
    document = one_step_document(
        "cartly.customer_created",
        {
            "key": "order",
            "operation": "cartly.find_order",
            "fields": {"number": str(order["number"])},
        },
        {
            "key": "buyer",
            "operation": "cartly.find_customer",
            "fields": {"email": "{{ steps.order.email }}"},
        },
        {
            "key": "discount",
            "operation": "cartly.create_discount",
            "fields": {
                "code": code,
                "kind": "fixed_amount",
                "value": "{{ steps.order.total_price|money }}",
                "usage_limit": "1",
            },
        },
    )
    run = run_recipe(owner, connection, document, {"id": "cus_TRIGGER1"})
    assert run.status == "succeeded", run.failure_reason
    order_step, buyer_step, discount_step = steps_of(run)
    assert order_step.output["id"] == order["id"]
    assert buyer_step.output["email"] == order["email"]
    assert discount_step.output["code"] == code
    assert discount_step.output["value"] == order["total_price"]


def test_find_or_create_creates_once_then_finds(owner, connection, cartly, celery_worker):
    email = unique_email()
    document = one_step_document(
        "cartly.customer_created",
        {
            "key": "customer",
            "operation": "cartly.find_or_create_customer",
            "fields": {"email": email},
        },
    )
    first = run_recipe(owner, connection, document, {"id": "cus_A"})
    second = run_recipe(owner, connection, document, {"id": "cus_B"})
    assert steps_of(first)[0].output["created"] is True
    assert steps_of(second)[0].output["created"] is False
    assert len(cartly.list_customers(email=email)) == 1


def test_a_filter_stops_the_run_as_filtered(owner, connection, celery_worker):
    document = one_step_document(
        "cartly.order_created",
        {
            "key": "big_only",
            "filter": {
                "match": "all",
                "conditions": [
                    {"field": "trigger.total_price", "operator": "greater_than", "value": "100"}
                ],
            },
        },
        {
            "key": "discount",
            "operation": "cartly.create_discount",
            "fields": {"code": "NEVER-MADE", "value": "10"},
        },
    )
    run = run_recipe(owner, connection, document, {"id": "ord_SMALL", "total_price": "12.00"})
    assert run.status == "filtered"
    assert "is not greater than 100" in run.failure_reason
    assert [s.status for s in steps_of(run)] == ["filtered", "skipped"]


def test_a_search_that_finds_nothing_halts_or_goes_on(owner, connection, celery_worker):
    search = {
        "key": "find",
        "operation": "cartly.find_customer",
        "fields": {"email": "nobody-{{ trigger.id }}@example.com"},
    }
    halted = run_recipe(
        owner, connection, one_step_document("cartly.order_created", search), {"id": "ord_NOBODY"}
    )
    assert halted.status == "halted"
    assert steps_of(halted)[0].status == "halted"

    going_on = run_recipe(
        owner,
        connection,
        one_step_document(
            "cartly.order_created",
            {**search, "if_not_found": "continue"},
            {
                "key": "later",
                "filter": {
                    "match": "all",
                    "conditions": [{"field": "steps.find.email", "operator": "not_exists"}],
                },
            },
        ),
        {"id": "ord_NOBODY2"},
    )
    assert going_on.status == "succeeded", going_on.failure_reason


def test_a_template_error_fails_the_step_naming_the_field(owner, connection, celery_worker):
    document = one_step_document(
        "cartly.order_created",
        {
            "key": "create",
            "operation": "cartly.create_customer",
            "fields": {"email": "{{ trigger.customer.emali }}"},
        },
    )
    run = run_recipe(owner, connection, document, {"id": "ord_T", "customer": {"email": "a@b.c"}})
    assert run.status == "failed"
    [step] = steps_of(run)
    assert step.status == "failed" and '"Email"' in step.error and "emali" in step.error
    assert step.attempts == 1


def test_a_422_fails_at_once_with_cartlys_message(owner, connection, cartly, celery_worker):
    taken = unique_email()
    cartly.create_customer({"email": taken})
    document = one_step_document(
        "cartly.order_created",
        {
            "key": "create",
            "operation": "cartly.create_customer",
            "fields": {"email": taken},
        },
    )
    run = run_recipe(owner, connection, document, {"id": "ord_DUP"})
    assert run.status == "failed"
    [step] = steps_of(run)
    assert step.status_code == 422 and step.attempts == 1
    assert "already taken" in step.error and step.error_fields == {"email": ["already taken"]}
    assert "already taken" in run.failure_reason
