"""Recipes as JSON documents: the one place that reads and writes the format (docs/recipes.md).

A document is what a recipe *is*: its trigger, its own filter and its steps. It is what the
API and the import/export commands exchange, and what each RecipeVersion keeps, so a run
executes exactly the version it recorded. `validate_document` lists every problem at once,
each with a path such as `steps[2].fields.code`, so a merchant fixes a file in one go.
"""

from __future__ import annotations

import re
from dataclasses import asdict, dataclass
from typing import Any

from django.db import transaction

from automations.engine import conditions, render
from automations.models import Recipe, RecipeVersion, Step
from connectors import registry
from connectors.base import Action, Search, Trigger
from connectors.convert import literal_problem
from connectors.models import Connection

FORMAT = "cartly-automations/recipe@1"
EXPORT_FORMAT = "cartly-automations/recipes@1"
# Enough for any real shop workflow; a longer chain is a mistake or an abuse of the runner.
MAX_STEPS = 20
MAX_NAME_LENGTH = Recipe._meta.get_field("name").max_length
# Keys become `steps.<key>` in templates, so only what Jinja reads as one attribute name.
STEP_KEY_PATTERN = re.compile(r"^[a-z][a-z0-9_]{0,63}$")
MATCHES = ("all", "any")
# The names a template or a condition's field starts from (render.build_context).
CONTEXT_ROOTS = ("trigger", "event", "steps", "now")
IF_NOT_FOUND = tuple(Step.IfNotFound.values)
MODES = tuple(Recipe.Mode.values)

DOCUMENT_KEYS = {"format", "name", "trigger", "mode", "filter", "steps"}
OPERATION_STEP_KEYS = {"key", "operation", "fields", "if_not_found"}
FILTER_STEP_KEYS = {"key", "filter"}


@dataclass(frozen=True)
class Problem:
    """One thing wrong with a document; `path` points at it, e.g. `steps[2].fields.code`."""

    path: str
    message: str

    def __str__(self) -> str:
        return f"{self.path}: {self.message}" if self.path else self.message

    def as_dict(self) -> dict[str, str]:
        return asdict(self)


class InvalidDocument(ValueError):
    """A document that cannot become a recipe; carries every problem found."""

    def __init__(self, problems: list[Problem]):
        self.problems = problems
        super().__init__("; ".join(str(p) for p in problems))


# --- reading a recipe -------------------------------------------------------------------------


def _step_to_dict(step: Step) -> dict[str, Any]:
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


# --- validating a document --------------------------------------------------------------------


def _unknown_keys(obj: dict, allowed: set[str], path: str) -> list[Problem]:
    prefix = f"{path}." if path else ""
    return [
        Problem(f"{prefix}{key}", f"Unknown key; expected one of {', '.join(sorted(allowed))}")
        for key in obj
        if key not in allowed
    ]


def _check_filter(value: Any, path: str, earlier: list[str], all_keys: set[str]) -> list[Problem]:
    if not isinstance(value, dict):
        return [Problem(path, 'Must be an object: {"match": "all", "conditions": [...]}')]
    problems = _unknown_keys(value, {"match", "conditions"}, path)
    if value.get("match", "all") not in MATCHES:
        problems.append(Problem(f"{path}.match", 'Must be "all" or "any"'))
    conds = value.get("conditions", [])
    if not isinstance(conds, list):
        return [*problems, Problem(f"{path}.conditions", "Must be a list of conditions")]
    if not conds and path != "filter":
        problems.append(Problem(f"{path}.conditions", "A filter step needs at least one condition"))
    for i, cond in enumerate(conds):
        problems += _check_condition(cond, f"{path}.conditions[{i}]", earlier, all_keys)
    return problems


def _check_condition(cond: Any, where: str, earlier: list[str], all_keys: set) -> list[Problem]:
    if not isinstance(cond, dict):
        return [Problem(where, 'Must be an object: {"field", "operator", "value"}')]
    problems = [Problem(where, message) for message in conditions.validate_condition(cond)]
    field = cond.get("field")
    if field is not None and not isinstance(field, str):
        problems.append(Problem(f"{where}.field", "Must be a dotted path, e.g. trigger.email"))
    elif field and field.strip():
        if field.split(".")[0] not in CONTEXT_ROOTS:
            message = f"Must start with one of {', '.join(CONTEXT_ROOTS)}, e.g. trigger.email"
            problems.append(Problem(f"{where}.field", message))
        problems += _check_refs({field}, f"{where}.field", earlier, all_keys)
    return problems


