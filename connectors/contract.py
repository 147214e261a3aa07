"""The shapes the runner relies on, checked where data enters it.

A trigger yields objects with an id (the dedupe key and the run's subject; see
`Trigger.id_field`), a search returns a list of objects (empty when nothing is found), an action
returns one object. A service answer that breaks this is a `ContractViolation`: a permanent
failure, since asking again will bring the same answer; the message names the operation so the
run history says what broke.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from connectors.base import Action, Operation, Search, Trigger
from connectors.errors import Permanent


class ContractViolation(Permanent):
    """An operation's output does not have the shape the runner needs."""

    def __init__(self, operation: Operation, problem: str):
        super().__init__(f"{operation.label} ({operation.key}) {problem}")
        self.operation_key = operation.key


def _type_name(value: Any) -> str:
    return "null" if value is None else type(value).__name__


def _check_object(operation: Operation, value: Any, what: str) -> dict[str, Any]:
    if not isinstance(value, Mapping):
        raise ContractViolation(operation, f"must return {what}, got {_type_name(value)}")
    return dict(value)


def check_trigger_object(trigger: Trigger, obj: Any) -> dict[str, Any]:
    """One object from a delivery's `data` or a poll: an object with a non-empty id (in the
    trigger's `id_field`, usually `id`)."""
    obj = _check_object(trigger, obj, "an object")
    object_id = trigger.object_id(obj) if trigger.id_field in obj else None
    if not isinstance(object_id, str | int) or isinstance(object_id, bool) or object_id == "":
        problem = f"must yield objects with a non-empty `{trigger.id_field}`, got {object_id!r}"
        raise ContractViolation(trigger, problem)
    if trigger.dedupe_on_updated_at and not obj.get("updated_at"):
        raise ContractViolation(trigger, "must yield objects with an updated_at")
    return obj


def check_trigger_objects(trigger: Trigger, objects: Any) -> list[dict[str, Any]]:
    """What polling found: a list of objects, each with an `id`."""
    if not isinstance(objects, list):
        raise ContractViolation(trigger, f"must yield a list of objects, got {_type_name(objects)}")
    return [check_trigger_object(trigger, obj) for obj in objects]


def check_action_result(action: Action, result: Any) -> dict[str, Any]:
    return _check_object(action, result, "an object")


def check_search_result(search: Search, result: Any) -> list[dict[str, Any]]:
    if not isinstance(result, list):
        raise ContractViolation(search, f"must return a list of objects, got {_type_name(result)}")
    return [_check_object(search, item, "a list of objects") for item in result]


def check_result(operation: Operation, result: Any) -> Any:
    """Check `result` against whichever contract `operation` has (one trigger object)."""
    if isinstance(operation, Trigger):
        return check_trigger_object(operation, result)
    if isinstance(operation, Action):
        return check_action_result(operation, result)
    return check_search_result(operation, result)


def check_sample(operation: Operation) -> None:
    """A declaration's sample must pass the same check as a real output (a search's sample
    is one found object, so it is checked as a one-item list)."""
    sample = dict(operation.sample)
    check_result(operation, [sample] if isinstance(operation, Search) else sample)
