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


def _group(where: str, loops: dict[str, int]) -> str:
    """The heading of the group a nested row opens: which item, path or fallback."""
    parent, part, _ = where.rsplit(".", 2)
    if part.startswith("i"):
        total = loops.get(parent)
        of = f" of {total}" if total else ""
        return f"Item {int(part[1:]) + 1}{of}"
    if part.startswith("b"):
        return f"Path {int(part[1:]) + 1}"
    if part == "o":
        return "Otherwise"
    return "Because it failed"


def entries(run_id: int) -> list[Entry]:
    """Every row of the run, in order, with its depth and group headings (two queries)."""
    rows = sorted(StepRun.objects.filter(run_id=run_id), key=lambda r: sort_key(r.where))
    attempts: dict[int, list[StepAttempt]] = {}
    for attempt in StepAttempt.objects.filter(step_run__run_id=run_id).order_by("number", "id"):
        attempts.setdefault(attempt.step_run_id, []).append(attempt)
    loops = {row.where: len(row.items or []) for row in rows if row.kind == StepRun.Kind.LOOP}
    found, groups_seen = [], set()
    for row in rows:
        where = row.where
        depth = where.count(".") // 2
        heading = ""
        if depth:
            group = where.rsplit(".", 1)[0]
            if group not in groups_seen:
                groups_seen.add(group)
                heading = _group(where, loops)
        found.append(Entry(row, depth, heading, attempts.get(row.pk, [])))
    return found
