"""Connecting a Cartly shop end to end: our pages, the sandbox's real consent page, tokens."""

import threading
from datetime import timedelta
from urllib.parse import urlsplit

import pytest
import requests
from django.contrib.auth.models import User
from django.db import connection as db
from django.test import Client
from django.utils import timezone

from connectors import connections, tokens
from connectors.cartly import oauth
from connectors.cartly.client import CartlyClient
from connectors.errors import NotFound
from connectors.models import Connection
from tests.sandbox_server import DENY_WORDS, _approve_button, parse_forms, post_form

CALLBACK = "http://testserver/connections/cartly/callback/"


@pytest.fixture
def engine(cartly_settings, db):
    cartly_settings.PUBLIC_BASE_URL = "http://testserver"
    user = User.objects.create_user("owner", password="owner-pass-123")
    client = Client()
    client.force_login(user)
    return client


def start_connect(engine: Client) -> str:
    answer = engine.get("/connections/cartly/connect/")
    assert answer.status_code == 302
    return answer["Location"]


def consent(sandbox, authorize_url: str, approve: bool = True) -> str:
    """Act as the merchant on Cartly's consent page; returns our callback path and query."""
    browser = sandbox.merchant_session()
    page = browser.get(authorize_url, timeout=30)
    assert page.status_code == 200, page.text[:500]
    if approve:
        form, button = _approve_button(page)
    else:
        form, button = next(
            (f, (name, value))
            for f in parse_forms(page.text)
            for name, value, text in f.buttons
            if any(w in f"{name} {value} {text}".lower() for w in DENY_WORDS)
        )
    answer = post_form(browser, page, form, form.fields + ([button] if button[0] else []))
    location = answer.headers["Location"]
    assert location.startswith(CALLBACK), location
    parts = urlsplit(location)
    return f"{parts.path}?{parts.query}"


def connect_shop(engine, sandbox) -> Connection:
    callback = consent(sandbox, start_connect(engine))
    page = engine.get(callback, follow=True)
    assert b"Connected Demo Shop" in page.content
    return Connection.objects.get()


def test_it_connects_a_shop_through_the_consent_page(engine, sandbox):
    authorize_url = start_connect(engine)
    assert authorize_url.startswith(sandbox.base_url + "/oauth/authorize/")
    assert "code_challenge_method=S256" in authorize_url

    connection = connect_shop(engine, sandbox)

    assert connection.shop_id == sandbox.seed["shop"]["id"]
    assert connection.shop_domain == "demo.mycartly.pro"
    assert connection.status == Connection.Status.ACTIVE
    assert "write_discounts" in connection.scope_list
    assert connection.token_expires_at > timezone.now()
    assert CartlyClient(connection.access_token).me()["shop"]["id"] == connection.shop_id


def test_it_stores_tokens_encrypted_and_never_shows_them(engine, sandbox):
    connection = connect_shop(engine, sandbox)
    with db.cursor() as cursor:
        cursor.execute("SELECT access_token, refresh_token FROM connectors_connection")
        stored_access, stored_refresh = cursor.fetchone()
    assert connection.access_token not in stored_access
    assert connection.refresh_token not in stored_refresh
    page = engine.get("/connections/").content.decode()
    assert "Demo Shop" in page
    assert connection.access_token not in page and connection.refresh_token not in page


def test_it_updates_the_same_connection_when_connecting_again(engine, sandbox):
    first = connect_shop(engine, sandbox)
    engine.get(consent(sandbox, start_connect(engine)))
    assert Connection.objects.count() == 1
    again = Connection.objects.get()
    assert again.pk == first.pk and again.access_token != first.access_token


def test_it_explains_a_denied_consent(engine, sandbox):
    callback = consent(sandbox, start_connect(engine), approve=False)
    page = engine.get(callback, follow=True)
    assert b"You declined the connection" in page.content
    assert not Connection.objects.exists()


def test_it_ignores_a_forged_state(engine, sandbox):
    callback = consent(sandbox, start_connect(engine))
    forged = callback.replace("state=", "state=forged")
    page = engine.get(forged, follow=True)
    assert page.status_code == 200
    assert b"did not match" in page.content
    assert not Connection.objects.exists()


def test_it_refuses_a_callback_nobody_started(engine):
    page = engine.get("/connections/cartly/callback/?code=x&state=y", follow=True)
    assert b"has expired" in page.content


def test_it_refuses_a_reused_code(engine, sandbox):
    start = oauth.start_authorization(CALLBACK)
    code = consent(sandbox, start.url).split("code=")[1].split("&")[0]
    assert oauth.exchange_code(code, CALLBACK, start.code_verifier)["access_token"]
    with pytest.raises(oauth.OAuthRefused):
        oauth.exchange_code(code, CALLBACK, start.code_verifier)


