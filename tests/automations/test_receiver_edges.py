"""The receiver's remaining edges (issue 10, item 5): late deliveries kept as stale and never
run, the shop domain header, a client secret in rotation, signed bodies we refused kept for
inspection and counted on the connection page, and the remembered subscription lookup."""

from datetime import timedelta

import pytest
from django.test import Client

from automations.models import Event, RejectedDelivery, Run, Subscription
from automations.sweeps import sweep_events
from tests.automations import receiver_helpers as hooks
from tests.automations.conftest import wait_for
from tests.automations.receiver_helpers import (
    NOW,
    SECRET,
    SHOP_DOMAIN,
    WEBHOOK_ID,
    deliver,
    encode,
    envelope,
    headers,
    sign,
    url_of,
)
from tests.personas import make_recipe

signing_secret = hooks.signing_secret
fresh_lookups = hooks.fresh_lookups
shop = hooks.shop
subscription = hooks.subscription

PREVIOUS_SECRET = "the-secret-before-the-rotation"
HOUR = 3600


def sent_at(age: timedelta) -> str:
    return (NOW - age).strftime("%Y-%m-%dT%H:%M:%SZ")


# --- stale deliveries -------------------------------------------------------------------------


@pytest.fixture
def running_recipe(shop):
    """An enabled New Order recipe on the shop, so a dispatched event would make a run."""
    recipe = make_recipe(shop.owner, shop, "Thank buyers")
    recipe.enabled = True
    recipe.save(update_fields=["enabled"])
    return recipe


def test_it_keeps_a_delivery_older_than_the_window_as_stale_and_runs_nothing(
    subscription, running_recipe, settings
):
    settings.HOOK_STALE_AFTER_SECONDS = HOUR
    settings.SWEEP_EVENT_AFTER_SECONDS = 0
    late = {**envelope("evt_late", id="ord_late"), "created_at": sent_at(timedelta(hours=2))}
    fresh = envelope("evt_fresh", id="ord_fresh")

    answers = [deliver(subscription, late).status_code, deliver(subscription, fresh).status_code]
    sweep_events()  # dispatches, here and now, whatever is still waiting to run

    assert answers == [200, 200]
    stale = Event.objects.get(cartly_event_id="evt_late")
    assert stale.status == Event.Status.STALE
    assert stale.dedupe_key == "order.created|ord_late"  # a late poll of it runs nothing either
    assert not Run.objects.filter(event=stale).exists()
    assert Run.objects.filter(event__cartly_event_id="evt_fresh", recipe=running_recipe).exists()
    assert deliver(subscription, late).status_code == 200  # Cartly's retry: a plain repeat
    assert Event.objects.filter(cartly_event_id="evt_late").count() == 1


def test_it_runs_a_delivery_just_inside_the_window(subscription, settings):
    settings.HOOK_STALE_AFTER_SECONDS = HOUR
    document = {**envelope(), "created_at": sent_at(timedelta(minutes=50))}

    assert deliver(subscription, document).status_code == 200
    assert Event.objects.get().status == Event.Status.RECEIVED


def test_a_window_of_zero_runs_deliveries_of_any_age(subscription, settings):
    settings.HOOK_STALE_AFTER_SECONDS = 0
    document = {**envelope(), "created_at": "2020-01-01T00:00:00Z"}

    assert deliver(subscription, document).status_code == 200
    assert Event.objects.get().status == Event.Status.RECEIVED


# --- the shop domain header -------------------------------------------------------------------


@pytest.mark.parametrize("domain", [None, "", "other.mycartly.pro", "test.mycartly.pro.evil"])
def test_it_refuses_a_delivery_naming_another_shop_domain_with_401(subscription, domain):
    answer = deliver(subscription, HTTP_X_CARTLY_SHOP_DOMAIN=domain)

    assert answer.status_code == 401
    assert answer.json()["error"] == "wrong_shop_domain"
    assert not Event.objects.exists()


