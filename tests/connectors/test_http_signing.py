"""The HTTP step's signing secret: one per merchant, encrypted at rest, shown whole only when it
is made, rotated from its page."""

import pytest
from django.db import connection as database

from connectors.http import signing
from connectors.http.models import SigningSecret

PAGE = "/connections/http/signing-secret/"
pytestmark = pytest.mark.django_db


def test_it_needs_a_login(client):
    response = client.get(PAGE)
    assert response.status_code == 302 and "/login" in response["Location"]


def test_it_says_there_is_no_secret_yet(client, merchant):
    client.force_login(merchant)
    page = client.get(PAGE).content.decode()
    assert "You have no signing secret yet" in page
    assert not SigningSecret.objects.exists()


def test_it_shows_a_new_secret_once_then_only_masked(client, merchant):
    client.force_login(merchant)
    made = client.post(PAGE)
    secret = signing.current_secret(merchant)
    assert secret.startswith("whsec_") and len(secret) > 40
    assert secret in made.content.decode() and "Copy it now" in made.content.decode()
    assert "no-store" in made["Cache-Control"]

    later = client.get(PAGE).content.decode()
    assert secret not in later
    assert signing.masked(secret) in later


def test_it_keeps_the_secret_encrypted_at_rest(merchant):
    secret = signing.rotate(merchant)
    with database.cursor() as cursor:
        cursor.execute("SELECT secret FROM connectors_signingsecret")
        [(stored,)] = cursor.fetchall()
    assert secret not in stored
    assert str(SigningSecret.objects.get()) == f"HTTP signing secret of {merchant}"


def test_rotating_replaces_the_secret(client, merchant, outsider):
    client.force_login(merchant)
    client.post(PAGE)
    first = signing.current_secret(merchant)
    signing.rotate(outsider)
    client.post(PAGE)
    assert signing.current_secret(merchant) != first
    assert SigningSecret.objects.count() == 2  # one each, never shared
    assert signing.http_client_for(merchant)._secret == signing.current_secret(merchant)


def test_it_masks_all_but_both_ends():
    assert signing.masked("whsec_abcdEFGHijklMNOP") == "whsec_abcd…MNOP"
