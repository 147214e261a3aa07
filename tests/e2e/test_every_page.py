"""Every merchant page at 1280 px and at a phone's 390 px with no sideways scrolling, and what
every page shares: times in the merchant's own time zone in one format, data as JSON (never
Python's repr), a switch that says what it does and messages that say a thing once."""

from __future__ import annotations

import json
import zoneinfo
from datetime import timedelta
from typing import TYPE_CHECKING

import pytest
from django.utils import timezone

from automations import trash
from automations.documents import apply_document, create_recipe, recipe_to_document
from automations.models import Run
from tests.e2e.conftest import check_both_widths, log_in_as
from tests.personas import EXAMPLE, add_failed_steps, make_recipe, make_run, order

if TYPE_CHECKING:
    from playwright.sync_api import Page

expect = pytest.importorskip(
    "playwright.sync_api", reason="Playwright is not installed (pip install -e '.[dev]')"
).expect
pytestmark = [pytest.mark.e2e, pytest.mark.django_db(transaction=True)]
PASSWORD = "merchant-pass-123"


@pytest.fixture
def history(merchant, shop, recipe) -> dict:
    """A shop with a failed run, a filtered one, two versions and a recipe in the trash."""
    failed = make_run(
        recipe,
        order(1001, email="ana@example.com"),
        Run.Status.FAILED,
        reason="Step 2 (discount): Cartly refused the discount.",
    )
    add_failed_steps(failed)
    filtered = make_run(
        recipe,
        order(1002),
        Run.Status.FILTERED,
        timezone.now() - timedelta(days=2),
        "total price 4.00 is not above 5",
    )
    Run.objects.filter(pk=filtered.pk).update(started_at=None)  # stopped before any worker
    doc = recipe_to_document(recipe)
    doc["steps"][1]["fields"]["value"] = "15"
    apply_document(recipe, doc)
    trash.move_to_trash(make_recipe(merchant, shop, "Old idea"))
    return {"failed": failed, "filtered": filtered}


def test_every_page_fits_a_desk_and_a_phone(
    page: Page, live_server, merchant, shop, recipe, history
):
    base = live_server.url
    for url in ("/login/", "/signup/"):
        page.goto(base + url)
        check_both_widths(page, url)
    log_in_as(page, base, merchant, PASSWORD)
    pk, conn = recipe.pk, shop.pk
    pages = [
        "/",
        "/recipes/",
        "/recipes/new/",
        f"/recipes/{pk}/edit/",
        f"/recipes/{pk}/test/",
        f"/recipes/{pk}/versions/",
        f"/recipes/{pk}/delete/",
        "/recipes/import/",
        "/recipes/trash/",
        "/runs/",
        "/runs/?status=failed",
        f"/runs/{history['failed'].pk}/",
        f"/runs/{history['filtered'].pk}/",
        "/connections/",
        f"/connections/{conn}/",
        f"/connections/{conn}/disconnect/",
        "/profile/",
    ]
    for url in pages:
        response = page.goto(base + url)
        assert response.status == 200, url
        page.wait_for_load_state("networkidle")  # the builder draws itself after loading
        check_both_widths(page, url)
    page.goto(f"{base}/recipes/{pk}/test/")
    page.locator("#run-test").click()  # a dry run: actions are only shown, not sent
    expect(page.locator("#test-report")).to_be_visible()
    check_both_widths(page, "a test's report")
    assert page.evaluate("document.querySelector('link[rel=icon]').href").endswith("favicon.svg")


