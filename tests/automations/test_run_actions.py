"""Safe retry and replay on the run page and the API: the failed step retried with the current
version, every attempt kept, "Retry now" on a step that only waits, cancel a waiting run, a
replay that names what it repeats, and "Waiting for Cartly since …"."""

import json
from datetime import timedelta

import pytest
from django.test import Client
from django.utils import timezone

from accounts.models import ApiToken
from automations import history, run_page, run_tree
from automations.documents import apply_document, recipe_to_document
from automations.models import Run, StepAttempt, StepRun
from connectors import ratelimit
from connectors.models import ShopCircuit
from tests.personas import add_failed_steps, make_recipe, make_run, make_shop, order

pytestmark = pytest.mark.django_db


def failed_run(recipe) -> tuple[Run, StepRun, StepRun]:
    run = make_run(
        recipe,
        order(1001, email="ana@example.com"),
        Run.Status.FAILED,
        reason="Step 2 (discount): Cartly refused the discount.",
    )
    customer, discount = add_failed_steps(run)
    return run, customer, discount


def fix_the_code(recipe) -> None:
    doc = recipe_to_document(recipe)
    doc["steps"][1]["fields"]["code"] = "FIXED-{{ trigger.number }}"
    apply_document(recipe, doc)


def waiting_run(recipe, kind: str = "retry", **fields) -> tuple[Run, StepRun]:
    run = make_run(recipe, order(1003), Run.Status.WAITING, reason="Cartly answered 503")
    step = StepRun.objects.create(
        run=run,
        position=0,
        key="customer",
        operation="cartly.find_or_create_customer",
        status=StepRun.Status.WAITING,
        wait_kind=kind,
        attempts=2,
        status_code=503,
        rendered_input={"email": "x@example.com"},
        error="Cartly answered 503",
        first_attempt_at=timezone.now() - timedelta(minutes=20),
        next_attempt_at=timezone.now() + timedelta(minutes=30),
        **fields,
    )
    return run, step


# --- what the page offers --------------------------------------------------------------------


def test_it_offers_retry_first_on_a_failed_run_naming_what_a_replay_repeats(recipe):
    run, customer, discount = failed_run(recipe)
    offer = run_page.offer(run, run_page.ordered_rows(run))
    assert offer.retry_step == discount
    assert not offer.versions_differ and offer.replay and not offer.replay_tucked
    assert offer.repeats == ["Find or Create Customer (customer)"]  # the discount failed


def test_it_offers_the_current_version_once_the_recipe_changed(recipe):
    run, _, _ = failed_run(recipe)
    fix_the_code(recipe)
    run.recipe.refresh_from_db()
    assert run_page.offer(run, run_page.ordered_rows(run)).versions_differ


def test_it_tucks_replay_away_on_a_succeeded_run(recipe):
    run = make_run(recipe, order(1001))
    offer = run_page.offer(run, [])
    assert offer.replay_tucked and offer.retry_step is None and offer.wait is None


def test_it_counts_a_loops_actions_in_what_a_replay_repeats(recipe):
    run = make_run(recipe, order(1001))
    for index in range(3):
        StepRun.objects.create(
            run=run,
            position=0,
            address=f"0.i{index}.0",
            key="restock",
            operation="cartly.adjust_inventory",
            status=StepRun.Status.SUCCEEDED,
        )
    StepRun.objects.create(
        run=run,
        position=1,
        key="lookup",
        operation="cartly.find_customer",
        status=StepRun.Status.SUCCEEDED,
    )  # a search repeats nothing
    assert run_page.replay_repeats(run_page.ordered_rows(run)) == [
        "Adjust Inventory (restock), 3 times"
    ]


def test_the_failed_step_is_the_last_failed_one_in_reading_order(recipe):
    run = make_run(recipe, order(1001), Run.Status.FAILED)
    went_on = StepRun.objects.create(
        run=run, position=0, key="a", status="failed", operation="cartly.create_customer"
    )
    ended = StepRun.objects.create(
        run=run, position=1, key="b", status="failed", operation="cartly.create_discount"
    )
    assert went_on.pk and run_page.failed_step(run_page.ordered_rows(run)) == ended


