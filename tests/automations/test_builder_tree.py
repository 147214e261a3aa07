"""The builder with nested steps: previews, pickers and pills inside loops, paths and
fallbacks; the recipe's "switch off after N failures" without JavaScript; "Test this step"
(searches really run, actions only when sent); "Test this recipe" going through the tree."""

import json
import uuid

import pytest
from django.test import Client

from automations.builder import drafts, scopes
from automations.documents import create_recipe, validate_document
from automations.models import Recipe, Run
from connectors.cartly.client import CartlyClient
from tests.personas import make_shop, make_user

pytestmark = pytest.mark.django_db
FORMAT = "cartly-automations/recipe@2"


def nested(code: str = "ITEM-{{ item.sku }}") -> dict:
    """Order Fulfilled → find the buyer → for each line item a discount → paths by total,
    whose big-order path updates the customer and, should that fail, notes the order."""
    return {
        "format": FORMAT,
        "name": "Nested",
        "trigger": "cartly.order_fulfilled",
        "mode": "instant",
        "turn_off_after_failures": 3,
        "steps": [
            {
                "key": "buyer",
                "operation": "cartly.find_customer",
                "fields": {"email": "{{ trigger.email }}"},
                "if_not_found": "continue",
            },
            {
                "key": "each",
                "loop": {"over": "trigger.line_items"},
                "steps": [
                    {
                        "key": "code",
                        "operation": "cartly.create_discount",
                        "fields": {"code": code, "value": "{{ item.quantity }}"},
                    }
                ],
            },
            {
                "key": "route",
                "paths": {
                    "run": "first",
                    "branches": [
                        {
                            "label": "Big order",
                            "match": "all",
                            "conditions": [
                                {
                                    "field": "trigger.total_price",
                                    "operator": "greater_than",
                                    "value": "10",
                                }
                            ],
                            "steps": [
                                {
                                    "key": "vip",
                                    "operation": "cartly.update_customer",
                                    "fields": {
                                        "customer_id": "{{ trigger.customer.id }}",
                                        "tags": "vip",
                                    },
                                    "on_error": "fallback",
                                    "fallback": [
                                        {
                                            "key": "note",
                                            "operation": "cartly.update_order",
                                            "fields": {
                                                "order_id": "{{ trigger.id }}",
                                                "note": "VIP failed: {{ error.message }}",
                                            },
                                        }
                                    ],
                                }
                            ],
                        }
                    ],
                    "otherwise": [{"key": "wait", "delay": {"until": "{{ trigger.created_at }}"}}],
                },
            },
        ],
    }


def post_json(browser: Client, url: str, body: dict):
    return browser.post(url, json.dumps(body), content_type="application/json")


@pytest.fixture
def merchant_browser(merchant) -> Client:
    browser = Client()
    browser.force_login(merchant)
    return browser


# --- the preview, picker and pills of nested steps ------------------------------------------


def test_the_nested_example_is_a_valid_document():
    assert validate_document(nested()) == []


def test_it_previews_every_nested_field_with_what_it_sees_there(merchant_browser):
    answer = post_json(merchant_browser, "/recipes/preview/", {"document": nested()}).json()
    fields, filters = answer["fields"], answer["filters"]
    assert fields["steps[1].steps[0].fields.code"] == {"value": "ITEM-SAMPLE-TEE-M"}
    assert fields["steps[1].loop.over"]["note"] == "With the sample: 1 item."
    note = "steps[2].paths.branches[0].steps[0].fallback[0].fields.note"
    assert fields[note]["value"].startswith("VIP failed: Cartly refused")
    assert "has passed" in fields["steps[2].paths.otherwise[0].delay.until"]["note"]
    assert filters["steps[2].paths.branches[0]"]["passed"] is True  # 39.80 > 10


def test_the_picker_offers_item_values_in_a_loop_and_the_error_in_a_fallback(merchant_browser):
    answer = post_json(merchant_browser, "/recipes/preview/", {"document": nested()}).json()
    pickers = answer["pickers"]
    assert pickers["steps[1].steps[0]"] == [
        "trigger",
        "steps.buyer",
        "item@steps[1]",
        "loop@steps[1]",
    ]
    fallback = "steps[2].paths.branches[0].steps[0].fallback[0]"
    assert pickers[fallback][-1] == "error@steps[2].paths.branches[0].steps[0]"
    assert "item@steps[1]" not in pickers["steps[2]"]  # an item exists only in its loop
    lists = {choice["path"]: choice for choice in answer["lists"]["steps[1]"]}
    assert lists["trigger.line_items"]["label"] == "Order › Line items"
    assert lists["steps.buyer"]["label"] == "1. Customer: every match"
    item = answer["scoped_pills"]["steps[1]"]
    assert item["item.sku"] == {"label": "Line item › SKU", "example": "SAMPLE-TEE-M"}
    assert item["loop.index"]["label"].startswith("Loop › Item number")
    errors = answer["scoped_pills"]["steps[2].paths.branches[0].steps[0]"]
    assert errors["error.message"]["label"] == "Error › Message"
    assert answer["pills"]["steps.buyer.email"]["label"] == "1. Customer › Email"


