"""Walk: decide what a run does next, from its recipe version and the step rows it has so far.

The walk reads the document's step tree in order and, for each step, the row that records
what happened there. Operation steps are done elsewhere (a Celery task per operation); the
walk stops at the first one that is not finished and says so (`EXECUTE` a new or pending row,
`WAIT` for a parked one, `BUSY` while a worker holds it). Everything that needs no call is
decided right here and returned as new rows: filters, paths (which branch runs), loops (the
list they go over), delays (until when). Once written, a decision is read back from its row on
every later walk, never made again, so a walk is a pure function of the rows and re-walking a
run (after a crash, by a sweep) always reaches the same place.

A filter, or a search that found nothing and halts, stops the list of steps it stands in: the
run at the top level, one iteration in a loop, one branch in paths. A failed step stops the
whole run unless its `on_error` says to go on (with the error in `steps.<key>.error`) or to run
its fallback steps (which see the error as `error`).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from automations.engine import conditions, flow
from automations.engine.tree import DELAY, FILTER, LOOP, OPERATION, PATHS, kind_of, split

EXECUTE, WAIT, BUSY, DONE = "execute", "wait", "busy", "done"
SUCCEEDED, FAILED, HALTED, FILTERED, CANCELED = (
    "succeeded",
    "failed",
    "halted",
    "filtered",
    "canceled",
)
PENDING, RUNNING, WAITING, SKIPPED = "pending", "running", "waiting", "skipped"


@dataclass
class Row:
    """What the walk reads of one StepRun."""

    where: str
    status: str
    key: str = ""
    output: Any = None
    items: list | None = None
    error: str = ""
    status_code: int | None = None
    id: int | None = None
    operation: str = ""


@dataclass
class Plan:
    """The walk's answer: rows to add or change, and where the run stands."""

    state: str  # EXECUTE, WAIT, BUSY or DONE
    where: str | None = None  # the step in progress; DONE: the one that failed the run
    status: str = ""  # DONE: the run's final status
    reason: str = ""  # DONE: why it failed, halted or was filtered
    new_rows: list[dict] = field(default_factory=list)
    updates: dict[str, dict] = field(default_factory=dict)  # where → fields of an existing row
    context: dict | None = None  # the template context at `target`, when one was asked for


@dataclass
class Scope:
    """What templates see inside one list of steps."""

    steps: dict[str, Any]
    lists: dict[str, list]  # every match of a search, for loops over `steps.<key>`
    extra: dict[str, Any] = field(default_factory=dict)  # item, loop, error

    def inner(self, **extra: Any) -> Scope:
        # A loop iteration's steps are its own: they do not leak into the next iteration.
        return Scope(dict(self.steps), dict(self.lists), {**self.extra, **extra})


class _Pending(Exception):
    def __init__(self, state: str, where: str):
        self.state, self.where = state, where


class _Ended(Exception):
    def __init__(self, status: str, reason: str, where: str | None = None):
        self.status, self.reason, self.where = status, reason, where


class _Reached(Exception):
    def __init__(self, context: dict):
        self.context = context


@dataclass(frozen=True)
class _Stop:
    """A filter or a halting search ended the list of steps it stands in."""

    status: str
    reason: str


def describe(where: str, key: str) -> str:
    """A step's place in words: "Step 3 (discount)", "Step 2, item 4, step 1 (adjust)"."""
    parts = where.split(".")
    words = [f"Step {int(parts[0]) + 1}"]
    for part, index in zip(parts[1::2], parts[2::2], strict=True):
        if part.startswith("i"):
            words.append(f"item {int(part[1:]) + 1}")
        elif part.startswith("b"):
            words.append(f"path {int(part[1:]) + 1}")
        elif part == "o":
            words.append("otherwise")
        elif part == "e":
            words.append("if it fails")
        words.append(f"step {int(index) + 1}")
    return f"{', '.join(words)} ({key})"