def test_it_reads_the_shop_domain_without_regard_to_case(subscription):
    answer = deliver(subscription, HTTP_X_CARTLY_SHOP_DOMAIN=f" {SHOP_DOMAIN.upper()} ")

    assert answer.status_code == 200


# --- a client secret in rotation --------------------------------------------------------------


def test_it_takes_a_delivery_signed_with_the_previous_secret_during_a_rotation(
    subscription, settings
):
    settings.CARTLY_CLIENT_SECRET_PREVIOUS = PREVIOUS_SECRET
    old = encode(envelope("evt_old"))
    new = encode(envelope("evt_new", id="ord_new"))

    answers = [
        deliver(subscription, body=old, HTTP_X_CARTLY_HMAC_SHA256=sign(old, PREVIOUS_SECRET)),
        deliver(subscription, body=new, HTTP_X_CARTLY_HMAC_SHA256=sign(new, SECRET)),
    ]

    assert [a.status_code for a in answers] == [200, 200]
    assert Event.objects.count() == 2


def test_it_refuses_the_previous_secret_once_the_rotation_is_over(subscription):
    body = encode(envelope())

    answer = deliver(subscription, body=body, HTTP_X_CARTLY_HMAC_SHA256=sign(body, PREVIOUS_SECRET))

    assert answer.status_code == 401
    assert not Event.objects.exists()


def test_a_previous_secret_alone_checks_nothing(subscription, settings):
    settings.CARTLY_CLIENT_SECRET = ""
    settings.CARTLY_CLIENT_SECRET_PREVIOUS = PREVIOUS_SECRET
    body = encode(envelope())

    answer = deliver(subscription, body=body, HTTP_X_CARTLY_HMAC_SHA256=sign(body, PREVIOUS_SECRET))

    assert answer.status_code == 503
    assert answer.json()["error"] == "not_configured"
    assert int(answer["Retry-After"]) > 0
    assert not Event.objects.exists()


# --- signed bodies we refused are kept --------------------------------------------------------


def test_it_keeps_a_signed_body_it_refused_once_with_a_count(subscription):
    document = envelope()
    del document["data"]["id"]
    body = encode(document)

    answers = [deliver(subscription, body=body).status_code for _ in range(3)]

    assert answers == [400, 400, 400]
    kept = RejectedDelivery.objects.get()
    assert (kept.connection, kept.subscription) == (subscription.connection, subscription)
    assert (kept.status_code, kept.error, kept.times_seen) == (400, "bad_request", 3)
    assert "`data.id`" in kept.message
    assert (kept.cartly_event_id, kept.event_type) == ("evt_01A", "order.created")
    assert (kept.webhook_id, kept.shop_domain) == (WEBHOOK_ID, SHOP_DOMAIN)
    assert kept.body == body.decode()
    assert kept.last_seen_at >= kept.first_seen_at
    assert not Event.objects.exists()


def test_it_keeps_each_kind_of_refusal_after_the_signature(subscription):
    refused = [
        deliver(subscription, content_type="text/plain"),
        deliver(subscription, envelope("evt_2"), HTTP_X_CARTLY_WEBHOOK_ID="wh_OTHER"),
        deliver(subscription, envelope("evt_3"), HTTP_X_CARTLY_SHOP_DOMAIN="other.test"),
        deliver(subscription, {**envelope("evt_4"), "shop_id": "shop_OTHER"}),
        deliver(subscription, body=b"\xff\xfe not json"),
    ]

    assert [a.status_code for a in refused] == [415, 401, 401, 401, 400]
    kept = RejectedDelivery.objects.order_by("first_seen_at", "pk")
    assert [k.error for k in kept] == [
        "unsupported_media_type",
        "wrong_webhook",
        "wrong_shop_domain",
        "wrong_shop",
        "bad_request",
    ]
    assert kept.last().body == "\\xff\\xfe not json"  # not UTF-8: kept escaped


