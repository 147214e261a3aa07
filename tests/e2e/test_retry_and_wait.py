"""Safe retry, as a merchant: a run fails at Cartly, the merchant fixes the recipe in the
builder and retries the failed step with the current version; a run waiting for Cartly says
since when and until when, is retried now once Cartly answers; a delayed run is canceled."""

from __future__ import annotations

import re
import secrets
from typing import TYPE_CHECKING

import pytest

from automations.models import Run, StepRun
from tests.automations.conftest import finished_runs, start_run, wait_for
from tests.automations.test_step_types import recipe_of
from tests.e2e.conftest import check_both_widths, log_in_to_engine, reload_until
from tests.e2e.test_newcomer_flow import taken_code_recipe

if TYPE_CHECKING:
    from playwright.sync_api import Page

expect = pytest.importorskip(
    "playwright.sync_api", reason="Playwright is not installed (pip install -e '.[dev]')"
).expect
pytestmark = [pytest.mark.e2e, pytest.mark.django_db(transaction=True)]

OWNER_PASSWORD = "shopowner-pass-123"  # tests.automations.conftest's `owner`
# Long enough that a waiting step stays waiting while the test looks at it.
HOUR_LONG_RETRIES = [3600.0, 3600.0, 3600.0, 3600.0]


def an_order(number: int) -> dict:
    return {
        "id": f"ord_E2E{secrets.token_hex(6).upper()}",
        "number": number,
        "email": f"buyer-{number}@example.com",
        "total_price": "12.00",
    }


def status_is(page: Page, status: str):
    return lambda: page.locator(f"#run-status.{status}").count() > 0


def test_a_merchant_fixes_the_recipe_and_retries_with_the_current_version(
    page: Page, engine_url, owner, connection, sandbox, celery_worker
):
    recipe, _ = taken_code_recipe(owner, connection, page, sandbox)
    run = start_run(recipe, connection, an_order(4242))
    wait_for(lambda: finished_runs(recipe), "the run to fail")
    log_in_to_engine(page, engine_url, owner.username, OWNER_PASSWORD)

    failures = page.locator("#recent-failures")
    failures.get_by_role("link", name=f"Run #{run.pk}").click()
    expect(page.locator("#run-status")).to_have_text("Failed")
    # Retry comes first; replaying everything is there, but second and guarded.
    expect(page.locator("#run-retry")).to_contain_text("discount failed")
    expect(page.locator("#retry-current")).to_have_count(0)  # nothing changed yet
    expect(page.locator("#replay-warning")).to_be_visible()
    check_both_widths(page, "a failed run's page")
    run_url = page.url

    page.locator("#run-recipe a").click()
    expect(page.locator("#builder-editor")).to_be_visible()
    page.locator("#f-steps-0-fields-code").fill("FIXED-")
    picker = page.locator("details#f-steps-0-fields-code-picker")
    picker.locator("summary").click()
    picker.locator('button.pick[data-ref="trigger.number"]').click()
    page.locator("#save-recipe").click()
    expect(page.get_by_role("status").first).to_contain_text("(version 2)")

    page.goto(run_url)
    expect(page.locator("#retry-current")).to_be_checked()
    expect(page.locator("label", has=page.locator("#retry-current"))).to_contain_text("v2")
    page.locator("#retry-button").click()
    expect(page.get_by_role("status").first).to_have_text(
        "Retrying from step 1 (discount) with version 2 of the recipe."
    )
    reload_until(page, status_is(page, "succeeded"), "the retried run to succeed")
    expect(page.locator("#step-0 .step-input")).to_contain_text("FIXED-4242")
    attempts = page.locator("#step-0-attempts")
    attempts.locator("> summary").click()
    expect(attempts).to_contain_text("Earlier attempts (1)")
    expect(attempts.locator(".attempt-error")).to_contain_text("already taken")
    expect(attempts.locator(".attempt-input")).not_to_contain_text("FIXED")

    shop = page.context.new_page()
    shop.goto(f"{sandbox.base_url}/discounts/")
    expect(shop.locator("table")).to_contain_text("FIXED-4242")
    page.get_by_role("navigation", name="Main").get_by_role("link", name="Dashboard").click()
    expect(page.locator("#recent-failures")).not_to_contain_text(f"Run #{run.pk}")
    assert Run.objects.get(pk=run.pk).recipe_version == 2


def test_a_waiting_run_is_retried_now_and_a_delayed_one_canceled(
    page: Page, engine_url, owner, connection, sandbox, celery_worker, settings
):
    settings.ENGINE_RETRY_SCHEDULE = HOUR_LONG_RETRIES
    recipe = recipe_of(
        connection,
        "cartly.order_created",
        {
            "key": "buyer",
            "operation": "cartly.find_customer",
            "fields": {"email": "{{ trigger.email }}"},
            "if_not_found": "continue",
        },
    )
    sandbox.set_faults(fault_error_rate=1.0)  # Cartly answers 500 to every call
    try:
        run = start_run(recipe, connection, an_order(5151))
        wait_for(
            lambda: Run.objects.filter(pk=run.pk, status="waiting").exists(),
            "the run to wait for a retry",
        )
    finally:
        sandbox.reset_faults()
    log_in_to_engine(page, engine_url, owner.username, OWNER_PASSWORD)
    waiting = page.locator("#waiting-runs")
    expect(waiting).to_contain_text(re.compile(r"waiting for Cartly since .*next attempt"))
    check_both_widths(page, "the dashboard with a waiting run")
    waiting.get_by_role("link", name=f"Run #{run.pk}").click()
    expect(page.locator("#run-wait-title")).to_contain_text("Waiting for Cartly since")
    expect(page.locator("#run-next-attempt time")).to_be_visible()
    expect(page.locator("#retry-button")).to_have_count(0)  # "retry now" takes its place
    check_both_widths(page, "a waiting run's page")

    page.locator("#retry-now-button").click()
    expect(page.get_by_role("status").first).to_have_text("Trying step 1 (buyer) again now.")
    reload_until(page, status_is(page, "succeeded"), "the run to go on and succeed")
    page.locator("#step-0-attempts > summary").click()
    expect(page.locator("#step-0-attempts .attempt")).to_contain_text("HTTP 500")

    delayed = recipe_of(
        connection,
        "cartly.order_created",
        {"key": "later", "delay": {"for": {"amount": 1, "unit": "hours"}}},
    )
    parked = start_run(delayed, connection, an_order(5152))
    page.goto(f"{engine_url}/runs/{parked.pk}/")
    expect(page.locator("#run-wait-title")).to_contain_text("Waiting until")
    expect(page.locator("#retry-now-button")).to_have_count(0)  # a delay waits for its time
    page.locator("#cancel-button").click()
    expect(page.get_by_role("status").first).to_contain_text(f"Canceled run {parked.pk}")
    expect(page.locator("#run-status")).to_have_text("Canceled")
    assert StepRun.objects.get(run=parked, key="later").status == "canceled"
