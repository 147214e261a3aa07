"""What an inserted value looks like in the builder: a chip such as "Order › Number" with its
sample value, for every reference the recipe's trigger and steps offer (builder.js draws them).

Labels come from the catalogue: the operation's noun, then the output field's declared label
(with the noun left out where it repeats it: "Order number" under "Order" is "Number"), or,
for a path nobody declared, its parts in words ("Line items › #1 › Sku").
"""

from __future__ import annotations

from typing import Any


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
        label = label[len(prefix) :]
    return label[:1].upper() + label[1:]


def label_tree(node: dict, depth: int, prefix: str, noun: str, declared: dict, out: dict) -> None:
    """Label every value of a picker tree into `out` (reference → {label, example})."""
    relative = node["path"].split(".")[depth:]
    if relative:
        out[node["ref"]] = {
            "label": f"{prefix} › {_leaf(relative, declared, noun)}",
            "example": node.get("example", ""),
        }
    for child in node.get("children", []):
        label_tree(child, depth, prefix, noun, declared, out)


def pill_labels(doc: Any) -> dict[str, dict[str, str]]:
    """`{"trigger.number": {"label": "Order › Number", "example": "1001"}, ...}` for the
    trigger and every operation step of the tree (`item`, `loop` and `error` values are
    labelled per step that brings them: scopes.Draft.scoped_labels)."""
    from automations.builder.scopes import walk_draft

    return walk_draft(doc).labels
