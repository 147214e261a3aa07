"""The builder's draft: a recipe document the page edits, read from a submitted form and saved
only through automations.documents (which validates it and keeps its versions)."""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Any

from automations.documents import (
    FORMAT,
    InvalidDocument,
    Problem,
    apply_document,
    create_recipe,
)
from automations.engine.conditions import OPERATORS
from automations.models import Recipe
from connectors import registry
from connectors.models import Connection

# A draft is a few kilobytes; anything far larger is not from our page.
MAX_DRAFT_CHARS = 512 * 1024
DEFAULT_TRIGGER = "cartly.order_created"


def blank_document() -> dict[str, Any]:
    return {
        "format": FORMAT,
        "name": "",
        "trigger": DEFAULT_TRIGGER,
        "mode": Recipe.Mode.INSTANT,
        "filter": {"match": "all", "conditions": []},
        "steps": [],
    }


def parse_draft(text: Any) -> tuple[dict | None, list[Problem]]:
    """The draft document from the page's hidden field, or a problem saying why not."""
    if not isinstance(text, str) or not text.strip():
        return None, [Problem("", "The recipe's draft is missing; reload the page.")]
    if len(text) > MAX_DRAFT_CHARS:
        return None, [Problem("", "The recipe's draft is too large.")]
    try:
        doc = json.loads(text)
    except ValueError:
        return None, [Problem("", "The recipe's draft could not be read; reload the page.")]
    if not isinstance(doc, dict):
        return None, [Problem("", "The recipe's draft must be a JSON object.")]
    return doc, []


def active_connections(owner):
    return Connection.objects.filter(owner=owner, status=Connection.Status.ACTIVE)


@dataclass
class Submission:
    document: dict | None
    connection: Connection | None
    problems: list[Problem] = field(default_factory=list)


def read_submission(data, owner, recipe: Recipe | None) -> Submission:
    """The draft plus the plain form fields (name, trigger, mode), which work without JS."""
    doc, problems = parse_draft(data.get("document"))
    if doc is None:
        doc = blank_document()
    for key in ("name", "trigger", "mode"):
        if key in data:
            doc[key] = data[key]
    if "turn_off_after_failures" in data:
        doc["turn_off_after_failures"] = _turn_off_after(data["turn_off_after_failures"])
    connection = recipe.connection if recipe is not None else None
    if recipe is None:
        connection = (
            active_connections(owner).filter(pk=int_or_none(data.get("connection"))).first()
        )
        if connection is None:
            problems.append(Problem("connection", "Choose one of your connected shops."))
    return Submission(doc, connection, problems)


def _turn_off_after(text: str) -> int | str | None:
    """Empty: never switch off. Not a whole number: kept as typed, so the check names it."""
    text = text.strip()
    if not text:
        return None
    return int(text) if text.isdigit() else text


def int_or_none(value: Any) -> int | None:
    try:
        return int(value)
    except (TypeError, ValueError):
        return None


def save(owner, recipe: Recipe | None, submission: Submission) -> Recipe:
    """Create or update the recipe from a submission. Raises InvalidDocument."""
    if submission.problems:
        raise InvalidDocument(submission.problems)
    if recipe is None:
        return create_recipe(owner, submission.connection, submission.document)
    return apply_document(recipe, submission.document)


# --- a read-only view of a document (the page without JavaScript) ----------------------------


def _label(key: Any, default: str) -> str:
    try:
        return registry.get(key).label if isinstance(key, str) else default
    except registry.UnknownOperation:
        return str(key)


def _conditions(spec: Any) -> list[str]:
    if not isinstance(spec, dict) or not isinstance(spec.get("conditions"), list):
        return []
    lines = []
    for cond in spec["conditions"]:
        if not isinstance(cond, dict):
            continue
        operator = (
            OPERATORS.get(cond.get("operator")) if isinstance(cond.get("operator"), str) else None
        )
        said = operator.label if operator else str(cond.get("operator"))
        value = f" {cond.get('value')}" if operator is None or operator.takes_value else ""
        lines.append(f"{cond.get('field')} {said}{value}")
    return lines


FLOW_LABELS = {"filter": "Filter", "loop": "For each", "paths": "Paths", "delay": "Delay"}


def _step_label(step: dict) -> str:
    for kind, label in FLOW_LABELS.items():
        if kind in step:
            return label
    return _label(step.get("operation"), "Step")


def _count(steps: Any) -> str:
    n = len(steps) if isinstance(steps, list) else 0
    return f"{n} step{'s' if n != 1 else ''}"


def _flow_detail(step: dict) -> str:
    """One line on what a loop, paths or delay step does (the page without JavaScript)."""
    if isinstance(step.get("loop"), dict):
        return f"For each item of {step['loop'].get('over')}: {_count(step.get('steps'))}"
    if isinstance(step.get("paths"), dict):
        branches = step["paths"].get("branches")
        labels = (
            [b.get("label", "") for b in branches if isinstance(b, dict)]
            if isinstance(branches, list)
            else []
        )
        other = ", and otherwise" if step["paths"].get("otherwise") else ""
        return f"Paths: {', '.join(labels)}{other}"
    delay = step.get("delay")
    if isinstance(delay, dict) and isinstance(delay.get("for"), dict):
        return f"Wait {delay['for'].get('amount')} {delay['for'].get('unit', 'minutes')}"
    if isinstance(delay, dict):
        return f"Wait until {delay.get('until')}"
    if step.get("on_error") in ("continue", "fallback"):
        return {
            "continue": "If it fails: go on",
            "fallback": f"If it fails: {_count(step.get('fallback'))} instead",
        }[step["on_error"]]
    return ""


def summary(doc: dict) -> dict[str, Any]:
    """Labels and lines a template can show as they are."""
    steps = []
    for step in doc.get("steps") or []:
        if not isinstance(step, dict):
            continue
        fields = step.get("fields") if isinstance(step.get("fields"), dict) else {}
        steps.append(
            {
                "key": step.get("key"),
                "label": _step_label(step),
                "detail": _flow_detail(step),
                "fields": sorted(fields.items()),
                "conditions": _conditions(step.get("filter")),
                "match": (step.get("filter") or {}).get("match", "all") if "filter" in step else "",
                "if_not_found": step.get("if_not_found", ""),
            }
        )
    return {
        "trigger": _label(doc.get("trigger"), "No trigger"),
        "conditions": _conditions(doc.get("filter")),
        "match": (doc.get("filter") or {}).get("match", "all"),
        "steps": steps,
    }
