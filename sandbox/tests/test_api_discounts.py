"""POST /apps/api/discounts."""

import pytest

from sandbox.models import Discount

DISCOUNT_KEYS = {
    "id",
    "code",
    "kind",
    "value",
    "minimum_subtotal",
    "usage_limit",
    "starts_at",
    "ends_at",
    "created_at",
}


def post(api, data):
    return api.post("/apps/api/discounts", data=data, content_type="application/json")


def test_it_creates_a_discount(api, shop):
    response = post(
        api,
        {
            "code": "WELCOME10",
            "kind": "percentage",
            "value": "10",
            "usage_limit": 1,
            "ends_at": "2030-01-01T00:00:00Z",
        },
    )
    assert response.status_code == 201
    discount = response.json()["discount"]
    assert set(discount) == DISCOUNT_KEYS
    assert (discount["code"], discount["value"], discount["usage_limit"]) == (
        "WELCOME10",
        "10.00",
        1,
    )
    assert discount["ends_at"].startswith("2030-01-01T00:00:00")
    assert Discount.objects.get(shop=shop).id == discount["id"]


def test_it_rejects_a_taken_code_in_any_case(api, shop):
    assert post(api, {"code": "SAVE5", "kind": "fixed_amount", "value": "5"}).status_code == 201
    response = post(api, {"code": "save5", "kind": "fixed_amount", "value": "5"})
    assert response.status_code == 422
    assert response.json()["fields"] == {"code": ["already taken"]}
    assert Discount.objects.count() == 1


@pytest.mark.parametrize(
    ("data", "field"),
    [
        ({"kind": "percentage", "value": "10"}, "code"),
        ({"code": "X", "kind": "bogo", "value": "10"}, "kind"),
        ({"code": "X", "kind": "percentage", "value": "150"}, "value"),
        ({"code": "X", "kind": "fixed_amount", "value": "1e100"}, "value"),
        (
            {"code": "X", "kind": "fixed_amount", "value": "5", "ends_at": "2026-13-01T00:00:00Z"},
            "ends_at",
        ),
    ],
)
def test_it_validates_a_discount(api, shop, data, field):
    response = post(api, data)
    assert response.status_code == 422
    assert field in response.json()["fields"]
    assert not Discount.objects.exists()


def test_it_reads_a_naive_time_as_utc(api, shop):
    data = {"code": "X", "kind": "fixed_amount", "value": "5", "starts_at": "2026-01-01T00:00:00"}
    response = post(api, data)
    assert response.status_code == 201
    assert response.json()["discount"]["starts_at"] == "2026-01-01T00:00:00.000000Z"
