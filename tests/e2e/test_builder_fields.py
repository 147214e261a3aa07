"""The builder as a merchant uses it: typed fields, value pills, problems that mean it.

A recipe is built with the pickers, selects, switches and pickers only (no template typed
by hand), the raw template round-trips through "Edit as template", a literal that its field
cannot take blocks saving (the message shown once, under the field), a value the sample lacks
is a labelled warning, required fields are enforced in the page, and unsaved work is not
lost without a question. The builder needs no Cartly: the shop here is a stored connection.
"""

from __future__ import annotations

import re
from typing import TYPE_CHECKING

import pytest

from automations.models import Recipe
from tests.e2e.conftest import check_both_widths, document_of, log_in_as

if TYPE_CHECKING:
    from playwright.sync_api import Page

expect = pytest.importorskip(
    "playwright.sync_api", reason="Playwright is not installed (pip install -e '.[dev]')"
).expect
pytestmark = [pytest.mark.e2e, pytest.mark.django_db(transaction=True)]
PASSWORD = "merchant-pass-123"  # tests.personas.make_user's


def pick(page: Page, box: str, ref: str) -> None:
    picker = page.locator(f"details#{box}-picker")
    picker.locator("summary", has_text="Insert a value").click()
    picker.locator(f'button.pick[data-ref="{ref}"]').click()


def add_step(page: Page, operation: str, index: int) -> None:
    page.locator("select#add-step-operation").select_option(operation)
    page.locator("#add-step").click()
    expect(page.locator(f"section#step-{index}")).to_be_visible()


def fields_of(page: Page, index: int) -> dict:
    return document_of(page)["steps"][index]["fields"]


def open_new_recipe(page: Page, live_server, merchant) -> None:
    log_in_as(page, live_server.url, merchant, PASSWORD)
    page.goto(f"{live_server.url}/recipes/new/")
    expect(page.locator("#builder-editor")).to_be_visible()


def test_a_merchant_builds_a_recipe_with_pills_and_typed_fields_only(
    page: Page, live_server, merchant, shop
):
    open_new_recipe(page, live_server, merchant)
    page.locator("#id_name").fill("Welcome back with a voucher")
    add_step(page, "cartly.find_or_create_customer", 0)
    pick(page, "f-steps-0-fields-email", "trigger.email")
    marketing = page.locator("#f-steps-0-fields-accepts_marketing")  # yes/no: a switch
    expect(marketing).to_have_attribute("role", "switch")
    expect(marketing).to_contain_text("Not set")
    marketing.click()
    expect(page.locator("#f-steps-0-fields-accepts_marketing")).to_have_attribute(
        "aria-checked", "true"
    )

    add_step(page, "cartly.create_discount", 1)
    code = page.locator("#f-steps-1-fields-code")
    code.click()
    page.keyboard.type("VIP-")
    pick(page, "f-steps-1-fields-code", "trigger.number")
    chip = code.locator(".pill")
    expect(chip).to_contain_text("Order › Number")
    expect(chip).to_have_attribute("title", re.compile(r"^Sample: 1001"))  # shown on hover
    kind = page.locator("#f-steps-1-fields-kind")  # a choice: a select
    expect(kind.locator("option")).to_have_text(
        ["Default: Percentage", "Percentage", "Fixed amount", "Free shipping"]
    )
    kind.select_option(label="Fixed amount")
    expect(page.locator("#f-steps-1-fields-value")).to_have_attribute("type", "number")
    page.locator("#f-steps-1-fields-value").fill("5")
    starts = page.locator("#f-steps-1-fields-starts_at")  # a time: a date-time picker
    expect(starts).to_have_attribute("type", "datetime-local")
    starts.fill("2026-12-01T09:30")
    # A number can come from the trigger instead: the field turns into a pill box.
    page.locator("#f-steps-1-fields-minimum_subtotal-use-value").click()
    pick(page, "f-steps-1-fields-minimum_subtotal", "trigger.total_price")
    expect(page.locator("#f-steps-1-fields-minimum_subtotal .pill")).to_contain_text(
        "Order › Total"
    )

    expect(page.locator("#check-status")).to_have_text("No problems found.")
    assert fields_of(page, 0) == {"email": "{{ trigger.email }}", "accepts_marketing": "true"}
    assert fields_of(page, 1) == {
        "code": "VIP-{{ trigger.number }}",
        "kind": "fixed_amount",
        "value": "5",
        "starts_at": "2026-12-01T09:30:00+00:00",
        "minimum_subtotal": "{{ trigger.total_price }}",
    }
    check_both_widths(page, "the builder")
    page.locator("#save-recipe").click()
    expect(page.get_by_role("status").first).to_contain_text("(version 1)")

    recipe = Recipe.objects.get(name="Welcome back with a voucher")
    assert recipe.steps.get(key="discount").fields["starts_at"] == "2026-12-01T09:30:00+00:00"
    # Reopened, every field shows as it was chosen.
    expect(page.locator("#f-steps-1-fields-kind")).to_have_value("fixed_amount")
    expect(page.locator("#f-steps-1-fields-value")).to_have_value("5")
    expect(page.locator("#f-steps-1-fields-starts_at")).to_have_value("2026-12-01T09:30")
    expect(page.locator("#f-steps-1-fields-code .pill")).to_contain_text("Order › Number")


