"""What the builder's page needs to know of the connector catalogue, as plain JSON data."""

from __future__ import annotations

from typing import Any

from automations.engine.conditions import OPERATORS
from connectors import registry
from connectors.base import Field, Search


def _field(field: Field) -> dict[str, Any]:
    return {
        "key": field.key,
        "label": field.label,
        "type": str(field.type),
        "required": field.required,
        "choices": list(field.choices),
        "help": field.help,
        "default": field.default,
        "multiline": field.type == "text",
    }


def catalogue() -> dict[str, Any]:
    """Triggers, steps (actions and searches) with their fields, and the filter operators."""
    operations = [*registry.actions(), *registry.searches()]
    return {
        "triggers": [
            {"key": t.key, "label": t.label, "description": t.description, "polls": t.polls}
            for t in registry.triggers()
        ],
        "operations": {
            op.key: {
                "key": op.key,
                "kind": op.kind,
                "label": op.label,
                "noun": op.noun,
                "description": op.description,
                "nothing_found": op.nothing_found if isinstance(op, Search) else "",
                "fields": [_field(f) for f in op.input_fields],
            }
            for op in operations
        },
        "operators": [
            {"key": key, "label": op.label, "takes_value": op.takes_value}
            for key, op in OPERATORS.items()
        ],
    }