def test_it_keeps_a_signed_body_for_an_unknown_token_without_a_connection(subscription):
    body = encode(envelope())

    answer = Client().post("/hooks/cartly/no-such-token/", body, **headers(body))

    assert answer.status_code == 404
    kept = RejectedDelivery.objects.get()
    assert (kept.status_code, kept.connection, kept.subscription) == (404, None, None)


def test_it_keeps_nothing_it_could_not_trust_or_asked_for(subscription):
    unsigned = deliver(subscription, HTTP_X_CARTLY_HMAC_SHA256="sha256=" + "0" * 64)
    too_big = deliver(subscription, body=b"{" + b" " * (1024 * 1024) + b"}")
    Subscription.objects.filter(pk=subscription.pk).update(status="deleted")
    gone = deliver(subscription)

    assert [unsigned.status_code, too_big.status_code, gone.status_code] == [401, 413, 410]
    assert not RejectedDelivery.objects.exists()


def test_the_connection_page_counts_refused_and_stale_deliveries(subscription, settings):
    settings.HOOK_STALE_AFTER_SECONDS = HOUR
    deliver(subscription, {**envelope("evt_1"), "shop_id": "shop_OTHER"})
    deliver(subscription, {**envelope("evt_2"), "shop_id": "shop_OTHER"})
    deliver(subscription, {**envelope("evt_3"), "created_at": sent_at(timedelta(days=2))})
    browser = Client()
    browser.force_login(subscription.connection.owner)

    page = browser.get(f"/connections/{subscription.connection.pk}/").content.decode()

    assert "Cartly sent 2 notifications we could not accept" in page
    assert "The delivery is for another shop." in page
    assert "1 notification reached us too long after its event happened" in page


def test_the_connection_page_says_none_when_nothing_was_refused(subscription):
    browser = Client()
    browser.force_login(subscription.connection.owner)

    page = browser.get(f"/connections/{subscription.connection.pk}/").content.decode()

    assert "we could not accept" not in page and "too long after" not in page


def test_the_admin_shows_a_refused_body(subscription, admin_client):
    deliver(subscription, {**envelope(), "shop_id": "shop_OTHER"})
    kept = RejectedDelivery.objects.get()

    listing = admin_client.get("/admin/automations/rejecteddelivery/")
    detail = admin_client.get(f"/admin/automations/rejecteddelivery/{kept.pk}/change/")

    assert listing.status_code == 200 and "The delivery is for another shop." in listing.text
    assert detail.status_code == 200 and "shop_OTHER" in detail.text
    assert SECRET not in detail.text and subscription.token not in detail.text


# --- the remembered lookup --------------------------------------------------------------------


def test_it_answers_410_within_seconds_of_removing_a_remembered_subscription(
    subscription, settings
):
    settings.HOOK_SUBSCRIPTION_CACHE_SECONDS = 0.5
    assert deliver(subscription, envelope("evt_before")).status_code == 200
    Subscription.objects.filter(pk=subscription.pk).update(status="deleted")
    attempts = iter(range(1000))

    wait_for(
        lambda: deliver(subscription, envelope(f"evt_{next(attempts)}")).status_code == 410,
        "a 410 for the removed subscription",
        timeout=10,
    )


def test_it_takes_a_replaced_hook_at_once_though_it_remembers_the_old_one(subscription):
    assert deliver(subscription, envelope("evt_before")).status_code == 200  # remembered
    Subscription.objects.filter(pk=subscription.pk).update(remote_id="wh_REPLACED")

    answer = deliver(subscription, envelope("evt_after"), HTTP_X_CARTLY_WEBHOOK_ID="wh_REPLACED")
    old_id = deliver(subscription, envelope("evt_old_id"))

    assert (answer.status_code, old_id.status_code) == (200, 401)
    assert url_of(subscription).endswith(f"{subscription.token}/")
