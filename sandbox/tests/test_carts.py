"""Cart abandonment: a cart idle past its shop's delay fires cart.abandoned exactly once."""

import time
from datetime import timedelta

import pytest
from django.utils import timezone

from sandbox import shop as shop_actions
from sandbox.models import Cart, Event
from sandbox.worker import DeliveryWorker


def abandoned_events() -> int:
    return Event.objects.filter(topic="cart.abandoned").count()


def idle_for(cart: Cart, seconds: float) -> None:
    """Backdate the cart's last change (a queryset update skips auto_now)."""
    Cart.objects.filter(pk=cart.pk).update(updated_at=timezone.now() - timedelta(seconds=seconds))


def test_a_cart_idle_past_the_setting_is_abandoned_once(shop, variant, settings):
    settings.SANDBOX_CART_ABANDON_SECONDS = 60
    cart = shop_actions.start_cart(shop, "ann@example.com", [(variant, 1)])
    idle_for(cart, 61)

    assert shop_actions.abandon_due_carts() == 1
    assert shop_actions.abandon_due_carts() == 0

    cart.refresh_from_db()
    assert cart.abandoned_at is not None
    assert abandoned_events() == 1


def test_a_cart_within_the_delay_is_left_alone(shop, variant, settings):
    settings.SANDBOX_CART_ABANDON_SECONDS = 60
    cart = shop_actions.start_cart(shop, "ann@example.com", [(variant, 1)])
    idle_for(cart, 30)

    assert shop_actions.abandon_due_carts() == 0
    assert abandoned_events() == 0


def test_the_shop_override_beats_the_setting(shop, variant, settings):
    settings.SANDBOX_CART_ABANDON_SECONDS = 3600
    shop.cart_abandon_seconds = 0
    shop.save()
    shop_actions.start_cart(shop, "ann@example.com", [(variant, 1)])

    assert shop_actions.abandon_due_carts() == 1
    assert abandoned_events() == 1


def test_a_checked_out_cart_is_never_abandoned(shop, variant):
    shop.cart_abandon_seconds = 0
    shop.save()
    cart = shop_actions.start_cart(shop, "ann@example.com", [(variant, 1)])
    shop_actions.check_out_cart(cart)

    assert shop_actions.abandon_due_carts() == 0
    assert abandoned_events() == 0


@pytest.mark.django_db(transaction=True)
def test_the_worker_abandons_idle_carts_in_the_background(shop, variant):
    shop.cart_abandon_seconds = 0
    shop.save()
    cart = shop_actions.start_cart(shop, "ann@example.com", [(variant, 1)])
    worker = DeliveryWorker(workers=1, poll_seconds=0.02)
    worker.start()
    try:
        deadline = time.monotonic() + 10
        while not abandoned_events() and time.monotonic() < deadline:
            time.sleep(0.02)
    finally:
        worker.stop(timeout=10)

    assert abandoned_events() == 1
    assert shop_actions.abandon_due_carts() == 0  # already claimed: never a second event
    cart.refresh_from_db()
    assert cart.abandoned_at is not None
