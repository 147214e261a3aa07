"""`sandbox_event`: each event made to happen through the shop's real actions."""

import json
from io import StringIO

import pytest
from django.core.management import CommandError, call_command

from sandbox import shop as shop_actions
from sandbox.events import EVENT_TYPES
from sandbox.models import Cart, Delivery, Event, Order, Webhook

# What each scenario fires in a shop with one product and nothing else: the steps it needs first
# (a new buyer, placing, paying) are real and fire their own events. Placing an order takes
# stock and canceling it puts the stock back: each is an inventory_level.updated, and the
# product whose variant changed is updated with it (sandbox/stock.py).
STOCK = ["inventory_level.updated", "product.updated"]
EXPECTED_TOPICS = {
    "order.created": sorted(["customer.created", "order.created", *STOCK]),
    "order.updated": sorted(["customer.created", "order.created", "order.updated", *STOCK]),
    "order.fulfilled": sorted(
        [
            "customer.created",
            "order.created",
            "order.fulfilled",
            "order.updated",
            "order.updated",
            *STOCK,
        ]
    ),
    "order.canceled": sorted(
        [
            "customer.created",
            "order.canceled",
            "order.created",
            "order.updated",
            *STOCK,
            *STOCK,
        ]
    ),
    "product.created": ["product.created"],
    "product.updated": ["product.updated"],
    "customer.created": ["customer.created"],
    "cart.abandoned": ["cart.abandoned"],
    "inventory_level.updated": STOCK,
}


def run(*args: str) -> str:
    out = StringIO()
    call_command("sandbox_event", *args, stdout=out)
    return out.getvalue()


def new_topics(since: set[str]) -> list[str]:
    return sorted(Event.objects.exclude(pk__in=since).values_list("topic", flat=True))


def test_every_event_of_the_page_has_a_scenario():
    assert set(EXPECTED_TOPICS) == set(EVENT_TYPES)


@pytest.mark.parametrize("event", EVENT_TYPES)
def test_it_fires_the_event_through_the_shop(shop, product, event):
    before = set(Event.objects.values_list("pk", flat=True))

    output = run(event, "--shop", shop.domain)

    assert new_topics(before) == EXPECTED_TOPICS[event]
    assert output.startswith(f"{event}: ")
    assert len(output.strip().splitlines()) == 1


def test_it_pays_an_existing_pending_order_instead_of_placing_one(shop, variant):
    order = shop_actions.place_order(shop, "ann@example.com", [(variant, 1)])
    before = set(Event.objects.values_list("pk", flat=True))

    output = run("order.updated")

    assert new_topics(before) == ["order.updated"]
    order.refresh_from_db()
    assert order.status == Order.Status.PAID
    assert order.id in output


def test_it_abandons_the_cart_it_started(shop, product):
    run("cart.abandoned")

    cart = Cart.objects.get()
    assert cart.abandoned_at is not None
    assert json.loads(Event.objects.get(topic="cart.abandoned").body)["data"]["id"] == cart.id


def test_it_repeats_with_count_and_prints_json(shop, product):
    out = run("customer.created", "--count", "3", "--json")

    done = json.loads(out)
    assert [d["event"] for d in done] == ["customer.created"] * 3
    assert len({d["ids"]["customer_id"] for d in done}) == 3
    assert Event.objects.filter(topic="customer.created").count() == 3


def test_it_queues_deliveries_for_subscribers_like_a_click_does(shop, product, app):
    hook = Webhook.objects.create(
        shop=shop, application=app, url="http://127.0.0.1:9/hooks/", events=["order.created"]
    )

    run("order.created")

    queued = Delivery.objects.get()
    assert queued.webhook == hook
    assert queued.event.topic == "order.created"
    assert queued.status == Delivery.Status.PENDING


def test_it_names_the_eight_events_when_given_another(shop):
    with pytest.raises(CommandError) as error:
        run("order.exploded")

    for topic in EVENT_TYPES:
        assert topic in str(error.value)


def test_it_says_when_there_is_no_shop(db):
    with pytest.raises(CommandError, match="sandbox_seed"):
        run("customer.created")


def test_it_says_when_the_shop_domain_is_unknown(shop):
    with pytest.raises(CommandError, match="nowhere.mycartly.pro"):
        run("customer.created", "--shop", "nowhere.mycartly.pro")


def test_it_says_when_there_is_nothing_to_sell(shop):
    with pytest.raises(CommandError, match="no active product"):
        run("order.created")
    assert not Event.objects.exists()
