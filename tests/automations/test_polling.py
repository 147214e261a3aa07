"""Polling against the real sandbox, with a real worker running what it finds.

Each tick is run the way a fresh worker would: the functions read everything from the
database (cursors included), so calling them again is a restart.
"""

import threading
from datetime import timedelta

import pytest
from django.db import connections as databases
from django.utils import timezone

from automations import polling
from automations.documents import create_recipe
from automations.models import Event, PollCursor, Recipe, Run, Subscription
from automations.subscriptions import enable_recipe
from tests.automations.conftest import wait_for

pytestmark = pytest.mark.django_db(transaction=True)

FIND_ORDER = {
    "key": "found",
    "operation": "cartly.find_order",
    "fields": {"number": "{{ trigger.number }}"},
}
FIND_CUSTOMER = {
    "key": "found",
    "operation": "cartly.find_customer",
    "fields": {"email": "{{ trigger.email }}"},
}


def polling_recipe(connection, trigger: str, step: dict, mode: str = "polling") -> Recipe:
    recipe = create_recipe(
        connection.owner,
        connection,
        {
            "format": "cartly-automations/recipe@1",
            "name": f"Poll {trigger}",
            "trigger": trigger,
            "mode": mode,
            "steps": [step],
        },
    )
    return enable_recipe(recipe)


def tick() -> int:
    """One beat's worth of polling, run here instead of through the broker."""
    return sum(
        polling.poll_listing(listing, need.since)
        for listing, need in polling.polling_needs().items()
    )


def object_ids(recipe: Recipe) -> list[str]:
    return sorted(Run.objects.filter(recipe=recipe).values_list("event__object_id", flat=True))


def all_finished(recipe: Recipe, count: int) -> bool:
    runs = Run.objects.filter(recipe=recipe)
    return runs.count() == count and not runs.filter(status__in=Run.UNFINISHED).exists()


def test_it_runs_new_orders_once_across_restarts(sandbox, connection, celery_worker):
    before = sandbox.sandbox_event("order.created")[0]["ids"]["order_id"]
    recipe = polling_recipe(connection, "cartly.order_created", FIND_ORDER)

    assert tick() == 0  # the first tick only records where the listing starts
    assert PollCursor.objects.filter(connection=connection, resource="orders").count() == 1
    placed = [done["ids"]["order_id"] for done in sandbox.sandbox_event("order.created", 2)]
    assert tick() == 2
    assert tick() == 0  # a restart: the cursor comes back from the database
    later = sandbox.sandbox_event("order.created")[0]["ids"]["order_id"]
    assert tick() == 1

    wait_for(lambda: all_finished(recipe, 3), "three runs to finish")
    assert object_ids(recipe) == sorted([*placed, later])
    assert before not in object_ids(recipe)
    assert set(Run.objects.filter(recipe=recipe).values_list("status", flat=True)) == {"succeeded"}
    assert set(Event.objects.values_list("source", flat=True)) == {"poll"}


def test_it_runs_each_order_change_once(sandbox, connection, celery_worker):
    updated = polling_recipe(connection, "cartly.order_updated", FIND_ORDER)
    fulfilled = polling_recipe(connection, "cartly.order_fulfilled", FIND_ORDER)
    tick()
    # Two listings share nothing here: new orders are not polled, changes are, once.
    assert PollCursor.objects.filter(connection=connection).count() == 1

    paid = sandbox.sandbox_event("order.updated")[0]["ids"]["order_id"]
    tick()
    shipped = sandbox.sandbox_event("order.fulfilled")[0]["ids"]["order_id"]
    tick()
    tick()

    wait_for(lambda: all_finished(fulfilled, 1), "the fulfilled order's run")
    assert object_ids(fulfilled) == [shipped]
    changed = object_ids(updated)
    assert paid in changed and shipped in changed
    assert len(changed) == len(
        set(Event.objects.filter(event_type="order.updated").values_list("dedupe_key", flat=True))
    )
    wait_for(lambda: all_finished(updated, len(changed)), "the updated orders' runs")


def test_it_runs_new_customers_once(sandbox, connection, celery_worker):
    recipe = polling_recipe(connection, "cartly.customer_created", FIND_CUSTOMER)
    tick()
    made = [d["ids"]["customer_id"] for d in sandbox.sandbox_event("customer.created", 2)]
    tick()
    tick()

    wait_for(lambda: all_finished(recipe, 2), "two customer runs")
    assert object_ids(recipe) == sorted(made)


