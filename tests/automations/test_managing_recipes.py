"""Recipes as things a merchant manages: duplicate, export and import, versions and their
diff, restore, the trash and its purge, and that none of it reaches another merchant."""

import json
from datetime import timedelta

import pytest
from django.core.management import call_command
from django.test import Client
from django.utils import timezone

from automations import transfer, trash
from automations.builder import versions
from automations.documents import EXPORT_FORMAT, apply_document, recipe_to_document
from automations.models import Recipe, RecipeVersion, Run
from automations.subscriptions import CannotEnable, enable_recipe
from automations.tasks_trash import purge_trash
from tests.personas import make_recipe, make_run, order

pytestmark = pytest.mark.django_db


def changed(recipe: Recipe, **fields) -> Recipe:
    doc = recipe_to_document(recipe)
    doc["steps"][1]["fields"].update(fields)
    return apply_document(recipe, doc)


# --- duplicate, export, import ----------------------------------------------------------------


def test_it_duplicates_the_current_version_as_a_new_recipe_that_is_off(recipe):
    Recipe.objects.filter(pk=recipe.pk).update(enabled=True)
    copy = transfer.duplicate(recipe)
    assert (copy.name, copy.enabled, copy.version) == ("Copy of Thank buyers", False, 1)
    assert recipe_to_document(copy)["steps"] == recipe_to_document(recipe)["steps"]


def test_it_exports_what_the_command_exports(browser, merchant, shop, recipe, tmp_path):
    make_recipe(merchant, shop, "Second")
    trash.move_to_trash(make_recipe(merchant, shop, "Binned"))
    page = browser.get("/recipes/export/")
    assert page["Content-Disposition"] == 'attachment; filename="recipes.json"'
    from_page = json.loads(page.content)
    out = tmp_path / "export.json"
    call_command("export_recipes", "--user", merchant.username, "--output", str(out))
    assert from_page == json.loads(out.read_text())
    assert from_page["format"] == EXPORT_FORMAT
    assert [d["name"] for d in from_page["recipes"]] == ["Second", "Thank buyers"]
    one = json.loads(browser.get(f"/recipes/{recipe.pk}/export/").content)
    assert one == recipe_to_document(recipe)


def test_it_imports_an_upload_all_or_nothing(browser, merchant, shop, recipe):
    good = recipe_to_document(recipe) | {"name": "From a file"}
    bad = good | {"name": "Broken", "trigger": "cartly.nope"}
    wrapper = {"format": EXPORT_FORMAT, "recipes": [good, bad]}
    page = browser.post(
        "/recipes/import/", {"connection": shop.pk, "file": upload("two.json", json.dumps(wrapper))}
    )
    assert page.status_code == 422
    assert "recipes[1]: trigger: Unknown trigger" in page.content.decode()
    assert not Recipe.objects.filter(name="From a file").exists()
    page = browser.post(
        "/recipes/import/", {"connection": shop.pk, "file": upload("one.json", json.dumps(good))}
    )
    assert page.status_code == 302
    made = Recipe.objects.get(name="From a file")
    assert (made.owner, made.connection, made.enabled) == (merchant, shop, False)


@pytest.mark.parametrize(
    "raw, words",
    [
        (b"\xff\xfe", "not UTF-8"),
        (b"{", "not valid JSON"),
        (b"[" * 100_000 + b"]" * 100_000, "nested too deeply"),
        (json.dumps({"format": EXPORT_FORMAT, "recipes": []}).encode(), "holds no recipe"),
        (json.dumps({"format": EXPORT_FORMAT, "recipes": 3}).encode(), "must be a list"),
        (b" " * (transfer.MAX_UPLOAD_BYTES + 1), "larger than"),
    ],
)
def test_it_refuses_a_file_that_is_no_recipe_with_the_reason(raw, words):
    with pytest.raises(transfer.ImportRefused) as refused:
        transfer.parse_file(raw)
    assert words in str(refused.value)


def test_an_outsider_cannot_import_into_a_shop_that_is_not_theirs(client, outsider, shop, recipe):
    client.force_login(outsider)
    page = client.post(
        "/recipes/import/",
        {"connection": shop.pk, "file": upload("x.json", json.dumps(recipe_to_document(recipe)))},
    )
    assert page.status_code == 422 and Recipe.objects.count() == 1


def upload(name: str, text: str):
    from django.core.files.uploadedfile import SimpleUploadedFile

    return SimpleUploadedFile(name, text.encode(), content_type="application/json")


# --- versions ---------------------------------------------------------------------------------


