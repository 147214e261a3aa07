"""GET /apps/api/orders and PUT /apps/api/orders/:id (status moves and note)."""

import json

import pytest

from sandbox import shop as shop_actions
from sandbox.models import Event, Order

ORDER_KEYS = {
    "id",
    "number",
    "status",
    "currency",
    "subtotal_price",
    "total_price",
    "customer",
    "email",
    "line_items",
    "note",
    "created_at",
    "updated_at",
    "fulfilled_at",
    "canceled_at",
}


def put(api, path, data):
    return api.put(path, data=data, content_type="application/json")


@pytest.fixture
def orders(shop, variant):
    return [
        shop_actions.place_order(shop, f"buyer{i}@example.com", [(variant, 1)]) for i in range(3)
    ]


def topics() -> list[str]:
    return list(Event.objects.order_by("created_at", "id").values_list("topic", flat=True))


def test_it_lists_orders_with_their_shape(api, orders, variant):
    response = api.get("/apps/api/orders")
    assert response.status_code == 200
    listed = response.json()["orders"]
    assert [o["id"] for o in listed] == sorted(o.id for o in orders)
    first = listed[0]
    assert set(first) == ORDER_KEYS
    assert first["number"] in (1001, 1002, 1003) and first["total_price"] == "12.50"
    assert set(first["customer"]) == {"id", "email", "first_name", "last_name"}
    assert first["line_items"][0]["variant_id"] == variant.id


def test_it_finds_an_order_by_number(api, orders):
    found = api.get("/apps/api/orders", {"number": 1002}).json()["orders"]
    assert [o["number"] for o in found] == [1002]


def test_it_filters_orders_by_status(api, orders):
    shop_actions.update_order(orders[1], status="paid")
    found = api.get("/apps/api/orders", {"status": "paid"}).json()["orders"]
    assert [o["id"] for o in found] == [orders[1].id]


@pytest.mark.parametrize(
    ("param", "value"), [("number", "abc"), ("number", ""), ("status", "lost")]
)
def test_it_rejects_a_bad_order_filter(api, orders, param, value):
    response = api.get("/apps/api/orders", {param: value})
    assert response.status_code == 400
    assert param in response.json()["message"]


def test_it_moves_an_order_to_paid_and_fires_order_updated(api, orders):
    Event.objects.all().delete()
    response = put(api, f"/apps/api/orders/{orders[0].id}", {"status": "paid"})
    assert response.status_code == 200
    assert response.json()["order"]["status"] == "paid"
    assert Order.objects.get(pk=orders[0].pk).status == "paid"
    assert topics() == ["order.updated"]


def test_it_fulfils_a_paid_order_with_both_events(api, orders):
    shop_actions.update_order(orders[0], status="paid")
    Event.objects.all().delete()
    response = put(api, f"/apps/api/orders/{orders[0].id}", {"status": "fulfilled"})
    assert response.json()["order"]["fulfilled_at"] is not None
    assert topics() == ["order.updated", "order.fulfilled"]


@pytest.mark.parametrize("status", ["fulfilled", "refunded", 7])
def test_it_refuses_a_forbidden_status_change(api, orders, status):
    Event.objects.all().delete()
    response = put(api, f"/apps/api/orders/{orders[0].id}", {"status": status})
    assert response.status_code == 422
    assert "status" in response.json()["fields"]
    assert Order.objects.get(pk=orders[0].pk).status == "pending"
    assert topics() == []


def test_it_fires_order_updated_for_a_note_change(api, orders):
    # cartly-api.md, "Changelog events": order modifications fire order.updated too.
    Event.objects.all().delete()
    response = put(api, f"/apps/api/orders/{orders[0].id}", {"note": "gift wrap"})
    assert response.json()["order"]["note"] == "gift wrap"
    assert topics() == ["order.updated"]
    sent = json.loads(Event.objects.get().body)["data"]
    assert (sent["note"], sent["status"]) == ("gift wrap", "pending")
    assert sent["updated_at"] == response.json()["order"]["updated_at"]


def test_it_fires_nothing_for_a_note_left_as_it_was(api, orders):
    put(api, f"/apps/api/orders/{orders[0].id}", {"note": "same"})
    Event.objects.all().delete()
    response = put(api, f"/apps/api/orders/{orders[0].id}", {"note": "same"})
    assert response.status_code == 200
    assert topics() == []


def test_it_fires_order_updated_once_for_a_status_and_note_change(api, orders):
    Event.objects.all().delete()
    put(api, f"/apps/api/orders/{orders[0].id}", {"status": "paid", "note": "paid by phone"})
    assert topics() == ["order.updated"]


def test_it_hides_another_shops_order(api, orders, other_shop):
    product = shop_actions.create_product(other_shop, {"title": "Theirs"}, [{"available": 5}])
    theirs = shop_actions.place_order(other_shop, "x@example.com", [(product.variants.get(), 1)])
    assert theirs.id not in [o["id"] for o in api.get("/apps/api/orders").json()["orders"]]
    response = put(api, f"/apps/api/orders/{theirs.id}", {"status": "paid"})
    assert response.status_code == 404
    assert Order.objects.get(pk=theirs.pk).status == "pending"
