"""Disconnecting a shop keeps track of the recipes it switched off, and reconnecting the same
shop gives exactly those back; a recipe of a disconnected shop cannot be turned on. Against the
sandbox shop, through the real OAuth flow and the real REST Hook calls."""

import uuid

import pytest
from django.test import Client

from automations import disconnects
from automations.documents import create_recipe
from automations.models import Recipe, Subscription
from automations.subscriptions import DISCONNECTED_PAUSE, CannotEnable, enable_recipe
from connectors import connections
from connectors.cartly.constants import CARTLY_SCOPES

pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def own_hook_prefix(cartly_settings):
    """Hooks under a prefix of this test's own (see test_subscriptions.py)."""
    cartly_settings.PUBLIC_BASE_URL = f"http://127.0.0.1:9/d-{uuid.uuid4().hex[:12]}"


def doc(name: str) -> dict:
    return {
        "format": "cartly-automations/recipe@1",
        "name": name,
        "trigger": "cartly.order_created",
        "steps": [
            {
                "key": "discount",
                "operation": "cartly.create_discount",
                "fields": {"code": "T-{{ trigger.number }}", "value": "10"},
            }
        ],
    }


@pytest.fixture
def recipes(owner, connection) -> tuple[Recipe, Recipe]:
    on, off = (
        create_recipe(owner, connection, doc("On")),
        create_recipe(owner, connection, doc("Off")),
    )
    enable_recipe(on)
    return on, off


def reconnect(owner, sandbox):
    return connections.connect(owner, sandbox.authorize(" ".join(CARTLY_SCOPES)))


def test_it_lists_what_a_disconnect_would_stop_and_marks_what_it_stopped(connection, recipes):
    on, off = recipes
    assert disconnects.recipes_a_disconnect_would_stop(connection) == [on]
    stopped, problems = disconnects.disconnect(connection)
    assert (stopped, problems) == ([on], [])
    on.refresh_from_db()
    off.refresh_from_db()
    assert (on.enabled, on.off_by_disconnect, on.paused_reason) == (False, True, DISCONNECTED_PAUSE)
    assert (off.off_by_disconnect, off.paused_reason) == (False, "")
    assert disconnects.recipes_to_offer_back(connection) == []  # nothing to offer until back


def test_it_refuses_to_turn_on_a_recipe_of_a_disconnected_shop(connection, recipes):
    on, off = recipes
    disconnects.disconnect(connection)
    with pytest.raises(CannotEnable, match="shop is disconnected"):
        enable_recipe(off)
    off.refresh_from_db()
    assert not off.enabled and off.paused_reason == ""


def test_reconnecting_offers_exactly_those_back_and_turns_them_on(
    owner, sandbox, connection, recipes
):
    on, off = recipes
    disconnects.disconnect(connection)
    again = reconnect(owner, sandbox)
    assert again.pk == connection.pk and again.is_active
    assert disconnects.recipes_to_offer_back(again) == [on]
    outcome = disconnects.turn_back_on(again)
    assert (outcome.recipes, outcome.refused) == ([on], [])
    on.refresh_from_db()
    off.refresh_from_db()
    assert (on.enabled, on.off_by_disconnect, on.paused_reason) == (True, False, "")
    assert not off.enabled
    assert Subscription.objects.get(connection=connection, status="active").event_type == (
        "order.created"
    )
    assert disconnects.recipes_to_offer_back(again) == []


def test_leaving_them_off_forgets_the_offer_and_the_stale_reason(
    owner, sandbox, connection, recipes
):
    on, _ = recipes
    disconnects.disconnect(connection)
    again = reconnect(owner, sandbox)
    assert disconnects.leave_off(again) == 1
    on.refresh_from_db()
    assert (on.enabled, on.off_by_disconnect, on.paused_reason) == (False, False, "")


def test_turning_one_on_by_hand_takes_it_off_the_offer(owner, sandbox, connection, recipes):
    on, _ = recipes
    disconnects.disconnect(connection)
    again = reconnect(owner, sandbox)
    enable_recipe(on)
    assert disconnects.recipes_to_offer_back(again) == []


def test_the_pages_confirm_first_and_offer_after(owner, sandbox, connection, recipes):
    on, _ = recipes
    browser = Client()
    browser.force_login(owner)
    confirm = browser.get(f"/connections/{connection.pk}/disconnect/").content.decode()
    assert 'id="disconnect-recipes"' in confirm and "<li>On</li>" in confirm
    connection.refresh_from_db()
    assert connection.is_active  # asking changed nothing
    browser.post(f"/connections/{connection.pk}/disconnect/")
    reconnect(owner, sandbox)
    page = browser.get(f"/connections/{connection.pk}/").content.decode()
    assert 'id="recipes-offer"' in page and f'href="/recipes/{on.pk}/edit/">On</a>' in page
    browser.post(f"/connections/{connection.pk}/recipes-back-on/")
    on.refresh_from_db()
    assert on.enabled


def test_an_outsider_cannot_disconnect_or_take_the_offer(client, outsider, connection, recipes):
    client.force_login(outsider)
    for url in ("disconnect/", "recipes-back-on/", "recipes-stay-off/"):
        assert client.post(f"/connections/{connection.pk}/{url}").status_code == 404
    assert client.get(f"/connections/{connection.pk}/disconnect/").status_code == 404
    connection.refresh_from_db()
    assert connection.is_active
