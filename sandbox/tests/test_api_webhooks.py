"""GET/POST /apps/api/webhooks and DELETE /apps/api/webhooks/:id: per (app, shop)."""

import datetime
import secrets

import pytest
from django.contrib.auth.models import User
from django.test import Client
from django.utils import timezone
from oauth2_provider.models import AccessToken, Application

from sandbox.models import Webhook

HOOK = {"url": "https://engine.example.com/hooks/cartly/abc/", "events": ["order.created"]}


def post(client, data):
    return client.post("/apps/api/webhooks", data=data, content_type="application/json")


@pytest.fixture
def rival_api(merchant, shop):
    """Another app, installed by the same merchant, in the same shop."""
    rival = Application.objects.create(
        name="Rival App",
        user=User.objects.create_user("rival-dev"),
        client_type=Application.CLIENT_CONFIDENTIAL,
        authorization_grant_type=Application.GRANT_AUTHORIZATION_CODE,
        redirect_uris="http://127.0.0.1:9998/callback/",
    )
    raw = secrets.token_urlsafe(24)
    AccessToken.objects.create(
        user=merchant,
        application=rival,
        token=raw,
        scope="webhooks",
        expires=timezone.now() + datetime.timedelta(hours=1),
    )
    return Client(HTTP_AUTHORIZATION=f"Bearer {raw}")


def test_it_subscribes_a_webhook(api, shop, app):
    response = post(api, {**HOOK, "events": ["order.created", "order.created", "cart.abandoned"]})
    assert response.status_code == 201
    hook = response.json()["webhook"]
    assert set(hook) == {"id", "url", "events", "created_at"}
    assert hook["id"].startswith("wh_")
    assert hook["events"] == ["order.created", "cart.abandoned"]
    stored = Webhook.objects.get(pk=hook["id"])
    assert (stored.shop_id, stored.application_id, stored.url) == (shop.id, app.id, HOOK["url"])


def test_it_lists_only_the_apps_own_webhooks(api, rival_api, shop):
    mine = post(api, HOOK).json()["webhook"]
    post(rival_api, HOOK)
    response = api.get("/apps/api/webhooks")
    assert response.status_code == 200
    assert response.json() == {"webhooks": [mine]}


@pytest.mark.parametrize(
    "url",
    [
        "",
        None,
        "/hooks/relative",
        "ftp://example.com/x",
        "https://",
        "http:///nohost",
        "https://exa mple.com/x",
        "http://example.com:port/x",
        "https://e.com/" + "x" * 1000,
    ],
)
def test_it_rejects_a_bad_url(api, shop, url):
    response = post(api, {**HOOK, "url": url})
    assert response.status_code == 422
    assert "url" in response.json()["fields"]
    assert not Webhook.objects.exists()


@pytest.mark.parametrize("events", [[], None, "order.created", ["order.exploded"], [1]])
def test_it_rejects_bad_events(api, shop, events):
    response = post(api, {**HOOK, "events": events})
    assert response.status_code == 422
    assert "events" in response.json()["fields"]
    assert not Webhook.objects.exists()


def test_it_deletes_a_webhook_once(api, shop):
    hook_id = post(api, HOOK).json()["webhook"]["id"]
    response = api.delete(f"/apps/api/webhooks/{hook_id}")
    assert response.status_code == 204
    assert response.content == b""
    assert not Webhook.objects.exists()
    again = api.delete(f"/apps/api/webhooks/{hook_id}")
    assert again.status_code == 404
    assert again.json()["error"] == "not_found"


def test_it_does_not_delete_another_apps_webhook(api, rival_api, shop):
    theirs = post(rival_api, HOOK).json()["webhook"]["id"]
    assert api.delete(f"/apps/api/webhooks/{theirs}").status_code == 404
    assert Webhook.objects.filter(pk=theirs).exists()
