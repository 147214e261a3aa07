"""Building every kind of step in the browser, as a merchant: a For each over the order's line
items, Paths with an Otherwise and a fallback, a Delay until a time from the data, all with
pills and typed fields only; problems under the nested field they are about; unsaved nested
edits ask before leaving; then the recipe runs for real and its run page groups the steps.
Also "Test this step": a search really runs, an action only after "Send it"."""

from __future__ import annotations

import re
import secrets
from typing import TYPE_CHECKING

import pytest

from automations.documents import create_recipe
from automations.models import Recipe, Run, StepRun
from connectors.cartly.client import CartlyClient, iter_pages
from tests.automations.conftest import finished_runs, start_run, wait_for
from tests.e2e.conftest import check_both_widths, document_of, log_in_to_engine, screenshot

if TYPE_CHECKING:
    from playwright.sync_api import Page

expect = pytest.importorskip(
    "playwright.sync_api", reason="Playwright is not installed (pip install -e '.[dev]')"
).expect
pytestmark = [pytest.mark.e2e, pytest.mark.django_db(transaction=True)]

OWNER_PASSWORD = "shopowner-pass-123"  # tests.automations.conftest's `owner`
BRANCH = "steps-1-paths-branches-0"  # the first path's id part
# The README's picture of the builder: the basics, the loop and the paths side by side.
BUILDER_SHOT_HEIGHT = 3300


def pick(page: Page, box: str, ref: str, *through: str) -> None:
    """Open the box's "Insert a value" picker, open the groups `through` (e.g. "Customer"),
    and click the value `ref`."""
    picker = page.locator(f"details#{box}-picker")
    picker.locator("summary", has_text="Insert a value").click()
    for group in through:
        picker.locator("summary", has_text=re.compile(f"^{group}$")).click()
    picker.locator(f'button.pick[data-ref="{ref}"]').click()


def add_step(page: Page, operation: str, where: str = "") -> None:
    """ "Add a step" of the top-level list, or of the nested list whose id part is `where`."""
    suffix = f"-{where}" if where else ""
    page.locator(f"select#add-step-operation{suffix}").select_option(operation)
    page.locator(f"#add-step{suffix}").click()


def build_loop(page: Page) -> None:
    add_step(page, "loop")
    expect(page.locator("#step-0-title")).to_have_text("Step 1: For each")
    page.locator("#f-steps-0-loop-over").select_option("trigger.line_items")
    expect(page.locator("#f-steps-0-loop-over-preview")).to_have_text("With the sample: 1 item.")
    add_step(page, "cartly.adjust_inventory", "steps-0-steps")
    expect(page.locator("#step-0-steps-0-title")).to_have_text("Step 1.1: Adjust Inventory")
    pick(page, "f-steps-0-steps-0-fields-variant_id", "item.variant_id")
    # Inside the loop, the item's values are pills labelled from the list's sample item.
    expect(page.locator("#f-steps-0-steps-0-fields-variant_id .pill")).to_contain_text(
        "Line item › Variant id"
    )
    page.locator("#f-steps-0-steps-0-fields-mode").select_option("adjust")  # a choice: a select
    # A required field left empty: the message stands under that nested field.
    page.locator("#save-recipe").click()
    expect(page.locator("#f-steps-0-steps-0-fields-quantity-errors")).to_have_text(
        "Required: fill in Quantity."
    )
    page.locator("#f-steps-0-steps-0-fields-quantity-use-value").click()
    quantity = page.locator("#f-steps-0-steps-0-fields-quantity")
    quantity.click()
    page.keyboard.type("ten")  # the server's problem lands under this nested field, once
    errors = page.locator("#f-steps-0-steps-0-fields-quantity-errors")
    expect(errors).to_contain_text('got "ten"')
    assert page.locator("main").inner_text().count('got "ten"') == 1
    quantity.fill("")
    pick(page, "f-steps-0-steps-0-fields-quantity", "item.quantity")
    expect(errors).to_be_empty()
    expect(page.locator("#f-steps-0-steps-0-fields-quantity-preview")).to_have_text("Preview: 2")
    # A value the server refuses is shown under its nested box too, once.
    page.locator("#f-steps-0-loop-max").fill("0")
    problems = page.locator('ul[data-problems-for="steps[0].loop.max_items"]')
    expect(problems).to_contain_text("whole number from 1")
    page.locator("#f-steps-0-loop-max").fill("")
    expect(problems).to_be_empty()


