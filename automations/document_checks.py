"""Every check of a recipe document, each problem with a path (docs/recipes.md).

The steps form a tree (loops, paths, fallbacks), so the checks walk it with what each step may
read: the steps before it in its own list and in the lists around it; inside a loop its `item`
and `loop` and its own iteration's steps (never another iteration's, nor outside the loop);
inside a fallback the `error`. `validate_document` lists every problem at once.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Any

from automations.engine import conditions, render
from automations.engine.tree import KINDS
from connectors import registry
from connectors.base import Action, Search, Trigger
from connectors.convert import literal_problem

FORMATS = ("cartly-automations/recipe@1", "cartly-automations/recipe@2")
# Enough for any real shop workflow; a longer chain is a mistake or an abuse of the runner.
MAX_STEPS = 20  # in one list of steps
MAX_TOTAL_STEPS = 60  # in the whole tree
MAX_DEPTH = 3  # lists inside lists: a loop in a path in the recipe, and no deeper
MAX_BRANCHES = 10
MAX_TURN_OFF_AFTER = 1000
# Keys become `steps.<key>` in templates, so only what Jinja reads as one attribute name.
STEP_KEY_PATTERN = re.compile(r"^[a-z][a-z0-9_]{0,63}$")
MATCHES = ("all", "any")
BASE_ROOTS = ("trigger", "event", "steps", "now")
IF_NOT_FOUND = ("halt", "continue")
ON_ERROR = ("stop", "continue", "fallback")
MODES = ("instant", "polling")

DOCUMENT_KEYS = {"format", "name", "trigger", "mode", "filter", "steps", "turn_off_after_failures"}
STEP_KEYS = {
    "operation": {"key", "operation", "fields", "if_not_found", "on_error", "fallback"},
    "filter": {"key", "filter"},
    "loop": {"key", "loop", "steps"},
    "paths": {"key", "paths"},
    "delay": {"key", "delay"},
}


@dataclass(frozen=True)
class Problem:
    """One thing wrong with a document; `path` points at it, e.g. `steps[2].fields.code`."""

    path: str
    message: str

    def __str__(self) -> str:
        return f"{self.path}: {self.message}" if self.path else self.message

    def as_dict(self) -> dict[str, str]:
        return {"path": self.path, "message": self.message}


@dataclass
class Scope:
    """What a step may read: the step keys before it and the names of the lists around it."""

    visible: list[str] = field(default_factory=list)
    roots: tuple[str, ...] = BASE_ROOTS
    in_loop: bool = False
    depth: int = 1

    def inner(self, *roots: str, loop: bool = False) -> Scope:
        return Scope(list(self.visible), self.roots + roots, self.in_loop or loop, self.depth + 1)


class Checker:
    def __init__(self, all_keys: dict[str, str]):
        self.all_keys = all_keys  # every step key of the tree → where it first appears
        self.seen: set[str] = set()
        self.total = 0
        self.problems: list[Problem] = []

    def add(self, path: str, message: str) -> None:
        self.problems.append(Problem(path, message))

    # -- references --------------------------------------------------------------------------

    def refs(self, refs: set[str], path: str, scope: Scope) -> None:
        """Best effort: a path must start at a known name, `steps.<key>` at an earlier step."""
        for ref in sorted(refs):
            parts = ref.split(".")
            if parts[0] not in scope.roots:
                if parts[0] in ("item", "loop", "error"):
                    where = "a loop" if parts[0] != "error" else "a step's fallback"
                    self.add(path, f"Uses {parts[0]}, which exists only inside {where}")
                continue
            if parts[0] != "steps" or len(parts) < 2 or parts[1] in scope.visible:
                continue
            if parts[1] in self.all_keys:
                message = (
                    f"Refers to steps.{parts[1]}, which runs at or after this step, "
                    "or inside a loop or path this step is not in"
                )
            else:
                message = f"Refers to steps.{parts[1]}, but no step has that key"
            self.add(path, message)

    def field_path(self, value: Any, path: str, scope: Scope) -> None:
        if not isinstance(value, str) or not value.strip():
            self.add(path, "Must be a dotted path, e.g. trigger.email")
            return
        if value.split(".")[0] not in scope.roots:
            self.add(path, f"Must start with one of {', '.join(scope.roots)}, e.g. trigger.email")
            return
        self.refs({value.strip()}, path, scope)

    def template(self, value: Any, path: str, scope: Scope) -> bool:
        if not isinstance(value, str):
            self.add(path, f'Must be text (a template), e.g. "{value}"')
            return False
        problems = render.validate_template(value)
        for problem in problems:
            where = f"Line {problem.line}" + (
                f", column {problem.column}" if problem.column else ""
            )
            self.add(path, f"{where}: {problem.message}")
        if not problems:
            self.refs(render.references(value), path, scope)
        return not problems

    # -- filters -----------------------------------------------------------------------------

    def conditions_of(
        self,
        value: Any,
        path: str,
        scope: Scope,
        *,
        required: bool,
        allowed: frozenset[str] = frozenset({"match", "conditions"}),
    ) -> None:
        if not isinstance(value, dict):
            self.add(path, 'Must be an object: {"match": "all", "conditions": [...]}')
            return
        self.unknown(value, set(allowed), path)
        if value.get("match", "all") not in MATCHES:
            self.add(f"{path}.match", 'Must be "all" or "any"')
        conds = value.get("conditions", [])
        if not isinstance(conds, list):
            self.add(f"{path}.conditions", "Must be a list of conditions")
            return
        if not conds and required:
            self.add(f"{path}.conditions", "A filter step needs at least one condition")
        for i, cond in enumerate(conds):
            where = f"{path}.conditions[{i}]"
            if not isinstance(cond, dict):
                self.add(where, 'Must be an object: {"field", "operator", "value"}')
                continue
            for message in conditions.validate_condition(cond):
                self.add(where, message)
            if cond.get("field") is not None:
                self.field_path(cond.get("field"), f"{where}.field", scope)

    def unknown(self, obj: dict, allowed: set[str], path: str) -> None:
        prefix = f"{path}." if path else ""
        for key in obj:
            if key not in allowed:
                self.add(
                    f"{prefix}{key}", f"Unknown key; expected one of {', '.join(sorted(allowed))}"
                )

    # -- lists of steps ----------------------------------------------------------------------

    def steps(self, steps: Any, path: str, scope: Scope) -> list[str]:
        """Check a list of steps; the keys it makes visible to the steps after it."""
        if not isinstance(steps, list):
            self.add(path, "Must be a list of steps")
            return []
        if len(steps) > MAX_STEPS:
            self.add(path, f"At most {MAX_STEPS} steps; this has {len(steps)}")
        if scope.depth > MAX_DEPTH:
            self.add(path, f"Steps can be nested at most {MAX_DEPTH} levels deep")
        made: list[str] = []
        for i, step in enumerate(steps):
            where = f"{path}[{i}]"
            if not isinstance(step, dict):
                self.add(where, "Must be an object")
                continue
            self.total += 1
            self.key(step, where)
            new = self.step(step, where, scope)
            scope.visible = scope.visible + new
            made += new
        return made

    def key(self, step: dict, path: str) -> None:
        key = step.get("key")
        if not isinstance(key, str) or not STEP_KEY_PATTERN.match(key):
            self.add(
                f"{path}.key",
                "Must be lower_snake_case (letters, digits, _; at most 64), e.g. customer",
            )
        elif key in self.seen:
            self.add(f"{path}.key", f"Another step already has the key {key!r}")
        else:
            self.seen.add(key)

    def step(self, step: dict, path: str, scope: Scope) -> list[str]:
        kinds = [kind for kind in KINDS if kind in step]
        if len(kinds) != 1:
            self.add(path, "A step has exactly one of operation, filter, loop, paths or delay")
            return []
        kind = kinds[0]
        self.unknown(step, STEP_KEYS[kind], path)
        own = [step["key"]] if isinstance(step.get("key"), str) else []
        if kind == "filter":
            self.conditions_of(step["filter"], f"{path}.filter", scope, required=True)
            return own
        if kind == "operation":
            return own + self.operation(step, path, scope)
        from automations.document_flow import check_flow_step

        return own + check_flow_step(self, kind, step, path, scope)

    # -- operation steps ---------------------------------------------------------------------

    def operation(self, step: dict, path: str, scope: Scope) -> list[str]:
        op = self._operation(step.get("operation"), f"{path}.operation")
        if op is not None:
            if "if_not_found" in step and not isinstance(op, Search):
                self.add(f"{path}.if_not_found", "Only search steps have this")
            elif step.get("if_not_found", "halt") not in IF_NOT_FOUND:
                self.add(f"{path}.if_not_found", 'Must be "halt" or "continue"')
            self.fields(op, step.get("fields", {}), f"{path}.fields", scope)
        on_error = step.get("on_error", "stop")
        if on_error not in ON_ERROR:
            self.add(f"{path}.on_error", 'Must be "stop", "continue" or "fallback"')
            return []
        if on_error != "fallback":
            if "fallback" in step:
                self.add(f"{path}.fallback", 'Fallback steps need "on_error": "fallback"')
            return []
        if not step.get("fallback"):
            self.add(f"{path}.fallback", "Add the steps to run when this step fails")
            return []
        own = [step["key"]] if isinstance(step.get("key"), str) else []
        inner = scope.inner("error")
        inner.visible += own
        return self.steps(step["fallback"], f"{path}.fallback", inner)

    def _operation(self, key: Any, path: str) -> Action | Search | None:
        if not isinstance(key, str) or not key:
            self.add(path, "Missing: an action or search key")
            return None
        try:
            op = registry.get(key)
        except registry.UnknownOperation:
            self.add(path, f"Unknown operation {key!r}")
            return None
        if isinstance(op, Trigger):
            self.add(path, f"{key!r} is a trigger; a step needs an action or a search")
            return None
        return op

    def fields(self, op: Action | Search, value: Any, path: str, scope: Scope) -> None:
        if not isinstance(value, dict):
            self.add(path, "Must be an object of field key → template")
            return
        known = {f.key: f for f in op.input_fields}
        for key, template in value.items():
            where = f"{path}.{key}"
            if key not in known:
                self.add(where, f"{op.label} has no field {key!r}; known: {', '.join(known)}")
                continue
            if self.template(template, where, scope):
                self.literal(known[key], template, where)
        for spec in op.input_fields:
            given = value.get(spec.key)
            if spec.required and not spec.default and (given is None or given == ""):
                self.add(f"{path}.{spec.key}", f"Required by {op.label}")

    def literal(self, spec, value: str, path: str) -> None:
        problem = literal_problem(spec, value)  # `ten` as an amount, `tomorrow` as a date
        if problem is not None:
            self.add(path, problem)


def _keys(steps: Any, found: dict[str, str], path: str = "steps") -> None:
    """Every step key of the tree, wherever it stands (for "no step has that key")."""
    if not isinstance(steps, list):
        return
    for i, step in enumerate(steps):
        if not isinstance(step, dict):
            continue
        if isinstance(step.get("key"), str):
            found.setdefault(step["key"], f"{path}[{i}]")
        for inner, where in flow_children(step):
            _keys(inner, found, f"{path}[{i}].{where}")


def flow_children(step: dict) -> list[tuple[Any, str]]:
    found = []
    if isinstance(step.get("steps"), list):
        found.append((step["steps"], "steps"))
    if isinstance(step.get("fallback"), list):
        found.append((step["fallback"], "fallback"))
    paths = step.get("paths")
    if isinstance(paths, dict):
        for i, branch in enumerate(paths.get("branches") or []):
            if isinstance(branch, dict):
                found.append((branch.get("steps"), f"paths.branches[{i}].steps"))
        found.append((paths.get("otherwise"), "paths.otherwise"))
    return found


def check_trigger(doc: dict, checker: Checker) -> Trigger | None:
    key = doc.get("trigger")
    if not isinstance(key, str) or not key:
        checker.add("trigger", "Missing: the key of a trigger, e.g. cartly.order_created")
        return None
    try:
        trigger = registry.get_trigger(key)
    except registry.UnknownOperation:
        checker.add("trigger", f"Unknown trigger {key!r}")
        return None
    mode = doc.get("mode", "instant")
    if mode not in MODES:
        checker.add("mode", f"Must be one of {', '.join(MODES)}, not {mode!r}")
    elif mode == "polling" and not trigger.polls:
        checker.add(
            "mode", f"{trigger.label} needs the instant trigger: Cartly has no list to poll"
        )
    return trigger


def validate_document(doc: Any, max_name_length: int = 200) -> list[Problem]:
    """Every problem of `doc` as a recipe document; an empty list means it is valid."""
    if not isinstance(doc, dict):
        return [Problem("", "A recipe document must be a JSON object")]
    all_keys: dict[str, str] = {}
    _keys(doc.get("steps"), all_keys)
    checker = Checker(all_keys)
    checker.unknown(doc, DOCUMENT_KEYS, "")
    if doc.get("format") not in FORMATS:
        checker.add("format", f'Must be "{FORMATS[-1]}"')
    name = doc.get("name")
    if not isinstance(name, str) or not name.strip():
        checker.add("name", "Missing: give the recipe a name")
    elif len(name) > max_name_length:
        checker.add("name", f"At most {max_name_length} characters")
    check_trigger(doc, checker)
    limit = doc.get("turn_off_after_failures")
    if limit is not None and (
        not isinstance(limit, int)
        or isinstance(limit, bool)
        or not 1 <= limit <= MAX_TURN_OFF_AFTER
    ):
        checker.add(
            "turn_off_after_failures",
            f"Must be a whole number from 1 to {MAX_TURN_OFF_AFTER}, or null for never",
        )
    if "filter" in doc:  # it runs before any step, so no step's output can be used yet
        checker.conditions_of(doc["filter"], "filter", Scope(), required=False)
    checker.steps(doc.get("steps", []), "steps", Scope())
    if checker.total > MAX_TOTAL_STEPS:
        checker.add("steps", f"At most {MAX_TOTAL_STEPS} steps in all; this has {checker.total}")
    return checker.problems
