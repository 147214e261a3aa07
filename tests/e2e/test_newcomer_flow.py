"""A newcomer's first minutes, in a real browser: sign up, connect the sandbox shop through its
real consent page, build "New Order → Find Customer → Create Discount" with the builder's
pickers, switch it on, place an order in the shop, and follow the run, its replay and a failure.

Everything travels over real HTTP: Chromium ↔ our live server, Chromium ↔ the sandbox,
sandbox → our hook receiver, a real Celery worker → the sandbox's API.
"""

from __future__ import annotations

import re
import secrets
from typing import TYPE_CHECKING

import pytest

from automations.documents import create_recipe
from automations.models import Run
from tests.automations.conftest import finished_runs, one_step_document, start_run, wait_for
from tests.e2e.conftest import (
    document_of,
    log_in_to_engine,
    log_in_to_sandbox,
    reload_until,
    screenshot,
)

if TYPE_CHECKING:
    from playwright.sync_api import Page

expect = pytest.importorskip(
    "playwright.sync_api", reason="Playwright is not installed (pip install -e '.[dev]')"
).expect
pytestmark = [pytest.mark.e2e, pytest.mark.django_db(transaction=True)]

NEWCOMER = ("newcomer", "Cartly-newcomer-2031")
OWNER_PASSWORD = "shopowner-pass-123"  # tests.automations.conftest's `owner`
# The builder previews against the trigger's sample (connectors/cartly/samples/order__created.json).
SAMPLE_EMAIL = "jane.sample@example.com"
SAMPLE_NUMBER = "1001"


def sign_up(page: Page, engine_url: str) -> None:
    page.goto(f"{engine_url}/signup/")
    username, password = NEWCOMER
    page.get_by_label("Username").fill(username)
    page.locator("#id_password1").fill(password)
    page.locator("#id_password2").fill(password)
    page.get_by_role("button", name="Sign up").click()
    expect(page.get_by_role("status")).to_contain_text("Welcome!")


def connect_shop(page: Page, engine_url: str, sandbox) -> str:
    """Connect a Cartly shop → the sandbox's login and consent pages → our callback."""
    page.get_by_role("link", name="Connect a Cartly shop").first.click()
    expect(page).to_have_url(re.compile("^" + re.escape(sandbox.base_url) + "/login/"))
    log_in_to_sandbox(page, sandbox.seed["merchant"])
    expect(page).to_have_url(re.compile("^" + re.escape(sandbox.base_url) + "/oauth/authorize/"))
    expect(page.get_by_role("heading", name=re.compile(r"^Connect .*\?$"))).to_be_visible()
    page.get_by_role("button", name="Approve").click()
    expect(page).to_have_url(f"{engine_url}/connections/")
    message = page.get_by_role("status")
    expect(message).to_contain_text("Connected ")
    shop_name = re.match(r"Connected (.+) \(", message.inner_text()).group(1)
    expect(page.locator("table")).to_contain_text(shop_name)
    expect(page.locator("table .badge.active")).to_have_text("Active")
    return shop_name


def pick(page: Page, box: str, ref: str) -> None:
    """Open the field's "Insert a value" picker and click the value `ref` in it."""
    picker = page.locator(f"details#{box}-picker")
    picker.locator("summary", has_text="Insert a value").click()
    picker.locator(f'button.pick[data-ref="{ref}"]').click()


def add_step(page: Page, operation: str, index: int) -> None:
    page.locator("select#add-step-operation").select_option(operation)
    page.locator("#add-step").click()
    expect(page.locator(f"section#step-{index}")).to_be_visible()