class _Walker:
    def __init__(self, rows: dict[str, Row], base: dict, now: datetime, target: str | None):
        self.rows, self.base, self.now, self.target = rows, base, now, target
        self.new_rows: list[dict] = []
        self.updates: dict[str, dict] = {}

    # -- bookkeeping -----------------------------------------------------------------------

    def context(self, scope: Scope) -> dict:
        return {**self.base, "steps": scope.steps, **scope.extra}

    def add(self, where: str, step: dict, kind: str, status: str, **fields: Any) -> Row:
        position, address = split(where)
        finished = status not in (PENDING, RUNNING, WAITING)
        values = {
            "position": position,
            "address": address,
            "key": step["key"],
            "kind": kind,
            "operation": step.get("operation", ""),
            "status": status,
            "started_at": self.now if status != PENDING else None,
            "finished_at": self.now if finished else None,
            "duration_ms": 0 if finished else None,
            **fields,
        }
        laid_out = self.rows.get(where)
        if laid_out is not None:  # a top-level row laid out when the run began
            self.updates[where] = {
                k: v for k, v in values.items() if k not in ("position", "address")
            }
        else:
            self.new_rows.append(values)
        row = Row(
            where,
            status,
            key=step["key"],
            output=fields.get("output"),
            items=fields.get("items"),
            error=fields.get("error", ""),
            id=laid_out.id if laid_out else None,
            operation=step.get("operation", ""),
        )
        self.rows[where] = row
        return row

    def decided(self, where: str) -> Row | None:
        """The row of a decision made earlier; None while it is still to make (a row laid
        out ahead, pending, is not one)."""
        row = self.rows.get(where)
        return None if row is None or row.status in (PENDING, SKIPPED) else row

    # -- lists of steps --------------------------------------------------------------------

    def sequence(self, steps: list[dict], prefix: str, scope: Scope) -> _Stop | None:
        for index, step in enumerate(steps):
            where = f"{prefix}.{index}" if prefix else str(index)
            if where == self.target:
                raise _Reached(self.context(scope))
            stop = getattr(self, kind_of(step))(step, where, scope)
            if stop is not None:
                return stop
        return None

    # -- one step of each kind -------------------------------------------------------------

    def operation(self, step: dict, where: str, scope: Scope) -> _Stop | None:
        row = self.rows.get(where)
        if row is None:
            self.add(where, step, OPERATION, PENDING)
            raise _Pending(EXECUTE, where)
        if row.status in (PENDING, SKIPPED):
            raise _Pending(EXECUTE, where)
        if row.status == RUNNING:
            raise _Pending(BUSY, where)
        if row.status == WAITING:
            raise _Pending(WAIT, where)
        if row.status == CANCELED:
            raise _Ended(CANCELED, f"{describe(where, row.key)} was canceled.", where)
        if row.status == HALTED:
            return _Stop(HALTED, f"{describe(where, row.key)}: {row.error}")
        if row.status == SUCCEEDED:
            scope.steps[row.key] = row.output if row.output is not None else {}
            if row.items is not None:
                scope.lists[row.key] = row.items
            return None
        return self.failed(step, where, row, scope)

    def failed(self, step: dict, where: str, row: Row, scope: Scope) -> None:
        on_error = step.get("on_error", "stop")
        if on_error not in ("continue", "fallback"):
            raise _Ended(FAILED, f"{describe(where, row.key)}: {row.error}", where)
        scope.steps[row.key] = {"error": row.error, "status_code": row.status_code}
        if on_error == "fallback":
            error = {"message": row.error, "status_code": row.status_code, "step": row.key}
            # The fallback's own outputs stay visible after it, like any step's.
            fallback = Scope(scope.steps, scope.lists, {**scope.extra, "error": error})
            self.sequence(step.get("fallback") or [], f"{where}.e", fallback)
        return None

    def filter(self, step: dict, where: str, scope: Scope) -> _Stop | None:
        row = self.decided(where)
        if row is None:
            spec = step["filter"]
            try:
                result = conditions.evaluate(
                    spec.get("conditions", []), self.context(scope), match=spec.get("match", "all")
                )
            except conditions.ConditionError as exc:
                row = self.add(
                    where, step, FILTER, FAILED, error=f"The filter cannot be checked: {exc}"
                )
            else:
                status = SUCCEEDED if result.passed else FILTERED
                row = self.add(where, step, FILTER, status, error=result.reason)
        if row.status == FAILED:
            raise _Ended(FAILED, f"{describe(where, row.key)}: {row.error}", where)
        if row.status == FILTERED:
            return _Stop(FILTERED, row.error)
        return None

    def delay(self, step: dict, where: str, scope: Scope) -> _Stop | None:
        row = self.decided(where)
        if row is None:
            try:
                until = flow.delay_until(step["delay"], self.context(scope), self.now)
            except flow.FlowError as exc:
                row = self.add(where, step, DELAY, FAILED, error=str(exc))
            else:
                output = {"until": until.isoformat()}
                if until <= self.now:
                    row = self.add(where, step, DELAY, SUCCEEDED, output=output)
                else:
                    self.add(
                        where,
                        step,
                        DELAY,
                        WAITING,
                        output=output,
                        next_attempt_at=until,
                        wait_kind="delay",
                        error=f"Waiting until {flow.shown(until)}.",
                    )
                    raise _Pending(WAIT, where)
        if row.status == WAITING:
            raise _Pending(WAIT, where)
        if row.status == CANCELED:
            raise _Ended(CANCELED, f"{describe(where, row.key)} was canceled.", where)
        if row.status == FAILED:
            raise _Ended(FAILED, f"{describe(where, row.key)}: {row.error}", where)
        scope.steps[row.key] = row.output or {}
        return None

    def paths(self, step: dict, where: str, scope: Scope) -> _Stop | None:
        row = self.decided(where)
        if row is None:
            try:
                output = flow.choose_paths(step["paths"], self.context(scope))
            except conditions.ConditionError as exc:
                row = self.add(
                    where,
                    step,
                    PATHS,
                    FAILED,
                    error=f"A path's conditions cannot be checked: {exc}",
                )
            else:
                row = self.add(where, step, PATHS, SUCCEEDED, output=output)
        if row.status == FAILED:
            raise _Ended(FAILED, f"{describe(where, row.key)}: {row.error}", where)
        spec = step["paths"]
        for index in row.output.get("taken", []):
            branch = spec["branches"][index]
            self.sequence(branch.get("steps") or [], f"{where}.b{index}", scope)
        if row.output.get("otherwise"):
            self.sequence(spec.get("otherwise") or [], f"{where}.o", scope)
        scope.steps[row.key] = row.output
        return None

    def loop(self, step: dict, where: str, scope: Scope) -> _Stop | None:
        row = self.decided(where)
        if row is None:
            try:
                items, total = flow.loop_items(step["loop"], self.context(scope), scope.lists)
            except flow.FlowError as exc:
                row = self.add(where, step, LOOP, FAILED, error=str(exc))
            else:
                row = self.add(
                    where,
                    step,
                    LOOP,
                    RUNNING,
                    items=items,
                    output=flow.loop_summary(len(items), total),
                )
        if row.status == FAILED:
            raise _Ended(FAILED, f"{describe(where, row.key)}: {row.error}", where)
        items = row.items or []
        for index, item in enumerate(items):
            loop = {
                "index": index + 1,
                "index0": index,
                "first": index == 0,
                "last": index == len(items) - 1,
                "length": len(items),
            }
            self.sequence(
                step.get("steps") or [], f"{where}.i{index}", scope.inner(item=item, loop=loop)
            )
        if row.status != SUCCEEDED:
            self.updates[where] = {"status": SUCCEEDED, "finished_at": self.now}
        scope.steps[row.key] = row.output or {}
        return None


