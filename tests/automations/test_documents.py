"""Recipe documents: validation lists every problem; apply/create write versions; commands."""

import copy
import json
from pathlib import Path

import pytest
from django.contrib.auth import get_user_model
from django.core.management import CommandError, call_command

from automations.documents import (
    EXPORT_FORMAT,
    MAX_STEPS,
    InvalidDocument,
    apply_document,
    create_recipe,
    document_for_version,
    normalize,
    recipe_to_document,
    validate_document,
)
from automations.models import Recipe, RecipeVersion, Step
from connectors.models import Connection

EXAMPLE = Path(__file__).resolve().parents[2] / "docs" / "examples" / "new-order-discount.json"

pytestmark = pytest.mark.django_db


@pytest.fixture
def alice():
    return get_user_model().objects.create_user("alice", password="x")


@pytest.fixture
def shop(alice):
    return Connection.objects.create(
        owner=alice, shop_id="shop_1", shop_name="Alice Tees", shop_domain="alice.example"
    )


@pytest.fixture
def doc() -> dict:
    return json.loads(EXAMPLE.read_text())


def paths(problems) -> set[str]:
    return {p.path for p in problems}


def messages_at(problems, path: str) -> str:
    return " | ".join(p.message for p in problems if p.path == path)


# --- validation -----------------------------------------------------------------------------


def test_it_accepts_the_documented_example(doc):
    assert validate_document(doc) == []


def test_it_rejects_what_is_not_an_object():
    for value in ([], "x", None, 3):
        assert [p.message for p in validate_document(value)] == [
            "A recipe document must be a JSON object"
        ]


def test_it_lists_every_problem_not_just_the_first(doc):
    doc["format"] = "something/else@9"
    del doc["name"]
    doc["trigger"] = "cartly.no_such_trigger"
    doc["steps"][0]["fields"]["colour"] = "red"
    del doc["steps"][1]["fields"]["code"]
    doc["steps"][1]["key"] = "customer"
    problems = validate_document(doc)
    assert paths(problems) == {
        "format",
        "name",
        "trigger",
        "steps[0].fields.colour",
        "steps[1].fields.code",
        "steps[1].key",
    }
    assert "Unknown trigger 'cartly.no_such_trigger'" in messages_at(problems, "trigger")
    assert "has no field 'colour'" in messages_at(problems, "steps[0].fields.colour")
    assert "Required by Create Discount" in messages_at(problems, "steps[1].fields.code")
    assert "already has the key 'customer'" in messages_at(problems, "steps[1].key")


def test_it_rejects_unknown_operations_and_a_trigger_used_as_a_step(doc):
    doc["steps"][0]["operation"] = "cartly.teleport"
    doc["steps"][1]["operation"] = "cartly.order_created"
    problems = validate_document(doc)
    assert "Unknown operation 'cartly.teleport'" in messages_at(problems, "steps[0].operation")
    assert "is a trigger" in messages_at(problems, "steps[1].operation")


def test_it_rejects_an_action_key_as_the_trigger(doc):
    doc["trigger"] = "cartly.create_discount"
    assert "Unknown trigger" in messages_at(validate_document(doc), "trigger")


def test_it_gives_line_and_column_of_a_template_syntax_error(doc):
    doc["steps"][1]["fields"]["code"] = "THANKS-{{ trigger.number }\n"
    problems = validate_document(doc)
    assert paths(problems) == {"steps[1].fields.code"}
    assert messages_at(problems, "steps[1].fields.code").startswith("Line 1, column")


def test_it_checks_conditions_of_the_recipe_and_of_filter_steps(doc):
    doc["filter"]["conditions"][0]["operator"] = "is_roughly"
    doc["filter"]["match"] = "some"
    doc["steps"].insert(1, {"key": "big", "filter": {"match": "any", "conditions": [{}]}})
    problems = validate_document(doc)
    assert {"filter.conditions[0]", "filter.match", "steps[1].filter.conditions[0]"} <= paths(
        problems
    )


def test_it_rejects_bad_step_keys(doc):
    doc["steps"][0]["key"] = "Customer Step"
    del doc["steps"][1]["key"]
    problems = validate_document(doc)
    assert {"steps[0].key", "steps[1].key"} <= paths(problems)