def build_recipe(page: Page, shop_name: str) -> int:
    """New Order → Find Customer → Create Discount, by choosing and clicking; returns its pk."""
    page.get_by_role("navigation", name="Main").get_by_role("link", name="Recipes").click()
    page.locator("#new-recipe").click()
    # The step editor shows once builder.js has bound the boxes; typing before that is lost.
    expect(page.locator("#builder-editor")).to_be_visible()
    page.locator("#id_name").fill("Thank new buyers")
    expect(page.get_by_label("Shop")).to_contain_text(shop_name)
    page.locator("#id_trigger").select_option(label="New Order")
    page.locator("#id_mode").select_option("instant")

    add_step(page, "cartly.find_customer", 0)
    expect(page.locator("#step-0-title")).to_have_text("Step 1: Find Customer")
    expect(page.locator("#step-0-if-not-found")).to_have_value("halt")
    pick(page, "f-steps-0-fields-email", "trigger.email")
    # The inserted value is a readable pill, and the draft holds the template.
    email = page.locator("#f-steps-0-fields-email")
    expect(email.locator(".pill")).to_contain_text("Order › Email")
    expect(page.locator("output#f-steps-0-fields-email-preview")).to_have_text(
        f"Preview: {SAMPLE_EMAIL}"
    )
    assert document_of(page)["steps"][0]["fields"]["email"] == "{{ trigger.email }}"

    add_step(page, "cartly.create_discount", 1)
    expect(page.locator("#step-1-title")).to_have_text("Step 2: Create Discount")
    code = page.locator("#f-steps-1-fields-code")
    code.click()
    page.keyboard.type("THANKS-")  # a plain prefix; the order's number comes from the picker
    pick(page, "f-steps-1-fields-code", "trigger.number")
    expect(code.locator(".pill")).to_contain_text("Order › Number")
    page.locator("#f-steps-1-fields-value").fill("10")  # a number box
    page.locator("#f-steps-1-fields-usage_limit").fill("1")

    expect(page.locator("output#f-steps-1-fields-code-preview")).to_have_text(
        f"Preview: THANKS-{SAMPLE_NUMBER}"
    )
    expect(page.locator("output#f-steps-1-fields-value-preview")).to_have_text("Preview: 10")
    fields = document_of(page)["steps"][1]["fields"]
    assert (fields["code"], fields["value"]) == ("THANKS-{{ trigger.number }}", "10")
    expect(page.locator("#check-status")).to_have_text("No problems found.")

    page.locator("#save-recipe").click()
    expect(page.get_by_role("status").first).to_contain_text("Saved “Thank new buyers” (version 1)")
    return int(re.search(r"/recipes/(\d+)/edit/", page.url).group(1))


def switch_on(page: Page, pk: int) -> None:
    """The switch registers the REST Hook at the sandbox before the page comes back."""
    switch = page.locator(f"#recipe-bar #toggle-{pk}")
    expect(switch).to_have_attribute("aria-checked", "false")
    switch.click()
    expect(page.locator(f"#toggle-{pk}")).to_have_attribute("aria-checked", "true")
    state = page.locator(f"#switch-state-{pk}")
    expect(state).to_have_attribute("data-state", "ok")
    expect(state).to_have_text("Active")
    # Said once: the message names the new state without repeating the badge.
    expect(page.get_by_role("status").first).to_have_text(
        "“Thank new buyers” is on and runs instantly."
    )


def place_order(shop: Page, sandbox, buyer: str) -> str:
    """The sandbox's "Place an order" form, as the merchant; returns the order's number."""
    shop.goto(f"{sandbox.base_url}/orders/")
    form = shop.locator("form", has=shop.get_by_role("button", name="Place order"))
    form.get_by_label("Buyer email").fill(buyer)
    form.get_by_label("Product").select_option(index=1)  # the first product on the list
    form.get_by_label("Quantity").fill("1")
    form.get_by_role("button", name="Place order").click()
    placed = shop.get_by_text(re.compile(r"Order #\d+ placed"))
    expect(placed).to_be_visible()
    return re.search(r"#(\d+)", placed.inner_text()).group(1)


def run_row(page: Page, status: str):
    return page.locator(f"tr.run-row[data-status='{status}']")


def test_a_newcomer_connects_builds_and_sees_a_run(page: Page, engine_url, sandbox, celery_worker):
    sign_up(page, engine_url)
    shop_name = connect_shop(page, engine_url, sandbox)
    pk = build_recipe(page, shop_name)
    switch_on(page, pk)

    shop = page.context.new_page()  # the merchant's shop admin, logged in from the consent
    buyer = f"buyer-{secrets.token_hex(4)}@example.com"
    number = place_order(shop, sandbox, buyer)

    page.goto(f"{engine_url}/runs/")
    reload_until(page, lambda: run_row(page, "succeeded").count() > 0, "the run to succeed")
    row = run_row(page, "succeeded")
    expect(row).to_have_count(1)
    expect(row).to_contain_text("Thank new buyers")
    expect(row).to_contain_text(f"order #{number}")
    expect(row).to_contain_text(buyer)

    row.get_by_role("link", name=re.compile(r"^Run #\d+$")).click()
    run_url = page.url
    expect(page.locator("#run-status")).to_have_text("Succeeded")
    customer, discount = page.locator("#step-0"), page.locator("#step-1")
    expect(customer).to_have_attribute("data-status", "succeeded")
    expect(customer.locator("h3")).to_contain_text("Find Customer")
    expect(customer.locator(".step-input")).to_contain_text(buyer)
    expect(discount).to_have_attribute("data-status", "succeeded")
    expect(discount.locator("h3")).to_contain_text("Create Discount")
    expect(discount.locator(".step-input")).to_contain_text(f"THANKS-{number}")

    shop.goto(f"{sandbox.base_url}/discounts/")
    expect(shop.locator("table")).to_contain_text(f"THANKS-{number}")

    page.get_by_role("navigation", name="Main").get_by_role("link", name="Dashboard").click()
    recipe_row = page.locator(f"#dashboard-recipes .recipe-row[data-recipe-id='{pk}']")
    expect(recipe_row.locator(".onoff.on")).to_have_text("On")
    expect(page.locator("#dashboard-connections")).to_contain_text(shop_name)
    expect(page.locator("#runs-chart .bar[data-total='1']")).to_have_count(1)
    screenshot(page, "dashboard")

    page.goto(run_url)
    # On a run that succeeded, replaying is tucked away and names what it would do again.
    expect(page.locator("#replay-button")).not_to_be_visible()
    page.locator("#more-actions summary").click()
    expect(page.locator("#replay-repeats")).to_contain_text("Create Discount (discount)")
    page.locator("#replay-button").click()  # the box is not ticked yet: the browser asks
    expect(page).to_have_url(run_url)
    page.locator("#replay-confirm").check()
    page.locator("#replay-button").click()
    expect(page.get_by_role("status").first).to_contain_text("this is the new run")
    expect(page.locator("#link-original")).to_have_attribute(
        "href", re.compile(re.escape(run_url.removeprefix(engine_url)) + "$")
    )
    reload_until(
        page,
        lambda: page.locator("#run-status.succeeded, #run-status.failed").count(),
        "the replay to finish",
    )
    # A replay does every action again under fresh idempotency keys, so Cartly refuses the
    # same one-time code a second time, and the page says so.
    expect(page.locator("#run-status")).to_have_text("Failed")
    expect(page.locator("#run-failure-reason")).to_contain_text("already taken")
    replay_url = page.url

    page.goto(f"{engine_url}/runs/")
    expect(page.locator("tr.run-row")).to_have_count(2)
    page.goto(run_url)
    expect(page.locator("#run-replays a.link-replay")).to_have_attribute(
        "href", replay_url.removeprefix(engine_url)
    )


