"""Tokens, scopes and the JSON envelope of every Apps API answer (cartly-api.md)."""

import datetime

import pytest
from django.test import Client
from django.utils import timezone
from oauth2_provider.models import AccessToken, revoke_access_token

from sandbox.tests.conftest import ALL_SCOPES

CHALLENGE = 'Bearer error="invalid_token"'

# (method, path, scope it needs)
ENDPOINTS = [
    ("get", "/apps/api/me", "read_shop"),
    ("get", "/apps/api/customers", "read_customers"),
    ("post", "/apps/api/customers", "write_customers"),
    ("put", "/apps/api/customers/cus_x", "write_customers"),
    ("get", "/apps/api/orders", "read_orders"),
    ("put", "/apps/api/orders/ord_x", "write_orders"),
    ("get", "/apps/api/products", "read_products"),
    ("put", "/apps/api/inventory/var_x", "write_inventory"),
    ("post", "/apps/api/discounts", "write_discounts"),
    ("get", "/apps/api/webhooks", "webhooks"),
    ("post", "/apps/api/webhooks", "webhooks"),
    ("delete", "/apps/api/webhooks/wh_x", "webhooks"),
]


def call(client: Client, method: str, path: str):
    if method in ("post", "put"):
        return getattr(client, method)(path, data={}, content_type="application/json")
    return getattr(client, method)(path)


def assert_invalid_token(response) -> None:
    assert response.status_code == 401
    assert response["Content-Type"] == "application/json"
    assert response.json()["error"] == "invalid_token"
    assert response.json()["message"]
    assert response["WWW-Authenticate"] == CHALLENGE


def test_it_answers_me_with_the_shop_and_the_app(api, shop):
    response = api.get("/apps/api/me")
    assert response.status_code == 200
    assert response.json() == {
        "shop": {
            "id": shop.id,
            "name": "Test Shop",
            "domain": "test.mycartly.pro",
            "currency": "USD",
        },
        "app": {"name": "Test Automations"},
    }


def test_it_accepts_a_trailing_slash(api):
    assert api.get("/apps/api/me/").status_code == 200


@pytest.mark.parametrize(
    "header", [None, "", "Bearer", "Bearer ", "Basic dXNlcjpwYXNz", "Token abc", "Bearer nope"]
)
def test_it_rejects_a_missing_or_unknown_token(shop, header):
    client = Client() if header is None else Client(HTTP_AUTHORIZATION=header)
    assert_invalid_token(client.get("/apps/api/me"))


def test_it_rejects_an_expired_token(make_token, shop):
    raw = make_token()
    AccessToken.objects.update(expires=timezone.now() - datetime.timedelta(seconds=1))
    assert_invalid_token(Client(HTTP_AUTHORIZATION=f"Bearer {raw}").get("/apps/api/me"))


def test_it_rejects_a_revoked_token(make_token, shop):
    raw = make_token()
    client = Client(HTTP_AUTHORIZATION=f"Bearer {raw}")
    assert client.get("/apps/api/me").status_code == 200
    revoke_access_token(AccessToken.objects.get())
    assert_invalid_token(client.get("/apps/api/me"))


def test_it_rejects_a_token_whose_user_has_no_shop(make_token, shop, django_user_model):
    shopless = django_user_model.objects.create_user("shopless")
    raw = make_token(user=shopless)
    assert_invalid_token(Client(HTTP_AUTHORIZATION=f"Bearer {raw}").get("/apps/api/me"))


def test_it_checks_the_token_before_anything_else(shop):
    response = Client().post("/apps/api/customers", data="{not json", content_type="text/plain")
    assert_invalid_token(response)


@pytest.mark.parametrize(("method", "path", "scope"), ENDPOINTS)
def test_it_requires_each_endpoints_scope(make_token, shop, method, path, scope):
    others = " ".join(s for s in ALL_SCOPES.split() if s != scope)
    client = Client(HTTP_AUTHORIZATION=f"Bearer {make_token(others)}")
    response = call(client, method, path)
    assert response.status_code == 403
    assert response.json()["error"] == "insufficient_scope"
    assert scope in response.json()["message"]


@pytest.mark.parametrize(("method", "path", "scope"), ENDPOINTS)
def test_it_lets_the_scope_through(make_token, shop, method, path, scope):
    client = Client(HTTP_AUTHORIZATION=f"Bearer {make_token(scope)}")
    assert call(client, method, path).status_code not in (401, 403)


def test_it_answers_an_unknown_path_with_json_404(api):
    for path in ("/apps/api/nothing", "/apps/api/", "/apps/api/customers/cus_1/orders"):
        response = api.get(path)
        assert response.status_code == 404
        assert response.json()["error"] == "not_found"


def test_it_answers_a_wrong_method_with_json_405(api):
    response = api.delete("/apps/api/customers")
    assert response.status_code == 405
    assert response.json()["error"] == "method_not_allowed"
    assert response["Allow"] == "GET, POST"


@pytest.mark.parametrize("body", ["{not json", "[1, 2]", '"text"', "", "\xff"])
def test_it_rejects_a_body_that_is_not_a_json_object(api, body):
    response = api.post("/apps/api/customers", data=body, content_type="application/json")
    assert response.status_code == 400
    assert response.json()["error"] == "bad_request"


def test_it_needs_no_csrf_token(make_token, shop):
    client = Client(enforce_csrf_checks=True, HTTP_AUTHORIZATION=f"Bearer {make_token()}")
    response = client.post(
        "/apps/api/customers", data={"email": "a@example.com"}, content_type="application/json"
    )
    assert response.status_code == 201
