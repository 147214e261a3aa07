"""The source-independent identity of one change, shared by the receiver and polling.

A webhook and a poll that see the same change must produce the same key, so that the inbox's
unique (connection, dedupe_key) constraint lets exactly one of them run (DESIGN.md, step 2).
"""

from collections.abc import Mapping
from typing import Any

from connectors import registry
from connectors.base import Trigger

DEDUPE_KEY_SEPARATOR = "|"
MAX_DEDUPE_KEY_LENGTH = 200  # Event.dedupe_key's size


class ChangeKeyTooLong(ValueError):
    """The object's fields give a key the inbox column cannot hold."""


def object_id(event_type: str, data: Mapping[str, Any]) -> str:
    """The id of the object `data` is about, by its trigger's `id_field` ("" if it has none)."""
    triggers = registry.triggers_for_event(event_type)
    if not triggers:
        return str(data.get("id", ""))
    try:
        return str(triggers[0].object_id(data))
    except KeyError:
        return ""


def trigger_for(event_type: str) -> Trigger | None:
    """The trigger whose declaration reads events of this type, or None when none does."""
    triggers = registry.triggers_for_event(event_type)
    return triggers[0] if triggers else None


def change_key(event_type: str, data: Mapping[str, Any]) -> str | None:
    """The trigger's key for `data`, or None when no trigger runs on `event_type`.

    A KeyError names a field the trigger's key needs and `data` lacks.
    """
    trigger = trigger_for(event_type)
    return None if trigger is None else trigger_key(trigger, data)


def trigger_key(trigger: Trigger, data: Mapping[str, Any]) -> str:
    """`trigger`'s key for `data`: KeyError for a field it lacks, ChangeKeyTooLong past the
    column's size. The receiver, which has found the trigger already, calls this directly."""
    key = DEDUPE_KEY_SEPARATOR.join(trigger.dedupe_key(data))
    if len(key) > MAX_DEDUPE_KEY_LENGTH:
        raise ChangeKeyTooLong(f"the change key is longer than {MAX_DEDUPE_KEY_LENGTH} characters")
    return key