def _check_trigger(doc: dict) -> tuple[Trigger | None, list[Problem]]:
    key = doc.get("trigger")
    if not isinstance(key, str) or not key:
        message = "Missing: the key of a trigger, e.g. cartly.order_created"
        return None, [Problem("trigger", message)]
    try:
        trigger = registry.get_trigger(key)
    except registry.UnknownOperation:
        return None, [Problem("trigger", f"Unknown trigger {key!r}")]
    mode = doc.get("mode", Recipe.Mode.INSTANT)
    if mode not in MODES:
        return trigger, [Problem("mode", f"Must be one of {', '.join(MODES)}, not {mode!r}")]
    if mode == Recipe.Mode.POLLING and not trigger.polls:
        message = f"{trigger.label} needs the instant trigger: Cartly has no list to poll"
        return trigger, [Problem("mode", message)]
    return trigger, []


def _check_refs(refs: set[str], path: str, earlier: list[str], all_keys: set[str]) -> list[Problem]:
    """Best effort: `steps.<key>` must name a step that runs before this one."""
    problems = []
    for ref in sorted(refs):
        parts = ref.split(".")
        if parts[0] != "steps" or len(parts) < 2 or parts[1] in earlier:
            continue
        if parts[1] in all_keys:
            message = f"Refers to steps.{parts[1]}, which runs at or after this step"
        else:
            message = f"Refers to steps.{parts[1]}, but no step has that key"
        problems.append(Problem(path, message))
    return problems


def _where(problem: render.TemplateProblem) -> str:
    if problem.column:
        return f"Line {problem.line}, column {problem.column}: "
    return f"Line {problem.line}: "


def _check_field_value(field, value: Any, path: str) -> list[Problem]:
    if not isinstance(value, str):
        return [Problem(path, f'Must be text (a template), e.g. "{value}"')]
    problems = [Problem(path, _where(p) + p.message) for p in render.validate_template(value)]
    if (literal := literal_problem(field, value)) is not None:  # `ten` as an amount
        problems.append(Problem(path, literal))
    return problems


def _check_fields(op: Action | Search, value: Any, path: str, earlier, all_keys) -> list[Problem]:
    if not isinstance(value, dict):
        return [Problem(path, "Must be an object of field key → template")]
    known = {f.key: f for f in op.input_fields}
    problems = []
    for key, template in value.items():
        where = f"{path}.{key}"
        if key not in known:
            problems.append(
                Problem(where, f"{op.label} has no field {key!r}; known: {', '.join(known)}")
            )
            continue
        field_problems = _check_field_value(known[key], template, where)
        if not field_problems:  # references() needs a template that parses
            field_problems = _check_refs(render.references(template), where, earlier, all_keys)
        problems += field_problems
    for field in op.input_fields:
        given = value.get(field.key)
        if field.required and not field.default and (given is None or given == ""):
            problems.append(Problem(f"{path}.{field.key}", f"Required by {op.label}"))
    return problems


def _check_operation_step(step: dict, path: str, earlier, all_keys) -> list[Problem]:
    problems = _unknown_keys(step, OPERATION_STEP_KEYS, path)
    key = step.get("operation")
    try:
        op = registry.get(key) if isinstance(key, str) else None
    except registry.UnknownOperation:
        return [*problems, Problem(f"{path}.operation", f"Unknown operation {key!r}")]
    if op is None:
        return [*problems, Problem(f"{path}.operation", "Missing: an action or search key")]
    if isinstance(op, Trigger):
        message = f"{key!r} is a trigger; a step needs an action or a search"
        return [*problems, Problem(f"{path}.operation", message)]
    if "if_not_found" in step:
        if not isinstance(op, Search):
            problems.append(Problem(f"{path}.if_not_found", "Only search steps have this"))
        elif step["if_not_found"] not in IF_NOT_FOUND:
            problems.append(Problem(f"{path}.if_not_found", 'Must be "halt" or "continue"'))
    return problems + _check_fields(op, step.get("fields", {}), f"{path}.fields", earlier, all_keys)


