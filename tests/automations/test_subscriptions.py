"""The REST Hook lifecycle against the real sandbox: what Cartly holds is read back over HTTP."""

import hashlib
import hmac
import json
import uuid
from datetime import timedelta

import pytest
from django.test import Client
from django.utils import timezone

from automations import subscriptions, tasks_subscriptions
from automations.models import Recipe, Subscription
from automations.subscriptions import (
    callback_url,
    disable_recipe,
    enable_recipe,
    sync_all_subscriptions,
    sync_subscription,
)
from connectors import connections, tokens
from connectors.cartly import CartlyClient, iter_pages
from connectors.connections import our_hook_prefix
from connectors.models import Connection


@pytest.fixture(autouse=True)
def own_hook_prefix(cartly_settings):
    """Hooks under a prefix of this test's own, so hooks other tests left at the session's
    sandbox never count; nothing listens at port 9, and nothing here needs a delivery."""
    cartly_settings.PUBLIC_BASE_URL = f"http://127.0.0.1:9/t-{uuid.uuid4().hex[:12]}"


@pytest.fixture
def cartly(sandbox):
    """The sandbox, with its faults cleared again however the test ends."""
    yield sandbox
    sandbox.reset_faults()


def fail_every_call(sandbox) -> None:
    sandbox.set_faults(fault_error_rate=1.0)  # every Apps API call answers 500


def make_recipe(connection, name="New orders", event_type="order.created", **fields) -> Recipe:
    return Recipe.objects.create(
        owner=connection.owner,
        connection=connection,
        name=name,
        trigger="cartly." + event_type.replace(".", "_"),
        event_type=event_type,
        **fields,
    )


def remote_hooks(connection: Connection) -> list[dict]:
    """This test's hooks as Cartly holds them."""
    client = CartlyClient(connection.access_token)
    return [h for h in iter_pages(client.list_webhooks) if h["url"].startswith(our_hook_prefix())]


def the_subscription(connection, event_type="order.created") -> Subscription:
    return Subscription.objects.get(connection=connection, event_type=event_type)


def make_due(subscription: Subscription) -> None:
    """As if the backoff had passed."""
    past = timezone.now() - timedelta(seconds=1)
    Subscription.objects.filter(pk=subscription.pk).update(next_attempt_at=past)


# --- enabling and disabling ------------------------------------------------------------------


def test_it_registers_one_hook_for_two_recipes_of_one_event(connection):
    first, second = make_recipe(connection, "One"), make_recipe(connection, "Two")

    enable_recipe(first)
    enable_recipe(second)

    subscription = the_subscription(connection)
    [hook] = remote_hooks(connection)
    assert subscription.status == Subscription.Status.ACTIVE
    assert subscription.remote_id == hook["id"]
    assert hook["url"] == callback_url(subscription)
    assert hook["url"] == f"{our_hook_prefix()}{subscription.token}/"
    assert hook["events"] == ["order.created"]
    assert Recipe.objects.filter(enabled=True).count() == 2


def test_it_keeps_the_hook_until_the_last_recipe_is_off(connection):
    first, second = make_recipe(connection, "One"), make_recipe(connection, "Two")
    enable_recipe(first)
    enable_recipe(second)

    disable_recipe(first)
    kept = the_subscription(connection)
    hooks_while_one_is_on = remote_hooks(connection)
    disable_recipe(second)

    assert kept.status == Subscription.Status.ACTIVE
    assert [h["id"] for h in hooks_while_one_is_on] == [kept.remote_id]
    assert remote_hooks(connection) == []
    assert the_subscription(connection).status == Subscription.Status.DELETED
    assert not Recipe.objects.filter(enabled=True).exists()


def test_it_is_safe_to_repeat(connection):
    recipe = make_recipe(connection)

    enable_recipe(recipe)
    enable_recipe(recipe)
    hooks_when_on = remote_hooks(connection)
    disable_recipe(recipe)
    disable_recipe(recipe)

    assert len(hooks_when_on) == 1
    assert remote_hooks(connection) == []
    assert Subscription.objects.get().status == Subscription.Status.DELETED


