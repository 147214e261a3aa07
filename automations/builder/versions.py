"""A recipe's saved versions, read by people: each document as plain lines, and what changed
between any two of them.

The lines say what a merchant sees in the builder (labels, the templates as typed); whatever
a document holds that is not named here is still shown, as `key: JSON`, so no change can hide
from the diff when new kinds of steps arrive.
"""

from __future__ import annotations

import difflib
import json
from dataclasses import dataclass
from typing import Any

from automations.engine.conditions import OPERATORS
from automations.models import Recipe, RecipeVersion
from connectors import registry

INDENT = "    "
# Keys of a document and of its steps that the lines below spell out in words.
SHOWN_DOCUMENT_KEYS = {"format", "name", "trigger", "mode", "filter", "steps"}
SHOWN_STEP_KEYS = {"key", "operation", "fields", "filter", "if_not_found"}
MODE_WORDS = dict(Recipe.Mode.choices)
IF_NOT_FOUND_WORDS = {"halt": "Stop the run", "continue": "Go on with an empty result"}


def _label(key: Any) -> str:
    try:
        return registry.get(key).label if isinstance(key, str) else str(key)
    except registry.UnknownOperation:
        return str(key)


def _json(value: Any) -> str:
    return json.dumps(value, ensure_ascii=False, sort_keys=True)


def _condition(cond: Any) -> str:
    if not isinstance(cond, dict):
        return _json(cond)
    key = cond.get("operator")
    operator = OPERATORS.get(key) if isinstance(key, str) else None
    said = operator.label if operator else str(key)
    takes = operator is None or operator.takes_value
    value = f" {_json(cond.get('value'))}" if takes and "value" in cond else ""
    return f"{cond.get('field')} {said}{value}"


def _filter_lines(spec: Any, opening: str, depth: int) -> list[str]:
    pad = INDENT * depth
    if not isinstance(spec, dict):
        return [f"{pad}{opening}: {_json(spec)}"]
    conds = spec.get("conditions") if isinstance(spec.get("conditions"), list) else []
    if not conds:
        return []
    match = "all" if spec.get("match", "all") == "all" else "any"
    return [f"{pad}{opening} {match} of:"] + [f"{pad}{INDENT}- {_condition(c)}" for c in conds]


def _extra(obj: dict, shown: set[str], depth: int) -> list[str]:
    return [f"{INDENT * depth}{key}: {_json(obj[key])}" for key in sorted(obj) if key not in shown]


def _field_lines(step: dict) -> list[str]:
    fields = step.get("fields") if isinstance(step.get("fields"), dict) else {}
    try:
        declared = {f.key: f.label for f in registry.get(step.get("operation")).input_fields}
    except (registry.UnknownOperation, AttributeError, TypeError):
        declared = {}
    ordered = [k for k in declared if k in fields] + sorted(k for k in fields if k not in declared)
    return [f"{INDENT}{declared.get(k, k)}: {fields[k]}" for k in ordered]


def _step_lines(i: int, step: Any) -> list[str]:
    if not isinstance(step, dict):
        return [f"Step {i + 1}: {_json(step)}"]
    what = "Filter" if "filter" in step else _label(step.get("operation"))
    lines = [f"Step {i + 1} · {what} ({step.get('key')})"]
    if "filter" in step:
        lines += _filter_lines(step["filter"], "Go on if", 1)
    lines += _field_lines(step)
    if "if_not_found" in step:
        words = IF_NOT_FOUND_WORDS.get(step["if_not_found"], step["if_not_found"])
        lines.append(f"{INDENT}If nothing is found: {words}")
    return lines + _extra(step, SHOWN_STEP_KEYS, 1)


def readable_lines(doc: Any) -> list[str]:
    """A document as the lines a merchant reads; the same document gives the same lines."""
    if not isinstance(doc, dict):
        return [_json(doc)]
    lines = [
        f"Name: {doc.get('name')}",
        f"Trigger: {_label(doc.get('trigger'))}",
        f"How Cartly tells us: {MODE_WORDS.get(doc.get('mode'), doc.get('mode'))}",
    ]
    lines += _filter_lines(doc.get("filter"), "Only go on if", 0)
    steps = doc.get("steps") if isinstance(doc.get("steps"), list) else []
    for i, step in enumerate(steps):
        lines += _step_lines(i, step)
    return lines + _extra(doc, SHOWN_DOCUMENT_KEYS, 0)


@dataclass(frozen=True)
class DiffLine:
    kind: str  # "same", "added" or "removed"
    text: str

    @property
    def sign(self) -> str:
        return {"added": "+", "removed": "−"}.get(self.kind, " ")


def diff(old: Any, new: Any) -> list[DiffLine]:
    """Every line of both documents in order, each marked same, removed (old) or added (new)."""
    a, b = readable_lines(old), readable_lines(new)
    out: list[DiffLine] = []
    for tag, i1, i2, j1, j2 in difflib.SequenceMatcher(a=a, b=b, autojunk=False).get_opcodes():
        if tag == "equal":
            out += [DiffLine("same", line) for line in a[i1:i2]]
            continue
        out += [DiffLine("removed", line) for line in a[i1:i2]]
        out += [DiffLine("added", line) for line in b[j1:j2]]
    return out


def history(recipe: Recipe) -> list[RecipeVersion]:
    """The recipe's stored versions, newest first."""
    return list(RecipeVersion.objects.filter(recipe=recipe).order_by("-version"))


def stored_document(recipe: Recipe, version: int) -> dict | None:
    return (
        RecipeVersion.objects.filter(recipe=recipe, version=version)
        .values_list("document", flat=True)
        .first()
    )
