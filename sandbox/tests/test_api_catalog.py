"""GET /apps/api/products and PUT /apps/api/inventory/:variant_id."""

import pytest

from sandbox import shop as shop_actions
from sandbox.models import Variant

PRODUCT_KEYS = {
    "id",
    "title",
    "description",
    "vendor",
    "status",
    "variants",
    "created_at",
    "updated_at",
}


def put(api, path, data):
    return api.put(path, data=data, content_type="application/json")


def test_it_lists_products_with_their_variants(api, product, variant):
    second = shop_actions.create_product(product.shop, {"title": "Fake Tee"})
    response = api.get("/apps/api/products")
    assert response.status_code == 200
    listed = response.json()["products"]
    assert [p["id"] for p in listed] == sorted([product.id, second.id])
    mug = next(p for p in listed if p["id"] == product.id)
    assert set(mug) == PRODUCT_KEYS
    assert mug["variants"] == [
        {"id": variant.id, "sku": "MUG-1", "title": "Default", "price": "12.50", "available": 10}
    ]


def test_it_pages_products(api, product):
    second = shop_actions.create_product(product.shop, {"title": "Fake Tee"})
    ids = sorted([product.id, second.id])
    page = api.get("/apps/api/products", {"limit": 1, "since_id": ids[0]}).json()["products"]
    assert [p["id"] for p in page] == ids[1:]


def test_it_adjusts_inventory_by_a_delta(api, variant):
    response = put(api, f"/apps/api/inventory/{variant.id}", {"adjustment": -3})
    assert response.status_code == 200
    level = response.json()["inventory_level"]
    assert set(level) == {"variant_id", "available", "updated_at"}
    assert (level["variant_id"], level["available"]) == (variant.id, 7)
    assert Variant.objects.get(pk=variant.pk).available == 7


def test_it_sets_inventory_to_a_level(api, variant):
    response = put(api, f"/apps/api/inventory/{variant.id}", {"available": 42})
    assert response.json()["inventory_level"]["available"] == 42
    assert Variant.objects.get(pk=variant.pk).available == 42


@pytest.mark.parametrize(
    "data",
    [
        {},
        {"adjustment": 1, "available": 2},
        {"adjustment": "1"},
        {"available": 1.5},
        {"available": True},
        {"adjustment": 10**12},
    ],
)
def test_it_rejects_a_bad_inventory_change(api, variant, data):
    response = put(api, f"/apps/api/inventory/{variant.id}", data)
    assert response.status_code == 422
    assert response.json()["error"] == "validation_failed"
    assert response.json()["fields"]
    assert Variant.objects.get(pk=variant.pk).available == 10


def test_it_hides_another_shops_variant(api, variant, other_shop):
    theirs = shop_actions.create_product(other_shop, {"title": "Theirs"}, [{"available": 5}])
    their_variant = theirs.variants.get()
    assert theirs.id not in [p["id"] for p in api.get("/apps/api/products").json()["products"]]
    response = put(api, f"/apps/api/inventory/{their_variant.id}", {"available": 0})
    assert response.status_code == 404
    assert Variant.objects.get(pk=their_variant.pk).available == 5
