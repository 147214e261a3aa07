"""The shape of a recipe's steps: what kind each step is, and where each one sits.

A recipe document's steps form a tree: a loop holds the steps of one iteration, paths hold
branches, an operation step may hold fallback steps for when it fails. Every step run is
addressed by its place in that tree, as one string (`where`):

    "2"          the top-level step at position 2
    "2.i3.0"     the first step of the fourth item (index 3) of the loop at "2"
    "4.b1.0"     the first step of the second branch of the paths step at "4"
    "4.o.1"      the second step of that paths step's "otherwise" branch
    "5.e.0"      the first fallback step of the operation at "5", run when it failed

Top-level rows keep the old form (position only, address ""), so their Idempotency-Keys are
the ones earlier versions sent. A loop iteration's address holds its index, which is what gives
each iteration's write its own key (run, step, index).
"""

from __future__ import annotations

from typing import Any

OPERATION, FILTER, LOOP, PATHS, DELAY = "operation", "filter", "loop", "paths", "delay"
KINDS = (OPERATION, FILTER, LOOP, PATHS, DELAY)


def kind_of(step: dict[str, Any]) -> str:
    """Which kind a (valid) step is, by the one key that defines it."""
    for kind in (OPERATION, FILTER, LOOP, PATHS, DELAY):
        if kind in step:
            return kind
    raise ValueError(f"step {step.get('key')!r} has no kind")


def child(where: str, part: str, index: int) -> str:
    """The address of step `index` inside `where`'s `part` (i3, b1, o, e)."""
    return f"{where}.{part}.{index}"


def split(where: str) -> tuple[int, str]:
    """(position, address) as StepRun stores them: address "" for a top-level step."""
    head, _, rest = where.partition(".")
    return int(head), (where if rest else "")


def sort_key(where: str) -> tuple:
    """Order addresses as the recipe reads: 2 < 2.i0.0 < 2.i0.1 < 2.i1.0 < 3."""
    parts: list[Any] = []
    for part in where.split("."):
        if part.isdigit():
            parts.append((0, int(part), ""))
        else:
            letters = part.rstrip("0123456789")
            number = part[len(letters) :]
            parts.append((1, int(number) if number else -1, letters))
    return tuple(parts)


def walk_steps(steps: list[dict], prefix: str = "") -> list[tuple[str, dict]]:
    """Every step of the tree with the address of its first occurrence (loop index 0)."""
    found: list[tuple[str, dict]] = []
    for index, step in enumerate(steps):
        where = f"{prefix}.{index}" if prefix else str(index)
        found.append((where, step))
        for part, inner in children(step, iteration=0):
            found += walk_steps(inner, f"{where}.{part}")
    return found


def children(step: dict[str, Any], iteration: int = 0) -> list[tuple[str, list[dict]]]:
    """The nested step lists of a step, each with the address part that leads to it."""
    kind = kind_of(step)
    if kind == LOOP:
        return [(f"i{iteration}", step.get("steps") or [])]
    if kind == PATHS:
        paths = step["paths"]
        found = [
            (f"b{i}", branch.get("steps") or [])
            for i, branch in enumerate(paths.get("branches") or [])
        ]
        if paths.get("otherwise"):
            found.append(("o", paths["otherwise"]))
        return found
    if kind == OPERATION and step.get("on_error") == "fallback":
        return [("e", step.get("fallback") or [])]
    return []


def step_at(steps: list[dict], where: str) -> dict[str, Any]:
    """The step definition at an address (loop indexes may be any number)."""
    parts = where.split(".")
    step = steps[int(parts[0])]
    for part, index in zip(parts[1::2], parts[2::2], strict=True):
        inner = dict(children(step, iteration=_iteration(part)))
        step = inner[part][int(index)]
    return step


def _iteration(part: str) -> int:
    return int(part[1:]) if part.startswith("i") else 0


def all_keys(steps: list[dict]) -> list[str]:
    return [step.get("key") for _, step in walk_steps(steps)]