def build_paths(page: Page) -> None:
    add_step(page, "paths")
    expect(page.locator("#step-1-title")).to_have_text("Step 2: Paths")
    page.locator(f"#f-{BRANCH}-label").fill("Big order")
    pick(page, f"f-{BRANCH}-conditions-0-field", "trigger.total_price")
    expect(page.locator(f"#f-{BRANCH}-conditions-0-field-label")).to_have_text("Order › Total")
    page.locator(f"#f-{BRANCH}-conditions-0-operator").select_option("greater_than")
    page.locator(f"#f-{BRANCH}-conditions-0-value").fill("50")
    add_step(page, "cartly.update_customer", f"{BRANCH}-steps")
    pick(page, f"f-{BRANCH}-steps-0-fields-customer_id", "trigger.customer.id", "Customer")
    page.locator(f"#f-{BRANCH}-steps-0-fields-tags").click()
    page.keyboard.type("vip")
    # If tagging fails, note it on the order instead, with the error's message as a pill.
    page.locator(f"#step-{BRANCH.removeprefix('steps-')}-steps-0-on-error").select_option(
        "fallback"
    )
    add_step(page, "cartly.update_order", f"{BRANCH}-steps-0-fallback")
    fallback = f"f-{BRANCH}-steps-0-fallback-0-fields"
    pick(page, f"{fallback}-order_id", "trigger.id")
    page.locator(f"#{fallback}-note").click()
    page.keyboard.type("Not tagged: ")
    pick(page, f"{fallback}-note", "error.message")
    expect(page.locator(f"#{fallback}-note .pill")).to_contain_text("Error › Message")
    page.locator("#f-steps-1-paths-branches-1-remove").click()
    page.locator("#f-steps-1-paths-otherwise-switch").click()
    add_step(page, "cartly.update_order", "steps-1-paths-otherwise")
    pick(page, "f-steps-1-paths-otherwise-0-fields-order_id", "trigger.id")
    page.locator("#f-steps-1-paths-otherwise-0-fields-note").click()
    page.keyboard.type("Small order")


def build_delay(page: Page) -> None:
    add_step(page, "delay")
    expect(page.locator("#f-steps-2-delay-amount")).to_have_value("1")  # a number and a unit
    page.locator("#f-steps-2-delay-unit").select_option("days")
    page.locator("#f-steps-2-delay-mode-until").check()
    page.locator("#f-steps-2-delay-until-use-value").click()
    pick(page, "f-steps-2-delay-until", "trigger.created_at")
    expect(page.locator("#f-steps-2-delay-until-preview")).to_contain_text("has passed")


