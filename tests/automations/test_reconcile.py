"""Reconciliation against the real sandbox: a hook lost at Cartly comes back, and what happened
while it was gone runs exactly once."""

import uuid

import pytest

from automations.documents import create_recipe
from automations.models import Event, Recipe, Run, Subscription, SubscriptionRepair
from automations.reconcile import reconcile_connection
from automations.subscriptions import enable_recipe
from connectors.cartly import CartlyClient, iter_pages
from connectors.connections import our_hook_prefix
from tests.automations.conftest import wait_for
from tests.sandbox_server import parse_forms, post_form

pytestmark = pytest.mark.django_db(transaction=True)

Action = SubscriptionRepair.Action


def order_recipe(connection) -> Recipe:
    recipe = create_recipe(
        connection.owner,
        connection,
        {
            "format": "cartly-automations/recipe@1",
            "name": "New orders",
            "mode": "instant",
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
    return enable_recipe(recipe)


def our_hooks(connection) -> list[dict]:
    client = CartlyClient(connection.access_token)
    return [h for h in iter_pages(client.list_webhooks) if h["url"].startswith(our_hook_prefix())]


def delete_in_shop_admin(sandbox, hook_id: str) -> None:
    """As the merchant: the Delete button on the sandbox's Webhooks page."""
    session = sandbox.merchant_session()
    page = session.get(f"{sandbox.base_url}/webhooks/", timeout=30)
    form = next(f for f in parse_forms(page.text) if hook_id in f.action)
    answer = post_form(session, page, form, form.values())
    assert answer.status_code == 302, answer.text[:300]


def runs_by_order(recipe) -> dict[str, int]:
    counts: dict[str, int] = {}
    for object_id in Run.objects.filter(recipe=recipe).values_list("event__object_id", flat=True):
        counts[object_id] = counts.get(object_id, 0) + 1
    return counts


def finished(recipe, count: int) -> bool:
    runs = Run.objects.filter(recipe=recipe)
    return runs.count() >= count and not runs.filter(status__in=Run.UNFINISHED).exists()


def forget_earlier_tests_hooks(connection) -> None:
    """The session's one sandbox still holds hooks earlier tests registered at our URL."""
    client = CartlyClient(connection.access_token)
    for hook in our_hooks(connection):
        client.delete_webhook(hook["id"])


def test_it_restores_a_deleted_hook_and_runs_what_was_missed_once(
    sandbox, connection, public_server, celery_worker
):
    forget_earlier_tests_hooks(connection)
    recipe = order_recipe(connection)
    reconcile_connection(connection)  # clears hooks earlier tests left at this server's URL
    old = Subscription.objects.get(connection=connection, status="active")
    first = sandbox.sandbox_event("order.created")[0]["ids"]["order_id"]
    wait_for(lambda: finished(recipe, 1), "the first order's run")

    delete_in_shop_admin(sandbox, old.remote_id)
    missed = [d["ids"]["order_id"] for d in sandbox.sandbox_event("order.created", 2)]
    repairs = reconcile_connection(connection)

    assert [r.action for r in repairs] == [Action.RECREATED, Action.CAUGHT_UP]
    assert "2 event(s)" in repairs[1].detail
    old.refresh_from_db()
    assert old.status == Subscription.Status.DELETED
    fresh = Subscription.objects.get(connection=connection, status="active")
    assert [h["id"] for h in our_hooks(connection)] == [fresh.remote_id]

    after = sandbox.sandbox_event("order.created")[0]["ids"]["order_id"]  # by the new hook
    wait_for(lambda: finished(recipe, 4), "four runs")
    assert runs_by_order(recipe) == {first: 1, missed[0]: 1, missed[1]: 1, after: 1}
    sources = dict(Event.objects.values_list("object_id", "source"))
    assert [sources[o] for o in (first, *missed, after)] == ["webhook", "poll", "poll", "webhook"]
    assert reconcile_connection(connection) == []  # nothing left to repair


def test_it_removes_a_hook_of_ours_that_no_subscription_owns(cartly_settings, connection):
    cartly_settings.PUBLIC_BASE_URL = f"http://127.0.0.1:9/t-{uuid.uuid4().hex[:12]}"
    stray = CartlyClient(connection.access_token).create_webhook(
        f"{our_hook_prefix()}no-such-token/", ["order.created"]
    )

    repairs = reconcile_connection(connection)

    assert [(r.action, r.event_type) for r in repairs] == [(Action.REMOVED_ORPHAN, "order.created")]
    assert stray["id"] in repairs[0].detail
    assert our_hooks(connection) == []
    assert SubscriptionRepair.objects.filter(connection=connection).count() == 1


def test_it_registers_a_hook_that_running_recipes_need(cartly_settings, connection):
    cartly_settings.PUBLIC_BASE_URL = f"http://127.0.0.1:9/t-{uuid.uuid4().hex[:12]}"
    Recipe.objects.create(
        owner=connection.owner,
        connection=connection,
        name="No hook",
        trigger="cartly.customer_created",
        event_type="customer.created",
        enabled=True,
    )

    repairs = reconcile_connection(connection)

    assert [(r.action, r.event_type) for r in repairs] == [(Action.CREATED, "customer.created")]
    subscription = Subscription.objects.get(connection=connection)
    assert subscription.status == Subscription.Status.ACTIVE
    assert [h["id"] for h in our_hooks(connection)] == [subscription.remote_id]


def test_it_forgets_a_vanished_hook_that_no_recipe_needs(cartly_settings, connection):
    cartly_settings.PUBLIC_BASE_URL = f"http://127.0.0.1:9/t-{uuid.uuid4().hex[:12]}"
    Subscription.objects.create(
        connection=connection,
        event_type="product.created",
        status="active",
        remote_id="wh_GONE0000000000000000000000",
    )

    repairs = reconcile_connection(connection)

    assert [r.action for r in repairs] == [Action.DROPPED]
    assert not Subscription.objects.exclude(status="deleted").exists()
    assert our_hooks(connection) == []
