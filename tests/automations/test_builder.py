"""The recipe builder: saving drafts, per-field problems, live preview, picker, test runs,
the on/off switch and delete, and that nothing of one merchant is reachable by another."""

import json
import uuid
from pathlib import Path

import pytest
from django.contrib.auth import get_user_model
from django.test import Client

from automations.builder import picker
from automations.documents import create_recipe
from automations.models import Recipe, RecipeVersion, Run, Subscription
from connectors.models import Connection

EXAMPLE = Path(__file__).resolve().parents[2] / "docs" / "examples" / "new-order-discount.json"

pytestmark = pytest.mark.django_db


def example() -> dict:
    return json.loads(EXAMPLE.read_text())


def persona(name: str) -> tuple:
    """A merchant with one (offline) shop and a logged-in browser."""
    user = get_user_model().objects.create_user(name, password="x")
    shop = Connection.objects.create(
        owner=user,
        shop_id=f"shop_{name}",
        shop_name=f"{name} Tees",
        shop_domain=f"{name}.example",
        access_token="a",
        refresh_token="r",
    )
    browser = Client()
    browser.force_login(user)
    return user, shop, browser


@pytest.fixture
def alice():
    return persona("alice")


@pytest.fixture
def bob():
    return persona("bob")


def post_json(browser: Client, url: str, document) -> dict:
    response = browser.post(
        url, json.dumps({"document": document}), content_type="application/json"
    )
    assert response.status_code == 200
    return response.json()


def discount_chain(code: str) -> dict:
    """New Order → Find Customer → Create Discount."""
    return {
        "format": "cartly-automations/recipe@1",
        "name": "Discount for every order",
        "trigger": "cartly.order_created",
        "steps": [
            {
                "key": "customer",
                "operation": "cartly.find_customer",
                "fields": {"email": "{{ trigger.email }}"},
                "if_not_found": "continue",
            },
            {
                "key": "discount",
                "operation": "cartly.create_discount",
                "fields": {"code": code, "kind": "percentage", "value": "10", "usage_limit": "1"},
            },
        ],
    }


# --- access -----------------------------------------------------------------------------------


def test_it_requires_login(client, alice):
    recipe = create_recipe(alice[0], alice[1], example())
    for url in (
        "/recipes/",
        "/recipes/new/",
        f"/recipes/{recipe.pk}/edit/",
        f"/recipes/{recipe.pk}/test/",
    ):
        response = client.get(url)
        assert response.status_code == 302
        assert response["Location"].startswith("/login/")
    assert (
        client.post("/recipes/preview/", "{}", content_type="application/json").status_code == 302
    )
    assert client.post(f"/recipes/{recipe.pk}/toggle/").status_code == 302


def test_it_hides_another_users_recipe(alice, bob):
    recipe = create_recipe(alice[0], alice[1], example())
    _, _, intruder = bob
    for url in ("edit", "test", "delete"):
        assert intruder.get(f"/recipes/{recipe.pk}/{url}/").status_code == 404
    for url in ("edit", "test", "toggle", "delete"):
        assert intruder.post(f"/recipes/{recipe.pk}/{url}/").status_code == 404
    assert Recipe.objects.filter(pk=recipe.pk, name=example()["name"]).exists()
    assert example()["name"] not in intruder.get("/recipes/").content.decode()


def test_it_refuses_another_users_connection(alice, bob):
    _, _, browser = alice
    response = browser.post(
        "/recipes/new/",
        {
            "document": json.dumps(example()),
            "connection": bob[1].pk,
        },
    )
    assert response.status_code == 422
    assert "Choose one of your connected shops" in response.content.decode()
    assert not Recipe.objects.exists()


# --- saving -----------------------------------------------------------------------------------


def test_it_creates_a_recipe_from_a_draft_document(alice):
    user, shop, browser = alice
    response = browser.post(
        "/recipes/new/",
        {
            "document": json.dumps(example()),
            "connection": shop.pk,
        },
    )
    recipe = Recipe.objects.get(owner=user)
    assert response.status_code == 302
    assert response["Location"] == f"/recipes/{recipe.pk}/edit/"
    assert recipe.connection == shop and not recipe.enabled
    assert [s.key for s in recipe.steps.all()] == ["customer", "discount"]
    assert RecipeVersion.objects.get(recipe=recipe).document["steps"][1]["fields"]["code"] == (
        "THANKS-{{ trigger.number }}"
    )


def test_it_saves_an_edit_as_a_new_version(alice):
    user, shop, browser = alice
    recipe = create_recipe(user, shop, example())
    document = example()
    document["steps"][1]["fields"]["value"] = "15"
    response = browser.post(
        f"/recipes/{recipe.pk}/edit/",
        {
            "document": json.dumps(document),
            "name": "Bigger thanks",
        },
    )
    assert response.status_code == 302
    recipe.refresh_from_db()
    assert (recipe.version, recipe.name) == (2, "Bigger thanks")
    assert recipe.steps.get(key="discount").fields["value"] == "15"