def plan(
    steps: list[dict],
    rows: dict[str, Row],
    base: dict,
    now: datetime,
    *,
    recipe_filter: dict | None = None,
    target: str | None = None,
) -> Plan:
    """What the run does next; `recipe_filter` is checked first (only when it starts).

    With `target`, the walk stops there and hands back the context a step at that address
    renders with (earlier steps' outputs, the loop's item, the error before a fallback).
    """
    walker = _Walker(dict(rows), base, now, target)
    if recipe_filter and recipe_filter.get("conditions"):
        try:
            result = conditions.evaluate(
                recipe_filter["conditions"], base, match=recipe_filter.get("match", "all")
            )
        except conditions.ConditionError as exc:
            return Plan(DONE, status=FAILED, reason=f"The filter cannot be checked: {exc}")
        if not result.passed:
            return Plan(DONE, status=FILTERED, reason=result.reason)
    try:
        stop = walker.sequence(steps, "", Scope({}, {}))
    except _Pending as pending:
        return Plan(pending.state, pending.where, new_rows=walker.new_rows, updates=walker.updates)
    except _Ended as ended:
        return Plan(
            DONE,
            ended.where,
            status=ended.status,
            reason=ended.reason,
            new_rows=walker.new_rows,
            updates=walker.updates,
        )
    except _Reached as reached:
        return Plan(BUSY, target, context=reached.context)
    status, reason = (stop.status, stop.reason) if stop else (SUCCEEDED, "")
    return Plan(
        DONE, status=status, reason=reason, new_rows=walker.new_rows, updates=walker.updates
    )