def taken_code_recipe(owner, connection, page: Page, sandbox) -> tuple:
    """A recipe whose discount code the merchant already created in the shop."""
    code = f"SUMMER-{secrets.token_hex(3).upper()}"
    page.goto(f"{sandbox.base_url}/discounts/")
    log_in_to_sandbox(page, sandbox.seed["merchant"])
    page.goto(f"{sandbox.base_url}/discounts/")
    page.get_by_label("Code:", exact=True).fill(code)
    page.get_by_label("Kind:", exact=True).select_option("percentage")
    page.get_by_label("Value:", exact=True).fill("15")
    page.get_by_role("button", name="Create discount").click()
    expect(page.locator("table")).to_contain_text(code)
    step = {
        "key": "discount",
        "operation": "cartly.create_discount",
        "fields": {"code": code, "kind": "percentage", "value": "10"},
    }
    recipe = create_recipe(owner, connection, one_step_document("cartly.order_created", step))
    return recipe, ["code", "already taken"]


def missing_value_recipe(owner, connection, page: Page, sandbox) -> tuple:
    """A recipe whose code reads the buyer's first name, on an order that has no customer."""
    step = {
        "key": "discount",
        "operation": "cartly.create_discount",
        "fields": {"code": "HI-{{ trigger.customer.first_name }}", "value": "10"},
    }
    recipe = create_recipe(owner, connection, one_step_document("cartly.order_created", step))
    return recipe, ["Code", "customer"]


@pytest.mark.parametrize(
    "make_recipe",
    [taken_code_recipe, missing_value_recipe],
    ids=["code already taken", "missing value"],
)
def test_failure_is_shown_in_plain_words(
    page: Page, live_server, sandbox, owner, connection, celery_worker, make_recipe
):
    recipe, words = make_recipe(owner, connection, page, sandbox)
    order = {
        "id": f"ord_E2E{secrets.token_hex(6).upper()}",
        "number": 4242,
        "email": "plain@example.com",
        "total_price": "12.00",
    }
    run = start_run(recipe, connection, order)
    wait_for(lambda: finished_runs(recipe), "the run to finish")
    run.refresh_from_db()
    assert run.status == Run.Status.FAILED

    log_in_to_engine(page, live_server.url, owner.username, OWNER_PASSWORD)
    page.goto(f"{live_server.url}/runs/?status=failed")
    row = page.locator(f"#run-{run.pk}")
    expect(row).to_have_attribute("data-status", "failed")
    row.get_by_role("link", name=f"Run #{run.pk}").click()

    expect(page.locator("#run-status")).to_have_text("Failed")
    reason = page.locator("#run-failure-reason")
    step_error = page.locator("#step-0-error")
    for text in (reason.inner_text(), step_error.inner_text()):
        for word in words:
            assert word in text, f"{word!r} not in {text!r}"
        # Plain words: a sentence for people, not a traceback, a status line or raw JSON.
        assert not re.search(r"Traceback|Exception|Error\(|HTTP \d{3}|[{}\[\]]|\\n", text), text
    expect(page.locator("#step-0")).to_have_attribute("data-status", "failed")
