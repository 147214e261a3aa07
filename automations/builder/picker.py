"""The builder's value picker: what a step's fields can refer to, as a tree.

A step sees the trigger's data and the outputs of the steps before it (render.build_context).
In the builder, real data does not exist yet, so the tree is built from the declarations'
samples; each leaf carries the reference a click inserts (`trigger.customer.email`) and the
sample value as an example. Labels come from the declarations' output fields where they match.
"""

from __future__ import annotations

import re
from typing import Any

from connectors import registry
from connectors.base import Action, Search, Trigger

# Deeper than any Cartly object (order → line item → field); keeps a hostile sample bounded.
MAX_DEPTH = 6
# A list shows its first items only: the picker is for choosing a path, not reading data.
MAX_LIST_ITEMS = 3
# Examples beside a value are a hint; long notes are cut.
MAX_EXAMPLE_CHARS = 60
# A name Jinja reads with a dot; other keys (or list indexes) are written as subscripts.
_ATTRIBUTE = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")


def reference(path: list[str]) -> str:
    """The template expression for a path: `trigger.line_items[0].sku`."""
    text = path[0]
    for part in path[1:]:
        if _ATTRIBUTE.match(part):
            text += f".{part}"
        elif part.isdigit():
            text += f"[{part}]"
        else:
            text += "[" + repr(part) + "]"
    return text


def _words(part: str) -> str:
    """A key nobody labelled, in words: "line_items" → "Line items", "0" → "#1"."""
    if part.isdigit():
        return f"#{int(part) + 1}"
    text = part.replace("_", " ")
    return text[:1].upper() + text[1:]


def _example(value: Any) -> str:
    if value is None:
        return "(empty)"
    if isinstance(value, bool):
        return "true" if value else "false"
    text = str(value)
    return text if len(text) <= MAX_EXAMPLE_CHARS else text[: MAX_EXAMPLE_CHARS - 1] + "…"


def _children(value: Any) -> list[tuple[str, Any]]:
    if isinstance(value, dict):
        return [(str(key), child) for key, child in value.items()]
    if isinstance(value, list):
        return [(str(i), child) for i, child in enumerate(value[:MAX_LIST_ITEMS])]
    return []


def _node(value: Any, path: list[str], labels: dict[str, str], depth: int) -> dict[str, Any]:
    relative = ".".join(path[1:])
    node: dict[str, Any] = {
        "name": path[-1],
        "label": labels.get(relative, _words(path[-1])),
        "path": ".".join(path),  # the dotted form conditions use
        "ref": reference(path),  # the form templates use
    }
    if isinstance(value, dict | list) and depth < MAX_DEPTH:
        node["children"] = [
            _node(child, [*path, key], labels, depth + 1) for key, child in _children(value)
        ]
    else:
        node["example"] = _example(value)
    return node


def value_tree(root: list[str], value: Any, labels: dict[str, str]) -> dict:
    """Any value as a tree rooted at `root` (a loop's `item`, a fallback's `error`)."""
    return _node(value, root, labels, 0)


def sample_tree(root: list[str], sample: Any, operation: Trigger | Action | Search) -> dict:
    """One source of values (the trigger, or one step) as a tree rooted at `root`."""
    labels = {field.key: field.label for field in operation.output_fields}
    tree = _node(sample, root, labels, 0)
    tree["label"] = operation.label
    return tree


def _operation(key: Any) -> Trigger | Action | Search | None:
    try:
        return registry.get(key) if isinstance(key, str) else None
    except registry.UnknownOperation:
        return None


def step_operation(step: Any) -> Action | Search | None:
    """The action or search of an operation step; None for filters and broken drafts."""
    if not isinstance(step, dict) or "filter" in step:
        return None
    operation = _operation(step.get("operation"))
    return operation if isinstance(operation, Action | Search) else None


def trigger_operation(doc: dict) -> Trigger | None:
    trigger = _operation(doc.get("trigger"))
    return trigger if isinstance(trigger, Trigger) else None


def trigger_tree(doc: dict) -> dict | None:
    trigger = trigger_operation(doc)
    if trigger is None:
        return None
    return sample_tree(["trigger"], dict(trigger.sample), trigger)


def step_tree(step: dict) -> dict | None:
    """What a later step can read of this step: its operation's sample output."""
    operation = step_operation(step)
    key = step.get("key") if isinstance(step, dict) else None
    if operation is None or not isinstance(key, str) or not key:
        return None
    tree = sample_tree(["steps", key], dict(operation.sample), operation)
    tree["label"] = f"{key}: {operation.label}"
    return tree


def _steps(doc: dict) -> list:
    steps = doc.get("steps")
    return steps if isinstance(steps, list) else []


def available_values(doc: dict, before: int) -> list[dict]:
    """The trees a step at position `before` can use: the trigger, then each earlier step.

    `before=0` is also what the recipe's own filter sees (it runs before any step).
    """
    trees = [trigger_tree(doc)]
    trees += [step_tree(step) for step in _steps(doc)[:before]]
    return [tree for tree in trees if tree is not None]


def picker_sources(doc: dict) -> dict[str, Any]:
    """For the page: every tree once, and for each part of the recipe which trees it may use.

    `pickers` maps "filter" and each step's document path ("steps[1]", "steps[1].steps[0]")
    to source ids, in order; `lists` maps each loop's path to the lists it may go over;
    `scoped_pills` the labels of `item`, `loop` and `error` values by the step that brings
    them. A tree no step may use is left out (the last step's output feeds nothing).
    """
    from automations.builder.scopes import walk_draft

    if not isinstance(doc, dict):
        return {"sources": {}, "pickers": {}, "lists": {}, "scoped_pills": {}}
    draft = walk_draft(doc)
    return sources_of(draft)


def sources_of(draft) -> dict[str, Any]:
    """picker_sources from a walk already made (scopes.walk_draft)."""
    pickers = {"filter": ["trigger"] if "trigger" in draft.trees else []}
    for place in draft.places:
        pickers[place.path] = place.sources
    used = {tree_id for ids in pickers.values() for tree_id in ids}
    sources = {tree_id: tree for tree_id, tree in draft.trees.items() if tree_id in used}
    return {
        "sources": sources,
        "pickers": pickers,
        "lists": draft.lists,
        "scoped_pills": draft.scoped_labels,
    }


def paths(tree: dict) -> list[str]:
    """Every dotted path in a tree, for tests and for checking a chosen condition field."""
    found = [tree["path"]]
    for child in tree.get("children", []):
        found += paths(child)
    return found
