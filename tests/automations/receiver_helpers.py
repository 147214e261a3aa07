"""What the receiver's tests share: signed deliveries built here with hmac, as Cartly builds
them (cartly-api.md, "Deliveries"), a connected shop and its subscription.

Test modules bind the fixtures under their own names (`shop = receiver_helpers.shop`), so
pytest finds them there.
"""

import hashlib
import hmac
import json
from datetime import UTC, datetime

import pytest
from django.contrib.auth.models import User
from django.test import Client

from automations import receiver_targets
from automations.models import Subscription
from connectors.models import Connection

SECRET = "test-client-secret-for-signing"
SHOP_ID = "shop_01TESTSHOP"
SHOP_DOMAIN = "test.mycartly.pro"
WEBHOOK_ID = "wh_01TESTHOOK"
# Recent: a delivery older than HOOK_STALE_AFTER_SECONDS is kept as stale and not run.
NOW = datetime.now(UTC).replace(microsecond=0)
CREATED_AT = NOW.strftime("%Y-%m-%dT%H:%M:%SZ")


def sign(body: bytes, secret: str = SECRET) -> str:
    return "sha256=" + hmac.new(secret.encode(), body, hashlib.sha256).hexdigest()


def envelope(event_id: str = "evt_01A", event: str = "order.created", **data) -> dict:
    order = {"id": "ord_01A", "number": 1001, "updated_at": "2026-11-28T10:00:00Z", **data}
    return {
        "id": event_id,
        "event": event,
        "created_at": CREATED_AT,
        "shop_id": SHOP_ID,
        "data": order,
    }


def encode(document) -> bytes:
    return json.dumps(document).encode()


def headers(body: bytes, **overrides) -> dict:
    """Django test-client headers of a delivery Cartly would send; None drops one."""
    values = {
        "content_type": "application/json",
        "HTTP_X_CARTLY_HMAC_SHA256": sign(body),
        "HTTP_X_CARTLY_WEBHOOK_ID": WEBHOOK_ID,
        "HTTP_X_CARTLY_SHOP_DOMAIN": SHOP_DOMAIN,
    }
    values.update(overrides)
    return {key: value for key, value in values.items() if value is not None}


def http_headers(body: bytes, secret: str = SECRET) -> dict:
    """The same headers for a real HTTP client (requests)."""
    return {
        "Content-Type": "application/json",
        "X-Cartly-Hmac-Sha256": sign(body, secret),
        "X-Cartly-Webhook-Id": WEBHOOK_ID,
        "X-Cartly-Shop-Domain": SHOP_DOMAIN,
    }


@pytest.fixture(autouse=True)
def signing_secret(settings):
    settings.CARTLY_CLIENT_SECRET = SECRET
    settings.CARTLY_CLIENT_SECRET_PREVIOUS = ""


@pytest.fixture(autouse=True)
def fresh_lookups():
    """No test sees a subscription another test's deliveries left in the process's memory."""
    receiver_targets.forget_all()
    yield
    receiver_targets.forget_all()


@pytest.fixture
def shop(db) -> Connection:
    owner = User.objects.create_user("receiver-owner", password="receiver-pass-123")
    return Connection.objects.create(
        owner=owner, shop_id=SHOP_ID, shop_name="Test Shop", shop_domain=SHOP_DOMAIN
    )


@pytest.fixture
def subscription(shop) -> Subscription:
    return Subscription.objects.create(
        connection=shop,
        event_type="order.created",
        remote_id=WEBHOOK_ID,
        status=Subscription.Status.ACTIVE,
    )


def url_of(subscription: Subscription) -> str:
    return f"/hooks/cartly/{subscription.token}/"


def deliver(subscription, document=None, *, body: bytes | None = None, **header_overrides):
    body = encode(document or envelope()) if body is None else body
    return Client().post(url_of(subscription), body, **headers(body, **header_overrides))
