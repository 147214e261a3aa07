"""GET/POST /apps/api/customers and PUT /apps/api/customers/:id, with list paging."""

import datetime

import pytest
from django.utils import timezone

from sandbox import shop as shop_actions
from sandbox.models import Customer, Event

CUSTOMER_KEYS = {
    "id",
    "email",
    "first_name",
    "last_name",
    "phone",
    "tags",
    "accepts_marketing",
    "orders_count",
    "total_spent",
    "note",
    "created_at",
    "updated_at",
}


def post(api, path, data):
    return api.post(path, data=data, content_type="application/json")


def put(api, path, data):
    return api.put(path, data=data, content_type="application/json")


@pytest.fixture
def three(shop):
    return [shop_actions.create_customer(shop, {"email": f"c{i}@example.com"}) for i in range(3)]


def test_it_lists_customers_in_ascending_id_order(api, three):
    response = api.get("/apps/api/customers")
    assert response.status_code == 200
    body = response.json()
    assert list(body) == ["customers"]
    assert [c["id"] for c in body["customers"]] == sorted(c.id for c in three)
    assert set(body["customers"][0]) == CUSTOMER_KEYS


def test_it_finds_a_customer_by_email_ignoring_case(api, three):
    response = api.get("/apps/api/customers", {"email": "C1@Example.COM"})
    assert [c["email"] for c in response.json()["customers"]] == ["c1@example.com"]


def test_it_finds_no_customer_for_an_unknown_or_empty_email(api, three):
    assert api.get("/apps/api/customers", {"email": "zz@example.com"}).json()["customers"] == []
    assert api.get("/apps/api/customers", {"email": ""}).json()["customers"] == []


def test_it_pages_with_limit_and_since_id(api, three):
    ids = sorted(c.id for c in three)
    first = api.get("/apps/api/customers", {"limit": 2}).json()["customers"]
    assert [c["id"] for c in first] == ids[:2]
    rest = api.get("/apps/api/customers", {"limit": 2, "since_id": ids[1]}).json()["customers"]
    assert [c["id"] for c in rest] == ids[2:]


def test_it_filters_by_updated_since(api, three):
    old = timezone.now() - datetime.timedelta(days=2)
    Customer.objects.filter(pk__in=[three[0].pk, three[1].pk]).update(updated_at=old)
    since = (timezone.now() - datetime.timedelta(days=1)).strftime("%Y-%m-%dT%H:%M:%SZ")
    found = api.get("/apps/api/customers", {"updated_since": since}).json()["customers"]
    assert [c["id"] for c in found] == [three[2].id]


def test_it_accepts_an_unencoded_plus_in_updated_since(api, three):
    response = api.get("/apps/api/customers?updated_since=2020-01-01T00:00:00+00:00")
    assert len(response.json()["customers"]) == 3


@pytest.mark.parametrize(
    ("param", "value"),
    [
        ("limit", "0"),
        ("limit", "251"),
        ("limit", "ten"),
        ("limit", "-1"),
        ("limit", "2.5"),
        ("updated_since", "yesterday"),
        ("updated_since", "2026-13-45T00:00:00Z"),
    ],
)
def test_it_rejects_a_bad_list_parameter(api, three, param, value):
    response = api.get("/apps/api/customers", {param: value})
    assert response.status_code == 400
    assert response.json()["error"] == "bad_request"
    assert param in response.json()["message"]


def test_it_caps_a_page_at_the_limit(api, shop):
    for i in range(55):
        Customer.objects.create(shop=shop, email=f"bulk{i}@example.com")
    assert len(api.get("/apps/api/customers").json()["customers"]) == 50
    assert len(api.get("/apps/api/customers", {"limit": 250}).json()["customers"]) == 55


def test_it_creates_a_customer_and_fires_customer_created(api, shop):
    response = post(
        api,
        "/apps/api/customers",
        {
            "email": "New@Example.com",
            "first_name": "Ada",
            "tags": ["vip"],
            "accepts_marketing": True,
        },
    )
    assert response.status_code == 201
    customer = response.json()["customer"]
    assert set(customer) == CUSTOMER_KEYS
    assert customer["email"] == "new@example.com"
    assert customer["tags"] == ["vip"] and customer["total_spent"] == "0.00"
    assert Customer.objects.get(shop=shop).id == customer["id"]
    assert list(Event.objects.values_list("topic", flat=True)) == ["customer.created"]


@pytest.mark.parametrize(
    ("data", "field"),
    [
        ({}, "email"),
        ({"email": "not-an-email"}, "email"),
        ({"email": "a" * 250 + "@example.com"}, "email"),
        ({"email": "ok@example.com", "accepts_marketing": "yes"}, "accepts_marketing"),
        ({"email": "ok@example.com", "first_name": 5}, "first_name"),
    ],
)
def test_it_rejects_a_bad_customer(api, shop, data, field):
    response = post(api, "/apps/api/customers", data)
    assert response.status_code == 422
    assert response.json()["error"] == "validation_failed"
    assert field in response.json()["fields"]
    assert not Customer.objects.exists()


def test_it_rejects_a_taken_email(api, three):
    response = post(api, "/apps/api/customers", {"email": "C0@example.com"})
    assert response.status_code == 422
    assert response.json()["fields"] == {"email": ["already taken"]}


def test_it_updates_only_the_given_fields(api, three):
    target = three[0]
    response = put(api, f"/apps/api/customers/{target.id}", {"last_name": "Lovelace"})
    assert response.status_code == 200
    assert response.json()["customer"]["last_name"] == "Lovelace"
    target.refresh_from_db()
    assert (target.last_name, target.email) == ("Lovelace", "c0@example.com")


def test_it_rejects_an_update_to_a_taken_email(api, three):
    response = put(api, f"/apps/api/customers/{three[0].id}", {"email": "c1@example.com"})
    assert response.status_code == 422
    assert "email" in response.json()["fields"]


def test_it_hides_another_shops_customer(api, three, other_shop):
    theirs = shop_actions.create_customer(other_shop, {"email": "theirs@example.com"})
    assert theirs.id not in [c["id"] for c in api.get("/apps/api/customers").json()["customers"]]
    response = put(api, f"/apps/api/customers/{theirs.id}", {"note": "mine now"})
    assert response.status_code == 404
    assert response.json()["error"] == "not_found"
    theirs.refresh_from_db()
    assert theirs.note == ""


def test_it_answers_404_for_an_unknown_customer(api, shop):
    response = put(api, "/apps/api/customers/cus_NOPE", {"note": "x"})
    assert response.status_code == 404
    assert response.json()["error"] == "not_found"
