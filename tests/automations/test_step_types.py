"""Loops, paths, delays and error handling, run for real: a Celery worker, the sandbox shop."""

import json

import pytest
from django.core import mail
from django.test import Client

from automations.documents import create_recipe
from automations.engine.replay import cancel_run
from automations.models import Recipe, Run, StepRun
from connectors.cartly.client import CartlyClient, iter_pages
from connectors.http import signing
from connectors.http.request import SIGNATURE_HEADER
from notifications.models import ConfirmedAddress
from tests.automations.conftest import finished_runs, start_run, wait_for
from tests.connectors.http_receiver import Answer, receiver  # noqa: F401 (the fixture)

pytestmark = pytest.mark.django_db(transaction=True)
FORMAT = "cartly-automations/recipe@2"


def recipe_of(connection, trigger: str, *steps: dict, **extra) -> Recipe:
    return create_recipe(
        connection.owner,
        connection,
        {
            "format": FORMAT,
            "name": "Test recipe",
            "trigger": trigger,
            "mode": "instant",
            "steps": list(steps),
            **extra,
        },
    )


def stock_levels(connection) -> dict[str, int]:
    client = CartlyClient(connection.access_token)
    return {
        variant["id"]: variant["available"]
        for product in iter_pages(client.list_products)
        for variant in product["variants"]
    }


def new_customer(connection, name: str) -> dict:
    client = CartlyClient(connection.access_token)
    return client.create_customer({"email": f"{name}@example.com", "first_name": name})


def customer_now(connection, customer: dict) -> dict:
    client = CartlyClient(connection.access_token)
    return client.list_customers(email=customer["email"], limit=1)[0]


def one_run(recipe) -> Run:
    return wait_for(lambda: finished_runs(recipe), "the run to finish")[0]


def test_a_loop_adjusts_each_line_item_once(connection, celery_worker):
    variants = list(stock_levels(connection))[:3]
    before = stock_levels(connection)
    order = {
        "id": "ord_LOOP1",
        "number": 9001,
        "line_items": [
            {"variant_id": variant, "quantity": n + 1} for n, variant in enumerate(variants)
        ],
    }
    recipe = recipe_of(
        connection,
        "cartly.order_fulfilled",
        {
            "key": "each_item",
            "loop": {"over": "trigger.line_items"},
            "steps": [
                {
                    "key": "restock",
                    "operation": "cartly.adjust_inventory",
                    "fields": {
                        "variant_id": "{{ item.variant_id }}",
                        "mode": "adjust",
                        "quantity": "{{ item.quantity }}",
                    },
                }
            ],
        },
    )

    run = start_run(recipe, connection, order)

    assert one_run(recipe).status == "succeeded"
    after = stock_levels(connection)
    assert [after[v] - before[v] for v in variants] == [1, 2, 3]
    rows = StepRun.objects.filter(run=run, key="restock").order_by("address")
    assert [row.address for row in rows] == ["0.i0.0", "0.i1.0", "0.i2.0"]
    assert len({row.idempotency_key for row in rows}) == 3  # one key per item
    loop = StepRun.objects.get(run=run, key="each_item")
    assert loop.status == "succeeded" and loop.output["count"] == 3
    # The run page gives the loop the time from its start to its last item's end.
    assert loop.shown_duration_ms == int(
        (loop.finished_at - loop.started_at).total_seconds() * 1000
    )
    merchant = Client()
    merchant.force_login(connection.owner)
    page = merchant.get(f"/runs/{run.pk}/").content.decode()
    assert f"<dd>{loop.shown_duration_ms} ms</dd>" in page


