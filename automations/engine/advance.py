"""Advance: walk a batch of runs and write what the walks decided, in the caller's transaction.

One call handles many runs with a handful of statements: new step rows in one INSERT, runs
that finished as they did in one UPDATE per outcome, and, once the transaction commits, one
message per operation carrying the ids of every step now due (DESIGN.md, "Speed").
"""

from __future__ import annotations

from collections import Counter, defaultdict
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from django.conf import settings
from django.db import connection, transaction
from django.db.models import F

from automations.engine import sql, walk
from automations.engine.runs import RunInfo, operation_task_name
from automations.engine.tree import kind_of, split
from automations.engine.versions import version_document
from automations.models import Recipe, Run, StepRun
from automations.publish import publish_batches_on_commit
from automations.signals import recipe_tripped, run_failed


@dataclass
class Advanced:
    """What one advance did, for callers and tests."""

    published: dict[str, list[int]] = field(default_factory=dict)  # operation → step run ids
    finished: dict[int, str] = field(default_factory=dict)  # run id → final status
    waiting: list[int] = field(default_factory=list)


def lost_after(now: datetime) -> datetime:
    """When a published step not yet claimed counts as lost, for the sweep to send again."""
    return now + timedelta(seconds=settings.ENGINE_STEP_LOST_AFTER_SECONDS)


def _new_row(info: RunInfo, values: dict, now: datetime) -> StepRun:
    if values["status"] == walk.PENDING:
        values = {**values, "next_attempt_at": lost_after(now)}
    return StepRun(run_id=info.id, **values)


def _laid_out(info: RunInfo, steps: list[dict], taken: set[int]) -> list[StepRun]:
    """Rows for the top-level steps ahead of a run that begins, so its page lists them all;
    pending with no time, they are nobody's to start until the walk reaches them."""
    return [
        StepRun(
            run_id=info.id,
            position=position,
            key=step["key"],
            kind=kind_of(step),
            operation=step.get("operation", ""),
            status=StepRun.Status.PENDING,
        )
        for position, step in enumerate(steps)
        if position not in taken
    ]


def advance_runs(
    infos: list[RunInfo],
    rows: dict[int, dict[str, walk.Row]],
    now: datetime,
    *,
    starting: bool = False,
    complete: bool = False,
) -> Advanced:
    """Walk each run on from where its rows say and write the result (inside a transaction).

    `starting`: the runs are new, so their recipe's own filter is checked first.
    `complete`: `rows` are every row of these runs (just read, or none yet for new runs), so
    statements that could change nothing are left out (the hot path's round trips).
    """
    new_rows: list[StepRun] = []
    to_publish: list[tuple[int, str]] = []  # (run id, where) of existing rows to send again
    updates: list[tuple[int, str, dict]] = []
    moving, waits, done = [], [], []
    for info in infos:
        document = version_document(info.recipe_id, info.version)
        run_rows = rows.get(info.id, {})
        plan = walk.plan(
            document["steps"],
            run_rows,
            info.base_context(now),
            now,
            recipe_filter=document.get("filter") if starting else None,
        )
        new_rows += [_new_row(info, values, now) for values in plan.new_rows]
        updates += [(info.id, where, fields) for where, fields in plan.updates.items()]
        if starting and (plan.new_rows or plan.state != walk.DONE):
            taken = {v["position"] for v in plan.new_rows if not v["address"]}
            new_rows += _laid_out(info, document["steps"], taken)
        if plan.state == walk.DONE:
            done.append((info, plan.status, plan.reason))
        elif plan.state == walk.WAIT:
            waits.append((info, plan.where, run_rows, plan.new_rows))
        else:
            moving.append(info.id)
            if plan.state == walk.EXECUTE and plan.where in run_rows:
                to_publish.append((info.id, plan.where))
    sql.insert_models(new_rows)
    _apply_updates(updates)
    batches = _due_steps(new_rows, to_publish, rows, now)
    publish_batches_on_commit(batches)
    if starting and complete:  # a run made running in this transaction needs no UPDATE
        started = {
            info.id for info in infos if info.status == Run.Status.RUNNING and info.started_at
        }
        moving = [run_id for run_id in moving if run_id not in started]
    _mark_running(moving, now)
    waiting = _mark_waiting(waits)
    pending = None
    if complete:  # the runs with rows laid out ahead, which finishing marks skipped
        pending = {row.run_id for row in new_rows if row.status == StepRun.Status.PENDING}
        pending |= {
            run_id
            for run_id, run_rows in rows.items()
            if any(row.status == StepRun.Status.PENDING for row in run_rows.values())
        }
    finished = finish_runs(done, now, pending)
    return Advanced(
        {operation_task_name(op): ids for op, ids in batches.items()}, finished, waiting
    )


def _apply_updates(updates: list[tuple[int, str, dict]]) -> None:
    for run_id, where, fields in updates:
        position, address = split(where)
        StepRun.objects.filter(run_id=run_id, position=position, address=address).update(**fields)