def test_a_merchant_builds_loops_paths_and_delays_and_runs_them(
    page: Page, engine_url, sandbox, connection, celery_worker
):
    log_in_to_engine(page, engine_url, connection.owner.username, OWNER_PASSWORD)
    page.goto(f"{engine_url}/recipes/new/")
    expect(page.locator("#builder-editor")).to_be_visible()
    page.locator("#id_name").fill("Restock and sort orders")
    page.locator("#id_trigger").select_option(label="New Order")
    page.locator("#id_turn_off_after_failures").fill("3")
    build_loop(page)
    build_paths(page)
    build_delay(page)
    expect(page.locator("#check-status")).to_have_text("No problems found.")
    check_both_widths(page, "the builder with nested steps")
    screenshot(page, "builder", max_height=BUILDER_SHOT_HEIGHT)

    page.locator("#save-recipe").click()
    expect(page.get_by_role("status").first).to_contain_text("(version 1)")
    recipe = Recipe.objects.get(name="Restock and sort orders")
    doc = document_of(page)
    assert doc["turn_off_after_failures"] == 3 and recipe.turn_off_after_failures == 3
    loop, paths, delay = doc["steps"]
    assert loop["loop"] == {"over": "trigger.line_items"}
    assert loop["steps"][0]["fields"] == {
        "variant_id": "{{ item.variant_id }}",
        "mode": "adjust",
        "quantity": "{{ item.quantity }}",
    }
    big = paths["paths"]["branches"][0]
    assert big["conditions"] == [
        {"field": "trigger.total_price", "operator": "greater_than", "value": "50"}
    ]
    assert big["steps"][0]["on_error"] == "fallback"
    assert big["steps"][0]["fallback"][0]["fields"]["note"] == "Not tagged: {{ error.message }}"
    assert paths["paths"]["otherwise"][0]["fields"]["note"] == "Small order"
    assert delay["delay"] == {"until": "{{ trigger.created_at }}"}

    # A nested edit not saved yet: leaving asks first.
    page.locator("#f-steps-1-paths-otherwise-0-fields-note").click()
    page.keyboard.type(" (checked)")
    asked = []
    page.once("dialog", lambda dialog: (asked.append(dialog.type), dialog.dismiss()))
    page.get_by_role("navigation", name="Main").get_by_role("link", name="Recipes").click()
    page.wait_for_timeout(500)
    assert asked == ["beforeunload"]
    page.once("dialog", lambda dialog: dialog.accept())  # now leave it unsaved

    run = run_it(recipe, connection, sandbox)
    page.goto(f"{engine_url}/runs/{run.pk}/")
    expect(page.locator("#run-status")).to_have_text("Succeeded")
    groups = page.locator("h3.step-group")
    expect(groups.nth(0)).to_have_text(re.compile(r"^Item 1 of 3"))
    expect(groups.nth(2)).to_have_text(re.compile(r"^Item 3 of 3"))
    expect(page.locator("#step-1 .paths-decision")).to_contain_text("Big order: ran")
    expect(page.locator("h3.step-group", has_text="Path “Big order” ran")).to_have_count(1)
    expect(page.locator("#step-0-i2-0")).to_have_attribute("data-status", "succeeded")
    check_both_widths(page, "a run page with nested steps")
    screenshot(page, "run-detail")


def run_it(recipe, connection, sandbox) -> Run:
    """A real new order, as if with three of the shop's variants, run by the real worker."""
    placed = sandbox.sandbox_event("order.created")[-1]["ids"]["order_id"]
    client = CartlyClient(connection.access_token)
    variants = [v["id"] for p in iter_pages(client.list_products) for v in p["variants"]][:3]
    order = next(o for o in iter_pages(client.list_orders) if o["id"] == placed)
    order = {
        **order,
        "total_price": "120.00",
        "line_items": [
            {"variant_id": v, "quantity": n + 1, "title": f"Mug {n + 1}"}
            for n, v in enumerate(variants)
        ],
    }
    run = start_run(recipe, connection, order, event_id=f"evt_TREE{secrets.token_hex(4)}")
    wait_for(lambda: finished_runs(recipe), "the run to finish")
    run.refresh_from_db()
    assert run.status == Run.Status.SUCCEEDED, run.failure_reason
    assert StepRun.objects.filter(run=run, key="inventory", status="succeeded").count() == 3
    return run