def test_paths_take_the_branch_each_order_should_take(connection, celery_worker):
    customer = new_customer(connection, "paths")
    recipe = recipe_of(
        connection,
        "cartly.order_created",
        {
            "key": "route",
            "paths": {
                "run": "first",
                "branches": [
                    {
                        "label": "Big order",
                        "match": "all",
                        "conditions": [
                            {
                                "field": "trigger.total_price",
                                "operator": "greater_than",
                                "value": "100",
                            }
                        ],
                        "steps": [
                            {
                                "key": "vip",
                                "operation": "cartly.update_customer",
                                "fields": {
                                    "customer_id": "{{ trigger.customer.id }}",
                                    "tags": "vip",
                                },
                            }
                        ],
                    },
                ],
                "otherwise": [
                    {
                        "key": "regular",
                        "operation": "cartly.update_customer",
                        "fields": {
                            "customer_id": "{{ trigger.customer.id }}",
                            "note": "Order {{ trigger.number }}",
                        },
                    }
                ],
            },
        },
    )
    buyer = {"id": customer["id"], "email": customer["email"]}

    big = start_run(
        recipe,
        connection,
        {"id": "ord_BIG", "number": 7001, "total_price": "250.00", "customer": buyer},
    )
    wait_for(lambda: Run.objects.filter(pk=big.pk, status="succeeded").exists(), "the big one")
    small = start_run(
        recipe,
        connection,
        {"id": "ord_SMALL", "number": 7002, "total_price": "20.00", "customer": buyer},
    )
    wait_for(lambda: Run.objects.filter(pk=small.pk, status="succeeded").exists(), "the small")

    assert StepRun.objects.get(run=big, key="route").output["ran"] == ["Big order"]
    assert StepRun.objects.filter(run=big, key="vip", status="succeeded").exists()
    assert not StepRun.objects.filter(run=big, key="regular").exists()
    decided = StepRun.objects.get(run=small, key="route").output
    assert (
        decided["ran"] == ["Otherwise"]
        and "not greater than 100" in decided["branches"][0]["reason"]
    )
    after = customer_now(connection, customer)
    assert "vip" in after["tags"] and after["note"] == "Order 7002"


def test_a_delay_parks_the_run_then_it_goes_on_and_can_search_again(connection, celery_worker):
    customer = new_customer(connection, "delayed")
    recipe = recipe_of(
        connection,
        "cartly.cart_abandoned",
        {"key": "wait", "delay": {"for": {"amount": 0.03, "unit": "minutes"}}},
        {
            "key": "still_there",
            "operation": "cartly.find_customer",
            "fields": {"email": "{{ trigger.email }}"},
        },
    )

    run = start_run(recipe, connection, {"id": "crt_DELAY", "email": customer["email"]})

    wait_for(lambda: Run.objects.filter(pk=run.pk, status="waiting").exists(), "the wait")
    assert Run.objects.get(pk=run.pk).failure_reason.startswith("Waiting until")
    assert one_run(recipe).status == "succeeded"
    assert StepRun.objects.get(run=run, key="still_there").output["id"] == customer["id"]


def test_a_waiting_run_can_be_canceled(connection, celery_worker):
    recipe = recipe_of(
        connection,
        "cartly.cart_abandoned",
        {"key": "wait", "delay": {"for": {"amount": 1, "unit": "hours"}}},
    )
    run = start_run(recipe, connection, {"id": "crt_CANCEL", "email": "x@example.com"})
    assert Run.objects.get(pk=run.pk).status == "waiting"

    assert cancel_run(run)

    assert Run.objects.get(pk=run.pk).status == "canceled"
    assert StepRun.objects.get(run=run, key="wait").status == "canceled"


def bad_status_change(**extra) -> dict:
    # Cartly refuses to move an order from fulfilled back to paid (cartly-api.md): a 422.
    return {
        "key": "repay",
        "operation": "cartly.update_order",
        "fields": {"order_id": "{{ trigger.id }}", "status": "paid"},
        **extra,
    }


def fulfilled_order(sandbox, connection) -> dict:
    order_id = sandbox.sandbox_event("order.fulfilled")[0]["ids"]["order_id"]
    client = CartlyClient(connection.access_token)
    return next(
        o for o in iter_pages(client.list_orders, status="fulfilled") if o["id"] == order_id
    )


def test_a_failing_step_that_goes_on_lets_the_run_succeed_with_the_error_kept(
    sandbox, connection, celery_worker
):
    order = fulfilled_order(sandbox, connection)
    recipe = recipe_of(
        connection,
        "cartly.order_updated",
        bad_status_change(on_error="continue"),
        {
            "key": "note",
            "operation": "cartly.update_order",
            "fields": {
                "order_id": "{{ trigger.id }}",
                "note": "Could not: {{ steps.repay.error }}",
            },
        },
    )

    run = start_run(recipe, connection, order)

    assert one_run(recipe).status == "succeeded"
    failed = StepRun.objects.get(run=run, key="repay")
    assert failed.status == "failed" and failed.status_code == 422
    note = StepRun.objects.get(run=run, key="note").output["note"]
    assert note.startswith("Could not: ") and len(note) > len("Could not: ")


