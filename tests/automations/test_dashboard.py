"""The dashboard and the connection page: health, recipes, the runs chart, failures, no secrets."""

import re
from datetime import timedelta

import pytest
from django.utils import timezone

from automations import history
from automations.models import Run, Subscription
from automations.views_connections import repair_model
from connectors.models import Connection
from notifications.models import ConfirmedAddress
from tests.personas import (
    ACCESS_TOKEN,
    REFRESH_TOKEN,
    add_failed_steps,
    make_recipe,
    make_run,
    make_shop,
    make_user,
    order,
)

pytestmark = pytest.mark.django_db


def days_ago(n: int, hour: int = 12):
    return timezone.now().replace(hour=hour, minute=0, second=0, microsecond=0) - timedelta(days=n)


# --- dashboard -----------------------------------------------------------------------------


def test_it_requires_login(client):
    response = client.get("/")
    assert response.status_code == 302 and "/login/" in response["Location"]


def test_it_shows_each_shops_health(browser, merchant, shop):
    broken = make_shop(
        merchant,
        shop_id="shop_2",
        shop_name="Second Shop",
        status=Connection.Status.NEEDS_RECONNECT,
        status_reason="Cartly no longer accepts our access.",
        last_error="401 Unauthorized at refresh",
        last_error_at=timezone.now(),
    )
    body = browser.get("/").content.decode()
    assert "Merchant Tees" in body and f'href="/connections/{shop.pk}/"' in body
    assert "Needs reconnecting" in body and "Cartly no longer accepts our access." in body
    assert "401 Unauthorized at refresh" in body and f'href="/connections/{broken.pk}/"' in body


def test_it_shows_recipes_on_or_off_with_the_builders_toggle(browser, merchant, shop, recipe):
    paused = make_recipe(merchant, shop, "Paused one")
    paused.enabled, paused.paused_reason = True, "The shop needs reconnecting."
    paused.save()
    body = browser.get("/").content.decode()
    assert f'action="/recipes/{recipe.pk}/toggle/"' in body
    # A switch that says what a click does, and the state beside it said once.
    assert 'role="switch" aria-checked="false"' in body
    assert 'aria-label="Turn on Thank buyers"' in body
    assert '<span class="onoff paused">Paused</span>' in body
    assert "The shop needs reconnecting." in body
    assert 'aria-label="Turn off Paused one"' in body


def test_it_charts_runs_per_day_by_status(browser, recipe, outsider):
    make_run(recipe, order(1), Run.Status.SUCCEEDED, days_ago(0))
    make_run(recipe, order(2), Run.Status.SUCCEEDED, days_ago(0))
    make_run(recipe, order(3), Run.Status.FAILED, days_ago(0))
    make_run(recipe, order(4), Run.Status.FILTERED, days_ago(3))
    make_run(recipe, order(5), Run.Status.QUEUED, days_ago(13))
    make_run(recipe, order(6), Run.Status.FAILED, days_ago(14))  # outside the two weeks
    make_run(make_recipe(outsider, make_shop(outsider)), order(7), Run.Status.FAILED, days_ago(0))

    days = history.runs_per_day(recipe.owner)
    assert len(days) == 14 and days[-1]["day"] == timezone.localdate()
    assert days[-1]["counts"] == {
        "succeeded": 2,
        "failed": 1,
        "halted": 0,
        "filtered": 0,
        "canceled": 0,
        "in_progress": 0,
    }
    assert days[-4]["counts"]["filtered"] == 1
    assert days[0]["counts"]["in_progress"] == 1
    assert sum(d["total"] for d in days) == 5

    body = browser.get("/").content.decode()
    assert 'class="chart" role="img"' in body and 'id="chart-desc"' in body
    assert "5 runs in all." in body
    today = timezone.localdate().isoformat()
    assert re.search(rf'data-day="{today}" data-total="3"', body)
    assert body.count('class="segment succeeded"') == 1
    assert body.count('class="segment failed"') == 1
    assert 'class="segment in_progress"' in body
    for label in ("Succeeded", "Failed", "Halted", "Filtered", "In progress"):
        assert f"></i>{label}</li>" in body  # the legend
    # Dates on the axis, one per day.
    first = days[0]["day"]
    assert f'<span class="long">{first:%b} {first.day}</span>' in body


def test_it_charts_waiting_runs_as_in_progress_and_canceled_ones_apart(browser, recipe):
    make_run(recipe, order(1), Run.Status.WAITING, days_ago(0))
    make_run(recipe, order(2), Run.Status.CANCELED, days_ago(0))
    counts = history.runs_per_day(recipe.owner)[-1]["counts"]
    assert (counts["in_progress"], counts["canceled"]) == (1, 1)
    assert browser.get("/").status_code == 200