def test_it_rejects_references_to_later_or_unknown_steps(doc):
    doc["steps"][0]["fields"]["note"] = "Code {{ steps.discount.code }}"
    doc["steps"][1]["fields"]["code"] = "{{ steps.nowhere.id }}"
    problems = validate_document(doc)
    assert "runs at or after this step" in messages_at(problems, "steps[0].fields.note")
    assert "no step has that key" in messages_at(problems, "steps[1].fields.code")


def test_it_accepts_references_to_earlier_steps(doc):
    doc["steps"][1]["fields"]["code"] = "THANKS-{{ steps.customer.id }}"
    assert validate_document(doc) == []


def test_it_rejects_a_bad_mode_and_polling_a_trigger_that_cannot_poll(doc):
    doc["mode"] = "sometimes"
    assert "Must be one of instant, polling" in messages_at(validate_document(doc), "mode")
    doc["mode"], doc["trigger"], doc["filter"] = "polling", "cartly.cart_abandoned", None
    del doc["filter"]
    assert messages_at(validate_document(doc), "mode").startswith(
        "Abandoned Cart needs the instant trigger"
    )


def test_it_caps_the_number_of_steps(doc):
    step = doc["steps"][1]
    doc["steps"] = [{**step, "key": f"s{i}"} for i in range(MAX_STEPS + 1)]
    assert f"At most {MAX_STEPS} steps" in messages_at(validate_document(doc), "steps")


def test_it_checks_if_not_found_and_literal_choices(doc):
    doc["steps"][0]["if_not_found"] = "continue"  # an action: no such option
    doc["steps"][1]["fields"]["kind"] = "half_price"
    doc["steps"].append(
        {
            "key": "lookup",
            "operation": "cartly.find_customer",
            "fields": {"email": "{{ trigger.email }}"},
            "if_not_found": "maybe",
        }
    )
    problems = validate_document(doc)
    assert "Only search steps" in messages_at(problems, "steps[0].if_not_found")
    assert "must be one of percentage" in messages_at(problems, "steps[1].fields.kind")
    assert 'Must be "halt" or "continue"' in messages_at(problems, "steps[2].if_not_found")


def test_it_rejects_unknown_keys_and_non_text_field_values(doc):
    doc["colour"] = "blue"
    doc["steps"][1]["fields"]["value"] = 10
    problems = validate_document(doc)
    assert paths(problems) == {"colour", "steps[1].fields.value"}


# --- writing recipes ------------------------------------------------------------------------


def test_it_creates_a_disabled_recipe_with_steps_and_version_one(alice, shop, doc):
    recipe = create_recipe(alice, shop, doc)
    assert (recipe.enabled, recipe.version, recipe.event_type) == (False, 1, "order.created")
    assert recipe.conditions == doc["filter"]["conditions"]
    kinds = list(recipe.steps.values_list("key", "kind"))
    assert kinds == [("customer", Step.Kind.ACTION), ("discount", Step.Kind.ACTION)]
    stored = RecipeVersion.objects.get(recipe=recipe, version=1).document
    assert stored == recipe_to_document(recipe) == normalize(doc)


def test_it_bumps_the_version_and_keeps_the_old_document(alice, shop, doc):
    recipe = create_recipe(alice, shop, doc)
    changed = copy.deepcopy(doc)
    changed["steps"].insert(
        1,
        {
            "key": "lookup",
            "operation": "cartly.find_customer",
            "fields": {"email": "{{ trigger.email }}"},
        },
    )
    changed["steps"].insert(
        2,
        {
            "key": "vip",
            "filter": {
                "conditions": [
                    {"field": "steps.customer.created", "operator": "equals", "value": "true"}
                ]
            },
        },
    )
    apply_document(recipe, changed)
    recipe.refresh_from_db()
    assert recipe.version == 2
    assert list(recipe.steps.values_list("key", "kind", "if_not_found")) == [
        ("customer", "action", "halt"),
        ("lookup", "search", "halt"),
        ("vip", "filter", "halt"),
        ("discount", "action", "halt"),
    ]
    assert document_for_version(recipe, 1) == normalize(doc)
    assert document_for_version(recipe, 2) == recipe_to_document(recipe)


def test_it_saves_the_same_document_without_a_new_version(alice, shop, doc):
    recipe = create_recipe(alice, shop, doc)
    apply_document(recipe, copy.deepcopy(doc))
    assert Recipe.objects.get(pk=recipe.pk).version == 1
    assert RecipeVersion.objects.filter(recipe=recipe).count() == 1