# --- retry from the failed step ------------------------------------------------------------


def test_it_retries_the_failed_step_with_the_current_version(browser, recipe):
    run, customer, discount = failed_run(recipe)
    fix_the_code(recipe)
    body = browser.get(f"/runs/{run.pk}/").content.decode()
    assert 'id="retry-current" checked' in body and "v2" in body

    response = browser.post(f"/runs/{run.pk}/retry/", {"version": "current"}, follow=True)

    assert (
        "Retrying from step 2 (discount) with version 2 of the recipe." in response.content.decode()
    )
    run.refresh_from_db()
    discount.refresh_from_db()
    assert (run.status, run.recipe_version) == (Run.Status.RUNNING, 2)
    # Cartly refused the old input, so the step is filled in again under a fresh key.
    assert discount.status == StepRun.Status.PENDING and discount.rendered_input is None
    assert discount.generation == 1
    kept = StepAttempt.objects.get(step_run=discount)
    assert (kept.status, kept.recipe_version, kept.status_code) == ("failed", 1, 422)
    assert kept.rendered_input["code"] == "THANKS-1001"
    customer.refresh_from_db()
    assert customer.status == StepRun.Status.SUCCEEDED  # kept, not run again


def test_it_says_why_a_retry_with_the_current_version_cannot_go_on(browser, recipe):
    run, _, _ = failed_run(recipe)
    doc = recipe_to_document(recipe)
    doc["steps"][0]["key"] = "buyer"  # the step before the failed one changed
    doc["steps"][1]["fields"]["code"] = "X-{{ steps.buyer.id }}"
    apply_document(recipe, doc)
    response = browser.post(f"/runs/{run.pk}/retry/", {"version": "current"}, follow=True)
    assert "Replay the whole run instead" in response.content.decode()
    run.refresh_from_db()
    assert run.status == Run.Status.FAILED


def test_it_shows_every_attempt_of_a_step(browser, recipe):
    run, _, discount = failed_run(recipe)
    StepAttempt.objects.create(
        step_run=discount,
        number=1,
        status="failed",
        recipe_version=1,
        rendered_input={"code": "OLD-1001"},
        status_code=503,
        error="Cartly answered 503",
        started_at=timezone.now(),
    )
    body = browser.get(f"/runs/{run.pk}/").content.decode()
    assert 'id="step-1-attempts"' in body and "Earlier attempts (1)" in body
    assert "OLD-1001" in body and "Cartly answered 503" in body and "recipe v1" in body
    assert "THANKS-1001" in body  # the latest attempt, on the step itself


# --- replay ----------------------------------------------------------------------------------


def test_a_replay_that_repeats_actions_needs_a_confirmation(browser, recipe):
    run, _, _ = failed_run(recipe)
    body = browser.get(f"/runs/{run.pk}/").content.decode()
    assert "Find or Create Customer (customer)" in body and 'id="replay-confirm"' in body
    refused = browser.post(f"/runs/{run.pk}/replay/", {"version": "original"}, follow=True)
    assert "Nothing was replayed" in refused.content.decode()
    assert not Run.objects.filter(replay_of=run).exists()
    browser.post(f"/runs/{run.pk}/replay/", {"version": "original", "confirm": "yes"})
    assert Run.objects.filter(replay_of=run).count() == 1


def test_a_failure_fixed_by_a_replay_leaves_the_recent_failures(browser, merchant, recipe):
    run, _, _ = failed_run(recipe)
    still = make_run(recipe, order(1002), Run.Status.FAILED, reason="Another one")
    assert [r.pk for r in history.recent_failures(merchant)] == [still.pk, run.pk]
    Run.objects.create(
        recipe=recipe, event=run.event, recipe_version=1, replay_of=run, status=Run.Status.SUCCEEDED
    )
    assert [r.pk for r in history.recent_failures(merchant)] == [still.pk]
    body = browser.get(f"/runs/{run.pk}/").content.decode()
    assert 'id="run-fixed"' in body
    dashboard = browser.get("/").content.decode()
    assert f'href="/runs/{still.pk}/"' in dashboard and f'href="/runs/{run.pk}/"' not in dashboard