def test_it_links_recent_failures(browser, recipe):
    failed = make_run(
        recipe, order(1001), Run.Status.FAILED, reason="Cartly said the code is already taken."
    )
    make_run(recipe, order(1002), Run.Status.SUCCEEDED)
    body = browser.get("/").content.decode()
    assert f'href="/runs/{failed.pk}/"' in body
    assert "Cartly said the code is already taken." in body
    assert 'href="/runs/?status=failed"' in body


def test_it_offers_a_test_notification_or_asks_for_an_email(client, browser, merchant):
    unconfirmed = browser.get("/").content.decode()
    assert 'id="resend-confirmation"' in unconfirmed
    assert 'id="send-test-notification"' not in unconfirmed
    ConfirmedAddress.objects.create(user=merchant, email=merchant.email)
    assert 'id="send-test-notification"' in browser.get("/").content.decode()
    client.force_login(make_user("nomail"))
    body = client.get("/").content.decode()
    assert "Notifications need an email address" in body
    assert 'id="send-test-notification"' not in body


def test_it_renders_with_the_same_queries_for_few_or_many_rows(
    browser, merchant, shop, recipe, django_assert_num_queries
):
    make_run(recipe, order(1), Run.Status.FAILED, days_ago(1))
    # session, user, connections, open circuits, recipes (with their shop), chart, failures,
    # runs waiting for Cartly, confirmed email
    with django_assert_num_queries(9):
        browser.get("/")
    for n in range(5):
        other = make_recipe(merchant, make_shop(merchant, shop_id=f"s{n}"), f"Recipe {n}")
        for day in range(3):
            make_run(other, order(100 + n * 10 + day), Run.Status.FAILED, days_ago(day))
    with django_assert_num_queries(9):
        browser.get("/")


# --- connection page -----------------------------------------------------------------------


def test_it_shows_a_connections_subscriptions(browser, shop, recipe):
    delivered = timezone.now() - timedelta(minutes=5)
    Subscription.objects.create(
        connection=shop,
        event_type="order.created",
        status=Subscription.Status.ACTIVE,
        remote_id="wh_1",
        last_delivery_at=delivered,
    )
    Subscription.objects.create(
        connection=shop,
        event_type="order.fulfilled",
        status=Subscription.Status.FAILED,
        status_reason="Cartly answered 503; trying again soon.",
    )
    Subscription.objects.create(
        connection=shop, event_type="order.canceled", status=Subscription.Status.DELETED
    )
    body = browser.get(f"/connections/{shop.pk}/").content.decode()
    assert 'data-event-type="order.created" data-status="active"' in body
    assert delivered.strftime("%Y-%m-%d %H:%M") in body
    assert 'data-event-type="order.fulfilled" data-status="failed"' in body
    assert "Cartly answered 503; trying again soon." in body
    assert 'data-event-type="order.canceled"' not in body and "1 removed hook" in body
    assert "read_orders" in body and "Thank buyers" in body
    assert f'action="/connections/{shop.pk}/disconnect/"' in body


def test_it_shows_repairs_once_the_model_exists(browser, shop):
    model = repair_model()
    if model is None:
        body = browser.get(f"/connections/{shop.pk}/").content.decode()
        assert 'id="connection-repairs"' not in body
        pytest.skip("SubscriptionRepair is not in this checkout yet")
    action = model._meta.get_field("action").choices[0]
    model.objects.create(
        connection=shop,
        event_type="order.created",
        action=action[0],
        detail="The hook had vanished at Cartly.",
    )
    body = browser.get(f"/connections/{shop.pk}/").content.decode()
    assert 'class="repair-row"' in body and action[1] in body
    assert "The hook had vanished at Cartly." in body


def test_it_offers_reconnect_for_a_shop_that_needs_it(browser, merchant):
    broken = make_shop(
        merchant,
        status=Connection.Status.NEEDS_RECONNECT,
        status_reason="The app was uninstalled at Cartly.",
    )
    body = browser.get(f"/connections/{broken.pk}/").content.decode()
    assert 'id="reconnect-button"' in body and "The app was uninstalled at Cartly." in body


def test_it_hides_another_users_connection(client, shop, outsider):
    client.force_login(outsider)
    assert client.get(f"/connections/{shop.pk}/").status_code == 404


# --- secrets -------------------------------------------------------------------------------


def test_no_page_ever_shows_a_token(browser, shop, recipe):
    run = make_run(
        recipe,
        order(1001, email="ana@example.com"),
        Run.Status.FAILED,
        reason="Cartly refused the discount.",
    )
    add_failed_steps(run)
    Subscription.objects.create(
        connection=shop, event_type="order.created", status=Subscription.Status.ACTIVE
    )
    pages = [
        "/",
        "/runs/",
        "/runs/?q=1001",
        f"/runs/{run.pk}/",
        f"/connections/{shop.pk}/",
        "/connections/",
    ]
    for url in pages:
        response = browser.get(url)
        assert response.status_code == 200, url
        body = response.content.decode()
        assert ACCESS_TOKEN not in body and REFRESH_TOKEN not in body, url
        assert "KNOWN" not in body, url  # not even a fragment