def test_it_raises_with_every_problem_and_writes_nothing(alice, shop, doc):
    doc["name"], doc["trigger"] = "", "nope.nope"
    with pytest.raises(InvalidDocument) as raised:
        create_recipe(alice, shop, doc)
    assert paths(raised.value.problems) == {"name", "trigger"}
    assert not Recipe.objects.exists()


def test_it_refuses_another_users_connection(shop, doc):
    bob = get_user_model().objects.create_user("bob")
    with pytest.raises(ValueError):
        create_recipe(bob, shop, doc)


# --- export and import ----------------------------------------------------------------------


def export(*args: str) -> dict:
    from io import StringIO

    out = StringIO()
    call_command("export_recipes", *args, stdout=out)
    return json.loads(out.getvalue())


def test_it_exports_documents_without_secrets(alice, shop, doc):
    shop.access_token = "secret-access-token"
    shop.save()
    create_recipe(alice, shop, doc)
    exported = export("--user", "alice")
    assert exported["format"] == EXPORT_FORMAT
    assert [r["name"] for r in exported["recipes"]] == [doc["name"]]
    assert "secret-access-token" not in json.dumps(exported)


def test_it_imports_an_export_and_a_single_document(alice, shop, doc, tmp_path):
    create_recipe(alice, shop, doc)
    wrapper = tmp_path / "all.json"
    call_command("export_recipes", "--user", "alice", "--output", str(wrapper))
    call_command("import_recipes", str(wrapper), "--user", "alice")
    call_command("import_recipes", str(EXAMPLE), "--user", "alice", "--connection", "alice.example")
    assert Recipe.objects.filter(owner=alice, connection=shop, enabled=False).count() == 3


def test_it_imports_nothing_when_any_document_is_invalid(alice, shop, doc, tmp_path):
    bad = copy.deepcopy(doc)
    bad["trigger"], bad["steps"][1]["fields"]["code"] = "x.y", ""
    path = tmp_path / "recipes.json"
    path.write_text(json.dumps({"format": EXPORT_FORMAT, "recipes": [doc, bad]}))
    with pytest.raises(CommandError) as raised:
        call_command("import_recipes", str(path), "--user", "alice")
    assert "recipes[1]: trigger: Unknown trigger 'x.y'" in str(raised.value)
    assert "recipes[1]: steps[1].fields.code: Required by Create Discount" in str(raised.value)
    assert not Recipe.objects.exists()


def test_it_needs_a_connection_to_import_into(alice, tmp_path):
    with pytest.raises(CommandError, match="no active connection"):
        call_command("import_recipes", str(EXAMPLE), "--user", "alice")
    for n in (1, 2):
        Connection.objects.create(
            owner=alice, shop_id=f"shop_{n}", shop_name=f"S{n}", shop_domain=f"s{n}.example"
        )
    with pytest.raises(CommandError, match="choose one with --connection"):
        call_command("import_recipes", str(EXAMPLE), "--user", "alice")
    with pytest.raises(CommandError, match="no connection 'elsewhere.example'"):
        call_command(
            "import_recipes", str(EXAMPLE), "--user", "alice", "--connection", "elsewhere.example"
        )


def test_it_explains_unreadable_files(alice, shop, tmp_path):
    broken = tmp_path / "broken.json"
    broken.write_text("{not json")
    with pytest.raises(CommandError, match="is not valid JSON"):
        call_command("import_recipes", str(broken), "--user", "alice")
    with pytest.raises(CommandError, match="Cannot read"):
        call_command("import_recipes", str(tmp_path / "missing.json"), "--user", "alice")


def test_it_imports_and_enables_with_enable(alice, shop, doc, tmp_path):
    path = tmp_path / "polling.json"
    path.write_text(json.dumps({**doc, "mode": "polling"}))  # no hook: no call to Cartly
    call_command("import_recipes", str(path), "--user", "alice", "--enable")
    assert Recipe.objects.get(owner=alice).enabled is True


def test_it_documents_every_filter_operator():
    from automations.engine.conditions import OPERATORS

    text = (EXAMPLE.parents[1] / "recipes.md").read_text()
    assert [key for key in OPERATORS if f"| `{key}` |" not in text] == []


def test_it_shows_the_example_in_the_docs_as_it_is_on_disk(doc):
    text = (EXAMPLE.parents[1] / "recipes.md").read_text()
    block = text.split("```json\n", 1)[1].split("```", 1)[0]
    assert json.loads(block) == doc
