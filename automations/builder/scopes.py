"""Every step of a draft recipe with what it can read, built from samples: the builder's one
walk of the step tree (loops, paths, fallbacks), shared by the preview, the value picker, the
pills' labels and "Test this step".

A step sees what a run would give it (automations/engine/walk.py): the trigger, the outputs of
the steps before it in its own list and in the lists around it; inside a loop the list's first
item as `item` and `loop`; inside a fallback the `error`. Real data does not exist yet, so each
operation's declared sample stands in for its output, and a search's sample for its list of
matches. The draft need not be valid: anything broken is skipped, never raised.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from django.utils import timezone

from automations.builder import picker, pills
from automations.engine import flow, render
from connectors.base import Search

SAMPLE_EVENT_ID = "evt_SAMPLE"
# What a fallback step sees as `error` in the builder (the shape walk.failed gives it).
SAMPLE_STATUS_CODE = 422
# Lists nested deeper than this in the data are not offered to loop over.
MAX_LIST_DEPTH = 4
LOOP_LABELS = {
    "index": "Item number (1, 2, …)",
    "index0": "Item number from 0",
    "first": "Is the first item",
    "last": "Is the last item",
    "length": "Number of items",
}
ERROR_LABELS = {"message": "Message", "status_code": "Status code", "step": "Step key"}


@dataclass
class Place:
    """One step of the draft: where it is and what it sees there."""

    path: str  # the document path: "steps[2]", "steps[2].steps[0]"
    number: str  # as the merchant reads it: "3", "3.1"
    step: dict[str, Any]
    context: dict[str, Any]  # the render context a run would build, from samples
    sources: list[str]  # ids of the picker trees it may use, in order
    lists: dict[str, list] = field(default_factory=dict)  # searches' matches, by step key


@dataclass
class Scope:
    outputs: dict[str, Any]
    lists: dict[str, list]  # a search's every match, for loops over `steps.<key>`
    extra: dict[str, Any]  # item, loop, error
    sources: list[str]

    def inner(self, sources: list[str] = (), **extra: Any) -> Scope:
        return Scope(
            dict(self.outputs),
            dict(self.lists),
            {**self.extra, **extra},
            self.sources + list(sources),
        )


@dataclass
class Draft:
    """The whole walk: every place, every tree, the lists each loop may go over, and the
    labels of `item`, `loop` and `error` values by the path of the step that brings them."""

    places: list[Place] = field(default_factory=list)
    trees: dict[str, dict] = field(default_factory=dict)
    lists: dict[str, list[dict]] = field(default_factory=dict)
    labels: dict[str, dict] = field(default_factory=dict)  # reference → {label, example}
    scoped_labels: dict[str, dict] = field(default_factory=dict)  # owner path → labels

    def place(self, path: str) -> Place | None:
        return next((p for p in self.places if p.path == path), None)


def _steps(value: Any) -> list:
    return value if isinstance(value, list) else []


def words(part: str) -> str:
    text = part.replace("_", " ").strip()
    return text[:1].upper() + text[1:]


def singular(label: str) -> str:
    """ "Line items" → "Line item", "Entries" → "Entry": what one item of a list is called."""
    if label.endswith("ies"):
        return label[:-3] + "y"
    if label.endswith("s") and not label.endswith("ss"):
        return label[:-1]
    return label


class _Walker:
    def __init__(self, doc: dict, base: dict):
        self.doc, self.base = doc, base
        self.draft = Draft()
        self.labels = self.draft.labels

    def scoped(self, owner: str, tree: dict, declared: dict[str, str]) -> None:
        """Labels of `item`, `loop` or `error` values: they mean something else elsewhere."""
        found = self.draft.scoped_labels.setdefault(owner, {})
        pills.label_tree(tree, 1, tree["label"], tree["label"], declared, found)

    def context(self, scope: Scope) -> dict:
        return {**self.base, "steps": dict(scope.outputs), **scope.extra}

    def sequence(self, steps: list, prefix: str, number: str, scope: Scope) -> None:
        for index, step in enumerate(_steps(steps)):
            if not isinstance(step, dict):
                continue
            path = f"{prefix}[{index}]"
            here = f"{number}.{index + 1}" if number else str(index + 1)
            self.draft.places.append(
                Place(path, here, step, self.context(scope), list(scope.sources), dict(scope.lists))
            )
            if "loop" in step:
                self.loop(step, path, here, scope)
            elif "paths" in step:
                self.paths(step, path, here, scope)
            elif "delay" in step:
                self.outputs(scope, step, {"until": self.base["now"].isoformat()})
            elif "filter" not in step:
                self.operation(step, path, here, scope)

    def outputs(self, scope: Scope, step: dict, value: Any) -> None:
        if isinstance(step.get("key"), str) and step["key"]:
            scope.outputs[step["key"]] = value

    def operation(self, step: dict, path: str, number: str, scope: Scope) -> None:
        operation = picker.step_operation(step)
        key = step.get("key")
        if step.get("on_error") == "fallback" and isinstance(key, str):
            error = {
                "message": "Cartly refused the call (a sample error).",
                "status_code": SAMPLE_STATUS_CODE,
                "step": key,
            }
            tree_id = f"error@{path}"
            self.draft.trees[tree_id] = value_tree("error", error, ERROR_LABELS, "Error")
            self.scoped(path, self.draft.trees[tree_id], ERROR_LABELS)
            inner = Scope(
                scope.outputs,
                scope.lists,
                {**scope.extra, "error": error},
                scope.sources + [tree_id],
            )
            inner.outputs[key] = {"error": error["message"], "status_code": SAMPLE_STATUS_CODE}
            self.sequence(step.get("fallback"), f"{path}.fallback", number, inner)
        if operation is None or not isinstance(key, str) or not key:
            return
        sample = dict(operation.sample)
        scope.outputs[key] = sample
        if isinstance(operation, Search):
            scope.lists[key] = [sample]
        tree = picker.step_tree(step)
        if tree is not None:
            self.draft.trees[tree["path"]] = tree
            scope.sources.append(tree["path"])
            declared = {f.key: f.label for f in operation.output_fields}
            pills.label_tree(
                tree, 2, f"{number}. {operation.noun}", operation.noun, declared, self.labels
            )

    def paths(self, step: dict, path: str, number: str, scope: Scope) -> None:
        spec = step["paths"] if isinstance(step["paths"], dict) else {}
        made: dict[str, Any] = {}
        branches = [
            (f"{path}.paths.branches[{i}].steps", b.get("steps"))
            for i, b in enumerate(_steps(spec.get("branches")))
            if isinstance(b, dict)
        ]
        branches.append((f"{path}.paths.otherwise", spec.get("otherwise")))
        for prefix, steps in branches:
            inner = scope.inner()
            self.sequence(steps, prefix, number, inner)
            made.update({k: v for k, v in inner.outputs.items() if k not in scope.outputs})
        scope.outputs.update(made)  # a path's steps can be read after it, if it ran
        self.outputs(scope, step, {"taken": [], "ran": [], "branches": [], "otherwise": False})

    def loop(self, step: dict, path: str, number: str, scope: Scope) -> None:
        spec = step["loop"] if isinstance(step["loop"], dict) else {}
        self.draft.lists[path] = list_choices(self.context(scope), scope.lists, self.labels)
        items = self.items(spec, scope)
        first = items[0] if items else {}
        loop = {
            "index": 1,
            "index0": 0,
            "first": True,
            "last": len(items) <= 1,
            "length": len(items),
        }
        over = str(spec.get("over") or "")
        name = singular(self.labels.get(over, {}).get("label", "Item").split(" › ")[-1])
        item_id, loop_id = f"item@{path}", f"loop@{path}"
        declared = item_labels(over, self.labels)
        self.draft.trees[item_id] = value_tree("item", first, declared, name)
        self.draft.trees[loop_id] = value_tree("loop", loop, LOOP_LABELS, "Loop")
        self.scoped(path, self.draft.trees[item_id], declared)
        self.scoped(path, self.draft.trees[loop_id], LOOP_LABELS)
        inner = scope.inner([item_id, loop_id], item=first, loop=loop)
        self.sequence(step.get("steps"), f"{path}.steps", number, inner)
        self.outputs(scope, step, flow.loop_summary(len(items), len(items)))

    def items(self, spec: dict, scope: Scope) -> list:
        try:
            items, _ = flow.loop_items(spec, self.context(scope), scope.lists)
        except (flow.FlowError, ValueError, TypeError):
            return []
        return items


def list_choices(context: dict, lists: dict[str, list], labels: dict[str, dict]) -> list[dict]:
    """What a loop at this place can go over: every list in the trigger's data and in earlier
    steps' outputs, and every search's matches, each with a label and its sample size."""
    found: list[dict] = []

    def visit(value: Any, path: str, depth: int) -> None:
        if isinstance(value, list):
            label = labels.get(picker_ref(path), {}).get("label") or " › ".join(
                words(p) for p in path.split(".")
            )
            found.append({"path": path, "label": label, "count": len(value)})
            return
        if isinstance(value, dict) and depth < MAX_LIST_DEPTH:
            for key, child in value.items():
                visit(child, f"{path}.{key}", depth + 1)

    visit(context.get("trigger"), "trigger", 0)
    for key, output in (context.get("steps") or {}).items():
        if key in lists:
            step = next(
                (
                    info["label"].split(" › ")[0]
                    for ref, info in labels.items()
                    if ref.startswith(f"steps.{key}.")
                ),
                key,
            )
            found.append(
                {"path": f"steps.{key}", "label": f"{step}: every match", "count": len(lists[key])}
            )
        visit(output, f"steps.{key}", 1)
    return found


def picker_ref(path: str) -> str:
    """A dotted path as the template reference the pills' labels are keyed by."""
    return picker.reference(path.split("."))


