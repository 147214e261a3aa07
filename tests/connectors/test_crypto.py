"""Tokens at rest: encrypted, readable with any listed key, rotated to the newest."""

import pytest
from cryptography.fernet import Fernet
from django.contrib.auth.models import User
from django.core.management import call_command
from django.db import connection as db

from connectors import crypto
from connectors.models import Connection

OLD, NEW = Fernet.generate_key().decode(), Fernet.generate_key().decode()


@pytest.fixture
def keys(settings):
    def use(*keys):
        settings.FIELD_ENCRYPTION_KEYS = list(keys)
        crypto.fernet.cache_clear()

    yield use
    crypto.fernet.cache_clear()


def stored(pk: int) -> str:
    with db.cursor() as cursor:
        cursor.execute("SELECT access_token FROM connectors_connection WHERE id = %s", [pk])
        return cursor.fetchone()[0]


@pytest.mark.django_db
def test_it_rotates_tokens_to_the_newest_key(keys):
    keys(OLD)
    owner = User.objects.create_user("o")
    conn = Connection.objects.create(
        owner=owner,
        shop_id="shop_1",
        shop_name="S",
        shop_domain="s.mycartly.pro",
        access_token="secret-token",
    )
    assert "secret-token" not in stored(conn.pk)
    assert Fernet(OLD.encode()).decrypt(stored(conn.pk).encode()) == b"secret-token"

    keys(NEW, OLD)
    assert Connection.objects.get(pk=conn.pk).access_token == "secret-token"
    call_command("rotate_encryption_keys")

    keys(NEW)  # the old key is gone: the rotated value still opens
    assert Connection.objects.get(pk=conn.pk).access_token == "secret-token"


@pytest.mark.django_db
def test_a_value_no_key_opens_is_a_clear_error(keys):
    keys(OLD)
    owner = User.objects.create_user("o")
    conn = Connection.objects.create(
        owner=owner,
        shop_id="shop_1",
        shop_name="S",
        shop_domain="s.mycartly.pro",
        access_token="secret-token",
    )
    keys(NEW)
    with pytest.raises(crypto.DecryptionFailed):
        Connection.objects.get(pk=conn.pk)
