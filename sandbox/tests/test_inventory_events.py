"""inventory_level.updated (cartly-api.md, "Changelog events"): every path that changes a
variant's available quantity fires it, signed like every delivery, with the `updated_at` a
poller reads on the product."""

import hashlib
import hmac
import json
import threading

import pytest
from django.db import connection
from django.urls import reverse

from sandbox import delivery
from sandbox import shop as shop_actions
from sandbox.models import Event, Product, Webhook
from sandbox.tests.conftest import CLIENT_SECRET
from sandbox.tests.test_delivery import receiver  # noqa: F401 (the fixture)

INVENTORY = "inventory_level.updated"
DATA_KEYS = {"variant_id", "product_id", "sku", "available", "previous_available", "updated_at"}


@pytest.fixture
def browser(client, merchant, shop):
    client.force_login(merchant)
    return client


def changes() -> list[dict]:
    """The data of every inventory event so far, oldest first."""
    rows = Event.objects.filter(topic=INVENTORY).order_by("created_at", "id")
    return [json.loads(row.body)["data"] for row in rows]


def listed_product(api, product_id: str) -> dict:
    products = api.get("/apps/api/products").json()["products"]
    return next(p for p in products if p["id"] == product_id)


def test_an_order_takes_stock_and_says_so(api, shop, variant):
    shop_actions.place_order(shop, "ann@example.com", [(variant, 2)])

    [change] = changes()
    assert set(change) == DATA_KEYS
    assert change["variant_id"] == variant.id
    assert change["product_id"] == variant.product_id
    assert change["sku"] == "MUG-1"
    assert (change["previous_available"], change["available"]) == (10, 8)
    # The poller's view: the product moved to the very time the hook carries.
    product = listed_product(api, variant.product_id)
    assert product["updated_at"] == change["updated_at"]
    assert product["variants"][0]["available"] == 8


def test_one_variant_twice_in_an_order_is_one_change(shop, variant):
    shop_actions.place_order(shop, "ann@example.com", [(variant, 1), (variant, 3)])
    [change] = changes()
    assert (change["previous_available"], change["available"]) == (10, 6)


def test_a_cancel_puts_the_stock_back(api, shop, variant):
    order = shop_actions.place_order(shop, "ann@example.com", [(variant, 4)])
    shop_actions.update_order(order, status="canceled")

    taken, returned = changes()
    assert (taken["available"], returned["previous_available"], returned["available"]) == (6, 6, 10)
    assert listed_product(api, variant.product_id)["updated_at"] == returned["updated_at"]
    variant.refresh_from_db()
    assert variant.available == 10


def test_fulfilling_an_order_changes_no_stock(shop, variant):
    order = shop_actions.place_order(shop, "ann@example.com", [(variant, 1)])
    shop_actions.update_order(order, status="paid")
    shop_actions.update_order(order, status="fulfilled")
    assert len(changes()) == 1


@pytest.mark.parametrize("body, level", [({"adjustment": -3}, 7), ({"available": 2}, 2)])
def test_the_inventory_api_fires_it(api, variant, body, level):
    response = api.put(
        f"/apps/api/inventory/{variant.id}", data=body, content_type="application/json"
    )

    assert response.status_code == 200
    [change] = changes()
    assert (change["previous_available"], change["available"]) == (10, level)
    assert change["updated_at"] == response.json()["inventory_level"]["updated_at"]


def test_a_level_set_to_what_it_is_fires_nothing(api, variant):
    before = Event.objects.count()
    response = api.put(
        f"/apps/api/inventory/{variant.id}", data={"available": 10}, content_type="application/json"
    )
    assert response.status_code == 200
    assert response.json()["inventory_level"]["available"] == 10
    assert Event.objects.count() == before


