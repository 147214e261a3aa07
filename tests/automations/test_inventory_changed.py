"""Inventory Changed, end to end: docs/examples/inventory-low-stock.json imported and turned on,
the stock changed in the sandbox's own shop UI over HTTP, the run made by a real Celery worker;
by REST Hook, by polling, and both at once (one run)."""

import json
from pathlib import Path

import pytest
from django.test import Client

from automations import polling, polling_levels
from automations.documents import create_recipe
from automations.models import Event, PollCursor, Recipe, Run, SeenLevel, StepRun
from automations.subscriptions import enable_recipe
from connectors.cartly.client import CartlyClient
from tests.automations.conftest import wait_for
from tests.sandbox_server import HTTP_TIMEOUT_SECONDS, parse_forms, post_form

EXAMPLE = Path(__file__).resolve().parents[2] / "docs" / "examples" / "inventory-low-stock.json"
EVENT = "inventory_level.updated"
RESTOCKED = 20  # the example's "set" quantity
pytestmark = pytest.mark.django_db(transaction=True)


def low_stock_recipe(connection, mode: str = "instant") -> Recipe:
    document = json.loads(EXAMPLE.read_text())
    document["mode"] = mode
    return enable_recipe(create_recipe(connection.owner, connection, document))


def a_variant(connection) -> dict:
    return CartlyClient(connection.access_token).list_products()[0]["variants"][0]


def level(connection, variant_id: str) -> dict:
    """The variant's stock and its product's updated_at, as the API lists them."""
    for product in CartlyClient(connection.access_token).list_products(limit=250):
        for variant in product["variants"]:
            if variant["id"] == variant_id:
                return {"available": variant["available"], "updated_at": product["updated_at"]}
    raise AssertionError(variant_id)


def set_stock_in_the_shop(sandbox, variant_id: str, available: int) -> None:
    """The merchant's "Set to" form on the sandbox's products page, as a browser posts it."""
    session = sandbox.merchant_session()
    page = session.get(f"{sandbox.base_url}/products/", timeout=HTTP_TIMEOUT_SECONDS)
    page.raise_for_status()
    [form] = [f for f in parse_forms(page.text) if f.action.endswith(f"/{variant_id}/inventory/")]
    answer = post_form(
        session, page, form, {**form.values(), "mode": "available", "amount": str(available)}
    )
    assert answer.status_code == 302, answer.text[:500]


def runs_by_status(recipe: Recipe) -> dict[str, list[Run]]:
    found: dict[str, list[Run]] = {}
    for run in Run.objects.filter(recipe=recipe).select_related("event").order_by("id"):
        found.setdefault(run.status, []).append(run)
    return found


def finished(recipe: Recipe, count: int) -> bool:
    runs = Run.objects.filter(recipe=recipe)
    return runs.count() == count and not runs.filter(status__in=["queued", "running"]).exists()


def tick() -> int:
    """One beat's worth of polling, run here instead of through the broker."""
    return sum(
        polling.poll_listing(listing, need.since)
        for listing, need in polling.polling_needs().items()
    )


def test_a_stock_drop_below_five_runs_the_example_once(
    sandbox, connection, public_server, celery_worker
):
    variant_id = a_variant(connection)["id"]
    set_stock_in_the_shop(sandbox, variant_id, 10)  # before the hook: no run for this one
    recipe = low_stock_recipe(connection)

    set_stock_in_the_shop(sandbox, variant_id, 3)

    # 10 → 3 passes the filter and restocks to 20, which fires again: 3 → 20 is filtered.
    wait_for(lambda: finished(recipe, 2), "the drop's run and the restock's run")
    runs = runs_by_status(recipe)
    [dropped] = runs["succeeded"]
    assert dropped.event.source == Event.Source.WEBHOOK
    assert dropped.event.object_id == variant_id
    assert (dropped.event.payload["previous_available"], dropped.event.payload["available"]) == (
        10,
        3,
    )
    restock = StepRun.objects.get(run=dropped)
    assert restock.output["available"] == RESTOCKED
    [restocked] = runs["filtered"]
    assert restocked.event.payload["previous_available"] == 3
    assert level(connection, variant_id)["available"] == RESTOCKED


