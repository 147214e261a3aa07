"""Recipes as things a merchant manages, in the browser: duplicate, export one or all,
import by upload, compare versions and restore one, delete to the trash and back, while the
runs of a recipe in the trash keep their pages."""

from __future__ import annotations

import json
from typing import TYPE_CHECKING

import pytest

from automations.documents import EXPORT_FORMAT, FORMAT, recipe_to_document
from automations.models import Recipe, RecipeVersion, Run
from tests.e2e.conftest import check_both_widths, log_in_as
from tests.personas import add_failed_steps, make_run, order

if TYPE_CHECKING:
    from playwright.sync_api import Page

expect = pytest.importorskip(
    "playwright.sync_api", reason="Playwright is not installed (pip install -e '.[dev]')"
).expect
pytestmark = [pytest.mark.e2e, pytest.mark.django_db(transaction=True)]
PASSWORD = "merchant-pass-123"


def status(page: Page):
    return page.get_by_role("status").first


def download(page: Page, selector: str) -> dict:
    with page.expect_download() as info:
        page.locator(selector).click()
    return json.loads(open(info.value.path(), encoding="utf-8").read())


def test_duplicate_export_and_import_a_recipe(
    page: Page, live_server, merchant, shop, recipe, tmp_path
):
    log_in_as(page, live_server.url, merchant, PASSWORD)
    page.goto(f"{live_server.url}/recipes/{recipe.pk}/edit/")
    page.locator("#duplicate-recipe").click()
    expect(status(page)).to_contain_text("Made “Copy of Thank buyers”, a copy of “Thank buyers”")
    copy = Recipe.objects.get(name="Copy of Thank buyers")
    assert not copy.enabled and copy.pk != recipe.pk
    assert recipe_to_document(copy)["steps"] == recipe_to_document(recipe)["steps"]

    exported = download(page, "#export-recipe")  # the copy's page: its own document
    assert exported["format"] == FORMAT and exported["name"] == "Copy of Thank buyers"
    page.goto(f"{live_server.url}/recipes/")
    everything = download(page, "#export-all")
    assert everything["format"] == EXPORT_FORMAT
    assert sorted(d["name"] for d in everything["recipes"]) == [
        "Copy of Thank buyers",
        "Thank buyers",
    ]

    exported["name"] = "Imported thanks"
    good = tmp_path / "one.json"
    good.write_text(json.dumps(exported))
    page.locator("#import-recipes").click()
    check_both_widths(page, "the import page")
    page.locator("#id_file").set_input_files(str(good))
    page.locator("#import-submit").click()
    expect(status(page)).to_contain_text("Imported 1 recipe: “Imported thanks”")
    expect(page.locator("table.recipes")).to_contain_text("Imported thanks")

    bad = tmp_path / "bad.json"
    broken = dict(exported, name="Never imported")
    broken["steps"][1]["fields"]["value"] = "ten"
    bad.write_text(json.dumps({"format": EXPORT_FORMAT, "recipes": [exported, broken]}))
    page.locator("#import-recipes").click()
    page.locator("#id_file").set_input_files(str(bad))
    page.locator("#import-submit").click()
    problems = page.locator("#import-problems")
    expect(problems).to_contain_text("Nothing was imported")
    expect(problems).to_contain_text('recipes[1]: steps[1].fields.value: "Value" must be an amount')
    assert Recipe.objects.filter(name="Imported thanks").count() == 1  # all or nothing


def test_compare_versions_and_restore_one(page: Page, live_server, merchant, shop, recipe):
    log_in_as(page, live_server.url, merchant, PASSWORD)
    page.goto(f"{live_server.url}/recipes/{recipe.pk}/edit/")
    value = page.locator("#f-steps-1-fields-value")
    value.fill("15")
    page.locator("#id_name").fill("Thank buyers well")
    page.locator("#save-recipe").click()
    expect(status(page)).to_contain_text("(version 2)")

    page.locator("#recipe-versions").click()
    diff = page.locator("#version-diff .diff")  # each changed line says so to screen readers
    expect(diff.locator(".removed")).to_have_text(
        ["Removed: −Name: Thank buyers", "Removed: −    Value: 10"]
    )
    expect(diff.locator(".added")).to_have_text(
        ["Added: +Name: Thank buyers well", "Added: +    Value: 15"]
    )
    expect(page.locator("#diff-summary")).to_contain_text("4 lines changed")
    check_both_widths(page, "the version history")

    page.locator("#restore-version-1").click()
    expect(status(page)).to_contain_text("Restored version 1 as version 3.")
    recipe.refresh_from_db()
    assert recipe.version == 3 and recipe.name == "Thank buyers"
    v1, v3 = (RecipeVersion.objects.get(recipe=recipe, version=n).document for n in (1, 3))
    assert v1 == v3
    expect(page.locator("#f-steps-1-fields-value")).to_have_value("10")


def test_delete_moves_to_the_trash_keeps_runs_and_restores(
    page: Page, live_server, merchant, shop, recipe
):
    run = make_run(
        recipe,
        order(1001, email="ana@example.com"),
        Run.Status.FAILED,
        reason="Step 2 (discount): Cartly refused the discount.",
    )
    add_failed_steps(run)
    log_in_as(page, live_server.url, merchant, PASSWORD)
    page.goto(f"{live_server.url}/recipes/{recipe.pk}/edit/")
    page.locator("#delete-recipe").click()
    check_both_widths(page, "the delete page")
    page.locator("#confirm-delete").click()
    expect(status(page)).to_contain_text("Moved “Thank buyers” to the trash. Its runs are kept")
    expect(page.locator(f"#recipe-{recipe.pk}")).to_have_count(0)
    recipe.refresh_from_db()
    assert recipe.deleted_at is not None and not recipe.enabled

    page.goto(f"{live_server.url}/runs/{run.pk}/")  # a failure email's link still works
    expect(page.locator("#run-status")).to_have_text("Failed")
    expect(page.locator("#run-recipe")).to_contain_text("in the trash")

    page.goto(f"{live_server.url}/recipes/")
    page.locator("#open-trash").click()
    row = page.locator(f"#trashed-{recipe.pk}")
    expect(row).to_contain_text("Thank buyers")
    check_both_widths(page, "the trash")
    row.get_by_role("button", name="Restore “Thank buyers”").click()
    expect(status(page)).to_contain_text("Restored “Thank buyers”. It is off")
    recipe.refresh_from_db()
    assert recipe.deleted_at is None and not recipe.enabled
    page.goto(f"{live_server.url}/recipes/")
    expect(page.locator(f"#recipe-{recipe.pk}")).to_be_visible()