def test_it_reads_a_version_as_lines_and_diffs_two(recipe):
    changed(recipe, value="15", minimum_subtotal="20.00")
    old, new = (RecipeVersion.objects.get(recipe=recipe, version=n).document for n in (1, 2))
    lines = versions.diff(old, new)
    assert [(x.kind, x.text) for x in lines if x.kind != "same"] == [
        ("removed", "    Value: 10"),
        ("added", "    Value: 15"),
        ("added", "    Minimum subtotal: 20.00"),
    ]
    assert "Only go on if all of:" in versions.readable_lines(new)
    assert versions.diff(new, new) == [
        versions.DiffLine("same", t) for t in versions.readable_lines(new)
    ]


def test_a_diff_shows_what_it_has_no_words_for(recipe):
    doc = recipe_to_document(recipe)
    odd = dict(doc, steps=[*doc["steps"], {"key": "later", "delay": {"minutes": 5}}])
    assert 'delay: {"minutes": 5}' in "\n".join(versions.readable_lines(odd))


def test_it_restores_a_version_as_a_new_one(browser, recipe):
    changed(recipe, value="15")
    page = browser.post(f"/recipes/{recipe.pk}/versions/1/restore/")
    assert page.status_code == 302
    recipe.refresh_from_db()
    assert recipe.version == 3
    assert RecipeVersion.objects.get(recipe=recipe, version=3).document == (
        RecipeVersion.objects.get(recipe=recipe, version=1).document
    )
    body = browser.get(f"/recipes/{recipe.pk}/versions/?from=2&to=3").content.decode()
    assert "Value: 15" in body and "Value: 10" in body


def test_versions_and_exports_are_the_owners_only(client, outsider, recipe):
    client.force_login(outsider)
    for url in (f"/recipes/{recipe.pk}/versions/", f"/recipes/{recipe.pk}/export/"):
        assert client.get(url).status_code == 404
    for url in (
        f"/recipes/{recipe.pk}/duplicate/",
        f"/recipes/{recipe.pk}/versions/1/restore/",
        f"/recipes/trash/{recipe.pk}/restore/",
    ):
        assert client.post(url).status_code == 404
    assert Recipe.objects.count() == 1 and recipe.versions.count() == 1


# --- the trash --------------------------------------------------------------------------------


def test_a_recipe_in_the_trash_is_off_cannot_be_turned_on_and_keeps_its_runs(browser, recipe):
    run = make_run(recipe, order(1001))
    trash.move_to_trash(recipe)
    recipe.refresh_from_db()
    assert not recipe.enabled
    with pytest.raises(CannotEnable, match="in the trash"):
        enable_recipe(recipe)
    assert browser.get(f"/runs/{run.pk}/").status_code == 200
    assert browser.get(f"/recipes/{recipe.pk}/edit/").status_code == 302  # to the trash page
    assert f'id="recipe-{recipe.pk}"' not in browser.get("/recipes/").content.decode()
    assert "Thank buyers" not in browser.get("/").content.decode().split("recent-failures")[0]


def test_beat_purges_the_trash_after_the_retention(settings, recipe, merchant, shop):
    settings.TRASH_RETENTION_DAYS = 30
    make_run(recipe, order(1001))
    fresh = trash.move_to_trash(make_recipe(merchant, shop, "Binned today"))
    trash.move_to_trash(recipe)
    Recipe.objects.filter(pk=recipe.pk).update(deleted_at=timezone.now() - timedelta(days=31))
    assert purge_trash() == 1
    assert not Recipe.objects.filter(pk=recipe.pk).exists()
    assert not Run.objects.exists()  # its runs went with it, once the retention was over
    assert Recipe.objects.filter(pk=fresh.pk).exists()
    assert purge_trash() == 0
    assert "purge-trash" in settings.CELERY_BEAT_SCHEDULE


def test_deleting_for_good_from_the_trash(browser, recipe):
    assert browser.post(f"/recipes/trash/{recipe.pk}/delete/").status_code == 404  # not binned
    trash.move_to_trash(recipe)
    assert browser.post(f"/recipes/trash/{recipe.pk}/delete/").status_code == 302
    assert not Recipe.objects.exists()


def test_an_outsider_sees_no_trash_but_their_own(client, outsider, recipe):
    trash.move_to_trash(recipe)
    client.force_login(outsider)
    assert "Thank buyers" not in client.get("/recipes/trash/").content.decode()
    assert client.post(f"/recipes/trash/{recipe.pk}/delete/").status_code == 404
    assert Recipe.objects.exists()


def test_the_api_and_the_command_skip_the_trash(merchant, shop, recipe, tmp_path):
    trash.move_to_trash(recipe)
    out = tmp_path / "all.json"
    call_command("export_recipes", "--output", str(out))
    assert json.loads(out.read_text())["recipes"] == []
    assert Client().get("/recipes/trash/").status_code == 302  # pages need a login