def test_edit_as_template_round_trips_exactly_and_chips_are_atomic(
    page: Page, live_server, merchant, shop
):
    open_new_recipe(page, live_server, merchant)
    add_step(page, "cartly.create_discount", 0)
    raw_switch = page.locator("#f-steps-0-fields-code-raw")
    raw_switch.click()
    raw = page.locator("#f-steps-0-fields-code")
    template = "HI-{{trigger.customer.first_name}}-{{ trigger.number|string }}{# note #} !"
    raw.fill(template)
    page.locator("#f-steps-0-fields-code-raw").click()  # back to pills
    pills = page.locator("#f-steps-0-fields-code .pill")
    expect(pills).to_have_count(3)
    expect(pills.nth(0)).to_contain_text("Order › Customer first name")
    expect(pills.nth(1)).to_contain_text("trigger.number|string")  # code, shown as written
    page.locator("#f-steps-0-fields-code-raw").click()
    expect(page.locator("#f-steps-0-fields-code")).to_have_value(template)
    assert fields_of(page, 0)["code"] == template

    page.locator("#f-steps-0-fields-code-raw").click()
    editor = page.locator("#f-steps-0-fields-code")
    editor.click()
    page.keyboard.press("End")
    for _ in range(3):  # " !" then the comment chip: one Backspace takes a chip whole
        page.keyboard.press("Backspace")
    assert fields_of(page, 0)["code"] == (
        "HI-{{trigger.customer.first_name}}-{{ trigger.number|string }}"
    )


def test_a_literal_of_the_wrong_type_blocks_saving_with_one_message_under_its_field(
    page: Page, live_server, merchant, shop, recipe
):
    log_in_as(page, live_server.url, merchant, PASSWORD)
    page.goto(f"{live_server.url}/recipes/{recipe.pk}/edit/")
    expect(page.locator("#builder-editor")).to_be_visible()
    page.locator("#f-steps-1-fields-value-use-value").click()
    value = page.locator("#f-steps-1-fields-value")
    value.click()
    page.keyboard.press("Control+A")
    page.keyboard.type("ten")
    page.locator("#f-steps-1-fields-starts_at-use-value").click()
    page.locator("#f-steps-1-fields-starts_at").click()
    page.keyboard.type("tomorrow")

    value_errors = page.locator("#f-steps-1-fields-value-errors")
    expect(value_errors).to_have_text('"Value" must be an amount such as "19.90", got "ten"')
    expect(page.locator("#f-steps-1-fields-starts_at-errors")).to_contain_text('got "tomorrow"')
    expect(page.locator("#check-status")).to_have_text("2 problems to fix before saving.")
    assert page.locator("main").inner_text().count('got "ten"') == 1  # not again in the preview
    expect(page.locator("#f-steps-1-fields-value")).to_have_attribute("aria-invalid", "true")

    page.locator("#save-recipe").click()  # the server refuses it too, and says where
    expect(page.locator("#check-status")).to_contain_text("Not saved: 2 problems")
    expect(page.locator("#f-steps-1-fields-value-errors")).to_contain_text('got "ten"')
    assert Recipe.objects.get(pk=recipe.pk).version == 1
    check_both_widths(page, "the builder with problems")


def test_a_value_the_sample_lacks_is_a_warning_and_only_none_is_no_problems(
    page: Page, live_server, merchant, shop, recipe
):
    log_in_as(page, live_server.url, merchant, PASSWORD)
    page.goto(f"{live_server.url}/recipes/{recipe.pk}/edit/")
    page.locator("#f-steps-0-fields-phone-raw").click()
    page.locator("#f-steps-0-fields-phone").fill("{{ trigger.shipping_address.phone }}")
    preview = page.locator("#f-steps-0-fields-phone-preview")
    expect(preview).to_contain_text("Warning (sample data):")
    expect(preview).to_have_class(re.compile(r"\bwarn\b"))
    expect(page.locator("#check-status")).to_have_text(
        "Nothing blocks saving. 1 warning to check (sample data)."
    )
    page.locator("#f-steps-0-fields-phone").fill("")
    expect(page.locator("#check-status")).to_have_text("No problems found.")


def test_required_fields_are_enforced_in_the_page(page: Page, live_server, merchant, shop):
    open_new_recipe(page, live_server, merchant)
    page.locator("#id_name").fill("Missing a code")
    add_step(page, "cartly.create_discount", 0)
    page.locator("#save-recipe").click()
    expect(page.locator("#f-steps-0-fields-code-errors")).to_have_text("Required: fill in Code.")
    expect(page.locator("#check-status")).to_have_text("Not saved: 1 required field is empty.")
    expect(page.locator("#f-steps-0-fields-code")).to_be_focused()
    assert page.url.endswith("/recipes/new/") and not Recipe.objects.exists()


def test_leaving_with_unsaved_changes_asks_first(page: Page, live_server, merchant, shop, recipe):
    log_in_as(page, live_server.url, merchant, PASSWORD)
    page.goto(f"{live_server.url}/recipes/{recipe.pk}/edit/")
    expect(page.locator("#builder-editor")).to_be_visible()
    page.locator("#id_name").fill("Renamed, not saved")
    asked = []

    def stay(dialog) -> None:
        asked.append(dialog.type)
        dialog.dismiss()

    page.once("dialog", stay)
    page.get_by_role("navigation", name="Main").get_by_role("link", name="Recipes").click()
    page.wait_for_timeout(500)
    assert asked == ["beforeunload"]
    expect(page.locator("#id_name")).to_have_value("Renamed, not saved")
    page.locator("#save-recipe").click()  # saving is not "leaving with unsaved work"
    expect(page.get_by_role("status").first).to_contain_text("Saved “Renamed, not saved”")
    page.get_by_role("navigation", name="Main").get_by_role("link", name="Recipes").click()
    expect(page.get_by_role("heading", name="Recipes", exact=True)).to_be_visible()