def test_it_gives_each_event_its_own_hook_and_polling_recipes_none(connection):
    enable_recipe(make_recipe(connection, "Orders"))
    enable_recipe(make_recipe(connection, "Products", "product.created"))
    enable_recipe(make_recipe(connection, "Polled", "order.updated", mode=Recipe.Mode.POLLING))

    events = sorted(h["events"][0] for h in remote_hooks(connection))

    assert events == ["order.created", "product.created"]
    assert Subscription.objects.count() == 2


def test_it_registers_afresh_after_a_removal(connection):
    recipe = make_recipe(connection)
    enable_recipe(recipe)
    old = the_subscription(connection)
    disable_recipe(recipe)

    enable_recipe(recipe)

    new = Subscription.objects.exclude(pk=old.pk).get()
    [hook] = remote_hooks(connection)
    assert new.token != old.token
    assert (new.status, new.remote_id) == (Subscription.Status.ACTIVE, hook["id"])
    assert Subscription.objects.get(pk=old.pk).status == Subscription.Status.DELETED


def test_a_removed_subscriptions_token_answers_410(connection, cartly_settings):
    recipe = make_recipe(connection)
    enable_recipe(recipe)
    subscription = the_subscription(connection)
    disable_recipe(recipe)
    body = json.dumps({"id": "evt_LATE", "event": "order.created"}).encode()
    secret = cartly_settings.CARTLY_CLIENT_SECRET.encode()
    signature = "sha256=" + hmac.new(secret, body, hashlib.sha256).hexdigest()

    answer = Client().post(
        f"/hooks/cartly/{subscription.token}/",
        body,
        content_type="application/json",
        HTTP_X_CARTLY_HMAC_SHA256=signature,
        HTTP_X_CARTLY_WEBHOOK_ID=subscription.remote_id,
    )

    assert answer.status_code == 410


# --- when Cartly fails ---------------------------------------------------------------------------


def test_it_turns_a_recipe_on_while_cartly_fails_and_registers_later(connection, cartly):
    recipe = make_recipe(connection)
    fail_every_call(cartly)

    enable_recipe(recipe)

    recipe.refresh_from_db()
    failed = the_subscription(connection)
    assert recipe.enabled
    assert failed.status == Subscription.Status.FAILED
    assert failed.status_reason.startswith("Cartly could not register this notification")
    assert failed.attempts == 1
    assert failed.next_attempt_at > timezone.now()
    assert failed.remote_id == ""

    cartly.reset_faults()
    assert sync_subscription(failed).status == Subscription.Status.FAILED  # not due yet
    make_due(failed)
    assert sync_all_subscriptions() == [failed.pk]
    tasks_subscriptions.sync_subscription(failed.pk)  # what beat's message runs

    registered = the_subscription(connection)
    [hook] = remote_hooks(connection)
    assert registered.status == Subscription.Status.ACTIVE
    assert (registered.remote_id, registered.status_reason) == (hook["id"], "")
    assert (registered.attempts, registered.next_attempt_at) == (0, None)
    assert sync_all_subscriptions() == []


def test_it_backs_off_longer_after_each_failure(connection, cartly):
    fail_every_call(cartly)
    enable_recipe(make_recipe(connection))
    subscription = the_subscription(connection)
    waits = []
    for _ in range(3):
        subscription.refresh_from_db()
        waits.append(subscription.next_attempt_at - timezone.now())
        make_due(subscription)
        sync_subscription(subscription)

    subscription.refresh_from_db()
    assert subscription.attempts == 4
    assert waits[0] < waits[1] < waits[2]
    assert subscription.status == Subscription.Status.FAILED