def test_the_page_without_javascript_says_what_each_nested_step_does():
    steps = drafts.summary(nested())["steps"]
    assert [(s["label"], s["detail"]) for s in steps] == [
        ("Find Customer", ""),
        ("For each", "For each item of trigger.line_items: 1 step"),
        ("Paths", "Paths: Big order, and otherwise"),
    ]


def test_a_broken_draft_is_walked_without_an_error():
    broken = {
        "trigger": "cartly.order_created",
        "steps": [
            {"key": "x", "loop": "not an object"},
            {"paths": {"branches": [None, {"steps": 3}]}},
            {"key": "y", "operation": "cartly.nope", "on_error": "fallback", "fallback": "no"},
            7,
        ],
    }
    draft = scopes.walk_draft(broken)
    assert [place.path for place in draft.places] == ["steps[0]", "steps[1]", "steps[2]"]


# --- the recipe's own setting, without JavaScript -------------------------------------------


def test_switch_off_after_n_failures_is_a_plain_form_field(merchant_browser, merchant, shop):
    response = merchant_browser.post(
        "/recipes/new/",
        {
            "name": "Counted",
            "trigger": "cartly.order_created",
            "mode": "instant",
            "connection": shop.pk,
            "turn_off_after_failures": "4",
            "document": json.dumps({"format": FORMAT, "steps": []}),
        },
    )
    assert response.status_code == 302
    recipe = Recipe.objects.get(name="Counted")
    assert recipe.turn_off_after_failures == 4
    again = merchant_browser.post(
        f"/recipes/{recipe.pk}/edit/",
        {
            "name": "Counted",
            "turn_off_after_failures": "often",
            "document": json.dumps({"format": FORMAT, "trigger": "cartly.order_created"}),
        },
    )
    assert again.status_code == 422
    assert [p.path for p in again.context["problems"]] == ["turn_off_after_failures"]
    merchant_browser.post(
        f"/recipes/{recipe.pk}/edit/",
        {
            "name": "Counted",
            "turn_off_after_failures": "",
            "document": json.dumps({"format": FORMAT, "trigger": "cartly.order_created"}),
        },
    )
    recipe.refresh_from_db()
    assert recipe.turn_off_after_failures is None


# --- "Test this step" -----------------------------------------------------------------------


def test_step(browser: Client, document: dict, path: str, recipe=None, **extra):
    body = {"document": document, "path": path, "recipe": recipe.pk if recipe else None, **extra}
    return post_json(browser, "/recipes/test-step/", body)


test_step.__test__ = False  # a helper, not a test


def owner_browser(connection) -> Client:
    browser = Client()
    browser.force_login(connection.owner)
    return browser


def discount_codes(sandbox) -> str:
    """The shop's discounts page, as the merchant sees it in the sandbox's admin."""
    return sandbox.merchant_session().get(f"{sandbox.base_url}/discounts/", timeout=30).text


def test_a_search_really_runs_and_answers_as_json(sandbox, connection):
    client = CartlyClient(connection.access_token)
    customer = client.create_customer({"email": "step-test@example.com", "first_name": "Ana"})
    doc = nested()
    doc["steps"][0]["fields"]["email"] = "step-test@example.com"
    recipe = create_recipe(connection.owner, connection, doc)
    response = test_step(owner_browser(connection), doc, "steps[0]", recipe)
    assert response.status_code == 200
    body = response.json()
    assert (body["status"], body["sent"]) == ("found", {"email": "step-test@example.com"})
    assert body["answer"][0]["id"] == customer["id"]
    assert not Run.objects.exists()


def test_an_action_in_a_loop_is_only_sent_when_asked(sandbox, connection):
    code = f"STEP-{uuid.uuid4().hex[:6].upper()}-" + "{{ item.sku }}"
    doc = nested(code)
    recipe = create_recipe(connection.owner, connection, doc)
    browser = owner_browser(connection)
    shown = test_step(browser, doc, "steps[1].steps[0]", recipe).json()
    made = code.replace("{{ item.sku }}", "SAMPLE-TEE-M")
    assert shown["status"] == "would_send" and shown["sent"]["code"] == made
    assert shown["sent"]["value"] == "2.00"  # the sample item's quantity, as an amount
    assert any("first item" in note for note in shown["notes"])
    assert made not in discount_codes(sandbox)

    sent = test_step(browser, doc, "steps[1].steps[0]", recipe, send=True).json()

    assert sent["status"] == "sent" and sent["answer"]["code"] == made
    assert made in discount_codes(sandbox)