def test_it_never_doubles_an_event_when_two_pollers_race(sandbox, connection):
    polling_recipe(connection, "cartly.order_created", FIND_ORDER)
    tick()
    placed = [d["ids"]["order_id"] for d in sandbox.sandbox_event("order.created", 3)]
    needs = polling.polling_needs()
    barrier = threading.Barrier(2)

    def poll() -> None:
        try:
            barrier.wait()
            for listing, need in needs.items():
                polling.poll_listing(listing, need.since)
        finally:
            databases.close_all()

    threads = [threading.Thread(target=poll) for _ in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    tick()  # whichever lost the lease, the next tick finds nothing new
    events = Event.objects.filter(event_type="order.created")
    assert sorted(events.values_list("object_id", flat=True)) == sorted(placed)


def test_it_counts_a_change_seen_by_hook_and_by_poll_once(
    sandbox, connection, public_server, celery_worker
):
    recipe = polling_recipe(connection, "cartly.order_created", FIND_ORDER, mode="instant")
    start = timezone.now()
    order_id = sandbox.sandbox_event("order.created")[0]["ids"]["order_id"]
    wait_for(lambda: Event.objects.filter(object_id=order_id).exists(), "the delivery")

    listing = polling.Listing(connection.pk, "orders", PollCursor.Kind.SINCE_ID)
    since = {"order.created": start}
    polling.poll_listing(listing, since)  # makes the cursor
    assert polling.poll_listing(listing, since) == 0  # finds the order, already in the inbox

    wait_for(lambda: all_finished(recipe, 1), "the run")
    assert Event.objects.filter(object_id=order_id).count() == 1


# --- effective_mode: what the merchant is told --------------------------------------------------


def make_recipe(connection, trigger="cartly.order_created", event="order.created", **fields):
    return Recipe.objects.create(
        owner=connection.owner,
        connection=connection,
        name="R",
        trigger=trigger,
        event_type=event,
        enabled=True,
        **fields,
    )


def hook(connection, event="order.created", status="active", age=timedelta(0), **fields):
    subscription = Subscription.objects.create(
        connection=connection, event_type=event, status=status, **fields
    )
    Subscription.objects.filter(pk=subscription.pk).update(created_at=timezone.now() - age)
    subscription.refresh_from_db()
    return subscription


def test_it_says_a_healthy_instant_recipe_is_instant(connection):
    recipe = make_recipe(connection)
    hook(connection)
    assert polling.effective_mode(recipe)[0] == polling.INSTANT


def test_it_falls_back_to_polling_while_the_hook_cannot_be_registered(connection, settings):
    settings.POLL_FALLBACK_GRACE_SECONDS = 60
    recipe = make_recipe(connection)
    subscription = hook(
        connection, status="failed", status_reason="Cartly is down", age=timedelta(seconds=5)
    )
    assert polling.effective_mode(recipe)[0] == polling.INSTANT  # still within the grace

    Subscription.objects.filter(pk=subscription.pk).update(
        created_at=timezone.now() - timedelta(minutes=5)
    )
    mode, reason = polling.effective_mode(recipe)
    assert mode == polling.POLLING
    assert "Cartly is down" in reason and "every 30 seconds" in reason
    assert list(polling.polling_needs()) == [
        polling.Listing(connection.pk, "orders", PollCursor.Kind.SINCE_ID)
    ]


def test_it_says_an_abandoned_cart_recipe_cannot_poll(connection):
    instant = make_recipe(connection, "cartly.cart_abandoned", "cart.abandoned")
    hook(connection, "cart.abandoned", status="failed", age=timedelta(hours=1))
    mode, reason = polling.effective_mode(instant)
    assert mode == polling.INSTANT and "cannot be checked by polling" in reason

    chosen = make_recipe(connection, "cartly.cart_abandoned", "cart.abandoned", mode="polling")
    assert polling.effective_mode(chosen)[0] == polling.OFF
    assert polling.polling_needs() == {}


def test_it_says_a_paused_recipe_is_off(connection):
    recipe = make_recipe(connection, mode="polling", paused_reason="Paused: reconnect the shop")
    assert polling.effective_mode(recipe) == (polling.OFF, "Paused: reconnect the shop")