def test_polling_finds_the_drop_and_runs_it_once(sandbox, connection, celery_worker):
    variant_id = a_variant(connection)["id"]
    set_stock_in_the_shop(sandbox, variant_id, 10)
    recipe = low_stock_recipe(connection, mode="polling")

    assert tick() == 0  # the first tick records every level and fires nothing
    assert SeenLevel.objects.get(connection=connection, object_id=variant_id).value == 10
    assert PollCursor.objects.get(connection=connection, kind="levels").resource == "products"
    set_stock_in_the_shop(sandbox, variant_id, 3)
    seen = level(connection, variant_id)

    assert tick() == 1
    event = Event.objects.get(event_type=EVENT, object_id=variant_id)
    assert event.source == Event.Source.POLL
    assert event.payload["previous_available"] == 10 and event.payload["available"] == 3
    assert event.payload["updated_at"] == seen["updated_at"]  # the hook's key, by the contract
    wait_for(lambda: finished(recipe, 1), "the drop's run")
    assert runs_by_status(recipe)["succeeded"][0].event == event
    assert level(connection, variant_id)["available"] == RESTOCKED

    assert tick() == 1  # the restock 3 → 20, which the filter stops
    assert tick() == 0  # a restart reads the same products and finds nothing new
    wait_for(lambda: finished(recipe, 2), "the restock's run")
    assert [r.status for r in Run.objects.filter(recipe=recipe).order_by("id")] == [
        "succeeded",
        "filtered",
    ]


def test_a_change_seen_by_hook_and_by_poll_runs_once(
    sandbox, connection, public_server, celery_worker
):
    variant_id = a_variant(connection)["id"]
    set_stock_in_the_shop(sandbox, variant_id, 8)
    recipe = low_stock_recipe(connection)
    listing = polling.Listing(connection.pk, "products", PollCursor.Kind.LEVELS)
    since = {EVENT: recipe.updated_at}
    assert polling.poll_listing(listing, since) == 0  # records the levels

    set_stock_in_the_shop(sandbox, variant_id, 2)
    # By hook: 8 → 2 runs and restocks, 2 → 20 is filtered.
    wait_for(lambda: finished(recipe, 2), "the drop's run and the restock's run")

    # The poll finds the level moved since it looked (8 → 20, at the restock's updated_at):
    # the inbox already holds that key from the restock's delivery, so nothing more is stored.
    assert polling.poll_listing(listing, since) == 0
    assert SeenLevel.objects.get(connection=connection, object_id=variant_id).value == RESTOCKED
    hooked = Event.objects.filter(event_type=EVENT, object_id=variant_id)
    assert set(hooked.values_list("source", flat=True)) == {Event.Source.WEBHOOK}
    assert Run.objects.filter(recipe=recipe).count() == 2
    assert len(runs_by_status(recipe)["succeeded"]) == 1


def test_polling_records_a_new_variant_and_finds_its_first_change(sandbox, connection):
    low_stock_recipe(connection, mode="polling")
    tick()
    made = sandbox.sandbox_event("product.created")[0]["ids"]["product_id"]
    products = CartlyClient(connection.access_token).list_products(limit=250)
    [variant_id] = [v["id"] for p in products if p["id"] == made for v in p["variants"]]

    assert tick() == 0  # a new variant is not a change: recorded, not run
    assert SeenLevel.objects.get(connection=connection, object_id=variant_id).value == 25
    set_stock_in_the_shop(sandbox, variant_id, 4)
    assert tick() == 1
    event = Event.objects.get(event_type=EVENT, object_id=variant_id)
    assert (event.payload["previous_available"], event.payload["available"]) == (25, 4)


def test_the_builder_tests_the_example_with_the_shops_latest_stock(sandbox, connection):
    made = sandbox.sandbox_event(EVENT)[0]["ids"]
    recipe = create_recipe(connection.owner, connection, json.loads(EXAMPLE.read_text()))
    browser = Client()
    browser.force_login(connection.owner)

    report = browser.post(f"/recipes/{recipe.pk}/test/", {"source": "latest"}).context["report"]

    level_now = report.trigger_data
    assert level_now["product_id"] == made["product_id"]
    assert level_now["variant_id"].startswith("var_")
    # Only a comparison knows the level before; a test shows the level unchanged.
    assert level_now["previous_available"] == level_now["available"]
    assert report.outcome  # the report says what the filter made of it, no error


def test_a_failed_first_read_is_taken_again_whole(sandbox, connection):
    low_stock_recipe(connection, mode="polling")
    sandbox.set_faults(fault_error_rate=1.0)
    try:
        assert tick() == 0
    finally:
        sandbox.reset_faults()
    cursor = PollCursor.objects.get(connection=connection, kind="levels")
    assert cursor.last_error and cursor.since_id == ""
    assert not SeenLevel.objects.filter(connection=connection).exists()

    assert tick() == 0
    cursor.refresh_from_db()
    assert (cursor.last_error, cursor.since_id) == ("", polling_levels.LEVELS_RECORDED)
    assert SeenLevel.objects.filter(connection=connection).exists()