def item_labels(over: str, labels: dict[str, dict]) -> dict[str, str]:
    """Labels of one item's fields, from the list's declared "first item" labels:
    `line_items[0].sku` is "Order › First item SKU", so an item's `sku` is "SKU"."""
    prefix = picker_ref(over) + "[0]."
    found = {}
    for ref, info in labels.items():
        if ref.startswith(prefix):
            text = info["label"].split(" › ")[-1]
            if text.startswith("First "):
                text = text.split(" ", 2)[-1]
            found[ref[len(prefix) :]] = text[:1].upper() + text[1:]
    return found


def value_tree(root: str, value: Any, labels: dict[str, str], label: str) -> dict:
    tree = picker.value_tree([root], value, labels)
    tree["label"] = label
    return tree


def sample_base(doc: dict, trigger_data: dict | None = None) -> dict:
    """`trigger`, `event` and `now` as a run of this draft would see them, from the sample."""
    trigger = picker.trigger_operation(doc)
    if trigger_data is None:
        trigger_data = dict(trigger.sample) if trigger else {}
    now = timezone.now()
    event = {
        "id": SAMPLE_EVENT_ID,
        "type": trigger.event if trigger else "",
        "time": now.isoformat(),
    }
    base = render.build_context(trigger=trigger_data, event=event, steps={}, now=now)
    base.pop("steps")
    return base


def walk_draft(doc: Any, trigger_data: dict | None = None) -> Draft:
    """Every step of a draft with its sample context and the picker trees it may use."""
    if not isinstance(doc, dict):
        return Draft()
    walker = _Walker(doc, sample_base(doc, trigger_data))
    trigger, operation = picker.trigger_tree(doc), picker.trigger_operation(doc)
    sources = []
    if trigger is not None and operation is not None:
        walker.draft.trees["trigger"] = trigger
        sources.append("trigger")
        declared = {f.key: f.label for f in operation.output_fields}
        pills.label_tree(trigger, 1, operation.noun, operation.noun, declared, walker.labels)
    walker.sequence(doc.get("steps"), "steps", "", Scope({}, {}, {}, sources))
    return walker.draft