def test_a_merchant_tests_one_step(page: Page, engine_url, connection, sandbox):
    client = CartlyClient(connection.access_token)
    email = f"step-{secrets.token_hex(3)}@example.com"
    customer = client.create_customer({"email": email, "first_name": "Stepa"})
    code = f"TRY-{secrets.token_hex(3).upper()}"
    recipe = create_recipe(
        connection.owner,
        connection,
        {
            "format": "cartly-automations/recipe@2",
            "name": "Try steps",
            "trigger": "cartly.order_created",
            "steps": [
                {"key": "buyer", "operation": "cartly.find_customer", "fields": {"email": email}},
                {
                    "key": "each",
                    "loop": {"over": "trigger.line_items"},
                    "steps": [
                        {
                            "key": "code",
                            "operation": "cartly.create_discount",
                            "fields": {"code": code + "-{{ item.sku }}", "value": "5"},
                        }
                    ],
                },
            ],
        },
    )
    log_in_to_engine(page, engine_url, connection.owner.username, OWNER_PASSWORD)
    page.goto(f"{engine_url}/recipes/{recipe.pk}/edit/")
    expect(page.locator("#builder-editor")).to_be_visible()

    page.locator("#step-0-test summary").click()
    page.locator("#step-0-test-run").click()  # a search really runs, and changes nothing
    expect(page.locator("#step-0-test-answer")).to_contain_text(customer["id"])
    expect(page.locator("#step-0-test-input")).to_contain_text(email)

    page.locator("#step-1-steps-0-test summary").click()
    page.locator("#step-1-steps-0-test-run").click()
    made = f"{code}-SAMPLE-TEE-M"  # the loop's first sample item
    expect(page.locator("#step-1-steps-0-test-input")).to_contain_text(made)
    warning = page.locator("#step-1-steps-0-test-warning")
    expect(warning).to_contain_text("Sending does it for real")
    discounts = f"{sandbox.base_url}/discounts/"
    assert made not in sandbox.merchant_session().get(discounts, timeout=30).text
    check_both_widths(page, "a step test's answer")
    warning.locator("#step-1-steps-0-test-send").click()
    expect(page.locator("#step-1-steps-0-test-status")).to_have_attribute("data-status", "sent")
    expect(page.locator("#step-1-steps-0-test-answer")).to_contain_text(made)
    assert made in sandbox.merchant_session().get(discounts, timeout=30).text

    page.goto(f"{engine_url}/recipes/{recipe.pk}/test/")  # the whole recipe, a dry run
    page.locator("#run-test").click()
    expect(page.locator("#test-step-1-i0-0")).to_have_attribute("data-status", "would_send")
    expect(page.locator("#test-step-1")).to_contain_text("Goes over")
    check_both_widths(page, "a nested recipe's test report")
    assert not Run.objects.exists()


def test_a_merchant_builds_an_http_step_with_typed_fields(page: Page, engine_url, connection):
    log_in_to_engine(page, engine_url, connection.owner.username, OWNER_PASSWORD)
    page.goto(f"{engine_url}/recipes/new/")
    expect(page.locator("#builder-editor")).to_be_visible()
    page.locator("#id_name").fill("Tell the warehouse")
    add_step(page, "http.request")
    expect(page.locator("#step-0-title")).to_have_text("Step 1: Send to another system")
    fields = "f-steps-0-fields"
    page.locator(f"#{fields}-method").select_option("PUT")
    page.locator(f"#{fields}-url").click()
    page.keyboard.type("https://warehouse.example/orders/")
    pick(page, f"{fields}-url", "trigger.id")
    page.locator(f"#{fields}-headers").click()
    page.keyboard.type("X-Shop: demo")
    page.locator(f"#{fields}-body_type").select_option("json")
    page.locator(f"#{fields}-body").click()
    page.keyboard.type('{"number": ')
    pick(page, f"{fields}-body", "trigger.number")
    page.keyboard.type("}")
    page.locator(f"#{fields}-sign").click()  # yes/no: a switch
    expect(page.locator(f"#{fields}-sign")).to_have_attribute("aria-checked", "true")
    page.locator(f"#{fields}-timeout_seconds").fill("20")  # a number box
    page.locator("#step-0-on-error").select_option("continue")
    expect(page.locator("#check-status")).to_have_text("No problems found.")
    check_both_widths(page, "the builder with an HTTP step")
    page.locator("#step-0-test summary").click()
    page.locator("#step-0-test-run").click()
    expect(page.locator("#step-0-test-warning")).to_contain_text("Your address is called")
    page.locator("#save-recipe").click()
    expect(page.get_by_role("status").first).to_contain_text("(version 1)")
    step = document_of(page)["steps"][0]
    assert step["fields"] == {
        "method": "PUT",
        "url": "https://warehouse.example/orders/{{ trigger.id }}",
        "headers": "X-Shop: demo",
        "body_type": "json",
        "body": '{"number": {{ trigger.number }}}',
        "sign": "true",
        "timeout_seconds": "20",
    }
    assert step["on_error"] == "continue"