# --- waiting runs: retry now, cancel, "waiting for Cartly since" ----------------------------


def test_it_says_what_a_retrying_run_waits_for_and_retries_it_now(browser, recipe):
    run, step = waiting_run(recipe)
    body = browser.get(f"/runs/{run.pk}/").content.decode()
    assert "Waiting for Cartly since" in body and 'id="run-next-attempt"' in body
    assert 'id="retry-now-button"' in body and 'id="cancel-button"' in body
    assert 'id="retry-button"' not in body  # "retry now" replaces retry on a waiting step

    response = browser.post(f"/runs/{run.pk}/retry-now/", follow=True)

    assert "Trying step 1 (customer) again now." in response.content.decode()
    step.refresh_from_db()
    assert step.next_attempt_at <= timezone.now() and step.status == StepRun.Status.WAITING


def test_a_run_held_by_an_open_circuit_waits_since_it_opened(browser, recipe, shop):
    opened = timezone.now() - timedelta(hours=1)
    ShopCircuit.objects.create(
        shop_key=ratelimit.shop_key(shop.shop_id),
        state=ShopCircuit.State.OPEN,
        opened_at=opened,
        probe_at=timezone.now() + timedelta(minutes=5),
        last_error="Cartly answered 500",
    )
    run, _ = waiting_run(recipe, kind="circuit")
    wait = run_page.wait_of(run, run_page.ordered_rows(run))
    assert (wait.since, wait.on_service, wait.can_retry_now) == (opened, True, False)
    body = browser.get(f"/runs/{run.pk}/").content.decode()
    assert 'id="retry-now-button"' not in body and "keeps failing" in body
    response = browser.post(f"/runs/{run.pk}/retry-now/", follow=True)
    assert "goes on as soon as it answers again" in response.content.decode()
    dashboard = browser.get("/").content.decode()
    assert 'id="waiting-runs"' in dashboard and f'id="circuit-{shop.pk}"' in dashboard


def test_it_cancels_a_waiting_run_and_refuses_a_finished_one(browser, recipe):
    run, step = waiting_run(recipe, kind="delay")
    response = browser.post(f"/runs/{run.pk}/cancel/", follow=True)
    assert f"Canceled run {run.pk}" in response.content.decode()
    run.refresh_from_db()
    step.refresh_from_db()
    assert (run.status, step.status) == (Run.Status.CANCELED, StepRun.Status.CANCELED)
    again = browser.post(f"/runs/{run.pk}/cancel/", follow=True)
    assert "Only a waiting run can be canceled" in again.content.decode()


def test_the_dashboard_lists_runs_waiting_for_cartly(browser, merchant, recipe):
    run, _ = waiting_run(recipe)
    waits = run_page.waiting_on_service(merchant, {}, limit=5)
    assert [w.step.run_id for w in waits] == [run.pk]
    body = browser.get("/").content.decode()
    assert "Waiting for Cartly" in body and f'href="/runs/{run.pk}/"' in body


def test_nobody_acts_on_another_users_run(client, recipe, outsider):
    run, _ = waiting_run(recipe)
    client.force_login(outsider)
    for action in ("retry-now", "cancel", "retry"):
        assert client.post(f"/runs/{run.pk}/{action}/").status_code == 404
    run.refresh_from_db()
    assert run.status == Run.Status.WAITING


def test_the_buttons_only_act_on_post_with_a_csrf_token(merchant, recipe):
    run, _ = waiting_run(recipe)
    strict = Client(enforce_csrf_checks=True)
    strict.force_login(merchant)
    for action in ("retry-now", "cancel"):
        assert strict.get(f"/runs/{run.pk}/{action}/").status_code == 405
        assert strict.post(f"/runs/{run.pk}/{action}/").status_code == 403
    assert Run.objects.get(pk=run.pk).status == Run.Status.WAITING


# --- nested steps on the run page ------------------------------------------------------------