def _check_step_key(step: dict, path: str, seen: list[str]) -> list[Problem]:
    key = step.get("key")
    if not isinstance(key, str) or not STEP_KEY_PATTERN.match(key):
        message = "Must be lower_snake_case (letters, digits, _; at most 64), e.g. customer"
        return [Problem(f"{path}.key", message)]
    if key in seen:
        return [Problem(f"{path}.key", f"Another step already has the key {key!r}")]
    return []


def _step_keys(steps: Any) -> set[str]:
    if not isinstance(steps, list):
        return set()
    return {s["key"] for s in steps if isinstance(s, dict) and isinstance(s.get("key"), str)}


def _check_steps(steps: Any) -> list[Problem]:
    if not isinstance(steps, list):
        return [Problem("steps", "Must be a list of steps")]
    problems = []
    if len(steps) > MAX_STEPS:
        problems.append(Problem("steps", f"At most {MAX_STEPS} steps; this has {len(steps)}"))
    all_keys = _step_keys(steps)
    earlier: list[str] = []
    for i, step in enumerate(steps):
        path = f"steps[{i}]"
        if not isinstance(step, dict):
            problems.append(Problem(path, "Must be an object"))
            continue
        problems += _check_step_key(step, path, earlier)
        if "filter" in step and "operation" not in step:
            problems += _unknown_keys(step, FILTER_STEP_KEYS, path)
            problems += _check_filter(step["filter"], f"{path}.filter", earlier, all_keys)
        elif "filter" in step:
            problems.append(Problem(path, "A step has either an operation or a filter, not both"))
        else:
            problems += _check_operation_step(step, path, earlier, all_keys)
        if isinstance(step.get("key"), str):
            earlier.append(step["key"])
    return problems


def validate_document(doc: Any) -> list[Problem]:
    """Every problem of `doc` as a recipe document; an empty list means it is valid."""
    if not isinstance(doc, dict):
        return [Problem("", "A recipe document must be a JSON object")]
    problems = _unknown_keys(doc, DOCUMENT_KEYS, "")
    if doc.get("format") != FORMAT:
        problems.append(Problem("format", f'Must be "{FORMAT}"'))
    name = doc.get("name")
    if not isinstance(name, str) or not name.strip():
        problems.append(Problem("name", "Missing: give the recipe a name"))
    elif len(name) > MAX_NAME_LENGTH:
        problems.append(Problem("name", f"At most {MAX_NAME_LENGTH} characters"))
    problems += _check_trigger(doc)[1]
    if "filter" in doc:  # it runs before any step, so no step's output can be used yet
        problems += _check_filter(doc["filter"], "filter", [], _step_keys(doc.get("steps")))
    problems += _check_steps(doc.get("steps", []))
    return problems


# --- writing a recipe -------------------------------------------------------------------------


def normalize(doc: dict[str, Any]) -> dict[str, Any]:
    """A valid document in canonical form: defaults filled in, keys in a fixed order."""
    recipe_filter = doc.get("filter") or {}
    steps = []
    for step in doc.get("steps", []):
        if "filter" in step:
            f = step["filter"]
            filt = {"match": f.get("match", "all"), "conditions": list(f.get("conditions", []))}
            steps.append({"key": step["key"], "filter": filt})
            continue
        item = {"key": step["key"], "operation": step["operation"]}
        item["fields"] = step.get("fields", {})
        if isinstance(registry.get(step["operation"]), Search):
            item["if_not_found"] = step.get("if_not_found", Step.IfNotFound.HALT)
        steps.append(item)
    return {
        "format": FORMAT,
        "name": doc["name"].strip(),
        "trigger": doc["trigger"],
        "mode": doc.get("mode", Recipe.Mode.INSTANT),
        "filter": {
            "match": recipe_filter.get("match", "all"),
            "conditions": list(recipe_filter.get("conditions", [])),
        },
        "steps": steps,
    }


def _step_row(recipe: Recipe, position: int, step: dict[str, Any]) -> Step:
    if "filter" in step:
        return Step(
            recipe=recipe, position=position, key=step["key"], kind=Step.Kind.FILTER,
            conditions=step["filter"]["conditions"], condition_match=step["filter"]["match"],
        )
    return Step(
        recipe=recipe, position=position, key=step["key"],
        kind=registry.get(step["operation"]).kind, operation=step["operation"],
        fields=step["fields"], if_not_found=step.get("if_not_found", Step.IfNotFound.HALT),
    )


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
        recipe=recipe, version=recipe.version,
        defaults={"document": recipe_to_document(recipe)},
    )
    return version
