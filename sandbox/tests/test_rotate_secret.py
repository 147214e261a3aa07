"""`sandbox_rotate_secret`: a new client secret for the engine's app, and deliveries signed
with it from then on, retries of earlier events included (cartly-api.md, "Signing secret")."""

import hashlib
import hmac
import json
from io import StringIO

import pytest
from django.core.management import CommandError, call_command
from oauth2_provider.models import Application

from sandbox import delivery
from sandbox.models import Shop, Webhook
from sandbox.seed import APP_NAME, seed
from sandbox.tests import test_delivery as deliveries

# The delivery tests' loopback receiver and fast retry schedule, bound here for pytest.
receiver = deliveries.receiver
fast_schedule = deliveries.fast_schedule

NEW_SECRET = "rotated-client-secret-" + "y" * 20


def rotate(*args: str) -> str:
    out = StringIO()
    call_command("sandbox_rotate_secret", *args, stdout=out)
    return out.getvalue()


def signed_with(secret: str, request: dict) -> bool:
    expected = hmac.new(secret.encode(), request["body"], hashlib.sha256).hexdigest()
    return hmac.compare_digest(request["headers"]["X-Cartly-Hmac-Sha256"], f"sha256={expected}")


def test_it_gives_the_engines_app_a_new_secret(db):
    before = seed()

    printed = json.loads(rotate("--secret", NEW_SECRET, "--json"))

    assert printed == {
        "client_id": before.client_id,
        "client_secret": NEW_SECRET,
        "previous_secret": before.client_secret,
    }
    assert Application.objects.get(name=APP_NAME).client_secret == NEW_SECRET
    assert seed().client_secret == NEW_SECRET  # seeding again keeps the rotated secret


def test_it_makes_a_random_secret_and_prints_it_only_with_json(db):
    before = seed()

    said = rotate()

    after = Application.objects.get(name=APP_NAME).client_secret
    assert after != before.client_secret and len(after) >= 40
    assert after not in said and before.client_secret not in said


def test_it_refuses_without_the_engines_app(db):
    with pytest.raises(CommandError, match="sandbox_seed"):
        rotate()


def test_a_retry_after_the_rotation_is_signed_with_the_new_secret(db, receiver, settings):
    settings.SANDBOX_DELIVERY_RETRY_SECONDS = [0]
    old = seed()
    app = Application.objects.get(name=APP_NAME)
    hook_receiver = receiver(500, 200)  # the first attempt fails, the retry succeeds
    shop = Shop.objects.get(domain=old.shop_domain)
    Webhook.objects.create(
        shop=shop, application=app, url=hook_receiver.url, events=["customer.created"]
    )
    deliveries.register(shop, "rotate@example.com")

    assert delivery.deliver_due() == 1  # signed with the old secret, answered 500
    rotate("--secret", NEW_SECRET)
    deliveries.drain()

    first, retry = hook_receiver.requests
    assert first["body"] == retry["body"]
    assert signed_with(old.client_secret, first)
    assert signed_with(NEW_SECRET, retry)