def test_times_are_in_the_merchants_zone_in_one_format(
    page: Page, live_server, merchant, recipe, history
):
    failed = history["failed"]
    log_in_as(page, live_server.url, merchant, PASSWORD)
    page.locator("#profile-link").click()
    page.locator("#id_time_zone").select_option("Asia/Tokyo")
    page.locator("#save-profile").click()
    expect(page.get_by_role("status").first).to_have_text("Times are now shown in Asia/Tokyo.")

    page.goto(f"{live_server.url}/runs/{failed.pk}/")
    tokyo = failed.created_at.astimezone(zoneinfo.ZoneInfo("Asia/Tokyo"))
    expect(page.locator("#run-created time")).to_have_text(f"{tokyo:%Y-%m-%d %H:%M:%S} JST")
    expect(page.locator("#run-created time")).to_have_attribute(
        "datetime", failed.created_at.isoformat()
    )
    page.goto(f"{live_server.url}/runs/")
    expect(page.locator(f"#run-{failed.pk} time")).to_have_text(f"{tokyo:%Y-%m-%d %H:%M:%S} JST")
    page.goto(f"{live_server.url}/recipes/{recipe.pk}/versions/")
    expect(page.locator("#version-1 time")).to_contain_text(" JST")


def test_a_filtered_runs_times_tell_one_story(page: Page, live_server, merchant, history):
    filtered = history["filtered"]
    log_in_as(page, live_server.url, merchant, PASSWORD)
    page.goto(f"{live_server.url}/runs/{filtered.pk}/")
    expect(page.locator("#run-status")).to_have_text("Filtered")
    created = page.locator("#run-created").inner_text()
    expect(page.locator("#run-started")).to_have_text(created)  # not "not yet" beside a finish
    expect(page.locator("#run-finished")).not_to_have_text("not yet")
    expect(page.locator("#run-duration")).to_have_text("0 ms")
    expect(page.locator("#run-failure-reason")).to_have_text(
        "Stopped by a filter: total price 4.00 is not above 5"
    )


def test_data_is_json_never_python(page: Page, live_server, merchant, recipe, history):
    log_in_as(page, live_server.url, merchant, PASSWORD)
    page.goto(f"{live_server.url}/recipes/{recipe.pk}/test/")
    page.locator("#run-test").click()
    data = page.locator("#test-trigger-data pre").text_content()
    assert json.loads(data)["number"] == 1001  # the sample order, as JSON
    sent = page.locator("#test-step-1 dl.sent").inner_text()
    assert "THANKS-1001" in sent
    page.goto(f"{live_server.url}/runs/{history['failed'].pk}/")
    assert json.loads(page.locator("#trigger-payload").text_content())["number"] == 1001
    assert json.loads(page.locator("#step-1 .step-input").text_content())["value"] == "10"
    for text in (data, page.locator("main").inner_text()):
        assert "{'" not in text and "': " not in text and "None" not in text


def test_the_switch_says_what_it_does_and_messages_say_it_once(
    page: Page, live_server, merchant, shop
):
    doc = json.loads(EXAMPLE.read_text()) | {"name": "Poll for orders", "mode": "polling"}
    polling = create_recipe(merchant, shop, doc)  # polling: no REST Hook to register
    log_in_as(page, live_server.url, merchant, PASSWORD)
    page.goto(f"{live_server.url}/recipes/")
    switch = page.locator(f"#toggle-{polling.pk}")
    expect(switch).to_have_attribute("role", "switch")
    expect(switch).to_have_attribute("aria-label", "Turn “Poll for orders” on")
    expect(page.locator(f"#recipe-{polling.pk} .switch-hint")).to_have_text("turn on")
    switch.click()
    expect(page.get_by_role("status").first).to_have_text(
        "“Poll for orders” is on and checks the shop by polling."
    )
    expect(page.locator(f"#toggle-{polling.pk} .switch-text")).to_have_text("On")
    expect(page.locator(f"#recipe-{polling.pk} .switch-hint")).to_have_text("turn off")
    page.locator(f"#toggle-{polling.pk}").click()
    expect(page.get_by_role("status").first).to_have_text("“Poll for orders” is off.")
    expect(page.locator(f"#switch-state-{polling.pk}")).to_have_count(0)  # no "Off" badge again
