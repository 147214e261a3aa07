"""Checks of the steps that hold other steps or call nothing: loops, paths, delays."""

from __future__ import annotations

from typing import Any

from automations.engine import flow

DELAY_KEYS = {"for", "until"}
MAX_DELAY_SECONDS = flow.MAX_DELAY.total_seconds()
RUN_MODES = ("first", "all")
BRANCH_KEYS = frozenset({"label", "match", "conditions", "steps"})


def check_flow_step(checker, kind: str, step: dict, path: str, scope) -> list[str]:
    """Check a loop, paths or delay step; the step keys it makes visible after it."""
    return {"loop": _loop, "paths": _paths, "delay": _delay}[kind](checker, step, path, scope)


def _loop(checker, step: dict, path: str, scope) -> list[str]:
    spec = step.get("loop")
    if not isinstance(spec, dict):
        checker.add(f"{path}.loop", 'Must be an object: {"over": "trigger.line_items"}')
        return []
    checker.unknown(spec, {"over", "max_items"}, f"{path}.loop")
    checker.field_path(spec.get("over"), f"{path}.loop.over", scope)
    cap = spec.get("max_items")
    if cap is not None and (
        not isinstance(cap, int)
        or isinstance(cap, bool)
        or not 1 <= cap <= flow.MAX_LOOP_ITEMS_CEILING
    ):
        checker.add(
            f"{path}.loop.max_items",
            f"Must be a whole number from 1 to {flow.MAX_LOOP_ITEMS_CEILING}",
        )
    if scope.in_loop:
        checker.add(f"{path}.loop", "A loop cannot stand inside another loop")
    if not step.get("steps"):
        checker.add(f"{path}.steps", "Add the steps to run for each item")
        return []
    checker.steps(step["steps"], f"{path}.steps", scope.inner("item", "loop", loop=True))
    return []  # an iteration's steps are its own: nothing after the loop reads them


def _paths(checker, step: dict, path: str, scope) -> list[str]:
    spec = step.get("paths")
    where = f"{path}.paths"
    if not isinstance(spec, dict):
        checker.add(where, 'Must be an object: {"run": "first", "branches": [...]}')
        return []
    checker.unknown(spec, {"run", "branches", "otherwise"}, where)
    if spec.get("run", "first") not in RUN_MODES:
        checker.add(f"{where}.run", 'Must be "first" (the first path that matches) or "all"')
    branches = spec.get("branches")
    if not isinstance(branches, list) or not branches:
        checker.add(f"{where}.branches", "Add at least one path with its conditions")
        return []
    if len(branches) + (1 if spec.get("otherwise") else 0) < 2:
        checker.add(f"{where}.branches", 'Paths need two or more: add a path or "otherwise"')
    if len(branches) > flow_max_branches():
        checker.add(f"{where}.branches", f"At most {flow_max_branches()} paths")
    made: list[str] = []
    for i, branch in enumerate(branches):
        bpath = f"{where}.branches[{i}]"
        if not isinstance(branch, dict):
            checker.add(bpath, 'Must be an object: {"label", "conditions", "steps"}')
            continue
        checker.conditions_of(branch, bpath, scope, required=False, allowed=BRANCH_KEYS)
        if not isinstance(branch.get("label", ""), str):
            checker.add(f"{bpath}.label", "Must be text")
        made += checker.steps(branch.get("steps") or [], f"{bpath}.steps", scope.inner())
    if "otherwise" in spec:
        made += checker.steps(spec["otherwise"] or [], f"{where}.otherwise", scope.inner())
    return made  # steps of a path that ran can be read after it (missing if it did not run)


def flow_max_branches() -> int:
    from automations.document_checks import MAX_BRANCHES

    return MAX_BRANCHES


def _number(value: Any) -> float | None:
    if isinstance(value, bool):
        return None
    if isinstance(value, int | float):
        return float(value)
    try:
        return float(str(value).strip())
    except ValueError:
        return None


def _delay(checker, step: dict, path: str, scope) -> list[str]:
    spec = step.get("delay")
    where = f"{path}.delay"
    if not isinstance(spec, dict) or len(DELAY_KEYS & set(spec)) != 1:
        checker.add(
            where, 'Must be {"for": {"amount": 1, "unit": "hours"}} or {"until": "{{ trigger.… }}"}'
        )
        return []
    checker.unknown(spec, DELAY_KEYS, where)
    if "until" in spec:
        if not str(spec["until"]).strip():
            checker.add(f"{where}.until", "Give the date and time to wait until")
        else:
            checker.template(spec["until"], f"{where}.until", scope)
        return []
    wait = spec["for"]
    if not isinstance(wait, dict):
        checker.add(f"{where}.for", 'Must be {"amount": 1, "unit": "hours"}')
        return []
    checker.unknown(wait, {"amount", "unit"}, f"{where}.for")
    unit = wait.get("unit", "minutes")
    if unit not in flow.DELAY_UNITS:
        checker.add(f"{where}.for.unit", f"Must be one of {', '.join(flow.DELAY_UNITS)}")
        return []
    amount = _number(wait.get("amount"))
    if amount is None or amount <= 0:
        checker.add(f"{where}.for.amount", "Must be a number greater than 0")
    elif amount * flow.DELAY_UNITS[unit] > MAX_DELAY_SECONDS:
        checker.add(f"{where}.for.amount", f"A delay waits at most {flow.MAX_DELAY.days} days")
    return []
