"""Every example recipe of docs/examples/ for a new step type, imported with the command a
merchant uses and run for real: a Celery worker, the sandbox shop, its effect checked there.
(new-order-discount.json and inventory-low-stock.json have their own end-to-end tests.)"""

from pathlib import Path

import pytest
from django.core.management import call_command
from django.utils import timezone

from automations.models import Recipe, Run, StepRun
from connectors.cartly.client import CartlyClient, iter_pages
from connectors.http import signing
from tests.automations.conftest import start_run, wait_for
from tests.connectors.http_receiver import receiver  # noqa: F401 (the fixture)

pytestmark = pytest.mark.django_db(transaction=True)
EXAMPLES = Path(__file__).resolve().parents[2] / "docs" / "examples"


def imported(connection, name: str) -> Recipe:
    call_command("import_recipes", str(EXAMPLES / name), "--user", connection.owner.username)
    return Recipe.objects.filter(owner=connection.owner).latest("id")


def finished(run: Run) -> Run:
    return wait_for(
        lambda: Run.objects.exclude(status__in=Run.UNFINISHED).filter(pk=run.pk).first(),
        "the run to finish",
    )


def client(connection) -> CartlyClient:
    return CartlyClient(connection.access_token)


def stock(connection) -> dict[str, int]:
    return {
        v["id"]: v["available"]
        for p in iter_pages(client(connection).list_products)
        for v in p["variants"]
    }


def placed_order(sandbox, connection) -> dict:
    order_id = sandbox.sandbox_event("order.created")[0]["ids"]["order_id"]
    return next(o for o in iter_pages(client(connection).list_orders) if o["id"] == order_id)


def test_for_each_line_item(connection, celery_worker):
    recipe = imported(connection, "for-each-line-item.json")
    variants = list(stock(connection))[:2]
    before = stock(connection)
    order = {
        "id": "ord_EX_LOOP",
        "number": 5001,
        "line_items": [
            {"variant_id": variants[0], "quantity": 1},
            {"variant_id": variants[1], "quantity": 2},
        ],
    }

    run = finished(start_run(recipe, connection, order))

    assert run.status == "succeeded"
    after = stock(connection)
    assert [after[v] - before[v] for v in variants] == [-1, -2]


def test_vip_or_note(sandbox, connection, celery_worker):
    recipe = imported(connection, "vip-or-note.json")
    order = placed_order(sandbox, connection)
    customer = client(connection).create_customer({"email": "big@example.com"})
    big = {
        **order,
        "id": order["id"],
        "total_price": "500.00",
        "customer": {"id": customer["id"], "email": customer["email"]},
    }

    assert finished(start_run(recipe, connection, big, event_id="evt_big")).status == "succeeded"
    small = finished(
        start_run(recipe, connection, {**order, "total_price": "1.00"}, event_id="evt_small")
    )

    assert small.status == "succeeded"
    assert "vip" in client(connection).list_customers(email="big@example.com")[0]["tags"]
    noted = next(o for o in iter_pages(client(connection).list_orders) if o["id"] == order["id"])
    assert noted["note"] == f"Thanks for order {order['number']}!"


def test_abandoned_cart_wait(connection, celery_worker):
    recipe = imported(connection, "abandoned-cart-wait.json")
    cart = {"id": "crt_example1", "email": "nobody-yet@example.com"}

    run = start_run(recipe, connection, cart)

    delay = StepRun.objects.get(run=run, key="wait_an_hour")
    assert (delay.next_attempt_at - timezone.now()).total_seconds() > 3000  # about an hour
    assert Run.objects.get(pk=run.pk).status == "waiting"
    StepRun.objects.filter(pk=delay.pk).update(next_attempt_at=timezone.now())  # an hour later
    assert finished(run).status == "succeeded"
    code = StepRun.objects.get(run=run, key="come_back_code")
    assert code.output["code"] == "COMEBACK-CRT_EXAMPLE1"


def test_tell_another_system(connection, celery_worker, settings, receiver):  # noqa: F811
    recipe = imported(connection, "tell-another-system.json")
    settings.HTTP_STEP_ALLOWED_HOSTS = ["127.0.0.1"]
    signing.rotate(connection.owner)
    document = recipe.versions.get(version=recipe.version).document
    # The example posts to a placeholder host: point it at the test's own receiver.
    document["steps"][0]["fields"]["url"] = receiver.url("/api/orders")
    recipe.versions.filter(version=recipe.version).update(document=document)

    run = finished(
        start_run(
            recipe, connection, {"id": "ord_EX_HTTP", "number": 6001, "email": "w@example.com"}
        )
    )

    assert run.status == "succeeded"
    assert receiver.received[0].path == "/api/orders"
    assert b'"number": 6001' in receiver.received[0].body


def test_discount_or_note(sandbox, connection, celery_worker):
    recipe = imported(connection, "discount-or-note.json")
    assert recipe.turn_off_after_failures == 20
    order = placed_order(sandbox, connection)

    first = finished(start_run(recipe, connection, order, event_id="evt_code_1"))
    second = finished(start_run(recipe, connection, order, event_id="evt_code_2"))

    assert first.status == second.status == "succeeded"
    assert StepRun.objects.get(run=second, key="thanks_code").status == "failed"
    noted = next(o for o in iter_pages(client(connection).list_orders) if o["id"] == order["id"])
    assert noted["note"].startswith("No thank-you code: ")