def test_it_shows_problems_by_field_when_saving_fails(alice):
    _, shop, browser = alice
    document = example()
    document["steps"][1]["fields"]["code"] = "THANKS-{{ trigger.number"
    response = browser.post(
        "/recipes/new/",
        {
            "document": json.dumps(document),
            "connection": shop.pk,
        },
    )
    page = response.content.decode()
    assert response.status_code == 422
    assert 'data-path="steps[1].fields.code"' in page
    assert "Line 1, column 25" in page
    assert not Recipe.objects.exists()
    # The page keeps the merchant's draft, so nothing typed is lost.
    assert "THANKS-{{ trigger.number" in response.context["document_json"]


def test_it_validates_a_draft_per_field_with_line_and_column(alice):
    document = example()
    document["steps"][1]["fields"]["code"] = "THANKS-{{ trigger.number"
    document["steps"][0]["fields"]["email"] = "{{ steps.discount.code }}"
    problems = post_json(alice[2], "/recipes/validate/", document)["problems"]
    by_path = {p["path"]: p["message"] for p in problems}
    assert by_path["steps[1].fields.code"].startswith("Line 1, column 25:")
    assert "runs at or after this step" in by_path["steps[0].fields.email"]
    assert post_json(alice[2], "/recipes/validate/", example())["problems"] == []


# --- preview and picker -------------------------------------------------------------------------


def test_it_previews_each_field_against_the_sample(alice):
    document = example()
    document["steps"][1]["fields"]["code"] = "THANKS-{{ trigger.number }}-{{ steps.customer.id }}"
    fields = post_json(alice[2], "/recipes/preview/", document)["fields"]
    assert fields["steps[1].fields.code"] == {"value": "THANKS-1001-cus_SAMPLE00000000000000000001"}
    assert fields["steps[0].fields.email"] == {"value": "jane.sample@example.com"}


def test_it_names_the_field_of_a_missing_value(alice):
    document = example()
    document["steps"][1]["fields"]["code"] = "{{ trigger.coupon }}"
    answer = post_json(alice[2], "/recipes/preview/", document)["fields"]["steps[1].fields.code"]
    assert answer["error"].startswith('"Code":')
    assert "trigger.coupon" in answer["error"]


def test_it_previews_a_draft_that_is_not_valid_yet(alice):
    answer = post_json(
        alice[2],
        "/recipes/preview/",
        {"trigger": "cartly.order_created", "steps": [{"key": "x"}, "junk"]},
    )
    assert answer["fields"] == {} and "trigger" in answer["sources"]
    assert post_json(alice[2], "/recipes/preview/", ["not", "a", "document"])["fields"] == {}


def test_it_reports_the_recipe_filter_on_the_sample(alice):
    document = example()
    document["filter"]["conditions"][0]["value"] = "100"
    filters = post_json(alice[2], "/recipes/preview/", document)["filters"]
    assert filters["filter"]["passed"] is False
    assert "39.80" in filters["filter"]["reason"]


def test_it_offers_trigger_values_and_earlier_outputs_only(alice):
    answer = post_json(alice[2], "/recipes/preview/", example())
    assert answer["pickers"] == {
        "filter": ["trigger"],
        "steps[0]": ["trigger"],
        "steps[1]": ["trigger", "steps.customer"],
    }
    trigger_paths = picker.paths(answer["sources"]["trigger"])
    assert {"trigger.customer.email", "trigger.line_items.0.sku", "trigger.total_price"} <= set(
        trigger_paths
    )
    customer = answer["sources"]["steps.customer"]
    assert "steps.customer.created" in picker.paths(customer)
    assert "steps.discount" not in answer["sources"]  # no step comes after the last one
    leaf = next(c for c in answer["sources"]["trigger"]["children"] if c["name"] == "line_items")
    assert leaf["children"][0]["children"][0]["ref"] == "trigger.line_items[0].variant_id"


def test_it_builds_the_picker_from_earlier_steps_only():
    document = example()
    first = [tree["path"] for tree in picker.available_values(document, 0)]
    second = [tree["path"] for tree in picker.available_values(document, 1)]
    assert first == ["trigger"]
    assert second == ["trigger", "steps.customer"]


# --- pages ------------------------------------------------------------------------------------


def test_it_shows_the_recipe_read_only_without_javascript(alice):
    user, shop, browser = alice
    recipe = create_recipe(user, shop, example())
    page = browser.get(f"/recipes/{recipe.pk}/edit/").content.decode()
    assert 'id="recipe-summary"' in page
    assert "Find or Create Customer" in page and "THANKS-{{ trigger.number }}" in page
    assert 'id="builder-data"' in page and "automations/builder/main.js" in page