def test_it_turns_a_recipe_off_while_cartly_fails_and_removes_later(connection, cartly):
    recipe = make_recipe(connection)
    enable_recipe(recipe)
    fail_every_call(cartly)

    disable_recipe(recipe)

    recipe.refresh_from_db()
    removing = the_subscription(connection)
    assert not recipe.enabled
    assert removing.status == Subscription.Status.DELETING
    assert removing.status_reason.startswith("Cartly could not remove this notification")
    assert removing.attempts == 1
    cartly.reset_faults()
    assert len(remote_hooks(connection)) == 1

    make_due(removing)
    assert sync_subscription(removing).status == Subscription.Status.DELETED
    assert remote_hooks(connection) == []


def test_it_reuses_the_hook_cartly_still_has_when_turned_on_again(connection, cartly):
    recipe = make_recipe(connection)
    enable_recipe(recipe)
    [hook] = remote_hooks(connection)
    fail_every_call(cartly)
    disable_recipe(recipe)  # the removal fails: Cartly keeps the hook
    cartly.reset_faults()

    enable_recipe(recipe)

    subscription = the_subscription(connection)
    assert subscription.status == Subscription.Status.ACTIVE
    assert subscription.remote_id == hook["id"]
    assert [h["id"] for h in remote_hooks(connection)] == [hook["id"]]


def test_it_adopts_a_hook_created_before_a_crash(connection):
    # The remote create succeeded, then the process died before saving the answer.
    subscription = Subscription.objects.create(connection=connection, event_type="order.created")
    client = CartlyClient(connection.access_token)
    orphan = client.create_webhook(callback_url(subscription), ["order.created"])

    enable_recipe(make_recipe(connection))

    subscription.refresh_from_db()
    assert subscription.status == Subscription.Status.ACTIVE
    assert subscription.remote_id == orphan["id"]
    assert len(remote_hooks(connection)) == 1


def test_it_leaves_a_claimed_row_to_the_worker_holding_it(connection):
    subscription = Subscription.objects.create(
        connection=connection,
        event_type="order.created",
        next_attempt_at=timezone.now() + subscriptions.LEASE,  # another worker's claim
    )

    enable_recipe(make_recipe(connection))

    subscription.refresh_from_db()
    assert subscription.status == Subscription.Status.PENDING
    assert remote_hooks(connection) == []
    assert sync_all_subscriptions() == []


# --- the connection's fate -----------------------------------------------------------------------


def test_it_says_why_when_the_shop_needs_reconnecting(connection):
    tokens.mark_needs_reconnect(connection)  # what a refused refresh does
    recipe = make_recipe(connection)

    enable_recipe(recipe)

    recipe.refresh_from_db()
    subscription = the_subscription(connection)
    assert recipe.enabled
    assert recipe.paused_reason == subscriptions.RECONNECT_PAUSE
    assert subscription.status == Subscription.Status.FAILED
    assert "reconnect" in subscription.status_reason
    assert subscription.next_attempt_at > timezone.now()


def test_it_pauses_enabled_recipes_when_the_shop_needs_reconnecting(connection):
    on, off = make_recipe(connection, "On"), make_recipe(connection, "Off")
    enable_recipe(on)

    tokens.mark_needs_reconnect(connection)

    on.refresh_from_db()
    off.refresh_from_db()
    assert (on.enabled, on.paused_reason) == (True, "Paused: the shop needs reconnecting")
    assert not on.is_running
    assert off.paused_reason == ""


def test_it_turns_recipes_off_and_keeps_dead_subscriptions_on_disconnect(connection):
    recipe = make_recipe(connection)
    enable_recipe(recipe)
    subscription = the_subscription(connection)
    prefix_hooks_before = len(remote_hooks(connection))

    connections.disconnect(connection)

    recipe.refresh_from_db()
    subscription.refresh_from_db()
    assert prefix_hooks_before == 1
    assert (recipe.enabled, recipe.paused_reason) == (False, subscriptions.DISCONNECTED_PAUSE)
    assert subscription.status == Subscription.Status.DELETED
    assert "disconnected" in subscription.status_reason