def test_a_recipe_that_keeps_failing_is_switched_off_and_the_merchant_told(
    sandbox, connection, celery_worker
):
    connection.owner.email = "owner@example.com"
    connection.owner.save()
    # Alerts go only to a confirmed address (notifications/confirmation.py).
    ConfirmedAddress.objects.create(user=connection.owner, email="owner@example.com")
    order = fulfilled_order(sandbox, connection)
    recipe = recipe_of(
        connection, "cartly.order_updated", bad_status_change(), turn_off_after_failures=2
    )
    Recipe.objects.filter(pk=recipe.pk).update(enabled=True)

    for n in range(2):
        start_run(
            recipe,
            connection,
            {**order, "updated_at": f"2026-11-29T10:0{n}:00Z"},
            event_id=f"evt_TRIP{n}",
        )
    wait_for(lambda: not Recipe.objects.get(pk=recipe.pk).enabled, "the recipe to switch off")

    recipe.refresh_from_db()
    assert recipe.consecutive_failures == 2
    assert "2 failed runs in a row" in recipe.paused_reason
    assert any("switched off" in message.subject for message in mail.outbox)


def http_step(url: str, sign: str = "yes") -> dict:
    return {
        "key": "tell",
        "operation": "http.request",
        "fields": {
            "method": "POST",
            "url": url,
            "body_type": "json",
            "sign": sign,
            "body": '{"order": "{{ trigger.id }}", "number": {{ trigger.number }}}',
        },
    }


def test_an_http_step_posts_to_an_allowed_receiver_and_later_steps_read_its_answer(
    connection,
    celery_worker,
    settings,
    receiver,  # noqa: F811
):
    settings.HTTP_STEP_ALLOWED_HOSTS = ["127.0.0.1"]
    signing.rotate(connection.owner)
    receiver.answer(Answer(body=b'{"ticket": "T-77"}'))
    recipe = recipe_of(
        connection,
        "cartly.order_created",
        http_step(receiver.url()),
        {
            "key": "check",
            "filter": {
                "match": "all",
                "conditions": [
                    {"field": "steps.tell.body.ticket", "operator": "equals", "value": "T-77"}
                ],
            },
        },
    )

    run = start_run(recipe, connection, {"id": "ord_HTTP", "number": 4242})

    assert one_run(recipe).status == "succeeded"
    sent = receiver.received[0]
    assert json.loads(sent.body) == {"order": "ord_HTTP", "number": 4242}
    assert sent.headers.get(SIGNATURE_HEADER)
    assert StepRun.objects.get(run=run, key="tell").output["body"] == {"ticket": "T-77"}


@pytest.mark.parametrize("address", ["127.0.0.1", "10.0.0.1", "169.254.169.254"])
def test_an_http_step_to_a_private_address_is_refused_without_the_setting(
    connection, celery_worker, settings, address
):
    settings.HTTP_STEP_ALLOWED_HOSTS = []
    recipe = recipe_of(
        connection, "cartly.order_created", http_step(f"http://{address}/hook", sign="no")
    )

    run = start_run(recipe, connection, {"id": f"ord_SSRF{address}", "number": 1})

    assert one_run(recipe).status == "failed"
    step = StepRun.objects.get(run=run, key="tell")
    assert step.status == "failed" and step.attempts == 1
    assert address in step.error or "not allowed" in step.error.lower()


def test_a_run_s_templates_share_one_deadline_whatever_its_loop_multiplies(
    connection, celery_worker, monkeypatch
):
    from automations.engine import render_limits

    monkeypatch.setattr(render_limits, "RUN_DEADLINE_SECONDS", 0.3)
    # Tens of ms each, well over the 5 ms a render must take to be counted (render_batch.py),
    # on a fast machine too (9,000 plain rounds stayed under it at a fast moment of the CI VM;
    # loops take at most 10,000 steps, so each round does more).
    busy = (
        "{% for i in range(3000) %}{% set x = ((i * i) ~ '-' ~ (i * 7) ~ '-' ~ (i * 13)) "
        "| upper | length %}{% endfor %}1"
    )
    recipe = recipe_of(
        connection,
        "cartly.order_created",
        {
            "key": "each",
            "loop": {"over": "trigger.line_items"},
            "steps": [
                {
                    "key": "look",
                    "operation": "cartly.find_customer",
                    "if_not_found": "continue",
                    "fields": {"email": busy + "@example.com"},
                }
            ],
        },
    )
    order = {"id": "ord_SLOW", "number": 1, "line_items": [{"n": n} for n in range(40)]}

    start_run(recipe, connection, order)

    run = one_run(recipe)
    assert run.status == "failed"
    assert "the run's templates together took longer than 0.3 s" in run.failure_reason
    assert Run.objects.get(pk=run.pk).render_seconds > 0.2  # the items before it, counted
