"""Recipes as JSON documents: the one place that reads and writes the format (docs/recipes.md).

A document is what a recipe *is*: its trigger, its own filter and its steps (a tree: loops,
paths, delays, fallbacks). It is what the API, the builder and the import/export commands
exchange, and what each RecipeVersion keeps, so a run executes exactly the version it recorded.
Checks live in document_checks.py (and document_flow.py for the steps that hold steps).

Formats: `cartly-automations/recipe@2` is written; `@1` documents (straight lines of operation
and filter steps) are still read, and upgraded by `normalize` without any other change.
"""

from __future__ import annotations

from typing import Any

from django.db import transaction

from automations.document_checks import FORMATS, MAX_STEPS, Problem
from automations.document_checks import validate_document as _validate
from automations.engine.tree import kind_of
from automations.models import Recipe, RecipeVersion, Step
from connectors import registry
from connectors.base import Search
from connectors.models import Connection

FORMAT = FORMATS[-1]
EXPORT_FORMAT = "cartly-automations/recipes@1"
MAX_NAME_LENGTH = Recipe._meta.get_field("name").max_length

__all__ = [
    "FORMAT",
    "EXPORT_FORMAT",
    "MAX_STEPS",
    "Problem",
    "InvalidDocument",
    "recipe_to_document",
    "document_for_version",
    "validate_document",
    "normalize",
    "apply_document",
    "create_recipe",
    "save_version",
]


class InvalidDocument(ValueError):
    """A document that cannot become a recipe; carries every problem found."""

    def __init__(self, problems: list[Problem]):
        self.problems = problems
        super().__init__("; ".join(str(p) for p in problems))


def validate_document(doc: Any) -> list[Problem]:
    """Every problem of `doc` as a recipe document; an empty list means it is valid."""
    return _validate(doc, MAX_NAME_LENGTH)


# --- reading a recipe -------------------------------------------------------------------------


def _step_to_dict(step: Step) -> dict[str, Any]:
    if step.spec:
        return dict(step.spec)
    if step.kind == Step.Kind.FILTER:
        return {
            "key": step.key,
            "filter": {"match": step.condition_match, "conditions": list(step.conditions)},
        }
    item: dict[str, Any] = {
        "key": step.key,
        "operation": step.operation,
        "fields": dict(step.fields),
    }
    if step.kind == Step.Kind.SEARCH:
        item["if_not_found"] = step.if_not_found
    return item


def recipe_to_document(recipe: Recipe) -> dict[str, Any]:
    """The recipe and its Step rows as a document, in the canonical form `normalize` gives."""
    return {
        "format": FORMAT,
        "name": recipe.name,
        "trigger": recipe.trigger,
        "mode": recipe.mode,
        "filter": {"match": recipe.condition_match, "conditions": list(recipe.conditions)},
        "turn_off_after_failures": recipe.turn_off_after_failures,
        "steps": [_step_to_dict(step) for step in recipe.steps.order_by("position")],
    }


def document_for_version(recipe: Recipe, version: int) -> dict[str, Any]:
    """The document of one saved version; the live recipe's own for its current version."""
    stored = (
        RecipeVersion.objects.filter(recipe=recipe, version=version)
        .values_list("document", flat=True)
        .first()
    )
    if stored is not None:
        return stored
    if version == recipe.version:
        return recipe_to_document(recipe)
    raise RecipeVersion.DoesNotExist(f"Recipe {recipe.pk} has no version {version}")


# --- the canonical form -----------------------------------------------------------------------


def _normal_filter(spec: dict | None) -> dict[str, Any]:
    spec = spec or {}
    return {"match": spec.get("match", "all"), "conditions": list(spec.get("conditions", []))}


def _normal_step(step: dict[str, Any]) -> dict[str, Any]:
    kind = kind_of(step)
    item: dict[str, Any] = {"key": step["key"]}
    if kind == "filter":
        item["filter"] = _normal_filter(step["filter"])
    elif kind == "operation":
        item["operation"] = step["operation"]
        item["fields"] = step.get("fields", {})
        if isinstance(registry.get(step["operation"]), Search):
            item["if_not_found"] = step.get("if_not_found", Step.IfNotFound.HALT)
        if step.get("on_error", "stop") != "stop":
            item["on_error"] = step["on_error"]
        if step.get("on_error") == "fallback":
            item["fallback"] = [_normal_step(s) for s in step["fallback"]]
    elif kind == "loop":
        item["loop"] = {"over": step["loop"]["over"].strip()}
        if step["loop"].get("max_items") is not None:
            item["loop"]["max_items"] = step["loop"]["max_items"]
        item["steps"] = [_normal_step(s) for s in step["steps"]]
    elif kind == "paths":
        spec = step["paths"]
        item["paths"] = {
            "run": spec.get("run", "first"),
            "branches": [
                {
                    "label": b.get("label") or f"Path {i + 1}",
                    **_normal_filter(b),
                    "steps": [_normal_step(s) for s in b.get("steps") or []],
                }
                for i, b in enumerate(spec["branches"])
            ],
        }
        if spec.get("otherwise"):
            item["paths"]["otherwise"] = [_normal_step(s) for s in spec["otherwise"]]
    else:
        item["delay"] = dict(step["delay"])
    return item


