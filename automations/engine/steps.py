"""Run a batch of operation steps: claim, render, call, record, advance (DESIGN.md, point 4).

One Celery task per operation takes the ids of many step runs. Two transactions do the
bookkeeping of the whole batch: the first claims the rows and stores each one's rendered
input (rendered once, so a retry sends exactly the same call under the same key); then the
calls are made at once (calls.py); the second records every outcome, keeps each failed attempt
that will be retried, and walks the runs on (advance.py), publishing the next steps' batches
after the commit. A copy of the message claims nothing and does nothing.
"""

from __future__ import annotations

import logging
import time
from datetime import datetime, timedelta

from django.db import transaction
from django.utils import timezone

from automations.engine import advance, calls, claims, outcomes, render_batch, walk
from automations.engine.runs import RunInfo, load_rows
from automations.engine.tree import step_at
from automations.models import StepAttempt, StepRun
from automations.models_runs import elapsed_ms
from automations.publish import publish_batches_on_commit
from connectors import registry
from connectors.convert import ConversionError, convert_inputs

log = logging.getLogger(__name__)

PAUSED_REASON = outcomes.PAUSED_REASON
# Pickups without an outcome before a step is given up: it keeps killing its worker.
MAX_PICKUPS = 3
POISON = (
    "This step stopped its worker {n} times in a row, so it was given up (poison). "
    "Its input is kept below; retry it once the cause is fixed."
)
# Cartly keeps idempotency keys for 24 hours; past this, a retry looks for the effect first.
KEY_MEMORY = timedelta(hours=23)


def _contexts(rows: list[claims.Claimed], infos: dict[int, RunInfo], now: datetime) -> dict:
    """The template context of each row: the trigger, and earlier steps' outputs if any."""
    later = {row.id for row in rows if not row.is_first_step and row.rendered_input is None}
    earlier = load_rows({row.run_id for row in rows if row.id in later}) if later else {}
    found = {}
    for row in rows:
        info = infos[row.run_id]
        base = info.base_context(now)
        if row.id in later:
            steps = info.steps()
            found[row.id] = walk.plan(
                steps, earlier.get(row.run_id, {}), base, now, target=row.where
            ).context
        else:
            found[row.id] = {**base, "steps": {}}
    return found


def _jobs(rows, infos, now) -> list[calls.Job]:
    """Render (new rows), convert and describe each row's call; failures become outcomes."""
    contexts = _contexts(rows, infos, now)
    operations = {row.id: registry.get(row.operation) for row in rows}
    fresh = [row for row in rows if row.rendered_input is None]
    rendered = render_batch.render_rows(
        [
            (
                row.id,
                step_at(infos[row.run_id].steps(), row.where).get("fields", {}),
                contexts[row.id],
                operations[row.id],
                row.run_id,
                infos[row.run_id].render_seconds,
            )
            for row in fresh
        ]
    )
    jobs, stored = [], []
    for row in rows:
        info, operation = infos[row.run_id], operations[row.id]
        step = step_at(info.steps(), row.where)
        job = calls.Job(
            row.id,
            info.connection_id,
            row.attempts,
            operation,
            {},
            row.idempotency_key(),
            step.get("if_not_found", "halt"),
        )
        result = rendered.get(row.id)
        if isinstance(result, Exception):
            job.outcome = outcomes.failed(str(result))
        elif row.pickups > MAX_PICKUPS:
            job.outcome = outcomes.failed(POISON.format(n=row.pickups - 1))
        else:
            if result is not None:
                row.rendered_input = dict(result)
                stored.append(row)
            job = _convert(job, row, operation, now)
        jobs.append(job)
    claims.store_inputs(stored)
    return jobs


def _convert(job: calls.Job, row: claims.Claimed, operation, now: datetime) -> calls.Job:
    try:
        job.values = convert_inputs(operation.input_fields, row.rendered_input)
    except ConversionError as exc:
        job.outcome = outcomes.failed(str(exc))
        return job
    old_key = row.first_attempt_at is not None and now - row.first_attempt_at > KEY_MEMORY
    # Cartly forgets keys after a day; another system keeps its own rules for its keys.
    if old_key and row.attempts > 1 and operation.kind == "action" and operation.app == "cartly":
        if getattr(operation, "after_key_expiry", None) is None:
            job.outcome = outcomes.failed(
                "More than a day has passed since the first attempt, so Cartly no longer "
                "remembers it and repeating the call could apply it twice. Check the shop, "
                "then retry by hand."
            )
        job.key_may_be_forgotten = True
    return job


