"""Fixtures for the sandbox's own tests (run with --ds=sandbox.settings)."""

import datetime
import secrets
from decimal import Decimal

import pytest
from django.conf import settings as django_settings
from django.contrib.auth.models import User
from django.test import Client
from django.utils import timezone
from oauth2_provider.models import AccessToken, Application

from sandbox import shop as shop_actions
from sandbox.models import Shop

ALL_SCOPES = (
    "read_shop read_customers write_customers read_orders write_orders read_products "
    "write_inventory write_discounts webhooks"
)
CLIENT_SECRET = "test-client-secret-" + "x" * 20


@pytest.fixture(scope="session")
def django_db_modify_db_settings(django_db_modify_db_settings_parallel_suffix, tmp_path_factory):
    """SQLite tests on a file (WAL, busy timeout), as the sandbox runs, not shared-cache memory.

    In shared-cache memory two threads that write get "database table is locked" at once,
    which the threaded delivery tests would trip over; a file waits for the lock instead.
    """
    db = django_settings.DATABASES["default"]
    if db["ENGINE"] == "django.db.backends.sqlite3":
        path = tmp_path_factory.mktemp("sandbox-db") / "test.sqlite3"
        db.setdefault("TEST", {})["NAME"] = str(path)


@pytest.fixture(autouse=True)
def fast_password_hashing(settings):
    """Django's default PBKDF2 costs ~0.2 s per test user; tests need no strong hashes."""
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]


@pytest.fixture
def merchant(db) -> User:
    return User.objects.create_user("merchant", password="merchant-pass-123")


@pytest.fixture
def shop(merchant) -> Shop:
    return Shop.objects.create(owner=merchant, name="Test Shop", domain="test.mycartly.pro")


@pytest.fixture
def product(shop):
    return shop_actions.create_product(
        shop,
        {"title": "Fake Mug", "vendor": "Acme Test"},
        [{"sku": "MUG-1", "title": "Default", "price": "12.50", "available": 10}],
    )


@pytest.fixture
def variant(product):
    return product.variants.get()


@pytest.fixture
def app(merchant) -> Application:
    developer = User.objects.create_user("developer")
    return Application.objects.create(
        name="Test Automations",
        user=developer,
        client_type=Application.CLIENT_CONFIDENTIAL,
        authorization_grant_type=Application.GRANT_AUTHORIZATION_CODE,
        redirect_uris="http://127.0.0.1:9999/callback/",
        client_secret=CLIENT_SECRET,
        hash_client_secret=False,
    )


@pytest.fixture
def make_token(app, merchant):
    """An access token for the merchant's shop with the given scopes (all by default)."""

    def make(scope: str = ALL_SCOPES, user: User | None = None) -> str:
        raw = secrets.token_urlsafe(24)
        AccessToken.objects.create(
            user=user or merchant,
            application=app,
            token=raw,
            scope=scope,
            expires=timezone.now() + datetime.timedelta(hours=1),
        )
        return raw

    return make


@pytest.fixture
def api(make_token, shop):
    """A Django test client that sends a bearer token with every call."""
    token = make_token()
    return Client(HTTP_AUTHORIZATION=f"Bearer {token}")


@pytest.fixture
def money():
    return Decimal


@pytest.fixture
def other_shop(db) -> Shop:
    """Another merchant's shop: nothing of it may be visible through `api`."""
    outsider = User.objects.create_user("outsider", password="outsider-pass-123")
    return Shop.objects.create(owner=outsider, name="Other Shop", domain="other.mycartly.pro")