def test_a_step_test_explains_what_it_cannot_do(sandbox, connection, outsider):
    doc = nested()
    recipe = create_recipe(connection.owner, connection, doc)
    browser = owner_browser(connection)
    assert (
        test_step(browser, doc, "steps[1]", recipe)
        .json()["error"]
        .startswith("Only an action or a search")
    )
    assert "path of the step" in post_json(browser, "/recipes/test-step/", {}).json()["error"]
    theirs = Client()
    theirs.force_login(outsider)
    refused = test_step(theirs, doc, "steps[0]", recipe)  # not their recipe: no shop to call
    assert refused.status_code == 400 and "Connect a shop first" in refused.json()["error"]


def test_a_step_test_with_the_latest_real_order(sandbox, connection):
    made = sandbox.sandbox_event("order.fulfilled")[-1]["ids"]["order_id"]
    doc = nested()
    recipe = create_recipe(connection.owner, connection, doc)
    fallback = "steps[2].paths.branches[0].steps[0].fallback[0]"
    body = test_step(owner_browser(connection), doc, fallback, recipe, source="latest").json()
    assert body["sent"]["order_id"] == made and body["status"] == "would_send"
    assert body["source"] == "The shop's latest order."


# --- "Test this recipe" through the tree ----------------------------------------------------


def test_a_dry_run_goes_through_loops_paths_fallbacks_and_delays(sandbox, connection):
    doc = nested()
    doc["steps"][2]["paths"]["branches"][0]["steps"][0]["fields"]["customer_id"] = "cus_NOPE"
    recipe = create_recipe(connection.owner, connection, doc)
    report = (
        owner_browser(connection)
        .post(f"/recipes/{recipe.pk}/test/", {"source": "sample"})
        .context["report"]
    )
    found = {step.place: (step.status, step.heading) for step in report.steps}
    assert found["0"][0] == "not_found"  # the search asked the shop and went on
    assert found["1"][0] == "decided" and found["1.i0.0"] == ("would_send", "Item 1")
    assert found["2"][0] == "decided" and found["2.b0.0"] == ("would_send", "Path 1")
    assert "Nothing was sent to Cartly" in report.outcome
    big = dict(doc, steps=doc["steps"][:1] + [doc["steps"][2]])
    big["steps"][1]["paths"]["branches"][0]["conditions"][0]["value"] = "1000"
    small = create_recipe(connection.owner, connection, big)
    report = (
        owner_browser(connection)
        .post(f"/recipes/{small.pk}/test/", {"source": "sample"})
        .context["report"]
    )
    wait = next(step for step in report.steps if step.key == "wait")
    assert (wait.place, wait.status) == ("1.o.0", "passed")  # the sample's time has passed


def test_a_live_test_runs_the_fallback_when_the_step_fails(sandbox, connection):
    order = sandbox.sandbox_event("order.fulfilled")[-1]["ids"]["order_id"]
    doc = nested()
    doc["steps"] = [doc["steps"][2]]
    # The shop's orders have random totals: any order at all takes the big path here.
    doc["steps"][0]["paths"]["branches"][0]["conditions"][0]["value"] = "0"
    vip = doc["steps"][0]["paths"]["branches"][0]["steps"][0]
    vip["fields"]["customer_id"] = "cus_DOES_NOT_EXIST"
    recipe = create_recipe(connection.owner, connection, doc)
    report = (
        owner_browser(connection)
        .post(f"/recipes/{recipe.pk}/test/", {"source": "latest", "live": "on"})
        .context["report"]
    )
    found = {step.place: step for step in report.steps}
    assert found["0.b0.0"].status == "failed"
    assert found["0.b0.0.e.0"].status == "sent"
    assert found["0.b0.0.e.0"].sent["order_id"] == order
    assert found["0.b0.0.e.0"].output["note"].startswith("VIP failed: ")
    assert report.outcome == "Every step went through."


def test_nobody_tests_a_step_of_another_users_shop(merchant, shop, outsider):
    theirs = make_shop(make_user("third"), shop_id="shop_third")
    browser = Client()
    browser.force_login(outsider)
    body = {"document": nested(), "path": "steps[0]", "connection": theirs.pk}
    refused = post_json(browser, "/recipes/test-step/", body)
    assert refused.status_code == 400 and "Connect a shop first" in refused.json()["error"]