def test_it_refreshes_shortly_before_expiry(engine, sandbox):
    connection = connect_shop(engine, sandbox)
    old_access, old_refresh = connection.access_token, connection.refresh_token
    Connection.objects.filter(pk=connection.pk).update(
        token_expires_at=timezone.now() + timedelta(seconds=30)
    )
    connection.refresh_from_db()

    token = tokens.fresh_access_token(connection)

    assert token != old_access and connection.refresh_token != old_refresh
    assert CartlyClient(token).me()["shop"]["domain"] == "demo.mycartly.pro"
    with pytest.raises(oauth.OAuthRefused):
        oauth.refresh(old_refresh)  # rotated: the spent refresh token is dead


def test_it_refreshes_once_on_a_401(engine, sandbox):
    connection = connect_shop(engine, sandbox)
    connection.access_token = "no-longer-valid-at-cartly"  # Cartly answers 401 to it
    connection.save()

    shop = tokens.call(connection, lambda client: client.me()["shop"])

    assert shop["id"] == connection.shop_id
    connection.refresh_from_db()
    assert connection.status == Connection.Status.ACTIVE


@pytest.mark.django_db(transaction=True)
def test_two_workers_refreshing_at_once_spend_the_refresh_token_once(cartly_settings, sandbox):
    owner = User.objects.create_user("racer")
    connection = connections.connect(owner, sandbox.authorize(" ".join(oauth.CARTLY_SCOPES)))
    Connection.objects.filter(pk=connection.pk).update(token_expires_at=timezone.now())
    seen = Connection.objects.get(pk=connection.pk).access_token
    results, barrier = [], threading.Barrier(2)

    def worker():
        mine = Connection.objects.get(pk=connection.pk)
        barrier.wait()
        try:
            tokens.refresh_connection(mine, seen_access_token=seen)
            results.append(mine.access_token)
        finally:
            db.close()

    threads = [threading.Thread(target=worker) for _ in range(2)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=60)

    connection.refresh_from_db()
    assert connection.status == Connection.Status.ACTIVE
    assert len(results) == 2 and results[0] == results[1] == connection.access_token
    assert CartlyClient(connection.access_token).me()["shop"]["id"] == connection.shop_id


def test_a_refused_refresh_marks_the_connection_and_says_why(engine, sandbox):
    connection = connect_shop(engine, sandbox)
    oauth.revoke(connection.refresh_token, "refresh_token")
    oauth.revoke(connection.access_token)

    with pytest.raises(tokens.ReconnectNeeded):
        tokens.call(connection, lambda client: client.me())

    connection.refresh_from_db()
    assert connection.status == Connection.Status.NEEDS_RECONNECT
    assert "Reconnect" in connection.status_reason
    page = engine.get("/connections/").content.decode()
    assert "Needs reconnecting" in page and "Reconnect the shop" in page


def test_disconnect_removes_our_hooks_revokes_and_keeps_the_row(engine, sandbox, settings):
    connection = connect_shop(engine, sandbox)
    client = CartlyClient(connection.access_token)
    ours = client.create_webhook(connections.our_hook_prefix() + "tok/", ["order.created"])
    theirs = client.create_webhook("https://elsewhere.example/hook", ["order.created"])
    access = connection.access_token

    page = engine.post(f"/connections/{connection.pk}/disconnect/", follow=True)

    assert b"Disconnected Demo Shop" in page.content
    connection.refresh_from_db()
    assert connection.status == Connection.Status.DISCONNECTED
    assert connection.access_token == "" and connection.refresh_token == ""
    other = CartlyClient(sandbox.authorize("webhooks")["access_token"])
    remaining = {hook["id"] for hook in other.list_webhooks()}
    assert ours["id"] not in remaining or theirs["id"] in remaining
    answer = requests.get(
        f"{sandbox.base_url}/apps/api/me",
        headers={"Authorization": f"Bearer {access}"},
        timeout=10,
    )
    assert answer.status_code == 401


def test_another_users_connection_is_404(engine, sandbox):
    connection = connect_shop(engine, sandbox)
    stranger = Client()
    stranger.force_login(User.objects.create_user("stranger"))
    assert stranger.post(f"/connections/{connection.pk}/disconnect/").status_code == 404
    connection.refresh_from_db()
    assert connection.status == Connection.Status.ACTIVE


def test_pages_need_a_login(db):
    answer = Client().get("/connections/")
    assert answer.status_code == 302 and "/login/" in answer["Location"]


def test_not_found_is_a_connector_error_class():
    assert NotFound("x").permanent
