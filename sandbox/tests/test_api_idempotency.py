"""Idempotency-Key on POST and PUT (cartly-api.md): replay the first answer, 409 on misuse."""

import datetime
import threading

import pytest
from django.db import connection
from django.test import Client
from django.utils import timezone

from sandbox.models import Customer, Event, IdempotencyRecord, Shop, Variant


def post(api, path, data, key):
    return api.post(path, data=data, content_type="application/json", HTTP_IDEMPOTENCY_KEY=key)


def put(api, path, data, key):
    return api.put(path, data=data, content_type="application/json", HTTP_IDEMPOTENCY_KEY=key)


def test_it_replays_a_create_without_doing_it_twice(api, shop):
    first = post(api, "/apps/api/customers", {"email": "once@example.com"}, "key-1")
    second = post(api, "/apps/api/customers", {"email": "once@example.com"}, "key-1")
    assert first.status_code == second.status_code == 201
    assert second.json() == first.json()
    assert second["Idempotent-Replayed"] == "true"
    assert Customer.objects.count() == 1
    assert Event.objects.filter(topic="customer.created").count() == 1


def test_it_treats_the_same_json_in_another_key_order_as_the_same_body(api, shop):
    body_a = '{"email": "same@example.com", "first_name": "Ada"}'
    body_b = '{"first_name": "Ada", "email": "same@example.com"}'
    for body in (body_a, body_b):
        response = api.post(
            "/apps/api/customers",
            body,
            content_type="application/json",
            HTTP_IDEMPOTENCY_KEY="k",
        )
        assert response.status_code == 201
    assert Customer.objects.count() == 1


def test_it_replays_an_adjustment_once(api, variant):
    for _ in range(3):
        response = put(api, f"/apps/api/inventory/{variant.id}", {"adjustment": -2}, "adj-1")
        assert response.json()["inventory_level"]["available"] == 8
    assert Variant.objects.get(pk=variant.pk).available == 8


def test_it_replays_a_client_error_too(api, shop):
    first = post(api, "/apps/api/customers", {"email": "bad"}, "key-422")
    assert first.status_code == 422
    second = post(api, "/apps/api/customers", {"email": "bad"}, "key-422")
    assert (second.status_code, second.json()) == (422, first.json())


def test_it_refuses_a_reused_key_with_another_body(api, shop):
    post(api, "/apps/api/customers", {"email": "one@example.com"}, "key-2")
    response = post(api, "/apps/api/customers", {"email": "two@example.com"}, "key-2")
    assert response.status_code == 409
    assert response.json()["error"] == "idempotency_conflict"
    assert list(Customer.objects.values_list("email", flat=True)) == ["one@example.com"]


def test_it_refuses_a_reused_key_on_another_path(api, shop):
    post(api, "/apps/api/customers", {"email": "one@example.com"}, "key-3")
    data = {"url": "https://example.com/h", "events": ["order.created"]}
    response = post(api, "/apps/api/webhooks", data, "key-3")
    assert response.status_code == 409


def test_it_keeps_keys_apart_per_shop(api, shop, make_token, other_shop):
    theirs = Client(HTTP_AUTHORIZATION=f"Bearer {make_token(user=other_shop.owner)}")
    post(api, "/apps/api/customers", {"email": "one@example.com"}, "shared")
    response = post(theirs, "/apps/api/customers", {"email": "one@example.com"}, "shared")
    assert response.status_code == 201
    assert Customer.objects.filter(shop=other_shop).count() == 1


def test_it_forgets_a_key_after_24_hours(api, shop):
    post(api, "/apps/api/customers", {"email": "old@example.com"}, "key-old")
    day_ago = timezone.now() - datetime.timedelta(hours=24, seconds=1)
    IdempotencyRecord.objects.update(created_at=day_ago)
    response = post(api, "/apps/api/customers", {"email": "new@example.com"}, "key-old")
    assert response.status_code == 201
    assert Customer.objects.count() == 2


def test_it_stores_nothing_for_a_faulted_call_so_a_retry_works(api, shop):
    Shop.objects.filter(pk=shop.pk).update(fault_error_rate=1.0)
    failed = post(api, "/apps/api/customers", {"email": "retry@example.com"}, "key-500")
    assert failed.status_code == 500
    assert not IdempotencyRecord.objects.exists()
    Shop.objects.filter(pk=shop.pk).update(fault_error_rate=0.0)
    retried = post(api, "/apps/api/customers", {"email": "retry@example.com"}, "key-500")
    assert retried.status_code == 201
    assert "Idempotent-Replayed" not in retried


def test_it_rejects_an_unusable_key(api, shop):
    response = post(api, "/apps/api/customers", {"email": "k@example.com"}, "x" * 256)
    assert response.status_code == 400
    assert "Idempotency-Key" in response.json()["message"]
    assert not Customer.objects.exists()


@pytest.mark.django_db(transaction=True)
def test_it_applies_a_raced_key_once(make_token, shop):
    """Two requests with one key at once: the unique key decides, the loser replays."""
    token = make_token()
    barrier, answers = threading.Barrier(2), []

    def send() -> None:
        try:
            client = Client(HTTP_AUTHORIZATION=f"Bearer {token}")
            barrier.wait()
            answers.append(post(client, "/apps/api/customers", {"email": "race@example.com"}, "r"))
        finally:
            connection.close()

    threads = [threading.Thread(target=send) for _ in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert [a.status_code for a in answers] == [201, 201]
    assert answers[0].json() == answers[1].json()
    assert Customer.objects.count() == 1
    assert Event.objects.filter(topic="customer.created").count() == 1
