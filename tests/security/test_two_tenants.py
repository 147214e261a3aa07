"""One Cartly shop, two engine users: each one's reconciliation, unsubscribe and disconnect
touch only the hooks its own connection registered, against the real sandbox.

The sandbox, like Cartly, lists a shop's hooks per (shop, app), not per grant: both users'
connections see both users' hooks, at the same receiver URL prefix (PUBLIC_BASE_URL).
"""

import pytest
from django.contrib.auth import get_user_model

from automations.documents import create_recipe
from automations.models import Run, Subscription, SubscriptionRepair
from automations.reconcile import reconcile_connection
from automations.subscriptions import disable_recipe, enable_recipe
from connectors import connections
from connectors.cartly import CartlyClient, iter_pages
from connectors.cartly.constants import CARTLY_SCOPES
from connectors.connections import hook_token, our_hook_prefix
from connectors.models import Connection
from tests.automations.conftest import one_step_document, wait_for

pytestmark = pytest.mark.django_db(transaction=True)
RECONCILE_ROUNDS = 5  # beat runs it every 30 s for each connection; a few rounds each, alternated


def connect(sandbox, name: str) -> Connection:
    user = get_user_model().objects.create_user(name, password=f"{name}-pass-123")
    return connections.connect(user, sandbox.authorize(" ".join(CARTLY_SCOPES)))


def order_recipe(connection: Connection, name: str):
    document = one_step_document(
        "cartly.order_created",
        {
            "key": "noted",
            "operation": "cartly.update_order",
            "fields": {"order_id": "{{ trigger.id }}", "note": f"Seen by {name}"},
        },
        name=name,
    )
    return enable_recipe(create_recipe(connection.owner, connection, document))


def hooks_at_cartly(connection: Connection) -> dict[str, str]:
    """Every hook of the shop at our URL, as Cartly lists it: callback token by hook id."""
    client = CartlyClient(connection.access_token)
    return {
        hook["id"]: hook_token(hook["url"])
        for hook in iter_pages(client.list_webhooks)
        if hook["url"].startswith(our_hook_prefix())
    }


def live_subscription(connection: Connection) -> Subscription:
    return Subscription.objects.get(connection=connection, status="active")


@pytest.fixture
def two_tenants(cartly_settings, sandbox, public_server):
    """Ann and Bob connect the same sandbox shop and each switch on a New Order recipe."""
    ann, bob = connect(sandbox, "ann"), connect(sandbox, "bob")
    assert ann.shop_id == bob.shop_id and ann.pk != bob.pk
    client = CartlyClient(ann.access_token)
    for hook_id in hooks_at_cartly(ann):  # left by earlier tests in the session's one sandbox
        client.delete_webhook(hook_id)
    recipes = order_recipe(ann, "Ann's orders"), order_recipe(bob, "Bob's orders")
    return ann, bob, recipes


def test_both_tenants_see_every_hook_of_the_shop(two_tenants):
    ann, bob, _ = two_tenants
    mine = {live_subscription(c).remote_id: live_subscription(c).token for c in (ann, bob)}
    # The finding this protection rests on: Cartly's list is per shop and app, not per grant.
    for connection in (ann, bob):
        assert mine.items() <= hooks_at_cartly(connection).items()


def test_reconciling_both_many_times_removes_and_recreates_nothing(two_tenants):
    ann, bob, _ = two_tenants
    before = {c.pk: live_subscription(c).remote_id for c in (ann, bob)}
    for _ in range(RECONCILE_ROUNDS):
        for connection in (ann, bob):
            assert reconcile_connection(connection) == []
    assert {c.pk: live_subscription(c).remote_id for c in (ann, bob)} == before
    assert set(before.values()) <= set(hooks_at_cartly(bob))
    assert not SubscriptionRepair.objects.exists()


def test_unsubscribing_one_leaves_the_others_hook(two_tenants):
    ann, bob, (anns_recipe, _) = two_tenants
    anns, bobs = live_subscription(ann), live_subscription(bob)
    disable_recipe(anns_recipe)
    hooks = hooks_at_cartly(bob)
    assert anns.remote_id not in hooks and hooks[bobs.remote_id] == bobs.token


def test_one_disconnects_and_the_others_deliveries_keep_running(
    two_tenants, sandbox, celery_worker
):
    ann, bob, (anns_recipe, bobs_recipe) = two_tenants
    anns, bobs = live_subscription(ann), live_subscription(bob)
    for _ in range(RECONCILE_ROUNDS):
        reconcile_connection(ann)
        reconcile_connection(bob)

    assert connections.disconnect(ann) == []

    hooks = hooks_at_cartly(bob)
    assert anns.remote_id not in hooks and hooks[bobs.remote_id] == bobs.token
    for _ in range(RECONCILE_ROUNDS):
        assert reconcile_connection(bob) == []
    placed = sandbox.sandbox_event("order.created")[0]
    order_id = placed["ids"]["order_id"]
    run = wait_for(
        lambda: (
            Run.objects.filter(recipe=bobs_recipe, event__object_id=order_id)
            .exclude(status__in=["queued", "running"])
            .first()
        ),
        "Bob's run of the new order",
    )
    assert run.status == "succeeded", run.failure_reason
    assert run.event.source == "webhook"  # delivered by his hook, not found by polling
    assert not Run.objects.filter(recipe=anns_recipe).exists()
    assert Subscription.objects.get(pk=bobs.pk).status == "active"
