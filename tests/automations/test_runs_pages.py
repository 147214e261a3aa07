"""Run history and run detail: filters, search, steps, replay and retry, nothing across users."""

from datetime import timedelta

import pytest
from django.test import Client
from django.utils import timezone

from automations.documents import apply_document, recipe_to_document
from automations.models import Run, StepRun
from tests.personas import add_failed_steps, make_recipe, make_run, make_shop, order

pytestmark = pytest.mark.django_db


def run_ids(response) -> list[int]:
    return [run.pk for run, _ in response.context["rows"]]


# --- the list ------------------------------------------------------------------------------


def test_it_requires_login(client, recipe):
    run = make_run(recipe, order(1001))
    for url in ("/runs/", f"/runs/{run.pk}/"):
        response = client.get(url)
        assert response.status_code == 302 and "/login/" in response["Location"]


def test_it_lists_the_owners_runs_newest_first(browser, recipe, outsider):
    now = timezone.now()
    old = make_run(recipe, order(1001), created_at=now - timedelta(hours=2))
    new = make_run(recipe, order(1002), created_at=now)
    theirs = make_run(make_recipe(outsider, make_shop(outsider)), order(1003))
    response = browser.get("/runs/")
    assert response.status_code == 200
    assert run_ids(response) == [new.pk, old.pk]
    body = response.content.decode()
    assert f'id="run-{new.pk}"' in body and "order #1002" in body
    assert f'id="run-{theirs.pk}"' not in body


def test_it_filters_by_recipe_status_and_dates(browser, merchant, shop, recipe):
    other = make_recipe(merchant, shop, "Tag big spenders")
    now = timezone.now()
    failed = make_run(recipe, order(1001), Run.Status.FAILED, now, "Cartly said no")
    make_run(recipe, order(1002), Run.Status.SUCCEEDED, now)
    other_run = make_run(other, order(1003), Run.Status.FAILED, now)
    last_week = make_run(recipe, order(1004), Run.Status.FAILED, now - timedelta(days=7))

    assert run_ids(browser.get(f"/runs/?recipe={recipe.pk}&status=failed")) == [
        failed.pk,
        last_week.pk,
    ]
    assert run_ids(browser.get(f"/runs/?recipe={other.pk}")) == [other_run.pk]
    today = timezone.localdate().isoformat()
    assert set(run_ids(browser.get(f"/runs/?status=failed&since={today}&until={today}"))) == {
        failed.pk,
        other_run.pk,
    }
    week_ago = (timezone.localdate() - timedelta(days=7)).isoformat()
    assert run_ids(browser.get(f"/runs/?until={week_ago}")) == [last_week.pk]


def test_it_ignores_another_users_recipe_as_a_filter(browser, recipe, outsider):
    theirs = make_recipe(outsider, make_shop(outsider))
    make_run(theirs, order(1001))
    response = browser.get(f"/runs/?recipe={theirs.pk}")
    assert response.status_code == 200
    assert run_ids(response) == []  # an invalid choice: nothing of theirs shows


def test_it_applies_the_valid_filters_and_explains_the_invalid_one(browser, recipe):
    failed = make_run(recipe, order(1001), Run.Status.FAILED)
    make_run(recipe, order(1002), Run.Status.SUCCEEDED)
    response = browser.get("/runs/?status=failed&until=last-tuesday")
    assert run_ids(response) == [failed.pk]
    assert "Enter a valid date." in response.content.decode()


def test_it_finds_runs_by_order_number(browser, recipe):
    wanted = make_run(recipe, order(1001))
    make_run(recipe, order(10010))
    make_run(recipe, order(2001))
    assert run_ids(browser.get("/runs/?q=1001")) == [wanted.pk]
    assert run_ids(browser.get("/runs/?q=%231001")) == [wanted.pk]  # "#1001"


def test_it_finds_runs_by_email_at_the_top_or_in_the_customer(browser, recipe):
    top = make_run(recipe, order(1001, email="Ana@Example.com"))
    nested = make_run(recipe, order(1002, customer_email="ana@example.com"))
    make_run(recipe, order(1003, email="bo@example.com", customer_email="bo@example.com"))
    assert set(run_ids(browser.get("/runs/?q=ana@example.com"))) == {top.pk, nested.pk}
    assert set(run_ids(browser.get("/runs/?q=ANA@EXAMPLE"))) == {top.pk, nested.pk}


def test_it_lists_with_the_same_queries_for_few_or_many_runs(
    browser, recipe, django_assert_num_queries
):
    make_run(recipe, order(1000, email="c0@example.com"))
    with django_assert_num_queries(5):  # session, user, count, page, recipe choices
        response = browser.get("/runs/?status=succeeded&q=example")
    assert len(response.context["rows"]) == 1
    for n in range(1, 30):
        make_run(recipe, order(1000 + n, email=f"c{n}@example.com"))
    with django_assert_num_queries(5):
        response = browser.get("/runs/?status=succeeded&q=example")
    assert len(response.context["rows"]) == 25