def test_a_stock_change_updates_its_product_too(api, variant):
    api.put(
        f"/apps/api/inventory/{variant.id}", data={"adjustment": 1}, content_type="application/json"
    )
    product_events = Event.objects.filter(topic="product.updated")
    [sent] = [json.loads(row.body)["data"] for row in product_events]
    assert sent["variants"][0]["available"] == 11
    assert sent["updated_at"] == changes()[0]["updated_at"]


def test_the_shops_stock_form_fires_it(browser, variant):
    browser.post(
        reverse("sandbox:variant_inventory", args=[variant.id]),
        {"mode": "available", "amount": 3},
    )
    [change] = changes()
    assert (change["previous_available"], change["available"]) == (10, 3)


def test_the_product_page_changes_stock_and_fires_both_events(browser, shop, product, variant):
    page = browser.get(reverse("sandbox:product_edit", args=[product.id]))
    assert b"Stock of MUG-1" in page.content

    browser.post(
        reverse("sandbox:product_edit", args=[product.id]),
        {
            "title": "Fake Mug",
            "vendor": "Acme Test",
            "status": "active",
            "description": "",
            f"stock_{variant.id}": 4,
        },
    )

    [change] = changes()
    assert (change["previous_available"], change["available"]) == (10, 4)
    updates = Event.objects.filter(topic="product.updated")
    assert updates.count() == 1  # one save, one product.updated
    assert json.loads(updates.get().body)["data"]["updated_at"] == change["updated_at"]
    assert Product.objects.get(pk=product.pk).variants.get().available == 4


def test_the_product_page_without_a_stock_change_fires_no_inventory_event(
    browser, product, variant
):
    browser.post(
        reverse("sandbox:product_edit", args=[product.id]),
        {
            "title": "Renamed Mug",
            "vendor": "",
            "status": "active",
            "description": "",
            f"stock_{variant.id}": 10,
        },
    )
    assert changes() == []
    assert Event.objects.filter(topic="product.updated").count() == 1


def test_a_webhook_subscribes_to_it_through_the_api(api):
    response = api.post(
        "/apps/api/webhooks",
        data={"url": "https://engine.example.com/hooks/cartly/inv/", "events": [INVENTORY]},
        content_type="application/json",
    )
    assert response.status_code == 201
    assert response.json()["webhook"]["events"] == [INVENTORY]


def test_it_is_delivered_signed_to_its_subscribers_only(
    shop,
    app,
    variant,
    receiver,  # noqa: F811 (the fixture)
):
    inventory_receiver, order_receiver = receiver(200), receiver(200)
    Webhook.objects.create(
        shop=shop, application=app, url=inventory_receiver.url, events=[INVENTORY]
    )
    Webhook.objects.create(
        shop=shop, application=app, url=order_receiver.url, events=["customer.created"]
    )
    shop_actions.set_inventory(variant, adjustment=-9)

    while delivery.deliver_due():
        pass

    [request] = inventory_receiver.requests
    expected = hmac.new(CLIENT_SECRET.encode(), request["body"], hashlib.sha256).hexdigest()
    assert hmac.compare_digest(request["headers"]["X-Cartly-Hmac-Sha256"], f"sha256={expected}")
    body = json.loads(request["body"])
    assert body["event"] == INVENTORY
    assert (body["data"]["variant_id"], body["data"]["available"]) == (variant.id, 1)
    assert order_receiver.requests == []


@pytest.mark.django_db(transaction=True)
def test_concurrent_orders_each_take_their_share_and_say_so(shop, variant):
    barrier = threading.Barrier(2)

    def buy(n: int) -> None:
        try:
            barrier.wait()
            shop_actions.place_order(shop, f"buyer{n}@example.com", [(variant, 1)])
        finally:
            connection.close()

    threads = [threading.Thread(target=buy, args=(n,)) for n in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()

    variant.refresh_from_db()
    assert variant.available == 8
    steps = sorted((c["previous_available"], c["available"]) for c in changes())
    assert steps == [(9, 8), (10, 9)]  # each read the level the other left, under its lock