def normalize(doc: dict[str, Any]) -> dict[str, Any]:
    """A valid document in canonical form (and the current format): defaults filled in, keys
    in a fixed order."""
    return {
        "format": FORMAT,
        "name": doc["name"].strip(),
        "trigger": doc["trigger"],
        "mode": doc.get("mode", Recipe.Mode.INSTANT),
        "filter": _normal_filter(doc.get("filter")),
        "turn_off_after_failures": doc.get("turn_off_after_failures"),
        "steps": [_normal_step(step) for step in doc.get("steps", [])],
    }


# --- writing a recipe -------------------------------------------------------------------------

STEP_KINDS = {
    "filter": Step.Kind.FILTER,
    "loop": Step.Kind.LOOP,
    "paths": Step.Kind.PATHS,
    "delay": Step.Kind.DELAY,
}


def _step_row(recipe: Recipe, position: int, step: dict[str, Any]) -> Step:
    """The Step row of a top-level step: its summary columns, and the whole step as `spec`."""
    kind = kind_of(step)
    row = Step(recipe=recipe, position=position, key=step["key"], spec=step)
    if kind == "operation":
        row.kind = registry.get(step["operation"]).kind
        row.operation, row.fields = step["operation"], step["fields"]
        row.if_not_found = step.get("if_not_found", Step.IfNotFound.HALT)
    else:
        row.kind = STEP_KINDS[kind]
    if kind == "filter":
        row.conditions = step["filter"]["conditions"]
        row.condition_match = step["filter"]["match"]
    return row


def _current_document(recipe: Recipe) -> dict[str, Any] | None:
    return (
        RecipeVersion.objects.filter(recipe=recipe, version=recipe.version)
        .values_list("document", flat=True)
        .first()
    )


def apply_document(recipe: Recipe, doc: Any) -> Recipe:
    """Make `recipe` what `doc` says, as a new version; a new recipe is saved as version 1.

    Saving the same document again changes nothing. Raises InvalidDocument.
    """
    problems = validate_document(doc)
    if problems:
        raise InvalidDocument(problems)
    document = normalize(doc)
    with transaction.atomic():
        if recipe.pk is not None:
            # The lock makes two concurrent saves get distinct version numbers.
            locked = Recipe.objects.select_for_update().filter(pk=recipe.pk)
            recipe.version = locked.values_list("version", flat=True).get()
            if _current_document(recipe) == document:
                return recipe
            recipe.version += 1
        trigger = registry.get_trigger(document["trigger"])
        recipe.name, recipe.mode = document["name"], document["mode"]
        recipe.trigger, recipe.event_type = trigger.key, trigger.event
        recipe.conditions = document["filter"]["conditions"]
        recipe.condition_match = document["filter"]["match"]
        recipe.turn_off_after_failures = document["turn_off_after_failures"]
        recipe.save()
        recipe.steps.all().delete()
        Step.objects.bulk_create(
            _step_row(recipe, i, step) for i, step in enumerate(document["steps"])
        )
        RecipeVersion.objects.create(recipe=recipe, version=recipe.version, document=document)
    return recipe


def create_recipe(owner, connection: Connection, doc: Any) -> Recipe:
    """A new, disabled recipe of `owner` on `connection`. Raises InvalidDocument."""
    if connection.owner_id != owner.pk:
        raise ValueError("The connection belongs to another user")
    return apply_document(Recipe(owner=owner, connection=connection, enabled=False), doc)


def save_version(recipe: Recipe) -> RecipeVersion:
    """Snapshot the recipe's rows as its current version (for editors that change rows)."""
    version, _ = RecipeVersion.objects.get_or_create(
        recipe=recipe,
        version=recipe.version,
        defaults={"document": recipe_to_document(recipe)},
    )
    return version