def _isolate_suspects(rows: list[claims.Claimed], now: datetime) -> list[claims.Claimed]:
    """A row an earlier pickup left unrecorded may be what kills workers: hand it back to run
    alone, so it cannot take the rest of a batch down with it again."""
    if len(rows) < 2:
        return rows
    for row in rows:
        if row.pickups > 1:
            _hand_back([row], now)  # a message of its own
    return [row for row in rows if row.pickups <= 1]


def _hand_back(rows: list[claims.Claimed], now: datetime) -> None:
    """Release claimed rows untouched and send them again once this transaction commits."""
    released = [row.id for row in rows if claims.release(row, now)]
    if released:
        operation = rows[0].operation  # one task's rows share their operation
        publish_batches_on_commit({operation: released})


def _claim_and_prepare(ids: list[int], now: datetime):
    with transaction.atomic():  # relaxed by the claim's own statement (claims.RELAXED)
        claimed, infos, connections = claims.claim_with_runs(ids, now)
        rows = _isolate_suspects(claimed, now)
        if not rows:
            return [], {}, {}, []
        jobs = _jobs(rows, infos, now)
    return rows, infos, connections, jobs


def execute_batch(step_run_ids: list[int]) -> dict[int, str]:
    """The body of every operation task; each claimed step's new status by id."""
    deadline = calls.call_deadline(time.monotonic())
    started = timezone.now()
    rows, infos, connections, jobs = _claim_and_prepare(list(step_run_ids), started)
    if not rows:
        return {}
    closed = calls.run_jobs(jobs, connections, timezone.now(), deadline)
    now = timezone.now()
    with transaction.atomic():  # relaxed by the record's own statement (claims.RELAXED)
        statuses = _record(rows, jobs, infos, started, now)
        if closed:
            wake_shops(closed, now)
    return statuses


def _record(rows, jobs, infos, started, now) -> dict[int, str]:
    by_id = {job.step_id: job for job in jobs}
    recorded, attempts = [], []
    # A call not started in time is handed back: no outcome, a message of its own again.
    _hand_back([row for row in rows if by_id[row.id].outcome is None], now)
    decided = [(row, by_id[row.id].outcome) for row in rows if by_id[row.id].outcome]
    written, run_rows = claims.record_and_read(decided, started, now)
    for row, outcome in decided:
        if row.id not in written:
            continue  # the lease lapsed and another pickup owns the row now
        recorded.append(row)
        if outcome.status == outcomes.WAITING and outcome.counts:
            attempts.append(_attempt(row, outcome, infos[row.run_id], started, now))
    StepAttempt.objects.bulk_create(attempts)
    run_ids = {row.run_id for row in recorded}
    if run_ids:
        advance.advance_runs([infos[rid] for rid in run_ids], run_rows, now, complete=True)
    return {row.id: by_id[row.id].outcome.status for row in recorded}


def _attempt(row, outcome, info: RunInfo, started, now) -> StepAttempt:
    """Keep a failed attempt that will be tried again: the step's row moves on without it."""
    return StepAttempt(
        step_run_id=row.id,
        number=row.attempts,
        status=StepRun.Status.FAILED,
        recipe_version=info.version,
        rendered_input=row.rendered_input,
        error=outcome.error,
        status_code=outcome.status_code,
        started_at=started,
        finished_at=now,
        duration_ms=elapsed_ms(started, now),
    )


def wake_shops(shop_ids: set[str], now: datetime) -> int:
    """Cartly answers again: every step of those shops waiting on it is due now."""
    return StepRun.objects.filter(
        status=StepRun.Status.WAITING,
        wait_kind__in=(StepRun.WaitKind.CIRCUIT, StepRun.WaitKind.RETRY),
        run__recipe__connection__shop_id__in=shop_ids,
    ).update(next_attempt_at=now)
