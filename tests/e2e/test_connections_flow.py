"""Connections a merchant can trust, in the browser against the sandbox shop: disconnecting
says which recipes it will switch off, a recipe of a disconnected shop cannot be turned on,
and reconnecting the same shop (through Cartly's real consent page) offers exactly those
recipes back in one click."""

from __future__ import annotations

import re
from typing import TYPE_CHECKING

import pytest

from automations.documents import create_recipe
from automations.models import Recipe, Subscription
from automations.subscriptions import enable_recipe
from connectors.models import Connection
from tests.e2e.conftest import check_both_widths, log_in_to_engine, log_in_to_sandbox

if TYPE_CHECKING:
    from playwright.sync_api import Page

expect = pytest.importorskip(
    "playwright.sync_api", reason="Playwright is not installed (pip install -e '.[dev]')"
).expect
pytestmark = [pytest.mark.e2e, pytest.mark.django_db(transaction=True)]
OWNER_PASSWORD = "shopowner-pass-123"  # tests.automations.conftest's `owner`


def recipe_doc(name: str) -> dict:
    return {
        "format": "cartly-automations/recipe@1",
        "name": name,
        "trigger": "cartly.order_created",
        "mode": "instant",
        "steps": [
            {
                "key": "discount",
                "operation": "cartly.create_discount",
                "fields": {"code": "THANKS-{{ trigger.number }}", "value": "10"},
            }
        ],
    }


def test_disconnect_and_reconnect_give_back_exactly_the_recipes_it_stopped(
    page: Page, engine_url, sandbox, owner, connection
):
    running = create_recipe(owner, connection, recipe_doc("Thank buyers"))
    enable_recipe(running)
    idle = create_recipe(owner, connection, recipe_doc("Kept off"))
    log_in_to_engine(page, engine_url, owner.username, OWNER_PASSWORD)

    page.get_by_role("navigation", name="Main").get_by_role("link", name="Connections").click()
    page.locator(f"tr[data-connection-id='{connection.pk}'] a.health-link").click()
    expect(page).to_have_url(f"{engine_url}/connections/{connection.pk}/")
    page.locator("#disconnect-button").click()
    expect(page.locator("#disconnect-recipes li")).to_have_text(["Thank buyers"])
    check_both_widths(page, "the disconnect page")
    page.locator("#confirm-disconnect").click()
    expect(page.get_by_role("status").first).to_contain_text(
        "Switched off 1 recipe; reconnect the shop to get them back in one click."
    )
    running.refresh_from_db()
    assert (running.enabled, running.off_by_disconnect) == (False, True)

    # The shop is gone: the switch refuses, and says why instead of showing on and off.
    page.goto(f"{engine_url}/recipes/")
    page.locator(f"#toggle-{running.pk}").click()
    expect(page.locator(".messages li.error")).to_have_text(
        "“Thank buyers” was not turned on. Its shop is disconnected: reconnect the shop "
        "first (Connections)."
    )
    expect(page.locator(f"#toggle-{running.pk}")).to_have_attribute("aria-checked", "false")

    page.goto(f"{engine_url}/connections/{connection.pk}/")
    page.locator("#reconnect-button").click()
    log_in_to_sandbox(page, sandbox.seed["merchant"])
    expect(page.get_by_role("heading", name=re.compile(r"^Connect .*\?$"))).to_be_visible()
    page.get_by_role("button", name="Approve").click()
    expect(page).to_have_url(f"{engine_url}/connections/{connection.pk}/")  # its own page
    expect(page.locator("#offer-recipes li")).to_have_text(["Thank buyers"])
    check_both_widths(page, "the reconnected shop's page")
    page.locator("#recipes-back-on").click()
    expect(page.get_by_role("status").first).to_contain_text("Turned back on: “Thank buyers”.")
    expect(page.locator("#recipes-offer")).to_have_count(0)

    running.refresh_from_db()
    idle.refresh_from_db()
    assert (running.enabled, running.paused_reason, running.off_by_disconnect) == (True, "", False)
    assert not idle.enabled
    assert Connection.objects.get(pk=connection.pk).is_active
    assert Subscription.objects.filter(
        connection=connection, event_type="order.created", status=Subscription.Status.ACTIVE
    ).exists()
    assert Recipe.objects.filter(off_by_disconnect=True).count() == 0