def test_it_lists_recipes_with_their_state_at_cartly(alice, django_assert_max_num_queries):
    user, shop, browser = alice
    recipe = create_recipe(user, shop, example())
    Recipe.objects.filter(pk=recipe.pk).update(enabled=True)
    Subscription.objects.create(
        connection=shop,
        event_type="order.created",
        status=Subscription.Status.FAILED,
        status_reason="Cartly refused the URL",
    )
    other = create_recipe(user, shop, {**example(), "name": "Second"})
    with django_assert_max_num_queries(8):
        page = browser.get("/recipes/").content.decode()
    assert "Could not register: Cartly refused the URL" in page
    assert f'id="toggle-{recipe.pk}"' in page and 'aria-checked="true"' in page
    # An off recipe's switch says "Off" itself: no badge repeats it.
    assert f'id="toggle-{other.pk}"' in page and 'aria-checked="false"' in page
    assert f'id="switch-state-{other.pk}"' not in page and "New Order" in page
    Subscription.objects.update(status=Subscription.Status.ACTIVE, status_reason="")
    assert ">Active<" in browser.get("/recipes/").content.decode()


def test_it_moves_a_recipe_to_the_trash_after_confirmation(alice):
    user, shop, browser = alice
    recipe = create_recipe(user, shop, example())
    assert "confirm-delete" in browser.get(f"/recipes/{recipe.pk}/delete/").content.decode()
    assert Recipe.objects.get(pk=recipe.pk).deleted_at is None
    response = browser.post(f"/recipes/{recipe.pk}/delete/")
    assert response.status_code == 302
    recipe.refresh_from_db()
    assert recipe.deleted_at is not None and not recipe.enabled
    assert f'id="recipe-{recipe.pk}"' not in browser.get("/recipes/").content.decode()
    assert f'id="trashed-{recipe.pk}"' in browser.get("/recipes/trash/").content.decode()


# --- against the sandbox shop -----------------------------------------------------------------


def logged_in(user) -> Client:
    browser = Client()
    browser.force_login(user)
    return browser


def discount_codes(sandbox) -> str:
    return sandbox.merchant_session().get(f"{sandbox.base_url}/discounts/", timeout=30).text


def test_it_dry_runs_without_performing_actions(sandbox, connection):
    code = f"DRY-{uuid.uuid4().hex[:8].upper()}"
    document = discount_chain(code + "-{{ trigger.number }}")
    recipe = create_recipe(connection.owner, connection, document)
    response = logged_in(connection.owner).post(f"/recipes/{recipe.pk}/test/", {"source": "sample"})
    page = response.content.decode()
    report = response.context["report"]
    assert response.status_code == 200
    assert [s.status for s in report.steps] == ["not_found", "would_send"]
    assert report.steps[0].results == []  # the search really asked the shop
    assert report.steps[1].sent["code"] == f"{code}-1001"
    assert f"{code}-1001" in page and "Nothing was sent to Cartly" in page
    assert code not in discount_codes(sandbox)
    assert not Run.objects.exists()


def test_it_performs_actions_in_a_live_test(sandbox, connection):
    code = f"LIVE-{uuid.uuid4().hex[:8].upper()}"
    recipe = create_recipe(connection.owner, connection, discount_chain(code))
    response = logged_in(connection.owner).post(
        f"/recipes/{recipe.pk}/test/", {"source": "sample", "live": "on"}
    )
    report = response.context["report"]
    assert [s.status for s in report.steps] == ["not_found", "sent"]
    assert report.steps[1].output["code"] == code
    assert code in discount_codes(sandbox)
    assert not Run.objects.exists()


def test_it_tests_with_the_shops_latest_order(sandbox, connection):
    made = sandbox.sandbox_event("order.created")
    recipe = create_recipe(connection.owner, connection, discount_chain("X-{{ trigger.id }}"))
    report = (
        logged_in(connection.owner)
        .post(f"/recipes/{recipe.pk}/test/", {"source": "latest"})
        .context["report"]
    )
    assert report.trigger_data["id"] == made[-1]["ids"]["order_id"]
    assert report.steps[1].sent["code"] == f"X-{made[-1]['ids']['order_id']}"


def test_it_explains_a_step_that_cannot_be_rendered(sandbox, connection):
    recipe = create_recipe(connection.owner, connection, discount_chain("{{ trigger.coupon }}"))
    report = (
        logged_in(connection.owner)
        .post(f"/recipes/{recipe.pk}/test/", {"source": "sample"})
        .context["report"]
    )
    assert report.steps[1].status == "failed"
    assert '"Code"' in report.steps[1].message and "trigger.coupon" in report.steps[1].message


def test_it_turns_a_recipe_on_and_off(sandbox, connection):
    recipe = create_recipe(connection.owner, connection, example())
    browser = logged_in(connection.owner)
    response = browser.post(f"/recipes/{recipe.pk}/toggle/", {"next": "/recipes/"})
    assert response.status_code == 302 and response["Location"] == "/recipes/"
    recipe.refresh_from_db()
    assert recipe.enabled
    assert (
        Subscription.objects.filter(connection=connection, event_type="order.created")
        .exclude(status="deleted")
        .exists()
    )
    browser.post(f"/recipes/{recipe.pk}/toggle/", {"next": "https://evil.example/"})
    recipe.refresh_from_db()
    assert not recipe.enabled
