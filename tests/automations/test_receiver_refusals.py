"""The REST Hook receiver refuses what it must not store, with a status code that tells
Cartly what to do (cartly-api.md, "Deliveries"): never a 500, never a silent drop."""

import json

import pytest
from django.test import Client

from automations import receiver
from automations.models import Event, Subscription
from tests.automations import receiver_helpers as hooks
from tests.automations.receiver_helpers import (
    WEBHOOK_ID,
    deliver,
    encode,
    envelope,
    headers,
    sign,
    url_of,
)

signing_secret = hooks.signing_secret
fresh_lookups = hooks.fresh_lookups
shop = hooks.shop
subscription = hooks.subscription


# --- refusing --------------------------------------------------------------------------------


@pytest.mark.parametrize("method", ["get", "put", "delete", "patch"])
def test_it_answers_405_to_anything_but_post(subscription, method):
    answer = getattr(Client(), method)(url_of(subscription))

    assert answer.status_code == 405
    assert answer["Allow"] == "POST"
    assert answer.json()["error"] == "method_not_allowed"


def test_it_refuses_a_body_over_the_cap_with_413(subscription):
    document = envelope()
    padding = receiver.MAX_BODY_BYTES - len(encode({**document, "pad": ""})) + 1
    body = encode({**document, "pad": "x" * padding})
    assert len(body) == receiver.MAX_BODY_BYTES + 1

    answer = deliver(subscription, body=body)

    assert answer.status_code == 413
    assert Event.objects.count() == 0


def test_it_takes_a_body_of_exactly_the_cap(subscription):
    document = envelope()
    padding = receiver.MAX_BODY_BYTES - len(encode({**document, "pad": ""}))
    body = encode({**document, "pad": "x" * padding})
    assert len(body) == receiver.MAX_BODY_BYTES

    assert deliver(subscription, body=body).status_code == 200


def test_it_answers_404_to_an_unknown_token(subscription):
    body = encode(envelope())

    answer = Client().post("/hooks/cartly/no-such-token/", body, **headers(body))
    too_long = Client().post(f"/hooks/cartly/{'x' * 65}/", body, **headers(body))

    assert (answer.status_code, too_long.status_code) == (404, 404)
    assert answer.json()["error"] == "not_found"


@pytest.mark.parametrize("status", ["deleted", "deleting"])
def test_it_answers_410_for_a_subscription_we_removed(subscription, status):
    Subscription.objects.filter(pk=subscription.pk).update(status=status)

    answer = deliver(subscription)

    assert answer.status_code == 410
    assert Event.objects.count() == 0


def _valid_hex() -> str:
    return sign(encode(envelope()))[len("sha256=") :]


MALFORMED_SIGNATURES = {
    "missing": None,
    "empty": "",
    "prefix only": "sha256=",
    "no prefix": _valid_hex(),
    "another algorithm": "sha1=" + _valid_hex(),
    "not hex": "sha256=" + "z" * 64,
    "too short": "sha256=" + _valid_hex()[:-1],
    "too long": "sha256=" + _valid_hex() + "0",
    "spaced hex": "sha256=" + " ".join(_valid_hex()[i : i + 2] for i in range(0, 64, 2)),
    "non-ascii": "sha256=" + "é" * 64,
    "another secret": sign(encode(envelope()), "not-the-secret"),
}


@pytest.mark.parametrize("signature", MALFORMED_SIGNATURES.values(), ids=MALFORMED_SIGNATURES)
def test_it_refuses_a_bad_signature_with_401(subscription, signature):
    answer = deliver(subscription, HTTP_X_CARTLY_HMAC_SHA256=signature)

    assert answer.status_code == 401
    assert answer.json()["error"] == "bad_signature"
    assert Event.objects.count() == 0


def test_it_refuses_a_signature_of_other_bytes(subscription):
    body = encode(envelope())
    same_json_other_bytes = json.dumps(envelope(), indent=2).encode()

    answer = Client().post(
        url_of(subscription),
        same_json_other_bytes,
        **headers(same_json_other_bytes, HTTP_X_CARTLY_HMAC_SHA256=sign(body)),
    )

    assert answer.status_code == 401


def test_it_takes_an_upper_case_hex_signature(subscription):
    body = encode(envelope())

    answer = deliver(
        subscription, HTTP_X_CARTLY_HMAC_SHA256=sign(body).upper().replace("SHA256", "sha256")
    )

    assert answer.status_code == 200


def test_it_tells_an_unsigned_caller_nothing_about_tokens(subscription):
    Subscription.objects.filter(pk=subscription.pk).update(status="deleted")
    unsigned = {"HTTP_X_CARTLY_HMAC_SHA256": None}

    known = deliver(subscription, **unsigned)
    unknown = Client().post("/hooks/cartly/nope/", b"{}", content_type="application/json")

    assert (known.status_code, unknown.status_code) == (401, 401)