def test_nested_rows_are_grouped_with_headings_in_words(browser, recipe):
    run = make_run(recipe, order(1001))
    StepRun.objects.create(
        run=run,
        position=0,
        key="each",
        kind="loop",
        status="succeeded",
        items=[{"title": "Blue mug"}, {"sku": "TEE-M"}],
        output={"count": 2, "total": 2},
    )
    for index in range(2):
        StepRun.objects.create(
            run=run,
            position=0,
            address=f"0.i{index}.0",
            key="restock",
            operation="cartly.adjust_inventory",
            status="succeeded",
        )
    StepRun.objects.create(
        run=run,
        position=1,
        key="route",
        kind="paths",
        status="succeeded",
        output={
            "taken": [0],
            "otherwise": False,
            "ran": ["Big order"],
            "branches": [{"label": "Big order", "matched": True, "reason": ""}],
        },
    )
    StepRun.objects.create(
        run=run,
        position=1,
        address="1.b0.0",
        key="vip",
        status="failed",
        operation="cartly.update_customer",
    )
    StepRun.objects.create(
        run=run,
        position=1,
        address="1.b0.0.e.0",
        key="note",
        operation="cartly.update_order",
        status="succeeded",
    )
    headings = [e.heading for e in run_tree.entries(run.pk) if e.heading]
    assert headings == [
        "Item 1 of 2: Blue mug",
        "Item 2 of 2: TEE-M",
        "Path “Big order” ran",
        "Because vip failed, these steps ran instead",
    ]
    body = browser.get(f"/runs/{run.pk}/").content.decode()
    assert "Went over 2 items." in body and 'id="step-0-i1-0"' in body
    assert 'data-matched="yes"' in body


# --- the JSON API ----------------------------------------------------------------------------


@pytest.fixture
def api(merchant) -> Client:
    _, raw = ApiToken.create_for(merchant, "tests")
    return Client(HTTP_AUTHORIZATION=f"Bearer {raw}")


def post(client: Client, url: str, body: dict | None = None):
    return client.post(url, json.dumps(body or {}), content_type="application/json")


def test_the_api_retries_with_the_current_version_and_keeps_the_attempt(api, recipe):
    run, _, discount = failed_run(recipe)
    fix_the_code(recipe)
    response = post(api, f"/api/runs/{run.pk}/retry", {"version": "current"})
    assert response.status_code == 200
    body = response.json()
    assert (body["status"], body["recipe_version"]) == ("running", 2)
    step = next(s for s in body["step_runs"] if s["key"] == "discount")
    assert step["status"] == "pending" and step["where"] == "1"
    assert step["earlier_attempts"][0]["rendered_input"]["code"] == "THANKS-1001"
    again = post(api, f"/api/runs/{run.pk}/retry")
    assert again.status_code == 409 and "no failed step" in again.json()["detail"]


def test_the_api_retries_a_waiting_step_now_and_cancels(api, recipe):
    run, step = waiting_run(recipe)
    assert post(api, f"/api/runs/{run.pk}/retry-now").status_code == 200
    step.refresh_from_db()
    assert step.next_attempt_at <= timezone.now()
    canceled = post(api, f"/api/runs/{run.pk}/cancel")
    assert canceled.status_code == 200 and canceled.json()["status"] == "canceled"
    assert post(api, f"/api/runs/{run.pk}/cancel").status_code == 409
    assert post(api, f"/api/runs/{run.pk}/retry-now").status_code == 409


def test_the_api_hides_another_users_run_from_these_actions(recipe, outsider):
    run, _ = waiting_run(recipe)
    other = make_recipe(outsider, make_shop(outsider))
    assert other.pk
    _, raw = ApiToken.create_for(outsider, "tests")
    theirs = Client(HTTP_AUTHORIZATION=f"Bearer {raw}")
    for action in ("retry", "retry-now", "cancel"):
        assert post(theirs, f"/api/runs/{run.pk}/{action}").status_code == 404
    assert Run.objects.get(pk=run.pk).status == Run.Status.WAITING
