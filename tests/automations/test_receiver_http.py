"""The REST Hook receiver over real HTTP, with real commits: the database or the broker
unavailable, parallel copies of one delivery, and the sandbox's own signed deliveries,
through a rotation of the client secret (issue 10)."""

import json
import threading

import pytest
import requests
from django.db import connection as db_connection

from automations.models import Event, Recipe, Subscription
from automations.subscriptions import enable_recipe
from connectors.cartly import CartlyClient, iter_pages
from tests.automations import receiver_helpers as hooks
from tests.automations.conftest import wait_for
from tests.automations.receiver_helpers import (
    deliver,
    encode,
    envelope,
    http_headers,
    sign,
    url_of,
)

signing_secret = hooks.signing_secret
fresh_lookups = hooks.fresh_lookups
shop = hooks.shop
subscription = hooks.subscription

PARALLEL_COPIES = 8
NEW_SECRET = "rotated-client-secret-for-the-receiver-tests"


@pytest.mark.django_db(transaction=True)
def test_it_answers_503_when_the_database_is_down(subscription):
    settings_dict = db_connection.settings_dict
    saved = dict(settings_dict)
    if db_connection.vendor == "sqlite":
        settings_dict["NAME"] = "/nonexistent-directory/engine.sqlite3"
    else:
        settings_dict.update(HOST="127.0.0.1", PORT="1")  # nothing listens on port 1
    db_connection.close()
    try:
        answer = deliver(subscription)
    finally:
        settings_dict.clear()
        settings_dict.update(saved)
        db_connection.close()

    assert answer.status_code == 503
    assert answer.json()["error"] == "unavailable"
    assert int(answer["Retry-After"]) > 0
    assert Event.objects.count() == 0
    assert deliver(subscription).status_code == 200  # Cartly's retry, once we are back


def _drop_broker_pools(app) -> None:
    # Celery keeps its broker connections and producers in pools made on first use from
    # the configuration; dropping them makes the next publish use the configuration as set.
    app._pool = None
    app.amqp._producer_pool = None


@pytest.fixture
def broker_down():
    """Point the Celery app at a broker nobody runs, and back again afterwards."""
    from config.celery import app

    saved = (app.conf.broker_url, app.conf.broker_transport_options)
    app.conf.broker_url = "redis://127.0.0.1:1/0"  # nothing listens on port 1
    # As config/settings.py configures Redis: one attempt, no sleeping retry loop.
    app.conf.broker_transport_options = {"socket_connect_timeout": 1.0, "max_retries": 0}
    _drop_broker_pools(app)
    yield
    app.conf.broker_url, app.conf.broker_transport_options = saved
    _drop_broker_pools(app)


@pytest.mark.django_db(transaction=True)
def test_it_stores_and_answers_200_when_the_broker_is_down(subscription, broker_down):
    answer = deliver(subscription)

    assert answer.status_code == 200
    event = Event.objects.get()
    # Stored and left for the sweep: nothing is lost between the 200 and the run.
    assert event.status == Event.Status.RECEIVED
    assert event.dispatched_at is None


@pytest.mark.django_db(transaction=True)
def test_it_keeps_one_event_for_parallel_copies_of_a_delivery(subscription, live_server):
    body = encode(envelope())
    url = live_server.url + url_of(subscription)
    start = threading.Barrier(PARALLEL_COPIES)
    answers: list[int] = []

    def post_copy() -> None:
        start.wait()
        answers.append(
            requests.post(url, data=body, headers=http_headers(body), timeout=60).status_code
        )

    threads = [threading.Thread(target=post_copy) for _ in range(PARALLEL_COPIES)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()

    assert answers == [200] * PARALLEL_COPIES
    assert Event.objects.filter(status=Event.Status.RECEIVED).count() == 1
    assert Event.objects.count() == 1


def _new_orders_recipe(connection) -> Recipe:
    recipe = Recipe.objects.create(
        owner=connection.owner,
        connection=connection,
        name="New orders",
        trigger="cartly.order_created",
        event_type="order.created",
    )
    return enable_recipe(recipe)


def _delivered_order(sandbox) -> Event:
    [happened] = sandbox.sandbox_event("order.created")
    order_id = happened["ids"]["order_id"]
    return wait_for(lambda: Event.objects.filter(object_id=order_id).first(), "the delivery")


@pytest.mark.django_db(transaction=True)
def test_it_stores_an_order_the_sandbox_delivers(sandbox, connection, public_server):
    _new_orders_recipe(connection)

    event = _delivered_order(sandbox)

    order_id = event.object_id
    subscription = Subscription.objects.get(connection=connection, event_type="order.created")
    client = CartlyClient(connection.access_token)
    order = next(o for o in iter_pages(client.list_orders) if o["id"] == order_id)
    assert event.subscription == subscription
    assert event.status == Event.Status.RECEIVED
    assert event.cartly_event_id.startswith("evt_")
    assert event.dedupe_key == f"order.created|{order_id}"
    for key in ("id", "number", "email", "total_price", "currency", "line_items", "created_at"):
        assert event.payload[key] == order[key], key
    assert json.loads(event.raw_body)["data"] == event.payload


@pytest.mark.django_db(transaction=True)
def test_it_takes_both_secrets_while_the_client_secret_is_rotated(
    sandbox, connection, public_server, settings, client
):
    old_secret = sandbox.seed["oauth"]["client_secret"]
    _new_orders_recipe(connection)
    # The operator's first step: the new secret configured, the old one still accepted.
    settings.CARTLY_CLIENT_SECRET = NEW_SECRET
    settings.CARTLY_CLIENT_SECRET_PREVIOUS = old_secret

    before = _delivered_order(sandbox)  # Cartly still signs with the old secret
    sandbox.manage("sandbox_rotate_secret", "--secret", NEW_SECRET)
    try:
        after = _delivered_order(sandbox)  # and now with the new one
    finally:
        sandbox.manage("sandbox_rotate_secret", "--secret", old_secret)

    assert (before.status, after.status) == (Event.Status.RECEIVED, Event.Status.RECEIVED)
    # The rotation over, the old secret signs nothing we accept.
    settings.CARTLY_CLIENT_SECRET_PREVIOUS = ""
    body = before.raw_body.encode().replace(before.cartly_event_id.encode(), b"evt_LATE")
    hook = Subscription.objects.get(connection=connection, event_type="order.created")
    late = client.post(
        f"/hooks/cartly/{hook.token}/",
        body,
        content_type="application/json",
        HTTP_X_CARTLY_HMAC_SHA256=sign(body, old_secret),
        HTTP_X_CARTLY_WEBHOOK_ID=hook.remote_id,
        HTTP_X_CARTLY_SHOP_DOMAIN=connection.shop_domain,
    )
    assert late.status_code == 401
    assert not Event.objects.filter(cartly_event_id="evt_LATE").exists()