def test_it_refuses_a_body_that_is_not_json_with_415(subscription):
    answer = deliver(subscription, content_type="text/plain")
    unsigned = deliver(subscription, content_type="text/plain", HTTP_X_CARTLY_HMAC_SHA256=None)

    assert answer.status_code == 415
    assert unsigned.status_code == 401  # the signature is checked first
    assert deliver(subscription, content_type="application/json; charset=utf-8").status_code == 200


@pytest.mark.parametrize("webhook_id", [None, "", "wh_SOMEONE_ELSE"])
def test_it_refuses_another_hooks_id_with_401(subscription, webhook_id):
    answer = deliver(subscription, HTTP_X_CARTLY_WEBHOOK_ID=webhook_id)

    assert answer.status_code == 401
    assert answer.json()["error"] == "wrong_webhook"


def test_it_refuses_a_delivery_for_another_shop_with_401(subscription):
    answer = deliver(subscription, {**envelope(), "shop_id": "shop_SOMEONE_ELSE"})

    assert answer.status_code == 401
    assert answer.json()["error"] == "wrong_shop"
    assert Event.objects.count() == 0


def _without(name: str) -> dict:
    document = envelope()
    if name.startswith("data."):
        del document["data"][name.removeprefix("data.")]
    else:
        del document[name]
    return document


@pytest.mark.parametrize("field", ["id", "event", "created_at", "shop_id", "data", "data.id"])
def test_it_answers_400_naming_a_missing_field(subscription, field):
    answer = deliver(subscription, _without(field))

    assert answer.status_code == 400
    assert f"`{field}`" in answer.json()["message"]
    assert Event.objects.count() == 0


@pytest.mark.parametrize(
    "body, words",
    [
        (b"{not json", "not UTF-8 JSON"),
        (b"\xff\xfe{}", "not UTF-8 JSON"),
        (b"[" * 200_000, "not UTF-8 JSON"),  # nested past Python's recursion limit
        (b"[1, 2]", "not a JSON object"),
        (encode({**envelope(), "created_at": "yesterday"}), "`created_at`"),
        (encode({**envelope(), "data": "ord_01A"}), "`data`"),
        (encode({**envelope(), "id": "e" * 65}), "`id`"),
    ],
)
def test_it_answers_400_to_a_malformed_body(subscription, body, words):
    answer = deliver(subscription, body=body)

    assert answer.status_code == 400
    assert words in answer.json()["message"]


def test_it_answers_400_when_an_update_lacks_its_time(shop):
    updates = Subscription.objects.create(
        connection=shop, event_type="order.updated", remote_id=WEBHOOK_ID, status="active"
    )
    document = envelope(event="order.updated")
    del document["data"]["updated_at"]

    answer = deliver(updates, document)

    assert answer.status_code == 400
    assert "`data.updated_at`" in answer.json()["message"]


def test_it_refuses_nan_with_a_400_and_stores_nothing(subscription):
    body = encode(envelope()).replace(b'"total_price": "19.90"', b'"total_price": NaN')
    if b"NaN" not in body:  # the envelope may not carry that key: put NaN in data directly
        body = body.replace(b'"data": {', b'"data": {"weird": NaN, ', 1)
    answer = deliver(subscription, body=body)
    assert answer.status_code == 400
    assert not Event.objects.exists()


def test_an_odd_content_length_is_not_a_500(client, subscription):
    body = encode(envelope())
    extra = {k: v for k, v in headers(body).items() if k != "content_type"}
    answer = client.post(
        url_of(subscription),
        data=body,
        content_type="application/json",
        CONTENT_LENGTH="²",
        **extra,
    )
    assert answer.status_code in (200, 400, 401)  # Django reads no body for it: unsigned


def test_it_asks_for_a_length_when_the_server_cannot_end_the_body(subscription):
    # Django's own server gives no end to a body sent without Content-Length: reading on
    # could wait forever, so the sender is told to send one (gunicorn: test_receiver_edges).
    body = encode(envelope())

    answer = Client().post(url_of(subscription), body, CONTENT_LENGTH="", **headers(body))

    assert answer.status_code == 411
    assert answer.json()["error"] == "length_required"
    assert not Event.objects.exists()


def test_a_value_the_database_cannot_hold_is_never_a_500(subscription):
    # PostgreSQL's jsonb refuses the NUL character (a 400, kept for inspection); SQLite stores
    # it. Either way the answer says what happened and nothing is half stored.
    body = encode(envelope(note="nul \u0000 here"))

    answer = deliver(subscription, body=body)

    assert answer.status_code in (200, 400)
    stored = Event.objects.filter(cartly_event_id="evt_01A").count()
    assert stored == (1 if answer.status_code == 200 else 0)
    if answer.status_code == 400:
        assert "cannot store" in answer.json()["message"]
