"""A run's step rows as the run page shows them: in the recipe's order, nested steps under
the loop item, path or fallback they ran in, each group with a heading in words."""

from __future__ import annotations

from dataclasses import dataclass, field

from automations.engine.tree import sort_key
from automations.models import StepAttempt, StepRun


@dataclass
class Entry:
    row: StepRun
    depth: int  # 0 for a top-level step
    heading: str = ""  # shown above the first row of a group ("Item 2 of 3")
    attempts: list[StepAttempt] = field(default_factory=list)

    @property
    def number(self) -> str:
        """The step's number as the recipe reads: "3", "3.2" (a step inside step 3)."""
        parts = self.row.where.split(".")
        return ".".join(str(int(p) + 1) for p in parts[::2])


# Fields that name a list item to a merchant, in order of preference ("Item 2 of 3: Blue mug").
ITEM_NAMES = ("title", "name", "sku", "email", "number", "id", "variant_id")
MAX_ITEM_NAME = 60


def item_name(item) -> str:
    """A few words that say which item an iteration went over, or "" when nothing does."""
    if not isinstance(item, dict):
        return "" if isinstance(item, list | type(None)) else str(item)[:MAX_ITEM_NAME]
    for key in ITEM_NAMES:
        value = item.get(key)
        if value not in (None, "") and not isinstance(value, dict | list):
            return str(value)[:MAX_ITEM_NAME]
    return ""


def _group(where: str, parents: dict[str, StepRun]) -> str:
    """The heading of the group a nested row opens: which item, path or fallback, in words."""
    parent_where, part, _ = where.rsplit(".", 2)
    parent = parents.get(parent_where)
    if part.startswith("i"):
        index = int(part[1:])
        items = (parent.items or []) if parent is not None else []
        heading = f"Item {index + 1}" + (f" of {len(items)}" if items else "")
        name = item_name(items[index]) if index < len(items) else ""
        return f"{heading}: {name}" if name else heading
    if part.startswith("b"):
        index = int(part[1:])
        branches = ((parent.output or {}).get("branches") or []) if parent is not None else []
        label = branches[index].get("label") if index < len(branches) else ""
        return f"Path “{label}” ran" if label else f"Path {index + 1} ran"
    if part == "o":
        return "Otherwise: no path matched"
    key = parent.key if parent is not None else "the step"
    return f"Because {key} failed, these steps ran instead"


def entries(run_id: int) -> list[Entry]:
    """Every row of the run, in order, with its depth and group headings (two queries)."""
    rows = sorted(StepRun.objects.filter(run_id=run_id), key=lambda r: sort_key(r.where))
    attempts: dict[int, list[StepAttempt]] = {}
    for attempt in StepAttempt.objects.filter(step_run__run_id=run_id).order_by("number", "id"):
        attempts.setdefault(attempt.step_run_id, []).append(attempt)
    parents = {row.where: row for row in rows}
    found, groups_seen = [], set()
    for row in rows:
        where = row.where
        depth = where.count(".") // 2
        heading = ""
        if depth:
            group = where.rsplit(".", 1)[0]
            if group not in groups_seen:
                groups_seen.add(group)
                heading = _group(where, parents)
        found.append(Entry(row, depth, heading, attempts.get(row.pk, [])))
    return found
