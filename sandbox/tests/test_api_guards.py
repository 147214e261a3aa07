"""Rate limiting and fault injection: 429 with Retry-After, 500 server_error, before any effect."""

from django.test import Client

from sandbox.models import Customer, Event, Shop


def create(api, email="g@example.com"):
    return api.post("/apps/api/customers", data={"email": email}, content_type="application/json")


def assert_rate_limited(response) -> int:
    assert response.status_code == 429
    assert response.json()["error"] == "rate_limited"
    retry_after = int(response["Retry-After"])
    assert retry_after >= 1
    return retry_after


def test_it_rate_limits_past_the_burst(api, settings):
    settings.SANDBOX_RATE_LIMIT_BURST = 3
    settings.SANDBOX_RATE_LIMIT_PER_SECOND = 0.01  # one token per 100 s: no refill mid-test
    assert [api.get("/apps/api/me").status_code for _ in range(3)] == [200, 200, 200]
    assert assert_rate_limited(api.get("/apps/api/me")) == 100


def test_it_refuses_a_limited_call_before_it_has_any_effect(api, settings):
    settings.SANDBOX_RATE_LIMIT_BURST = 1
    settings.SANDBOX_RATE_LIMIT_PER_SECOND = 0.01
    assert create(api, "first@example.com").status_code == 201
    assert_rate_limited(create(api, "second@example.com"))
    assert list(Customer.objects.values_list("email", flat=True)) == ["first@example.com"]


def test_it_keeps_one_bucket_per_shop(api, make_token, other_shop, settings):
    settings.SANDBOX_RATE_LIMIT_BURST = 1
    settings.SANDBOX_RATE_LIMIT_PER_SECOND = 0.01
    theirs = Client(HTTP_AUTHORIZATION=f"Bearer {make_token(user=other_shop.owner)}")
    assert api.get("/apps/api/me").status_code == 200
    assert theirs.get("/apps/api/me").status_code == 200
    assert_rate_limited(api.get("/apps/api/me"))


def test_it_injects_server_errors_for_a_shop(api, shop):
    Shop.objects.filter(pk=shop.pk).update(fault_error_rate=1.0)
    response = create(api)
    assert response.status_code == 500
    assert response["Content-Type"] == "application/json"
    assert response.json()["error"] == "server_error"
    assert not Customer.objects.exists() and not Event.objects.exists()


def test_it_injects_rate_limits_for_a_shop(api, shop):
    Shop.objects.filter(pk=shop.pk).update(fault_error_rate=0.0, fault_rate_limit_rate=1.0)
    assert_rate_limited(create(api))
    assert not Customer.objects.exists()


def test_it_falls_back_to_the_fault_settings(api, settings):
    settings.SANDBOX_FAULT_ERROR_RATE = 1.0
    assert api.get("/apps/api/me").status_code == 500


def test_a_shop_value_of_zero_overrides_the_settings(api, shop, settings):
    settings.SANDBOX_FAULT_ERROR_RATE = 1.0
    settings.SANDBOX_FAULT_RATE_LIMIT_RATE = 1.0
    Shop.objects.filter(pk=shop.pk).update(fault_error_rate=0.0, fault_rate_limit_rate=0.0)
    assert api.get("/apps/api/me").status_code == 200