def test_it_paginates_keeping_the_filters(browser, recipe):
    for n in range(30):
        make_run(recipe, order(2000 + n), Run.Status.FAILED)
    first = browser.get("/runs/?status=failed")
    assert first.context["page"].paginator.num_pages == 2
    assert 'href="?status=failed&amp;page=2"' in first.content.decode()
    second = browser.get("/runs/?status=failed&page=2")
    assert len(second.context["rows"]) == 5
    assert browser.get("/runs/?page=99").status_code == 200  # past the end: the last page


# --- the detail ----------------------------------------------------------------------------


def test_it_shows_the_trigger_and_each_steps_input_output_and_error(browser, recipe):
    run = make_run(
        recipe,
        order(1001, email="ana@example.com"),
        Run.Status.FAILED,
        reason="Step 2 (discount) failed: code is already taken.",
    )
    add_failed_steps(run)
    body = browser.get(f"/runs/{run.pk}/").content.decode()
    assert "Thank buyers" in body and f"v{run.recipe_version}" in body
    assert "evt_ord_1001" in body and "REST Hook" in body and "order.created" in body
    assert "&quot;number&quot;: 1001" in body  # the pretty trigger payload
    assert 'id="step-0"' in body and 'id="step-1"' in body
    assert "&quot;code&quot;: &quot;THANKS-1001&quot;" in body  # rendered input
    assert "cus_77" in body  # output
    assert "Cartly refused the discount: code is already taken." in body
    assert "has already been taken" in body and "HTTP 422" in body
    assert 'id="retry-button"' in body and 'id="replay-button"' in body


def test_it_hides_another_users_run(client, recipe, outsider):
    run = make_run(recipe, order(1001), Run.Status.FAILED)
    client.force_login(outsider)
    assert client.get(f"/runs/{run.pk}/").status_code == 404
    assert client.post(f"/runs/{run.pk}/replay/").status_code == 404
    assert client.post(f"/runs/{run.pk}/retry/").status_code == 404
    assert Run.objects.count() == 1


def test_it_replays_the_original_version_as_a_new_linked_run(browser, recipe):
    original = make_run(recipe, order(1001), Run.Status.FAILED)
    response = browser.post(f"/runs/{original.pk}/replay/", {"version": "original"}, follow=True)
    replay = Run.objects.get(replay_of=original)
    assert response.redirect_chain[-1][0] == f"/runs/{replay.pk}/"
    assert replay.event_id == original.event_id and replay.recipe_version == 1
    assert [s.key for s in replay.step_runs.all()] == ["customer", "discount"]
    body = response.content.decode()
    assert "Replaying run" in body and f'href="/runs/{original.pk}/"' in body
    assert f'href="/runs/{replay.pk}/"' in browser.get(f"/runs/{original.pk}/").content.decode()


def test_it_replays_with_the_current_version(browser, merchant, recipe):
    original = make_run(recipe, order(1001), Run.Status.SUCCEEDED)
    doc = recipe_to_document(recipe) | {"name": "Thank buyers (v2)"}
    doc["steps"] = doc["steps"][:1]
    apply_document(recipe, doc)
    assert "current version (v2)" in browser.get(f"/runs/{original.pk}/").content.decode().lower()
    browser.post(f"/runs/{original.pk}/replay/", {"version": "current"})
    replay = Run.objects.get(replay_of=original)
    assert replay.recipe_version == 2
    assert [s.key for s in replay.step_runs.all()] == ["customer"]


def test_it_retries_from_the_failed_step(browser, recipe):
    run = make_run(recipe, order(1001), Run.Status.FAILED, reason="code is already taken")
    customer, discount = add_failed_steps(run)
    response = browser.post(f"/runs/{run.pk}/retry/", follow=True)
    assert "Retrying from step 2 (discount)" in response.content.decode()
    discount.refresh_from_db()
    assert discount.status == StepRun.Status.PENDING and discount.generation == 1
    assert discount.error == "" and discount.error_fields is None
    customer.refresh_from_db()
    assert customer.status == StepRun.Status.SUCCEEDED
    run.refresh_from_db()
    assert run.status == Run.Status.RUNNING and run.failure_reason == ""


def test_it_says_why_a_run_cannot_be_retried(browser, recipe):
    run = make_run(recipe, order(1001), Run.Status.SUCCEEDED)
    response = browser.post(f"/runs/{run.pk}/retry/", follow=True)
    assert "This run has no failed step to retry." in response.content.decode()


def test_it_only_replays_on_post_with_a_csrf_token(merchant, recipe):
    run = make_run(recipe, order(1001))
    strict = Client(enforce_csrf_checks=True)
    strict.force_login(merchant)
    assert strict.get(f"/runs/{run.pk}/replay/").status_code == 405
    assert strict.post(f"/runs/{run.pk}/replay/").status_code == 403
    assert strict.post(f"/runs/{run.pk}/retry/").status_code == 403
    assert not Run.objects.filter(replay_of=run).exists()