def _due_steps(
    new_rows: list[StepRun], again: list[tuple[int, str]], rows, now: datetime
) -> dict[str, list]:
    """The rows to send now: new pending rows, and existing ones the walk reached (a row laid
    out ahead, or one whose message was lost), which now get their "lost after" time."""
    batches: dict[str, list[int]] = defaultdict(list)
    for row in new_rows:
        if row.status == StepRun.Status.PENDING and row.next_attempt_at is not None:
            batches[row.operation].append(row.pk)
    again_ids = [rows[run_id][where].id for run_id, where in again]
    if again_ids:
        StepRun.objects.filter(pk__in=again_ids, status=StepRun.Status.PENDING).update(
            next_attempt_at=lost_after(now)
        )
    for run_id, where in again:
        row = rows[run_id][where]
        batches[row.operation].append(row.id)
    return dict(batches)


def _mark_running(run_ids: list[int], now: datetime) -> None:
    if run_ids:
        Run.objects.filter(
            pk__in=run_ids, status__in=(Run.Status.QUEUED, Run.Status.WAITING)
        ).update(status=Run.Status.RUNNING, failure_reason="")
        Run.objects.filter(pk__in=run_ids, started_at__isnull=True).update(started_at=now)


def _mark_waiting(waits: list) -> list[int]:
    """A run parked at a step says what it waits for (the step's own words)."""
    ids = []
    for info, where, run_rows, new_values in waits:
        row = run_rows.get(where)
        reason = (
            row.error
            if row is not None
            else next((v.get("error", "") for v in new_values if _where(v) == where), "")
        )
        Run.objects.filter(pk=info.id).exclude(status__in=Run.FINISHED).update(
            status=Run.Status.WAITING, failure_reason=reason
        )
        ids.append(info.id)
    return ids


def _where(values: dict) -> str:
    return values["address"] or str(values["position"])


def finish_runs(
    done: list[tuple[RunInfo, str, str]], now: datetime, pending: set[int] | None = None
) -> dict[int, str]:
    """Finish runs: one UPDATE for the ones that succeeded, one per run for the others.
    `pending`: the runs known to have rows still pending (None: not known, look at all)."""
    if not done:
        return {}
    # Steps laid out ahead that the run never reached.
    unreached = [info.id for info, _, _ in done if pending is None or info.id in pending]
    if unreached:
        StepRun.objects.filter(run_id__in=unreached, status=StepRun.Status.PENDING).update(
            status=StepRun.Status.SKIPPED, next_attempt_at=None
        )
    _finish_succeeded(done, now)
    for info, status, reason in done:
        if status != walk.SUCCEEDED:
            Run.objects.filter(pk=info.id).exclude(status__in=Run.FINISHED).update(
                status=status, failure_reason=reason, finished_at=now
            )
    _count_failures(done)
    failed = [info.id for info, status, _ in done if status == walk.FAILED]
    if failed:
        transaction.on_commit(lambda: _announce_failures(failed), robust=True)
    return {info.id: status for info, status, _ in done}


def _announce_failures(run_ids: list[int]) -> None:
    for run in Run.objects.filter(pk__in=run_ids).select_related("recipe", "event"):
        run_failed.send(sender=Run, run=run)


def _finish_succeeded(done: list[tuple[RunInfo, str, str]], now: datetime) -> None:
    """Mark the succeeded runs so, and reset their recipes' failures-in-a-row count (unless
    the batch also failed one of theirs): the last statement of most runs, so plain SQL, and
    one statement on PostgreSQL (the run UPDATE in a WITH)."""
    succeeded = [info.id for info, status, _ in done if status == walk.SUCCEEDED]
    if not succeeded:
        return
    failed = {info.recipe_id for info, status, _ in done if status == walk.FAILED}
    reset = sorted(
        {info.recipe_id for info, status, _ in done if status == walk.SUCCEEDED} - failed
    )
    finish = (
        f"UPDATE {Run._meta.db_table} SET status = %s, failure_reason = '', finished_at = %s "
        f"WHERE id IN ({sql.marks(len(succeeded))}) "
        f"AND status IN ({sql.marks(len(Run.UNFINISHED))})"
    )
    finish_params = [Run.Status.SUCCEEDED, sql.at(now), *succeeded, *Run.UNFINISHED]
    zero = (
        f"UPDATE {Recipe._meta.db_table} SET consecutive_failures = 0 "
        f"WHERE id IN ({sql.marks(len(reset))}) AND consecutive_failures > 0"
    )
    if not reset:
        sql.execute(finish, finish_params)
    elif connection.vendor == "postgresql":
        sql.execute(f"WITH finished AS ({finish} RETURNING id) {zero}", [*finish_params, *reset])
    else:
        sql.execute(finish, finish_params)
        sql.execute(zero, reset)


def _count_failures(done: list[tuple[RunInfo, str, str]]) -> None:
    """Keep each recipe's failures-in-a-row count; a recipe over its limit is switched off.
    (A success's reset is made with its run's finish, `_finish_succeeded`.)"""
    failures = Counter(info.recipe_id for info, status, _ in done if status == walk.FAILED)
    for recipe_id, count in failures.items():
        Recipe.objects.filter(pk=recipe_id).update(
            consecutive_failures=F("consecutive_failures") + count
        )
    if not failures:
        return
    tripped = list(
        Recipe.objects.filter(
            pk__in=list(failures),
            enabled=True,
            turn_off_after_failures__isnull=False,
            consecutive_failures__gte=F("turn_off_after_failures"),
        ).values_list("id", flat=True)
    )
    for recipe_id in tripped:
        transaction.on_commit(
            lambda rid=recipe_id: recipe_tripped.send(sender=Recipe, recipe_id=rid), robust=True
        )
