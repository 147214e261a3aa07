"""What an inserted value looks like in the builder: a chip such as "Order › Number" with its
sample value, for every reference the recipe's trigger and steps offer (builder.js draws them).

Labels come from the catalogue: the operation's noun, then the output field's declared label
(with the noun left out where it repeats it: "Order number" under "Order" is "Number"), or,
for a path nobody declared, its parts in words ("Line items › #1 › Sku").
"""

from __future__ import annotations

from typing import Any

from automations.builder import picker


def _words(part: str) -> str:
    if part.isdigit():
        return f"#{int(part) + 1}"
    text = part.replace("_", " ").strip()
    return text[:1].upper() + text[1:]


def _leaf(relative: list[str], declared: dict[str, str], noun: str) -> str:
    label = declared.get(".".join(relative))
    if label is None:
        return " › ".join(_words(part) for part in relative)
    prefix = noun.lower() + " "
    if label.lower().startswith(prefix) and len(label) > len(prefix):
        label = label[len(prefix):]
    return label[:1].upper() + label[1:]


def _walk(node: dict, depth: int, prefix: str, noun: str, declared: dict, out: dict) -> None:
    relative = node["path"].split(".")[depth:]
    if relative:
        out[node["ref"]] = {
            "label": f"{prefix} › {_leaf(relative, declared, noun)}",
            "example": node.get("example", ""),
        }
    for child in node.get("children", []):
        _walk(child, depth, prefix, noun, declared, out)


def pill_labels(doc: Any) -> dict[str, dict[str, str]]:
    """`{"trigger.number": {"label": "Order › Number", "example": "1001"}, ...}`."""
    if not isinstance(doc, dict):
        return {}
    out: dict[str, dict[str, str]] = {}
    trigger = picker.trigger_tree(doc)
    operation = picker.trigger_operation(doc)
    if trigger is not None and operation is not None:
        declared = {f.key: f.label for f in operation.output_fields}
        _walk(trigger, 1, operation.noun, operation.noun, declared, out)
    steps = doc.get("steps") if isinstance(doc.get("steps"), list) else []
    for i, step in enumerate(steps):
        tree, operation = picker.step_tree(step), picker.step_operation(step)
        if tree is None or operation is None:
            continue
        declared = {f.key: f.label for f in operation.output_fields}
        _walk(tree, 2, f"{i + 1}. {operation.noun}", operation.noun, declared, out)
    return out
